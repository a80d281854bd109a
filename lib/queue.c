/* queue.c - a connection's output queue of shared, reference-counted
 * messages. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#include "queue.h"

/* Small sends are gathered into messages of at least this many bytes, so a
 * stream of tiny writes to a slow reader costs one allocation per chunk
 * rather than one per write. */
#define MIN_CHUNK 4096

struct tcpchat__msg *tcpchat__msg_new(const void *data, size_t len, size_t cap)
{
	struct tcpchat__msg *m;

	if (cap < len || cap > SIZE_MAX - sizeof(*m))
		return NULL;
	m = malloc(sizeof(*m) + cap);
	if (!m)
		return NULL;
	m->refs = 1;
	m->len = len;
	m->cap = cap;
	if (len)
		memcpy(m->data, data, len);
	return m;
}

void tcpchat__msg_ref(struct tcpchat__msg *m)
{
	m->refs++;
}

void tcpchat__msg_unref(struct tcpchat__msg *m)
{
	if (m && --m->refs == 0)
		free(m);
}

void tcpchat__queue_init(struct tcpchat__queue *q)
{
	q->items = NULL;
	q->head = q->count = q->cap = 0;
	q->bytes = 0;
	q->cost = 0;
}

static struct tcpchat__queue_item *item_at(const struct tcpchat__queue *q, size_t i)
{
	return &q->items[(q->head + i) & (q->cap - 1)];
}

void tcpchat__queue_free(struct tcpchat__queue *q)
{
	size_t i;

	for (i = 0; i < q->count; i++)
		tcpchat__msg_unref(item_at(q, i)->msg);
	free(q->items);
	tcpchat__queue_init(q);
}

/* Double the ring (cap stays a power of two), unrolling it to start at 0. */
static int grow(struct tcpchat__queue *q)
{
	size_t cap = q->cap ? q->cap * 2 : 4, i;
	struct tcpchat__queue_item *items;

	if (cap > SIZE_MAX / sizeof(*items))
		return -ENOMEM;
	items = malloc(cap * sizeof(*items));
	if (!items)
		return -ENOMEM;
	for (i = 0; i < q->count; i++)
		items[i] = *item_at(q, i);
	free(q->items);
	q->items = items;
	q->head = 0;
	q->cap = cap;
	return 0;
}

/* Push with the given charge. */
static int push(struct tcpchat__queue *q, struct tcpchat__msg *msg, size_t off, size_t cost)
{
	struct tcpchat__queue_item *it;

	if (q->count == q->cap && grow(q) < 0)
		return -ENOMEM;
	it = item_at(q, q->count);
	it->msg = msg;
	it->off = off;
	it->cost = cost;
	q->count++;
	q->bytes += msg->len - off;
	q->cost += cost;
	tcpchat__msg_ref(msg);
	return 0;
}

int tcpchat__queue_push(struct tcpchat__queue *q, struct tcpchat__msg *msg, size_t off)
{
	return push(q, msg, off, msg->len - off + TCPCHAT__QUEUE_ITEM_COST);
}

int tcpchat__queue_append(struct tcpchat__queue *q, const void *data, size_t len)
{
	struct tcpchat__msg *m;
	int rc;

	if (len == 0)
		return 0;
	if (q->count > 0) {
		m = item_at(q, q->count - 1)->msg;
		if (m->refs == 1 && m->cap - m->len >= len) {
			memcpy(m->data + m->len, data, len);
			m->len += len;
			q->bytes += len;
			return 0;
		}
	}
	m = tcpchat__msg_new(data, len, len < MIN_CHUNK ? MIN_CHUNK : len);
	if (!m)
		return -ENOMEM;
	rc = push(q, m, 0, m->cap + TCPCHAT__QUEUE_ITEM_COST);
	tcpchat__msg_unref(m); /* the queue's reference is now the only one */
	return rc;
}

int tcpchat__queue_iov(const struct tcpchat__queue *q, struct iovec *iov, int max)
{
	const struct tcpchat__queue_item *it;
	int n = 0;

	while (n < max && (size_t)n < q->count) {
		it = item_at(q, (size_t)n);
		iov[n].iov_base = it->msg->data + it->off;
		iov[n].iov_len = it->msg->len - it->off;
		n++;
	}
	return n;
}

void tcpchat__queue_consume(struct tcpchat__queue *q, size_t n)
{
	struct tcpchat__queue_item *it;
	size_t left;

	q->bytes -= n;
	while (n > 0) {
		it = item_at(q, 0);
		left = it->msg->len - it->off;
		if (n < left) {
			it->off += n;
			return;
		}
		n -= left;
		q->cost -= it->cost;
		tcpchat__msg_unref(it->msg);
		q->head = (q->head + 1) & (q->cap - 1);
		q->count--;
	}
	if (q->count == 0)
		q->head = 0;
}
