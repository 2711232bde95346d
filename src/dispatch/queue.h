/* queue.h - a bounded FIFO of waiting requests, one per model.
 *
 * Intrusive: the waiting item embeds a queue_node_t, so pushing never
 * allocates and an item that times out is unlinked in O(1) wherever it
 * stands. Pure data structure: no I/O, no clock.
 */
#ifndef INFERD_QUEUE_H
#define INFERD_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct queue_node {
    struct queue_node *prev;
    struct queue_node *next;
} queue_node_t;

typedef struct request_queue {
    queue_node_t head; /* sentinel */
    size_t length;
    size_t capacity;
} request_queue_t;

/* The struct that embeds node as member. */
#define queue_entry(node, type, member) ((type *)((char *)(node)-offsetof(type, member)))

void queue_init(request_queue_t *q, size_t capacity);

/* Appends node; returns -1 (and does nothing) when the queue is full. */
int queue_push(request_queue_t *q, queue_node_t *node);

/* Puts node first whatever the bound: for a request that was already
 * accepted once and is being retried after its replica died. */
void queue_push_front(request_queue_t *q, queue_node_t *node);

/* Removes and returns the oldest node, or NULL when empty. */
queue_node_t *queue_pop(request_queue_t *q);

/* The oldest node without removing it, or NULL. */
queue_node_t *queue_peek(const request_queue_t *q);

/* Unlinks node, which must be in q. */
void queue_remove(request_queue_t *q, queue_node_t *node);

bool queue_full(const request_queue_t *q);
size_t queue_length(const request_queue_t *q);

#endif
