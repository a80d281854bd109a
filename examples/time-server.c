/* time-server.c - tcpchat-time-server: tell each client the time.
 *
 * For every client it logs the client's address and its greeting (the
 * first line it sends, if any), waits --delay seconds from the moment the
 * client connected, then sends one line "TIME ADDR" - the local time in
 * RFC 3339 and the client's own address as the server sees it - and closes
 * the connection.  Clients are served at the same time: one slow client
 * never holds up another.
 *
 * Try it:
 *     tcpchat-time-server -p 8088 --delay 2 &
 *     echo hello | nc 127.0.0.1 8088
 *     tcpchat-time-client 127.0.0.1 8088
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

static const char usage[] =
	"Usage: tcpchat-time-server [--delay SECONDS] [-H HOST] [-p PORT]\n"
	"Reply to every client with one line: the time and its address.\n"
	"\n"
	"  -d, --delay SECONDS  wait SECONDS (e.g. 0, 2, 0.5) after a client\n"
	"                       connects before replying (default 0)\n"
	"  -H, --host HOST      address to listen on (default 127.0.0.1;\n"
	"                       0.0.0.0 or :: to accept remote clients)\n"
	"  -p, --port PORT      port to listen on (default 8088; 0 = any free\n"
	"                       port)\n"
	"  -h, --help           show this help and exit\n"
	"  -V, --version        show the version and exit\n"
	"\n"
	"Prints \"listening on ADDR\" once it accepts connections; logs to\n"
	"stderr.\n";

#define GREETING_MAX 1024

/* What we keep for each connected client. */
struct visitor {
	struct tcpchat_conn *conn;
	struct tcpchat_timer *timer;	/* fires when the reply is due */
	char greeting[GREETING_MAX];
	size_t len;
	int logged;			/* the greeting was logged */
};

static int delay_ms;

static void log_greeting(struct visitor *v)
{
	size_t i;

	if (v->logged)
		return;
	v->logged = 1;
	if (v->len > 0 && v->greeting[v->len - 1] == '\r')
		v->len--;
	/* Bytes pass through in any encoding; only control bytes that could
	 * garble the log are masked. */
	for (i = 0; i < v->len; i++) {
		unsigned char c = (unsigned char)v->greeting[i];

		if (c < 0x20 || c == 0x7f)
			v->greeting[i] = '?';
	}
	logmsg("%s says: %.*s", tcpchat_conn_peer(v->conn), (int)v->len,
	       v->greeting);
}

static void on_timer(struct tcpchat_timer *timer, void *arg)
{
	struct visitor *v = arg;
	char line[RFC3339_SIZE + 80];
	int rc;

	(void)timer;
	if (v->len > 0)
		log_greeting(v);	/* a partial greeting, if any */
	format_rfc3339(line, time(NULL));
	snprintf(line + strlen(line), sizeof(line) - strlen(line), " %s\n",
		 tcpchat_conn_peer(v->conn));
	rc = tcpchat_conn_send(v->conn, line, strlen(line));
	if (rc < 0)
		logmsg("%s: cannot send the time: %s",
		       tcpchat_conn_peer(v->conn), tcpchat_strerror(rc));
	tcpchat_conn_close(v->conn);	/* flushes the line first */
}

/* The loop, which main() keeps as the server's userdata. */
static struct tcpchat_loop *loop_of(struct tcpchat_conn *conn)
{
	return tcpchat_server_userdata(tcpchat_conn_server(conn));
}

static void on_connect(struct tcpchat_conn *conn)
{
	struct visitor *v;
	int rc;

	logmsg("%s connected", tcpchat_conn_peer(conn));
	v = calloc(1, sizeof(*v));
	if (v == NULL) {
		logmsg("%s: out of memory", tcpchat_conn_peer(conn));
		tcpchat_conn_close(conn);
		return;
	}
	v->conn = conn;
	rc = tcpchat_timer_create(loop_of(conn), &v->timer, on_timer, v);
	if (rc >= 0)
		rc = tcpchat_timer_start(v->timer, (uint64_t)delay_ms, 0);
	if (rc < 0) {
		logmsg("%s: cannot start timer: %s", tcpchat_conn_peer(conn),
		       tcpchat_strerror(rc));
		tcpchat_timer_free(v->timer);
		free(v);
		tcpchat_conn_close(conn);
		return;
	}
	tcpchat_conn_set_userdata(conn, v);
}

/* Keep the first line, up to GREETING_MAX bytes; ignore the rest. */
static void on_data(struct tcpchat_conn *conn, const char *data, size_t len)
{
	struct visitor *v = tcpchat_conn_userdata(conn);
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < len && !v->logged; i++) {
		if (data[i] != '\n')
			v->greeting[v->len++] = data[i];
		if (data[i] == '\n' || v->len == GREETING_MAX)
			log_greeting(v);
	}
}

/* A client that half-closes after its greeting still gets its reply: the
 * timer closes the connection, not the end of the client's stream. */
static void on_eof(struct tcpchat_conn *conn)
{
	(void)conn;
}

static void on_close(struct tcpchat_conn *conn, int reason)
{
	struct visitor *v = tcpchat_conn_userdata(conn);

	logmsg("%s %s", tcpchat_conn_peer(conn), close_reason(reason));
	if (v != NULL) {
		tcpchat_timer_free(v->timer);
		free(v);
		tcpchat_conn_set_userdata(conn, NULL);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		SERVER_LONGOPTS,
		{ "delay", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	struct server_opts opts = { DEFAULT_HOST, 8088 };
	struct tcpchat_loop *loop;
	struct tcpchat_server *srv;
	int opt;

	prog_init("tcpchat-time-server", usage);
	while ((opt = getopt_long(argc, argv,
				  COMMON_SHORTOPTS SERVER_SHORTOPTS "d:",
				  longopts, NULL)) != -1) {
		if (opt == 'd')
			delay_ms = parse_seconds(optarg, "delay");
		else if (!server_option(opt, &opts))
			common_option(opt, argv);
	}
	check_operands(argc, argv, 0, 0);

	server_open(&opts, &loop, &srv);
	tcpchat_server_set_userdata(srv, loop);	/* for the timers */
	tcpchat_server_on_connect(srv, on_connect);
	tcpchat_server_on_data(srv, on_data);
	tcpchat_server_on_eof(srv, on_eof);
	tcpchat_server_on_close(srv, on_close);
	return server_run(loop, srv);
}
