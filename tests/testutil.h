/* testutil.h - what the Check programs share: a main() that runs one suite,
 * raw-socket helpers that do not use the library under test, and a count
 * of open descriptors for leak checks. */
#ifndef TCPCHAT_TESTUTIL_H
#define TCPCHAT_TESTUTIL_H

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcpchat.h"

/* main() running suite_fn()'s suite; exit status 1 if any test failed. */
#define TEST_MAIN(suite_fn)                                            \
	int main(void)                                                 \
	{                                                              \
		SRunner *sr = srunner_create(suite_fn());              \
		int failed;                                            \
		srunner_run_all(sr, CK_ENV);                           \
		failed = srunner_ntests_failed(sr);                    \
		srunner_free(sr);                                      \
		return failed ? EXIT_FAILURE : EXIT_SUCCESS;           \
	}

/* A blocking IPv4 loopback listener on an ephemeral port (raw sockets,
 * not the library); its port in *port. */
static inline int test_listen(int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), on = 1;

	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* A blocking raw socket connected to 127.0.0.1:port.  With rcvbuf > 0
 * its receive buffer is set to that many bytes first, so that the window
 * it advertises from the start fits the buffer. */
static inline int test_connect_rcvbuf(int port, int rcvbuf)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	if (rcvbuf > 0)
		ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((unsigned short)port);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

static inline int test_connect(int port)
{
	return test_connect_rcvbuf(port, 0);
}

/* Close fd with a reset instead of a FIN (SO_LINGER with a zero timeout). */
static inline void test_reset(int fd)
{
	struct linger lg = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* A port on 127.0.0.1 where nothing listens (bound, never listened on, and
 * kept bound by the returned descriptor so nobody else takes it). */
static inline int test_closed_port(int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* Read exactly len bytes from a blocking fd, at most timeout_ms per wait;
 * returns the bytes read (less than len on EOF or timeout). */
static inline size_t test_read_all(int fd, void *buf, size_t len, int timeout_ms)
{
	struct pollfd pfd;
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, timeout_ms) <= 0)
			break;
		n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* The invariants of a server's counters, true at any time:
 * accepted = live + closed, and closed = the sum of the closed_* ones. */
static inline void test_check_counters(const struct tcpchat_server *srv)
{
	uint64_t sum = 0;
	int st;

	for (st = TCPCHAT_STAT_CLOSED_APP; st <= TCPCHAT_STAT_CLOSED_SLOW; st++)
		sum += tcpchat_server_stat(srv, (enum tcpchat_stat)st);
	ck_assert_uint_eq(tcpchat_server_stat(srv, TCPCHAT_STAT_ACCEPTED),
	                  tcpchat_server_stat(srv, TCPCHAT_STAT_LIVE) +
	                  tcpchat_server_stat(srv, TCPCHAT_STAT_CLOSED));
	ck_assert_uint_eq(tcpchat_server_stat(srv, TCPCHAT_STAT_CLOSED), sum);
}

/* Descriptors open in this process. */
static inline int test_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory stream's own */
}

/* True under valgrind, whose preloaded core shows in our own mappings.
 * Valgrind virtualises some limits (it keeps descriptors of its own), so
 * a test of running out of them would test valgrind instead. */
static inline bool test_under_valgrind(void)
{
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, "vgpreload") != NULL;
	fclose(f);
	return found;
}

/* Run loop until cond() holds, checked every millisecond by a timer. */
static bool (*test_until_cond)(void);
static struct tcpchat_loop *test_until_loop;

static inline void test_until_tick(struct tcpchat_timer *t, void *arg)
{
	if (test_until_cond())
		tcpchat_loop_stop(test_until_loop);
}

static inline void test_run_until(struct tcpchat_loop *loop, bool (*cond)(void))
{
	struct tcpchat_timer *t;

	test_until_cond = cond;
	test_until_loop = loop;
	ck_assert_int_eq(tcpchat_timer_create(loop, &t, test_until_tick, NULL), 0);
	ck_assert_int_eq(tcpchat_timer_start(t, 1, 1), 0);
	ck_assert_int_eq(tcpchat_loop_run(loop), 0);
	tcpchat_timer_free(t);
	ck_assert(cond());
}

static inline void test_stop_tick(struct tcpchat_timer *t, void *loop)
{
	tcpchat_loop_stop(loop);
}

/* Run loop until cond() holds or timeout_ms pass; returns cond(). */
static inline bool test_run_within(struct tcpchat_loop *loop, bool (*cond)(void),
                                   uint64_t timeout_ms)
{
	struct tcpchat_timer *t;
	uint64_t start = tcpchat_loop_now(loop);

	/* A millisecond at a time, so the deadline is checked in between. */
	ck_assert_int_eq(tcpchat_timer_create(loop, &t, test_stop_tick, loop), 0);
	while (!cond() && tcpchat_loop_now(loop) - start < timeout_ms) {
		ck_assert_int_eq(tcpchat_timer_start(t, 1, 0), 0);
		ck_assert_int_eq(tcpchat_loop_run(loop), 0);
	}
	tcpchat_timer_free(t);
	return cond();
}

#endif /* TCPCHAT_TESTUTIL_H */
