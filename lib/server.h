/* server.h - the inside of a server and of its connections, shared by
 * server.c (listening, accepting, the connection set) and conn.c (one
 * connection's reads, writes and close). */
#ifndef TCPCHAT_SERVER_H
#define TCPCHAT_SERVER_H

#include "buf.h"
#include "frame.h"
#include "loop.h"
#include "queue.h"

#define TCPCHAT__NLIMITS (TCPCHAT_LIMIT_LINE_TIME + 1)
#define TCPCHAT__NSTATS (TCPCHAT_STAT_BYTES_OUT + 1)

/* A connection lives in these states, in this order. */
enum tcpchat__conn_state {
	TCPCHAT__OPEN,    /* data is delivered to the application */
	TCPCHAT__FLUSH,   /* closing: writing out the queue, input discarded */
	TCPCHAT__LINGER,  /* closing: sending side shut, waiting for the peer's FIN */
	TCPCHAT__DEAD     /* closed: teardown is queued for the end of the iteration */
};

struct tcpchat_conn {
	struct tcpchat__io io;
	struct tcpchat_server *srv;
	struct tcpchat__list link;         /* in srv->conns */
	struct tcpchat__queue out;
	enum tcpchat__conn_state state;
	bool eof;                          /* the peer shut down its sending side */
	bool blocked;                      /* the socket refused bytes: wait for writability */
	bool rejected;                     /* over TCPCHAT_LIMIT_CLIENTS, being sent away */
	bool congested;                    /* queue over half its limit (counted in srv) */
	bool paused;                       /* not read until no connection is congested */
	struct tcpchat__list paused_link;  /* in srv->paused while paused */
	uint64_t congested_since;          /* loop time it became congested */
	int reason;                        /* what the close callback will be told */
	struct tcpchat__deferred flush;    /* write the queue at the end of the iteration */
	struct tcpchat__deferred teardown;
	struct tcpchat_timer timer;        /* idle timeout when open, deadline when closing */
	uint64_t last_input;               /* loop time of the last bytes received */
	struct tcpchat__buf line;          /* a partial line, allocated only while one waits */
	struct tcpchat__buf held;          /* input read but not framed yet: held back
	                                      while a reader lags (at most one read) */
	struct tcpchat__deferred release;  /* frame the held input once unpaused */
	uint64_t line_started;             /* loop time the pending line began */
	struct tcpchat__framer framer;
	void *userdata;
	char peer[TCPCHAT__ADDRSTRLEN];
};

struct tcpchat_server {
	int fd;                            /* listening socket, -1 when none */
	bool listening;
	struct tcpchat_loop *loop;         /* set by tcpchat_server_start */
	struct tcpchat__io listen_io;
	struct tcpchat_timer backoff;      /* re-arms accepting after EMFILE */
	struct tcpchat__list conns;
	size_t nopen;                      /* connections not rejected, not yet torn down */
	size_t ncongested;                 /* connections with conn->congested */
	bool fed_congested;                /* the input being handled queued output
	                                      for a congested connection */
	struct tcpchat__list paused;       /* connections waiting for ncongested == 0 */
	tcpchat_connect_cb *on_connect;
	tcpchat_data_cb *on_data;
	tcpchat_line_cb *on_line;
	tcpchat_connect_cb *on_long_line;
	tcpchat_connect_cb *on_full;
	tcpchat_eof_cb *on_eof;
	tcpchat_close_cb *on_close;
	uint64_t limit[TCPCHAT__NLIMITS];
	uint64_t stat[TCPCHAT__NSTATS];
	void *userdata;
	int port;                          /* bound port, 0 before bind */
	char address[TCPCHAT__ADDRSTRLEN];
};

/* Make a connection for an accepted descriptor and start watching it;
 * -ENOMEM or the backend's error (fd is then still the caller's). */
int tcpchat__conn_open(struct tcpchat_server *srv, int fd, const char *peer);

/* Begin a graceful close with the reason the close callback will get. */
void tcpchat__conn_close(struct tcpchat_conn *conn, int reason);

/* Close at once, without flushing; teardown follows at the end of the
 * iteration. */
void tcpchat__conn_kill(struct tcpchat_conn *conn, int reason);

/* Re-register for the readiness the connection's state calls for. */
void tcpchat__conn_update(struct tcpchat_conn *conn);

/* Bytes were pushed onto conn's queue: write them at the end of the
 * iteration (with everything else queued by then) unless the socket is
 * full and writability will. */
void tcpchat__conn_queue(struct tcpchat_conn *conn);

/* True, having closed conn with TCPCHAT_EQUEUE, if queuing len more bytes
 * would pass the server's queue limit. */
bool tcpchat__conn_over_limit(struct tcpchat_conn *conn, size_t len);

/* conn's queue changed size: update whether it is congested (over half the
 * queue limit), and let paused connections go once none is.  Output queued
 * for a congested connection marks the input being handled as feeding it. */
void tcpchat__conn_congestion(struct tcpchat_conn *conn);

/* Close conn now, without flushing, and run its close callback with reason
 * (used when the server is freed). */
void tcpchat__conn_destroy(struct tcpchat_conn *conn, int reason);

/* A blocking client around an accepted or connected descriptor (client.c). */
int tcpchat__client_new(struct tcpchat_client **clientp, int fd);

#endif /* TCPCHAT_SERVER_H */
