/* queue.c - bounded intrusive FIFO (doubly linked ring with a sentinel). */
#include "dispatch/queue.h"

void queue_init(request_queue_t *q, size_t capacity)
{
    q->head.prev = q->head.next = &q->head;
    q->length = 0;
    q->capacity = capacity;
}

static void link_between(request_queue_t *q, queue_node_t *node, queue_node_t *prev,
                         queue_node_t *next)
{
    node->prev = prev;
    node->next = next;
    prev->next = node;
    next->prev = node;
    q->length++;
}

int queue_push(request_queue_t *q, queue_node_t *node)
{
    if (queue_full(q))
        return -1;
    link_between(q, node, q->head.prev, &q->head);
    return 0;
}

void queue_push_front(request_queue_t *q, queue_node_t *node)
{
    link_between(q, node, &q->head, q->head.next);
}

queue_node_t *queue_peek(const request_queue_t *q)
{
    return q->length ? q->head.next : NULL;
}

queue_node_t *queue_pop(request_queue_t *q)
{
    queue_node_t *node = queue_peek(q);
    if (node)
        queue_remove(q, node);
    return node;
}

void queue_remove(request_queue_t *q, queue_node_t *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = node;
    q->length--;
}

bool queue_full(const request_queue_t *q)
{
    return q->length >= q->capacity;
}

size_t queue_length(const request_queue_t *q)
{
    return q->length;
}
