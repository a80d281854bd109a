/* conn.c - one connection of an event-driven server: reads into the loop's
 * shared buffer, writes inline and queues only what the socket refuses, and
 * closes gracefully (flush, shut down the sending side, linger for the
 * peer's FIN).
 *
 * A connection is never freed while an event of the current batch may still
 * point at it: closing marks it DEAD and queues its teardown, which runs at
 * the end of the loop iteration and calls the close callback exactly once. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server.h"
#include "sock.h"

/* How long a closing connection waits for the peer's FIN after shutting
 * down its own side.  Closing with unread input makes the kernel send a
 * reset, and a reset may destroy the last reply before the peer reads it. */
#define LINGER_MS 2000
/* Queue items written by one sendmsg. */
#define IOV_BATCH 64

static void conn_kill(struct tcpchat_conn *conn, int reason)
{
	if (conn->state == TCPCHAT__DEAD)
		return;
	conn->state = TCPCHAT__DEAD;
	conn->reason = reason;
	tcpchat__io_set(conn->srv->loop, &conn->io, 0);
	tcpchat_timer_stop(&conn->linger);
	tcpchat__loop_defer(conn->srv->loop, &conn->teardown);
}

/* Watch for what the state calls for: input until the peer's EOF (it is
 * discarded once closing), writability while output is queued. */
static void conn_update(struct tcpchat_conn *conn)
{
	unsigned events = 0;
	int rc;

	if (conn->state == TCPCHAT__DEAD)
		return;
	if (!conn->eof)
		events |= TCPCHAT__READ;
	if (conn->out.bytes > 0)
		events |= TCPCHAT__WRITE;
	rc = tcpchat__io_set(conn->srv->loop, &conn->io, events);
	if (rc < 0)
		conn_kill(conn, rc);
}

/* Everything is written and the application is done with conn. */
static void conn_shutdown(struct tcpchat_conn *conn)
{
	if (conn->eof) {
		conn_kill(conn, conn->reason);
		return;
	}
	if (shutdown(conn->io.fd, SHUT_WR) < 0) {
		conn_kill(conn, -errno);
		return;
	}
	conn->state = TCPCHAT__LINGER;
	conn_update(conn);
	tcpchat_timer_start(&conn->linger, LINGER_MS, 0);
}

static void conn_close(struct tcpchat_conn *conn, int reason)
{
	if (conn->state != TCPCHAT__OPEN)
		return;
	conn->state = TCPCHAT__FLUSH;
	conn->reason = reason;
	if (conn->out.bytes == 0)
		conn_shutdown(conn);
	else
		conn_update(conn);
}

static void conn_flush(struct tcpchat_conn *conn)
{
	struct iovec iov[IOV_BATCH];
	size_t want;
	ssize_t n;
	int i, cnt;

	while (conn->out.bytes > 0) {
		cnt = tcpchat__queue_iov(&conn->out, iov, IOV_BATCH);
		for (want = 0, i = 0; i < cnt; i++)
			want += iov[i].iov_len;
		n = tcpchat__sock_writev(conn->io.fd, iov, cnt);
		if (n == -EAGAIN)
			break;
		if (n < 0) {
			conn_kill(conn, (int)n);
			return;
		}
		tcpchat__queue_consume(&conn->out, (size_t)n);
		if ((size_t)n < want)
			break; /* the socket is full: wait for writability */
	}
	if (conn->out.bytes == 0 && conn->state == TCPCHAT__FLUSH)
		conn_shutdown(conn);
	else
		conn_update(conn);
}

static void conn_read(struct tcpchat_conn *conn)
{
	struct tcpchat_server *srv = conn->srv;
	char *buf = srv->loop->readbuf;
	ssize_t n;

	/* One read per readiness: with level-triggered readiness whatever is
	 * left is reported again, and a read that would only say EAGAIN is a
	 * system call saved per message. */
	n = tcpchat__sock_recv(conn->io.fd, buf, TCPCHAT__READ_SIZE);
	if (n > 0) {
		if (conn->state == TCPCHAT__OPEN && srv->on_data)
			srv->on_data(conn, buf, (size_t)n);
		return;
	}
	if (n == -EAGAIN)
		return;
	if (n != TCPCHAT_EOF) {
		conn_kill(conn, (int)n);
		return;
	}
	conn->eof = true;
	switch (conn->state) {
	case TCPCHAT__OPEN:
		conn_update(conn);
		if (srv->on_eof)
			srv->on_eof(conn);
		else
			conn_close(conn, TCPCHAT_EOF);
		break;
	case TCPCHAT__FLUSH:
		conn_update(conn); /* the end of the flush closes at once */
		break;
	case TCPCHAT__LINGER:
		conn_kill(conn, conn->reason);
		break;
	case TCPCHAT__DEAD:
		break;
	}
}

static void on_io(struct tcpchat_loop *loop, struct tcpchat__io *io, unsigned revents)
{
	struct tcpchat_conn *conn = TCPCHAT__CONTAINER_OF(io, struct tcpchat_conn, io);

	if (revents & TCPCHAT__WRITE)
		conn_flush(conn);
	if ((revents & TCPCHAT__READ) && conn->state != TCPCHAT__DEAD)
		conn_read(conn);
}

static void on_linger(struct tcpchat_timer *t, void *arg)
{
	struct tcpchat_conn *conn = arg;

	conn_kill(conn, conn->reason);
}

static void on_teardown(struct tcpchat__deferred *d)
{
	struct tcpchat_conn *conn = TCPCHAT__CONTAINER_OF(d, struct tcpchat_conn, teardown);

	tcpchat__conn_destroy(conn, conn->reason);
}

int tcpchat__conn_open(struct tcpchat_server *srv, int fd, const char *peer)
{
	struct tcpchat_loop *loop = srv->loop;
	struct tcpchat_conn *conn;
	int rc;

	if (!loop->readbuf) {
		loop->readbuf = malloc(TCPCHAT__READ_SIZE);
		if (!loop->readbuf)
			return -ENOMEM;
	}
	conn = calloc(1, sizeof(*conn));
	if (!conn)
		return -ENOMEM;
	tcpchat__io_init(&conn->io, fd, on_io);
	rc = tcpchat__io_set(loop, &conn->io, TCPCHAT__READ);
	if (rc < 0) {
		free(conn);
		return rc;
	}
	conn->srv = srv;
	tcpchat__queue_init(&conn->out);
	conn->state = TCPCHAT__OPEN;
	tcpchat__deferred_init(&conn->teardown, on_teardown);
	tcpchat__timer_init(&conn->linger, loop, on_linger, conn);
	memcpy(conn->peer, peer, sizeof(conn->peer));
	tcpchat__list_append(&srv->conns, &conn->link);
	loop->alive++;
	if (srv->on_connect)
		srv->on_connect(conn);
	return 0;
}

void tcpchat__conn_destroy(struct tcpchat_conn *conn, int reason)
{
	struct tcpchat_server *srv = conn->srv;
	struct tcpchat_loop *loop = srv->loop;

	tcpchat__loop_cancel(&conn->teardown);
	tcpchat__io_set(loop, &conn->io, 0);
	tcpchat_timer_stop(&conn->linger);
	close(conn->io.fd);
	tcpchat__queue_free(&conn->out);
	tcpchat__list_remove(&conn->link);
	loop->alive--;
	conn->state = TCPCHAT__DEAD;
	conn->reason = reason;
	if (srv->on_close)
		srv->on_close(conn, reason);
	free(conn);
}

TCPCHAT_EXPORT int tcpchat_conn_send(struct tcpchat_conn *conn, const void *data, size_t len)
{
	ssize_t n;
	int rc;

	if (!conn || (!data && len))
		return -EINVAL;
	if (conn->state != TCPCHAT__OPEN)
		return -EPIPE;
	if (len == 0)
		return 0;
	if (conn->out.bytes == 0) {
		/* Nothing queued: try the socket first, the common case costs
		 * one system call and no copy. */
		n = tcpchat__sock_send(conn->io.fd, data, len);
		if (n == (ssize_t)len)
			return 0;
		if (n < 0 && n != -EAGAIN) {
			conn_kill(conn, (int)n);
			return (int)n;
		}
		if (n > 0) {
			data = (const char *)data + n;
			len -= (size_t)n;
		}
	}
	rc = tcpchat__queue_append(&conn->out, data, len);
	if (rc < 0) {
		conn_kill(conn, rc); /* part of the stream is lost: end it */
		return rc;
	}
	conn_update(conn);
	return 0;
}

TCPCHAT_EXPORT void tcpchat_conn_close(struct tcpchat_conn *conn)
{
	if (conn)
		conn_close(conn, conn->eof ? TCPCHAT_EOF : 0);
}

TCPCHAT_EXPORT const char *tcpchat_conn_peer(const struct tcpchat_conn *conn)
{
	return conn ? conn->peer : "";
}

TCPCHAT_EXPORT struct tcpchat_server *tcpchat_conn_server(const struct tcpchat_conn *conn)
{
	return conn ? conn->srv : NULL;
}

TCPCHAT_EXPORT size_t tcpchat_conn_queued(const struct tcpchat_conn *conn)
{
	return conn ? conn->out.bytes : 0;
}

TCPCHAT_EXPORT void tcpchat_conn_set_userdata(struct tcpchat_conn *conn, void *userdata)
{
	if (conn)
		conn->userdata = userdata;
}

TCPCHAT_EXPORT void *tcpchat_conn_userdata(const struct tcpchat_conn *conn)
{
	return conn ? conn->userdata : NULL;
}
