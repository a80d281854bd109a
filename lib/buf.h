/* buf.h - a growable byte buffer for input that is consumed from the front.
 *
 * Bytes live in data[start, start + len); reading more appends at the tail,
 * parsing consumes at the front.  Storage is allocated on first use, so an
 * unused buffer costs only the struct. */
#ifndef TCPCHAT_BUF_H
#define TCPCHAT_BUF_H

#include <stddef.h>

struct tcpchat__buf {
	char *data;
	size_t start; /* offset of the first unconsumed byte */
	size_t len;   /* unconsumed bytes */
	size_t cap;   /* allocated bytes */
};

void tcpchat__buf_init(struct tcpchat__buf *b);
void tcpchat__buf_free(struct tcpchat__buf *b);

/* Make room for n more bytes at the tail, moving the content to the front
 * or growing the storage.  Returns 0 or -ENOMEM (the buffer is unchanged). */
int tcpchat__buf_reserve(struct tcpchat__buf *b, size_t n);

/* Append n bytes.  Returns 0 or -ENOMEM. */
int tcpchat__buf_append(struct tcpchat__buf *b, const void *data, size_t n);

/* Forget the first n bytes (n <= len). */
void tcpchat__buf_consume(struct tcpchat__buf *b, size_t n);

static inline const char *tcpchat__buf_data(const struct tcpchat__buf *b)
{
	return b->data + b->start;
}

/* Where tcpchat__buf_reserve() made room; tcpchat__buf_commit() then counts
 * the n bytes written there. */
static inline char *tcpchat__buf_tail(struct tcpchat__buf *b)
{
	return b->data + b->start + b->len;
}

static inline void tcpchat__buf_commit(struct tcpchat__buf *b, size_t n)
{
	b->len += n;
}

#endif /* TCPCHAT_BUF_H */
