/* test_text.c - quoting caller text into messages: whatever comes in, what
 * comes out is valid UTF-8 within the byte budget, and jansson takes it. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "util/text.h"

#define R TEXT_REPLACEMENT

typedef struct quote_case {
    const char *what;
    const char *in;
    size_t len; /* 0: strlen(in) */
    size_t max_bytes;
    const char *out;
    size_t taken;
} quote_case_t;

static const quote_case_t quote_cases[] = {
    {"ASCII fits", "hours", 0, 40, "hours", 5},
    {"ASCII cut at the budget", "abcdef", 0, 4, "abcd", 4},
    {"empty", "", 0, 40, "", 0},
    {"two-byte character kept whole", "a\xC3\xA9", 0, 3, "a\xC3\xA9", 3},
    {"two-byte character not cut in half", "a\xC3\xA9", 0, 2, "a", 1},
    {"three-byte character not cut", "ab\xE2\x82\xAC", 0, 4, "ab", 2},
    {"four-byte character kept", "\xF0\x9F\x98\x80", 0, 4, "\xF0\x9F\x98\x80", 4},
    {"four-byte character not cut", "\xF0\x9F\x98\x80", 0, 3, "", 0},
    {"lone 0xff replaced", "\xFF", 0, 40, R, 1},
    {"name then 0xff", "foo\xFF", 0, 40, "foo" R, 4},
    {"sequence cut short at the end", "scale_up,\xC3", 0, 40, "scale_up," R, 10},
    {"stray continuation byte", "a\x80z", 0, 40, "a" R "z", 3},
    {"overlong two-byte form", "\xC0\xAF", 0, 40, R R, 2},
    {"overlong three-byte form", "\xE0\x80\xAF", 0, 40, R R R, 3},
    {"surrogate", "\xED\xA0\x80", 0, 40, R R R, 3},
    {"above U+10FFFF", "\xF4\x90\x80\x80", 0, 40, R R R R, 4},
    {"control characters", "a\nb\tc\x7F", 0, 40, "a" R "b" R "c" R, 6},
    {"NUL inside the length", "a\0b", 3, 40, "a" R "b", 3},
    {"replacement does not fit the budget", "ab\xFF", 0, 4, "ab", 2},
};

Test(text, quote_table)
{
    for (size_t i = 0; i < sizeof(quote_cases) / sizeof(quote_cases[0]); i++) {
        const quote_case_t *c = &quote_cases[i];
        char out[64];
        size_t len = c->len ? c->len : strlen(c->in);
        memset(out, 'x', sizeof(out));
        size_t taken = text_quote_utf8(out, sizeof(out), c->in, len, c->max_bytes);
        cr_expect_str_eq(out, c->out, "%s", c->what);
        cr_expect_eq(taken, c->taken, "%s: took %zu bytes, not %zu", c->what, taken, c->taken);
        json_t *j = json_string(out);
        cr_expect_not_null(j, "%s: jansson refuses the quote", c->what);
        json_decref(j);
    }
}

Test(text, the_buffer_bounds_the_copy)
{
    char out[4];
    size_t taken = text_quote_utf8(out, sizeof(out), "abcdef", 6, 40);
    cr_expect_str_eq(out, "abc");
    cr_expect_eq(taken, 3);
    taken = text_quote_utf8(out, sizeof(out), "a\xC3\xA9\xC3\xA9", 5, 40);
    cr_expect_str_eq(out, "a\xC3\xA9");
    cr_expect_eq(taken, 3);
    cr_expect_eq(text_quote_utf8(out, 0, "abc", 3, 40), 0);
}

typedef struct echo_case {
    const char *in;
    size_t max_bytes;
    const char *out;
} echo_case_t;

static const echo_case_t echo_cases[] = {
    {"colour", 40, "colour"},
    {"aaaaaaaaaa", 4, "aaaa..."},
    /* 39 letters and an e-acute: the accent would end at byte 41. */
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xC3\xA9", 40,
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa..."},
    {"a\xE2\x82\xAC", 3, "a..."},
    {"\xFF", 40, R},
};

Test(text, echo_table)
{
    for (size_t i = 0; i < sizeof(echo_cases) / sizeof(echo_cases[0]); i++) {
        char out[64];
        const char *got = text_echo(out, sizeof(out), echo_cases[i].in, echo_cases[i].max_bytes);
        cr_expect_eq(got, out);
        cr_expect_str_eq(out, echo_cases[i].out, "row %zu", i);
    }
    char small[6]; /* room for two bytes and the dots */
    cr_expect_str_eq(text_echo(small, sizeof(small), "abcdef", 40), "ab...");
}
