/* check_server.c - the server: bind/listen contracts, blocking accept, and
 * the event-driven mode driven by raw-socket clients in a thread: callbacks
 * and close reasons, output queued under back-pressure, graceful close that
 * loses nothing, unlisten, freeing closes everything, no descriptor leak. */
#include "internal.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include "server.h"
#include "testutil.h"

/* ------------------------------------------------------------------ */
/* A raw client in a thread: connect, send, optionally half-close or     */
/* reset, then read until EOF or error.                                 */

struct peer {
	int port;
	const char *send;
	size_t send_len;
	bool half_close;   /* shutdown(SHUT_WR) after sending */
	bool reset;        /* close with RST after sending, read nothing */
	char *got;
	size_t got_len, got_cap;
	int read_errno;    /* 0 when reading ended on EOF */
	pthread_t th;
};

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	size_t off = 0;
	ssize_t n;
	int fd = test_connect(p->port);

	while (off < p->send_len) {
		n = write(fd, p->send + off, p->send_len - off);
		ck_assert_int_gt(n, 0);
		off += (size_t)n;
	}
	if (p->reset) {
		test_reset(fd);
		return NULL;
	}
	if (p->half_close)
		shutdown(fd, SHUT_WR);
	for (;;) {
		if (p->got_len == p->got_cap) {
			p->got_cap = p->got_cap ? p->got_cap * 2 : 4096;
			p->got = realloc(p->got, p->got_cap);
		}
		n = read(fd, p->got + p->got_len, p->got_cap - p->got_len);
		if (n <= 0) {
			p->read_errno = n < 0 ? errno : 0;
			break;
		}
		p->got_len += (size_t)n;
	}
	close(fd);
	return NULL;
}

static void peer_start(struct peer *p, int port, const char *data, size_t len)
{
	p->port = port;
	p->send = data;
	p->send_len = len;
	ck_assert_int_eq(pthread_create(&p->th, NULL, peer_main, p), 0);
}

static void peer_join(struct peer *p)
{
	pthread_join(p->th, NULL);
}

/* ------------------------------------------------------------------ */
/* A server whose callbacks record what happens.                       */

struct events {
	struct tcpchat_loop *loop;
	struct tcpchat_server *srv;
	int connects, eofs, closes;
	int reasons[64];
	size_t data_bytes;
	int stop_after_closes;  /* stop the loop after this many closes */
	bool small_sndbuf;      /* give each connection a 4 KiB send buffer */
	size_t max_queued;
};

static struct events ev;

static void ev_connect(struct tcpchat_conn *conn)
{
	ck_assert_ptr_eq(tcpchat_conn_server(conn), ev.srv);
	ck_assert_ptr_eq(tcpchat_server_userdata(ev.srv), &ev);
	ck_assert_ptr_null(tcpchat_conn_userdata(conn));
	tcpchat_conn_set_userdata(conn, &ev.connects);
	ck_assert_ptr_eq(tcpchat_conn_userdata(conn), &ev.connects);
	ck_assert_str_ne(tcpchat_conn_peer(conn), "");
	if (ev.small_sndbuf) {
		int small = 4096;
		ck_assert_int_eq(setsockopt(conn->io.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	}
	ev.connects++;
}

static void ev_echo(struct tcpchat_conn *conn, const char *data, size_t len)
{
	ev.data_bytes += len;
	ck_assert_int_eq(tcpchat_conn_send(conn, data, len), 0);
	if (tcpchat_conn_queued(conn) > ev.max_queued)
		ev.max_queued = tcpchat_conn_queued(conn);
}

static void ev_close(struct tcpchat_conn *conn, int reason)
{
	ck_assert_int_lt(ev.closes, 64);
	ev.reasons[ev.closes++] = reason;
	/* The connection is closing: sending is refused, closing is a no-op. */
	ck_assert_int_eq(tcpchat_conn_send(conn, "x", 1), -EPIPE);
	tcpchat_conn_close(conn);
	if (ev.closes == ev.stop_after_closes)
		tcpchat_loop_stop(ev.loop);
}

/* A started echo server on 127.0.0.1; returns its port. */
static int ev_setup(void)
{
	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(tcpchat_loop_create(&ev.loop), 0);
	ck_assert_int_eq(tcpchat_server_create(&ev.srv), 0);
	ck_assert_int_eq(tcpchat_server_bind(ev.srv, "127.0.0.1", 0), 0);
	ck_assert_int_eq(tcpchat_server_listen(ev.srv, 64), 0);
	tcpchat_server_set_userdata(ev.srv, &ev);
	tcpchat_server_on_connect(ev.srv, ev_connect);
	tcpchat_server_on_data(ev.srv, ev_echo);
	tcpchat_server_on_close(ev.srv, ev_close);
	ck_assert_int_eq(tcpchat_server_start(ev.srv, ev.loop), 0);
	return tcpchat_server_port(ev.srv);
}

static void ev_teardown(void)
{
	tcpchat_server_free(ev.srv);
	ck_assert_int_eq(tcpchat_loop_free(ev.loop), 0);
}

/* ------------------------------------------------------------------ */

START_TEST(bind_listen_contracts)
{
	struct tcpchat_server *srv = NULL, *other;
	char expect[64];
	int port;

	ck_assert_int_eq(tcpchat_server_create(NULL), -EINVAL);
	ck_assert_int_eq(tcpchat_server_create(&srv), 0);
	ck_assert_int_eq(tcpchat_server_port(srv), -EINVAL);
	ck_assert_str_eq(tcpchat_server_address(srv), "");
	ck_assert_int_eq(tcpchat_server_listen(srv, 0), -EINVAL);
	ck_assert_int_eq(tcpchat_server_bind(NULL, "127.0.0.1", 0), -EINVAL);
	ck_assert_int_eq(tcpchat_server_bind(srv, "127.0.0.1", 65536), -EINVAL);
	ck_assert_int_eq(tcpchat_server_bind(srv, NULL, 0), 0); /* 127.0.0.1 */
	ck_assert_int_eq(tcpchat_server_bind(srv, "127.0.0.1", 0), -EINVAL);
	port = tcpchat_server_port(srv);
	ck_assert_int_gt(port, 0);
	snprintf(expect, sizeof(expect), "127.0.0.1:%d", port);
	ck_assert_str_eq(tcpchat_server_address(srv), expect);
	ck_assert_int_eq(tcpchat_server_listen(srv, 0), 0);

	/* The same port again is in use, even with SO_REUSEADDR. */
	ck_assert_int_eq(tcpchat_server_create(&other), 0);
	ck_assert_int_eq(tcpchat_server_bind(other, "127.0.0.1", (unsigned)port), -EADDRINUSE);
	ck_assert_int_eq(tcpchat_server_port(other), -EINVAL);
	tcpchat_server_free(other);
	tcpchat_server_free(srv);
	tcpchat_server_free(NULL);
}
END_TEST

START_TEST(bind_unknown_host)
{
	struct tcpchat_server *srv;
	int rc;

	ck_assert_int_eq(tcpchat_server_create(&srv), 0);
	rc = tcpchat_server_bind(srv, "no-such-host.invalid", 0);
	ck_assert(rc == TCPCHAT_EAI_NONAME || rc == TCPCHAT_EAI_AGAIN);
	tcpchat_server_free(srv);
}
END_TEST

START_TEST(restart_rebinds_same_port_at_once)
{
	struct tcpchat_server *srv;
	struct tcpchat_client *c;
	int port, fd;
	char buf[4];

	/* A server that served a client and closed leaves TIME_WAIT behind;
	 * SO_REUSEADDR lets the next one bind the same port. */
	ck_assert_int_eq(tcpchat_server_create(&srv), 0);
	ck_assert_int_eq(tcpchat_server_bind(srv, "127.0.0.1", 0), 0);
	ck_assert_int_eq(tcpchat_server_listen(srv, 1), 0);
	port = tcpchat_server_port(srv);
	fd = test_connect(port);
	ck_assert_int_eq(tcpchat_server_accept(srv, &c, 5000), 0);
	tcpchat_client_close(c); /* the server side closes first: TIME_WAIT */
	ck_assert_uint_eq(test_read_all(fd, buf, sizeof(buf), 5000), 0);
	close(fd);
	tcpchat_server_free(srv);
	ck_assert_int_eq(tcpchat_server_create(&srv), 0);
	ck_assert_int_eq(tcpchat_server_bind(srv, "127.0.0.1", (unsigned)port), 0);
	tcpchat_server_free(srv);
}
END_TEST

START_TEST(listener_is_nonblocking_cloexec)
{
	struct tcpchat_server *srv;

	ck_assert_int_eq(tcpchat_server_create(&srv), 0);
	ck_assert_int_eq(tcpchat_server_bind(srv, "127.0.0.1", 0), 0);
	ck_assert(fcntl(srv->fd, F_GETFD) & FD_CLOEXEC);
	ck_assert(fcntl(srv->fd, F_GETFL) & O_NONBLOCK);
	tcpchat_server_free(srv);
}
END_TEST

START_TEST(blocking_accept)
{
	struct tcpchat_server *srv;
	struct tcpchat_client *c = NULL;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char expect[64], buf[16];
	uint64_t start;
	int fd;

	ck_assert_int_eq(tcpchat_server_create(&srv), 0);
	ck_assert_int_eq(tcpchat_server_accept(srv, &c, 0), -EINVAL); /* not listening */
	ck_assert_int_eq(tcpchat_server_bind(srv, "127.0.0.1", 0), 0);
	ck_assert_int_eq(tcpchat_server_listen(srv, 4), 0);
	ck_assert_int_eq(tcpchat_server_accept(srv, NULL, 0), -EINVAL);

	start = tcpchat__now_ms();
	ck_assert_int_eq(tcpchat_server_accept(srv, &c, 100), -ETIMEDOUT);
	ck_assert_uint_ge(tcpchat__now_ms() - start, 100);
	ck_assert_ptr_null(c);

	fd = test_connect(tcpchat_server_port(srv));
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(expect, sizeof(expect), "127.0.0.1:%u", ntohs(sin.sin_port));
	ck_assert_int_eq(tcpchat_server_accept(srv, &c, 5000), 0);
	ck_assert_str_eq(tcpchat_client_peer(c), expect);
	ck_assert_str_eq(tcpchat_client_local(c), tcpchat_server_address(srv));
	ck_assert_int_eq(write(fd, "ping\n", 5), 5);
	ck_assert_int_eq(tcpchat_client_recv_line(c, buf, sizeof(buf), 5000), 4);
	ck_assert_str_eq(buf, "ping");
	ck_assert_int_eq(tcpchat_client_send(c, "pong\n", 5), 0);
	ck_assert_uint_eq(test_read_all(fd, buf, 5, 5000), 5);
	ck_assert_int_eq(memcmp(buf, "pong\n", 5), 0);
	tcpchat_client_close(c);
	close(fd);
	tcpchat_server_free(srv);
}
END_TEST

START_TEST(ipv6_loopback)
{
	struct tcpchat_server *srv;
	struct tcpchat_client *c, *a;
	char expect[64], buf[8];
	int probe = socket(AF_INET6, SOCK_STREAM, 0);

	if (probe < 0)
		return; /* no IPv6 on this machine */
	close(probe);
	ck_assert_int_eq(tcpchat_server_create(&srv), 0);
	ck_assert_int_eq(tcpchat_server_bind(srv, "::1", 0), 0);
	ck_assert_int_eq(tcpchat_server_listen(srv, 4), 0);
	snprintf(expect, sizeof(expect), "[::1]:%d", tcpchat_server_port(srv));
	ck_assert_str_eq(tcpchat_server_address(srv), expect);
	ck_assert_int_eq(tcpchat_client_connect(&c, "::1", (unsigned)tcpchat_server_port(srv), 5000), 0);
	ck_assert_int_eq(tcpchat_server_accept(srv, &a, 5000), 0);
	ck_assert_str_eq(tcpchat_client_peer(a), tcpchat_client_local(c));
	ck_assert_int_eq(strncmp(tcpchat_client_peer(a), "[::1]:", 6), 0);
	ck_assert_int_eq(tcpchat_client_send(c, "v6\n", 3), 0);
	ck_assert_int_eq(tcpchat_client_recv_line(a, buf, sizeof(buf), 5000), 2);
	tcpchat_client_close(a);
	tcpchat_client_close(c);
	tcpchat_server_free(srv);
}
END_TEST

START_TEST(dual_stack_wildcard_takes_ipv4)
{
	struct tcpchat_server *srv;
	struct tcpchat_client *a;
	int probe = socket(AF_INET6, SOCK_STREAM, 0), fd;

	if (probe < 0)
		return;
	close(probe);
	ck_assert_int_eq(tcpchat_server_create(&srv), 0);
	ck_assert_int_eq(tcpchat_server_bind(srv, "::", 0), 0);
	ck_assert_int_eq(tcpchat_server_listen(srv, 4), 0);
	fd = test_connect(tcpchat_server_port(srv)); /* an IPv4 client */
	ck_assert_int_eq(tcpchat_server_accept(srv, &a, 5000), 0);
	/* IPv4-mapped addresses are shown as plain IPv4. */
	ck_assert_int_eq(strncmp(tcpchat_client_peer(a), "127.0.0.1:", 10), 0);
	tcpchat_client_close(a);
	close(fd);
	tcpchat_server_free(srv);
}
END_TEST

START_TEST(start_contracts)
{
	struct tcpchat_loop *loop;
	struct tcpchat_server *srv;
	struct tcpchat_client *c;

	ck_assert_int_eq(tcpchat_loop_create(&loop), 0);
	ck_assert_int_eq(tcpchat_server_create(&srv), 0);
	ck_assert_int_eq(tcpchat_server_start(srv, loop), -EINVAL); /* not listening */
	ck_assert_int_eq(tcpchat_server_bind(srv, "127.0.0.1", 0), 0);
	ck_assert_int_eq(tcpchat_server_listen(srv, 4), 0);
	ck_assert_int_eq(tcpchat_server_start(NULL, loop), -EINVAL);
	ck_assert_int_eq(tcpchat_server_start(srv, NULL), -EINVAL);
	ck_assert_int_eq(tcpchat_server_start(srv, loop), 0);
	ck_assert_int_eq(tcpchat_server_start(srv, loop), -EINVAL);
	ck_assert_int_eq(tcpchat_server_accept(srv, &c, 0), -EINVAL);
	ck_assert_int_eq(tcpchat_conn_send(NULL, "x", 1), -EINVAL);
	tcpchat_conn_close(NULL);
	ck_assert_str_eq(tcpchat_conn_peer(NULL), "");
	tcpchat_server_free(srv);
	ck_assert_int_eq(tcpchat_loop_free(loop), 0);
}
END_TEST

START_TEST(echo_and_eof_reason)
{
	struct peer p = { 0 };
	const char msg[] = "hello\0world\xff\xfe\n";
	int port = ev_setup();

	ev.stop_after_closes = 1;
	p.half_close = true;
	peer_start(&p, port, msg, sizeof(msg));
	ck_assert_int_eq(tcpchat_loop_run(ev.loop), 0);
	peer_join(&p);
	ck_assert_int_eq(ev.connects, 1);
	ck_assert_int_eq(ev.closes, 1);
	ck_assert_int_eq(ev.reasons[0], TCPCHAT_EOF);
	ck_assert_uint_eq(p.got_len, sizeof(msg));
	ck_assert_int_eq(memcmp(p.got, msg, sizeof(msg)), 0);
	ck_assert_int_eq(p.read_errno, 0);
	free(p.got);
	ev_teardown();
}
END_TEST

/* The peer sends 8 MiB before reading anything: the kernel buffers fill,
 * sends return short or EAGAIN, and the rest must wait in the queue.  With
 * no queue limit, nothing stops it (see check_limits for the limits). */
START_TEST(backpressure_queues_and_delivers_everything)
{
	enum { SIZE = 8 << 20 };
	struct peer p = { 0 };
	char *big = malloc(SIZE);
	size_t i;
	int port = ev_setup();

	for (i = 0; i < SIZE; i++)
		big[i] = (char)(i * 7 + (i >> 13));
	ck_assert_int_eq(tcpchat_server_set_limit(ev.srv, TCPCHAT_LIMIT_QUEUE, 0), 0);
	ev.small_sndbuf = true;
	ev.stop_after_closes = 1;
	p.half_close = true;
	peer_start(&p, port, big, SIZE);
	ck_assert_int_eq(tcpchat_loop_run(ev.loop), 0);
	peer_join(&p);
	ck_assert_int_eq(ev.reasons[0], TCPCHAT_EOF);
	ck_assert_uint_gt(ev.max_queued, 0);
	ck_assert_uint_eq(p.got_len, SIZE);
	ck_assert_int_eq(memcmp(p.got, big, SIZE), 0);
	free(p.got);
	free(big);
	ev_teardown();
}
END_TEST

START_TEST(reset_reason)
{
	struct peer p = { 0 };
	int port = ev_setup();

	/* Data the server echoes but the peer never reads, then a reset. */
	tcpchat_server_on_data(ev.srv, NULL);
	ev.stop_after_closes = 1;
	p.reset = true;
	peer_start(&p, port, "abc", 3);
	ck_assert_int_eq(tcpchat_loop_run(ev.loop), 0);
	peer_join(&p);
	ck_assert_int_eq(ev.reasons[0], -ECONNRESET);
	ev_teardown();
}
END_TEST

/* The server answers the first bytes and closes while the peer's next
 * bytes are still unread: lingering keeps that from becoming a reset that
 * would destroy the answer. */
static void answer_and_close(struct tcpchat_conn *conn, const char *data, size_t len)
{
	ck_assert_int_eq(tcpchat_conn_send(conn, "answer\n", 7), 0);
	tcpchat_conn_close(conn);
	tcpchat_conn_close(conn); /* idempotent */
	ck_assert_int_eq(tcpchat_conn_send(conn, "late", 4), -EPIPE);
}

START_TEST(close_with_unread_input_loses_nothing)
{
	enum { SIZE = 1 << 20 };
	struct peer p = { 0 };
	char *junk = calloc(1, SIZE);
	int port = ev_setup();

	tcpchat_server_on_data(ev.srv, answer_and_close);
	ev.stop_after_closes = 1;
	p.half_close = true;
	peer_start(&p, port, junk, SIZE);
	ck_assert_int_eq(tcpchat_loop_run(ev.loop), 0);
	peer_join(&p);
	ck_assert_int_eq(p.read_errno, 0);
	ck_assert_uint_eq(p.got_len, 7);
	ck_assert_int_eq(memcmp(p.got, "answer\n", 7), 0);
	ck_assert_int_eq(ev.reasons[0], 0);
	free(p.got);
	free(junk);
	ev_teardown();
}
END_TEST

/* With an eof callback the connection stays open for sending after the
 * peer's half-close; the close reason then says the peer closed first. */
static void eof_reply(struct tcpchat_conn *conn)
{
	ev.eofs++;
	ck_assert_int_eq(tcpchat_conn_send(conn, "bye\n", 4), 0);
	tcpchat_conn_close(conn);
}

START_TEST(eof_callback_keeps_sending_side)
{
	struct peer p = { 0 };
	int port = ev_setup();

	tcpchat_server_on_eof(ev.srv, eof_reply);
	ev.stop_after_closes = 1;
	p.half_close = true;
	peer_start(&p, port, "hi\n", 3);
	ck_assert_int_eq(tcpchat_loop_run(ev.loop), 0);
	peer_join(&p);
	ck_assert_int_eq(ev.eofs, 1);
	ck_assert_uint_eq(p.got_len, 7);
	ck_assert_int_eq(memcmp(p.got, "hi\nbye\n", 7), 0);
	ck_assert_int_eq(ev.reasons[0], TCPCHAT_EOF);
	free(p.got);
	ev_teardown();
}
END_TEST

/* One-shot: the connect callback unlistens; the loop ends by itself once
 * that connection is gone, and nobody else can connect meanwhile. */
static int refused_port;
static void unlisten_on_connect(struct tcpchat_conn *conn)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	tcpchat_server_unlisten(tcpchat_conn_server(conn));
	tcpchat_server_unlisten(tcpchat_conn_server(conn)); /* idempotent */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((unsigned short)refused_port);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), -1);
	ck_assert_int_eq(errno, ECONNREFUSED);
	close(fd);
	ev.connects++;
}

START_TEST(unlisten_then_run_ends_by_itself)
{
	struct peer p = { 0 };
	int port = ev_setup();

	refused_port = port;
	tcpchat_server_on_connect(ev.srv, unlisten_on_connect);
	p.half_close = true;
	peer_start(&p, port, "once\n", 5);
	ck_assert_int_eq(tcpchat_loop_run(ev.loop), 0); /* no stop needed */
	peer_join(&p);
	ck_assert_int_eq(ev.connects, 1);
	ck_assert_int_eq(ev.closes, 1);
	ck_assert_uint_eq(p.got_len, 5);
	ck_assert_int_eq(tcpchat_server_port(ev.srv), port); /* still known */
	free(p.got);
	ev_teardown();
}
END_TEST

/* Freeing the server with connections open closes each exactly once with
 * -ECANCELED, during the free. */
static void stop_when_all_connected(struct tcpchat_conn *conn)
{
	ev.connects++;
	if (ev.connects == 5)
		tcpchat_loop_stop(ev.loop);
}

START_TEST(free_closes_every_connection_once)
{
	int fds[5], i, port = ev_setup();
	char c;

	tcpchat_server_on_connect(ev.srv, stop_when_all_connected);
	for (i = 0; i < 5; i++)
		fds[i] = test_connect(port);
	ck_assert_int_eq(tcpchat_loop_run(ev.loop), 0);
	ck_assert_int_eq(ev.connects, 5);
	tcpchat_server_free(ev.srv);
	ck_assert_int_eq(ev.closes, 5);
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(ev.reasons[i], -ECANCELED);
		ck_assert_uint_eq(test_read_all(fds[i], &c, 1, 5000), 0); /* EOF */
		close(fds[i]);
	}
	ck_assert_int_eq(tcpchat_loop_free(ev.loop), 0);
}
END_TEST

/* Many clients at once, each echoed its own bytes. */
START_TEST(many_concurrent_clients)
{
	enum { N = 50 };
	static struct peer p[N];
	static char msgs[N][32];
	int i, port = ev_setup();

	memset(p, 0, sizeof(p));
	ev.stop_after_closes = N;
	for (i = 0; i < N; i++) {
		snprintf(msgs[i], sizeof(msgs[i]), "client %d says hi\n", i);
		p[i].half_close = true;
		peer_start(&p[i], port, msgs[i], strlen(msgs[i]));
	}
	ck_assert_int_eq(tcpchat_loop_run(ev.loop), 0);
	for (i = 0; i < N; i++) {
		peer_join(&p[i]);
		ck_assert_uint_eq(p[i].got_len, strlen(msgs[i]));
		ck_assert_int_eq(memcmp(p[i].got, msgs[i], p[i].got_len), 0);
		free(p[i].got);
	}
	ck_assert_int_eq(ev.connects, N);
	ev_teardown();
}
END_TEST

/* Out of descriptors: a pending client cannot be accepted.  The server
 * must neither spin on its ever-readable listener nor give up: it serves
 * the client once descriptors are free again. */
static void stop_loop(struct tcpchat_timer *t, void *arg)
{
	tcpchat_loop_stop(arg);
}

static bool one_connected(void)
{
	return ev.connects == 1;
}

static uint64_t cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

START_TEST(out_of_descriptors_backs_off_then_serves)
{
	struct tcpchat_timer *t;
	struct rlimit saved, low;
	int fillers[256], n = 0, fd, port;
	uint64_t cpu;

	if (test_under_valgrind())
		return; /* it virtualises RLIMIT_NOFILE: see testutil.h */
	port = ev_setup();

	fd = test_connect(port); /* waits in the backlog: nothing runs yet */
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
	low = saved;
	low.rlim_cur = 64;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (n < 256 && (fillers[n] = open("/dev/null", O_RDONLY)) >= 0)
		n++;
	ck_assert_int_eq(errno, EMFILE);

	/* 300 ms with the client pending and no descriptor to accept it. */
	ck_assert_int_eq(tcpchat_timer_create(ev.loop, &t, stop_loop, ev.loop), 0);
	ck_assert_int_eq(tcpchat_timer_start(t, 300, 0), 0);
	cpu = cpu_ms();
	ck_assert_int_eq(tcpchat_loop_run(ev.loop), 0);
	cpu = cpu_ms() - cpu;
	ck_assert_int_eq(ev.connects, 0);
	/* Backing off costs a few ms of CPU; spinning costs most of the 300. */
	ck_assert_uint_lt(cpu, 75);

	while (n > 0)
		close(fillers[--n]);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
	test_run_until(ev.loop, one_connected);
	tcpchat_timer_free(t);
	close(fd);
	ev_teardown();
}
END_TEST

START_TEST(no_descriptor_leak)
{
	int before = test_open_fds(), round;

	for (round = 0; round < 20; round++) {
		struct peer p = { 0 };
		int port = ev_setup();

		ev.stop_after_closes = 1;
		p.half_close = true;
		peer_start(&p, port, "x\n", 2);
		ck_assert_int_eq(tcpchat_loop_run(ev.loop), 0);
		peer_join(&p);
		free(p.got);
		ev_teardown();
	}
	ck_assert_int_eq(test_open_fds(), before);
}
END_TEST

static Suite *server_suite(void)
{
	Suite *s = suite_create("server");
	TCase *basic = tcase_create("basic"), *events = tcase_create("events");

	/* Writes to reset peers must fail with EPIPE, not kill the test. */
	signal(SIGPIPE, SIG_DFL);
	tcase_set_timeout(basic, 20);
	tcase_add_test(basic, bind_listen_contracts);
	tcase_add_test(basic, bind_unknown_host);
	tcase_add_test(basic, restart_rebinds_same_port_at_once);
	tcase_add_test(basic, listener_is_nonblocking_cloexec);
	tcase_add_test(basic, blocking_accept);
	tcase_add_test(basic, ipv6_loopback);
	tcase_add_test(basic, dual_stack_wildcard_takes_ipv4);
	tcase_add_test(basic, start_contracts);
	suite_add_tcase(s, basic);

	tcase_set_timeout(events, 30);
	tcase_add_test(events, echo_and_eof_reason);
	tcase_add_test(events, backpressure_queues_and_delivers_everything);
	tcase_add_test(events, reset_reason);
	tcase_add_test(events, close_with_unread_input_loses_nothing);
	tcase_add_test(events, eof_callback_keeps_sending_side);
	tcase_add_test(events, unlisten_then_run_ends_by_itself);
	tcase_add_test(events, free_closes_every_connection_once);
	tcase_add_test(events, many_concurrent_clients);
	tcase_add_test(events, out_of_descriptors_backs_off_then_serves);
	tcase_add_test(events, no_descriptor_leak);
	suite_add_tcase(s, events);
	return s;
}

TEST_MAIN(server_suite)
