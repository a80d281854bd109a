/* buf.c - a growable byte buffer for input that is consumed from the front. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"

void tcpchat__buf_init(struct tcpchat__buf *b)
{
	b->data = NULL;
	b->start = b->len = b->cap = 0;
}

void tcpchat__buf_free(struct tcpchat__buf *b)
{
	free(b->data);
	tcpchat__buf_init(b);
}

int tcpchat__buf_reserve(struct tcpchat__buf *b, size_t n)
{
	size_t need, cap;
	char *data;

	if (b->cap - b->start - b->len >= n)
		return 0;
	if (n > SIZE_MAX - b->len)
		return -ENOMEM;
	need = b->len + n;
	if (need <= b->cap) {
		/* Enough room once the consumed prefix is reclaimed. */
		memmove(b->data, b->data + b->start, b->len);
		b->start = 0;
		return 0;
	}
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (b->start > 0) {
		memmove(b->data, b->data + b->start, b->len);
		b->start = 0;
	}
	data = realloc(b->data, cap);
	if (!data)
		return -ENOMEM;
	b->data = data;
	b->cap = cap;
	return 0;
}

int tcpchat__buf_append(struct tcpchat__buf *b, const void *data, size_t n)
{
	int rc;

	if (n == 0)
		return 0;
	rc = tcpchat__buf_reserve(b, n);
	if (rc < 0)
		return rc;
	memcpy(tcpchat__buf_tail(b), data, n);
	tcpchat__buf_commit(b, n);
	return 0;
}

void tcpchat__buf_consume(struct tcpchat__buf *b, size_t n)
{
	b->start += n;
	b->len -= n;
	if (b->len == 0)
		b->start = 0;
}
