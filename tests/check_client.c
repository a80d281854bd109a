/* check_client.c - the blocking client against raw-socket peers: connect
 * (refused, unknown host, timeout, from a local port, IPv6), send all, recv
 * with timeout and EOF, recv_line framing and its limits, no SIGPIPE. */
#include "internal.h"

#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>

#include "testutil.h"

/* A connected pair: our client and the raw peer's descriptor. */
struct pair {
	int lfd, peer;
	struct tcpchat_client *c;
};

static void pair_open(struct pair *p)
{
	int port;

	p->lfd = test_listen(&port);
	ck_assert_int_eq(tcpchat_client_connect(&p->c, "127.0.0.1", (unsigned)port, 5000), 0);
	p->peer = accept(p->lfd, NULL, NULL);
	ck_assert_int_ge(p->peer, 0);
}

static void pair_close(struct pair *p)
{
	tcpchat_client_close(p->c);
	if (p->peer >= 0)
		close(p->peer);
	close(p->lfd);
}

static void peer_write(struct pair *p, const void *data, size_t len)
{
	ck_assert_int_eq(write(p->peer, data, len), (ssize_t)len);
}

START_TEST(connect_contracts)
{
	struct tcpchat_client *c = NULL;
	int rc, port, hold = test_closed_port(&port);

	ck_assert_int_eq(tcpchat_client_connect(NULL, "127.0.0.1", 1, 0), -EINVAL);
	ck_assert_int_eq(tcpchat_client_connect(&c, NULL, 1, 0), -EINVAL);
	ck_assert_int_eq(tcpchat_client_connect(&c, "127.0.0.1", 0, 0), -EINVAL);
	ck_assert_int_eq(tcpchat_client_connect(&c, "127.0.0.1", 65536, 0), -EINVAL);
	ck_assert_int_eq(tcpchat_client_connect(&c, "127.0.0.1", (unsigned)port, 5000), -ECONNREFUSED);
	rc = tcpchat_client_connect(&c, "no-such-host.invalid", 80, 5000);
	ck_assert(rc == TCPCHAT_EAI_NONAME || rc == TCPCHAT_EAI_AGAIN);
	ck_assert_ptr_null(c);
	tcpchat_client_close(NULL);
	ck_assert_int_eq(tcpchat_client_send(NULL, "x", 1), -EINVAL);
	ck_assert_int_eq(tcpchat_client_recv(NULL, &rc, 1, 0), -EINVAL);
	ck_assert_int_eq(tcpchat_client_shutdown(NULL), -EINVAL);
	close(hold);
}
END_TEST

/* A listener whose accept queue is full drops new SYNs, so a connect
 * there can only time out. */
START_TEST(connect_timeout)
{
	struct tcpchat_client *c;
	int lfd, port, fillers[8], i, rc;
	uint64_t start;

	lfd = test_listen(&port);
	ck_assert_int_eq(listen(lfd, 0), 0);
	for (i = 0; i < 8; i++) {
		fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		struct sockaddr_in sin = { 0 };
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = htons((unsigned short)port);
		connect(fillers[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	start = tcpchat__now_ms();
	rc = tcpchat_client_connect(&c, "127.0.0.1", (unsigned)port, 300);
	ck_assert_int_eq(rc, -ETIMEDOUT);
	ck_assert_uint_ge(tcpchat__now_ms() - start, 300);
	for (i = 0; i < 8; i++)
		close(fillers[i]);
	close(lfd);
}
END_TEST

START_TEST(addresses_and_local_port)
{
	struct tcpchat_client *c;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char expect[64];
	int lfd, port, peer, local_port, rc = -EADDRINUSE, tries;

	lfd = test_listen(&port);
	for (tries = 0; tries < 10 && rc == -EADDRINUSE; tries++) {
		int hold = test_closed_port(&local_port);
		close(hold);
		rc = tcpchat_client_connect_from(&c, "localhost", (unsigned)port,
		                                 "127.0.0.1", (unsigned)local_port, 5000);
	}
	ck_assert_int_eq(rc, 0);
	peer = accept(lfd, (struct sockaddr *)&sin, &len);
	ck_assert_int_ge(peer, 0);
	ck_assert_int_eq(ntohs(sin.sin_port), local_port);
	snprintf(expect, sizeof(expect), "127.0.0.1:%d", local_port);
	ck_assert_str_eq(tcpchat_client_local(c), expect);
	snprintf(expect, sizeof(expect), "127.0.0.1:%d", port);
	ck_assert_str_eq(tcpchat_client_peer(c), expect);
	tcpchat_client_close(c);
	close(peer);
	close(lfd);
}
END_TEST

START_TEST(recv_timeout_data_and_eof)
{
	struct pair p;
	char buf[16];
	uint64_t start;

	pair_open(&p);
	start = tcpchat__now_ms();
	ck_assert_int_eq(tcpchat_client_recv(p.c, buf, sizeof(buf), 100), -ETIMEDOUT);
	ck_assert_uint_ge(tcpchat__now_ms() - start, 100);
	ck_assert_int_eq(tcpchat_client_recv(p.c, buf, 0, 100), -EINVAL);
	peer_write(&p, "abc", 3);
	ck_assert_int_eq(tcpchat_client_recv(p.c, buf, sizeof(buf), 5000), 3);
	ck_assert_int_eq(memcmp(buf, "abc", 3), 0);
	close(p.peer);
	p.peer = -1;
	ck_assert_int_eq(tcpchat_client_recv(p.c, buf, sizeof(buf), 5000), TCPCHAT_EOF);
	ck_assert_int_eq(tcpchat_client_recv(p.c, buf, sizeof(buf), 5000), TCPCHAT_EOF);
	pair_close(&p);
}
END_TEST

START_TEST(recv_line_framing)
{
	struct pair p;
	char buf[8];

	pair_open(&p);
	peer_write(&p, "one\ntwo\r\n\nnu\0l\n", 16);
	ck_assert_int_eq(tcpchat_client_recv_line(p.c, buf, sizeof(buf), 5000), 3);
	ck_assert_str_eq(buf, "one");
	ck_assert_int_eq(tcpchat_client_recv_line(p.c, buf, sizeof(buf), 5000), 3);
	ck_assert_str_eq(buf, "two");
	ck_assert_int_eq(tcpchat_client_recv_line(p.c, buf, sizeof(buf), 5000), 0);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(tcpchat_client_recv_line(p.c, buf, sizeof(buf), 5000), 4);
	ck_assert_int_eq(memcmp(buf, "nu\0l", 5), 0);
	ck_assert_int_eq(tcpchat_client_recv_line(p.c, buf, 0, 5000), -EINVAL);
	pair_close(&p);
}
END_TEST

START_TEST(recv_line_too_long_then_next_line)
{
	struct pair p;
	char buf[8]; /* lines of at most 7 bytes */

	pair_open(&p);
	peer_write(&p, "1234567\n12345678\nok\n", 20);
	ck_assert_int_eq(tcpchat_client_recv_line(p.c, buf, sizeof(buf), 5000), 7);
	ck_assert_str_eq(buf, "1234567");
	ck_assert_int_eq(tcpchat_client_recv_line(p.c, buf, sizeof(buf), 5000), -EMSGSIZE);
	ck_assert_int_eq(tcpchat_client_recv_line(p.c, buf, sizeof(buf), 5000), 2);
	ck_assert_str_eq(buf, "ok");
	pair_close(&p);
}
END_TEST

/* A too-long line whose newline arrived in the same read as the lines
 * after it: those lines are kept. */
START_TEST(recv_line_too_long_then_lines_in_same_read)
{
	struct pair p;
	char buf[5];

	pair_open(&p);
	peer_write(&p, "0123456789\nab\ncd\n", 17);
	ck_assert_int_eq(tcpchat_client_recv_line(p.c, buf, sizeof(buf), 5000), -EMSGSIZE);
	ck_assert_int_eq(tcpchat_client_recv_line(p.c, buf, sizeof(buf), 5000), 2);
	ck_assert_str_eq(buf, "ab");
	ck_assert_int_eq(tcpchat_client_recv_line(p.c, buf, sizeof(buf), 5000), 2);
	ck_assert_str_eq(buf, "cd");
	pair_close(&p);
}
END_TEST

/* A long line without a newline yet: the error comes as soon as the limit
 * is passed, and the rest of that line, arriving later, is skipped. */
START_TEST(recv_line_too_long_across_reads)
{
	struct pair p;
	char buf[16], big[100000];

	memset(big, 'x', sizeof(big));
	pair_open(&p);
	peer_write(&p, big, sizeof(big));
	ck_assert_int_eq(tcpchat_client_recv_line(p.c, buf, sizeof(buf), 5000), -EMSGSIZE);
	ck_assert_int_eq(tcpchat_client_recv_line(p.c, buf, sizeof(buf), 100), -ETIMEDOUT);
	peer_write(&p, big, sizeof(big));
	peer_write(&p, "\nnext\n", 6);
	ck_assert_int_eq(tcpchat_client_recv_line(p.c, buf, sizeof(buf), 5000), 4);
	ck_assert_str_eq(buf, "next");
	pair_close(&p);
}
END_TEST

START_TEST(recv_line_partial_then_timeout_then_rest)
{
	struct pair p;
	char buf[32];

	pair_open(&p);
	peer_write(&p, "hel", 3);
	ck_assert_int_eq(tcpchat_client_recv_line(p.c, buf, sizeof(buf), 100), -ETIMEDOUT);
	peer_write(&p, "lo\nrest", 7);
	ck_assert_int_eq(tcpchat_client_recv_line(p.c, buf, sizeof(buf), 5000), 5);
	ck_assert_str_eq(buf, "hello");
	/* Bytes buffered by recv_line come first from recv. */
	ck_assert_int_eq(tcpchat_client_recv(p.c, buf, sizeof(buf), 5000), 4);
	ck_assert_int_eq(memcmp(buf, "rest", 4), 0);
	pair_close(&p);
}
END_TEST

START_TEST(recv_line_last_line_without_newline)
{
	struct pair p;
	char buf[32];

	pair_open(&p);
	peer_write(&p, "a\nlast\r", 7);
	close(p.peer);
	p.peer = -1;
	ck_assert_int_eq(tcpchat_client_recv_line(p.c, buf, sizeof(buf), 5000), 1);
	ck_assert_int_eq(tcpchat_client_recv_line(p.c, buf, sizeof(buf), 5000), 4);
	ck_assert_str_eq(buf, "last");
	ck_assert_int_eq(tcpchat_client_recv_line(p.c, buf, sizeof(buf), 5000), TCPCHAT_EOF);
	pair_close(&p);
}
END_TEST

/* 8 MiB to a peer that reads slowly: send waits while the socket is full
 * and hands over every byte in order. */
struct reader {
	int fd;
	size_t got;
	unsigned long sum;
};

static void *slow_reader(void *arg)
{
	struct reader *r = arg;
	char buf[4096];
	ssize_t n;

	while ((n = read(r->fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			r->sum = r->sum * 31 + (unsigned char)buf[i];
		r->got += (size_t)n;
	}
	return NULL;
}

START_TEST(send_all_with_backpressure)
{
	enum { SIZE = 8 << 20 };
	struct pair p;
	struct reader r = { 0 };
	pthread_t th;
	char *big = malloc(SIZE);
	unsigned long sum = 0;
	size_t i;

	for (i = 0; i < SIZE; i++) {
		big[i] = (char)(i ^ (i >> 11));
		sum = sum * 31 + (unsigned char)big[i];
	}
	pair_open(&p);
	r.fd = p.peer;
	ck_assert_int_eq(pthread_create(&th, NULL, slow_reader, &r), 0);
	ck_assert_int_eq(tcpchat_client_send(p.c, big, SIZE), 0);
	ck_assert_int_eq(tcpchat_client_shutdown(p.c), 0);
	pthread_join(th, NULL);
	ck_assert_uint_eq(r.got, SIZE);
	ck_assert_uint_eq(r.sum, sum);
	free(big);
	pair_close(&p);
}
END_TEST

START_TEST(send_to_reset_peer_is_an_error_not_a_signal)
{
	struct pair p;
	char buf[1024] = { 0 };
	int rc = 0, i;

	pair_open(&p);
	test_reset(p.peer);
	p.peer = -1;
	for (i = 0; i < 100 && rc == 0; i++)
		rc = tcpchat_client_send(p.c, buf, sizeof(buf));
	ck_assert(rc == -EPIPE || rc == -ECONNRESET);
	pair_close(&p);
}
END_TEST

START_TEST(ipv6_connect)
{
	struct tcpchat_client *c;
	struct sockaddr_in6 sin6;
	socklen_t len = sizeof(sin6);
	int lfd = socket(AF_INET6, SOCK_STREAM, 0), peer;
	char buf[8];

	if (lfd < 0)
		return;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin6, sizeof(sin6)), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sin6, &len), 0);
	ck_assert_int_eq(tcpchat_client_connect(&c, "::1", ntohs(sin6.sin6_port), 5000), 0);
	ck_assert_int_eq(strncmp(tcpchat_client_peer(c), "[::1]:", 6), 0);
	peer = accept(lfd, NULL, NULL);
	ck_assert_int_eq(write(peer, "six\n", 4), 4);
	ck_assert_int_eq(tcpchat_client_recv_line(c, buf, sizeof(buf), 5000), 3);
	tcpchat_client_close(c);
	close(peer);
	close(lfd);
}
END_TEST

START_TEST(no_descriptor_leak)
{
	int before = test_open_fds(), i, port, hold = test_closed_port(&port);
	struct tcpchat_client *c;
	struct pair p;

	for (i = 0; i < 100; i++) {
		pair_open(&p);
		pair_close(&p);
		ck_assert_int_eq(tcpchat_client_connect(&c, "127.0.0.1", (unsigned)port, 5000), -ECONNREFUSED);
	}
	close(hold);
	ck_assert_int_eq(test_open_fds(), before);
}
END_TEST

static Suite *client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *tc = tcase_create("core");

	signal(SIGPIPE, SIG_DFL);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, connect_contracts);
	tcase_add_test(tc, connect_timeout);
	tcase_add_test(tc, addresses_and_local_port);
	tcase_add_test(tc, recv_timeout_data_and_eof);
	tcase_add_test(tc, recv_line_framing);
	tcase_add_test(tc, recv_line_too_long_then_next_line);
	tcase_add_test(tc, recv_line_too_long_then_lines_in_same_read);
	tcase_add_test(tc, recv_line_too_long_across_reads);
	tcase_add_test(tc, recv_line_partial_then_timeout_then_rest);
	tcase_add_test(tc, recv_line_last_line_without_newline);
	tcase_add_test(tc, send_all_with_backpressure);
	tcase_add_test(tc, send_to_reset_peer_is_an_error_not_a_signal);
	tcase_add_test(tc, ipv6_connect);
	tcase_add_test(tc, no_descriptor_leak);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(client_suite)
