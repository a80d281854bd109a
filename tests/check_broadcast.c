/* check_broadcast.c - tcpchat_server_broadcast, _broadcast_if and
 * _foreach, with raw TCP clients on loopback: who receives what (the
 * excepted, non-members, closing and rejected connections get nothing),
 * one shared message per broadcast, order against tcpchat_conn_send, a
 * receiver reset in the middle of a series, and a slow reader closed with
 * TCPCHAT_EQUEUE while the others receive every byte. */
#include "internal.h"

#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>

#include "server.h"
#include "testutil.h"

#define MAXC 16

/* ------------------------------------------------------------------ */
/* A server that records its connections in the order they connect.    */

static struct {
	struct tcpchat_loop *loop;
	struct tcpchat_server *srv;
	struct tcpchat_conn *conns[MAXC];
	int connects, closes, fulls;
	struct tcpchat_conn *closed[MAXC];
	int reasons[MAXC];
	int stop_at_connects;
	int stop_at_closes;
	void (*on_full)(struct tcpchat_conn *conn);
	void (*on_connect)(struct tcpchat_conn *conn);
} bc;

static void bc_connect(struct tcpchat_conn *conn)
{
	ck_assert_int_lt(bc.connects, MAXC);
	ck_assert(!conn->rejected);
	bc.conns[bc.connects++] = conn;
	if (bc.on_connect)
		bc.on_connect(conn);
	if (bc.connects == bc.stop_at_connects)
		tcpchat_loop_stop(bc.loop);
}

static void bc_full(struct tcpchat_conn *conn)
{
	bc.fulls++;
	if (bc.on_full)
		bc.on_full(conn);
}

static void bc_close(struct tcpchat_conn *conn, int reason)
{
	int i;

	ck_assert_int_lt(bc.closes, MAXC);
	for (i = 0; i < bc.closes; i++)
		ck_assert_ptr_ne(bc.closed[i], conn); /* once per connection */
	bc.closed[bc.closes] = conn;
	bc.reasons[bc.closes++] = reason;
	if (bc.closes == bc.stop_at_closes)
		tcpchat_loop_stop(bc.loop);
}

/* The close reason of conns[i], or 1 if it has not closed. */
static int reason_of(int i)
{
	int j;

	for (j = 0; j < bc.closes; j++)
		if (bc.closed[j] == bc.conns[i])
			return bc.reasons[j];
	return 1;
}

static void bc_setup(void)
{
	memset(&bc, 0, sizeof(bc));
	ck_assert_int_eq(tcpchat_loop_create(&bc.loop), 0);
	ck_assert_int_eq(tcpchat_server_create(&bc.srv), 0);
	ck_assert_int_eq(tcpchat_server_bind(bc.srv, "127.0.0.1", 0), 0);
	ck_assert_int_eq(tcpchat_server_listen(bc.srv, 64), 0);
	tcpchat_server_on_connect(bc.srv, bc_connect);
	tcpchat_server_on_full(bc.srv, bc_full);
	tcpchat_server_on_close(bc.srv, bc_close);
}

static void check_counters(void)
{
	test_check_counters(bc.srv);
}

static void bc_teardown(void)
{
	check_counters();
	ck_assert_uint_eq(tcpchat_server_stat(bc.srv, TCPCHAT_STAT_BYTES_IN), 0);
	tcpchat_server_free(bc.srv);
	ck_assert_int_eq(tcpchat_loop_free(bc.loop), 0);
}

/* Connect n raw clients one after the other (so they are accepted in
 * this order) and run the loop until the server has seen them all. */
static void connect_clients(int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++)
		fds[i] = test_connect(tcpchat_server_port(bc.srv));
	bc.stop_at_connects = bc.connects + n;
	ck_assert_int_eq(tcpchat_loop_run(bc.loop), 0);
	ck_assert_int_eq(bc.connects, bc.stop_at_connects);
}

/* Run act once in a callback of the loop (a 0 ms timer), which stops the
 * loop; the flushes it queued run at the end of that iteration. */
static void (*act_fn)(void);

static void act_cb(struct tcpchat_timer *t, void *arg)
{
	act_fn();
	tcpchat_loop_stop(bc.loop);
}

static void run_in_loop(void (*fn)(void))
{
	struct tcpchat_timer *t;

	act_fn = fn;
	ck_assert_int_eq(tcpchat_timer_create(bc.loop, &t, act_cb, NULL), 0);
	ck_assert_int_eq(tcpchat_timer_start(t, 0, 0), 0);
	ck_assert_int_eq(tcpchat_loop_run(bc.loop), 0);
	tcpchat_timer_free(t);
}

/* Expect exactly want (len bytes) on fd, then nothing more for a while. */
static void expect_bytes(int fd, const void *want, size_t len)
{
	char *buf = malloc(len + 1);
	struct pollfd pfd = { fd, POLLIN, 0 };

	ck_assert_uint_eq(test_read_all(fd, buf, len, 5000), len);
	ck_assert_int_eq(memcmp(buf, want, len), 0);
	ck_assert_int_eq(poll(&pfd, 1, 100), 0);
	free(buf);
}

/* Expect exactly want then EOF on fd. */
static void expect_bytes_then_eof(int fd, const void *want, size_t len)
{
	char *buf = malloc(len + 1);

	ck_assert_uint_eq(test_read_all(fd, buf, len, 5000), len);
	ck_assert_int_eq(memcmp(buf, want, len), 0);
	ck_assert_uint_eq(test_read_all(fd, buf, 1, 5000), 0); /* EOF */
	free(buf);
}

/* The message at the head of conn's queue. */
static struct tcpchat__msg *head_msg(const struct tcpchat_conn *conn, size_t i)
{
	ck_assert_uint_gt(conn->out.count, i);
	return conn->out.items[(conn->out.head + i) & (conn->out.cap - 1)].msg;
}

static bool none_live(void)
{
	return tcpchat_server_stat(bc.srv, TCPCHAT_STAT_LIVE) == 0;
}

/* Close every client and run until the server has closed them all;
 * closes callbacks are expected (rejected connections get none). */
static void close_clients_and_wait(int *fds, int n, int closes)
{
	int i, before = bc.closes;

	for (i = 0; i < n; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
	test_run_until(bc.loop, none_live);
	ck_assert_int_eq(bc.closes - before, closes);
}

/* ------------------------------------------------------------------ */

static void except_one_act(void)
{
	struct tcpchat__msg *m;
	int i;

	ck_assert_int_eq(tcpchat_server_broadcast(bc.srv, "hello\n", 6, bc.conns[1]), 3);
	/* One message, in every receiver's queue, one reference each: the
	 * broadcaster's own was dropped before it returned. */
	m = head_msg(bc.conns[0], 0);
	ck_assert_uint_eq(m->len, 6);
	ck_assert_int_eq(memcmp(m->data, "hello\n", 6), 0);
	ck_assert_uint_eq(m->refs, 3);
	for (i = 0; i < 4; i++) {
		if (i == 1) {
			ck_assert_uint_eq(bc.conns[i]->out.count, 0);
			ck_assert_uint_eq(tcpchat_conn_queued(bc.conns[i]), 0);
			continue;
		}
		ck_assert_uint_eq(bc.conns[i]->out.count, 1);
		ck_assert_ptr_eq(head_msg(bc.conns[i], 0), m);
		ck_assert_uint_eq(bc.conns[i]->out.items[bc.conns[i]->out.head].off, 0);
		ck_assert_uint_eq(tcpchat_conn_queued(bc.conns[i]), 6);
	}
}

START_TEST(broadcast_except_one)
{
	int fds[4], i;

	bc_setup();
	ck_assert_int_eq(tcpchat_server_start(bc.srv, bc.loop), 0);
	connect_clients(fds, 4);
	run_in_loop(except_one_act);
	for (i = 0; i < 4; i++)
		ck_assert_uint_eq(tcpchat_conn_queued(bc.conns[i]), 0); /* flushed */
	expect_bytes(fds[0], "hello\n", 6);
	expect_bytes(fds[2], "hello\n", 6);
	expect_bytes(fds[3], "hello\n", 6);
	expect_bytes(fds[1], "", 0); /* the excepted one gets nothing */
	ck_assert_uint_eq(tcpchat_server_stat(bc.srv, TCPCHAT_STAT_BYTES_OUT), 18);
	close_clients_and_wait(fds, 4, 4);
	bc_teardown();
}
END_TEST

static void two_messages_act(void)
{
	struct tcpchat__msg *m1, *m2, *mine;
	int i;

	ck_assert_int_eq(tcpchat_server_broadcast(bc.srv, "one\n", 4, NULL), 4);
	ck_assert_int_eq(tcpchat_server_broadcast(bc.srv, "two!\n", 5, NULL), 4);
	m1 = head_msg(bc.conns[0], 0);
	m2 = head_msg(bc.conns[0], 1);
	ck_assert_ptr_ne(m1, m2);
	ck_assert_uint_eq(m1->refs, 4);
	ck_assert_uint_eq(m2->refs, 4);
	for (i = 0; i < 4; i++) {
		ck_assert_uint_eq(bc.conns[i]->out.count, 2);
		ck_assert_ptr_eq(head_msg(bc.conns[i], 0), m1);
		ck_assert_ptr_eq(head_msg(bc.conns[i], 1), m2);
	}
	/* A send queued behind a shared message gets a message of its own:
	 * the shared one is never written into. */
	ck_assert_int_eq(tcpchat_conn_send(bc.conns[2], "own\n", 4), 0);
	ck_assert_uint_eq(bc.conns[2]->out.count, 3);
	mine = head_msg(bc.conns[2], 2);
	ck_assert_ptr_ne(mine, m2);
	ck_assert_uint_eq(mine->refs, 1);
	ck_assert_uint_eq(m2->len, 5);
	ck_assert_uint_eq(m2->refs, 4);
	ck_assert_uint_eq(tcpchat_conn_queued(bc.conns[2]), 13);
	ck_assert_uint_eq(tcpchat_conn_queued(bc.conns[3]), 9);
}

START_TEST(one_shared_message_per_broadcast)
{
	int fds[4];

	bc_setup();
	ck_assert_int_eq(tcpchat_server_start(bc.srv, bc.loop), 0);
	connect_clients(fds, 4);
	run_in_loop(two_messages_act);
	expect_bytes(fds[0], "one\ntwo!\n", 9);
	expect_bytes(fds[1], "one\ntwo!\n", 9);
	expect_bytes(fds[2], "one\ntwo!\nown\n", 13);
	expect_bytes(fds[3], "one\ntwo!\n", 9);
	close_clients_and_wait(fds, 4, 4);
	bc_teardown();
}
END_TEST

/* Broadcasts and sends interleaved, over many iterations. */
enum { ORDER_TICKS = 50 };
static struct {
	char want[3][4096];
	size_t want_len[3];
	int tick;
} ord;

static void ord_add(int who, const char *s)
{
	size_t n = strlen(s);

	ck_assert_uint_lt(ord.want_len[who] + n, sizeof(ord.want[who]));
	memcpy(ord.want[who] + ord.want_len[who], s, n);
	ord.want_len[who] += n;
}

static void ord_send(int who, const char *s)
{
	ck_assert_int_eq(tcpchat_conn_send(bc.conns[who], s, strlen(s)), 0);
	ord_add(who, s);
}

static void ord_broadcast(const char *s, int except)
{
	int i;

	ck_assert_int_eq(tcpchat_server_broadcast(bc.srv, s, strlen(s),
	                 except >= 0 ? bc.conns[except] : NULL), except >= 0 ? 2 : 3);
	for (i = 0; i < 3; i++)
		if (i != except)
			ord_add(i, s);
}

static void order_tick(struct tcpchat_timer *t, void *arg)
{
	char s[32];
	int k = ord.tick++;

	snprintf(s, sizeof(s), "s%da\n", k);
	ord_send(0, s);
	snprintf(s, sizeof(s), "b%da\n", k);
	ord_broadcast(s, -1);
	snprintf(s, sizeof(s), "s%db\n", k);
	ord_send(0, s);
	snprintf(s, sizeof(s), "t%d\n", k);
	ord_send(1, s);
	snprintf(s, sizeof(s), "b%db\n", k);
	ord_broadcast(s, 2);
	snprintf(s, sizeof(s), "u%d\n", k);
	ord_send(2, s);
	if (k % 2) {
		snprintf(s, sizeof(s), "B%d\n", k);
		ord_broadcast(s, 0);
		ord_broadcast("*\n", -1);
	}
	if (ord.tick == ORDER_TICKS) {
		tcpchat_timer_stop(t);
		tcpchat_loop_stop(bc.loop);
	}
}

START_TEST(order_with_sends)
{
	struct tcpchat_timer *t;
	int fds[3], i;

	bc_setup();
	memset(&ord, 0, sizeof(ord));
	ck_assert_int_eq(tcpchat_server_start(bc.srv, bc.loop), 0);
	connect_clients(fds, 3);
	ck_assert_int_eq(tcpchat_timer_create(bc.loop, &t, order_tick, NULL), 0);
	ck_assert_int_eq(tcpchat_timer_start(t, 1, 1), 0);
	ck_assert_int_eq(tcpchat_loop_run(bc.loop), 0);
	tcpchat_timer_free(t);
	ck_assert_int_eq(ord.tick, ORDER_TICKS);
	for (i = 0; i < 3; i++)
		expect_bytes(fds[i], ord.want[i], ord.want_len[i]);
	ck_assert_uint_eq(tcpchat_server_stat(bc.srv, TCPCHAT_STAT_BYTES_OUT),
	                  ord.want_len[0] + ord.want_len[1] + ord.want_len[2]);
	close_clients_and_wait(fds, 3, 3);
	bc_teardown();
}
END_TEST

/* Membership by userdata. */
static int member_tag, outsider_tag, filter_calls;

static void mark_members(struct tcpchat_conn *conn)
{
	tcpchat_conn_set_userdata(conn, bc.connects % 2 ? &member_tag : &outsider_tag);
}

static int is_member(const struct tcpchat_conn *conn, void *arg)
{
	ck_assert_ptr_eq(arg, &member_tag);
	ck_assert_int_eq(conn->state, TCPCHAT__OPEN);
	filter_calls++;
	return tcpchat_conn_userdata(conn) == arg;
}

static int nobody(const struct tcpchat_conn *conn, void *arg)
{
	return 0;
}

static void members_act(void)
{
	int i;

	filter_calls = 0;
	ck_assert_int_eq(tcpchat_server_broadcast_if(bc.srv, "room\n", 5, is_member, &member_tag), 3);
	ck_assert_int_eq(filter_calls, 5);
	for (i = 0; i < 5; i++)
		ck_assert_uint_eq(tcpchat_conn_queued(bc.conns[i]), i % 2 ? 0 : 5);
	ck_assert_int_eq(tcpchat_server_broadcast_if(bc.srv, "none\n", 5, nobody, NULL), 0);
	for (i = 0; i < 5; i++)
		ck_assert_uint_eq(tcpchat_conn_queued(bc.conns[i]), i % 2 ? 0 : 5);
}

START_TEST(broadcast_if_members_only)
{
	int fds[5], i;

	bc_setup();
	bc.on_connect = mark_members; /* conns 0, 2, 4 are members */
	ck_assert_int_eq(tcpchat_server_start(bc.srv, bc.loop), 0);
	connect_clients(fds, 5);
	run_in_loop(members_act);
	for (i = 0; i < 5; i++)
		expect_bytes(fds[i], "room\n", i % 2 ? 0 : 5);
	close_clients_and_wait(fds, 5, 5);
	bc_teardown();
}
END_TEST

/* Rejected (over TCPCHAT_LIMIT_CLIENTS) and closing connections. */
static int count_each(struct tcpchat_conn *conn, void *arg)
{
	ck_assert(!conn->rejected);
	ck_assert_int_eq(conn->state, TCPCHAT__OPEN);
	(*(int *)arg)++;
	return 0;
}

static void full_broadcasts(struct tcpchat_conn *conn)
{
	int n = 0;

	ck_assert(conn->rejected);
	/* The rejected one is still open here, but not a receiver. */
	ck_assert_int_eq(tcpchat_server_broadcast(bc.srv, "x\n", 2, NULL), 3);
	ck_assert_uint_eq(conn->out.count, 0);
	ck_assert_int_eq(tcpchat_server_foreach(bc.srv, count_each, &n), 0);
	ck_assert_int_eq(n, 3);
	tcpchat_loop_stop(bc.loop);
}

static void closing_act(void)
{
	int n = 0;

	ck_assert_int_eq(tcpchat_server_broadcast(bc.srv, "z\n", 2, NULL), 3);
	/* conns[0] closes with its queue not yet written: it is flushing. */
	tcpchat_conn_close(bc.conns[0]);
	ck_assert_int_eq(bc.conns[0]->state, TCPCHAT__FLUSH);
	ck_assert_int_eq(tcpchat_server_broadcast(bc.srv, "y\n", 2, NULL), 2);
	ck_assert_int_eq(tcpchat_server_broadcast(bc.srv, "w\n", 2, bc.conns[1]), 1);
	ck_assert_uint_eq(tcpchat_conn_queued(bc.conns[0]), 2);
	ck_assert_uint_eq(tcpchat_conn_queued(bc.conns[1]), 4);
	ck_assert_uint_eq(tcpchat_conn_queued(bc.conns[2]), 6);
	ck_assert_int_eq(tcpchat_server_foreach(bc.srv, count_each, &n), 0);
	ck_assert_int_eq(n, 2);
}

START_TEST(closing_and_rejected_receive_nothing)
{
	int fds[4];

	bc_setup();
	ck_assert_int_eq(tcpchat_server_set_limit(bc.srv, TCPCHAT_LIMIT_CLIENTS, 3), 0);
	bc.on_full = full_broadcasts;
	ck_assert_int_eq(tcpchat_server_start(bc.srv, bc.loop), 0);
	for (int i = 0; i < 4; i++)
		fds[i] = test_connect(tcpchat_server_port(bc.srv));
	ck_assert_int_eq(tcpchat_loop_run(bc.loop), 0); /* until the 4th is rejected */
	ck_assert_int_eq(bc.connects, 3);
	ck_assert_int_eq(bc.fulls, 1);
	run_in_loop(closing_act);
	expect_bytes_then_eof(fds[0], "x\nz\n", 4);
	expect_bytes(fds[1], "x\nz\ny\n", 6);
	expect_bytes(fds[2], "x\nz\ny\nw\n", 8);
	expect_bytes_then_eof(fds[3], "", 0); /* rejected: nothing but EOF */
	close_clients_and_wait(fds, 4, 3); /* the rejected one is not mourned */
	ck_assert_int_eq(reason_of(0), 0);
	ck_assert_int_eq(reason_of(1), TCPCHAT_EOF); /* the client left first */
	ck_assert_int_eq(reason_of(2), TCPCHAT_EOF);
	ck_assert_uint_eq(tcpchat_server_stat(bc.srv, TCPCHAT_STAT_CLOSED_FULL), 1);
	ck_assert_uint_eq(tcpchat_server_stat(bc.srv, TCPCHAT_STAT_LIVE), 0);
	bc_teardown();
}
END_TEST

/* foreach */
struct visit {
	struct tcpchat_conn *seen[MAXC];
	int n;
	int stop_at;   /* return 42 at this visit (1-based), 0 never */
	bool close;    /* send "bye\n" and close each visited one */
};

static int visit_cb(struct tcpchat_conn *conn, void *arg)
{
	struct visit *v = arg;

	ck_assert_int_eq(conn->state, TCPCHAT__OPEN);
	v->seen[v->n++] = conn;
	if (v->close) {
		ck_assert_int_eq(tcpchat_conn_send(conn, "bye\n", 4), 0);
		tcpchat_conn_close(conn);
	}
	return v->n == v->stop_at ? 42 : 0;
}

static void foreach_act(void)
{
	struct visit v;
	int i;

	ck_assert_int_eq(tcpchat_server_foreach(bc.srv, NULL, &v), -EINVAL);
	ck_assert_int_eq(tcpchat_server_foreach(NULL, visit_cb, &v), -EINVAL);

	memset(&v, 0, sizeof(v));
	ck_assert_int_eq(tcpchat_server_foreach(bc.srv, visit_cb, &v), 0);
	ck_assert_int_eq(v.n, 4);
	for (i = 0; i < 4; i++)
		ck_assert_ptr_eq(v.seen[i], bc.conns[i]); /* oldest first */

	memset(&v, 0, sizeof(v));
	v.stop_at = 3;
	ck_assert_int_eq(tcpchat_server_foreach(bc.srv, visit_cb, &v), 42);
	ck_assert_int_eq(v.n, 3);

	tcpchat_conn_close(bc.conns[1]);
	memset(&v, 0, sizeof(v));
	ck_assert_int_eq(tcpchat_server_foreach(bc.srv, visit_cb, &v), 0);
	ck_assert_int_eq(v.n, 3);
	ck_assert_ptr_eq(v.seen[0], bc.conns[0]);
	ck_assert_ptr_eq(v.seen[1], bc.conns[2]);
	ck_assert_ptr_eq(v.seen[2], bc.conns[3]);

	/* fn may send and close. */
	memset(&v, 0, sizeof(v));
	v.close = true;
	ck_assert_int_eq(tcpchat_server_foreach(bc.srv, visit_cb, &v), 0);
	ck_assert_int_eq(v.n, 3);
	memset(&v, 0, sizeof(v));
	ck_assert_int_eq(tcpchat_server_foreach(bc.srv, visit_cb, &v), 0);
	ck_assert_int_eq(v.n, 0);
	ck_assert_int_eq(tcpchat_server_broadcast(bc.srv, "late\n", 5, NULL), 0);
}

START_TEST(foreach_oldest_first_and_stops)
{
	int fds[4];

	bc_setup();
	ck_assert_int_eq(tcpchat_server_start(bc.srv, bc.loop), 0);
	connect_clients(fds, 4);
	run_in_loop(foreach_act);
	expect_bytes_then_eof(fds[0], "bye\n", 4);
	expect_bytes_then_eof(fds[1], "", 0);
	expect_bytes_then_eof(fds[2], "bye\n", 4);
	expect_bytes_then_eof(fds[3], "bye\n", 4);
	close_clients_and_wait(fds, 4, 4);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(reason_of(i), 0);
	bc_teardown();
}
END_TEST

START_TEST(contracts)
{
	int fds[2], rc;

	bc_setup();
	ck_assert_int_eq(tcpchat_server_broadcast(NULL, "x", 1, NULL), -EINVAL);
	ck_assert_int_eq(tcpchat_server_broadcast_if(NULL, "x", 1, nobody, NULL), -EINVAL);
	ck_assert_int_eq(tcpchat_server_broadcast(bc.srv, NULL, 1, NULL), -EINVAL);
	ck_assert_int_eq(tcpchat_server_broadcast_if(bc.srv, NULL, 3, nobody, NULL), -EINVAL);
	/* No connection yet: nobody to send to. */
	ck_assert_int_eq(tcpchat_server_broadcast(bc.srv, "x", 1, NULL), 0);
	ck_assert_int_eq(tcpchat_server_start(bc.srv, bc.loop), 0);
	ck_assert_int_eq(tcpchat_server_broadcast(bc.srv, "x", 1, NULL), 0);
	connect_clients(fds, 2);
	/* Zero bytes: nothing is queued or sent (the count is either every
	 * receiver or none). */
	rc = tcpchat_server_broadcast(bc.srv, "", 0, NULL);
	ck_assert(rc == 0 || rc == 2);
	rc = tcpchat_server_broadcast(bc.srv, NULL, 0, NULL);
	ck_assert(rc == 0 || rc == 2);
	ck_assert_uint_eq(bc.conns[0]->out.count, 0);
	ck_assert_uint_eq(bc.conns[1]->out.count, 0);
	ck_assert_int_eq(tcpchat_server_broadcast(bc.srv, "ok\n", 3, NULL), 2);
	run_in_loop(check_counters); /* one iteration: the flush */
	expect_bytes(fds[0], "ok\n", 3);
	expect_bytes(fds[1], "ok\n", 3);
	close_clients_and_wait(fds, 2, 2);
	bc_teardown();
}
END_TEST

/* ------------------------------------------------------------------ */
/* Series of broadcasts with a sequence pattern: the byte at stream     */
/* offset o is byte o % 4 (little end first) of the 32-bit number o / 4. */

static unsigned char pattern(uint64_t off)
{
	uint32_t w = (uint32_t)(off / 4);

	return (unsigned char)(w >> (8 * (off % 4)));
}

static void fill_pattern(char *buf, uint64_t off, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (char)pattern(off + i);
}

struct reader {
	int fd;
	pthread_t th;
	uint64_t got;
	uint64_t bad_at;   /* first offset that broke the pattern, or UINT64_MAX */
	int err;           /* errno if reading failed, 0 on EOF */
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	char *buf = malloc(65536);
	ssize_t n, i;

	r->bad_at = UINT64_MAX;
	for (;;) {
		n = read(r->fd, buf, 65536);
		if (n <= 0) {
			r->err = n < 0 ? errno : 0;
			break;
		}
		for (i = 0; i < n && r->bad_at == UINT64_MAX; i++)
			if ((unsigned char)buf[i] != pattern(r->got + (uint64_t)i))
				r->bad_at = r->got + (uint64_t)i;
		r->got += (uint64_t)n;
	}
	close(r->fd);
	free(buf);
	return NULL;
}

static void reader_start(struct reader *r, int fd)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	ck_assert_int_eq(pthread_create(&r->th, NULL, reader_main, r), 0);
}

static int close_each(struct tcpchat_conn *conn, void *arg)
{
	tcpchat_conn_close(conn);
	return 0;
}

static struct {
	struct tcpchat_timer *tick, *sampler;
	int ticks, nticks;
	size_t chunk;
	char *buf;
	int reset_at;          /* tick at which the reset client resets */
	int reset_fd;
	int reset_closed_at;   /* tick at which its close callback ran, -1 */
	struct tcpchat_conn *special; /* the reset or slow connection */
	int counts[4];         /* broadcast results seen: how many 4s and 3s */
	size_t max_queued, max_total;
	int over_limit;        /* samples over the queue limit */
	int closed_by_broadcast;
} ser;

static int sample_each(struct tcpchat_conn *conn, void *arg)
{
	size_t q = tcpchat_conn_queued(conn);

	*(size_t *)arg += q;
	if (q > ser.max_queued)
		ser.max_queued = q;
	if (q > bc.srv->limit[TCPCHAT_LIMIT_QUEUE])
		ser.over_limit++;
	return 0;
}

static void sample(void)
{
	size_t total = 0;

	ck_assert_int_eq(tcpchat_server_foreach(bc.srv, sample_each, &total), 0);
	if (total > ser.max_total)
		ser.max_total = total;
}

static void sampler_cb(struct tcpchat_timer *t, void *arg)
{
	sample();
}

static void series_tick(struct tcpchat_timer *t, void *arg)
{
	struct tcpchat__msg *m;
	bool was_open;
	int rc;

	if (ser.ticks == ser.reset_at) {
		test_reset(ser.reset_fd);
		ser.reset_fd = -1;
	}
	/* ser.special stays valid until its close callback. */
	was_open = ser.reset_closed_at < 0 && ser.special->state == TCPCHAT__OPEN;
	fill_pattern(ser.buf, (uint64_t)ser.ticks * ser.chunk, ser.chunk);
	rc = tcpchat_server_broadcast(bc.srv, ser.buf, ser.chunk, NULL);
	ck_assert(rc == 3 || rc == 4);
	ser.counts[rc - 3 + 2]++;
	if (ser.reset_closed_at >= 0)
		ck_assert_int_eq(rc, 3); /* gone for good */
	if (was_open && ser.special->state == TCPCHAT__DEAD) {
		/* Closed by this very broadcast: not counted as a receiver. */
		ck_assert_int_eq(ser.special->reason, TCPCHAT_EQUEUE);
		m = head_msg(bc.conns[1], bc.conns[1]->out.count - 1);
		ck_assert_uint_eq(m->refs, 3);
		if (ser.special->out.count > 0)
			ck_assert_ptr_ne(head_msg(ser.special, ser.special->out.count - 1), m);
		ck_assert_int_eq(rc, 3);
		ser.closed_by_broadcast++;
	}
	sample(); /* the peak: everything of this iteration is queued */
	if (++ser.ticks == ser.nticks) {
		tcpchat_timer_stop(ser.tick);
		tcpchat_timer_stop(ser.sampler);
		ck_assert_int_eq(tcpchat_server_foreach(bc.srv, close_each, NULL), 0);
	}
}

static void series_close(struct tcpchat_conn *conn, int reason)
{
	if (conn == ser.special)
		ser.reset_closed_at = ser.ticks;
	bc_close(conn, reason);
}

static void series_setup(int nticks, size_t chunk)
{
	memset(&ser, 0, sizeof(ser));
	ser.nticks = nticks;
	ser.chunk = chunk;
	ser.buf = malloc(chunk);
	ser.reset_at = -1;
	ser.reset_fd = -1;
	ser.reset_closed_at = -1;
	ck_assert_int_eq(tcpchat_timer_create(bc.loop, &ser.tick, series_tick, NULL), 0);
	ck_assert_int_eq(tcpchat_timer_create(bc.loop, &ser.sampler, sampler_cb, NULL), 0);
}

static void series_run(void)
{
	ck_assert_int_eq(tcpchat_timer_start(ser.tick, 1, 1), 0);
	ck_assert_int_eq(tcpchat_timer_start(ser.sampler, 1, 1), 0);
	bc.stop_at_closes = 4;
	ck_assert_int_eq(tcpchat_loop_run(bc.loop), 0);
	ck_assert_int_eq(bc.closes, 4);
	ck_assert_int_eq(ser.ticks, ser.nticks);
	tcpchat_timer_free(ser.tick);
	tcpchat_timer_free(ser.sampler);
	free(ser.buf);
}

START_TEST(receiver_resets_mid_series)
{
	enum { TICKS = 200, CHUNK = 4096 };
	struct reader rd[3];
	int fds[4], i, r;

	bc_setup();
	tcpchat_server_on_close(bc.srv, series_close);
	ck_assert_int_eq(tcpchat_server_start(bc.srv, bc.loop), 0);
	connect_clients(fds, 4);
	series_setup(TICKS, CHUNK);
	ser.reset_at = 60;
	ser.reset_fd = fds[3];
	ser.special = bc.conns[3];
	for (i = 0; i < 3; i++)
		reader_start(&rd[i], fds[i]);
	series_run();
	for (i = 0; i < 3; i++) {
		pthread_join(rd[i].th, NULL);
		ck_assert_int_eq(rd[i].err, 0);
		ck_assert_uint_eq(rd[i].bad_at, UINT64_MAX);
		ck_assert_uint_eq(rd[i].got, (uint64_t)TICKS * CHUNK);
		ck_assert_int_eq(reason_of(i), 0);
	}
	r = reason_of(3);
	ck_assert_msg(r == -ECONNRESET || r == -EPIPE, "reason %d (%s)", r, tcpchat_strerror(r));
	/* Four receivers up to the reset and until the server noticed. */
	ck_assert_int_gt(ser.reset_closed_at, 60);
	ck_assert_int_lt(ser.reset_closed_at, TICKS);
	ck_assert_int_eq(ser.counts[3] + ser.counts[2], TICKS);
	ck_assert_int_ge(ser.counts[3], 61);
	ck_assert_int_le(ser.counts[3], ser.reset_closed_at);
	ck_assert_uint_eq(tcpchat_server_stat(bc.srv, TCPCHAT_STAT_CLOSED_ERROR), 1);
	ck_assert_uint_ge(tcpchat_server_stat(bc.srv, TCPCHAT_STAT_BYTES_OUT), 3ull * TICKS * CHUNK);
	bc_teardown();
}
END_TEST

/* The slow reader: tiny socket buffers on both ends so that what it does
 * not read piles up in the server's queue at once. */
static char slow_peer[64];

static void shrink_slow(struct tcpchat_conn *conn)
{
	int small = 4096;

	if (strcmp(tcpchat_conn_peer(conn), slow_peer) == 0) {
		ck_assert_int_eq(setsockopt(conn->io.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
		ser.special = conn;
	}
}

START_TEST(slow_reader_closed_others_get_everything)
{
	enum { TICKS = 1024, CHUNK = 16384 }; /* 16 MiB */
	const size_t limit = 1u << 20;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct reader rd[3];
	int fds[3], slow, i;

	bc_setup();
	ck_assert_uint_eq(bc.srv->limit[TCPCHAT_LIMIT_QUEUE], limit); /* the default */
	tcpchat_server_on_close(bc.srv, series_close);
	bc.on_connect = shrink_slow;
	ck_assert_int_eq(tcpchat_server_start(bc.srv, bc.loop), 0);
	series_setup(TICKS, CHUNK);

	slow = test_connect_rcvbuf(tcpchat_server_port(bc.srv), 4096);
	ck_assert_int_eq(getsockname(slow, (struct sockaddr *)&sin, &slen), 0);
	snprintf(slow_peer, sizeof(slow_peer), "127.0.0.1:%u", ntohs(sin.sin_port));
	for (i = 0; i < 3; i++)
		fds[i] = test_connect(tcpchat_server_port(bc.srv));
	bc.stop_at_connects = 4;
	ck_assert_int_eq(tcpchat_loop_run(bc.loop), 0);
	ck_assert_int_eq(bc.connects, 4);
	ck_assert_ptr_eq(ser.special, bc.conns[0]);
	for (i = 0; i < 3; i++)
		reader_start(&rd[i], fds[i]);
	series_run();
	for (i = 0; i < 3; i++) {
		pthread_join(rd[i].th, NULL);
		ck_assert_int_eq(rd[i].err, 0);
		ck_assert_uint_eq(rd[i].bad_at, UINT64_MAX);
		ck_assert_uint_eq(rd[i].got, (uint64_t)TICKS * CHUNK);
		ck_assert_int_eq(reason_of(i + 1), 0);
	}
	ck_assert_int_eq(reason_of(0), TCPCHAT_EQUEUE);
	/* It went long before the end: about limit / CHUNK ticks in. */
	ck_assert_int_ge(ser.reset_closed_at, (int)(limit / CHUNK) - 1);
	ck_assert_int_lt(ser.reset_closed_at, TICKS / 2);
	ck_assert_uint_eq(tcpchat_server_stat(bc.srv, TCPCHAT_STAT_CLOSED_QUEUE), 1);
	ck_assert_int_eq(ser.closed_by_broadcast, 1);
	/* Queues stay bounded: never over the limit per connection. */
	ck_assert_int_eq(ser.over_limit, 0);
	ck_assert_uint_le(ser.max_queued, limit);
	ck_assert_uint_le(ser.max_total, 4 * (limit + CHUNK));
	ck_assert_uint_gt(ser.max_queued, limit / 2); /* the slow one did pile up */
	close(slow);
	bc_teardown();
}
END_TEST

static Suite *broadcast_suite(void)
{
	Suite *s = suite_create("broadcast");
	TCase *basic = tcase_create("basic"), *series = tcase_create("series");

	signal(SIGPIPE, SIG_IGN);
	tcase_set_timeout(basic, 20);
	tcase_add_test(basic, broadcast_except_one);
	tcase_add_test(basic, one_shared_message_per_broadcast);
	tcase_add_test(basic, order_with_sends);
	tcase_add_test(basic, broadcast_if_members_only);
	tcase_add_test(basic, closing_and_rejected_receive_nothing);
	tcase_add_test(basic, foreach_oldest_first_and_stops);
	tcase_add_test(basic, contracts);
	suite_add_tcase(s, basic);

	tcase_set_timeout(series, 60);
	tcase_add_test(series, receiver_resets_mid_series);
	tcase_add_test(series, slow_reader_closed_others_get_everything);
	suite_add_tcase(s, series);
	return s;
}

TEST_MAIN(broadcast_suite)
