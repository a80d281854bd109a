/* check_frame.c - line framing with a maximum length (lib/frame.c),
 * checked against the contract written in lib/frame.h. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

#include "testutil.h"

/* ------------------------------------------------------------------ */
/* A caller of the framer, as client.c is: it appends input             */
/* to its buffer, calls tcpchat__frame_next() until FRAME_NEED, copies    */
/* each line from *line and drops *consumed bytes from the front after   */
/* every call.  It records what it got and checks the contract each time. */
/* ------------------------------------------------------------------ */

#define MAX_EVENTS 256

struct event {
	enum tcpchat__frame_result type; /* FRAME_LINE or FRAME_TOOLONG */
	size_t len;
	char *line; /* FRAME_LINE: a copy of the line's bytes */
};

struct feeder {
	struct tcpchat__framer f;
	char *held;  /* the caller's input buffer */
	size_t hlen, hcap;
	size_t max_held; /* the most bytes held between two inputs */
	struct event ev[MAX_EVENTS];
	size_t nev;
};

static void feeder_init(struct feeder *fd, size_t max)
{
	memset(fd, 0, sizeof(*fd));
	tcpchat__framer_init(&fd->f, max);
}

static void feeder_free(struct feeder *fd)
{
	size_t i;

	for (i = 0; i < fd->nev; i++)
		free(fd->ev[i].line);
	free(fd->held);
	fd->held = NULL;
	fd->nev = 0;
}

static void record(struct feeder *fd, enum tcpchat__frame_result type,
                   const char *line, size_t len)
{
	struct event *e;

	ck_assert_uint_lt(fd->nev, MAX_EVENTS);
	e = &fd->ev[fd->nev++];
	e->type = type;
	e->len = len;
	e->line = NULL;
	if (type == TCPCHAT__FRAME_LINE) {
		e->line = malloc(len + 1);
		ck_assert_ptr_nonnull(e->line);
		memcpy(e->line, line, len);
		e->line[len] = '\0';
	}
}

/* Hand len more bytes to the framer, as a caller would. */
static void feed(struct feeder *fd, const char *data, size_t len)
{
	enum tcpchat__frame_result r;
	size_t consumed, linelen, max = fd->f.max;
	const char *line, *end;

	if (fd->hlen + len > fd->hcap || !fd->held) {
		fd->hcap = fd->hlen + len + 1;
		fd->held = realloc(fd->held, fd->hcap);
		ck_assert_ptr_nonnull(fd->held);
	}
	memcpy(fd->held + fd->hlen, data, len);
	fd->hlen += len;

	for (;;) {
		consumed = (size_t)-1;
		linelen = (size_t)-1;
		line = NULL;
		r = tcpchat__frame_next(&fd->f, fd->held, fd->hlen, &consumed, &line, &linelen);
		ck_assert_uint_le(consumed, fd->hlen);
		switch (r) {
		case TCPCHAT__FRAME_LINE:
			/* The line lies in what is consumed, and ends it with
			 * its "\n" or "\r\n". */
			ck_assert_uint_le(linelen, max);
			ck_assert_ptr_nonnull(line);
			ck_assert_msg(line >= fd->held && line + linelen < fd->held + consumed,
			              "line outside the consumed bytes");
			end = fd->held + consumed;
			ck_assert_msg(end == line + linelen + 1 || end == line + linelen + 2,
			              "LINE of %zu bytes not followed by its end of line",
			              linelen);
			ck_assert_int_eq(end[-1], '\n');
			if (end == line + linelen + 2)
				ck_assert_int_eq(line[linelen], '\r');
			ck_assert_msg(memchr(line, '\n', linelen) == NULL,
			              "a LINE holds a newline");
			record(fd, r, line, linelen);
			break;
		case TCPCHAT__FRAME_TOOLONG:
			record(fd, r, NULL, 0);
			break;
		case TCPCHAT__FRAME_NEED:
			break;
		default:
			ck_abort_msg("unknown frame result %d", (int)r);
		}
		memmove(fd->held, fd->held + consumed, fd->hlen - consumed);
		fd->hlen -= consumed;
		if (r == TCPCHAT__FRAME_NEED)
			break;
		/* A result that is not NEED makes progress. */
		ck_assert_uint_gt(consumed, 0);
	}
	/* What the caller keeps for later: never more than max + 2 bytes. */
	if (max <= SIZE_MAX - 2)
		ck_assert_msg(fd->hlen <= max + 2, "caller holds %zu bytes, max %zu",
		              fd->hlen, max);
	if (fd->hlen > fd->max_held)
		fd->max_held = fd->hlen;
}

static void feed_str(struct feeder *fd, const char *s)
{
	feed(fd, s, strlen(s));
}

/* Feed all of in[0, len) in pieces whose sizes cycle through sizes[]
 * (0 = all at once). */
static void feed_split(struct feeder *fd, const char *in, size_t len,
                       const size_t *sizes, size_t nsizes)
{
	size_t pos = 0, i = 0, n;

	while (pos < len) {
		n = nsizes ? sizes[i++ % nsizes] : len;
		if (n == 0 || n > len - pos)
			n = len - pos;
		feed(fd, in + pos, n);
		pos += n;
	}
}

/* The expected events for an input that ends with "\n", computed the
 * simple way: split at every "\n", drop one "\r" before it, too long if
 * over max. */
static void reference(struct feeder *ref, const char *in, size_t len, size_t max)
{
	size_t start = 0, i, n;

	feeder_init(ref, max);
	for (i = 0; i < len; i++) {
		if (in[i] != '\n')
			continue;
		n = i - start;
		if (n > 0 && in[i - 1] == '\r')
			n--;
		if (n > max)
			record(ref, TCPCHAT__FRAME_TOOLONG, NULL, 0);
		else
			record(ref, TCPCHAT__FRAME_LINE, in + start, n);
		start = i + 1;
	}
	ck_assert_uint_eq(start, len);
}

static const char *type_name(enum tcpchat__frame_result r)
{
	return r == TCPCHAT__FRAME_LINE ? "LINE" : r == TCPCHAT__FRAME_TOOLONG ? "TOOLONG" : "NEED";
}

static void assert_same_events(const struct feeder *got, const struct feeder *want,
                               const char *what)
{
	size_t i;

	for (i = 0; i < got->nev && i < want->nev; i++) {
		ck_assert_msg(got->ev[i].type == want->ev[i].type,
		              "%s: event %zu is %s, expected %s", what, i,
		              type_name(got->ev[i].type), type_name(want->ev[i].type));
		if (want->ev[i].type == TCPCHAT__FRAME_LINE) {
			ck_assert_msg(got->ev[i].len == want->ev[i].len &&
			              memcmp(got->ev[i].line, want->ev[i].line, want->ev[i].len) == 0,
			              "%s: line %zu is \"%s\" (%zu bytes), expected \"%s\" (%zu)",
			              what, i, got->ev[i].line, got->ev[i].len,
			              want->ev[i].line, want->ev[i].len);
		}
	}
	ck_assert_msg(got->nev == want->nev, "%s: %zu events, expected %zu", what,
	              got->nev, want->nev);
}

/* Expect exactly one LINE event with these bytes. */
static void assert_line(const struct feeder *fd, size_t i, const char *line, size_t len)
{
	ck_assert_uint_gt(fd->nev, i);
	ck_assert_msg(fd->ev[i].type == TCPCHAT__FRAME_LINE, "event %zu is %s", i,
	              type_name(fd->ev[i].type));
	ck_assert_uint_eq(fd->ev[i].len, len);
	ck_assert_mem_eq(fd->ev[i].line, line, len);
}

static void assert_toolong(const struct feeder *fd, size_t i)
{
	ck_assert_uint_gt(fd->nev, i);
	ck_assert_msg(fd->ev[i].type == TCPCHAT__FRAME_TOOLONG, "event %zu is %s", i,
	              type_name(fd->ev[i].type));
}

/* One direct call of the framer on a fresh framer. */
static enum tcpchat__frame_result once(size_t max, const char *data, size_t len,
                                       size_t *consumed, size_t *linelen)
{
	struct tcpchat__framer f;
	const char *line;
	enum tcpchat__frame_result r;

	tcpchat__framer_init(&f, max);
	r = tcpchat__frame_next(&f, data, len, consumed, &line, linelen);
	if (r == TCPCHAT__FRAME_LINE)
		ck_assert_ptr_eq(line, data); /* a fresh framer skips nothing */
	return r;
}

/* ------------------------------------------------------------------ */

START_TEST(test_init)
{
	struct tcpchat__framer f;

	memset(&f, 0xff, sizeof(f));
	tcpchat__framer_init(&f, 17);
	ck_assert_uint_eq(f.max, 17);
	ck_assert(!f.discarding);
}
END_TEST

START_TEST(test_lf_and_crlf)
{
	size_t consumed, len;

	ck_assert_int_eq(once(100, "abc\nrest", 8, &consumed, &len), TCPCHAT__FRAME_LINE);
	ck_assert_uint_eq(len, 3);
	ck_assert_uint_eq(consumed, 4);
	ck_assert_int_eq(once(100, "abc\r\nrest", 9, &consumed, &len), TCPCHAT__FRAME_LINE);
	ck_assert_uint_eq(len, 3);
	ck_assert_uint_eq(consumed, 5);
}
END_TEST

START_TEST(test_need_more)
{
	size_t consumed = 99, len = 99;

	ck_assert_int_eq(once(100, "", 0, &consumed, &len), TCPCHAT__FRAME_NEED);
	ck_assert_uint_eq(consumed, 0);
	consumed = 99;
	ck_assert_int_eq(once(100, "abc", 3, &consumed, &len), TCPCHAT__FRAME_NEED);
	ck_assert_uint_eq(consumed, 0);
	/* A "\r" alone is not an end of line. */
	ck_assert_int_eq(once(100, "abc\r", 4, &consumed, &len), TCPCHAT__FRAME_NEED);
	ck_assert_uint_eq(consumed, 0);
}
END_TEST

START_TEST(test_one_cr_stripped)
{
	struct feeder fd;

	feeder_init(&fd, 100);
	feed_str(&fd, "a\r\r\n");
	feed_str(&fd, "\r\n");
	feed_str(&fd, "\r\r\n");
	feed_str(&fd, "b\r\r\r\n");
	ck_assert_uint_eq(fd.nev, 4);
	assert_line(&fd, 0, "a\r", 2);
	assert_line(&fd, 1, "", 0);
	assert_line(&fd, 2, "\r", 1);
	assert_line(&fd, 3, "b\r\r", 3);
	ck_assert_uint_eq(fd.hlen, 0);
	feeder_free(&fd);
}
END_TEST

START_TEST(test_cr_in_middle_kept)
{
	struct feeder fd;

	feeder_init(&fd, 100);
	feed_str(&fd, "a\rb\n\rlead\n");
	ck_assert_uint_eq(fd.nev, 2);
	assert_line(&fd, 0, "a\rb", 3);
	assert_line(&fd, 1, "\rlead", 5);
	feeder_free(&fd);
}
END_TEST

START_TEST(test_empty_lines)
{
	struct feeder fd;

	feeder_init(&fd, 100);
	feed_str(&fd, "\n\r\n\n");
	ck_assert_uint_eq(fd.nev, 3);
	assert_line(&fd, 0, "", 0);
	assert_line(&fd, 1, "", 0);
	assert_line(&fd, 2, "", 0);
	feeder_free(&fd);
}
END_TEST

START_TEST(test_nul_and_invalid_utf8)
{
	static const char in[] = "a\0b\xff\xfe\xc0\x80\xed\xa0\x80z\n\0\n";
	struct feeder fd;

	feeder_init(&fd, 100);
	feed(&fd, in, sizeof(in) - 1);
	ck_assert_uint_eq(fd.nev, 2);
	assert_line(&fd, 0, "a\0b\xff\xfe\xc0\x80\xed\xa0\x80z", 11);
	assert_line(&fd, 1, "\0", 1);
	feeder_free(&fd);
}
END_TEST

START_TEST(test_several_lines_one_buffer)
{
	static const char in[] = "one\ntwo\r\n\nfour\npartial";
	const char *p = in, *line;
	size_t left = sizeof(in) - 1, consumed, len;
	struct tcpchat__framer f;

	/* Direct calls on the rest of one buffer. */
	tcpchat__framer_init(&f, 10);
	ck_assert_int_eq(tcpchat__frame_next(&f, p, left, &consumed, &line, &len), TCPCHAT__FRAME_LINE);
	ck_assert_uint_eq(len, 3);
	ck_assert_uint_eq(consumed, 4);
	ck_assert_ptr_eq(line, p);
	ck_assert_mem_eq(line, "one", 3);
	p += consumed, left -= consumed;
	ck_assert_int_eq(tcpchat__frame_next(&f, p, left, &consumed, &line, &len), TCPCHAT__FRAME_LINE);
	ck_assert_uint_eq(len, 3);
	ck_assert_uint_eq(consumed, 5);
	ck_assert_mem_eq(line, "two", 3);
	p += consumed, left -= consumed;
	ck_assert_int_eq(tcpchat__frame_next(&f, p, left, &consumed, &line, &len), TCPCHAT__FRAME_LINE);
	ck_assert_uint_eq(len, 0);
	ck_assert_uint_eq(consumed, 1);
	p += consumed, left -= consumed;
	ck_assert_int_eq(tcpchat__frame_next(&f, p, left, &consumed, &line, &len), TCPCHAT__FRAME_LINE);
	ck_assert_uint_eq(len, 4);
	ck_assert_mem_eq(line, "four", 4);
	p += consumed, left -= consumed;
	ck_assert_int_eq(tcpchat__frame_next(&f, p, left, &consumed, &line, &len), TCPCHAT__FRAME_NEED);
	ck_assert_uint_eq(consumed, 0);
	ck_assert_uint_eq(left, 7);
}
END_TEST

START_TEST(test_byte_at_a_time)
{
	static const char in[] = "hello, world\r\nsecond\n";
	static const size_t one = 1;
	struct feeder a, b;

	feeder_init(&a, 64);
	feed_split(&a, in, sizeof(in) - 1, &one, 1);
	feeder_init(&b, 64);
	feed_split(&b, in, sizeof(in) - 1, NULL, 0);
	ck_assert_uint_eq(a.nev, 2);
	assert_line(&a, 0, "hello, world", 12);
	assert_line(&a, 1, "second", 6);
	assert_same_events(&a, &b, "byte at a time");
	feeder_free(&a);
	feeder_free(&b);
}
END_TEST

/* An input with every kind of line, for max = 8: short, exactly 8 (with
 * "\n" and "\r\n"), 9, far too long, lines of only "\r", NUL bytes, empty
 * lines, long lines followed at once by short ones. */
static const char mixed[] =
	"short\n"
	"12345678\n"
	"12345678\r\n"
	"123456789\n"
	"12345678\r\r\n"
	"\n"
	"\r\n"
	"this line is much too long for eight bytes\n"
	"ok\n"
	"1234567\r\r\n"
	"\r\r\r\r\r\r\r\r\r\r\r\r\n"
	"a\0b\xff\xfe\n"
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"
	"\n"
	"after\n"
	"123456789\r\n"
	"next\r\n"
	"mid\rdle\n"
	"yyyyyyyyyyy\nzz\n"
	"0123456789abcdef0123456789\n\n\n"
	"end\n";

static void check_all_segmentations(const char *in, size_t len, size_t max)
{
	static const size_t fixed[] = { 1, 2, 3, 7 };
	static const size_t mixed_sizes[] = { 1, 5, 2, 11, 3, 1, 1, 8 };
	struct feeder want, got;
	size_t sizes[64], i, k;
	char what[64];
	unsigned seed = 42 + (unsigned)max;

	reference(&want, in, len, max);

	/* All at once. */
	feeder_init(&got, max);
	feed_split(&got, in, len, NULL, 0);
	snprintf(what, sizeof(what), "max %zu, all at once", max);
	assert_same_events(&got, &want, what);
	ck_assert_uint_eq(got.hlen, 0);
	feeder_free(&got);

	/* Fixed sizes. */
	for (i = 0; i < TCPCHAT__ARRAY_SIZE(fixed); i++) {
		feeder_init(&got, max);
		feed_split(&got, in, len, &fixed[i], 1);
		snprintf(what, sizeof(what), "max %zu, pieces of %zu", max, fixed[i]);
		assert_same_events(&got, &want, what);
		ck_assert_uint_eq(got.hlen, 0);
		feeder_free(&got);
	}
	feeder_init(&got, max);
	feed_split(&got, in, len, mixed_sizes, TCPCHAT__ARRAY_SIZE(mixed_sizes));
	snprintf(what, sizeof(what), "max %zu, mixed pieces", max);
	assert_same_events(&got, &want, what);
	feeder_free(&got);

	/* Random sizes. */
	for (k = 0; k < 200; k++) {
		for (i = 0; i < TCPCHAT__ARRAY_SIZE(sizes); i++) {
			seed = seed * 1103515245u + 12345u;
			sizes[i] = 1 + (seed >> 16) % (k % 3 == 0 ? 4 : 30);
		}
		feeder_init(&got, max);
		feed_split(&got, in, len, sizes, TCPCHAT__ARRAY_SIZE(sizes));
		snprintf(what, sizeof(what), "max %zu, random split %zu", max, k);
		assert_same_events(&got, &want, what);
		ck_assert_uint_eq(got.hlen, 0);
		feeder_free(&got);
	}
	feeder_free(&want);
}

START_TEST(test_every_segmentation_same)
{
	static const size_t maxes[] = { 8, 0, 1, 2, 5, 12, 30, 1000 };

	check_all_segmentations(mixed, sizeof(mixed) - 1, maxes[_i]);
}
END_TEST

START_TEST(test_exactly_max)
{
	struct feeder fd;
	static const size_t one = 1;

	feeder_init(&fd, 5);
	feed_str(&fd, "abcde\n");
	feed_str(&fd, "fghij\r\n");
	ck_assert_uint_eq(fd.nev, 2);
	assert_line(&fd, 0, "abcde", 5);
	assert_line(&fd, 1, "fghij", 5);
	feeder_free(&fd);

	/* The same, a byte at a time: holding "fghij\r" (max + 1) must not
	 * be taken for a too-long line. */
	feeder_init(&fd, 5);
	feed_split(&fd, "abcde\nfghij\r\n", 13, &one, 1);
	ck_assert_uint_eq(fd.nev, 2);
	assert_line(&fd, 0, "abcde", 5);
	assert_line(&fd, 1, "fghij", 5);
	feeder_free(&fd);
}
END_TEST

START_TEST(test_max_plus_one_then_next)
{
	struct feeder fd;
	size_t consumed, len;

	/* Direct: the too-long line and its "\n" are consumed. */
	ck_assert_int_eq(once(5, "abcdef\nnext\n", 12, &consumed, &len), TCPCHAT__FRAME_TOOLONG);
	ck_assert_uint_eq(consumed, 7);

	feeder_init(&fd, 5);
	feed_str(&fd, "abcdef\nnext\n");
	ck_assert_uint_eq(fd.nev, 2);
	assert_toolong(&fd, 0);
	assert_line(&fd, 1, "next", 4);
	feeder_free(&fd);

	/* With "\r\n", in one buffer: the "\n" lies just past the max + 2
	 * bytes that decide, and the next line must survive. */
	feeder_init(&fd, 5);
	feed_str(&fd, "abcdef\r\nnext\r\n");
	ck_assert_uint_eq(fd.nev, 2);
	assert_toolong(&fd, 0);
	assert_line(&fd, 1, "next", 4);
	feeder_free(&fd);

	/* The same in two pieces. */
	feeder_init(&fd, 5);
	feed_str(&fd, "abcdef\r");
	ck_assert_uint_eq(fd.nev, 1);
	assert_toolong(&fd, 0);
	feed_str(&fd, "\nnext\n");
	ck_assert_uint_eq(fd.nev, 2);
	assert_line(&fd, 1, "next", 4);
	feeder_free(&fd);
}
END_TEST

/* A long line followed at once by more lines, all in one buffer. */
START_TEST(test_long_line_then_lines_in_one_buffer)
{
	struct feeder fd;

	feeder_init(&fd, 4);
	feed_str(&fd, "0123456789\nab\ncd\n");
	ck_assert_uint_eq(fd.nev, 3);
	assert_toolong(&fd, 0);
	assert_line(&fd, 1, "ab", 2);
	assert_line(&fd, 2, "cd", 2);
	feeder_free(&fd);
}
END_TEST

START_TEST(test_toolong_reported_once_in_chunks)
{
	struct feeder fd;
	char chunk[7];
	size_t i, max = 8;

	memset(chunk, 'x', sizeof(chunk));
	feeder_init(&fd, max);
	for (i = 0; i < 200; i++)
		feed(&fd, chunk, i % 2 ? 3 : sizeof(chunk));
	ck_assert_uint_eq(fd.nev, 1);
	assert_toolong(&fd, 0);
	ck_assert_uint_le(fd.max_held, max + 2);
	/* The end of the long line, then the next line, in one piece. */
	feed_str(&fd, "xx\nok\n");
	ck_assert_uint_eq(fd.nev, 2);
	assert_line(&fd, 1, "ok", 2);
	feed_str(&fd, "more\n");
	ck_assert_uint_eq(fd.nev, 3);
	assert_line(&fd, 2, "more", 4);
	feeder_free(&fd);
}
END_TEST

START_TEST(test_discarding_across_chunks)
{
	struct feeder fd;

	feeder_init(&fd, 4);
	feed_str(&fd, "abcdefgh");
	ck_assert_uint_eq(fd.nev, 1);
	assert_toolong(&fd, 0);
	ck_assert(fd.f.discarding);
	feed_str(&fd, "ijkl");
	feed_str(&fd, "mn\r");
	feed_str(&fd, "");
	feed_str(&fd, "op");
	ck_assert_uint_eq(fd.nev, 1);
	ck_assert_uint_le(fd.max_held, 6);
	/* The "\n" that ends it, alone. */
	feed_str(&fd, "\n");
	ck_assert_uint_eq(fd.nev, 1);
	ck_assert(!fd.f.discarding);
	feed_str(&fd, "line\n");
	ck_assert_uint_eq(fd.nev, 2);
	assert_line(&fd, 1, "line", 4);

	/* Again, the "\n" arriving with the start of the next line. */
	feed_str(&fd, "0123456789");
	feed_str(&fd, "0123456789");
	ck_assert_uint_eq(fd.nev, 3);
	assert_toolong(&fd, 2);
	feed_str(&fd, "\nne");
	ck_assert_uint_eq(fd.nev, 3);
	feed_str(&fd, "xt\n");
	ck_assert_uint_eq(fd.nev, 4);
	assert_line(&fd, 3, "next", 4);
	feeder_free(&fd);
}
END_TEST

START_TEST(test_max_zero)
{
	struct feeder fd;
	size_t consumed, len;

	feeder_init(&fd, 0);
	feed_str(&fd, "\n\r\n");
	ck_assert_uint_eq(fd.nev, 2);
	assert_line(&fd, 0, "", 0);
	assert_line(&fd, 1, "", 0);
	feed_str(&fd, "a\n");
	ck_assert_uint_eq(fd.nev, 3);
	assert_toolong(&fd, 2);
	feed_str(&fd, "\r\r\n");
	ck_assert_uint_eq(fd.nev, 4);
	assert_toolong(&fd, 3);
	feed_str(&fd, "\n");
	ck_assert_uint_eq(fd.nev, 5);
	assert_line(&fd, 4, "", 0);
	/* A long line a byte at a time: one report, at most 2 bytes held. */
	feed_str(&fd, "a");
	feed_str(&fd, "b");
	feed_str(&fd, "c");
	feed_str(&fd, "d");
	ck_assert_uint_eq(fd.nev, 6);
	assert_toolong(&fd, 5);
	ck_assert_uint_le(fd.max_held, 2);
	feed_str(&fd, "\n\n");
	ck_assert_uint_eq(fd.nev, 7);
	assert_line(&fd, 6, "", 0);
	feeder_free(&fd);

	/* "\r" alone may still become an empty "\r\n" line. */
	ck_assert_int_eq(once(0, "\r", 1, &consumed, &len), TCPCHAT__FRAME_NEED);
	ck_assert_int_eq(once(0, "\r\n", 2, &consumed, &len), TCPCHAT__FRAME_LINE);
	ck_assert_uint_eq(len, 0);
	ck_assert_uint_eq(consumed, 2);
}
END_TEST

START_TEST(test_unbounded_max)
{
	struct feeder fd;
	char *big = malloc(100001);
	size_t consumed, len;

	ck_assert_ptr_nonnull(big);
	memset(big, 'q', 100000);
	big[100000] = '\n';
	feeder_init(&fd, SIZE_MAX);
	feed(&fd, big, 50000);
	ck_assert_uint_eq(fd.nev, 0);
	feed(&fd, big + 50000, 50001);
	ck_assert_uint_eq(fd.nev, 1);
	assert_line(&fd, 0, big, 100000);
	feeder_free(&fd);
	ck_assert_int_eq(once(SIZE_MAX, big, 100000, &consumed, &len), TCPCHAT__FRAME_NEED);
	ck_assert_uint_eq(consumed, 0);
	free(big);
}
END_TEST

static Suite *frame_suite(void)
{
	Suite *s = suite_create("frame");
	TCase *tc = tcase_create("lines");

	tcase_add_test(tc, test_init);
	tcase_add_test(tc, test_lf_and_crlf);
	tcase_add_test(tc, test_need_more);
	tcase_add_test(tc, test_one_cr_stripped);
	tcase_add_test(tc, test_cr_in_middle_kept);
	tcase_add_test(tc, test_empty_lines);
	tcase_add_test(tc, test_nul_and_invalid_utf8);
	tcase_add_test(tc, test_several_lines_one_buffer);
	tcase_add_test(tc, test_byte_at_a_time);
	suite_add_tcase(s, tc);

	tc = tcase_create("segmentation");
	tcase_add_loop_test(tc, test_every_segmentation_same, 0, 8);
	suite_add_tcase(s, tc);

	tc = tcase_create("max");
	tcase_add_test(tc, test_exactly_max);
	tcase_add_test(tc, test_max_plus_one_then_next);
	tcase_add_test(tc, test_long_line_then_lines_in_one_buffer);
	tcase_add_test(tc, test_toolong_reported_once_in_chunks);
	tcase_add_test(tc, test_discarding_across_chunks);
	tcase_add_test(tc, test_max_zero);
	tcase_add_test(tc, test_unbounded_max);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(frame_suite)
