/* server.c - a listening socket, its accept loop, and the set of
 * connections it owns. */
#include "internal.h"

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server.h"
#include "sock.h"

/* Connections accepted per wake-up at most, so a connection flood cannot
 * starve the connections already open. */
#define ACCEPT_BATCH 64
/* How long to stop accepting after running out of descriptors or memory,
 * instead of spinning on a listener that stays readable. */
#define ACCEPT_BACKOFF_MS 100

/* Default limits (see enum tcpchat_limit and doc/design.md for why). */
#define DEFAULT_MAX_CLIENTS 1024
#define DEFAULT_MAX_QUEUE (1u << 20)
#define DEFAULT_MAX_LINE 4096
#define DEFAULT_QUEUE_TIME_MS 2000
#define DEFAULT_LINE_TIME_MS 60000
/* The largest line limit accepted: a line is kept in one allocation. */
#define MAX_MAX_LINE (1u << 30)

TCPCHAT_EXPORT int tcpchat_server_create(struct tcpchat_server **srvp)
{
	struct tcpchat_server *srv;

	if (!srvp)
		return -EINVAL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->fd = -1;
	tcpchat__list_init(&srv->conns);
	srv->limit[TCPCHAT_LIMIT_CLIENTS] = DEFAULT_MAX_CLIENTS;
	srv->limit[TCPCHAT_LIMIT_QUEUE] = DEFAULT_MAX_QUEUE;
	srv->limit[TCPCHAT_LIMIT_IDLE] = 0;
	srv->limit[TCPCHAT_LIMIT_LINE] = DEFAULT_MAX_LINE;
	srv->limit[TCPCHAT_LIMIT_QUEUE_TIME] = DEFAULT_QUEUE_TIME_MS;
	srv->limit[TCPCHAT_LIMIT_LINE_TIME] = DEFAULT_LINE_TIME_MS;
	tcpchat__list_init(&srv->paused);
	*srvp = srv;
	return 0;
}

TCPCHAT_EXPORT int tcpchat_server_bind(struct tcpchat_server *srv,
                                       const char *host, unsigned port)
{
	int rc, fd;

	if (!srv || port > 65535 || srv->fd >= 0)
		return -EINVAL;
	rc = tcpchat__sock_bind(host, port, &fd);
	if (rc < 0)
		return rc;
	srv->fd = fd;
	srv->port = tcpchat__sock_name(fd, false, srv->address);
	return 0;
}

TCPCHAT_EXPORT int tcpchat_server_listen(struct tcpchat_server *srv, int backlog)
{
	if (!srv || srv->fd < 0)
		return -EINVAL;
	if (listen(srv->fd, backlog > 0 ? backlog : SOMAXCONN) < 0)
		return -errno;
	srv->listening = true;
	return 0;
}

TCPCHAT_EXPORT int tcpchat_server_port(const struct tcpchat_server *srv)
{
	return srv && srv->port > 0 ? srv->port : -EINVAL;
}

TCPCHAT_EXPORT const char *tcpchat_server_address(const struct tcpchat_server *srv)
{
	return srv ? srv->address : "";
}

TCPCHAT_EXPORT int tcpchat_server_accept(struct tcpchat_server *srv,
                                         struct tcpchat_client **clientp,
                                         int timeout_ms)
{
	uint64_t deadline = tcpchat__sock_deadline(timeout_ms);
	char peer[TCPCHAT__ADDRSTRLEN];
	int rc, fd;

	if (!srv || !clientp || !srv->listening || srv->loop)
		return -EINVAL;
	for (;;) {
		rc = tcpchat__sock_accept(srv->fd, &fd, peer);
		if (rc == 0)
			break;
		if (rc != -EAGAIN && rc != -ECONNABORTED)
			return rc;
		rc = tcpchat__sock_wait(srv->fd, POLLIN, tcpchat__sock_remaining(deadline));
		if (rc < 0)
			return rc;
	}
	rc = tcpchat__client_new(clientp, fd);
	if (rc < 0)
		close(fd);
	return rc;
}

TCPCHAT_EXPORT void tcpchat_server_on_connect(struct tcpchat_server *srv, tcpchat_connect_cb *cb)
{
	if (srv)
		srv->on_connect = cb;
}

TCPCHAT_EXPORT void tcpchat_server_on_data(struct tcpchat_server *srv, tcpchat_data_cb *cb)
{
	if (srv)
		srv->on_data = cb;
}

TCPCHAT_EXPORT void tcpchat_server_on_line(struct tcpchat_server *srv, tcpchat_line_cb *cb)
{
	if (srv)
		srv->on_line = cb;
}

TCPCHAT_EXPORT void tcpchat_server_on_long_line(struct tcpchat_server *srv, tcpchat_connect_cb *cb)
{
	if (srv)
		srv->on_long_line = cb;
}

TCPCHAT_EXPORT void tcpchat_server_on_full(struct tcpchat_server *srv, tcpchat_connect_cb *cb)
{
	if (srv)
		srv->on_full = cb;
}

TCPCHAT_EXPORT void tcpchat_server_on_eof(struct tcpchat_server *srv, tcpchat_eof_cb *cb)
{
	if (srv)
		srv->on_eof = cb;
}

TCPCHAT_EXPORT void tcpchat_server_on_close(struct tcpchat_server *srv, tcpchat_close_cb *cb)
{
	if (srv)
		srv->on_close = cb;
}

TCPCHAT_EXPORT void tcpchat_server_set_userdata(struct tcpchat_server *srv, void *userdata)
{
	if (srv)
		srv->userdata = userdata;
}

TCPCHAT_EXPORT void *tcpchat_server_userdata(const struct tcpchat_server *srv)
{
	return srv ? srv->userdata : NULL;
}

TCPCHAT_EXPORT int tcpchat_server_set_limit(struct tcpchat_server *srv,
                                            enum tcpchat_limit limit, uint64_t value)
{
	if (!srv || (unsigned)limit >= TCPCHAT__NLIMITS)
		return -EINVAL;
	if (limit == TCPCHAT_LIMIT_LINE && (value == 0 || value > MAX_MAX_LINE))
		return -EINVAL;
	srv->limit[limit] = value;
	return 0;
}

TCPCHAT_EXPORT uint64_t tcpchat_server_stat(const struct tcpchat_server *srv,
                                            enum tcpchat_stat stat)
{
	if (!srv || (unsigned)stat >= TCPCHAT__NSTATS)
		return 0;
	if (stat == TCPCHAT_STAT_LIVE)
		return srv->stat[TCPCHAT_STAT_ACCEPTED] - srv->stat[TCPCHAT_STAT_CLOSED];
	return srv->stat[stat];
}

/* A connection that application calls may reach: open, not rejected. */
static bool is_open(const struct tcpchat_conn *conn)
{
	return conn->state == TCPCHAT__OPEN && !conn->rejected;
}

TCPCHAT_EXPORT int tcpchat_server_broadcast_if(struct tcpchat_server *srv,
                                               const void *data, size_t len,
                                               tcpchat_filter_cb *want, void *arg)
{
	struct tcpchat__msg *msg = NULL;
	struct tcpchat__list *l;
	struct tcpchat_conn *conn;
	int count = 0, rc = 0;

	if (!srv || (!data && len))
		return -EINVAL;
	/* Closing a receiver only queues its teardown, so the list stays
	 * intact while we walk it. */
	for (l = srv->conns.next; l != &srv->conns; l = l->next) {
		conn = TCPCHAT__CONTAINER_OF(l, struct tcpchat_conn, link);
		if (!is_open(conn) || (want && !want(conn, arg)))
			continue;
		if (len == 0) {
			count++;
			continue;
		}
		if (tcpchat__conn_over_limit(conn, len))
			continue;
		if (!msg) {
			/* The one copy of the bytes, shared by every queue. */
			msg = tcpchat__msg_new(data, len, len);
			if (!msg) {
				rc = -ENOMEM;
				break;
			}
		}
		if (tcpchat__queue_push(&conn->out, msg, 0) < 0) {
			tcpchat__conn_kill(conn, -ENOMEM);
			continue;
		}
		tcpchat__conn_congestion(conn);
		tcpchat__conn_queue(conn);
		count++;
	}
	tcpchat__msg_unref(msg);
	return rc < 0 ? rc : count;
}

/* The filter of tcpchat_server_broadcast: everyone but the one excepted. */
static int all_but(const struct tcpchat_conn *conn, void *except)
{
	return conn != except;
}

TCPCHAT_EXPORT int tcpchat_server_broadcast(struct tcpchat_server *srv,
                                            const void *data, size_t len,
                                            const struct tcpchat_conn *except)
{
	return tcpchat_server_broadcast_if(srv, data, len, all_but, (void *)except);
}

TCPCHAT_EXPORT int tcpchat_server_foreach(struct tcpchat_server *srv,
                                          tcpchat_each_cb *fn, void *arg)
{
	struct tcpchat__list *l;
	struct tcpchat_conn *conn;
	int rc;

	if (!srv || !fn)
		return -EINVAL;
	for (l = srv->conns.next; l != &srv->conns; l = l->next) {
		conn = TCPCHAT__CONTAINER_OF(l, struct tcpchat_conn, link);
		if (!is_open(conn))
			continue;
		rc = fn(conn, arg);
		if (rc)
			return rc;
	}
	return 0;
}

/* Watch the listener again once the back-off after EMFILE is over. */
static void on_backoff(struct tcpchat_timer *t, void *arg)
{
	struct tcpchat_server *srv = arg;

	if (srv->fd >= 0)
		tcpchat__io_set(srv->loop, &srv->listen_io, TCPCHAT__READ);
}

static void on_listener(struct tcpchat_loop *loop, struct tcpchat__io *io, unsigned revents)
{
	struct tcpchat_server *srv = TCPCHAT__CONTAINER_OF(io, struct tcpchat_server, listen_io);
	char peer[TCPCHAT__ADDRSTRLEN];
	int i, rc, fd;

	/* srv->fd turns -1 if a connect callback unlistens. */
	for (i = 0; i < ACCEPT_BATCH && srv->fd >= 0; i++) {
		rc = tcpchat__sock_accept(srv->fd, &fd, peer);
		if (rc == -EAGAIN)
			return;
		if (rc == -EMFILE || rc == -ENFILE || rc == -ENOBUFS || rc == -ENOMEM) {
			tcpchat__io_set(loop, io, 0);
			tcpchat_timer_start(&srv->backoff, ACCEPT_BACKOFF_MS, 0);
			return;
		}
		if (rc < 0)
			continue; /* ECONNABORTED and kin: that client is gone */
		if (tcpchat__conn_open(srv, fd, peer) < 0)
			close(fd);
	}
}

TCPCHAT_EXPORT int tcpchat_server_start(struct tcpchat_server *srv,
                                        struct tcpchat_loop *loop)
{
	int rc;

	if (!srv || !loop || !srv->listening || srv->loop)
		return -EINVAL;
	tcpchat__io_init(&srv->listen_io, srv->fd, on_listener);
	rc = tcpchat__io_set(loop, &srv->listen_io, TCPCHAT__READ);
	if (rc < 0)
		return rc;
	tcpchat__timer_init(&srv->backoff, loop, on_backoff, srv);
	srv->loop = loop;
	loop->nservers++;
	loop->alive++; /* the listener */
	return 0;
}

TCPCHAT_EXPORT void tcpchat_server_unlisten(struct tcpchat_server *srv)
{
	if (!srv || srv->fd < 0)
		return;
	if (srv->loop) {
		tcpchat__io_set(srv->loop, &srv->listen_io, 0);
		tcpchat_timer_stop(&srv->backoff);
		if (srv->listening)
			srv->loop->alive--;
	}
	close(srv->fd);
	srv->fd = -1;
	srv->listening = false;
}

TCPCHAT_EXPORT void tcpchat_server_free(struct tcpchat_server *srv)
{
	struct tcpchat_conn *conn;

	if (!srv)
		return;
	tcpchat_server_unlisten(srv);
	while (!tcpchat__list_empty(&srv->conns)) {
		conn = TCPCHAT__CONTAINER_OF(srv->conns.next, struct tcpchat_conn, link);
		/* A connection already dead keeps the reason it died of. */
		tcpchat__conn_destroy(conn, conn->state == TCPCHAT__DEAD ? conn->reason : -ECANCELED);
	}
	if (srv->loop)
		srv->loop->nservers--;
	free(srv);
}
