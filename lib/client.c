/* client.c - one blocking TCP connection with timeouts: connect, send all,
 * recv, recv_line.  The socket itself is non-blocking; every wait is a
 * poll(2) bounded by the caller's deadline. */
#include "internal.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "frame.h"
#include "server.h"
#include "sock.h"

/* Bytes asked of the kernel per read while assembling a line. */
#define LINE_CHUNK 4096

struct tcpchat_client {
	int fd;
	bool eof;                      /* the peer closed: nothing more will come */
	struct tcpchat__buf in;        /* received, not yet returned */
	struct tcpchat__framer framer; /* remembers a too-long line being skipped */
	char peer[TCPCHAT__ADDRSTRLEN];
	char local[TCPCHAT__ADDRSTRLEN];
};

int tcpchat__client_new(struct tcpchat_client **clientp, int fd)
{
	struct tcpchat_client *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->fd = fd;
	tcpchat__buf_init(&c->in);
	tcpchat__framer_init(&c->framer, 0);
	tcpchat__sock_name(fd, true, c->peer);
	tcpchat__sock_name(fd, false, c->local);
	*clientp = c;
	return 0;
}

TCPCHAT_EXPORT int tcpchat_client_connect_from(struct tcpchat_client **clientp,
                                               const char *host, unsigned port,
                                               const char *local_host,
                                               unsigned local_port,
                                               int timeout_ms)
{
	int rc, fd;

	if (!clientp || !host || port == 0 || port > 65535 || local_port > 65535)
		return -EINVAL;
	rc = tcpchat__sock_connect(host, port, local_host, local_port, timeout_ms, &fd);
	if (rc < 0)
		return rc;
	rc = tcpchat__client_new(clientp, fd);
	if (rc < 0)
		close(fd);
	return rc;
}

TCPCHAT_EXPORT int tcpchat_client_connect(struct tcpchat_client **clientp,
                                          const char *host, unsigned port,
                                          int timeout_ms)
{
	return tcpchat_client_connect_from(clientp, host, port, NULL, 0, timeout_ms);
}

TCPCHAT_EXPORT int tcpchat_client_send(struct tcpchat_client *c, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;
	int rc;

	if (!c || (!data && len))
		return -EINVAL;
	while (len > 0) {
		n = tcpchat__sock_send(c->fd, p, len);
		if (n == -EAGAIN) {
			rc = tcpchat__sock_wait(c->fd, POLLOUT, -1);
			if (rc < 0)
				return rc;
			continue;
		}
		if (n < 0)
			return (int)n;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Receive up to size bytes from the socket, waiting until deadline for the
 * first: the count, TCPCHAT_EOF (remembered), -ETIMEDOUT or -errno. */
static ssize_t recv_wait(struct tcpchat_client *c, void *buf, size_t size, uint64_t deadline)
{
	ssize_t n;
	int rc;

	if (c->eof)
		return TCPCHAT_EOF;
	for (;;) {
		n = tcpchat__sock_recv(c->fd, buf, size);
		if (n == TCPCHAT_EOF)
			c->eof = true;
		if (n != -EAGAIN)
			return n;
		rc = tcpchat__sock_wait(c->fd, POLLIN, tcpchat__sock_remaining(deadline));
		if (rc < 0)
			return rc;
	}
}

/* Read what is available (waiting until deadline for something) into the
 * line buffer.  Returns 0, TCPCHAT_EOF, -ETIMEDOUT or -errno. */
static int fill(struct tcpchat_client *c, uint64_t deadline)
{
	ssize_t n;
	int rc;

	rc = tcpchat__buf_reserve(&c->in, LINE_CHUNK);
	if (rc < 0)
		return rc;
	n = recv_wait(c, tcpchat__buf_tail(&c->in), LINE_CHUNK, deadline);
	if (n < 0)
		return (int)n;
	tcpchat__buf_commit(&c->in, (size_t)n);
	return 0;
}

TCPCHAT_EXPORT ssize_t tcpchat_client_recv(struct tcpchat_client *c, void *buf,
                                           size_t size, int timeout_ms)
{
	size_t n;

	if (!c || !buf || size == 0)
		return -EINVAL;
	if (c->in.len == 0)
		return recv_wait(c, buf, size, tcpchat__sock_deadline(timeout_ms));
	/* Bytes recv_line buffered come first. */
	n = c->in.len < size ? c->in.len : size;
	memcpy(buf, tcpchat__buf_data(&c->in), n);
	tcpchat__buf_consume(&c->in, n);
	return (ssize_t)n;
}

TCPCHAT_EXPORT ssize_t tcpchat_client_recv_line(struct tcpchat_client *c, char *buf,
                                                size_t size, int timeout_ms)
{
	uint64_t deadline = tcpchat__sock_deadline(timeout_ms);
	const char *line;
	size_t consumed, len;
	int rc;

	if (!c || !buf || size == 0)
		return -EINVAL;
	c->framer.max = size - 1;
	for (;;) {
		switch (tcpchat__frame_next(&c->framer, tcpchat__buf_data(&c->in),
		                            c->in.len, &consumed, &line, &len)) {
		case TCPCHAT__FRAME_LINE:
			memcpy(buf, line, len);
			buf[len] = '\0';
			tcpchat__buf_consume(&c->in, consumed);
			return (ssize_t)len;
		case TCPCHAT__FRAME_TOOLONG:
			tcpchat__buf_consume(&c->in, consumed);
			return -EMSGSIZE;
		case TCPCHAT__FRAME_NEED:
			tcpchat__buf_consume(&c->in, consumed);
			break;
		}
		rc = fill(c, deadline);
		if (rc == TCPCHAT_EOF && c->in.len > 0) {
			/* The stream ended inside a line: it is the last one. */
			len = c->in.len;
			if (tcpchat__buf_data(&c->in)[len - 1] == '\r')
				len--;
			if (len > size - 1) {
				tcpchat__buf_consume(&c->in, c->in.len);
				return -EMSGSIZE;
			}
			memcpy(buf, tcpchat__buf_data(&c->in), len);
			buf[len] = '\0';
			tcpchat__buf_consume(&c->in, c->in.len);
			return (ssize_t)len;
		}
		if (rc < 0)
			return rc;
	}
}

TCPCHAT_EXPORT int tcpchat_client_shutdown(struct tcpchat_client *c)
{
	if (!c)
		return -EINVAL;
	return shutdown(c->fd, SHUT_WR) < 0 ? -errno : 0;
}

TCPCHAT_EXPORT const char *tcpchat_client_peer(const struct tcpchat_client *c)
{
	return c ? c->peer : "";
}

TCPCHAT_EXPORT const char *tcpchat_client_local(const struct tcpchat_client *c)
{
	return c ? c->local : "";
}

TCPCHAT_EXPORT void tcpchat_client_close(struct tcpchat_client *c)
{
	if (!c)
		return;
	close(c->fd);
	tcpchat__buf_free(&c->in);
	free(c);
}
