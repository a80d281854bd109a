/* conn.c - one connection of an event-driven server: reads into the loop's
 * shared buffer and frames lines straight out of it, writes inline and
 * queues only what the socket refuses, applies the server's limits, and
 * closes gracefully (flush, shut down the sending side, linger for the
 * peer's FIN).
 *
 * A connection is never freed while an event of the current batch may still
 * point at it: closing marks it DEAD and queues its teardown, which runs at
 * the end of the loop iteration and calls the close callback exactly once. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server.h"
#include "sock.h"

/* How long a closing connection may take to write out its queue; a close
 * for no fault of the peer's ends with -ETIMEDOUT when it is not done. */
#define FLUSH_MS 10000
/* How long a closing connection waits for the peer's FIN after shutting
 * down its own side.  Closing with unread input makes the kernel send a
 * reset, and a reset may destroy the last reply before the peer reads it. */
#define LINGER_MS 2000
/* Queue items written by one sendmsg. */
#define IOV_BATCH 64

/* Let every paused connection of srv be read again. */
static void resume_all(struct tcpchat_server *srv)
{
	struct tcpchat_conn *conn;

	while (!tcpchat__list_empty(&srv->paused)) {
		conn = TCPCHAT__CONTAINER_OF(srv->paused.next, struct tcpchat_conn, paused_link);
		tcpchat__list_remove(&conn->paused_link);
		conn->paused = false;
		conn->last_input = srv->loop->now; /* it was waiting, not idle */
		if (conn->held.len > 0)
			tcpchat__loop_defer(srv->loop, &conn->release); /* reads after */
		else
			tcpchat__conn_update(conn);
	}
}

/* Stop reading conn until no reader lags. */
static void pause_input(struct tcpchat_conn *conn)
{
	if (conn->paused || conn->state != TCPCHAT__OPEN)
		return;
	conn->paused = true;
	tcpchat__list_append(&conn->srv->paused, &conn->paused_link);
	tcpchat__conn_update(conn);
}

static void unpause(struct tcpchat_conn *conn)
{
	if (conn->paused) {
		tcpchat__list_remove(&conn->paused_link);
		conn->paused = false;
	}
}

static void uncongest(struct tcpchat_conn *conn)
{
	if (!conn->congested)
		return;
	conn->congested = false;
	if (--conn->srv->ncongested == 0) {
		/* Nobody lags now, the input being handled included: had it
		 * fed a reader that then closed, pausing it would be for
		 * nothing, and nothing would resume it. */
		conn->srv->fed_congested = false;
		resume_all(conn->srv);
	}
}

/* Have the connection's timer fire no later than delay_ms from now. */
static void timer_within(struct tcpchat_conn *conn, uint64_t delay_ms)
{
	uint64_t now = conn->srv->loop->now;

	if (conn->timer.heap_index == SIZE_MAX || conn->timer.deadline > now + delay_ms)
		tcpchat_timer_start(&conn->timer, delay_ms, 0);
}

void tcpchat__conn_congestion(struct tcpchat_conn *conn)
{
	struct tcpchat_server *srv = conn->srv;
	uint64_t max_queue = srv->limit[TCPCHAT_LIMIT_QUEUE];
	uint64_t grace = srv->limit[TCPCHAT_LIMIT_QUEUE_TIME];
	bool over = max_queue && conn->out.cost > max_queue / 2 &&
	            conn->state == TCPCHAT__OPEN;

	if (over)
		srv->fed_congested = true; /* read once the input is handled */
	if (over == conn->congested)
		return;
	if (!over) {
		uncongest(conn);
		return;
	}
	conn->congested = true;
	conn->congested_since = srv->loop->now;
	srv->ncongested++;
	/* Give it grace milliseconds to catch up (see on_timer). */
	if (grace)
		timer_within(conn, grace);
}

void tcpchat__conn_kill(struct tcpchat_conn *conn, int reason)
{
	if (conn->state == TCPCHAT__DEAD)
		return;
	unpause(conn);
	conn->state = TCPCHAT__DEAD;
	uncongest(conn);
	conn->reason = reason;
	tcpchat__io_set(conn->srv->loop, &conn->io, 0);
	tcpchat_timer_stop(&conn->timer);
	tcpchat__loop_cancel(&conn->flush);
	tcpchat__loop_defer(conn->srv->loop, &conn->teardown);
}

/* Watch for what the state calls for: input until the peer's EOF (it is
 * discarded once closing) unless paused for back-pressure, and writability
 * while the socket refuses bytes. */
void tcpchat__conn_update(struct tcpchat_conn *conn)
{
	unsigned events = 0;
	int rc;

	if (conn->state == TCPCHAT__DEAD)
		return;
	if (!conn->eof && !conn->paused && conn->held.len == 0)
		events |= TCPCHAT__READ;
	if (conn->blocked)
		events |= TCPCHAT__WRITE;
	rc = tcpchat__io_set(conn->srv->loop, &conn->io, events);
	if (rc < 0)
		tcpchat__conn_kill(conn, rc);
}

/* Everything is written and the application is done with conn. */
static void conn_shutdown(struct tcpchat_conn *conn)
{
	if (conn->eof) {
		tcpchat__conn_kill(conn, conn->reason);
		return;
	}
	if (shutdown(conn->io.fd, SHUT_WR) < 0) {
		tcpchat__conn_kill(conn, -errno);
		return;
	}
	conn->state = TCPCHAT__LINGER;
	tcpchat__conn_update(conn);
	tcpchat_timer_start(&conn->timer, LINGER_MS, 0);
}

void tcpchat__conn_close(struct tcpchat_conn *conn, int reason)
{
	if (conn->state != TCPCHAT__OPEN)
		return;
	/* conn->line stays: a line callback that closes its connection may
	 * still be reading the line from it.  Teardown frees it.  A closing
	 * connection takes no new output, so it holds no sender back. */
	conn->state = TCPCHAT__FLUSH;
	conn->reason = reason;
	tcpchat__buf_free(&conn->held); /* input after the close is discarded */
	unpause(conn);
	uncongest(conn);
	if (conn->out.bytes == 0) {
		conn_shutdown(conn);
		return;
	}
	tcpchat_timer_start(&conn->timer, FLUSH_MS, 0);
	tcpchat__conn_update(conn);
}

/* Write as much of the queue as the socket takes, with one sendmsg per
 * IOV_BATCH items and none that would only say EAGAIN. */
static void conn_flush(struct tcpchat_conn *conn)
{
	struct iovec iov[IOV_BATCH];
	size_t want;
	ssize_t n;
	int i, cnt;

	conn->blocked = false;
	while (conn->out.bytes > 0) {
		cnt = tcpchat__queue_iov(&conn->out, iov, IOV_BATCH);
		for (want = 0, i = 0; i < cnt; i++)
			want += iov[i].iov_len;
		n = tcpchat__sock_writev(conn->io.fd, iov, cnt);
		if (n == -EAGAIN) {
			conn->blocked = true;
			break;
		}
		if (n < 0) {
			tcpchat__conn_kill(conn, (int)n);
			return;
		}
		conn->srv->stat[TCPCHAT_STAT_BYTES_OUT] += (uint64_t)n;
		tcpchat__queue_consume(&conn->out, (size_t)n);
		tcpchat__conn_congestion(conn);
		if ((size_t)n < want) {
			conn->blocked = true; /* the socket is full */
			break;
		}
	}
	if (conn->out.bytes == 0 && conn->state == TCPCHAT__FLUSH) {
		tcpchat_timer_stop(&conn->timer);
		conn_shutdown(conn);
	} else {
		tcpchat__conn_update(conn);
	}
}

void tcpchat__conn_queue(struct tcpchat_conn *conn)
{
	if (!conn->blocked)
		tcpchat__loop_defer(conn->srv->loop, &conn->flush);
}

static void on_flush(struct tcpchat__deferred *d)
{
	struct tcpchat_conn *conn = TCPCHAT__CONTAINER_OF(d, struct tcpchat_conn, flush);

	if (conn->state != TCPCHAT__DEAD && conn->out.bytes > 0)
		conn_flush(conn);
}

/* Keep the n bytes of a partial line until the rest of it arrives. */
static void keep_partial(struct tcpchat_conn *conn, const char *data, size_t n)
{
	int rc = tcpchat__buf_append(&conn->line, data, n);

	if (rc < 0)
		tcpchat__conn_kill(conn, rc);
}

/* Deliver one framing result; returns false when conn stops taking input. */
static bool deliver(struct tcpchat_conn *conn, enum tcpchat__frame_result r,
                    const char *line, size_t len)
{
	struct tcpchat_server *srv = conn->srv;

	if (r == TCPCHAT__FRAME_LINE) {
		srv->on_line(conn, line, len);
	} else if (r == TCPCHAT__FRAME_TOOLONG) {
		srv->stat[TCPCHAT_STAT_LONG_LINES]++;
		if (srv->on_long_line)
			srv->on_long_line(conn);
	}
	return conn->state == TCPCHAT__OPEN;
}

/* Is a line under way: part of it kept, or the rest of a too-long one
 * being skipped? */
static bool line_pending(const struct tcpchat_conn *conn)
{
	return conn->line.len > 0 || conn->framer.discarding;
}

/* A new line is under way and not over by the end of this read: its total
 * deadline starts now. */
static void line_began(struct tcpchat_conn *conn)
{
	uint64_t line_time = conn->srv->limit[TCPCHAT_LIMIT_LINE_TIME];

	conn->line_started = conn->srv->loop->now;
	if (line_time)
		timer_within(conn, line_time);
}

/* Frame data into lines for the line callback.  Lines wholly inside data
 * are delivered from it without a copy; only a partial line is kept, and
 * never more than the line limit + 2 bytes of it.  As soon as a line's
 * output lands in a lagging reader's queue, the rest of data is held back
 * and the connection paused: a read full of tiny lines cannot bury a
 * reader that is catching up. */
static void conn_lines(struct tcpchat_conn *conn, const char *data, size_t len)
{
	enum tcpchat__frame_result r;
	const char *line, *nl;
	size_t consumed, linelen, take, room;

	conn->framer.max = conn->srv->limit[TCPCHAT_LIMIT_LINE];
	conn->srv->fed_congested = false;
	while (len > 0) {
		if (conn->srv->fed_congested) {
			if (tcpchat__buf_append(&conn->held, data, len) < 0)
				tcpchat__conn_kill(conn, -ENOMEM);
			pause_input(conn);
			return;
		}
		if (conn->line.len > 0) {
			/* Complete the waiting line with bytes up to its "\n". */
			nl = memchr(data, '\n', len);
			take = nl ? (size_t)(nl - data) + 1 : len;
			room = conn->framer.max + 2 - conn->line.len;
			if (take > room)
				take = room;
			keep_partial(conn, data, take);
			data += take;
			len -= take;
			if (conn->state != TCPCHAT__OPEN)
				return;
			r = tcpchat__frame_next(&conn->framer, tcpchat__buf_data(&conn->line),
			                        conn->line.len, &consumed, &line, &linelen);
			if (r == TCPCHAT__FRAME_NEED && consumed < conn->line.len)
				continue; /* still partial: len is 0 now */
			if (!deliver(conn, r, line, linelen))
				return;
			tcpchat__buf_free(&conn->line);
			continue;
		}
		r = tcpchat__frame_next(&conn->framer, data, len, &consumed, &line, &linelen);
		data += consumed;
		len -= consumed;
		if (r == TCPCHAT__FRAME_NEED) {
			if (len > 0) {
				line_began(conn);
				keep_partial(conn, data, len);
			}
			return;
		}
		if (r == TCPCHAT__FRAME_TOOLONG && conn->framer.discarding)
			line_began(conn); /* skipping it goes on past this read */
		if (!deliver(conn, r, line, linelen))
			return;
	}
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
		srv->stat[TCPCHAT_STAT_BYTES_IN] += (uint64_t)n;
		conn->last_input = srv->loop->now;
		if (conn->state != TCPCHAT__OPEN)
			return; /* closing: input is discarded */
		srv->fed_congested = false;
		if (srv->on_line)
			conn_lines(conn, buf, (size_t)n);
		else if (srv->on_data)
			srv->on_data(conn, buf, (size_t)n);
		/* Back-pressure: input that fed a lagging reader (another one, or
		 * this one, as an echo does) is not read again until no reader
		 * lags.  Input that fed none goes on, so a client that blocks in
		 * send() while its own queue is full is not paused by it, which
		 * would keep it from ever reading its queue. */
		if (srv->fed_congested)
			pause_input(conn);
		return;
	}
	if (n == -EAGAIN)
		return;
	if (n != TCPCHAT_EOF) {
		tcpchat__conn_kill(conn, (int)n);
		return;
	}
	conn->eof = true;
	switch (conn->state) {
	case TCPCHAT__OPEN:
		tcpchat__conn_update(conn);
		if (srv->on_eof)
			srv->on_eof(conn);
		else
			tcpchat__conn_close(conn, TCPCHAT_EOF);
		break;
	case TCPCHAT__FLUSH:
		tcpchat__conn_update(conn); /* the end of the flush closes at once */
		break;
	case TCPCHAT__LINGER:
		tcpchat__conn_kill(conn, conn->reason);
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

/* Open: the congestion grace, the line deadline and the idle timeout,
 * whichever is due first.  Closing: the flush or linger deadline. */
static void on_timer(struct tcpchat_timer *t, void *arg)
{
	struct tcpchat_conn *conn = arg;
	struct tcpchat_server *srv = conn->srv;
	uint64_t now = srv->loop->now, next = UINT64_MAX;
	uint64_t idle = srv->limit[TCPCHAT_LIMIT_IDLE];
	uint64_t grace = srv->limit[TCPCHAT_LIMIT_QUEUE_TIME];
	uint64_t line_time = srv->limit[TCPCHAT_LIMIT_LINE_TIME];

	if (conn->state == TCPCHAT__FLUSH &&
	    (conn->reason == 0 || conn->reason == TCPCHAT_EOF)) {
		/* The peer did not take the rest of the output in time: the
		 * close that was to deliver it says it did not. */
		tcpchat__conn_kill(conn, -ETIMEDOUT);
		return;
	}
	if (conn->state != TCPCHAT__OPEN) {
		tcpchat__conn_kill(conn, conn->reason);
		return;
	}
	if (conn->congested && grace) {
		if (now - conn->congested_since >= grace) {
			tcpchat__conn_kill(conn, TCPCHAT_EQUEUE); /* a slow reader */
			return;
		}
		next = conn->congested_since + grace;
	}
	if (line_time && line_pending(conn) && !conn->paused) {
		if (now - conn->line_started >= line_time) {
			tcpchat__conn_close(conn, TCPCHAT_ESLOW); /* a trickler */
			return;
		}
		if (conn->line_started + line_time < next)
			next = conn->line_started + line_time;
	}
	if (idle && !conn->paused) {
		if (now - conn->last_input >= idle) {
			tcpchat__conn_close(conn, TCPCHAT_EIDLE);
			return;
		}
		if (conn->last_input + idle < next)
			next = conn->last_input + idle;
	} else if ((idle || line_time) && next == UINT64_MAX) {
		next = now + (idle ? idle : line_time); /* paused: look again later */
	}
	if (next != UINT64_MAX)
		tcpchat_timer_start(t, next - now, 0);
}

/* Unpaused with input held back: frame it now, before reading more. */
static void on_release(struct tcpchat__deferred *d)
{
	struct tcpchat_conn *conn = TCPCHAT__CONTAINER_OF(d, struct tcpchat_conn, release);
	struct tcpchat__buf held = conn->held;

	if (conn->state != TCPCHAT__OPEN || conn->paused)
		return;
	/* Take it out first: what is held back again goes into a new one. */
	tcpchat__buf_init(&conn->held);
	conn_lines(conn, tcpchat__buf_data(&held), held.len);
	tcpchat__buf_free(&held);
	if (conn->srv->fed_congested)
		pause_input(conn);
	tcpchat__conn_update(conn);
}

static void on_teardown(struct tcpchat__deferred *d)
{
	struct tcpchat_conn *conn = TCPCHAT__CONTAINER_OF(d, struct tcpchat_conn, teardown);

	tcpchat__conn_destroy(conn, conn->reason);
}

int tcpchat__conn_open(struct tcpchat_server *srv, int fd, const char *peer)
{
	struct tcpchat_loop *loop = srv->loop;
	uint64_t max_clients = srv->limit[TCPCHAT_LIMIT_CLIENTS];
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
	tcpchat__list_init(&conn->paused_link);
	tcpchat__buf_init(&conn->held);
	tcpchat__deferred_init(&conn->release, on_release);
	tcpchat__deferred_init(&conn->flush, on_flush);
	tcpchat__deferred_init(&conn->teardown, on_teardown);
	tcpchat__timer_init(&conn->timer, loop, on_timer, conn);
	conn->last_input = loop->now;
	tcpchat__buf_init(&conn->line);
	tcpchat__framer_init(&conn->framer, srv->limit[TCPCHAT_LIMIT_LINE]);
	snprintf(conn->peer, sizeof(conn->peer), "%s", peer);
	tcpchat__list_append(&srv->conns, &conn->link);
	loop->alive++;
	srv->stat[TCPCHAT_STAT_ACCEPTED]++;

	if (max_clients && srv->nopen >= max_clients) {
		/* Over the limit: it may be told why, then it is sent away. */
		conn->rejected = true;
		if (srv->on_full)
			srv->on_full(conn);
		tcpchat__conn_close(conn, TCPCHAT_EFULL);
		return 0;
	}
	srv->nopen++;
	if (srv->limit[TCPCHAT_LIMIT_IDLE])
		tcpchat_timer_start(&conn->timer, srv->limit[TCPCHAT_LIMIT_IDLE], 0);
	if (srv->on_connect)
		srv->on_connect(conn);
	return 0;
}

/* The counter that a close with this reason adds to. */
static enum tcpchat_stat closed_stat(int reason)
{
	switch (reason) {
	case 0: return TCPCHAT_STAT_CLOSED_APP;
	case TCPCHAT_EOF: return TCPCHAT_STAT_CLOSED_EOF;
	case TCPCHAT_EQUEUE: return TCPCHAT_STAT_CLOSED_QUEUE;
	case TCPCHAT_EIDLE: return TCPCHAT_STAT_CLOSED_IDLE;
	case TCPCHAT_EFULL: return TCPCHAT_STAT_CLOSED_FULL;
	case -ECANCELED: return TCPCHAT_STAT_CLOSED_FREED;
	case TCPCHAT_ESLOW: return TCPCHAT_STAT_CLOSED_SLOW;
	default: return TCPCHAT_STAT_CLOSED_ERROR;
	}
}

void tcpchat__conn_destroy(struct tcpchat_conn *conn, int reason)
{
	struct tcpchat_server *srv = conn->srv;
	struct tcpchat_loop *loop = srv->loop;

	tcpchat__loop_cancel(&conn->teardown);
	tcpchat__loop_cancel(&conn->flush);
	tcpchat__loop_cancel(&conn->release);
	tcpchat__buf_free(&conn->held);
	unpause(conn);
	conn->state = TCPCHAT__DEAD;
	uncongest(conn);
	tcpchat__io_set(loop, &conn->io, 0);
	tcpchat_timer_stop(&conn->timer);
	close(conn->io.fd);
	tcpchat__queue_free(&conn->out);
	tcpchat__buf_free(&conn->line);
	tcpchat__list_remove(&conn->link);
	loop->alive--;
	if (conn->rejected)
		reason = TCPCHAT_EFULL; /* whatever the full callback did */
	else
		srv->nopen--;
	srv->stat[TCPCHAT_STAT_CLOSED]++;
	srv->stat[closed_stat(reason)]++;
	conn->state = TCPCHAT__DEAD;
	conn->reason = reason;
	/* A rejected connection was never announced, so it is not mourned. */
	if (srv->on_close && !conn->rejected)
		srv->on_close(conn, reason);
	free(conn);
}

/* Closed with TCPCHAT_EQUEUE if queuing len more bytes (as one more item)
 * would pass the limit. */
bool tcpchat__conn_over_limit(struct tcpchat_conn *conn, size_t len)
{
	uint64_t max_queue = conn->srv->limit[TCPCHAT_LIMIT_QUEUE];

	if (max_queue == 0 ||
	    conn->out.cost + len + TCPCHAT__QUEUE_ITEM_COST <= max_queue)
		return false;
	tcpchat__conn_kill(conn, TCPCHAT_EQUEUE);
	return true;
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
		if (n == (ssize_t)len) {
			conn->srv->stat[TCPCHAT_STAT_BYTES_OUT] += len;
			return 0;
		}
		if (n < 0 && n != -EAGAIN) {
			tcpchat__conn_kill(conn, (int)n);
			return (int)n;
		}
		if (n > 0) {
			conn->srv->stat[TCPCHAT_STAT_BYTES_OUT] += (uint64_t)n;
			data = (const char *)data + n;
			len -= (size_t)n;
		}
		conn->blocked = true;
	}
	if (tcpchat__conn_over_limit(conn, len))
		return TCPCHAT_EQUEUE;
	rc = tcpchat__queue_append(&conn->out, data, len);
	if (rc < 0) {
		tcpchat__conn_kill(conn, rc); /* part of the stream is lost: end it */
		return rc;
	}
	tcpchat__conn_congestion(conn);
	tcpchat__conn_update(conn);
	return 0;
}

TCPCHAT_EXPORT void tcpchat_conn_close(struct tcpchat_conn *conn)
{
	if (conn)
		tcpchat__conn_close(conn, conn->eof ? TCPCHAT_EOF : 0);
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
