/* tcpchat.h - the public interface of libtcpchat, a small library for TCP
 * servers that many clients talk to (echo, time, chat) and for their clients.
 *
 * Conventions, true of every function below:
 *  - Functions that can fail return an int (or ssize_t) that is >= 0 on
 *    success and a negative error code on failure: either a negated errno
 *    value (-EINVAL, -ECONNREFUSED, ...) or one of the TCPCHAT_E* codes
 *    below.  tcpchat_strerror() turns any of them into text.
 *  - Constructors hand the new object out through their first argument and
 *    leave it untouched when they fail.
 *  - Every object is opaque.  Ownership is a tree: a loop outlives the
 *    servers and timers that use it; a server owns its connections, and
 *    freeing it closes them (their close callback runs during the free, never
 *    after).  No callback runs after the object it belongs to is freed.
 *  - Timeouts are in milliseconds; a negative timeout means "no limit".
 *  - The library never raises SIGPIPE, opens every descriptor close-on-exec,
 *    and retries system calls interrupted by signals (EINTR).
 *  - A loop and everything attached to it belong to one thread.  The
 *    exceptions are tcpchat_loop_stop(), which may be called from any thread
 *    or from a signal handler, tcpchat_loop_post(), which may be called from
 *    any thread, and the blocking client functions, which are independent
 *    of any loop.
 */
#ifndef TCPCHAT_H
#define TCPCHAT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && __GNUC__ >= 4
#define TCPCHAT_EXPORT __attribute__((visibility("default")))
#else
#define TCPCHAT_EXPORT
#endif

/* ------------------------------------------------------------------ */
/* Version                                                            */
/* ------------------------------------------------------------------ */

#define TCPCHAT_VERSION_MAJOR 0
#define TCPCHAT_VERSION_MINOR 1
#define TCPCHAT_VERSION_PATCH 0

/* The version of the library actually loaded, as "MAJOR.MINOR.PATCH". */
TCPCHAT_EXPORT const char *tcpchat_version(void);

/* ------------------------------------------------------------------ */
/* Errors                                                             */
/* ------------------------------------------------------------------ */

/* Codes of our own, far below any errno value the C library uses (the
 * same values as libuv's).  Resolver failures
 * (getaddrinfo) are mapped to TCPCHAT_EAI_*; its EAI_SYSTEM becomes the
 * negated errno it carries. */
#define TCPCHAT_EOF          (-4095) /* end of stream: the peer closed its side */
#define TCPCHAT_EQUEUE       (-4094) /* closed: output queue over the limit (a slow reader) */
#define TCPCHAT_EIDLE        (-4093) /* closed: silent for longer than the idle timeout */
#define TCPCHAT_EFULL        (-4092) /* closed: the server already had its maximum of clients */
#define TCPCHAT_ESLOW        (-4091) /* closed: a line took longer than its time limit to arrive */
#define TCPCHAT_EAI_NONAME   (-3001) /* unknown host or service */
#define TCPCHAT_EAI_AGAIN    (-3002) /* temporary failure in name resolution */
#define TCPCHAT_EAI_FAIL     (-3003) /* non-recoverable failure in name resolution */
#define TCPCHAT_EAI_FAMILY   (-3004) /* address family not supported */
#define TCPCHAT_EAI_MEMORY   (-3005) /* out of memory in the resolver */
#define TCPCHAT_EAI_OTHER    (-3006) /* any other resolver failure */

/* A static, human-readable description of err (a negated errno value or a
 * TCPCHAT_E* code; 0 is "Success").  Never returns NULL; unknown codes
 * get a generic text. */
TCPCHAT_EXPORT const char *tcpchat_strerror(int err);

/* ------------------------------------------------------------------ */
/* Event loop and timers                                              */
/* ------------------------------------------------------------------ */

struct tcpchat_loop;
struct tcpchat_timer;

/* Create an event loop (epoll on Linux, poll(2) elsewhere: chosen when the
 * library is configured).  Errors: -ENOMEM, -EMFILE, -ENFILE. */
TCPCHAT_EXPORT int tcpchat_loop_create(struct tcpchat_loop **loopp);

/* Free a loop.  Fails with -EBUSY, freeing nothing, while a server is still
 * started on it or a timer created on it has not been freed.  NULL is a
 * no-op returning 0. */
TCPCHAT_EXPORT int tcpchat_loop_free(struct tcpchat_loop *loop);

/* Run the loop: wait for events and call the callbacks they trigger, until
 * tcpchat_loop_stop() is called or nothing is left to wait for (no server
 * still listening, no open connection, no running timer).  Returns 0 then, or a
 * negative error if the backend fails.  Not reentrant: -EBUSY if called from
 * one of the loop's own callbacks. */
TCPCHAT_EXPORT int tcpchat_loop_run(struct tcpchat_loop *loop);

/* Ask tcpchat_loop_run() to return after the callbacks of the current
 * iteration.  Async-signal-safe and thread-safe; preserves errno.  A stop
 * requested while the loop is not running makes the next run return at
 * once. */
TCPCHAT_EXPORT void tcpchat_loop_stop(struct tcpchat_loop *loop);

/* The loop's clock: milliseconds of CLOCK_MONOTONIC, read when the wait
 * for events returns, before any callback of that iteration runs.  Timers
 * are measured against it. */
TCPCHAT_EXPORT uint64_t tcpchat_loop_now(const struct tcpchat_loop *loop);

typedef void tcpchat_post_cb(void *arg);

/* Ask the loop to call cb(arg) in its own thread, at its next iteration,
 * and wake it up.  The one function besides tcpchat_loop_stop() that may be
 * called from any thread (not from a signal handler): a program reading
 * stdin in a second thread posts what it read to the loop.  Calls run in
 * the order they were posted.  Pending calls keep tcpchat_loop_run()
 * going; calls still pending when the loop is freed are dropped.
 * Errors: -EINVAL (NULL loop or cb), -ENOMEM. */
TCPCHAT_EXPORT int tcpchat_loop_post(struct tcpchat_loop *loop, tcpchat_post_cb *cb, void *arg);

typedef void tcpchat_timer_cb(struct tcpchat_timer *timer, void *arg);

/* Create a stopped timer on loop that will call cb(timer, arg).
 * Errors: -EINVAL (NULL loop, timerp or cb), -ENOMEM. */
TCPCHAT_EXPORT int tcpchat_timer_create(struct tcpchat_loop *loop,
                                        struct tcpchat_timer **timerp,
                                        tcpchat_timer_cb *cb, void *arg);

/* Start (or restart) the timer: it fires timeout_ms after the loop's current
 * time, then every repeat_ms if repeat_ms > 0.  Timers due in the same
 * iteration fire in the order of their deadlines, ties in the order they
 * were started.  The callback may stop, restart or free its own timer.  A
 * one-shot timer that has fired is stopped: it no longer keeps
 * tcpchat_loop_run() going.  Errors: -EINVAL (NULL timer), -ENOMEM. */
TCPCHAT_EXPORT int tcpchat_timer_start(struct tcpchat_timer *timer,
                                       uint64_t timeout_ms, uint64_t repeat_ms);

/* Stop the timer; it will not fire until started again.  Stopping a stopped
 * timer does nothing. */
TCPCHAT_EXPORT void tcpchat_timer_stop(struct tcpchat_timer *timer);

/* Stop and free the timer.  NULL is a no-op. */
TCPCHAT_EXPORT void tcpchat_timer_free(struct tcpchat_timer *timer);

/* ------------------------------------------------------------------ */
/* Server                                                             */
/* ------------------------------------------------------------------ */

struct tcpchat_server;
struct tcpchat_conn;
struct tcpchat_client;

/* Create a server with no socket yet.  Errors: -EINVAL, -ENOMEM. */
TCPCHAT_EXPORT int tcpchat_server_create(struct tcpchat_server **srvp);

/* Create the listening socket and bind it.  host is a host name or an IPv4
 * or IPv6 literal; NULL means "127.0.0.1".  Every address the name resolves
 * to is tried in order until one binds.  "::" accepts IPv4 clients too (dual
 * stack); any other IPv6 address is IPv6 only.  port 0 picks an ephemeral
 * port: read it back with tcpchat_server_port().  SO_REUSEADDR is set, so a
 * restarted server can bind at once.
 * Errors: -EINVAL (bad port, already bound), -EADDRINUSE, -EACCES,
 * -EADDRNOTAVAIL, TCPCHAT_EAI_* (the host did not resolve). */
TCPCHAT_EXPORT int tcpchat_server_bind(struct tcpchat_server *srv,
                                       const char *host, unsigned port);

/* Start accepting connections into a queue of backlog pending ones (<= 0
 * means SOMAXCONN).  Errors: -EINVAL (not bound), or listen(2)'s. */
TCPCHAT_EXPORT int tcpchat_server_listen(struct tcpchat_server *srv, int backlog);

/* The bound port, or -EINVAL if the server is not bound. */
TCPCHAT_EXPORT int tcpchat_server_port(const struct tcpchat_server *srv);

/* The bound address as text: "127.0.0.1:8088" or "[::1]:8088".  The string
 * belongs to the server.  "" if the server is not bound. */
TCPCHAT_EXPORT const char *tcpchat_server_address(const struct tcpchat_server *srv);

/* Blocking mode, for one-client-at-a-time programs: wait up to timeout_ms
 * for a connection and hand it out as a client (see the client functions
 * below; tcpchat_client_peer() gives its address).  The caller owns the
 * client and closes it with tcpchat_client_close().
 * Errors: -EINVAL (not listening, or started on a loop), -ETIMEDOUT,
 * -EMFILE, -ENFILE, -ENOMEM. */
TCPCHAT_EXPORT int tcpchat_server_accept(struct tcpchat_server *srv,
                                         struct tcpchat_client **clientp,
                                         int timeout_ms);

/* Event-driven mode.  The callbacks may be set or changed at any time; any
 * of them may be NULL (without a data callback, input is discarded).
 *  connect(conn)          a connection was accepted.
 *  data(conn, data, len)  bytes arrived; data is valid only during the
 *                         call (the read buffer is shared), len > 0.
 *  eof(conn)              the peer shut down its sending side.  The
 *                         connection stays open for sending; close it when
 *                         done.  Without an eof callback the library closes
 *                         it itself, after flushing its output.
 *  line(conn, line, len)  with a line callback set, input is framed into
 *                         lines instead of delivered as data: line holds
 *                         one line without its "\n" and one "\r" before
 *                         it, any other byte allowed (NUL included), valid
 *                         only during the call.  A partial line waits for
 *                         the rest of it in the connection's buffer.
 *  long_line(conn)        a line over TCPCHAT_LIMIT_LINE bytes arrived; it
 *                         is not delivered and is skipped up to its "\n"
 *                         (memory stays bounded by the limit).  The
 *                         connection stays open.
 *  full(conn)             a client connected while the server had
 *                         TCPCHAT_LIMIT_CLIENTS already: it may be sent
 *                         why; it is then closed gracefully, counted in
 *                         TCPCHAT_STAT_CLOSED_FULL, and neither the
 *                         connect nor the close callback runs for it.
 *  close(conn, reason)    the connection is gone and conn is about to be
 *                         freed.  reason is 0 if tcpchat_conn_close() asked
 *                         for it, TCPCHAT_EOF if the peer closed first, a
 *                         limit (TCPCHAT_EQUEUE, TCPCHAT_EIDLE,
 *                         TCPCHAT_ESLOW), or a negative error
 *                         (-ECONNRESET, -EPIPE, -ETIMEDOUT when the peer
 *                         did not read what a close had to flush within
 *                         10 s, -ECANCELED when the server
 *                         itself was freed). */
typedef void tcpchat_connect_cb(struct tcpchat_conn *conn);
typedef void tcpchat_data_cb(struct tcpchat_conn *conn, const char *data, size_t len);
typedef void tcpchat_line_cb(struct tcpchat_conn *conn, const char *line, size_t len);
typedef void tcpchat_eof_cb(struct tcpchat_conn *conn);
typedef void tcpchat_close_cb(struct tcpchat_conn *conn, int reason);

TCPCHAT_EXPORT void tcpchat_server_on_connect(struct tcpchat_server *srv, tcpchat_connect_cb *cb);
TCPCHAT_EXPORT void tcpchat_server_on_data(struct tcpchat_server *srv, tcpchat_data_cb *cb);
TCPCHAT_EXPORT void tcpchat_server_on_line(struct tcpchat_server *srv, tcpchat_line_cb *cb);
TCPCHAT_EXPORT void tcpchat_server_on_long_line(struct tcpchat_server *srv, tcpchat_connect_cb *cb);
TCPCHAT_EXPORT void tcpchat_server_on_full(struct tcpchat_server *srv, tcpchat_connect_cb *cb);
TCPCHAT_EXPORT void tcpchat_server_on_eof(struct tcpchat_server *srv, tcpchat_eof_cb *cb);
TCPCHAT_EXPORT void tcpchat_server_on_close(struct tcpchat_server *srv, tcpchat_close_cb *cb);

/* Limits, each per server, each with a default that suits a chat server on
 * the open internet.  Set them before tcpchat_server_start(). */
enum tcpchat_limit {
	/* Connections served at once (default 1024).  One more is accepted,
	 * handed to the full callback, and closed with TCPCHAT_EFULL. */
	TCPCHAT_LIMIT_CLIENTS,
	/* Bytes of output queued for one connection (default 1 MiB), so
	 * that no reader can grow the server's memory: each queued message
	 * counts its bytes plus 64 for its bookkeeping, so tiny ones are
	 * bounded too.  A connection whose queue passes half of it is
	 * congested: a connection whose input feeds a congested one (its
	 * own queue included) is paused, with a line callback right after
	 * that line, until none is congested, so senders wait for the
	 * slowest reader (back-pressure) instead of burying it.  A
	 * connection whose queue would pass the limit itself, or that stays
	 * congested longer than TCPCHAT_LIMIT_QUEUE_TIME, is closed with
	 * TCPCHAT_EQUEUE. */
	TCPCHAT_LIMIT_QUEUE,
	/* Milliseconds without input before a connection is closed with
	 * TCPCHAT_EIDLE (default 0: no idle timeout). */
	TCPCHAT_LIMIT_IDLE,
	/* Longest line, in bytes without its end of line, passed to the line
	 * callback (default 4096). */
	TCPCHAT_LIMIT_LINE,
	/* Milliseconds a connection may stay congested (over half its queue
	 * limit) before it is closed as a slow reader (default 2000). */
	TCPCHAT_LIMIT_QUEUE_TIME,
	/* Milliseconds a line may take to arrive, from its first byte to its
	 * newline, with a line callback (default 60000).  A peer that takes
	 * longer is closed gracefully with TCPCHAT_ESLOW: a total deadline,
	 * which a peer trickling one byte at a time cannot reset the way it
	 * resets an idle timer.  It covers a too-long line being skipped. */
	TCPCHAT_LIMIT_LINE_TIME
};

/* Set one limit; 0 means "no limit" for every limit but LINE.
 * Errors: -EINVAL (NULL srv, unknown limit, a LINE of 0 or over 1 GiB). */
TCPCHAT_EXPORT int tcpchat_server_set_limit(struct tcpchat_server *srv,
                                            enum tcpchat_limit limit, uint64_t value);

/* Counters of a server, from its creation.  accepted = live + closed
 * always holds; closed is the sum of the closed_* counters. */
enum tcpchat_stat {
	TCPCHAT_STAT_ACCEPTED,      /* connections accepted, rejected ones included */
	TCPCHAT_STAT_LIVE,          /* connections open now, closing ones included */
	TCPCHAT_STAT_CLOSED,        /* connections gone */
	TCPCHAT_STAT_CLOSED_APP,    /* ... because the application closed them */
	TCPCHAT_STAT_CLOSED_EOF,    /* ... because the peer closed first */
	TCPCHAT_STAT_CLOSED_ERROR,  /* ... on an error (reset, flush timed out...) */
	TCPCHAT_STAT_CLOSED_QUEUE,  /* ... for TCPCHAT_LIMIT_QUEUE */
	TCPCHAT_STAT_CLOSED_IDLE,   /* ... for TCPCHAT_LIMIT_IDLE */
	TCPCHAT_STAT_CLOSED_FULL,   /* ... for TCPCHAT_LIMIT_CLIENTS */
	TCPCHAT_STAT_CLOSED_FREED,  /* ... because the server was freed */
	TCPCHAT_STAT_CLOSED_SLOW,   /* ... for TCPCHAT_LIMIT_LINE_TIME */
	TCPCHAT_STAT_LONG_LINES,    /* lines dropped for TCPCHAT_LIMIT_LINE */
	TCPCHAT_STAT_BYTES_IN,      /* bytes received */
	TCPCHAT_STAT_BYTES_OUT      /* bytes written to sockets */
};

/* One counter; 0 for a NULL server or an unknown counter. */
TCPCHAT_EXPORT uint64_t tcpchat_server_stat(const struct tcpchat_server *srv,
                                            enum tcpchat_stat stat);

/* Queue data for every open connection of the server except `except`
 * (which may be NULL), without blocking.  The bytes are stored once, in a
 * reference-counted buffer that every receiver's queue points into, and
 * each receiver gets the broadcasts in the order they were made.  A
 * receiver whose queue would pass TCPCHAT_LIMIT_QUEUE is closed with
 * TCPCHAT_EQUEUE instead.  Connections that are closing receive nothing.
 * Returns the number of connections the data was queued for.
 * Errors: -EINVAL, -ENOMEM. */
TCPCHAT_EXPORT int tcpchat_server_broadcast(struct tcpchat_server *srv,
                                            const void *data, size_t len,
                                            const struct tcpchat_conn *except);

/* The same for the open connections for which want(conn, arg) returns
 * non-zero (the members of a chat room, say); a NULL want selects all. */
typedef int tcpchat_filter_cb(const struct tcpchat_conn *conn, void *arg);
TCPCHAT_EXPORT int tcpchat_server_broadcast_if(struct tcpchat_server *srv,
                                               const void *data, size_t len,
                                               tcpchat_filter_cb *want, void *arg);

/* Call fn(conn, arg) for each open connection (not closing, not rejected),
 * oldest first, until fn returns non-zero; returns that value, or 0, or
 * -EINVAL for a NULL srv or fn.  fn may send to and close connections. */
typedef int tcpchat_each_cb(struct tcpchat_conn *conn, void *arg);
TCPCHAT_EXPORT int tcpchat_server_foreach(struct tcpchat_server *srv,
                                          tcpchat_each_cb *fn, void *arg);

/* An application pointer kept by the server for its callbacks (NULL at
 * first). */
TCPCHAT_EXPORT void tcpchat_server_set_userdata(struct tcpchat_server *srv, void *userdata);
TCPCHAT_EXPORT void *tcpchat_server_userdata(const struct tcpchat_server *srv);

/* Accept connections on loop from now on and serve them without blocking.
 * Errors: -EINVAL (not listening, or already started), or the backend's
 * (-ENOMEM...). */
TCPCHAT_EXPORT int tcpchat_server_start(struct tcpchat_server *srv,
                                        struct tcpchat_loop *loop);

/* Close the listening socket: no new client is accepted, established
 * connections go on.  May be called from the server's callbacks (a one-shot
 * server calls it when its client connects).  The port and address stay
 * readable; the server cannot listen again.  Idempotent. */
TCPCHAT_EXPORT void tcpchat_server_unlisten(struct tcpchat_server *srv);

/* Close every connection (each close callback runs once, with reason
 * -ECANCELED, or the error a connection had already failed with in this
 * loop iteration), the listening socket, and free the server.  Must not be
 * called from one of this server's own callbacks: stop the loop and free it
 * after tcpchat_loop_run() returns.  NULL is a no-op. */
TCPCHAT_EXPORT void tcpchat_server_free(struct tcpchat_server *srv);

/* ------------------------------------------------------------------ */
/* Connections of an event-driven server                              */
/* ------------------------------------------------------------------ */

/* Queue len bytes for the peer.  What the socket takes at once is written
 * at once; the rest is copied to the connection's output queue and written
 * as the peer reads (short writes, EAGAIN and EINTR handled).  Returns 0
 * when the bytes are written or queued.
 * Errors: -EINVAL, -EPIPE (the connection is closing), or TCPCHAT_EQUEUE
 * (the queue would pass TCPCHAT_LIMIT_QUEUE), -ENOMEM or the socket's error
 * (-ECONNRESET...), after which the connection is closed with that reason.
 * conn stays valid until its close callback returns. */
TCPCHAT_EXPORT int tcpchat_conn_send(struct tcpchat_conn *conn, const void *data, size_t len);

/* Close the connection gracefully: stop delivering data, flush the output
 * queue, shut down the sending side, discard what the peer still sends
 * until it closes (or a short linger time passes) so that nothing we sent
 * is lost to a reset, then close and call the close callback (reason 0, or
 * TCPCHAT_EOF if the peer had closed first).  The close callback never runs
 * inside this call: at the earliest at the end of the loop iteration, so
 * the caller may go on using conn.  Idempotent. */
TCPCHAT_EXPORT void tcpchat_conn_close(struct tcpchat_conn *conn);

/* The peer's address as text, "IP:PORT" or "[IPv6]:PORT"; owned by conn. */
TCPCHAT_EXPORT const char *tcpchat_conn_peer(const struct tcpchat_conn *conn);

/* The server the connection belongs to. */
TCPCHAT_EXPORT struct tcpchat_server *tcpchat_conn_server(const struct tcpchat_conn *conn);

/* Bytes queued and not yet written to the socket. */
TCPCHAT_EXPORT size_t tcpchat_conn_queued(const struct tcpchat_conn *conn);

/* An application pointer kept with the connection (NULL at first). */
TCPCHAT_EXPORT void tcpchat_conn_set_userdata(struct tcpchat_conn *conn, void *userdata);
TCPCHAT_EXPORT void *tcpchat_conn_userdata(const struct tcpchat_conn *conn);

/* ------------------------------------------------------------------ */
/* Client: one blocking connection                                    */
/* ------------------------------------------------------------------ */

/* A client belongs to no loop.  One thread may send on it while another
 * receives (a program that types and prints at the same time); two threads
 * must not both send, or both receive, at once. */

/* Connect to host (a name or an IPv4/IPv6 literal) on port, trying every
 * address the name resolves to, each for at most timeout_ms; when all fail,
 * the error of the last one is returned.
 * Errors: -EINVAL (NULL clientp or host, port 0 or over 65535),
 * -ECONNREFUSED, -ETIMEDOUT, -ENETUNREACH, TCPCHAT_EAI_*. */
TCPCHAT_EXPORT int tcpchat_client_connect(struct tcpchat_client **clientp,
                                          const char *host, unsigned port,
                                          int timeout_ms);

/* The same, binding the local end to local_host:local_port first (either
 * may be NULL/0 for "any"), as a client that must speak from a known port
 * does.  Errors as above, plus -EADDRINUSE. */
TCPCHAT_EXPORT int tcpchat_client_connect_from(struct tcpchat_client **clientp,
                                               const char *host, unsigned port,
                                               const char *local_host,
                                               unsigned local_port,
                                               int timeout_ms);

/* Send all len bytes, waiting while the socket is full, for as long as the
 * peer takes to read (len 0 sends nothing and returns 0, data may then be
 * NULL).  Returns 0 once every byte is handed to the kernel,
 * or a negative error (-EINVAL, -EPIPE, -ECONNRESET...) after which the
 * connection is useless. */
TCPCHAT_EXPORT int tcpchat_client_send(struct tcpchat_client *client,
                                       const void *data, size_t len);

/* Receive up to size bytes, waiting at most timeout_ms for the first one.
 * Returns the number of bytes (> 0), TCPCHAT_EOF when the peer has closed
 * and everything was read, -ETIMEDOUT, -EINVAL (size 0), or another
 * negative error. */
TCPCHAT_EXPORT ssize_t tcpchat_client_recv(struct tcpchat_client *client,
                                           void *buf, size_t size,
                                           int timeout_ms);

/* Receive one line terminated by "\n" into buf, without the "\n" and
 * without one "\r" before it, NUL-terminated (the line itself may contain
 * NUL bytes: use the returned length).  timeout_ms bounds the whole wait.
 * Returns the line's length (0 for an empty line), TCPCHAT_EOF at the end
 * of the stream (a last line without "\n" is still returned first),
 * -ETIMEDOUT (what arrived stays buffered for the next call, and skipping
 * a too-long line counts against the timeout too), -EMSGSIZE if
 * the line does not fit in size - 1 bytes (the line is then discarded up to
 * and including its "\n", so the next call returns the next line), -EINVAL
 * if size is 0, or another negative error.  Bytes buffered here are also
 * returned by tcpchat_client_recv() before any new ones. */
TCPCHAT_EXPORT ssize_t tcpchat_client_recv_line(struct tcpchat_client *client,
                                                char *buf, size_t size,
                                                int timeout_ms);

/* Shut down the sending side (the peer reads EOF); receiving goes on.
 * Errors: -EINVAL, -ENOTCONN. */
TCPCHAT_EXPORT int tcpchat_client_shutdown(struct tcpchat_client *client);

/* The peer's address as text, "IP:PORT" or "[IPv6]:PORT"; owned by client. */
TCPCHAT_EXPORT const char *tcpchat_client_peer(const struct tcpchat_client *client);

/* The client's own address as text, as the peer sees it if no NAT is in the
 * way; owned by client. */
TCPCHAT_EXPORT const char *tcpchat_client_local(const struct tcpchat_client *client);

/* Close the connection and free the client.  NULL is a no-op. */
TCPCHAT_EXPORT void tcpchat_client_close(struct tcpchat_client *client);

#ifdef __cplusplus
}
#endif

#endif /* TCPCHAT_H */
