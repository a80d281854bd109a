/* check_conn.c - the invariants of a connection's life that no single
 * callback shows: a descriptor number freed and taken again within one
 * loop iteration gets no stale event and no data meant for the connection
 * that had it, and every byte a send accepted is either delivered or the
 * failure is reported by the connection's close, exactly once (a flush
 * that runs out of time included). */
#include "internal.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "server.h"
#include "testutil.h"

/* ------------------------------------------------------------------ */
/* A descriptor number reused within one iteration.                  */

/* Room has W and X.  Within one batch of events: W's line makes the
 * application queue more for X than X's limit allows, so X is closed;
 * then the lobby's listener accepts Y; then X's own readiness (it sent a
 * line) comes up.  Had X's descriptor been closed at once, Y would get
 * its number, X's late event could read Y's socket, and X's teardown
 * would close Y's.  Y must be served as if X had never been. */

struct reuse {
	struct tcpchat_loop *loop;
	struct tcpchat_server *room, *lobby;
	struct tcpchat_conn *w, *x, *y;
	char log[256];        /* what happened, in order, "|"-separated */
	int x_closes, x_reason, y_closes, y_reason, y_lines;
};

static struct reuse ru;

static void ru_log(const char *what)
{
	size_t len = strlen(ru.log);

	snprintf(ru.log + len, sizeof(ru.log) - len, "%s%s", len ? "|" : "", what);
}

static void room_connect(struct tcpchat_conn *conn)
{
	if (!ru.w)
		ru.w = conn;
	else
		ru.x = conn;
}

static void room_line(struct tcpchat_conn *conn, const char *line, size_t len)
{
	static char chunk[16384];
	int rc, i;

	if (conn == ru.x) {
		ru_log("x line"); /* X sent one before it was closed: must not show */
		return;
	}
	ck_assert_ptr_eq(conn, ru.w);
	ck_assert_int_eq((int)len, 6);
	ck_assert_int_eq(memcmp(line, "kill x", 6), 0);
	/* X reads nothing: the first chunks fill its socket, the next ones
	 * its queue, and one of them would pass the queue limit. */
	memset(chunk, 'x', sizeof(chunk));
	for (i = 0, rc = 0; i < 1000 && rc == 0; i++)
		rc = tcpchat_conn_send(ru.x, chunk, sizeof(chunk));
	ck_assert_int_eq(rc, TCPCHAT_EQUEUE);
	ru_log("x killed with output queued");
	tcpchat_loop_stop(ru.loop); /* after this iteration */
}

static void room_close(struct tcpchat_conn *conn, int reason)
{
	if (conn != ru.x)
		return;
	ru.x_closes++;
	ru.x_reason = reason;
	ru_log("x closed");
}

static void lobby_connect(struct tcpchat_conn *conn)
{
	ck_assert_ptr_null(ru.y);
	ru.y = conn;
	ru_log("y accepted");
}

static void lobby_line(struct tcpchat_conn *conn, const char *line, size_t len)
{
	ck_assert_ptr_eq(conn, ru.y);
	ck_assert_int_eq((int)len, 5);
	ck_assert_int_eq(memcmp(line, "hello", 5), 0);
	ru.y_lines++;
	ck_assert_int_eq(tcpchat_conn_send(conn, "hello y\n", 8), 0);
}

static void lobby_close(struct tcpchat_conn *conn, int reason)
{
	ck_assert_ptr_eq(conn, ru.y);
	ru.y_closes++;
	ru.y_reason = reason;
}

static bool w_and_x_connected(void) { return ru.w && ru.x; }
static bool w_connected(void) { return ru.w != NULL; }
static bool y_answered(void) { return ru.y_lines > 0; }
static bool y_closed(void) { return ru.y_closes > 0; }

static struct tcpchat_server *ru_server(tcpchat_connect_cb *on_connect,
                                        tcpchat_line_cb *on_line, tcpchat_close_cb *on_close)
{
	struct tcpchat_server *srv;

	ck_assert_int_eq(tcpchat_server_create(&srv), 0);
	ck_assert_int_eq(tcpchat_server_bind(srv, "127.0.0.1", 0), 0);
	ck_assert_int_eq(tcpchat_server_listen(srv, 16), 0);
	ck_assert_int_eq(tcpchat_server_set_limit(srv, TCPCHAT_LIMIT_QUEUE, 64 << 10), 0);
	tcpchat_server_on_connect(srv, on_connect);
	tcpchat_server_on_line(srv, on_line);
	tcpchat_server_on_close(srv, on_close);
	ck_assert_int_eq(tcpchat_server_start(srv, ru.loop), 0);
	return srv;
}

/* Wait until fd is readable. */
static void wait_readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
}

START_TEST(reused_descriptor_gets_no_stale_event_or_data)
{
	int before = test_open_fds();
	int cw, cx, cy, xfd, filler[64], nfiller = 0, fd;
	char got[64];
	size_t n;

	memset(&ru, 0, sizeof(ru));
	ck_assert_int_eq(tcpchat_loop_create(&ru.loop), 0);
	ru.room = ru_server(room_connect, room_line, room_close);

	/* Registration order W, lobby listener, X: the order the poll(2)
	 * backend reports them in; epoll reports them in the order they
	 * became ready, arranged below. */
	cw = test_connect(tcpchat_server_port(ru.room));
	ck_assert(test_run_within(ru.loop, w_connected, 5000));
	ru.lobby = ru_server(lobby_connect, lobby_line, lobby_close);
	cx = test_connect(tcpchat_server_port(ru.room));
	ck_assert(test_run_within(ru.loop, w_and_x_connected, 5000));
	xfd = ru.x->io.fd;

	/* Fill every free number below X's, so that X's number is the one
	 * the next descriptor would get if X's were closed. */
	while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < xfd) {
		ck_assert_int_ge(fd, 0);
		ck_assert_int_lt(nfiller, 64);
		filler[nfiller++] = fd;
	}
	close(fd);

	/* The batch: W's line, then Y's connection, then X's line, each
	 * seen ready by the server before the next is made, so that epoll
	 * lists them in this order even if the kernel defers the delivery
	 * to another CPU. */
	ck_assert_int_eq(write(cw, "kill x\n", 7), 7);
	wait_readable(ru.w->io.fd);
	cy = test_connect(tcpchat_server_port(ru.lobby));
	ck_assert_int_eq(write(cy, "hello\n", 6), 6);
	wait_readable(ru.lobby->fd);
	ck_assert_int_eq(write(cx, "from x\n", 7), 7);
	wait_readable(xfd);

	ck_assert_int_eq(tcpchat_loop_run(ru.loop), 0);
	/* The premise: X was closed before Y was accepted, in one batch whose
	 * end tore X down.  Nothing came of X's late readiness. */
	ck_assert_msg(strcmp(ru.log, "x killed with output queued|y accepted|x closed") == 0,
	              "the batch ran as: %s", ru.log);
	ck_assert_int_eq(ru.x_closes, 1);
	ck_assert_int_eq(ru.x_reason, TCPCHAT_EQUEUE);

	/* Y is served on its own socket, which X's teardown did not close. */
	ck_assert(test_run_within(ru.loop, y_answered, 5000));
	ck_assert_uint_eq(test_read_all(cy, got, 8, 5000), 8);
	ck_assert_int_eq(memcmp(got, "hello y\n", 8), 0);
	ck_assert_int_eq(shutdown(cy, SHUT_WR), 0);
	ck_assert(test_run_within(ru.loop, y_closed, 5000));
	ck_assert_int_eq(ru.y_reason, TCPCHAT_EOF);
	n = test_read_all(cy, got, sizeof(got), 5000);
	ck_assert_uint_eq(n, 0); /* nothing meant for X, then EOF */
	ck_assert_int_eq(ru.y_lines, 1);
	ck_assert_int_eq(ru.x_closes, 1);

	/* X's peer got a part of what was meant for it, and then the end. */
	while ((n = test_read_all(cx, got, sizeof(got), 5000)) > 0)
		while (n > 0)
			ck_assert_int_eq(got[--n], 'x');

	ck_assert_uint_eq(tcpchat_server_stat(ru.room, TCPCHAT_STAT_CLOSED_QUEUE), 1);
	ck_assert_uint_eq(tcpchat_server_stat(ru.lobby, TCPCHAT_STAT_CLOSED_EOF), 1);
	test_check_counters(ru.room);
	test_check_counters(ru.lobby);
	tcpchat_server_free(ru.room);
	tcpchat_server_free(ru.lobby);
	ck_assert_int_eq(tcpchat_loop_free(ru.loop), 0);
	close(cw);
	close(cx);
	close(cy);
	while (nfiller > 0)
		close(filler[--nfiller]);
	ck_assert_int_eq(test_open_fds(), before);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Every byte accepted is delivered, or the close says why not.       */

/* The server sends each peer its own random stream, in chunks of 1 to
 * 4096 bytes, by tcpchat_conn_send and (every fourth tick) by broadcast,
 * and keeps a copy of every byte a call accepted.  Peers behave in five
 * ways.  In the end, for every connection: the close callback ran once;
 * the peer received a prefix of the accepted bytes (nothing lost in the
 * middle, nothing twice, nothing of another's); and if the close reason
 * is a clean one (0, TCPCHAT_EOF) the prefix is all of it, while any
 * other reason is the failure, reported. */

enum kind {
	READER,   /* reads everything, through small socket buffers; the
	             server closes it with output queued: reason 0 */
	HALF,     /* shuts down its sending side at once, reads everything;
	             the server sends on, then closes it: TCPCHAT_EOF */
	RESETTER, /* reads a little, then resets: -ECONNRESET or -EPIPE */
	STALLER,  /* reads nothing: TCPCHAT_EQUEUE, then reads what got through */
	FREED,    /* reads everything, still open when the server is freed:
	             -ECANCELED */
	NKINDS
};

enum { PER_KIND = 6, NPEERS = NKINDS * PER_KIND, CHUNK = 4096 };

struct rec {
	enum kind kind;
	int fd;                     /* the peer's socket */
	int port;                   /* the peer's local port */
	struct tcpchat_conn *conn;  /* NULL once closed */
	bool closing;               /* the server asked to close it */
	int closes, reason;
	uint64_t seed;
	char *sent;                 /* every byte a call accepted for it */
	size_t sent_len, sent_cap, budget;
	size_t queued_before;       /* its queue when a broadcast chose it */
	bool chosen;
	/* The peer's side, owned by the peer thread until it is joined. */
	char *got;
	size_t got_len, got_cap;
	atomic_bool may_read;       /* a staller reads once it is closed */
	bool done;
};

struct acct {
	struct tcpchat_loop *loop;
	struct tcpchat_server *srv;
	struct tcpchat_timer *tick;
	struct rec rec[NPEERS];
	int ticks, closes;
	char chunk[CHUNK];
	uint64_t seed;
	pthread_t peers;
	bool peers_running;
	atomic_bool stop_peers;  /* set by the teardown after a failure */
};

static struct acct ac;

static uint64_t next_random(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A chunk of 1..CHUNK random bytes from *seed into ac.chunk. */
static size_t make_chunk(uint64_t *seed)
{
	size_t len = 1 + next_random(seed) % CHUNK, i;

	for (i = 0; i < len; i++)
		ac.chunk[i] = (char)next_random(seed);
	return len;
}

static void accepted(struct rec *r, const char *data, size_t len)
{
	if (r->sent_len + len > r->sent_cap) {
		r->sent_cap = (r->sent_len + len) * 2;
		r->sent = realloc(r->sent, r->sent_cap);
		ck_assert_ptr_nonnull(r->sent);
	}
	memcpy(r->sent + r->sent_len, data, len);
	r->sent_len += len;
}

/* A broadcast goes to the peers that keep up and to the stallers; a
 * well-behaved application holds back from a lagging reader. */
static int ac_choose(const struct tcpchat_conn *conn, void *arg)
{
	struct rec *r = tcpchat_conn_userdata(conn);

	if (r->kind != STALLER && tcpchat_conn_queued(conn) > 16384)
		return 0;
	r->chosen = true;
	r->queued_before = tcpchat_conn_queued(conn);
	return 1;
}

static void ac_broadcast(void)
{
	size_t len = make_chunk(&ac.seed);
	int i, n, count = 0;

	for (i = 0; i < NPEERS; i++)
		ac.rec[i].chosen = false;
	n = tcpchat_server_broadcast_if(ac.srv, ac.chunk, len, ac_choose, NULL);
	ck_assert_int_ge(n, 0);
	/* Taken where the queue grew by the chunk (a broadcast only
	 * queues); a receiver it would have put over its limit is closed. */
	for (i = 0; i < NPEERS; i++) {
		struct rec *r = &ac.rec[i];

		if (!r->chosen)
			continue;
		if (tcpchat_conn_queued(r->conn) == r->queued_before + len) {
			accepted(r, ac.chunk, len);
			count++;
		} else {
			ck_assert_int_eq(tcpchat_conn_queued(r->conn), r->queued_before);
		}
	}
	ck_assert_int_eq(count, n);
}

static void ac_send(struct rec *r)
{
	size_t len;
	int rc;

	if (r->budget && r->sent_len >= r->budget) {
		if (r->kind == READER) {
			/* Once the queue is empty, a tail its small socket
			 * buffers cannot take at once (they hold 16 KiB at
			 * most), then the close, which must deliver it. */
			static char tail[32768];

			if (tcpchat_conn_queued(r->conn) > 0)
				return;
			memset(tail, 't', sizeof(tail));
			ck_assert_int_eq(tcpchat_conn_send(r->conn, tail, sizeof(tail)), 0);
			accepted(r, tail, sizeof(tail));
			ck_assert_uint_gt(tcpchat_conn_queued(r->conn), 0);
		}
		r->closing = true;
		tcpchat_conn_close(r->conn);
		return;
	}
	if (r->kind != STALLER && tcpchat_conn_queued(r->conn) > 16384)
		return;
	len = make_chunk(&r->seed);
	rc = tcpchat_conn_send(r->conn, ac.chunk, len);
	if (rc == 0)
		accepted(r, ac.chunk, len);
	else
		ck_assert_int_lt(rc, 0); /* refused: the close will say why */
}

static void ac_tick(struct tcpchat_timer *t, void *arg)
{
	int i;

	if (++ac.ticks % 4 == 0) {
		ac_broadcast();
		return;
	}
	for (i = 0; i < NPEERS; i++)
		if (ac.rec[i].conn && !ac.rec[i].closing)
			ac_send(&ac.rec[i]);
}

static void ac_connect(struct tcpchat_conn *conn)
{
	const char *colon = strrchr(tcpchat_conn_peer(conn), ':');
	int i, port;

	ck_assert_ptr_nonnull(colon);
	port = atoi(colon + 1);
	for (i = 0; i < NPEERS && ac.rec[i].port != port; i++)
		;
	ck_assert_int_lt(i, NPEERS);
	ck_assert_ptr_null(ac.rec[i].conn);
	ac.rec[i].conn = conn;
	tcpchat_conn_set_userdata(conn, &ac.rec[i]);
	if (ac.rec[i].kind == STALLER || ac.rec[i].kind == READER) {
		/* Its queue fills sooner behind a small socket buffer. */
		int small = 4096;

		ck_assert_int_eq(setsockopt(conn->io.fd, SOL_SOCKET, SO_SNDBUF,
		                            &small, sizeof(small)), 0);
	}
}

static void ac_eof(struct tcpchat_conn *conn)
{
	struct rec *r = tcpchat_conn_userdata(conn);

	ck_assert_int_eq(r->kind, HALF); /* the others send nothing, and
	                                    closed ones get no callback */
	ck_assert_int_eq(r->closes, 0);
}

static void ac_close(struct tcpchat_conn *conn, int reason)
{
	struct rec *r = tcpchat_conn_userdata(conn);

	ck_assert_ptr_eq(r->conn, conn);
	r->closes++;
	r->reason = reason;
	r->conn = NULL;
	ac.closes++;
	if (r->kind == STALLER)
		atomic_store(&r->may_read, true);
}

/* The peers: one thread reading every socket as its kind says. */
static void *peers_main(void *arg)
{
	struct pollfd pfd[NPEERS];
	struct rec *idx[NPEERS];
	struct timespec start, now;
	int i, n, left = NPEERS;
	ssize_t got;

	/* Every peer ends within the test's time, or the test fails on it. */
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (now = start; left > 0 && now.tv_sec - start.tv_sec < 40 &&
	     !atomic_load(&ac.stop_peers); clock_gettime(CLOCK_MONOTONIC, &now)) {
		for (n = 0, i = 0; i < NPEERS; i++) {
			struct rec *r = &ac.rec[i];

			if (r->done || !atomic_load(&r->may_read))
				continue;
			pfd[n].fd = r->fd;
			pfd[n].events = POLLIN;
			idx[n++] = r;
		}
		if (poll(pfd, (nfds_t)n, 1) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			struct rec *r = idx[i];

			if (!pfd[i].revents)
				continue;
			if (r->got_cap - r->got_len < 65536) {
				r->got_cap = r->got_cap * 2 + 65536;
				r->got = realloc(r->got, r->got_cap);
				if (!r->got)
					abort();
			}
			got = read(r->fd, r->got + r->got_len, 65536);
			if (got > 0)
				r->got_len += (size_t)got;
			if (got > 0 && r->kind == RESETTER && r->got_len >= 8192) {
				test_reset(r->fd);
				r->fd = -1;
			}
			if (got <= 0 && r->fd >= 0) {
				close(r->fd); /* the server's linger ends */
				r->fd = -1;
			}
			if (r->fd < 0) {
				r->done = true;
				left--;
			}
		}
	}
	return NULL;
}

/* After a failure, the peer thread must not go on closing descriptors
 * while the next test runs (in the same process under CK_FORK=no). */
static void ac_teardown(void)
{
	if (ac.peers_running) {
		atomic_store(&ac.stop_peers, true);
		pthread_join(ac.peers, NULL);
		ac.peers_running = false;
	}
}

static bool all_but_freed_closed(void)
{
	int i;

	for (i = 0; i < NPEERS; i++)
		if (ac.rec[i].kind != FREED && ac.rec[i].closes == 0)
			return false;
	return true;
}

START_TEST(every_accepted_byte_delivered_or_failure_reported_once)
{
	static const enum tcpchat_stat closed_stat[NKINDS] = {
		[READER] = TCPCHAT_STAT_CLOSED_APP, [HALF] = TCPCHAT_STAT_CLOSED_EOF,
		[RESETTER] = TCPCHAT_STAT_CLOSED_ERROR, [STALLER] = TCPCHAT_STAT_CLOSED_QUEUE,
		[FREED] = TCPCHAT_STAT_CLOSED_FREED,
	};
	int before = test_open_fds(), i, k, port;

	memset(&ac, 0, sizeof(ac));
	atomic_init(&ac.stop_peers, false);
	ac.seed = 0x9e3779b97f4a7c15u;
	ck_assert_int_eq(tcpchat_loop_create(&ac.loop), 0);
	ck_assert_int_eq(tcpchat_server_create(&ac.srv), 0);
	ck_assert_int_eq(tcpchat_server_bind(ac.srv, "127.0.0.1", 0), 0);
	ck_assert_int_eq(tcpchat_server_listen(ac.srv, NPEERS), 0);
	ck_assert_int_eq(tcpchat_server_set_limit(ac.srv, TCPCHAT_LIMIT_QUEUE, 64 << 10), 0);
	/* No grace time: a reader the peer thread is slow to serve (under
	 * valgrind, say) is not cut off; stallers pass the limit itself. */
	ck_assert_int_eq(tcpchat_server_set_limit(ac.srv, TCPCHAT_LIMIT_QUEUE_TIME, 0), 0);
	tcpchat_server_on_connect(ac.srv, ac_connect);
	tcpchat_server_on_eof(ac.srv, ac_eof);
	tcpchat_server_on_close(ac.srv, ac_close);
	ck_assert_int_eq(tcpchat_server_start(ac.srv, ac.loop), 0);
	port = tcpchat_server_port(ac.srv);

	for (i = 0; i < NPEERS; i++) {
		struct rec *r = &ac.rec[i];
		struct sockaddr_in sin;
		socklen_t len = sizeof(sin);

		r->kind = (enum kind)(i % NKINDS);
		r->seed = 0x2545f4914f6cdd1du * (uint64_t)(i + 1);
		if (r->kind == READER || r->kind == HALF)
			r->budget = 65536 + (size_t)i * 4096;
		r->fd = test_connect_rcvbuf(port, r->kind == READER ? 4096 : 0);
		ck_assert_int_eq(getsockname(r->fd, (struct sockaddr *)&sin, &len), 0);
		r->port = ntohs(sin.sin_port);
		if (r->kind == HALF)
			ck_assert_int_eq(shutdown(r->fd, SHUT_WR), 0);
		atomic_init(&r->may_read, r->kind != STALLER);
	}
	ck_assert_int_eq(pthread_create(&ac.peers, NULL, peers_main, NULL), 0);
	ac.peers_running = true;
	ck_assert_int_eq(tcpchat_timer_create(ac.loop, &ac.tick, ac_tick, NULL), 0);
	ck_assert_int_eq(tcpchat_timer_start(ac.tick, 1, 1), 0);
	ck_assert(test_run_within(ac.loop, all_but_freed_closed, 20000));
	tcpchat_timer_free(ac.tick);
	for (k = 0; k < NKINDS; k++)
		if (k != FREED)
			ck_assert_uint_eq(tcpchat_server_stat(ac.srv, closed_stat[k]), PER_KIND);
	ck_assert_uint_eq(tcpchat_server_stat(ac.srv, TCPCHAT_STAT_LIVE), PER_KIND);
	ck_assert_uint_eq(tcpchat_server_stat(ac.srv, TCPCHAT_STAT_ACCEPTED), NPEERS);
	test_check_counters(ac.srv);
	tcpchat_server_free(ac.srv); /* the FREED ones close now */
	ck_assert_int_eq(tcpchat_loop_free(ac.loop), 0);
	pthread_join(ac.peers, NULL);
	ac.peers_running = false;

	for (i = 0; i < NPEERS; i++) {
		struct rec *r = &ac.rec[i];

		ck_assert_msg(r->done, "peer %d (kind %d) never saw its end", i, r->kind);
		ck_assert_int_eq(r->closes, 1);
		ck_assert_msg(r->got_len <= r->sent_len &&
		              (r->got_len == 0 || memcmp(r->got, r->sent, r->got_len) == 0),
		              "peer %d (kind %d): %zu bytes received are not a prefix of the %zu sent",
		              i, r->kind, r->got_len, r->sent_len);
		switch (r->kind) {
		case READER:
		case HALF:
			ck_assert_int_eq(r->reason, r->kind == READER ? 0 : TCPCHAT_EOF);
			ck_assert_uint_ge(r->sent_len, r->budget);
			ck_assert_uint_eq(r->got_len, r->sent_len); /* all of it */
			break;
		case RESETTER:
			ck_assert_msg(r->reason == -ECONNRESET || r->reason == -EPIPE,
			              "resetter closed with %d", r->reason);
			break;
		case STALLER:
			ck_assert_int_eq(r->reason, TCPCHAT_EQUEUE);
			ck_assert_uint_gt(r->sent_len, r->got_len); /* the queue was lost */
			break;
		case FREED:
			ck_assert_int_eq(r->reason, -ECANCELED);
			ck_assert_uint_gt(r->got_len, 0);
			break;
		default:
			ck_abort();
		}
		free(r->sent);
		free(r->got);
	}
	ck_assert_int_eq(ac.closes, NPEERS);
	ck_assert_int_eq(test_open_fds(), before);
}
END_TEST

/* A graceful close whose flush runs out of time is a failure, reported:
 * the reason 0 would claim everything was delivered. */

static struct {
	int closes, reason;
} fl;

static void fl_connect(struct tcpchat_conn *conn)
{
	enum { SIZE = 1 << 20 };
	char *big = calloc(1, SIZE);
	int small = 4096;

	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(setsockopt(conn->io.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	ck_assert_int_eq(tcpchat_conn_send(conn, big, SIZE), 0);
	free(big);
	ck_assert_uint_gt(tcpchat_conn_queued(conn), 0);
	tcpchat_conn_close(conn);
	/* The flush deadline (10 s) comes now rather than later. */
	ck_assert_int_eq(tcpchat_timer_start(&conn->timer, 1, 0), 0);
}

static void fl_close(struct tcpchat_conn *conn, int reason)
{
	fl.closes++;
	fl.reason = reason;
}

static bool fl_closed(void) { return fl.closes > 0; }

START_TEST(flush_out_of_time_is_reported)
{
	struct tcpchat_loop *loop;
	struct tcpchat_server *srv;
	char buf[65536];
	size_t got = 0, n;
	int fd;

	memset(&fl, 0, sizeof(fl));
	ck_assert_int_eq(tcpchat_loop_create(&loop), 0);
	ck_assert_int_eq(tcpchat_server_create(&srv), 0);
	ck_assert_int_eq(tcpchat_server_bind(srv, "127.0.0.1", 0), 0);
	ck_assert_int_eq(tcpchat_server_listen(srv, 4), 0);
	ck_assert_int_eq(tcpchat_server_set_limit(srv, TCPCHAT_LIMIT_QUEUE, 0), 0);
	tcpchat_server_on_connect(srv, fl_connect);
	tcpchat_server_on_close(srv, fl_close);
	ck_assert_int_eq(tcpchat_server_start(srv, loop), 0);
	fd = test_connect_rcvbuf(tcpchat_server_port(srv), 4096); /* never reads */
	ck_assert(test_run_within(loop, fl_closed, 5000));
	ck_assert_int_eq(fl.closes, 1);
	ck_assert_int_eq(fl.reason, -ETIMEDOUT);
	ck_assert_uint_eq(tcpchat_server_stat(srv, TCPCHAT_STAT_CLOSED_ERROR), 1);
	ck_assert_uint_eq(tcpchat_server_stat(srv, TCPCHAT_STAT_CLOSED_APP), 0);
	while ((n = test_read_all(fd, buf, sizeof(buf), 5000)) > 0)
		got += n;
	ck_assert(got > 0 && got < 1 << 20); /* a part of it, then the end */
	close(fd);
	tcpchat_server_free(srv);
	ck_assert_int_eq(tcpchat_loop_free(loop), 0);
}
END_TEST

/* Clients gone before the server accepts them: every one of them was
 * connected and closed or reset while the loop was not running, between
 * two that stay.  The server takes each in turn, sees it end, counts it
 * once, and serves the ones that stayed. */

static struct {
	int connects, closes, clean, failed, freed, echoed;
} gb;

static void gb_connect(struct tcpchat_conn *conn)
{
	gb.connects++;
}

static void gb_data(struct tcpchat_conn *conn, const char *data, size_t len)
{
	ck_assert_int_eq(tcpchat_conn_send(conn, data, len), 0);
	gb.echoed += (int)len;
}

static void gb_close(struct tcpchat_conn *conn, int reason)
{
	gb.closes++;
	if (reason == TCPCHAT_EOF)
		gb.clean++;
	else if (reason == -ECONNRESET || reason == -EPIPE)
		gb.failed++;
	else if (reason == -ECANCELED)
		gb.freed++; /* the two that stayed, when the server is freed */
	else
		ck_abort_msg("a client gone before accept closed with %d", reason);
}

static bool gb_all_gone_and_echoed(void) { return gb.closes == 40 && gb.echoed == 4; }

START_TEST(clients_gone_before_accept_cost_nothing)
{
	struct tcpchat_loop *loop;
	struct tcpchat_server *srv;
	int before = test_open_fds(), first, last, fd, i, port;
	char got[2];

	memset(&gb, 0, sizeof(gb));
	ck_assert_int_eq(tcpchat_loop_create(&loop), 0);
	ck_assert_int_eq(tcpchat_server_create(&srv), 0);
	ck_assert_int_eq(tcpchat_server_bind(srv, "127.0.0.1", 0), 0);
	ck_assert_int_eq(tcpchat_server_listen(srv, 64), 0);
	tcpchat_server_on_connect(srv, gb_connect);
	tcpchat_server_on_data(srv, gb_data);
	tcpchat_server_on_close(srv, gb_close);
	ck_assert_int_eq(tcpchat_server_start(srv, loop), 0);
	port = tcpchat_server_port(srv);

	first = test_connect(port);
	for (i = 0; i < 40; i++) {
		fd = test_connect(port);
		if (i % 2)
			test_reset(fd);
		else
			close(fd);
	}
	last = test_connect(port);
	ck_assert_int_eq(write(first, "1\n", 2), 2);
	ck_assert_int_eq(write(last, "2\n", 2), 2);
	ck_assert(test_run_within(loop, gb_all_gone_and_echoed, 5000));
	ck_assert_uint_eq(test_read_all(first, got, 2, 5000), 2);
	ck_assert_int_eq(memcmp(got, "1\n", 2), 0);
	ck_assert_uint_eq(test_read_all(last, got, 2, 5000), 2);
	ck_assert_int_eq(memcmp(got, "2\n", 2), 0);

	/* Each gone one was accepted (Linux hands them over) and ended once,
	 * with EOF if it closed, with an error if it reset. */
	ck_assert_int_eq(gb.connects, 42);
	ck_assert_int_eq(gb.clean, 20);
	ck_assert_int_eq(gb.failed, 20);
	ck_assert_uint_eq(tcpchat_server_stat(srv, TCPCHAT_STAT_ACCEPTED), 42);
	ck_assert_uint_eq(tcpchat_server_stat(srv, TCPCHAT_STAT_LIVE), 2);
	ck_assert_uint_eq(tcpchat_server_stat(srv, TCPCHAT_STAT_CLOSED_EOF), 20);
	ck_assert_uint_eq(tcpchat_server_stat(srv, TCPCHAT_STAT_CLOSED_ERROR), 20);
	test_check_counters(srv);
	tcpchat_server_free(srv);
	ck_assert_int_eq(gb.freed, 2);
	ck_assert_int_eq(tcpchat_loop_free(loop), 0);
	close(first);
	close(last);
	ck_assert_int_eq(test_open_fds(), before);
}
END_TEST

static Suite *conn_suite(void)
{
	Suite *s = suite_create("conn");
	TCase *reuse = tcase_create("reuse"), *acct = tcase_create("accounting");
	TCase *gone = tcase_create("gone");

	tcase_set_timeout(reuse, 30);
	tcase_add_test(reuse, reused_descriptor_gets_no_stale_event_or_data);
	suite_add_tcase(s, reuse);

	tcase_set_timeout(acct, 60);
	tcase_add_checked_fixture(acct, NULL, ac_teardown);
	tcase_add_test(acct, every_accepted_byte_delivered_or_failure_reported_once);
	tcase_add_test(acct, flush_out_of_time_is_reported);
	suite_add_tcase(s, acct);

	tcase_set_timeout(gone, 30);
	tcase_add_test(gone, clients_gone_before_accept_cost_nothing);
	suite_add_tcase(s, gone);
	return s;
}

TEST_MAIN(conn_suite)
