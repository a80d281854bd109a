/* check_sock.c - the socket wrappers (lib/sock.c), against raw sockets. */
#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "sock.h"

#include "testutil.h"

/* Every test closes what it opens: compare the descriptor count at its
 * start and end. */
#define FDS_BEGIN() int fds_at_start_ = test_open_fds()
#define FDS_END() ck_assert_int_eq(test_open_fds(), fds_at_start_)

static int is_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	ck_assert_int_ge(fl, 0);
	return (fl & O_NONBLOCK) != 0;
}

static int is_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	ck_assert_int_ge(fl, 0);
	return (fl & FD_CLOEXEC) != 0;
}

static int int_sockopt(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	ck_assert_int_eq(getsockopt(fd, level, name, &v, &len), 0);
	return v;
}

/* "IP:PORT" / "[IPv6]:PORT" of sa, made independently of the library. */
static void addr_text(const struct sockaddr *sa, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;
		ck_assert_ptr_nonnull(inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip)));
		snprintf(buf, size, "%s:%u", ip, ntohs(sin->sin_port));
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)sa;
		ck_assert_int_eq(sa->sa_family, AF_INET6);
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			ck_assert_ptr_nonnull(inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], ip, sizeof(ip)));
			snprintf(buf, size, "%s:%u", ip, ntohs(sin6->sin6_port));
		} else {
			ck_assert_ptr_nonnull(inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip)));
			snprintf(buf, size, "[%s]:%u", ip, ntohs(sin6->sin6_port));
		}
	}
}

/* The local (or peer) address of fd as text, via addr_text(). */
static void fd_text(int fd, int peer, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (peer)
		ck_assert_int_eq(getpeername(fd, (struct sockaddr *)&ss, &len), 0);
	else
		ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	addr_text((struct sockaddr *)&ss, buf, size);
}

static int local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* Whether this host can use IPv6 loopback sockets; says so once if not. */
static int have_ipv6(void)
{
	struct sockaddr_in6 sin6;
	int fd = socket(AF_INET6, SOCK_STREAM, 0), ok;

	if (fd < 0) {
		fprintf(stderr, "check_sock: no IPv6 sockets (%s), IPv6 tests skipped\n",
		        strerror(errno));
		return 0;
	}
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	ok = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;
	if (!ok)
		fprintf(stderr, "check_sock: cannot bind ::1 (%s), IPv6 tests skipped\n",
		        strerror(errno));
	close(fd);
	return ok;
}

/* A connected pair over TCP loopback: *cfd made by tcpchat__sock_connect()
 * (non-blocking), *afd accepted from a raw listener (blocking). */
static void tcp_pair(int *cfd, int *afd)
{
	int lfd, port;

	lfd = test_listen(&port);
	ck_assert_int_eq(tcpchat__sock_connect("127.0.0.1", (unsigned)port, NULL, 0, 2000, cfd), 0);
	*afd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(*afd, 0);
	close(lfd);
}

/* A listener made by the library, listening, on 127.0.0.1. */
static int lib_listener(int *port)
{
	int lfd = -1;

	ck_assert_int_eq(tcpchat__sock_bind("127.0.0.1", 0, &lfd), 0);
	ck_assert_int_eq(listen(lfd, 16), 0);
	*port = local_port(lfd);
	return lfd;
}

/* ------------------------------------------------------------------ */
/* resolve                                                            */
/* ------------------------------------------------------------------ */

START_TEST(test_resolve_ipv4)
{
	struct addrinfo *res = NULL;
	const struct sockaddr_in *sin;

	ck_assert_int_eq(tcpchat__sock_resolve("127.0.0.1", 8088, false, &res), 0);
	ck_assert_ptr_nonnull(res);
	ck_assert_int_eq(res->ai_family, AF_INET);
	ck_assert_int_eq(res->ai_socktype, SOCK_STREAM);
	sin = (const void *)res->ai_addr;
	ck_assert_uint_eq(ntohs(sin->sin_port), 8088);
	ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
	freeaddrinfo(res);
}
END_TEST

START_TEST(test_resolve_ipv6)
{
	struct addrinfo *res = NULL;
	const struct sockaddr_in6 *sin6;

	/* A numeric address resolves whether or not IPv6 is configured. */
	ck_assert_int_eq(tcpchat__sock_resolve("::1", 80, false, &res), 0);
	ck_assert_ptr_nonnull(res);
	ck_assert_int_eq(res->ai_family, AF_INET6);
	sin6 = (const void *)res->ai_addr;
	ck_assert_uint_eq(ntohs(sin6->sin6_port), 80);
	ck_assert(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
	freeaddrinfo(res);
}
END_TEST

/* Every address of ai is a loopback one, with the given port. */
static void assert_all_loopback(const struct addrinfo *ai, unsigned port)
{
	int n = 0;

	for (; ai; ai = ai->ai_next, n++) {
		ck_assert_int_eq(ai->ai_socktype, SOCK_STREAM);
		if (ai->ai_family == AF_INET) {
			const struct sockaddr_in *sin = (const void *)ai->ai_addr;
			ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr) >> 24, 127);
			ck_assert_uint_eq(ntohs(sin->sin_port), port);
		} else {
			const struct sockaddr_in6 *sin6 = (const void *)ai->ai_addr;
			ck_assert_int_eq(ai->ai_family, AF_INET6);
			ck_assert(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
			ck_assert_uint_eq(ntohs(sin6->sin6_port), port);
		}
	}
	ck_assert_int_gt(n, 0);
}

START_TEST(test_resolve_localhost)
{
	struct addrinfo *res = NULL;

	ck_assert_int_eq(tcpchat__sock_resolve("localhost", 4242, false, &res), 0);
	assert_all_loopback(res, 4242);
	freeaddrinfo(res);
}
END_TEST

START_TEST(test_resolve_null_host)
{
	struct addrinfo *res = NULL;
	const struct sockaddr_in *sin;

	/* A server's default: 127.0.0.1. */
	ck_assert_int_eq(tcpchat__sock_resolve(NULL, 9, true, &res), 0);
	ck_assert_int_eq(res->ai_family, AF_INET);
	sin = (const void *)res->ai_addr;
	ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
	ck_assert_uint_eq(ntohs(sin->sin_port), 9);
	freeaddrinfo(res);
	/* A client's default: the loopback address. */
	res = NULL;
	ck_assert_int_eq(tcpchat__sock_resolve(NULL, 9, false, &res), 0);
	assert_all_loopback(res, 9);
	freeaddrinfo(res);
}
END_TEST

START_TEST(test_resolve_bad_name)
{
	struct addrinfo *res = NULL;
	int rc = tcpchat__sock_resolve("no-such-host.invalid", 80, false, &res);

	/* No DNS here: "temporarily failed" is as good as "no such name". */
	ck_assert_msg(rc == TCPCHAT_EAI_NONAME || rc == TCPCHAT_EAI_AGAIN,
	              "resolving no-such-host.invalid: %d (%s)", rc, tcpchat_strerror(rc));
}
END_TEST

START_TEST(test_resolve_bad_port)
{
	struct addrinfo *res = NULL;

	ck_assert_int_eq(tcpchat__sock_resolve("127.0.0.1", 70000, false, &res), -EINVAL);
	ck_assert_int_eq(tcpchat__sock_resolve("127.0.0.1", 65536, true, &res), -EINVAL);
	ck_assert_int_eq(tcpchat__sock_resolve("127.0.0.1", UINT_MAX, false, &res), -EINVAL);
	ck_assert_ptr_null(res);
	ck_assert_int_eq(tcpchat__sock_resolve("127.0.0.1", 65535, false, &res), 0);
	ck_assert_uint_eq(ntohs(((struct sockaddr_in *)res->ai_addr)->sin_port), 65535);
	freeaddrinfo(res);
}
END_TEST

/* ------------------------------------------------------------------ */
/* bind                                                               */
/* ------------------------------------------------------------------ */

START_TEST(test_bind_ipv4)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = -1;
	FDS_BEGIN();

	ck_assert_int_eq(tcpchat__sock_bind("127.0.0.1", 0, &fd), 0);
	ck_assert_int_ge(fd, 0);
	ck_assert(is_nonblocking(fd));
	ck_assert(is_cloexec(fd));
	ck_assert_int_ne(int_sockopt(fd, SOL_SOCKET, SO_REUSEADDR), 0);
	ck_assert_int_eq(int_sockopt(fd, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	ck_assert_int_eq(sin.sin_family, AF_INET);
	ck_assert_uint_eq(ntohl(sin.sin_addr.s_addr), INADDR_LOOPBACK);
	ck_assert_uint_ne(ntohs(sin.sin_port), 0); /* an ephemeral port */
	ck_assert_int_eq(listen(fd, 4), 0);
	close(fd);
	FDS_END();
}
END_TEST

START_TEST(test_bind_null_host)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = -1;
	FDS_BEGIN();

	ck_assert_int_eq(tcpchat__sock_bind(NULL, 0, &fd), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	ck_assert_int_eq(sin.sin_family, AF_INET);
	ck_assert_uint_eq(ntohl(sin.sin_addr.s_addr), INADDR_LOOPBACK);
	close(fd);
	FDS_END();
}
END_TEST

START_TEST(test_bind_ipv6)
{
	struct sockaddr_in6 sin6;
	socklen_t len = sizeof(sin6);
	int fd = -1;
	FDS_BEGIN();

	if (!have_ipv6())
		return;
	ck_assert_int_eq(tcpchat__sock_bind("::1", 0, &fd), 0);
	ck_assert(is_nonblocking(fd));
	ck_assert(is_cloexec(fd));
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin6, &len), 0);
	ck_assert_int_eq(sin6.sin6_family, AF_INET6);
	ck_assert(IN6_IS_ADDR_LOOPBACK(&sin6.sin6_addr));
	ck_assert_uint_ne(ntohs(sin6.sin6_port), 0);
	/* A specific IPv6 address: IPv6 only. */
	ck_assert_int_eq(int_sockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY), 1);
	close(fd);
	FDS_END();
}
END_TEST

START_TEST(test_bind_dual_stack)
{
	char peer[TCPCHAT__ADDRSTRLEN], expected[TCPCHAT__ADDRSTRLEN];
	int fd = -1, port, c, afd = -1;
	FDS_BEGIN();

	if (!have_ipv6())
		return;
	ck_assert_int_eq(tcpchat__sock_bind("::", 0, &fd), 0);
	ck_assert_int_eq(int_sockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	port = local_port(fd);
	/* An IPv4 client gets in, and is named as IPv4. */
	c = test_connect(port);
	ck_assert_int_eq(tcpchat__sock_wait(fd, POLLIN, 2000), 0);
	ck_assert_int_eq(tcpchat__sock_accept(fd, &afd, peer), 0);
	fd_text(c, 0, expected, sizeof(expected));
	ck_assert_str_eq(peer, expected);
	ck_assert_ptr_null(strchr(peer, '['));
	close(afd);
	close(c);
	close(fd);
	FDS_END();
}
END_TEST

START_TEST(test_bind_in_use)
{
	int lfd, port, fd = -7;
	FDS_BEGIN();

	lfd = test_listen(&port);
	ck_assert_int_eq(tcpchat__sock_bind("127.0.0.1", (unsigned)port, &fd), -EADDRINUSE);
	ck_assert_int_eq(fd, -7); /* untouched */
	close(lfd);
	FDS_END();
}
END_TEST

START_TEST(test_bind_errors)
{
	int fd = -7, rc;
	FDS_BEGIN();

	ck_assert_int_eq(tcpchat__sock_bind("127.0.0.1", 70000, &fd), -EINVAL);
	rc = tcpchat__sock_bind("no-such-host.invalid", 0, &fd);
	ck_assert_msg(rc == TCPCHAT_EAI_NONAME || rc == TCPCHAT_EAI_AGAIN, "rc %d", rc);
	/* An address of TEST-NET-3 is not ours. */
	ck_assert_int_eq(tcpchat__sock_bind("203.0.113.7", 0, &fd), -EADDRNOTAVAIL);
	ck_assert_int_eq(fd, -7);
	FDS_END();
}
END_TEST

/* ------------------------------------------------------------------ */
/* format and name                                                    */
/* ------------------------------------------------------------------ */

START_TEST(test_format_ipv4)
{
	struct sockaddr_in sin;
	char buf[TCPCHAT__ADDRSTRLEN];

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr), 1);
	sin.sin_port = htons(8088);
	ck_assert_int_eq(tcpchat__sock_format((struct sockaddr *)&sin, buf), 8088);
	ck_assert_str_eq(buf, "192.0.2.1:8088");

	sin.sin_port = 0;
	ck_assert_int_eq(tcpchat__sock_format((struct sockaddr *)&sin, buf), 0);
	ck_assert_str_eq(buf, "192.0.2.1:0");

	ck_assert_int_eq(inet_pton(AF_INET, "255.255.255.255", &sin.sin_addr), 1);
	sin.sin_port = htons(65535);
	ck_assert_int_eq(tcpchat__sock_format((struct sockaddr *)&sin, buf), 65535);
	ck_assert_str_eq(buf, "255.255.255.255:65535");
}
END_TEST

START_TEST(test_format_ipv6)
{
	struct sockaddr_in6 sin6;
	char buf[TCPCHAT__ADDRSTRLEN];

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	sin6.sin6_port = htons(80);
	ck_assert_int_eq(tcpchat__sock_format((struct sockaddr *)&sin6, buf), 80);
	ck_assert_str_eq(buf, "[::1]:80");

	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr), 1);
	sin6.sin6_port = htons(443);
	ck_assert_int_eq(tcpchat__sock_format((struct sockaddr *)&sin6, buf), 443);
	ck_assert_str_eq(buf, "[2001:db8::1]:443");

	/* The longest text there is fits TCPCHAT__ADDRSTRLEN. */
	ck_assert_int_eq(inet_pton(AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
	                           &sin6.sin6_addr), 1);
	sin6.sin6_port = htons(65535);
	ck_assert_int_eq(tcpchat__sock_format((struct sockaddr *)&sin6, buf), 65535);
	ck_assert_str_eq(buf, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535");
}
END_TEST

START_TEST(test_format_v4mapped)
{
	struct sockaddr_in6 sin6;
	char buf[TCPCHAT__ADDRSTRLEN];

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6.sin6_addr), 1);
	sin6.sin6_port = htons(80);
	ck_assert_int_eq(tcpchat__sock_format((struct sockaddr *)&sin6, buf), 80);
	ck_assert_str_eq(buf, "127.0.0.1:80");
}
END_TEST

START_TEST(test_format_unsupported)
{
	struct sockaddr_un sun;
	struct sockaddr sa;
	char buf[TCPCHAT__ADDRSTRLEN];

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, "/tmp/socket");
	memset(buf, 'x', sizeof(buf));
	ck_assert_int_eq(tcpchat__sock_format((struct sockaddr *)&sun, buf), -EAFNOSUPPORT);
	ck_assert_str_eq(buf, "");

	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNSPEC;
	memset(buf, 'x', sizeof(buf));
	ck_assert_int_eq(tcpchat__sock_format(&sa, buf), -EAFNOSUPPORT);
	ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(test_sock_name)
{
	char buf[TCPCHAT__ADDRSTRLEN], expected[TCPCHAT__ADDRSTRLEN];
	int lfd, port, cfd, afd;
	FDS_BEGIN();

	lfd = lib_listener(&port);
	ck_assert_int_eq(tcpchat__sock_name(lfd, false, buf), port);
	snprintf(expected, sizeof(expected), "127.0.0.1:%d", port);
	ck_assert_str_eq(buf, expected);
	/* Not connected: no peer, and the buffer says nothing. */
	memset(buf, 'x', sizeof(buf));
	ck_assert_int_eq(tcpchat__sock_name(lfd, true, buf), -ENOTCONN);
	ck_assert_str_eq(buf, "");
	close(lfd);

	tcp_pair(&cfd, &afd);
	fd_text(afd, 0, expected, sizeof(expected));
	ck_assert_int_eq(tcpchat__sock_name(cfd, true, buf), local_port(afd));
	ck_assert_str_eq(buf, expected);
	fd_text(cfd, 0, expected, sizeof(expected));
	ck_assert_int_eq(tcpchat__sock_name(cfd, false, buf), local_port(cfd));
	ck_assert_str_eq(buf, expected);
	close(cfd);
	close(afd);
	FDS_END();
}
END_TEST

/* ------------------------------------------------------------------ */
/* accept                                                             */
/* ------------------------------------------------------------------ */

START_TEST(test_accept_empty)
{
	char peer[TCPCHAT__ADDRSTRLEN];
	int lfd, port, fd = -7;
	FDS_BEGIN();

	lfd = lib_listener(&port);
	ck_assert_int_eq(tcpchat__sock_accept(lfd, &fd, peer), -EAGAIN);
	ck_assert_int_eq(fd, -7);
	close(lfd);
	ck_assert_int_eq(tcpchat__sock_accept(-1, &fd, peer), -EBADF);
	ck_assert_int_eq(fd, -7);
	FDS_END();
}
END_TEST

START_TEST(test_accept_one)
{
	char peer[TCPCHAT__ADDRSTRLEN], expected[TCPCHAT__ADDRSTRLEN], buf[8];
	int lfd, port, c, fd = -1;
	FDS_BEGIN();

	lfd = lib_listener(&port);
	c = test_connect(port);
	ck_assert_int_eq(tcpchat__sock_wait(lfd, POLLIN, 2000), 0);
	memset(peer, 'x', sizeof(peer));
	ck_assert_int_eq(tcpchat__sock_accept(lfd, &fd, peer), 0);
	ck_assert_int_ge(fd, 0);
	ck_assert(is_nonblocking(fd));
	ck_assert(is_cloexec(fd));
	fd_text(c, 0, expected, sizeof(expected));
	ck_assert_str_eq(peer, expected);
	/* Nothing else pending. */
	{
		int fd2 = -7;
		ck_assert_int_eq(tcpchat__sock_accept(lfd, &fd2, peer), -EAGAIN);
		ck_assert_int_eq(fd2, -7);
	}
	/* It is the client's connection. */
	ck_assert_int_eq(write(c, "ping", 4), 4);
	ck_assert_uint_eq(test_read_all(fd, buf, 4, 2000), 4);
	ck_assert_mem_eq(buf, "ping", 4);
	close(fd);
	close(c);
	close(lfd);
	FDS_END();
}
END_TEST

/* ------------------------------------------------------------------ */
/* connect                                                            */
/* ------------------------------------------------------------------ */

START_TEST(test_connect_raw_listener)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char seen[TCPCHAT__ADDRSTRLEN], ours[TCPCHAT__ADDRSTRLEN];
	int lfd, port, fd = -1, afd;
	FDS_BEGIN();

	lfd = test_listen(&port);
	ck_assert_int_eq(tcpchat__sock_connect("127.0.0.1", (unsigned)port, NULL, 0, 2000, &fd), 0);
	ck_assert_int_ge(fd, 0);
	ck_assert(is_nonblocking(fd));
	ck_assert(is_cloexec(fd));
	afd = accept(lfd, (struct sockaddr *)&ss, &len);
	ck_assert_int_ge(afd, 0);
	/* The server sees our address. */
	addr_text((struct sockaddr *)&ss, seen, sizeof(seen));
	fd_text(fd, 0, ours, sizeof(ours));
	ck_assert_str_eq(seen, ours);
	fd_text(fd, 1, ours, sizeof(ours));
	snprintf(seen, sizeof(seen), "127.0.0.1:%d", port);
	ck_assert_str_eq(ours, seen);
	close(afd);
	close(fd);
	close(lfd);
	FDS_END();
}
END_TEST

START_TEST(test_connect_localhost)
{
	int lfd, port, fd = -1, afd;
	FDS_BEGIN();

	/* "localhost" may resolve to ::1 first, where nobody listens: the
	 * next address must be tried. */
	lfd = test_listen(&port);
	ck_assert_int_eq(tcpchat__sock_connect("localhost", (unsigned)port, NULL, 0, 2000, &fd), 0);
	afd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(afd, 0);
	close(afd);
	close(fd);
	close(lfd);
	FDS_END();
}
END_TEST

START_TEST(test_connect_refused)
{
	int hold, port, fd = -7;
	FDS_BEGIN();

	hold = test_closed_port(&port);
	ck_assert_int_eq(tcpchat__sock_connect("127.0.0.1", (unsigned)port, NULL, 0, 2000, &fd),
	                 -ECONNREFUSED);
	ck_assert_int_eq(fd, -7);
	close(hold);
	FDS_END();
}
END_TEST

START_TEST(test_connect_bad_args)
{
	int fd = -7, rc;
	FDS_BEGIN();

	ck_assert_int_eq(tcpchat__sock_connect("127.0.0.1", 70000, NULL, 0, 2000, &fd), -EINVAL);
	rc = tcpchat__sock_connect("no-such-host.invalid", 80, NULL, 0, 2000, &fd);
	ck_assert_msg(rc == TCPCHAT_EAI_NONAME || rc == TCPCHAT_EAI_AGAIN, "rc %d", rc);
	ck_assert_int_eq(fd, -7);
	FDS_END();
}
END_TEST

/* A port of 127.0.0.1 that was free a moment ago. */
static int free_port(void)
{
	int fd, port;

	fd = test_closed_port(&port);
	close(fd);
	return port;
}

START_TEST(test_connect_local_port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int lfd, port, lport = 0, fd = -1, afd, rc = -1, tries;
	FDS_BEGIN();

	lfd = test_listen(&port);
	/* Somebody may take the free port first: try a few. */
	for (tries = 0; tries < 20; tries++) {
		lport = free_port();
		rc = tcpchat__sock_connect("127.0.0.1", (unsigned)port, "127.0.0.1",
		                           (unsigned)lport, 2000, &fd);
		if (rc != -EADDRINUSE)
			break;
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(local_port(fd), lport);
	afd = accept(lfd, (struct sockaddr *)&sin, &len);
	ck_assert_int_ge(afd, 0);
	ck_assert_int_eq(ntohs(sin.sin_port), lport);
	ck_assert_uint_eq(ntohl(sin.sin_addr.s_addr), INADDR_LOOPBACK);
	close(afd);
	close(fd);

	/* A local host without a port. */
	ck_assert_int_eq(tcpchat__sock_connect("127.0.0.1", (unsigned)port, "127.0.0.1", 0,
	                                       2000, &fd), 0);
	afd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(afd, 0);
	close(afd);
	close(fd);
	close(lfd);
	FDS_END();
}
END_TEST

START_TEST(test_connect_local_port_in_use)
{
	int lfd, port, busy, busy_port, fd = -7;
	FDS_BEGIN();

	lfd = test_listen(&port);
	busy = test_listen(&busy_port);
	ck_assert_int_eq(tcpchat__sock_connect("127.0.0.1", (unsigned)port, "127.0.0.1",
	                                       (unsigned)busy_port, 2000, &fd), -EADDRINUSE);
	ck_assert_int_eq(fd, -7);
	close(busy);
	close(lfd);
	FDS_END();
}
END_TEST

/* ------------------------------------------------------------------ */
/* wait, deadlines                                                    */
/* ------------------------------------------------------------------ */

START_TEST(test_wait_socketpair)
{
	int sv[2];
	uint64_t t0, elapsed;
	FDS_BEGIN();

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	t0 = tcpchat__now_ms();
	ck_assert_int_eq(tcpchat__sock_wait(sv[0], POLLIN, 300), -ETIMEDOUT);
	elapsed = tcpchat__now_ms() - t0;
	ck_assert_uint_ge(elapsed, 290);
	ck_assert_uint_le(elapsed, 300 + 2000);

	/* Writable at once. */
	ck_assert_int_eq(tcpchat__sock_wait(sv[0], POLLOUT, 1000), 0);
	/* Data ready: at once, however long the timeout. */
	ck_assert_int_eq(write(sv[1], "x", 1), 1);
	t0 = tcpchat__now_ms();
	ck_assert_int_eq(tcpchat__sock_wait(sv[0], POLLIN, 5000), 0);
	ck_assert_int_eq(tcpchat__sock_wait(sv[0], POLLIN, -1), 0);
	ck_assert_int_eq(tcpchat__sock_wait(sv[0], POLLIN, 0), 0);
	ck_assert_uint_lt(tcpchat__now_ms() - t0, 2000);
	close(sv[0]);
	close(sv[1]);
	FDS_END();
}
END_TEST

START_TEST(test_wait_pipe)
{
	int p[2];
	uint64_t t0, elapsed;
	FDS_BEGIN();

	ck_assert_int_eq(pipe(p), 0);
	t0 = tcpchat__now_ms();
	ck_assert_int_eq(tcpchat__sock_wait(p[0], POLLIN, 0), -ETIMEDOUT);
	ck_assert_int_eq(tcpchat__sock_wait(p[0], POLLIN, 150), -ETIMEDOUT);
	elapsed = tcpchat__now_ms() - t0;
	ck_assert_uint_ge(elapsed, 140);
	ck_assert_uint_le(elapsed, 150 + 2000);
	ck_assert_int_eq(write(p[1], "y", 1), 1);
	ck_assert_int_eq(tcpchat__sock_wait(p[0], POLLIN, 1000), 0);
	close(p[0]);
	close(p[1]);
	FDS_END();
}
END_TEST

START_TEST(test_deadline_remaining)
{
	uint64_t before, after, d;
	int r;

	ck_assert(tcpchat__sock_deadline(-1) == UINT64_MAX);
	ck_assert(tcpchat__sock_deadline(-1000) == UINT64_MAX);
	ck_assert(tcpchat__sock_deadline(INT_MIN) == UINT64_MAX);
	ck_assert_int_eq(tcpchat__sock_remaining(UINT64_MAX), -1);

	before = tcpchat__now_ms();
	d = tcpchat__sock_deadline(1000);
	after = tcpchat__now_ms();
	ck_assert_uint_ge(d, before + 1000);
	ck_assert_uint_le(d, after + 1000);
	r = tcpchat__sock_remaining(d);
	ck_assert_int_gt(r, 0);
	ck_assert_int_le(r, 1000);

	/* Past deadlines have nothing left. */
	ck_assert_int_eq(tcpchat__sock_remaining(tcpchat__sock_deadline(0)), 0);
	ck_assert_int_eq(tcpchat__sock_remaining(0), 0);
	ck_assert_int_eq(tcpchat__sock_remaining(tcpchat__now_ms() - 5), 0);

	/* A far deadline is a long positive wait, not an overflow. */
	r = tcpchat__sock_remaining(tcpchat__now_ms() + ((uint64_t)1 << 40));
	ck_assert_int_ge(r, INT_MAX - 1000);
	d = tcpchat__sock_deadline(INT_MAX);
	ck_assert_uint_ge(d, before + INT_MAX);
}
END_TEST

START_TEST(test_now_ms)
{
	uint64_t a, b;

	a = tcpchat__now_ms();
	ck_assert_int_eq(poll(NULL, 0, 50), 0);
	b = tcpchat__now_ms();
	ck_assert_uint_ge(b, a + 45);
	ck_assert_uint_lt(b, a + 50 + 2000);
}
END_TEST

/* ------------------------------------------------------------------ */
/* send, writev, recv                                                 */
/* ------------------------------------------------------------------ */

/* Send until the closed peer makes it fail: the error, never SIGPIPE. */
static ssize_t send_until_error(int fd, int use_writev)
{
	static char data[1024];
	struct iovec iov[2] = { { data, 512 }, { data + 512, 512 } };
	ssize_t rc = 0;
	int i;

	for (i = 0; i < 2000; i++) {
		rc = use_writev ? tcpchat__sock_writev(fd, iov, 2)
		                : tcpchat__sock_send(fd, data, sizeof(data));
		if (rc < 0 && rc != -EAGAIN)
			break;
		poll(NULL, 0, 2);
	}
	return rc;
}

START_TEST(test_send_to_closed_peer)
{
	int cfd, afd;
	ssize_t rc;
	FDS_BEGIN();

	/* The default disposition: SIGPIPE would end the test. */
	ck_assert(signal(SIGPIPE, SIG_DFL) != SIG_ERR);

	tcp_pair(&cfd, &afd);
	close(afd);
	rc = send_until_error(cfd, 0);
	ck_assert_msg(rc == -EPIPE || rc == -ECONNRESET, "send: %zd (%s)", rc,
	              tcpchat_strerror((int)rc));
	/* And it goes on failing, quietly. */
	rc = tcpchat__sock_send(cfd, "x", 1);
	ck_assert_msg(rc == -EPIPE || rc == -ECONNRESET, "send again: %zd", rc);
	close(cfd);

	tcp_pair(&cfd, &afd);
	close(afd);
	rc = send_until_error(cfd, 1);
	ck_assert_msg(rc == -EPIPE || rc == -ECONNRESET, "writev: %zd (%s)", rc,
	              tcpchat_strerror((int)rc));
	close(cfd);

	/* After our own shutdown: EPIPE at once. */
	tcp_pair(&cfd, &afd);
	ck_assert_int_eq(shutdown(cfd, SHUT_WR), 0);
	ck_assert_int_eq(tcpchat__sock_send(cfd, "x", 1), -EPIPE);
	close(cfd);
	close(afd);
	FDS_END();
}
END_TEST

START_TEST(test_send_bad_fd)
{
	ck_assert_int_eq(tcpchat__sock_send(-1, "x", 1), -EBADF);
	ck_assert_int_eq(tcpchat__sock_recv(-1, (char[1]){ 0 }, 1), -EBADF);
}
END_TEST

START_TEST(test_recv)
{
	char buf[16];
	int cfd, afd;
	FDS_BEGIN();

	tcp_pair(&cfd, &afd);
	ck_assert_int_eq(tcpchat__sock_recv(cfd, buf, sizeof(buf)), -EAGAIN);
	ck_assert_int_eq(write(afd, "hello", 5), 5);
	ck_assert_int_eq(tcpchat__sock_wait(cfd, POLLIN, 2000), 0);
	ck_assert_int_eq(tcpchat__sock_recv(cfd, buf, sizeof(buf)), 5);
	ck_assert_mem_eq(buf, "hello", 5);
	ck_assert_int_eq(tcpchat__sock_recv(cfd, buf, sizeof(buf)), -EAGAIN);

	/* The peer shuts down its side: end of stream, every time. */
	ck_assert_int_eq(write(afd, "bye", 3), 3);
	ck_assert_int_eq(shutdown(afd, SHUT_WR), 0);
	ck_assert_int_eq(tcpchat__sock_wait(cfd, POLLIN, 2000), 0);
	ck_assert_int_eq(tcpchat__sock_recv(cfd, buf, 2), 2);
	ck_assert_mem_eq(buf, "by", 2);
	ck_assert_int_eq(tcpchat__sock_recv(cfd, buf, sizeof(buf)), 1);
	ck_assert_int_eq(tcpchat__sock_recv(cfd, buf, sizeof(buf)), TCPCHAT_EOF);
	ck_assert_int_eq(tcpchat__sock_recv(cfd, buf, sizeof(buf)), TCPCHAT_EOF);
	/* Our side still sends. */
	ck_assert_int_eq(tcpchat__sock_send(cfd, "ok", 2), 2);
	ck_assert_uint_eq(test_read_all(afd, buf, 2, 2000), 2);
	ck_assert_mem_eq(buf, "ok", 2);
	close(cfd);
	close(afd);

	/* A reset peer. */
	tcp_pair(&cfd, &afd);
	test_reset(afd);
	ck_assert_int_eq(tcpchat__sock_wait(cfd, POLLIN, 2000), 0);
	ck_assert_int_eq(tcpchat__sock_recv(cfd, buf, sizeof(buf)), -ECONNRESET);
	close(cfd);
	FDS_END();
}
END_TEST

START_TEST(test_writev_gathers)
{
	struct iovec iov[4] = {
		{ (void *)"abc", 3 }, { (void *)"", 0 }, { (void *)"defg", 4 }, { (void *)"hi", 2 },
	};
	struct iovec many[64];
	static char big[64 * 100];
	char got[64 * 100];
	int cfd, afd, i;
	FDS_BEGIN();

	tcp_pair(&cfd, &afd);
	ck_assert_int_eq(tcpchat__sock_writev(cfd, iov, 4), 9);
	ck_assert_uint_eq(test_read_all(afd, got, 9, 2000), 9);
	ck_assert_mem_eq(got, "abcdefghi", 9);

	for (i = 0; i < (int)sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 251);
	for (i = 0; i < 64; i++) {
		many[i].iov_base = big + i * 100;
		many[i].iov_len = 100;
	}
	ck_assert_int_eq(tcpchat__sock_writev(cfd, many, 64), (ssize_t)sizeof(big));
	ck_assert_uint_eq(test_read_all(afd, got, sizeof(got), 2000), sizeof(got));
	ck_assert_mem_eq(got, big, sizeof(big));
	close(cfd);
	close(afd);
	FDS_END();
}
END_TEST

START_TEST(test_send_full_socket_eagain)
{
	static char chunk[65536];
	struct iovec iov = { chunk, sizeof(chunk) };
	ssize_t rc = 0;
	size_t total = 0;
	int cfd, afd;
	FDS_BEGIN();

	/* The peer never reads: the non-blocking socket fills up. */
	tcp_pair(&cfd, &afd);
	while (total < ((size_t)256 << 20)) {
		rc = tcpchat__sock_writev(cfd, &iov, 1);
		if (rc < 0)
			break;
		total += (size_t)rc;
	}
	ck_assert_int_eq(rc, -EAGAIN);
	ck_assert_int_eq(tcpchat__sock_send(cfd, chunk, sizeof(chunk)), -EAGAIN);
	ck_assert_uint_gt(total, 0);
	close(cfd);
	close(afd);
	FDS_END();
}
END_TEST

static Suite *sock_suite(void)
{
	Suite *s = suite_create("sock");
	TCase *tc;

	tc = tcase_create("resolve");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_resolve_ipv4);
	tcase_add_test(tc, test_resolve_ipv6);
	tcase_add_test(tc, test_resolve_localhost);
	tcase_add_test(tc, test_resolve_null_host);
	tcase_add_test(tc, test_resolve_bad_name);
	tcase_add_test(tc, test_resolve_bad_port);
	suite_add_tcase(s, tc);

	tc = tcase_create("bind");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_bind_ipv4);
	tcase_add_test(tc, test_bind_null_host);
	tcase_add_test(tc, test_bind_ipv6);
	tcase_add_test(tc, test_bind_dual_stack);
	tcase_add_test(tc, test_bind_in_use);
	tcase_add_test(tc, test_bind_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("format");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_format_ipv4);
	tcase_add_test(tc, test_format_ipv6);
	tcase_add_test(tc, test_format_v4mapped);
	tcase_add_test(tc, test_format_unsupported);
	tcase_add_test(tc, test_sock_name);
	suite_add_tcase(s, tc);

	tc = tcase_create("accept");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_accept_empty);
	tcase_add_test(tc, test_accept_one);
	suite_add_tcase(s, tc);

	tc = tcase_create("connect");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_connect_raw_listener);
	tcase_add_test(tc, test_connect_localhost);
	tcase_add_test(tc, test_connect_refused);
	tcase_add_test(tc, test_connect_bad_args);
	tcase_add_test(tc, test_connect_local_port);
	tcase_add_test(tc, test_connect_local_port_in_use);
	suite_add_tcase(s, tc);

	tc = tcase_create("wait");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_wait_socketpair);
	tcase_add_test(tc, test_wait_pipe);
	tcase_add_test(tc, test_deadline_remaining);
	tcase_add_test(tc, test_now_ms);
	suite_add_tcase(s, tc);

	tc = tcase_create("io");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_send_to_closed_peer);
	tcase_add_test(tc, test_send_bad_fd);
	tcase_add_test(tc, test_recv);
	tcase_add_test(tc, test_writev_gathers);
	tcase_add_test(tc, test_send_full_socket_eagain);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(sock_suite)
