/* check_limits.c - the server's limits and counters: TCPCHAT_LIMIT_CLIENTS
 * (one more is accepted, told why and sent away unannounced),
 * TCPCHAT_LIMIT_IDLE (silent clients go, active ones stay),
 * TCPCHAT_LIMIT_QUEUE (back-pressure for an echo server, EQUEUE for a peer
 * that does not read), and the invariants of tcpchat_server_stat. */
#include "internal.h"

#include <netinet/tcp.h>

#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "server.h"
#include "testutil.h"

#define MAXC 16

static struct {
	struct tcpchat_loop *loop;
	struct tcpchat_server *srv;
	struct tcpchat_conn *conns[MAXC];
	int connects, closes, fulls;
	int reasons[MAXC];
	int stop_at_connects, stop_at_fulls, stop_at_closes;
	size_t max_queued;      /* tcpchat_conn_queued seen at most */
	int over_limit;         /* samples over TCPCHAT_LIMIT_QUEUE */
	atomic_int engaged;     /* a queue passed half the limit */
	void (*on_connect)(struct tcpchat_conn *conn);
} lm;

static void lm_connect(struct tcpchat_conn *conn)
{
	ck_assert_int_lt(lm.connects, MAXC);
	ck_assert(!conn->rejected);
	lm.conns[lm.connects++] = conn;
	if (lm.on_connect)
		lm.on_connect(conn);
	if (lm.connects == lm.stop_at_connects)
		tcpchat_loop_stop(lm.loop);
}

static void lm_full(struct tcpchat_conn *conn)
{
	ck_assert(conn->rejected);
	lm.fulls++;
	/* Accepted, not yet closed: counted as live. */
	ck_assert_uint_eq(tcpchat_server_stat(lm.srv, TCPCHAT_STAT_LIVE),
	                  lm.srv->limit[TCPCHAT_LIMIT_CLIENTS] + 1);
	ck_assert_int_eq(tcpchat_conn_send(conn, "ERR full\n", 9), 0);
	if (lm.fulls == lm.stop_at_fulls)
		tcpchat_loop_stop(lm.loop);
}

static void lm_close(struct tcpchat_conn *conn, int reason)
{
	ck_assert(!conn->rejected);
	ck_assert_int_lt(lm.closes, MAXC);
	lm.reasons[lm.closes++] = reason;
	if (lm.closes == lm.stop_at_closes)
		tcpchat_loop_stop(lm.loop);
}

static void sample(struct tcpchat_conn *conn)
{
	size_t q = tcpchat_conn_queued(conn);

	if (q > lm.max_queued)
		lm.max_queued = q;
	if (q > lm.srv->limit[TCPCHAT_LIMIT_QUEUE])
		lm.over_limit++;
	if (q > lm.srv->limit[TCPCHAT_LIMIT_QUEUE] / 2)
		atomic_store(&lm.engaged, 1);
}

static void lm_echo(struct tcpchat_conn *conn, const char *data, size_t len)
{
	ck_assert_int_eq(tcpchat_conn_send(conn, data, len), 0);
	sample(conn);
}

static void lm_setup(void)
{
	memset(&lm, 0, sizeof(lm));
	ck_assert_int_eq(tcpchat_loop_create(&lm.loop), 0);
	ck_assert_int_eq(tcpchat_server_create(&lm.srv), 0);
	ck_assert_int_eq(tcpchat_server_bind(lm.srv, "127.0.0.1", 0), 0);
	ck_assert_int_eq(tcpchat_server_listen(lm.srv, 64), 0);
	tcpchat_server_on_connect(lm.srv, lm_connect);
	tcpchat_server_on_full(lm.srv, lm_full);
	tcpchat_server_on_close(lm.srv, lm_close);
}

/* The counters' invariants, and the byte counters against what the
 * peers sent and received. */
static void check_stats(uint64_t bytes_in, uint64_t bytes_out)
{
	test_check_counters(lm.srv);
	ck_assert_uint_eq(tcpchat_server_stat(lm.srv, TCPCHAT_STAT_BYTES_IN), bytes_in);
	ck_assert_uint_eq(tcpchat_server_stat(lm.srv, TCPCHAT_STAT_BYTES_OUT), bytes_out);
}

static void lm_teardown(void)
{
	tcpchat_server_free(lm.srv);
	ck_assert_int_eq(tcpchat_loop_free(lm.loop), 0);
}

/* Expect exactly want then EOF on fd. */
static void expect_bytes_then_eof(int fd, const void *want, size_t len)
{
	char buf[256];

	ck_assert_uint_lt(len, sizeof(buf));
	ck_assert_uint_eq(test_read_all(fd, buf, len, 5000), len);
	ck_assert_int_eq(memcmp(buf, want, len), 0);
	ck_assert_uint_eq(test_read_all(fd, buf, 1, 5000), 0); /* EOF */
}

/* ------------------------------------------------------------------ */

static uint64_t want_full_closed, want_closes, want_connects;

static bool full_gone(void)
{
	return tcpchat_server_stat(lm.srv, TCPCHAT_STAT_CLOSED_FULL) == want_full_closed;
}

static bool closes_reached(void)
{
	return (uint64_t)lm.closes == want_closes;
}

static bool connects_reached(void)
{
	return (uint64_t)lm.connects == want_connects;
}

static bool two_live(void)
{
	return tcpchat_server_stat(lm.srv, TCPCHAT_STAT_LIVE) == 2;
}

static bool none_live(void)
{
	return tcpchat_server_stat(lm.srv, TCPCHAT_STAT_LIVE) == 0;
}

START_TEST(clients_limit)
{
	int a, b, c, d, e, f;

	lm_setup();
	ck_assert_int_eq(tcpchat_server_set_limit(lm.srv, TCPCHAT_LIMIT_CLIENTS, 2), 0);
	ck_assert_int_eq(tcpchat_server_start(lm.srv, lm.loop), 0);
	a = test_connect(tcpchat_server_port(lm.srv));
	b = test_connect(tcpchat_server_port(lm.srv));
	c = test_connect(tcpchat_server_port(lm.srv));
	ck_assert_int_eq(write(c, "hi\n", 3), 3); /* discarded: it is sent away */
	lm.stop_at_fulls = 1;
	ck_assert_int_eq(tcpchat_loop_run(lm.loop), 0);
	ck_assert_int_eq(lm.connects, 2);
	ck_assert_int_eq(lm.fulls, 1);
	ck_assert_uint_eq(tcpchat_server_stat(lm.srv, TCPCHAT_STAT_ACCEPTED), 3);
	ck_assert_uint_eq(lm.srv->nopen, 2);

	/* The third one is told why, then gets EOF. */
	expect_bytes_then_eof(c, "ERR full\n", 9);
	ck_assert_uint_eq(tcpchat_server_stat(lm.srv, TCPCHAT_STAT_LIVE), 3); /* lingering */
	close(c);
	want_full_closed = 1;
	test_run_until(lm.loop, full_gone);
	ck_assert_int_eq(lm.connects, 2);
	ck_assert_int_eq(lm.closes, 0); /* never announced, never mourned */
	ck_assert_uint_eq(tcpchat_server_stat(lm.srv, TCPCHAT_STAT_ACCEPTED), 3);
	ck_assert_uint_eq(tcpchat_server_stat(lm.srv, TCPCHAT_STAT_LIVE), 2);
	ck_assert_uint_eq(tcpchat_server_stat(lm.srv, TCPCHAT_STAT_CLOSED), 1);
	ck_assert_uint_eq(tcpchat_server_stat(lm.srv, TCPCHAT_STAT_CLOSED_FULL), 1);
	check_stats(3, 9);

	/* A member leaves: the next client is admitted. */
	close(a);
	want_closes = 1;
	test_run_until(lm.loop, closes_reached);
	ck_assert_int_eq(lm.reasons[0], TCPCHAT_EOF);
	d = test_connect(tcpchat_server_port(lm.srv));
	want_connects = 3;
	test_run_until(lm.loop, connects_reached);
	ck_assert_int_eq(lm.fulls, 1);

	/* Full again. */
	e = test_connect(tcpchat_server_port(lm.srv));
	lm.stop_at_fulls = 2;
	ck_assert_int_eq(tcpchat_loop_run(lm.loop), 0);
	ck_assert_int_eq(lm.fulls, 2);
	expect_bytes_then_eof(e, "ERR full\n", 9);
	close(e);
	want_full_closed = 2;
	test_run_until(lm.loop, full_gone);

	/* One that resets instead of leaving politely still counts as sent
	 * away for being full, and is not mourned either. */
	f = test_connect(tcpchat_server_port(lm.srv));
	lm.stop_at_fulls = 3;
	ck_assert_int_eq(tcpchat_loop_run(lm.loop), 0);
	test_reset(f);
	test_run_until(lm.loop, two_live);
	ck_assert_uint_eq(tcpchat_server_stat(lm.srv, TCPCHAT_STAT_CLOSED_ERROR), 0);
	ck_assert_uint_eq(tcpchat_server_stat(lm.srv, TCPCHAT_STAT_CLOSED_FULL), 3);
	ck_assert_int_eq(lm.closes, 1);

	close(b);
	close(d);
	test_run_until(lm.loop, none_live);
	ck_assert_int_eq(lm.connects, 3);
	ck_assert_int_eq(lm.closes, 3);
	ck_assert_uint_eq(tcpchat_server_stat(lm.srv, TCPCHAT_STAT_ACCEPTED), 6);
	ck_assert_uint_eq(tcpchat_server_stat(lm.srv, TCPCHAT_STAT_CLOSED_FULL), 3);
	ck_assert_uint_eq(tcpchat_server_stat(lm.srv, TCPCHAT_STAT_CLOSED_EOF), 3);
	check_stats(3, 27);
	lm_teardown();
}
END_TEST

/* A client in a thread that measures when the server sends it away: it
 * waits pre_connect_ms, connects, then sends one byte after each of
 * `sends` periods, then reads until EOF. */
struct idler {
	int port;
	int pre_connect_ms;
	int sends;
	int period_ms;
	uint64_t t0;        /* before connecting */
	uint64_t t_last;    /* after the last byte sent (or connecting) */
	uint64_t t_eof;     /* when EOF arrived */
	uint64_t early;     /* when input (EOF) arrived while sending, or 0 */
	pthread_t th;
};

static void *idler_main(void *arg)
{
	struct idler *p = arg;
	struct timespec ts = { p->pre_connect_ms / 1000, (p->pre_connect_ms % 1000) * 1000000L };
	struct pollfd pfd;
	char buf[64];
	int fd, i;

	if (p->pre_connect_ms)
		nanosleep(&ts, NULL);
	p->t0 = tcpchat__now_ms();
	fd = test_connect(p->port);
	p->t_last = tcpchat__now_ms();
	for (i = 0; i < p->sends; i++) {
		/* Wait a period, watching for an early close. */
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, p->period_ms) > 0 && !p->early)
			p->early = tcpchat__now_ms();
		if (write(fd, "x", 1) != 1)
			break;
		p->t_last = tcpchat__now_ms();
	}
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	p->t_eof = tcpchat__now_ms();
	close(fd);
	return NULL;
}

/* Serve one idler with an idle limit of 100 ms until it is closed. */
static void run_idler(struct idler *p)
{
	lm_setup();
	ck_assert_int_eq(tcpchat_server_set_limit(lm.srv, TCPCHAT_LIMIT_IDLE, 100), 0);
	ck_assert_int_eq(tcpchat_server_start(lm.srv, lm.loop), 0);
	p->port = tcpchat_server_port(lm.srv);
	lm.stop_at_closes = 1;
	ck_assert_int_eq(pthread_create(&p->th, NULL, idler_main, p), 0);
	ck_assert_int_eq(tcpchat_loop_run(lm.loop), 0);
	pthread_join(p->th, NULL);
	ck_assert_int_eq(lm.reasons[0], TCPCHAT_EIDLE);
	ck_assert_uint_eq(tcpchat_server_stat(lm.srv, TCPCHAT_STAT_CLOSED_IDLE), 1);
	check_stats((uint64_t)p->sends, 0);
	lm_teardown();
}

START_TEST(idle_client_closed)
{
	struct idler p = { 0 };

	run_idler(&p);
	ck_assert_uint_ge(p.t_eof - p.t0, 100);
	ck_assert_uint_lt(p.t_eof - p.t0, 5000);
}
END_TEST

START_TEST(active_client_not_closed)
{
	struct idler p = { 0 };

	p.sends = 10;
	p.period_ms = 30;
	run_idler(&p);
	ck_assert_msg(p.early == 0, "closed %llu ms in, while active",
	              (unsigned long long)(p.early - p.t0));
	ck_assert_uint_ge(p.t_last - p.t0, 300);
	/* ... and closed once it went quiet. */
	ck_assert_uint_lt(p.t_eof - p.t_last, 5000);
}
END_TEST

/* The idle time counts from the last input, not from the start of the
 * loop's wait that the input ended. */
START_TEST(idle_counts_from_last_input)
{
	struct idler p = { 0 };

	p.sends = 1;
	p.period_ms = 80;
	run_idler(&p);
	ck_assert_int_eq(p.early, 0);
	ck_assert_msg(p.t_eof - p.t_last >= 100, "closed %llu ms after its last byte",
	              (unsigned long long)(p.t_eof - p.t_last));
}
END_TEST

/* ... and for a silent client, from its connection, however long the
 * loop had been waiting before it came. */
START_TEST(idle_counts_from_connect_after_quiet_loop)
{
	struct idler p = { 0 };

	p.pre_connect_ms = 300;
	run_idler(&p);
	ck_assert_msg(p.t_eof - p.t0 >= 100, "closed %llu ms after connecting",
	              (unsigned long long)(p.t_eof - p.t0));
}
END_TEST

START_TEST(idle_off_by_default)
{
	int fd;

	lm_setup();
	ck_assert_uint_eq(lm.srv->limit[TCPCHAT_LIMIT_IDLE], 0);
	ck_assert_int_eq(tcpchat_server_start(lm.srv, lm.loop), 0);
	fd = test_connect(tcpchat_server_port(lm.srv));
	lm.stop_at_connects = 1;
	ck_assert_int_eq(tcpchat_loop_run(lm.loop), 0);
	/* No idle timer runs for it. */
	ck_assert_uint_eq(lm.conns[0]->timer.heap_index, SIZE_MAX);
	close(fd);
	test_run_until(lm.loop, none_live);
	ck_assert_int_eq(lm.reasons[0], TCPCHAT_EOF);
	check_stats(0, 0);
	lm_teardown();
}
END_TEST

/* ------------------------------------------------------------------ */
/* Back-pressure: an echo server with a 256 KiB queue limit and a peer  */
/* that sends 8 MiB but starts reading only once the queue is over half */
/* the limit; with reading paused meanwhile nothing is ever lost.      */

static unsigned char pattern(uint64_t off)
{
	uint32_t w = (uint32_t)(off / 4);

	return (unsigned char)((w >> (8 * (off % 4))) ^ 0x5a);
}

struct bp_peer {
	int fd;
	size_t total;
	pthread_t sender, reader;
	uint64_t got, bad_at;
	int err;
	bool waited;        /* the reader saw back-pressure before reading */
};

static void *bp_send(void *arg)
{
	struct bp_peer *p = arg;
	char *buf = malloc(65536);
	size_t off = 0, n, i;
	ssize_t w;

	while (off < p->total) {
		n = p->total - off < 65536 ? p->total - off : 65536;
		for (i = 0; i < n; i++)
			buf[i] = (char)pattern(off + i);
		for (i = 0; i < n; i += (size_t)w) {
			w = write(p->fd, buf + i, n - i);
			if (w <= 0) {
				free(buf);
				return NULL;
			}
		}
		off += n;
	}
	shutdown(p->fd, SHUT_WR);
	free(buf);
	return NULL;
}

static void *bp_read(void *arg)
{
	struct bp_peer *p = arg;
	char *buf = malloc(65536);
	uint64_t deadline = tcpchat__now_ms() + 10000;
	struct timespec ts = { 0, 1000000 };
	ssize_t n, i;

	while (!atomic_load(&lm.engaged) && tcpchat__now_ms() < deadline)
		nanosleep(&ts, NULL);
	p->waited = atomic_load(&lm.engaged);
	p->bad_at = UINT64_MAX;
	for (;;) {
		n = read(p->fd, buf, 65536);
		if (n <= 0) {
			p->err = n < 0 ? errno : 0;
			break;
		}
		for (i = 0; i < n && p->bad_at == UINT64_MAX; i++)
			if ((unsigned char)buf[i] != pattern(p->got + (uint64_t)i))
				p->bad_at = p->got + (uint64_t)i;
		p->got += (uint64_t)n;
	}
	free(buf);
	return NULL;
}

static void small_sndbuf(struct tcpchat_conn *conn)
{
	int small = 4096;

	ck_assert_int_eq(setsockopt(conn->io.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
}

static void sample_cb(struct tcpchat_timer *t, void *arg)
{
	if (lm.connects > lm.closes && lm.closes == 0)
		sample(lm.conns[0]);
}

START_TEST(queue_backpressure_echo)
{
	const size_t limit = 256 * 1024;
	struct bp_peer p = { 0 };
	struct tcpchat_timer *t;

	lm_setup();
	ck_assert_int_eq(tcpchat_server_set_limit(lm.srv, TCPCHAT_LIMIT_QUEUE, limit), 0);
	tcpchat_server_on_data(lm.srv, lm_echo);
	lm.on_connect = small_sndbuf;
	ck_assert_int_eq(tcpchat_server_start(lm.srv, lm.loop), 0);
	ck_assert_int_eq(tcpchat_timer_create(lm.loop, &t, sample_cb, NULL), 0);
	ck_assert_int_eq(tcpchat_timer_start(t, 1, 1), 0);
	p.total = 8u << 20;
	p.fd = test_connect_rcvbuf(tcpchat_server_port(lm.srv), 4096);
	ck_assert_int_eq(pthread_create(&p.sender, NULL, bp_send, &p), 0);
	ck_assert_int_eq(pthread_create(&p.reader, NULL, bp_read, &p), 0);
	lm.stop_at_closes = 1;
	ck_assert_int_eq(tcpchat_loop_run(lm.loop), 0);
	pthread_join(p.sender, NULL);
	pthread_join(p.reader, NULL);
	close(p.fd);
	tcpchat_timer_free(t);

	ck_assert_int_eq(lm.reasons[0], TCPCHAT_EOF); /* not TCPCHAT_EQUEUE */
	ck_assert(p.waited);
	ck_assert_int_eq(p.err, 0);
	ck_assert_uint_eq(p.got, p.total);
	ck_assert_uint_eq(p.bad_at, UINT64_MAX);
	ck_assert_int_eq(lm.over_limit, 0);
	ck_assert_uint_le(lm.max_queued, limit);
	ck_assert_uint_gt(lm.max_queued, limit / 2);
	ck_assert_uint_eq(tcpchat_server_stat(lm.srv, TCPCHAT_STAT_CLOSED_QUEUE), 0);
	ck_assert_uint_eq(tcpchat_server_stat(lm.srv, TCPCHAT_STAT_CLOSED_EOF), 1);
	check_stats(p.total, p.total);
	lm_teardown();
}
END_TEST

/* A peer that never reads while the server keeps sending: the send that
 * would pass the limit fails with TCPCHAT_EQUEUE and closes it. */
static struct {
	struct tcpchat_conn *conn;
	uint64_t sent;          /* bytes accepted by tcpchat_conn_send */
	int rc;
	char chunk[8192];
} fl;

static void flood_tick(struct tcpchat_timer *t, void *arg)
{
	int rc;

	if (!fl.conn)
		return;
	for (size_t i = 0; i < sizeof(fl.chunk); i++)
		fl.chunk[i] = (char)pattern(fl.sent + i);
	rc = tcpchat_conn_send(fl.conn, fl.chunk, sizeof(fl.chunk));
	sample(fl.conn);
	if (rc == 0) {
		fl.sent += sizeof(fl.chunk);
		return;
	}
	fl.rc = rc;
	fl.conn = NULL; /* closed: it is freed at the end of the iteration */
	tcpchat_timer_stop(t);
}

static void flood_connect(struct tcpchat_conn *conn)
{
	small_sndbuf(conn);
	fl.conn = conn;
}

START_TEST(queue_limit_closes_reader_that_never_reads)
{
	const size_t limit = 64 * 1024;
	struct tcpchat_timer *t;
	char *buf = malloc(1 << 20);
	size_t got, i;
	int fd;

	memset(&fl, 0, sizeof(fl));
	lm_setup();
	ck_assert_int_eq(tcpchat_server_set_limit(lm.srv, TCPCHAT_LIMIT_QUEUE, limit), 0);
	lm.on_connect = flood_connect;
	ck_assert_int_eq(tcpchat_server_start(lm.srv, lm.loop), 0);
	ck_assert_int_eq(tcpchat_timer_create(lm.loop, &t, flood_tick, NULL), 0);
	ck_assert_int_eq(tcpchat_timer_start(t, 1, 1), 0);
	fd = test_connect_rcvbuf(tcpchat_server_port(lm.srv), 4096);
	lm.stop_at_closes = 1;
	ck_assert_int_eq(tcpchat_loop_run(lm.loop), 0);
	tcpchat_timer_free(t);
	ck_assert_int_eq(fl.rc, TCPCHAT_EQUEUE);
	ck_assert_int_eq(lm.reasons[0], TCPCHAT_EQUEUE);
	ck_assert_int_eq(lm.over_limit, 0);
	ck_assert_uint_le(lm.max_queued, limit);
	ck_assert_uint_gt(lm.max_queued, limit - sizeof(fl.chunk));
	ck_assert_uint_eq(tcpchat_server_stat(lm.srv, TCPCHAT_STAT_CLOSED_QUEUE), 1);
	/* What did reach the peer is an intact prefix, then the end. */
	got = test_read_all(fd, buf, 1 << 20, 2000);
	ck_assert_uint_lt(got, fl.sent);
	for (i = 0; i < got; i++)
		if ((unsigned char)buf[i] != pattern(i))
			ck_abort_msg("byte %zu differs", i);
	check_stats(0, got); /* everything written reached the peer */
	close(fd);
	free(buf);
	lm_teardown();
}
END_TEST

/* Congestion: a room where every line goes to every other connection, a
 * sender thread writing 2 MiB of lines, and one receiver that reads slowly
 * (every 4 KiB, a 5 ms pause) or never. */
struct room_peer {
	int fd;
	size_t total;           /* bytes to send, or the bytes read */
	int delay_us;           /* reader: pause between reads; -1 never reads */
	pthread_t th;
};

static int sender_paused_seen; /* the sender was paused while a reader lagged */

static void room_line(struct tcpchat_conn *conn, const char *line, size_t len)
{
	static char out[2048];

	memcpy(out, line, len);
	out[len] = '\n';
	ck_assert_int_ge(tcpchat_server_broadcast(lm.srv, out, len + 1, conn), 0);
}

static void *room_send(void *arg)
{
	struct room_peer *p = arg;
	char line[1000];
	size_t sent = 0;

	memset(line, 'l', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	while (sent < p->total) {
		ck_assert_int_eq(write(p->fd, line, sizeof(line)), (ssize_t)sizeof(line));
		sent += sizeof(line);
	}
	shutdown(p->fd, SHUT_WR);
	return NULL;
}

static void *room_read(void *arg)
{
	struct room_peer *p = arg;
	char buf[4096];
	struct timespec ts = { 0, p->delay_us * 1000L };
	ssize_t n;

	while ((n = read(p->fd, buf, sizeof(buf))) > 0) {
		p->total += (size_t)n;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void watch_congestion(struct tcpchat_timer *t, void *arg)
{
	if (lm.connects >= 2 && lm.closes == 0) {
		sample(lm.conns[1]);
		if (lm.conns[1]->congested && lm.conns[0]->paused)
			sender_paused_seen = 1;
	}
}

static struct room_peer room_sender, room_reader;
static bool sender_done(void)
{
	return tcpchat_server_stat(lm.srv, TCPCHAT_STAT_BYTES_IN) == room_sender.total;
}

/* Run the room with a reader that reads every delay_us (-1: never). */
static void run_room(int delay_us)
{
	struct tcpchat_timer *t;
	int port;

	sender_paused_seen = 0;
	lm_setup();
	ck_assert_int_eq(tcpchat_server_set_limit(lm.srv, TCPCHAT_LIMIT_QUEUE, 256 * 1024), 0);
	ck_assert_int_eq(tcpchat_server_set_limit(lm.srv, TCPCHAT_LIMIT_QUEUE_TIME, 300), 0);
	tcpchat_server_on_line(lm.srv, room_line);
	lm.on_connect = small_sndbuf;
	ck_assert_int_eq(tcpchat_server_start(lm.srv, lm.loop), 0);
	port = tcpchat_server_port(lm.srv);
	memset(&room_sender, 0, sizeof(room_sender));
	memset(&room_reader, 0, sizeof(room_reader));
	room_sender.fd = test_connect(port);      /* lm.conns[0] */
	lm.stop_at_connects = 1;
	ck_assert_int_eq(tcpchat_loop_run(lm.loop), 0);
	room_reader.fd = test_connect_rcvbuf(port, 4096);     /* lm.conns[1] */
	lm.stop_at_connects = 2;
	ck_assert_int_eq(tcpchat_loop_run(lm.loop), 0);
	ck_assert_int_eq(tcpchat_timer_create(lm.loop, &t, watch_congestion, NULL), 0);
	ck_assert_int_eq(tcpchat_timer_start(t, 1, 1), 0);
	room_sender.total = 2000 * 1000; /* whole lines */
	room_reader.delay_us = delay_us;
	ck_assert_int_eq(pthread_create(&room_sender.th, NULL, room_send, &room_sender), 0);
	if (delay_us >= 0)
		ck_assert_int_eq(pthread_create(&room_reader.th, NULL, room_read, &room_reader), 0);
	/* Every byte sent is read by the server: the sender is never stuck. */
	test_run_until(lm.loop, sender_done);
	pthread_join(room_sender.th, NULL);
	tcpchat_timer_free(t);
}

START_TEST(slow_reader_pauses_the_sender_and_keeps_up)
{
	run_room(5000);
	/* The sender waited for the reader instead of burying it. */
	ck_assert(sender_paused_seen);
	ck_assert_uint_eq(tcpchat_server_stat(lm.srv, TCPCHAT_STAT_CLOSED_QUEUE), 0);
	ck_assert_int_eq(lm.over_limit, 0);
	tcpchat_server_free(lm.srv); /* the reader sees EOF once all is flushed */
	pthread_join(room_reader.th, NULL);
	ck_assert_int_eq(lm.reasons[1], -ECANCELED);
	close(room_sender.fd);
	close(room_reader.fd);
	ck_assert_int_eq(tcpchat_loop_free(lm.loop), 0);
}
END_TEST

START_TEST(reader_that_never_reads_is_cut_after_the_grace_time)
{
	run_room(-1);
	ck_assert(sender_paused_seen);
	/* Cut off for lagging, before its queue reached the limit itself (the
	 * sender's own close, after its EOF, may follow). */
	ck_assert_int_ge(lm.closes, 1);
	ck_assert_int_eq(lm.reasons[0], TCPCHAT_EQUEUE);
	ck_assert_int_eq(lm.over_limit, 0);
	ck_assert_uint_eq(tcpchat_server_stat(lm.srv, TCPCHAT_STAT_CLOSED_QUEUE), 1);
	close(room_sender.fd);
	close(room_reader.fd);
	lm_teardown();
}
END_TEST

/* Line deadline: a peer writes a few bytes every 20 ms, either never
 * ending its line or ending one every few steps. */
struct trickler {
	int fd;
	const char *pattern;    /* bytes written in a loop */
	size_t chunk;           /* bytes per write */
	int duration_ms;        /* write for this long, then close */
	pthread_t th;
};

static int lines_seen;

static void count_line(struct tcpchat_conn *conn, const char *line, size_t len)
{
	lines_seen++;
}

static void *trickle(void *arg)
{
	struct trickler *t = arg;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	uint64_t end = tcpchat__now_ms() + (uint64_t)t->duration_ms;
	size_t i = 0, k, n = strlen(t->pattern);
	char buf[16];

	while (tcpchat__now_ms() < end) {
		for (k = 0; k < t->chunk; k++)
			buf[k] = t->pattern[i++ % n];
		if (write(t->fd, buf, t->chunk) != (ssize_t)t->chunk)
			break; /* closed by the server */
		nanosleep(&ts, NULL);
	}
	shutdown(t->fd, SHUT_WR);
	return NULL;
}

static uint64_t run_trickler(const char *pattern, size_t chunk, int duration_ms)
{
	struct trickler t = { 0 };
	uint64_t start;

	lines_seen = 0;
	lm_setup();
	ck_assert_int_eq(tcpchat_server_set_limit(lm.srv, TCPCHAT_LIMIT_LINE_TIME, 300), 0);
	ck_assert_int_eq(tcpchat_server_set_limit(lm.srv, TCPCHAT_LIMIT_IDLE, 100), 0);
	tcpchat_server_on_line(lm.srv, count_line);
	ck_assert_int_eq(tcpchat_server_start(lm.srv, lm.loop), 0);
	t.fd = test_connect(tcpchat_server_port(lm.srv));
	/* One segment per write, so one read per write. */
	ck_assert_int_eq(setsockopt(t.fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int)), 0);
	t.pattern = pattern;
	t.chunk = chunk;
	t.duration_ms = duration_ms;
	start = tcpchat__now_ms();
	ck_assert_int_eq(pthread_create(&t.th, NULL, trickle, &t), 0);
	lm.stop_at_closes = 1;
	ck_assert_int_eq(tcpchat_loop_run(lm.loop), 0);
	pthread_join(t.th, NULL);
	close(t.fd);
	return tcpchat__now_ms() - start;
}

START_TEST(line_deadline_cuts_a_trickler)
{
	/* Bytes every 20 ms keep it from being idle (100 ms); only the line's
	 * total time (300 ms) stops it. */
	uint64_t took = run_trickler("x", 1, 5000);

	ck_assert_int_eq(lm.reasons[0], TCPCHAT_ESLOW);
	ck_assert_uint_ge(took, 300);
	ck_assert_uint_lt(took, 5000);
	ck_assert_uint_eq(tcpchat_server_stat(lm.srv, TCPCHAT_STAT_CLOSED_SLOW), 1);
	ck_assert_int_eq(lines_seen, 0);
	check_stats(tcpchat_server_stat(lm.srv, TCPCHAT_STAT_BYTES_IN), 0);
	lm_teardown();
}
END_TEST

START_TEST(line_deadline_restarts_with_every_line)
{
	/* 17-byte lines written 2 bytes every 20 ms, for a whole second: each
	 * line takes 170 ms, under the 300 ms deadline, and a read starts on a
	 * line boundary only every 340 ms: most reads that end a line begin
	 * the next, which must restart the deadline.  No cut-off: the close
	 * is the peer's own. */
	run_trickler("0123456789abcdef\n", 2, 1000);
	ck_assert_int_eq(lm.reasons[0], TCPCHAT_EOF);
	ck_assert_int_ge(lines_seen, 4);
	ck_assert_uint_eq(tcpchat_server_stat(lm.srv, TCPCHAT_STAT_CLOSED_SLOW), 0);
	lm_teardown();
}
END_TEST

/* Three senders each write 64 KiB of 2-byte lines at once: 98,304 lines
 * for one receiver that reads slowly.  Framing them all in one iteration
 * would queue megabytes of entries on it (64 bytes of bookkeeping each)
 * and cut it off; instead each sender's rest is held back as soon as one
 * of its lines lands in the lagging queue.  Nobody is cut off, every line
 * arrives, and the queue stays under its limit. */
static size_t tiny_got;

/* Every line is broadcast (one queue entry per line, unlike a send, which
 * is gathered into chunks) to the reader, lm.conns[0], alone. */
static int is_reader(const struct tcpchat_conn *conn, void *arg)
{
	return conn == lm.conns[0];
}

static void to_reader(struct tcpchat_conn *conn, const char *line, size_t len)
{
	char out[64];

	memcpy(out, line, len);
	out[len] = '\n';
	tcpchat_server_broadcast_if(lm.srv, out, len + 1, is_reader, NULL);
}

static bool tiny_all_read(void)
{
	return tiny_got == 3u * 65536;
}

static void *tiny_read(void *arg)
{
	int fd = *(int *)arg;
	char buf[4096];
	struct timespec ts = { 0, 200 * 1000 };
	ssize_t n;

	while (tiny_got < 3u * 65536 && (n = read(fd, buf, sizeof(buf))) > 0) {
		tiny_got += (size_t)n;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* A sender's line congests a reader, which the same callback then closes
 * for passing its limit: nobody lags any more, so the sender must not be
 * paused for it (nothing would ever resume it). */
static int flood_lines;

static void flood_reader(struct tcpchat_conn *conn, const char *line, size_t len)
{
	static char chunk[16384];
	int rc = 0, i;

	ck_assert_ptr_eq(conn, lm.conns[0]);
	flood_lines++;
	if (len != 5 || memcmp(line, "flood", 5) != 0)
		return;
	for (i = 0; i < 1000 && rc == 0; i++)
		rc = tcpchat_conn_send(lm.conns[1], chunk, sizeof(chunk));
	ck_assert_int_eq(rc, TCPCHAT_EQUEUE);
}

static bool reader_gone(void) { return lm.closes == 1; }
static bool two_lines(void) { return flood_lines == 2; }

START_TEST(sender_goes_on_when_the_reader_it_congested_is_closed)
{
	int sender, reader;

	lm_setup();
	ck_assert_int_eq(tcpchat_server_set_limit(lm.srv, TCPCHAT_LIMIT_QUEUE, 64 << 10), 0);
	tcpchat_server_on_line(lm.srv, flood_reader);
	ck_assert_int_eq(tcpchat_server_start(lm.srv, lm.loop), 0);
	sender = test_connect(tcpchat_server_port(lm.srv));
	reader = test_connect(tcpchat_server_port(lm.srv)); /* never reads */
	want_connects = 2;
	ck_assert(test_run_within(lm.loop, connects_reached, 5000));
	flood_lines = 0;
	ck_assert_int_eq(write(sender, "flood\n", 6), 6);
	ck_assert(test_run_within(lm.loop, reader_gone, 5000));
	ck_assert_int_eq(lm.reasons[0], TCPCHAT_EQUEUE);
	ck_assert_int_eq(write(sender, "after\n", 6), 6);
	ck_assert_msg(test_run_within(lm.loop, two_lines, 5000),
	              "the sender's next line was not read");
	close(sender);
	close(reader);
	lm_teardown();
}
END_TEST

START_TEST(tiny_lines_are_held_back_not_buried_on_a_reader)
{
	char *lines = malloc(65536);
	int senders[3], reader, i, port;
	struct tcpchat_timer *t;
	pthread_t th;

	for (i = 0; i < 65536; i += 2)
		memcpy(lines + i, "a\n", 2);
	tiny_got = 0;
	lm_setup();
	ck_assert_int_eq(tcpchat_server_set_limit(lm.srv, TCPCHAT_LIMIT_QUEUE, 256 * 1024), 0);
	tcpchat_server_on_line(lm.srv, to_reader);
	lm.on_connect = small_sndbuf;
	ck_assert_int_eq(tcpchat_server_start(lm.srv, lm.loop), 0);
	port = tcpchat_server_port(lm.srv);
	reader = test_connect_rcvbuf(port, 4096);
	lm.stop_at_connects = 1;
	ck_assert_int_eq(tcpchat_loop_run(lm.loop), 0); /* it is lm.conns[0] */
	for (i = 0; i < 3; i++)
		senders[i] = test_connect(port);
	lm.stop_at_connects = 4;
	ck_assert_int_eq(tcpchat_loop_run(lm.loop), 0);
	ck_assert_int_eq(tcpchat_timer_create(lm.loop, &t, watch_congestion, NULL), 0);
	ck_assert_int_eq(tcpchat_timer_start(t, 1, 1), 0);
	for (i = 0; i < 3; i++)  /* all of it waits in the kernel at once */
		ck_assert_int_eq(write(senders[i], lines, 65536), 65536);
	ck_assert_int_eq(pthread_create(&th, NULL, tiny_read, &reader), 0);
	test_run_until(lm.loop, tiny_all_read);
	pthread_join(th, NULL);
	tcpchat_timer_free(t);
	ck_assert_uint_eq(tcpchat_server_stat(lm.srv, TCPCHAT_STAT_CLOSED_QUEUE), 0);
	ck_assert_int_eq(lm.closes, 0);
	for (i = 0; i < 3; i++)
		close(senders[i]);
	close(reader);
	free(lines);
	lm_teardown();
}
END_TEST

START_TEST(stat_and_strerror_contracts)
{
	static const int codes[] = { TCPCHAT_EOF, TCPCHAT_EQUEUE, TCPCHAT_EIDLE, TCPCHAT_EFULL };
	struct tcpchat_server *srv;
	const char *unknown = tcpchat_strerror(-123456);
	size_t i, j;
	int st;

	ck_assert_int_eq(tcpchat_server_create(&srv), 0);
	ck_assert_uint_eq(tcpchat_server_stat(NULL, TCPCHAT_STAT_ACCEPTED), 0);
	ck_assert_uint_eq(tcpchat_server_stat(NULL, TCPCHAT_STAT_LIVE), 0);
	ck_assert_uint_eq(tcpchat_server_stat(srv, (enum tcpchat_stat)(TCPCHAT_STAT_BYTES_OUT + 1)), 0);
	ck_assert_uint_eq(tcpchat_server_stat(srv, (enum tcpchat_stat)-1), 0);
	ck_assert_uint_eq(tcpchat_server_stat(srv, (enum tcpchat_stat)100000), 0);
	for (st = TCPCHAT_STAT_ACCEPTED; st <= TCPCHAT_STAT_BYTES_OUT; st++)
		ck_assert_uint_eq(tcpchat_server_stat(srv, (enum tcpchat_stat)st), 0);
	/* An unknown counter is 0 even when the known ones are not. */
	srv->stat[TCPCHAT_STAT_ACCEPTED] = 7;
	ck_assert_uint_eq(tcpchat_server_stat(srv, (enum tcpchat_stat)(TCPCHAT_STAT_BYTES_OUT + 1)), 0);
	ck_assert_uint_eq(tcpchat_server_stat(srv, TCPCHAT_STAT_LIVE), 7);
	tcpchat_server_free(srv);

	/* The new codes are distinct from each other and from errno values. */
	ck_assert(TCPCHAT_EQUEUE != TCPCHAT_EIDLE && TCPCHAT_EIDLE != TCPCHAT_EFULL &&
	          TCPCHAT_EQUEUE != TCPCHAT_EFULL);
	for (i = 0; i < TCPCHAT__ARRAY_SIZE(codes); i++) {
		const char *t = tcpchat_strerror(codes[i]);

		ck_assert_ptr_nonnull(t);
		ck_assert_str_ne(t, "");
		ck_assert_str_ne(t, unknown);
		ck_assert_str_ne(t, tcpchat_strerror(-EPIPE));
		ck_assert_str_ne(t, tcpchat_strerror(-ECONNRESET));
		for (j = 0; j < i; j++)
			ck_assert_str_ne(t, tcpchat_strerror(codes[j]));
	}
}
END_TEST

static Suite *limits_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *clients = tcase_create("clients"), *idle = tcase_create("idle"),
	      *queue = tcase_create("queue"), *stats = tcase_create("stats");

	signal(SIGPIPE, SIG_IGN);
	tcase_set_timeout(clients, 20);
	tcase_add_test(clients, clients_limit);
	suite_add_tcase(s, clients);

	tcase_set_timeout(idle, 20);
	tcase_add_test(idle, idle_client_closed);
	tcase_add_test(idle, active_client_not_closed);
	tcase_add_test(idle, idle_counts_from_last_input);
	tcase_add_test(idle, idle_counts_from_connect_after_quiet_loop);
	tcase_add_test(idle, idle_off_by_default);
	suite_add_tcase(s, idle);

	tcase_set_timeout(queue, 30);
	tcase_add_test(queue, queue_backpressure_echo);
	tcase_add_test(queue, queue_limit_closes_reader_that_never_reads);
	tcase_add_test(queue, slow_reader_pauses_the_sender_and_keeps_up);
	tcase_add_test(queue, reader_that_never_reads_is_cut_after_the_grace_time);
	tcase_add_test(queue, tiny_lines_are_held_back_not_buried_on_a_reader);
	tcase_add_test(queue, sender_goes_on_when_the_reader_it_congested_is_closed);
	tcase_add_test(queue, line_deadline_cuts_a_trickler);
	tcase_add_test(queue, line_deadline_restarts_with_every_line);
	suite_add_tcase(s, queue);

	tcase_set_timeout(stats, 10);
	tcase_add_test(stats, stat_and_strerror_contracts);
	suite_add_tcase(s, stats);
	return s;
}

TEST_MAIN(limits_suite)
