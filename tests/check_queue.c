/* check_queue.c - shared messages and the output queue (lib/queue.c). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

#include "testutil.h"

#define MAX_IOV 1024

/* Byte i of a pattern that never repeats within 251 bytes. */
static char pat(size_t i)
{
	return (char)(i % 251);
}

static void fill_pat(char *p, size_t from, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = pat(from + i);
}

/* All of q's unwritten bytes, gathered through its iovecs, into a new
 * NUL-terminated string; their number in *lenp.  Also checks that the
 * iovecs add up to q->bytes and that none is empty. */
static char *gather(const struct tcpchat__queue *q, size_t *lenp)
{
	struct iovec iov[MAX_IOV];
	size_t len = 0;
	char *out;
	int n, i;

	n = tcpchat__queue_iov(q, iov, MAX_IOV);
	ck_assert_int_ge(n, 0);
	ck_assert_uint_eq((size_t)n, q->count < MAX_IOV ? q->count : MAX_IOV);
	for (i = 0; i < n; i++) {
		ck_assert_uint_gt(iov[i].iov_len, 0);
		len += iov[i].iov_len;
	}
	if ((size_t)n == q->count)
		ck_assert_uint_eq(len, q->bytes);
	out = malloc(len + 1);
	ck_assert_ptr_nonnull(out);
	len = 0;
	for (i = 0; i < n; i++) {
		memcpy(out + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	out[len] = '\0';
	*lenp = len;
	return out;
}

/* q's unwritten bytes are exactly the len bytes at expected. */
static void assert_content(const struct tcpchat__queue *q, const void *expected, size_t len)
{
	size_t got;
	char *s = gather(q, &got);

	ck_assert_uint_eq(q->bytes, len);
	ck_assert_uint_eq(got, len);
	ck_assert_msg(memcmp(s, expected, len) == 0, "queue content differs");
	free(s);
}

static void assert_str(const struct tcpchat__queue *q, const char *expected)
{
	assert_content(q, expected, strlen(expected));
}

/* The last message of a non-empty queue. */
static struct tcpchat__msg *tail_msg(const struct tcpchat__queue *q)
{
	ck_assert_uint_gt(q->count, 0);
	return q->items[(q->head + q->count - 1) & (q->cap - 1)].msg;
}

/* ------------------------------------------------------------------ */

START_TEST(test_msg_new)
{
	struct tcpchat__msg *m = tcpchat__msg_new("hello", 5, 16);

	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->refs, 1);
	ck_assert_uint_eq(m->len, 5);
	ck_assert_uint_eq(m->cap, 16);
	ck_assert_mem_eq(m->data, "hello", 5);
	tcpchat__msg_unref(m);

	/* Empty, and exactly full. */
	m = tcpchat__msg_new(NULL, 0, 0);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->len, 0);
	tcpchat__msg_unref(m);
	m = tcpchat__msg_new("a\0b", 3, 3);
	ck_assert_ptr_nonnull(m);
	ck_assert_mem_eq(m->data, "a\0b", 3);
	tcpchat__msg_unref(m);

	/* cap < len is refused. */
	ck_assert_ptr_null(tcpchat__msg_new("hello", 5, 4));
	/* So is a size that cannot be allocated. */
	ck_assert_ptr_null(tcpchat__msg_new(NULL, 0, SIZE_MAX));
}
END_TEST

START_TEST(test_msg_ref_unref)
{
	struct tcpchat__msg *m = tcpchat__msg_new("x", 1, 1);

	ck_assert_ptr_nonnull(m);
	tcpchat__msg_ref(m);
	ck_assert_uint_eq(m->refs, 2);
	tcpchat__msg_ref(m);
	ck_assert_uint_eq(m->refs, 3);
	tcpchat__msg_unref(m);
	ck_assert_uint_eq(m->refs, 2);
	tcpchat__msg_unref(m);
	ck_assert_uint_eq(m->refs, 1);
	ck_assert_mem_eq(m->data, "x", 1);
	tcpchat__msg_unref(m); /* freed: valgrind/ASan check there is no leak */
	tcpchat__msg_unref(NULL);
}
END_TEST

START_TEST(test_queue_init_free_empty)
{
	struct tcpchat__queue q;
	struct iovec iov[4];

	memset(&q, 0x5a, sizeof(q));
	tcpchat__queue_init(&q);
	ck_assert_ptr_null(q.items);
	ck_assert_uint_eq(q.count, 0);
	ck_assert_uint_eq(q.bytes, 0);
	ck_assert_int_eq(tcpchat__queue_iov(&q, iov, 4), 0);
	tcpchat__queue_consume(&q, 0);
	ck_assert_int_eq(tcpchat__queue_append(&q, "", 0), 0);
	ck_assert_uint_eq(q.count, 0);
	tcpchat__queue_free(&q);
	tcpchat__queue_free(&q);
	ck_assert_ptr_null(q.items);
}
END_TEST

START_TEST(test_append_coalesces)
{
	struct tcpchat__queue q;

	tcpchat__queue_init(&q);
	ck_assert_int_eq(tcpchat__queue_append(&q, "ab", 2), 0);
	ck_assert_uint_eq(q.count, 1);
	ck_assert_uint_eq(tail_msg(&q)->refs, 1);
	ck_assert_int_eq(tcpchat__queue_append(&q, "cde", 3), 0);
	ck_assert_int_eq(tcpchat__queue_append(&q, "f", 1), 0);
	ck_assert_int_eq(tcpchat__queue_append(&q, "", 0), 0);
	ck_assert_int_eq(tcpchat__queue_append(&q, "\0gh\n", 4), 0);
	ck_assert_uint_eq(q.count, 1);
	ck_assert_uint_eq(q.bytes, 10);
	assert_content(&q, "abcdef\0gh\n", 10);
	tcpchat__queue_free(&q);
}
END_TEST

START_TEST(test_append_many_small)
{
	struct tcpchat__queue q;
	char chunk[10], all[1000];
	size_t i;

	tcpchat__queue_init(&q);
	for (i = 0; i < 100; i++) {
		fill_pat(chunk, i * 10, 10);
		memcpy(all + i * 10, chunk, 10);
		ck_assert_int_eq(tcpchat__queue_append(&q, chunk, 10), 0);
	}
	/* A thousand bytes in tiny writes: one message, not a hundred. */
	ck_assert_uint_eq(q.count, 1);
	assert_content(&q, all, sizeof(all));
	tcpchat__queue_free(&q);
}
END_TEST

START_TEST(test_append_new_msg_when_full)
{
	struct tcpchat__queue q;
	struct tcpchat__msg *m;
	char *all;
	size_t room, first = 100, total;

	tcpchat__queue_init(&q);
	all = malloc(1 << 17);
	ck_assert_ptr_nonnull(all);
	fill_pat(all, 0, 1 << 17);

	ck_assert_int_eq(tcpchat__queue_append(&q, all, first), 0);
	m = tail_msg(&q);
	ck_assert_uint_ge(m->cap, first);
	room = m->cap - m->len;
	ck_assert_uint_lt(room, 1 << 16);
	/* Filling the room exactly still coalesces... */
	ck_assert_int_eq(tcpchat__queue_append(&q, all + first, room), 0);
	ck_assert_uint_eq(q.count, 1);
	ck_assert_ptr_eq(tail_msg(&q), m);
	ck_assert_uint_eq(m->len, m->cap);
	total = first + room;
	/* ...one byte more needs a new message. */
	ck_assert_int_eq(tcpchat__queue_append(&q, all + total, 1), 0);
	ck_assert_uint_eq(q.count, 2);
	ck_assert_ptr_ne(tail_msg(&q), m);
	total++;
	assert_content(&q, all, total);

	/* A write bigger than the room left gets a message of its own that
	 * holds all of it. */
	room = tail_msg(&q)->cap - tail_msg(&q)->len;
	ck_assert_int_eq(tcpchat__queue_append(&q, all + total, room + 50000), 0);
	ck_assert_uint_eq(q.count, 3);
	ck_assert_uint_eq(tail_msg(&q)->len, room + 50000);
	total += room + 50000;
	assert_content(&q, all, total);
	free(all);
	tcpchat__queue_free(&q);
}
END_TEST

START_TEST(test_append_new_msg_when_shared)
{
	struct tcpchat__queue q, q2;
	struct tcpchat__msg *m;

	tcpchat__queue_init(&q);
	tcpchat__queue_init(&q2);
	ck_assert_int_eq(tcpchat__queue_append(&q, "one", 3), 0);
	m = tail_msg(&q);
	ck_assert_uint_eq(m->refs, 1);
	ck_assert_uint_gt(m->cap - m->len, 100);

	/* Another queue holds the message too: it must not grow under it. */
	ck_assert_int_eq(tcpchat__queue_push(&q2, m, 0), 0);
	ck_assert_uint_eq(m->refs, 2);
	ck_assert_int_eq(tcpchat__queue_append(&q, "two", 3), 0);
	ck_assert_uint_eq(q.count, 2);
	ck_assert_uint_eq(m->len, 3);
	assert_str(&q, "onetwo");
	assert_str(&q2, "one");

	/* A message pushed by a caller who keeps a reference is not ours
	 * alone either. */
	{
		struct tcpchat__msg *b = tcpchat__msg_new("bc", 2, 64);

		ck_assert_ptr_nonnull(b);
		ck_assert_int_eq(tcpchat__queue_push(&q2, b, 0), 0);
		ck_assert_uint_eq(b->refs, 2);
		ck_assert_int_eq(tcpchat__queue_append(&q2, "x", 1), 0);
		ck_assert_uint_eq(q2.count, 3);
		ck_assert_uint_eq(b->len, 2);
		ck_assert_mem_eq(b->data, "bc", 2);
		assert_str(&q2, "onebcx");
		tcpchat__msg_unref(b);
	}

	tcpchat__queue_free(&q2);
	ck_assert_uint_eq(m->refs, 1);
	/* Ours alone again: appends coalesce into the new tail. */
	ck_assert_int_eq(tcpchat__queue_append(&q, "three", 5), 0);
	ck_assert_uint_eq(q.count, 2);
	assert_str(&q, "onetwothree");
	tcpchat__queue_free(&q);
}
END_TEST

START_TEST(test_push_offset)
{
	struct tcpchat__queue q;
	struct tcpchat__msg *m = tcpchat__msg_new("0123456789", 10, 10);

	ck_assert_ptr_nonnull(m);
	tcpchat__queue_init(&q);
	ck_assert_int_eq(tcpchat__queue_push(&q, m, 4), 0);
	ck_assert_uint_eq(q.bytes, 6);
	assert_str(&q, "456789");
	ck_assert_int_eq(tcpchat__queue_push(&q, m, 9), 0);
	ck_assert_uint_eq(m->refs, 3);
	assert_str(&q, "4567899");
	tcpchat__msg_unref(m);
	tcpchat__queue_consume(&q, 7);
	ck_assert_uint_eq(q.count, 0);
	ck_assert_uint_eq(q.bytes, 0);
	tcpchat__queue_free(&q);
}
END_TEST

START_TEST(test_broadcast_three_queues)
{
	static const char text[] = "broadcast message!"; /* 18 bytes */
	struct tcpchat__queue q[3];
	struct tcpchat__msg *m;
	struct iovec iov[2];
	int i;

	m = tcpchat__msg_new(text, 18, 18);
	ck_assert_ptr_nonnull(m);
	for (i = 0; i < 3; i++) {
		tcpchat__queue_init(&q[i]);
		ck_assert_int_eq(tcpchat__queue_push(&q[i], m, 0), 0);
	}
	ck_assert_uint_eq(m->refs, 4);
	tcpchat__msg_unref(m); /* the queues' references remain */
	ck_assert_uint_eq(m->refs, 3);

	/* Every queue sees the same bytes, not a copy. */
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(tcpchat__queue_iov(&q[i], iov, 2), 1);
		ck_assert_ptr_eq(iov[0].iov_base, m->data);
		ck_assert_uint_eq(iov[0].iov_len, 18);
	}

	/* Queue 0 writes all of it at once. */
	tcpchat__queue_consume(&q[0], 18);
	ck_assert_uint_eq(q[0].bytes, 0);
	ck_assert_uint_eq(q[0].count, 0);
	ck_assert_uint_eq(m->refs, 2);

	/* Queue 1 writes a bit; queue 2 is untouched. */
	tcpchat__queue_consume(&q[1], 5);
	ck_assert_uint_eq(q[1].bytes, 13);
	ck_assert_uint_eq(q[2].bytes, 18);
	ck_assert_int_eq(tcpchat__queue_iov(&q[1], iov, 2), 1);
	ck_assert_ptr_eq(iov[0].iov_base, m->data + 5);
	assert_str(&q[1], "cast message!");
	assert_str(&q[2], "broadcast message!");
	ck_assert_uint_eq(m->refs, 2);

	/* Queue 2 writes a different amount, then all. */
	tcpchat__queue_consume(&q[2], 11);
	assert_str(&q[2], "essage!");
	assert_str(&q[1], "cast message!");
	tcpchat__queue_consume(&q[2], 7);
	ck_assert_uint_eq(q[2].count, 0);
	ck_assert_uint_eq(m->refs, 1);

	/* Queue 1 is the last holder: its message is intact until it is done. */
	tcpchat__queue_consume(&q[1], 12);
	assert_str(&q[1], "!");
	ck_assert_uint_eq(m->refs, 1);
	tcpchat__queue_consume(&q[1], 1); /* frees m: valgrind/ASan check */
	ck_assert_uint_eq(q[1].count, 0);
	ck_assert_uint_eq(q[1].bytes, 0);

	for (i = 0; i < 3; i++)
		tcpchat__queue_free(&q[i]);
}
END_TEST

START_TEST(test_iov_order_and_max)
{
	static const char *words[] = { "alpha", "beta", "gamma", "delta", "eps" };
	struct tcpchat__queue q;
	struct tcpchat__msg *m;
	struct iovec iov[8];
	size_t i;
	int n;

	tcpchat__queue_init(&q);
	for (i = 0; i < 5; i++) {
		m = tcpchat__msg_new(words[i], strlen(words[i]), strlen(words[i]));
		ck_assert_ptr_nonnull(m);
		ck_assert_int_eq(tcpchat__queue_push(&q, m, 0), 0);
		tcpchat__msg_unref(m);
	}
	ck_assert_uint_eq(q.count, 5);

	memset(iov, 0, sizeof(iov));
	ck_assert_int_eq(tcpchat__queue_iov(&q, iov, 0), 0);
	n = tcpchat__queue_iov(&q, iov, 3);
	ck_assert_int_eq(n, 3);
	/* Nothing written past max. */
	ck_assert_ptr_null(iov[3].iov_base);
	for (i = 0; i < 3; i++) {
		ck_assert_uint_eq(iov[i].iov_len, strlen(words[i]));
		ck_assert_mem_eq(iov[i].iov_base, words[i], strlen(words[i]));
	}
	n = tcpchat__queue_iov(&q, iov, 8);
	ck_assert_int_eq(n, 5);
	for (i = 0; i < 5; i++) {
		ck_assert_uint_eq(iov[i].iov_len, strlen(words[i]));
		ck_assert_mem_eq(iov[i].iov_base, words[i], strlen(words[i]));
	}
	ck_assert_int_eq(tcpchat__queue_iov(&q, iov, 1), 1);
	ck_assert_mem_eq(iov[0].iov_base, "alpha", 5);

	/* After a partial consume the first iovec starts mid-message. */
	tcpchat__queue_consume(&q, 2);
	ck_assert_int_eq(tcpchat__queue_iov(&q, iov, 8), 5);
	ck_assert_uint_eq(iov[0].iov_len, 3);
	ck_assert_mem_eq(iov[0].iov_base, "pha", 3);
	assert_str(&q, "phabetagammadeltaeps");
	tcpchat__queue_free(&q);
}
END_TEST

START_TEST(test_consume_across_items)
{
	static const char *words[] = { "abc", "defgh", "ij", "k", "lmnop" };
	struct tcpchat__queue q;
	struct tcpchat__msg *m;
	size_t i;

	tcpchat__queue_init(&q);
	for (i = 0; i < 5; i++) {
		m = tcpchat__msg_new(words[i], strlen(words[i]), strlen(words[i]));
		ck_assert_ptr_nonnull(m);
		ck_assert_int_eq(tcpchat__queue_push(&q, m, 0), 0);
		tcpchat__msg_unref(m);
	}
	assert_str(&q, "abcdefghijklmnop");

	tcpchat__queue_consume(&q, 0);
	assert_str(&q, "abcdefghijklmnop");
	tcpchat__queue_consume(&q, 2);          /* inside the first */
	ck_assert_uint_eq(q.count, 5);
	assert_str(&q, "cdefghijklmnop");
	tcpchat__queue_consume(&q, 4);          /* across a boundary */
	ck_assert_uint_eq(q.count, 4);
	assert_str(&q, "ghijklmnop");
	tcpchat__queue_consume(&q, 2);          /* exactly to a boundary */
	ck_assert_uint_eq(q.count, 3);
	assert_str(&q, "ijklmnop");
	tcpchat__queue_consume(&q, 4);          /* two whole items and one byte */
	ck_assert_uint_eq(q.count, 1);
	assert_str(&q, "mnop");
	tcpchat__queue_consume(&q, 4);          /* the rest */
	ck_assert_uint_eq(q.count, 0);
	ck_assert_uint_eq(q.bytes, 0);

	/* The emptied queue is usable again. */
	ck_assert_int_eq(tcpchat__queue_append(&q, "again", 5), 0);
	assert_str(&q, "again");
	tcpchat__queue_free(&q);
}
END_TEST

/* Push a message of len pattern bytes from `from`; returns from + len. */
static size_t push_pattern(struct tcpchat__queue *q, size_t from, size_t len)
{
	struct tcpchat__msg *m;
	char buf[64];

	ck_assert_uint_le(len, sizeof(buf));
	fill_pat(buf, from, len);
	m = tcpchat__msg_new(buf, len, len);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(tcpchat__queue_push(q, m, 0), 0);
	tcpchat__msg_unref(m);
	return from + len;
}

static void assert_pattern(const struct tcpchat__queue *q, size_t from, size_t to)
{
	char *expected = malloc(to - from + 1);

	ck_assert_ptr_nonnull(expected);
	fill_pat(expected, from, to - from);
	assert_content(q, expected, to - from);
	free(expected);
}

START_TEST(test_ring_wraps_then_grows)
{
	struct tcpchat__queue q;
	size_t in = 0, out = 0, cap, i;

	tcpchat__queue_init(&q);
	/* Fill the first ring, then free its front slots. */
	in = push_pattern(&q, in, 3);
	cap = q.cap;
	ck_assert_uint_ge(cap, 2);
	for (i = 1; i < cap; i++)
		in = push_pattern(&q, in, 3 + i);
	ck_assert_uint_eq(q.count, cap);
	ck_assert_uint_eq(q.cap, cap);
	tcpchat__queue_consume(&q, 3 + 2);  /* first item and part of the second */
	out = 5;
	ck_assert_uint_eq(q.count, cap - 1);
	ck_assert_uint_gt(q.head, 0);
	/* The next push goes to the slots freed at the front. */
	in = push_pattern(&q, in, 5);
	ck_assert_uint_eq(q.cap, cap);
	ck_assert_uint_eq(q.count, cap);
	ck_assert_uint_gt(q.head + q.count, q.cap); /* wrapped */
	assert_pattern(&q, out, in);

	/* Grow while wrapped: the order must survive. */
	in = push_pattern(&q, in, 9);
	ck_assert_uint_gt(q.cap, cap);
	ck_assert_uint_eq(q.count, cap + 1);
	assert_pattern(&q, out, in);
	for (i = 0; i < 3 * cap; i++)
		in = push_pattern(&q, in, 1 + i % 17);
	assert_pattern(&q, out, in);
	tcpchat__queue_free(&q);
}
END_TEST

/* Many pushes and consumes of random sizes so that head goes round the
 * ring many times, checked byte for byte against the stream. */
START_TEST(test_ring_random)
{
	struct tcpchat__queue q;
	size_t in = 0, out = 0, n, i, wraps = 0, grows = 0, cap = 0;
	unsigned seed = 777;

	tcpchat__queue_init(&q);
	for (i = 0; i < 20000; i++) {
		seed = seed * 1103515245u + 12345u;
		if ((seed >> 16) % 5 < 3 || q.count == 0) {
			if ((seed >> 20) % 4 == 0) {
				/* A copy that may coalesce: same stream. */
				char buf[64];
				n = 1 + (seed >> 8) % 40;
				fill_pat(buf, in, n);
				ck_assert_int_eq(tcpchat__queue_append(&q, buf, n), 0);
				in += n;
			} else {
				in = push_pattern(&q, in, 1 + (seed >> 8) % 60);
			}
		} else {
			n = (seed >> 4) % (q.bytes + 1);
			tcpchat__queue_consume(&q, n);
			out += n;
		}
		if (i % 1000 == 999 && q.head + q.count > q.cap && q.cap < 1024) {
			/* A burst while wrapped: the ring must grow. */
			size_t burst = q.cap - q.count + 1, k;
			for (k = 0; k < burst; k++)
				in = push_pattern(&q, in, 1 + k % 13);
			assert_pattern(&q, out, in);
		}
		if (q.cap != cap) {
			grows++;
			cap = q.cap;
		}
		if (q.head + q.count > q.cap)
			wraps++;
		ck_assert_uint_eq(q.bytes, in - out);
		if (i % 97 == 0)
			assert_pattern(&q, out, in);
	}
	/* The run really exercised wrapped rings. */
	ck_assert_uint_gt(wraps, 100);
	ck_assert_uint_gt(grows, 3);
	assert_pattern(&q, out, in);
	tcpchat__queue_consume(&q, q.bytes);
	ck_assert_uint_eq(q.count, 0);
	tcpchat__queue_free(&q);
}
END_TEST

START_TEST(test_free_releases_references)
{
	struct tcpchat__queue q1, q2;
	struct tcpchat__msg *m = tcpchat__msg_new("shared", 6, 6);
	struct tcpchat__msg *own;

	ck_assert_ptr_nonnull(m);
	tcpchat__queue_init(&q1);
	tcpchat__queue_init(&q2);
	ck_assert_int_eq(tcpchat__queue_push(&q1, m, 0), 0);
	ck_assert_int_eq(tcpchat__queue_append(&q1, "mine", 4), 0);
	own = tail_msg(&q1);
	ck_assert_ptr_ne(own, m);
	ck_assert_int_eq(tcpchat__queue_push(&q1, m, 3), 0);
	ck_assert_int_eq(tcpchat__queue_push(&q2, m, 1), 0);
	ck_assert_uint_eq(m->refs, 4);
	assert_str(&q1, "sharedminered");
	assert_str(&q2, "hared");
	tcpchat__queue_consume(&q1, 2);

	tcpchat__queue_free(&q1); /* two references to m, and own */
	ck_assert_uint_eq(m->refs, 2);
	ck_assert_ptr_null(q1.items);
	ck_assert_uint_eq(q1.count, 0);
	ck_assert_uint_eq(q1.bytes, 0);
	assert_str(&q2, "hared");
	tcpchat__queue_free(&q2);
	ck_assert_uint_eq(m->refs, 1);
	ck_assert_mem_eq(m->data, "shared", 6);
	tcpchat__msg_unref(m);

	/* A freed queue can be used again. */
	ck_assert_int_eq(tcpchat__queue_append(&q1, "reuse", 5), 0);
	assert_str(&q1, "reuse");
	tcpchat__queue_free(&q1);
}
END_TEST

static Suite *queue_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("msg");

	tcase_add_test(tc, test_msg_new);
	tcase_add_test(tc, test_msg_ref_unref);
	suite_add_tcase(s, tc);

	tc = tcase_create("queue");
	tcase_add_test(tc, test_queue_init_free_empty);
	tcase_add_test(tc, test_append_coalesces);
	tcase_add_test(tc, test_append_many_small);
	tcase_add_test(tc, test_append_new_msg_when_full);
	tcase_add_test(tc, test_append_new_msg_when_shared);
	tcase_add_test(tc, test_push_offset);
	tcase_add_test(tc, test_broadcast_three_queues);
	tcase_add_test(tc, test_iov_order_and_max);
	tcase_add_test(tc, test_consume_across_items);
	tcase_add_test(tc, test_ring_wraps_then_grows);
	tcase_add_test(tc, test_ring_random);
	tcase_add_test(tc, test_free_releases_references);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(queue_suite)
