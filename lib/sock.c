/* sock.c - thin, careful wrappers around the BSD socket calls. */
#include "internal.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sock.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* then SO_NOSIGPIPE is set on each socket instead */
#endif

uint64_t tcpchat__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t tcpchat__sock_deadline(int timeout_ms)
{
	return timeout_ms < 0 ? UINT64_MAX : tcpchat__now_ms() + (uint64_t)timeout_ms;
}

int tcpchat__sock_remaining(uint64_t deadline)
{
	uint64_t now;

	if (deadline == UINT64_MAX)
		return -1;
	now = tcpchat__now_ms();
	if (now >= deadline)
		return 0;
	return deadline - now > INT32_MAX ? INT32_MAX : (int)(deadline - now);
}

int tcpchat__sock_eai_error(int eai)
{
	switch (eai) {
	case 0: return 0;
	case EAI_NONAME: return TCPCHAT_EAI_NONAME;
#ifdef EAI_NODATA
	case EAI_NODATA: return TCPCHAT_EAI_NONAME;
#endif
#ifdef EAI_ADDRFAMILY
	case EAI_ADDRFAMILY: return TCPCHAT_EAI_NONAME;
#endif
	case EAI_SERVICE: return TCPCHAT_EAI_NONAME;
	case EAI_AGAIN: return TCPCHAT_EAI_AGAIN;
	case EAI_FAIL: return TCPCHAT_EAI_FAIL;
	case EAI_FAMILY: return TCPCHAT_EAI_FAMILY;
	case EAI_MEMORY: return TCPCHAT_EAI_MEMORY;
	case EAI_SYSTEM: return errno ? -errno : TCPCHAT_EAI_OTHER;
	default: return TCPCHAT_EAI_OTHER;
	}
}

int tcpchat__sock_resolve(const char *host, unsigned port, bool passive,
                          struct addrinfo **res)
{
	struct addrinfo hints;
	char service[8];

	if (port > 65535)
		return -EINVAL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	/* No AI_ADDRCONFIG: it hides ::1 on hosts whose only IPv6 address is
	 * the loopback one, exactly where tests and local servers run. */
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	snprintf(service, sizeof(service), "%u", port);
	if (!host)
		host = passive ? "127.0.0.1" : "localhost";
	errno = 0;
	return tcpchat__sock_eai_error(getaddrinfo(host, service, &hints, res));
}

/* Make a fresh descriptor what every one of ours is: close-on-exec,
 * non-blocking, and (where MSG_NOSIGNAL is missing) free of SIGPIPE.  On
 * failure fd is closed.  Systems with SOCK_CLOEXEC and accept4 get the
 * first two from the call that made fd. */
static int own_descriptor(int fd, bool flags_done)
{
	int on = 1;

	if (!flags_done && (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
	                    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)) {
		int err = -errno;
		close(fd);
		return err;
	}
#ifdef SO_NOSIGPIPE
	setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof(on));
#endif
	(void)on;
	return fd;
}

/* A new socket of family, non-blocking and close-on-exec. */
static int new_socket(int family)
{
	int fd;

#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	return fd < 0 ? -errno : own_descriptor(fd, true);
#else
	fd = socket(family, SOCK_STREAM, 0);
	return fd < 0 ? -errno : own_descriptor(fd, false);
#endif
}

int tcpchat__sock_bind(const char *host, unsigned port, int *fdp)
{
	struct addrinfo *res, *ai;
	int rc, fd, on = 1, v6only;

	rc = tcpchat__sock_resolve(host, port, true, &res);
	if (rc < 0)
		return rc;
	rc = -EADDRNOTAVAIL;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = new_socket(ai->ai_family);
		if (fd < 0) {
			rc = fd;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (ai->ai_family == AF_INET6) {
			/* "::" serves IPv4 too; a specific IPv6 address only IPv6. */
			const struct sockaddr_in6 *sin6 = (const void *)ai->ai_addr;
			v6only = !IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
		}
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			*fdp = fd;
			rc = 0;
			break;
		}
		rc = -errno;
		close(fd);
	}
	freeaddrinfo(res);
	return rc;
}

int tcpchat__sock_accept(int lfd, int *fdp, char *peer)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fd;

	for (;;) {
		sslen = sizeof(ss);
#ifdef HAVE_ACCEPT4
		fd = accept4(lfd, (struct sockaddr *)&ss, &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
		fd = accept(lfd, (struct sockaddr *)&ss, &sslen);
#endif
		if (fd >= 0)
			break;
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
#ifdef HAVE_ACCEPT4
	fd = own_descriptor(fd, true);
#else
	fd = own_descriptor(fd, false);
#endif
	if (fd < 0)
		return fd;
	tcpchat__sock_format((struct sockaddr *)&ss, peer);
	*fdp = fd;
	return 0;
}

int tcpchat__sock_wait(int fd, short events, int timeout_ms)
{
	struct pollfd pfd;
	uint64_t deadline = tcpchat__sock_deadline(timeout_ms);
	int rc;

	for (;;) {
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		rc = poll(&pfd, 1, tcpchat__sock_remaining(deadline));
		if (rc > 0)
			return 0;
		if (rc == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* Bind fd to local_host:local_port in the family of fd. */
static int bind_local(int fd, int family, const char *local_host, unsigned local_port)
{
	struct addrinfo *res, *ai;
	int rc, on = 1;

	if (!local_host)
		local_host = family == AF_INET6 ? "::" : "0.0.0.0";
	rc = tcpchat__sock_resolve(local_host, local_port, true, &res);
	if (rc < 0)
		return rc;
	/* A chosen port may still be in TIME_WAIT from the previous run. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	rc = -EAFNOSUPPORT;
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family != family)
			continue;
		rc = bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : -errno;
		if (rc == 0)
			break;
	}
	freeaddrinfo(res);
	return rc;
}

/* Connect fd to one address, waiting at most timeout_ms. */
static int connect_one(int fd, const struct addrinfo *ai, int timeout_ms)
{
	int rc, err = 0;
	socklen_t len = sizeof(err);

	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EINTR)
		return -errno;
	rc = tcpchat__sock_wait(fd, POLLOUT, timeout_ms);
	if (rc < 0)
		return rc;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

int tcpchat__sock_connect(const char *host, unsigned port,
                          const char *local_host, unsigned local_port,
                          int timeout_ms, int *fdp)
{
	struct addrinfo *res, *ai;
	int rc, fd;

	rc = tcpchat__sock_resolve(host, port, false, &res);
	if (rc < 0)
		return rc;
	rc = -ECONNREFUSED;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = new_socket(ai->ai_family);
		if (fd < 0) {
			rc = fd;
			continue;
		}
		if (local_host || local_port)
			rc = bind_local(fd, ai->ai_family, local_host, local_port);
		else
			rc = 0;
		if (rc == 0)
			rc = connect_one(fd, ai, timeout_ms);
		if (rc == 0) {
			*fdp = fd;
			break;
		}
		close(fd);
	}
	freeaddrinfo(res);
	return rc;
}

int tcpchat__sock_format(const struct sockaddr *sa, char *buf)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(buf, TCPCHAT__ADDRSTRLEN, "%s:%u", ip, ntohs(sin->sin_port));
		return ntohs(sin->sin_port);
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], ip, sizeof(ip));
			snprintf(buf, TCPCHAT__ADDRSTRLEN, "%s:%u", ip, ntohs(sin6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
			snprintf(buf, TCPCHAT__ADDRSTRLEN, "[%s]:%u", ip, ntohs(sin6->sin6_port));
		}
		return ntohs(sin6->sin6_port);
	}
	buf[0] = '\0';
	return -EAFNOSUPPORT;
}

int tcpchat__sock_name(int fd, bool peer, char *buf)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int rc;

	rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
	          : getsockname(fd, (struct sockaddr *)&ss, &len);
	if (rc < 0) {
		buf[0] = '\0';
		return -errno;
	}
	return tcpchat__sock_format((struct sockaddr *)&ss, buf);
}

ssize_t tcpchat__sock_send(int fd, const void *data, size_t len)
{
	ssize_t n;

	do
		n = send(fd, data, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return n;
	return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

ssize_t tcpchat__sock_writev(int fd, const struct iovec *iov, int iovcnt)
{
	struct msghdr msg;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = (struct iovec *)iov;
	msg.msg_iovlen = (size_t)iovcnt;
	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return n;
	return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

ssize_t tcpchat__sock_recv(int fd, void *buf, size_t size)
{
	ssize_t n;

	do
		n = recv(fd, buf, size, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		return n;
	if (n == 0)
		return size ? TCPCHAT_EOF : 0;
	return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}
