/* test_queue.c - the bounded intrusive FIFO behind each model's queue. */
#include <criterion/criterion.h>

#include "dispatch/queue.h"

typedef struct item {
    int value;
    queue_node_t node;
} item_t;

static int pop_value(request_queue_t *q)
{
    queue_node_t *n = queue_pop(q);
    return n ? queue_entry(n, item_t, node)->value : -1;
}

Test(queue, fifo_order_and_bound)
{
    request_queue_t q;
    item_t items[4] = {{.value = 0}, {.value = 1}, {.value = 2}, {.value = 3}};
    queue_init(&q, 3);
    cr_expect_eq(queue_length(&q), 0);
    cr_expect_null(queue_pop(&q));
    for (int i = 0; i < 3; i++)
        cr_expect_eq(queue_push(&q, &items[i].node), 0);
    cr_expect(queue_full(&q));
    cr_expect_eq(queue_push(&q, &items[3].node), -1, "a full queue refuses");
    cr_expect_eq(queue_length(&q), 3);
    for (int i = 0; i < 3; i++)
        cr_expect_eq(pop_value(&q), i);
    cr_expect_eq(queue_length(&q), 0);
}

Test(queue, push_front_jumps_the_line_even_when_full)
{
    request_queue_t q;
    item_t a = {.value = 1}, b = {.value = 2}, retry = {.value = 9};
    queue_init(&q, 2);
    queue_push(&q, &a.node);
    queue_push(&q, &b.node);
    queue_push_front(&q, &retry.node);
    cr_expect_eq(queue_length(&q), 3);
    cr_expect_eq(pop_value(&q), 9);
    cr_expect_eq(pop_value(&q), 1);
    cr_expect_eq(pop_value(&q), 2);
}

Test(queue, remove_from_any_position)
{
    /* Each row: which of five queued items to remove, then the order left. */
    static const struct {
        int remove[2];
        int left[3];
    } rows[] = {
        {{0, 1}, {2, 3, 4}},
        {{4, 3}, {0, 1, 2}},
        {{1, 3}, {0, 2, 4}},
        {{2, 0}, {1, 3, 4}},
    };
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        request_queue_t q;
        item_t items[5];
        queue_init(&q, 5);
        for (int i = 0; i < 5; i++) {
            items[i].value = i;
            queue_push(&q, &items[i].node);
        }
        queue_remove(&q, &items[rows[r].remove[0]].node);
        queue_remove(&q, &items[rows[r].remove[1]].node);
        cr_expect_eq(queue_length(&q), 3, "row %zu", r);
        cr_expect_not(queue_full(&q));
        for (int i = 0; i < 3; i++)
            cr_expect_eq(pop_value(&q), rows[r].left[i], "row %zu position %d", r, i);
    }
}

Test(queue, peek_does_not_remove)
{
    request_queue_t q;
    item_t a = {.value = 5};
    queue_init(&q, 1);
    cr_expect_null(queue_peek(&q));
    queue_push(&q, &a.node);
    cr_expect_eq(queue_entry(queue_peek(&q), item_t, node)->value, 5);
    cr_expect_eq(queue_length(&q), 1);
}
