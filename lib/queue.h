/* queue.h - a connection's output queue of shared, reference-counted
 * messages.
 *
 * A message is written once into memory and may sit in many queues at once
 * (a broadcast): each queue holds a reference and its own read offset, so
 * the bytes are never copied per receiver.  A queue is a ring of (message,
 * offset) items that hands out iovecs for one writev-style call. */
#ifndef TCPCHAT_QUEUE_H
#define TCPCHAT_QUEUE_H

#include <stddef.h>
#include <sys/uio.h>

struct tcpchat__msg {
	unsigned refs;
	size_t len;  /* bytes of data in use */
	size_t cap;  /* bytes of data allocated */
	char data[];
};

/* A message holding a copy of len bytes, with room for cap >= len; one
 * reference, owned by the caller.  NULL when out of memory. */
struct tcpchat__msg *tcpchat__msg_new(const void *data, size_t len, size_t cap);
void tcpchat__msg_ref(struct tcpchat__msg *m);
void tcpchat__msg_unref(struct tcpchat__msg *m);

/* What one queued item is charged beyond its bytes: its ring slot, the
 * message header and the allocator's own header, rounded up.  So a flood
 * of tiny messages is bounded by the queue limit too. */
#define TCPCHAT__QUEUE_ITEM_COST 64

struct tcpchat__queue_item {
	struct tcpchat__msg *msg;
	size_t off;  /* bytes of msg already written */
	size_t cost; /* what it is charged in queue->cost */
};

struct tcpchat__queue {
	struct tcpchat__queue_item *items; /* ring of cap items, NULL until used */
	size_t head, count, cap;
	size_t bytes; /* unwritten bytes over all items */
	size_t cost;  /* memory it holds, at most: what the queue limit bounds */
};

void tcpchat__queue_init(struct tcpchat__queue *q);

/* Drop every item (and its reference) and the ring itself. */
void tcpchat__queue_free(struct tcpchat__queue *q);

/* Queue msg from offset off (< msg->len), taking a reference of its own.
 * Returns 0 or -ENOMEM (the queue and msg are unchanged). */
int tcpchat__queue_push(struct tcpchat__queue *q, struct tcpchat__msg *msg, size_t off);

/* Queue a copy of len bytes, into the last message when it is ours alone
 * and has room, else into a new one (charged its whole capacity).
 * Returns 0 or -ENOMEM. */
int tcpchat__queue_append(struct tcpchat__queue *q, const void *data, size_t len);

/* Fill at most max iovecs with the unwritten bytes, oldest first; returns
 * how many were filled. */
int tcpchat__queue_iov(const struct tcpchat__queue *q, struct iovec *iov, int max);

/* Forget the first n unwritten bytes (n <= bytes), releasing finished
 * messages. */
void tcpchat__queue_consume(struct tcpchat__queue *q, size_t n);

#endif /* TCPCHAT_QUEUE_H */
