/* check_buf.c - the growable input buffer (lib/buf.c). */
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#include "testutil.h"

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

/* The buffer holds exactly bytes from..from+len of the pattern. */
static void assert_pat(const struct tcpchat__buf *b, size_t from, size_t len)
{
	const char *d;
	size_t i;

	ck_assert_uint_eq(b->len, len);
	if (len == 0)
		return;
	d = tcpchat__buf_data(b);
	for (i = 0; i < len; i++)
		ck_assert_msg(d[i] == pat(from + i), "byte %zu: %d, expected %d",
		              i, d[i], pat(from + i));
}

/* What every reachable state must satisfy. */
static void assert_invariants(const struct tcpchat__buf *b)
{
	ck_assert_uint_le(b->start, b->cap);
	ck_assert_uint_le(b->len, b->cap - b->start);
	if (b->cap > 0)
		ck_assert_ptr_nonnull(b->data);
}

START_TEST(test_init)
{
	struct tcpchat__buf b;

	memset(&b, 0xa5, sizeof(b));
	tcpchat__buf_init(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.start, 0);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	/* Freeing an unused buffer is fine, and so is freeing it twice. */
	tcpchat__buf_free(&b);
	tcpchat__buf_free(&b);
	ck_assert_ptr_null(b.data);
}
END_TEST

START_TEST(test_append_basic)
{
	struct tcpchat__buf b;

	tcpchat__buf_init(&b);
	ck_assert_int_eq(tcpchat__buf_append(&b, "hello", 5), 0);
	ck_assert_uint_eq(b.len, 5);
	ck_assert_uint_ge(b.cap, 5);
	ck_assert_mem_eq(tcpchat__buf_data(&b), "hello", 5);
	ck_assert_int_eq(tcpchat__buf_append(&b, ", world", 7), 0);
	ck_assert_uint_eq(b.len, 12);
	ck_assert_mem_eq(tcpchat__buf_data(&b), "hello, world", 12);
	/* Appending nothing changes nothing. */
	ck_assert_int_eq(tcpchat__buf_append(&b, "", 0), 0);
	ck_assert_uint_eq(b.len, 12);
	assert_invariants(&b);
	tcpchat__buf_free(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
}
END_TEST

START_TEST(test_append_nothing_to_empty)
{
	struct tcpchat__buf b;

	tcpchat__buf_init(&b);
	ck_assert_int_eq(tcpchat__buf_append(&b, NULL, 0), 0);
	ck_assert_uint_eq(b.len, 0);
	tcpchat__buf_free(&b);
}
END_TEST

START_TEST(test_consume)
{
	struct tcpchat__buf b;

	tcpchat__buf_init(&b);
	ck_assert_int_eq(tcpchat__buf_append(&b, "abcdef", 6), 0);
	tcpchat__buf_consume(&b, 0);
	ck_assert_uint_eq(b.len, 6);
	ck_assert_mem_eq(tcpchat__buf_data(&b), "abcdef", 6);
	tcpchat__buf_consume(&b, 2);
	ck_assert_uint_eq(b.len, 4);
	ck_assert_mem_eq(tcpchat__buf_data(&b), "cdef", 4);
	/* New bytes go after the unconsumed ones. */
	ck_assert_int_eq(tcpchat__buf_append(&b, "gh", 2), 0);
	ck_assert_mem_eq(tcpchat__buf_data(&b), "cdefgh", 6);
	tcpchat__buf_consume(&b, 5);
	ck_assert_uint_eq(b.len, 1);
	ck_assert_mem_eq(tcpchat__buf_data(&b), "h", 1);
	/* Consuming everything starts over at the front of the storage. */
	tcpchat__buf_consume(&b, 1);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.start, 0);
	ck_assert_ptr_eq(tcpchat__buf_data(&b), b.data);
	assert_invariants(&b);
	tcpchat__buf_free(&b);
}
END_TEST

START_TEST(test_reserve_commit)
{
	struct tcpchat__buf b;
	size_t cap;
	char *tail;

	tcpchat__buf_init(&b);
	/* Reserving nothing on an empty buffer is fine. */
	ck_assert_int_eq(tcpchat__buf_reserve(&b, 0), 0);
	ck_assert_int_eq(tcpchat__buf_reserve(&b, 10), 0);
	ck_assert_uint_ge(b.cap - b.start - b.len, 10);
	tail = tcpchat__buf_tail(&b);
	ck_assert_ptr_eq(tail, b.data + b.start + b.len);
	memcpy(tail, "0123456789", 10);
	/* Nothing counts until committed. */
	ck_assert_uint_eq(b.len, 0);
	tcpchat__buf_commit(&b, 4);
	ck_assert_uint_eq(b.len, 4);
	ck_assert_mem_eq(tcpchat__buf_data(&b), "0123", 4);

	/* Room that is already there is not reallocated. */
	cap = b.cap;
	ck_assert_int_eq(tcpchat__buf_reserve(&b, b.cap - b.start - b.len), 0);
	ck_assert_uint_eq(b.cap, cap);
	ck_assert_mem_eq(tcpchat__buf_data(&b), "0123", 4);

	/* reserve(n) then commit(n) of a full reservation. */
	ck_assert_int_eq(tcpchat__buf_reserve(&b, 1000), 0);
	ck_assert_uint_ge(b.cap - b.start - b.len, 1000);
	fill_pat(tcpchat__buf_tail(&b), 0, 1000);
	tcpchat__buf_commit(&b, 1000);
	ck_assert_uint_eq(b.len, 1004);
	ck_assert_mem_eq(tcpchat__buf_data(&b), "0123", 4);
	tcpchat__buf_consume(&b, 4);
	assert_pat(&b, 0, 1000);
	assert_invariants(&b);
	tcpchat__buf_free(&b);
}
END_TEST

START_TEST(test_reserve_overflow)
{
	struct tcpchat__buf b;
	char *data;
	size_t cap;

	tcpchat__buf_init(&b);
	ck_assert_int_eq(tcpchat__buf_append(&b, "0123456789", 10), 0);
	data = b.data;
	cap = b.cap;
	/* len + n overflows: -ENOMEM, and the buffer is unchanged. */
	ck_assert_int_eq(tcpchat__buf_reserve(&b, SIZE_MAX - 5), -ENOMEM);
	ck_assert_int_eq(tcpchat__buf_append(&b, "x", SIZE_MAX), -ENOMEM);
	ck_assert_ptr_eq(b.data, data);
	ck_assert_uint_eq(b.cap, cap);
	ck_assert_uint_eq(b.len, 10);
	ck_assert_mem_eq(tcpchat__buf_data(&b), "0123456789", 10);
	tcpchat__buf_free(&b);
}
END_TEST

START_TEST(test_growth_preserves_content)
{
	struct tcpchat__buf b;
	char chunk[997];
	size_t total = 0, prevcap = 0, grows = 0;

	tcpchat__buf_init(&b);
	while (total < 300000) {
		fill_pat(chunk, total, sizeof(chunk));
		ck_assert_int_eq(tcpchat__buf_append(&b, chunk, sizeof(chunk)), 0);
		total += sizeof(chunk);
		if (b.cap != prevcap) {
			grows++;
			prevcap = b.cap;
		}
		assert_invariants(&b);
	}
	assert_pat(&b, 0, total);
	/* Geometric growth: far fewer reallocations than appends. */
	ck_assert_uint_lt(grows, 20);
	tcpchat__buf_free(&b);
}
END_TEST

START_TEST(test_compaction_reclaims_prefix)
{
	struct tcpchat__buf b;
	char *chunk;
	size_t cap, keep = 10;

	tcpchat__buf_init(&b);
	ck_assert_int_eq(tcpchat__buf_reserve(&b, 1), 0);
	cap = b.cap;
	ck_assert_uint_gt(cap, 2 * keep);
	chunk = malloc(cap);
	ck_assert_ptr_nonnull(chunk);
	/* Fill the storage exactly, then consume all but the last bytes. */
	fill_pat(chunk, 0, cap);
	ck_assert_int_eq(tcpchat__buf_append(&b, chunk, cap), 0);
	ck_assert_uint_eq(b.cap, cap);
	ck_assert_uint_eq(b.cap - b.start - b.len, 0);
	tcpchat__buf_consume(&b, cap - keep);
	ck_assert_uint_eq(b.start, cap - keep);
	/* Room for cap - keep bytes exists once the prefix is reclaimed: no
	 * growth, and the kept bytes are now at the front. */
	ck_assert_int_eq(tcpchat__buf_reserve(&b, cap - keep), 0);
	ck_assert_uint_eq(b.cap, cap);
	ck_assert_uint_eq(b.start, 0);
	ck_assert_uint_ge(b.cap - b.start - b.len, cap - keep);
	assert_pat(&b, cap - keep, keep);
	/* And the room is usable. */
	fill_pat(chunk, cap, cap - keep);
	ck_assert_int_eq(tcpchat__buf_append(&b, chunk, cap - keep), 0);
	ck_assert_uint_eq(b.cap, cap);
	assert_pat(&b, cap - keep, cap);
	assert_invariants(&b);
	free(chunk);
	tcpchat__buf_free(&b);
}
END_TEST

START_TEST(test_reserve_after_partial_consume)
{
	struct tcpchat__buf b;
	char chunk[3000];
	size_t cap;

	tcpchat__buf_init(&b);
	fill_pat(chunk, 0, 300);
	ck_assert_int_eq(tcpchat__buf_append(&b, chunk, 300), 0);
	tcpchat__buf_consume(&b, 200);
	assert_pat(&b, 200, 100);
	cap = b.cap;

	/* Needs growth while a consumed prefix is still there. */
	ck_assert_int_eq(tcpchat__buf_reserve(&b, cap * 4), 0);
	ck_assert_uint_ge(b.cap - b.start - b.len, cap * 4);
	assert_pat(&b, 200, 100);

	/* Append through the reservation and keep going. */
	fill_pat(chunk, 300, sizeof(chunk));
	ck_assert_int_eq(tcpchat__buf_append(&b, chunk, sizeof(chunk)), 0);
	assert_pat(&b, 200, 100 + sizeof(chunk));
	tcpchat__buf_consume(&b, 1234);
	assert_pat(&b, 1434, 100 + sizeof(chunk) - 1234);
	ck_assert_int_eq(tcpchat__buf_reserve(&b, 100), 0);
	assert_pat(&b, 1434, 100 + sizeof(chunk) - 1234);
	assert_invariants(&b);
	tcpchat__buf_free(&b);
}
END_TEST

/* Growth while a consumed prefix remains: the new storage must have the
 * room asked for after the unconsumed bytes, not just in total. */
START_TEST(test_grow_with_consumed_prefix)
{
	struct tcpchat__buf b;
	char *chunk;
	size_t cap, keep = 56, n;

	tcpchat__buf_init(&b);
	ck_assert_int_eq(tcpchat__buf_reserve(&b, 1), 0);
	cap = b.cap;
	chunk = malloc(2 * cap);
	ck_assert_ptr_nonnull(chunk);
	fill_pat(chunk, 0, cap);
	ck_assert_int_eq(tcpchat__buf_append(&b, chunk, cap), 0);
	tcpchat__buf_consume(&b, cap - keep);
	/* Exactly twice the storage in all: a doubling is just enough. */
	n = 2 * cap - keep;
	ck_assert_int_eq(tcpchat__buf_reserve(&b, n), 0);
	ck_assert_uint_ge(b.cap - b.start - b.len, n);
	assert_pat(&b, cap - keep, keep);
	fill_pat(chunk, cap, n);
	ck_assert_int_eq(tcpchat__buf_append(&b, chunk, n), 0);
	assert_pat(&b, cap - keep, keep + n);
	assert_invariants(&b);
	free(chunk);
	tcpchat__buf_free(&b);
}
END_TEST

START_TEST(test_many_small_appends)
{
	struct tcpchat__buf b;
	char chunk[8];
	size_t total = 0, n, i;

	tcpchat__buf_init(&b);
	for (i = 0; i < 20000; i++) {
		n = 1 + i % 7;
		fill_pat(chunk, total, n);
		ck_assert_int_eq(tcpchat__buf_append(&b, chunk, n), 0);
		total += n;
	}
	assert_pat(&b, 0, total);
	tcpchat__buf_free(&b);
}
END_TEST

START_TEST(test_nul_bytes)
{
	static const char data[] = { 'a', '\0', 'b', '\0', '\0', 'c', '\0' };
	struct tcpchat__buf b;

	tcpchat__buf_init(&b);
	ck_assert_int_eq(tcpchat__buf_append(&b, data, sizeof(data)), 0);
	ck_assert_uint_eq(b.len, sizeof(data));
	ck_assert_mem_eq(tcpchat__buf_data(&b), data, sizeof(data));
	tcpchat__buf_consume(&b, 1);
	ck_assert_mem_eq(tcpchat__buf_data(&b), data + 1, sizeof(data) - 1);
	ck_assert_int_eq(tcpchat__buf_append(&b, "\0\0", 2), 0);
	ck_assert_uint_eq(b.len, sizeof(data) + 1);
	ck_assert_mem_eq(tcpchat__buf_data(&b) + sizeof(data) - 1, "\0\0", 2);
	tcpchat__buf_free(&b);
}
END_TEST

START_TEST(test_free_then_reuse)
{
	struct tcpchat__buf b;
	char chunk[5000];

	tcpchat__buf_init(&b);
	fill_pat(chunk, 0, sizeof(chunk));
	ck_assert_int_eq(tcpchat__buf_append(&b, chunk, sizeof(chunk)), 0);
	tcpchat__buf_consume(&b, 17);
	tcpchat__buf_free(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.start, 0);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);

	ck_assert_int_eq(tcpchat__buf_append(&b, "again", 5), 0);
	ck_assert_uint_eq(b.len, 5);
	ck_assert_mem_eq(tcpchat__buf_data(&b), "again", 5);
	tcpchat__buf_free(&b);
	tcpchat__buf_free(&b);
}
END_TEST

/* Random appends, reservations and consumptions checked against a plain
 * model of the stream. */
START_TEST(test_random_against_model)
{
	struct tcpchat__buf b;
	char chunk[700];
	size_t in = 0, out = 0, n, i;
	unsigned seed = 12345;

	tcpchat__buf_init(&b);
	for (i = 0; i < 5000; i++) {
		seed = seed * 1103515245u + 12345u;
		n = (seed >> 8) % sizeof(chunk);
		switch ((seed >> 24) % 3) {
		case 0:
			fill_pat(chunk, in, n);
			ck_assert_int_eq(tcpchat__buf_append(&b, chunk, n), 0);
			in += n;
			break;
		case 1:
			ck_assert_int_eq(tcpchat__buf_reserve(&b, n), 0);
			ck_assert_uint_ge(b.cap - b.start - b.len, n);
			n /= 2;
			if (n == 0)
				break;
			fill_pat(tcpchat__buf_tail(&b), in, n);
			tcpchat__buf_commit(&b, n);
			in += n;
			break;
		default:
			n = n % (b.len + 1);
			tcpchat__buf_consume(&b, n);
			out += n;
			break;
		}
		assert_invariants(&b);
		ck_assert_uint_eq(b.len, in - out);
		if (b.len > 0) {
			ck_assert_int_eq(tcpchat__buf_data(&b)[0], pat(out));
			ck_assert_int_eq(tcpchat__buf_data(&b)[b.len - 1], pat(in - 1));
		}
	}
	assert_pat(&b, out, in - out);
	tcpchat__buf_free(&b);
}
END_TEST

static Suite *buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("buf");

	tcase_add_test(tc, test_init);
	tcase_add_test(tc, test_append_basic);
	tcase_add_test(tc, test_append_nothing_to_empty);
	tcase_add_test(tc, test_consume);
	tcase_add_test(tc, test_reserve_commit);
	tcase_add_test(tc, test_reserve_overflow);
	tcase_add_test(tc, test_growth_preserves_content);
	tcase_add_test(tc, test_compaction_reclaims_prefix);
	tcase_add_test(tc, test_reserve_after_partial_consume);
	tcase_add_test(tc, test_grow_with_consumed_prefix);
	tcase_add_test(tc, test_many_small_appends);
	tcase_add_test(tc, test_nul_bytes);
	tcase_add_test(tc, test_free_then_reuse);
	tcase_add_test(tc, test_random_against_model);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(buf_suite)
