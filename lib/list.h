/* list.h - an intrusive, circular, doubly linked list.
 *
 * A list head is a struct tcpchat__list whose next/prev point to itself when
 * empty; elements embed a struct tcpchat__list and are found again with
 * TCPCHAT__CONTAINER_OF.  Every operation is O(1) and allocates nothing. */
#ifndef TCPCHAT_LIST_H
#define TCPCHAT_LIST_H

#include <stdbool.h>

struct tcpchat__list {
	struct tcpchat__list *next, *prev;
};

static inline void tcpchat__list_init(struct tcpchat__list *l)
{
	l->next = l->prev = l;
}

static inline bool tcpchat__list_empty(const struct tcpchat__list *l)
{
	return l->next == l;
}

/* Insert e before head, that is at the tail of the list. */
static inline void tcpchat__list_append(struct tcpchat__list *head, struct tcpchat__list *e)
{
	e->prev = head->prev;
	e->next = head;
	head->prev->next = e;
	head->prev = e;
}

/* Unlink e and leave it as an empty list, so removing twice is harmless. */
static inline void tcpchat__list_remove(struct tcpchat__list *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	tcpchat__list_init(e);
}

#endif /* TCPCHAT_LIST_H */
