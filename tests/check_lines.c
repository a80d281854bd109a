/* check_lines.c - the line callback of an event-driven server: framing on
 * "\n" and "\r\n", bytes passed unchanged, lines split across any number of
 * reads, many lines in one read, the line limit (long_line once, skipped up
 * to its "\n", memory bounded), and callbacks that reply or close.
 *
 * Segmentation is exact: one end of a socketpair becomes a connection of a
 * started server (tcpchat__conn_open), each segment is written to the other
 * end and the connection's read handler is called once by hand, so each
 * segment is exactly one read. */
#include "internal.h"

#include <fcntl.h>
#include <signal.h>

#include "server.h"
#include "testutil.h"

/* ------------------------------------------------------------------ */
/* A transcript of what the callbacks saw: 'L' + 4-byte length + bytes  */
/* per line, 'T' per long line, so two runs compare with one memcmp.   */

struct rec {
	char *data;
	size_t len, cap;
};

static void rec_add(struct rec *r, const void *p, size_t n)
{
	if (r->len + n > r->cap) {
		while (r->len + n > r->cap)
			r->cap = r->cap ? r->cap * 2 : 1024;
		r->data = realloc(r->data, r->cap);
		ck_assert_ptr_nonnull(r->data);
	}
	if (n)
		memcpy(r->data + r->len, p, n);
	r->len += n;
}

static void rec_line(struct rec *r, const char *line, size_t len)
{
	uint32_t l = (uint32_t)len;

	rec_add(r, "L", 1);
	rec_add(r, &l, sizeof(l));
	rec_add(r, line, len);
}

static void rec_long(struct rec *r)
{
	rec_add(r, "T", 1);
}

static void rec_free(struct rec *r)
{
	free(r->data);
	memset(r, 0, sizeof(*r));
}

/* The obvious model of the framing, for input that ends with "\n": split
 * at "\n", drop one "\r" before it, a line over max is one 'T'. */
static void model(struct rec *r, const char *in, size_t len, size_t max)
{
	const char *nl;
	size_t n;

	r->len = 0;
	while (len > 0) {
		nl = memchr(in, '\n', len);
		ck_assert_ptr_nonnull(nl);
		n = (size_t)(nl - in);
		len -= n + 1;
		if (n > 0 && in[n - 1] == '\r')
			n--;
		if (n > max)
			rec_long(r);
		else
			rec_line(r, in, n);
		in = nl + 1;
	}
}

/* ------------------------------------------------------------------ */
/* The fixture: a started server and one connection on a socketpair.   */

static struct {
	struct tcpchat_loop *loop;
	struct tcpchat_server *srv;
	struct tcpchat_conn *conn;
	int sv[2];
	uint64_t max;           /* the line limit in force */
	struct rec got;
	int connects, lines, long_lines, data_calls, closes, close_reason;
	int lines_in_readbuf;   /* lines delivered straight from the read buffer */
	size_t max_line_len;    /* conn->line.len seen in long_line (bounded) */
	size_t max_line_cap;
	int close_on_line;      /* tcpchat_conn_close at this line (1-based) */
	bool echo;              /* reply each line back with "\n" */
	bool stop_on_close;
} lt;

static void lt_connect(struct tcpchat_conn *conn)
{
	lt.connects++;
	lt.conn = conn;
}

static void lt_data(struct tcpchat_conn *conn, const char *data, size_t len)
{
	lt.data_calls++;
}

static void lt_line(struct tcpchat_conn *conn, const char *line, size_t len)
{
	const char *rb = lt.loop->readbuf;

	ck_assert_ptr_eq(conn, lt.conn);
	/* Nothing is delivered once the connection is closing. */
	ck_assert_int_eq(conn->state, TCPCHAT__OPEN);
	ck_assert_uint_le(len, lt.max);
	ck_assert(len == 0 || line != NULL);
	lt.lines++;
	if (len > 0 && line >= rb && line + len <= rb + TCPCHAT__READ_SIZE)
		lt.lines_in_readbuf++;
	rec_line(&lt.got, line, len);
	if (lt.echo) {
		ck_assert_int_eq(tcpchat_conn_send(conn, line, len), 0);
		ck_assert_int_eq(tcpchat_conn_send(conn, "\n", 1), 0);
	}
	if (lt.close_on_line == lt.lines) {
		tcpchat_conn_close(conn);
		ck_assert_int_ne(conn->state, TCPCHAT__OPEN);
		/* The line must stay readable for the rest of the call (ASan
		 * reports it if closing freed it). */
		ck_assert_int_eq(memcmp(line, lt.got.data + lt.got.len - len, len), 0);
		ck_assert_int_eq(tcpchat_conn_send(conn, "late\n", 5), -EPIPE);
	}
}

static void lt_long_line(struct tcpchat_conn *conn)
{
	ck_assert_ptr_eq(conn, lt.conn);
	ck_assert_int_eq(conn->state, TCPCHAT__OPEN);
	lt.long_lines++;
	rec_long(&lt.got);
	/* Whatever the connection holds of the line is bounded right now. */
	if (conn->line.len > lt.max_line_len)
		lt.max_line_len = conn->line.len;
	if (conn->line.cap > lt.max_line_cap)
		lt.max_line_cap = conn->line.cap;
}

static void lt_close(struct tcpchat_conn *conn, int reason)
{
	ck_assert_ptr_eq(conn, lt.conn);
	lt.closes++;
	lt.close_reason = reason;
	lt.conn = NULL;
	if (lt.stop_on_close)
		tcpchat_loop_stop(lt.loop);
}

/* A started server with one connection on a socketpair; line limit max
 * (0 keeps the default). */
static void lt_setup(uint64_t max)
{
	/* tcpchat__conn_open copies a whole address buffer. */
	char peer[TCPCHAT__ADDRSTRLEN] = "peer";
	int fl;

	memset(&lt, 0, sizeof(lt));
	ck_assert_int_eq(tcpchat_loop_create(&lt.loop), 0);
	ck_assert_int_eq(tcpchat_server_create(&lt.srv), 0);
	ck_assert_int_eq(tcpchat_server_bind(lt.srv, "127.0.0.1", 0), 0);
	ck_assert_int_eq(tcpchat_server_listen(lt.srv, 4), 0);
	if (max)
		ck_assert_int_eq(tcpchat_server_set_limit(lt.srv, TCPCHAT_LIMIT_LINE, max), 0);
	lt.max = max ? max : 4096;
	tcpchat_server_on_connect(lt.srv, lt_connect);
	tcpchat_server_on_data(lt.srv, lt_data); /* must never be called */
	tcpchat_server_on_line(lt.srv, lt_line);
	tcpchat_server_on_long_line(lt.srv, lt_long_line);
	tcpchat_server_on_close(lt.srv, lt_close);
	ck_assert_int_eq(tcpchat_server_start(lt.srv, lt.loop), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, lt.sv), 0);
	fl = fcntl(lt.sv[0], F_GETFL);
	ck_assert_int_eq(fcntl(lt.sv[0], F_SETFL, fl | O_NONBLOCK), 0);
	ck_assert_int_eq(tcpchat__conn_open(lt.srv, lt.sv[0], peer), 0);
	ck_assert_int_eq(lt.connects, 1);
	ck_assert_ptr_nonnull(lt.conn);
}

static void lt_teardown(void)
{
	ck_assert_int_eq(lt.data_calls, 0);
	tcpchat_server_free(lt.srv); /* closes sv[0] */
	ck_assert_ptr_null(lt.conn);
	ck_assert_int_eq(lt.closes, 1);
	if (lt.sv[1] >= 0)
		close(lt.sv[1]);
	ck_assert_int_eq(tcpchat_loop_free(lt.loop), 0);
	rec_free(&lt.got);
}

/* Make len bytes exactly one read of the connection. */
static void feed(const void *data, size_t len)
{
	size_t off = 0;
	ssize_t n;
	char c;

	ck_assert_uint_lt(len, TCPCHAT__READ_SIZE);
	if (len == 0)
		return;
	while (off < len) {
		n = write(lt.sv[1], (const char *)data + off, len - off);
		ck_assert_int_gt(n, 0);
		off += (size_t)n;
	}
	ck_assert_ptr_nonnull(lt.conn);
	lt.conn->io.cb(lt.loop, &lt.conn->io, TCPCHAT__READ);
	/* The segment was consumed by that one read. */
	if (lt.conn && lt.conn->state != TCPCHAT__DEAD) {
		ck_assert_int_eq(recv(lt.sv[0], &c, 1, MSG_PEEK | MSG_DONTWAIT), -1);
		ck_assert_int_eq(errno, EAGAIN);
	}
}

static void feed_str(const char *s)
{
	feed(s, strlen(s));
}

/* Compare what was recorded with the model of in, then forget it. */
static void expect_model(const char *in, size_t len, size_t cut1, size_t cut2)
{
	struct rec want = { 0 };

	model(&want, in, len, lt.max);
	if (lt.got.len != want.len || memcmp(lt.got.data, want.data, want.len) != 0)
		ck_abort_msg("transcript differs for cuts %zu, %zu (%zu vs %zu bytes)",
		             cut1, cut2, lt.got.len, want.len);
	rec_free(&want);
	ck_assert_uint_eq(lt.conn->line.len, 0);
	lt.got.len = 0;
}

/* Check the recorded lines against a list (NULL entry: a long line). */
static void expect_lines(const char *const *want, const size_t *lens, size_t n)
{
	struct rec r = { 0 };
	size_t i;

	for (i = 0; i < n; i++) {
		if (want[i])
			rec_line(&r, want[i], lens ? lens[i] : strlen(want[i]));
		else
			rec_long(&r);
	}
	ck_assert_uint_eq(lt.got.len, r.len);
	ck_assert_int_eq(memcmp(lt.got.data, r.data, r.len), 0);
	rec_free(&r);
	lt.got.len = 0;
}

/* ------------------------------------------------------------------ */

START_TEST(lf_and_crlf)
{
	static const char *const want[] = {
		"a", "b", "c\r", "", "", " x ", "\rd", "e\rf", "g", "h", "i\r",
	};

	lt_setup(0);
	feed_str("a\nb\r\nc\r\r\n\r\n\n x \r\n\rd\ne\rf\r\n");
	ck_assert_int_eq(lt.lines, 8);
	/* "\r" and "\n" in different reads. */
	feed_str("g\r");
	ck_assert_int_eq(lt.lines, 8);
	feed_str("\nh");
	ck_assert_int_eq(lt.lines, 9);
	feed_str("\r");
	feed_str("\n");
	feed_str("i\r\r");
	feed_str("\n");
	expect_lines(want, NULL, TCPCHAT__ARRAY_SIZE(want));
	ck_assert_int_eq(lt.long_lines, 0);
	ck_assert_uint_eq(tcpchat_server_stat(lt.srv, TCPCHAT_STAT_LONG_LINES), 0);
	lt_teardown();
}
END_TEST

START_TEST(binary_bytes_pass_unchanged)
{
	/* NUL, invalid UTF-8, GBK ("ni hao"), Latin-1, DEL, a control byte. */
	static const char in[] = "nul\0in\0middle\n"
	                         "\0\n"
	                         "\xff\xfe\xc3\x28\xed\xa0\x80\n"
	                         "\xc4\xe3\xba\xc3\r\n"
	                         "caf\xe9\x80\x7f\x01\r\n";
	static const char *const want[] = {
		"nul\0in\0middle", "\0", "\xff\xfe\xc3\x28\xed\xa0\x80",
		"\xc4\xe3\xba\xc3", "caf\xe9\x80\x7f\x01",
	};
	static const size_t lens[] = { 13, 1, 7, 4, 7 };

	lt_setup(0);
	feed(in, sizeof(in) - 1);
	expect_lines(want, lens, 5);
	/* The same bytes one at a time. */
	for (size_t i = 0; i < sizeof(in) - 1; i++)
		feed(in + i, 1);
	expect_lines(want, lens, 5);
	lt_teardown();
}
END_TEST

START_TEST(empty_lines)
{
	static const char *const want[] = { "", "", "", "x", "", "" };

	lt_setup(0);
	feed_str("\n\r\n\n");
	ck_assert_int_eq(lt.lines, 3);
	feed_str("x\n\n\r");
	feed_str("\n");
	expect_lines(want, NULL, 6);
	lt_teardown();
}
END_TEST

/* Two fixed inputs: ordinary lines (default limit), and lines around a
 * limit of 8 with "\r" in every awkward place. */
static const char split_a[] =
	"hello\r\n\nworld\n\r\n\0nul\0\n\xff\xfe\xc4\xe3\r\r\nx\ry\n\r\r\ntail \n";
static const char split_b[] =
	"12345678\n12345678\r\n123456789\n1234567\r\r\n12345678\r\r\n"
	"abcdefghijklmnopqrstuvwxyz\nok\nabcdefghij\r\n\n"
	"0123456789012345678901234567890123456789\r\nend\n";

static void split_every_way(const char *in, size_t len, uint64_t max)
{
	size_t i, j;

	lt_setup(max);
	feed(in, len);
	expect_model(in, len, 0, len);
	for (i = 1; i < len; i++) {
		feed(in, i);
		feed(in + i, len - i);
		expect_model(in, len, i, len);
	}
	for (i = 1; i < len; i++)
		for (j = i + 1; j < len; j++) {
			feed(in, i);
			feed(in + i, j - i);
			feed(in + j, len - j);
			expect_model(in, len, i, j);
		}
	for (i = 0; i < len; i++)
		feed(in + i, 1);
	expect_model(in, len, 1, 1);
	lt_teardown();
}

START_TEST(split_plain_lines_every_way)
{
	split_every_way(split_a, sizeof(split_a) - 1, 0);
}
END_TEST

START_TEST(split_lines_around_limit_every_way)
{
	struct rec r = { 0 };
	size_t i = 0, longs = 0;
	uint32_t n;

	/* The model sees the long lines the input is meant to have. */
	model(&r, split_b, sizeof(split_b) - 1, 8);
	while (i < r.len) {
		if (r.data[i] == 'T') {
			longs++;
			i++;
			continue;
		}
		memcpy(&n, r.data + i + 1, sizeof(n));
		i += 5 + n;
	}
	ck_assert_uint_eq(longs, 5);
	rec_free(&r);
	split_every_way(split_b, sizeof(split_b) - 1, 8);
}
END_TEST

START_TEST(ten_thousand_lines_in_one_read)
{
	char *in = malloc(65536), num[16];
	size_t len = 0, off = 0;
	uint32_t len32;
	int i, n;

	lt_setup(0);
	for (i = 0; i < 10000; i++)
		len += (size_t)sprintf(in + len, "%d\n", i);
	ck_assert_uint_lt(len, TCPCHAT__READ_SIZE);
	feed(in, len);
	ck_assert_int_eq(lt.lines, 10000);
	/* Wholly inside one read: delivered from the read buffer, no copy. */
	ck_assert_int_eq(lt.lines_in_readbuf, 10000);
	ck_assert_ptr_null(lt.conn->line.data);
	for (i = 0; i < 10000; i++) {
		n = sprintf(num, "%d", i);
		ck_assert_uint_eq(lt.got.data[off], 'L');
		memcpy(&len32, lt.got.data + off + 1, sizeof(len32));
		ck_assert_uint_eq(len32, (uint32_t)n);
		ck_assert_int_eq(memcmp(lt.got.data + off + 5, num, (size_t)n), 0);
		off += 5 + (size_t)n;
	}
	ck_assert_uint_eq(off, lt.got.len);
	free(in);
	lt_teardown();
}
END_TEST

START_TEST(ten_thousand_longer_lines_in_chunks)
{
	enum { N = 10000, CHUNK = 60000 };
	size_t cap = (size_t)N * 64, len = 0, off;
	char *in = malloc(cap);
	struct rec want = { 0 };

	lt_setup(0);
	for (int i = 0; i < N; i++)
		len += (size_t)sprintf(in + len, "line %d %.*s%s\n", i, i % 37,
		                       "0123456789abcdefghijklmnopqrstuvwxyz!", i % 3 ? "" : "\r");
	ck_assert_uint_gt(len, 4 * CHUNK);
	for (off = 0; off < len; off += CHUNK)
		feed(in + off, len - off < CHUNK ? len - off : CHUNK);
	ck_assert_int_eq(lt.lines, N);
	model(&want, in, len, 4096);
	ck_assert_uint_eq(lt.got.len, want.len);
	ck_assert_int_eq(memcmp(lt.got.data, want.data, want.len), 0);
	rec_free(&want);
	free(in);
	lt_teardown();
}
END_TEST

START_TEST(line_at_limit_and_over)
{
	enum { L = 4096 };
	char *buf = malloc(3 * L);
	struct rec r = { 0 };
	const char *want[3];

	lt_setup(0);
	ck_assert_uint_eq(lt.srv->limit[TCPCHAT_LIMIT_LINE], L); /* the default */

	/* Exactly the limit, with "\n" and with "\r\n": accepted. */
	memset(buf, 'a', L);
	buf[L] = '\n';
	feed(buf, L + 1);
	memcpy(buf + L, "\r\n", 2);
	feed(buf, L + 2);
	rec_line(&r, buf, L);
	rec_line(&r, buf, L);
	ck_assert_uint_eq(lt.got.len, r.len);
	ck_assert_int_eq(memcmp(lt.got.data, r.data, r.len), 0);
	rec_free(&r);
	lt.got.len = 0;
	ck_assert_int_eq(lt.long_lines, 0);

	/* One over, the next line in the same read. */
	memset(buf, 'c', L + 1);
	memcpy(buf + L + 1, "\nnext\n", 6);
	feed(buf, L + 7);
	ck_assert_int_eq(lt.long_lines, 1);
	want[0] = NULL;
	want[1] = "next";
	expect_lines(want, NULL, 2);

	/* One over, the next line in a later read. */
	memset(buf, 'd', L + 1);
	buf[L + 1] = '\n';
	feed(buf, L + 2);
	ck_assert_int_eq(lt.long_lines, 2);
	feed_str("next2\n");
	want[1] = "next2";
	expect_lines(want, NULL, 2);

	/* One over without its "\n" (short of max + 2: kept as a partial
	 * line), the "\n" and the next line in a later read. */
	memset(buf, 'e', L + 1);
	feed(buf, L + 1);
	ck_assert_int_eq(lt.long_lines, 2);
	ck_assert_uint_eq(lt.conn->line.len, L + 1);
	feed_str("\nnext3\n");
	ck_assert_int_eq(lt.long_lines, 3);
	want[1] = "next3";
	expect_lines(want, NULL, 2);

	/* Over by a lot; the rest of it, its "\n" and the next lines come in
	 * later reads. */
	memset(buf, 'f', 2 * L);
	feed(buf, 2 * L);
	ck_assert_int_eq(lt.long_lines, 4);
	feed(buf, 100);
	feed_str("fff\nnext4\npart");
	ck_assert_int_eq(lt.long_lines, 4);
	feed_str("ial\n");
	want[1] = "next4";
	want[2] = "partial";
	expect_lines(want, NULL, 3);
	ck_assert_int_eq(lt.lines, 7);
	ck_assert_int_eq(lt.long_lines, 4);
	ck_assert_uint_eq(tcpchat_server_stat(lt.srv, TCPCHAT_STAT_LONG_LINES), 4);
	ck_assert_uint_le(lt.max_line_len, L + 2);
	free(buf);
	lt_teardown();
}
END_TEST

START_TEST(long_line_then_lines_same_read)
{
	enum { L = 4096 };
	char *buf = malloc(3 * L);
	size_t n;
	static const char *const want[] = { "x", NULL, "y", "", NULL, "z" };

	lt_setup(0);
	n = (size_t)sprintf(buf, "x\n");
	memset(buf + n, 'q', L + 5);
	n += L + 5;
	memcpy(buf + n, "\r\ny\n\n", 5);
	n += 5;
	memset(buf + n, 'r', L + 1);
	n += L + 1;
	memcpy(buf + n, "\r\r\nz\n", 5);
	n += 5;
	feed(buf, n);
	expect_lines(want, NULL, 6);
	ck_assert_int_eq(lt.long_lines, 2);
	free(buf);
	lt_teardown();
}
END_TEST

/* A line far over the limit, fed in segments: reported once, and the
 * connection never holds more than the limit + 2 bytes of it. */
static void megabyte_line(uint64_t max, size_t first, size_t seg)
{
	enum { TOTAL = 1 << 20 };
	char *buf = malloc(seg > first ? seg : first);
	size_t sent = 0, n, bound_cap;
	static const char *const want[] = { NULL, "after" };

	lt_setup(max);
	bound_cap = 2 * (lt.max + 2) + 256;
	memset(buf, 'm', seg > first ? seg : first);
	while (sent < TOTAL) {
		n = sent == 0 ? first : seg;
		if (n > TOTAL - sent)
			n = TOTAL - sent;
		feed(buf, n);
		sent += n;
		ck_assert_uint_le(lt.conn->line.len, lt.max + 2);
		ck_assert_uint_le(lt.conn->line.cap, bound_cap);
		if (sent > lt.max + 2)
			ck_assert_int_eq(lt.long_lines, 1);
	}
	feed_str("\nafter\n");
	ck_assert_int_eq(lt.long_lines, 1);
	ck_assert_int_eq(lt.lines, 1);
	expect_lines(want, NULL, 2);
	ck_assert_uint_le(lt.max_line_len, lt.max + 2);
	ck_assert_uint_le(lt.max_line_cap, bound_cap);
	ck_assert_uint_eq(tcpchat_server_stat(lt.srv, TCPCHAT_STAT_LONG_LINES), 1);
	ck_assert_uint_eq(tcpchat_server_stat(lt.srv, TCPCHAT_STAT_BYTES_IN), TOTAL + 7);
	free(buf);
	lt_teardown();
}

START_TEST(megabyte_line_default_limit)
{
	megabyte_line(0, 16384, 16384);
}
END_TEST

START_TEST(megabyte_line_partial_first)
{
	megabyte_line(0, 1000, 16384);
}
END_TEST

START_TEST(megabyte_line_big_limit)
{
	/* The partial line really grows in conn->line up to the limit. */
	megabyte_line(100000, 16384, 16384);
}
END_TEST

START_TEST(megabyte_line_odd_segments)
{
	megabyte_line(5000, 4999, 4097);
}
END_TEST

START_TEST(data_callback_not_called_with_line_callback)
{
	static const char *const want[] = { "one", "two" };

	lt_setup(0);
	feed_str("one\ntw");
	feed_str("o\nthr");
	ck_assert_int_eq(lt.data_calls, 0);
	expect_lines(want, NULL, 2);
	/* Without the line callback, data is delivered again as data. */
	tcpchat_server_on_line(lt.srv, NULL);
	feed_str("raw\n");
	ck_assert_int_eq(lt.data_calls, 1);
	lt.data_calls = 0;
	lt_teardown();
}
END_TEST

/* Read from fd until EOF (or nothing for 5 s); returns the bytes. */
static size_t read_to_eof(int fd, char *buf, size_t size)
{
	size_t got = 0;
	struct pollfd pfd = { fd, POLLIN, 0 };
	ssize_t n;

	for (;;) {
		ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
		n = read(fd, buf + got, size - got);
		ck_assert_int_ge(n, 0);
		if (n == 0)
			return got;
		got += (size_t)n;
		ck_assert_uint_lt(got, size);
	}
}

static void finish_by_peer_close(void)
{
	/* The connection lingers for our FIN; closing lets it go with 0. */
	close(lt.sv[1]);
	lt.sv[1] = -1;
	lt.stop_on_close = true;
	ck_assert_int_eq(tcpchat_loop_run(lt.loop), 0);
	ck_assert_int_eq(lt.closes, 1);
	ck_assert_int_eq(lt.close_reason, 0);
	ck_assert_ptr_null(lt.conn);
}

START_TEST(callback_replies)
{
	char buf[256];
	size_t n;

	lt_setup(0);
	lt.echo = true;
	feed_str("ping\r\n\npar");
	feed_str("tial\r");
	feed_str("\nlast\n");
	tcpchat_conn_close(lt.conn);
	n = read_to_eof(lt.sv[1], buf, sizeof(buf));
	ck_assert_uint_eq(n, 19);
	ck_assert_int_eq(memcmp(buf, "ping\n\npartial\nlast\n", 19), 0);
	finish_by_peer_close();
	lt_teardown();
}
END_TEST

START_TEST(callback_closes_from_read_buffer)
{
	char buf[256];
	static const char *const want[] = { "one", "two" };

	lt_setup(0);
	lt.echo = true;
	lt.close_on_line = 2;
	feed_str("one\ntwo\nthree\nfour\n");
	expect_lines(want, NULL, 2);
	feed_str("five\n"); /* discarded: closing */
	ck_assert_int_eq(lt.lines, 2);
	ck_assert_uint_eq(read_to_eof(lt.sv[1], buf, sizeof(buf)), 8);
	ck_assert_int_eq(memcmp(buf, "one\ntwo\n", 8), 0);
	finish_by_peer_close();
	lt_teardown();
}
END_TEST

START_TEST(callback_closes_on_partial_line)
{
	char buf[256];
	static const char *const want[] = { "first", "second" };

	lt_setup(0);
	lt.echo = true;
	lt.close_on_line = 2;
	/* "second" is completed in conn->line: the callback closes while the
	 * line it reads lives in the connection's own buffer. */
	feed_str("first\nsec");
	ck_assert_uint_eq(lt.conn->line.len, 3);
	feed_str("ond\nthird\n");
	expect_lines(want, NULL, 2);
	feed_str("fourth\n");
	feed_str("fif");
	feed_str("th\n");
	ck_assert_int_eq(lt.lines, 2);
	ck_assert_uint_eq(read_to_eof(lt.sv[1], buf, sizeof(buf)), 13);
	ck_assert_int_eq(memcmp(buf, "first\nsecond\n", 13), 0);
	finish_by_peer_close();
	lt_teardown();
}
END_TEST

START_TEST(callback_closes_then_server_freed)
{
	lt_setup(0);
	lt.close_on_line = 1;
	feed_str("bye\nunseen");
	feed_str(" still\n");
	ck_assert_int_eq(lt.lines, 1);
	ck_assert_int_eq(lt.closes, 0);
	lt_teardown(); /* closed during the free */
	ck_assert_int_eq(lt.close_reason, -ECANCELED);
}
END_TEST

START_TEST(set_limit_contracts)
{
	struct tcpchat_server *srv;

	ck_assert_int_eq(tcpchat_server_create(&srv), 0);
	/* The defaults. */
	ck_assert_uint_eq(srv->limit[TCPCHAT_LIMIT_CLIENTS], 1024);
	ck_assert_uint_eq(srv->limit[TCPCHAT_LIMIT_QUEUE], 1u << 20);
	ck_assert_uint_eq(srv->limit[TCPCHAT_LIMIT_IDLE], 0);
	ck_assert_uint_eq(srv->limit[TCPCHAT_LIMIT_LINE], 4096);

	ck_assert_int_eq(tcpchat_server_set_limit(NULL, TCPCHAT_LIMIT_LINE, 10), -EINVAL);
	ck_assert_int_eq(tcpchat_server_set_limit(srv, (enum tcpchat_limit)(TCPCHAT_LIMIT_LINE_TIME + 1), 10), -EINVAL);
	ck_assert_int_eq(tcpchat_server_set_limit(srv, (enum tcpchat_limit)-1, 10), -EINVAL);
	ck_assert_int_eq(tcpchat_server_set_limit(srv, (enum tcpchat_limit)1000, 10), -EINVAL);
	ck_assert_int_eq(tcpchat_server_set_limit(srv, TCPCHAT_LIMIT_LINE, 0), -EINVAL);
	ck_assert_int_eq(tcpchat_server_set_limit(srv, TCPCHAT_LIMIT_LINE, (1u << 30) + 1), -EINVAL);
	ck_assert_int_eq(tcpchat_server_set_limit(srv, TCPCHAT_LIMIT_LINE, UINT64_MAX), -EINVAL);
	/* Failures change nothing. */
	ck_assert_uint_eq(srv->limit[TCPCHAT_LIMIT_LINE], 4096);

	ck_assert_int_eq(tcpchat_server_set_limit(srv, TCPCHAT_LIMIT_LINE, 1u << 30), 0);
	ck_assert_uint_eq(srv->limit[TCPCHAT_LIMIT_LINE], 1u << 30);
	ck_assert_int_eq(tcpchat_server_set_limit(srv, TCPCHAT_LIMIT_LINE, 1), 0);
	ck_assert_uint_eq(srv->limit[TCPCHAT_LIMIT_LINE], 1);
	/* 0 is "no limit" for the others. */
	ck_assert_int_eq(tcpchat_server_set_limit(srv, TCPCHAT_LIMIT_CLIENTS, 0), 0);
	ck_assert_int_eq(tcpchat_server_set_limit(srv, TCPCHAT_LIMIT_QUEUE, 0), 0);
	ck_assert_int_eq(tcpchat_server_set_limit(srv, TCPCHAT_LIMIT_IDLE, 0), 0);
	ck_assert_int_eq(tcpchat_server_set_limit(srv, TCPCHAT_LIMIT_IDLE, 250), 0);
	ck_assert_uint_eq(srv->limit[TCPCHAT_LIMIT_IDLE], 250);
	tcpchat_server_free(srv);
}
END_TEST

START_TEST(limit_of_one_byte)
{
	static const char *const want[] = { "a", "", NULL, "b", "\r", NULL, "c" };

	lt_setup(1);
	feed_str("a\r\n\nab\nb\n\r\r\n\r\r\r\nc\n");
	expect_lines(want, NULL, 7);
	lt_teardown();
}
END_TEST

static Suite *lines_suite(void)
{
	Suite *s = suite_create("lines");
	TCase *frame = tcase_create("framing"), *limit = tcase_create("limit"),
	      *cb = tcase_create("callbacks");

	signal(SIGPIPE, SIG_IGN);
	tcase_set_timeout(frame, 60);
	tcase_add_test(frame, lf_and_crlf);
	tcase_add_test(frame, binary_bytes_pass_unchanged);
	tcase_add_test(frame, empty_lines);
	tcase_add_test(frame, split_plain_lines_every_way);
	tcase_add_test(frame, split_lines_around_limit_every_way);
	tcase_add_test(frame, ten_thousand_lines_in_one_read);
	tcase_add_test(frame, ten_thousand_longer_lines_in_chunks);
	suite_add_tcase(s, frame);

	tcase_set_timeout(limit, 30);
	tcase_add_test(limit, line_at_limit_and_over);
	tcase_add_test(limit, long_line_then_lines_same_read);
	tcase_add_test(limit, megabyte_line_default_limit);
	tcase_add_test(limit, megabyte_line_partial_first);
	tcase_add_test(limit, megabyte_line_big_limit);
	tcase_add_test(limit, megabyte_line_odd_segments);
	tcase_add_test(limit, set_limit_contracts);
	tcase_add_test(limit, limit_of_one_byte);
	suite_add_tcase(s, limit);

	tcase_set_timeout(cb, 20);
	tcase_add_test(cb, data_callback_not_called_with_line_callback);
	tcase_add_test(cb, callback_replies);
	tcase_add_test(cb, callback_closes_from_read_buffer);
	tcase_add_test(cb, callback_closes_on_partial_line);
	tcase_add_test(cb, callback_closes_then_server_freed);
	suite_add_tcase(s, cb);
	return s;
}

TEST_MAIN(lines_suite)
