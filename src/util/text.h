/* text.h - caller text made safe to quote in a message.
 *
 * Error messages quote what the caller sent (an unknown name, a bad value).
 * Cut at a byte count, a quote can end in half a UTF-8 character, and
 * percent-decoding can yield bytes that are not UTF-8 at all; jansson
 * refuses both, so an answer quoting them could not be serialised. Every
 * quote of caller text goes through here. Pure.
 */
#ifndef INFERD_TEXT_H
#define INFERD_TEXT_H

#include <stddef.h>

/* U+FFFD REPLACEMENT CHARACTER, in UTF-8. */
#define TEXT_REPLACEMENT "\xEF\xBF\xBD"

/* Copies s[0, len) into out (outlen bytes, always NUL-terminated when
 * outlen > 0) as valid UTF-8 of at most max_bytes bytes (and outlen - 1),
 * never cutting a character. A byte that does not begin a valid sequence
 * (a stray continuation byte, an overlong form, a surrogate, a value above
 * U+10FFFF, a sequence cut short) and a control character (NUL included,
 * so a quote stays one line) become U+FFFD, one per byte. Returns how many
 * bytes of s were taken: less than len when the text had to be cut. */
size_t text_quote_utf8(char *out, size_t outlen, const char *s, size_t len, size_t max_bytes);

/* The NUL-terminated s quoted as above within max_bytes, followed by "..."
 * when it was cut (the dots not counted in max_bytes but within outlen).
 * Returns out, for use as a printf argument. */
const char *text_echo(char *out, size_t outlen, const char *s, size_t max_bytes);

#endif
