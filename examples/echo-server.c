/* echo-server.c - tcpchat-echo-server: send every byte a client sends
 * straight back to it, unchanged (any encoding, NUL bytes included).
 *
 * By default it serves one client and exits: the first connection closes
 * the listening socket, and when that client has half-closed and got all
 * its bytes back, the program ends.  With -k it serves any number of
 * clients at once until SIGINT or SIGTERM.
 *
 * Try it:
 *     tcpchat-echo-server -k -p 7788 &
 *     nc 127.0.0.1 7788          (type lines, see them come back; ^D ends)
 *     tcpchat-echo-client 127.0.0.1 7788 hello world
 */
#include <limits.h>
#include <stdio.h>

#include "common.h"

static const char usage[] =
	"Usage: tcpchat-echo-server [-k] [-H HOST] [-p PORT]\n"
	"Echo back every byte each client sends.\n"
	"\n"
	"  -k, --keep         serve any number of clients at once, until\n"
	"                     SIGINT or SIGTERM\n"
	"                     (default: serve one client, then exit)\n"
	"  -H, --host HOST    address to listen on (default 127.0.0.1;\n"
	"                     0.0.0.0 or :: to accept remote clients)\n"
	"  -p, --port PORT    port to listen on (default 7788; 0 = any free\n"
	"                     port)\n"
	"  -h, --help         show this help and exit\n"
	"  -V, --version      show the version and exit\n"
	"\n"
	"Prints \"listening on ADDR\" once it accepts connections; logs to\n"
	"stderr.\n";

static int keep_serving;

static void on_connect(struct tcpchat_conn *conn)
{
	if (!keep_serving)
		tcpchat_server_unlisten(tcpchat_conn_server(conn));
	logmsg("%s connected", tcpchat_conn_peer(conn));
}

static void on_data(struct tcpchat_conn *conn, const char *data, size_t len)
{
	int rc = tcpchat_conn_send(conn, data, len);

	/* On failure the library closes the connection; on_close logs it. */
	if (rc < 0)
		logmsg("%s: cannot echo %zu bytes: %s", tcpchat_conn_peer(conn),
		       len, tcpchat_strerror(rc));
}

/* No eof callback: when a client half-closes, the library sends what is
 * still queued and closes the connection. */

static void on_close(struct tcpchat_conn *conn, int reason)
{
	logmsg("%s %s", tcpchat_conn_peer(conn), close_reason(reason));
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		SERVER_LONGOPTS,
		{ "keep", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 }
	};
	struct server_opts opts = { DEFAULT_HOST, 7788 };
	struct tcpchat_loop *loop;
	struct tcpchat_server *srv;
	int opt;

	prog_init("tcpchat-echo-server", usage);
	while ((opt = getopt_long(argc, argv,
				  COMMON_SHORTOPTS SERVER_SHORTOPTS "k",
				  longopts, NULL)) != -1) {
		if (opt == 'k')
			keep_serving = 1;
		else if (!server_option(opt, &opts))
			common_option(opt, argv);
	}
	check_operands(argc, argv, 0, 0);

	server_open(&opts, &loop, &srv);
	/* As many clients as the limit on open files allows. */
	tcpchat_server_set_limit(srv, TCPCHAT_LIMIT_CLIENTS, fit_fd_limit(ULONG_MAX));
	tcpchat_server_on_connect(srv, on_connect);
	tcpchat_server_on_data(srv, on_data);
	tcpchat_server_on_close(srv, on_close);
	/* One-shot: the loop returns by itself once the client is gone. */
	return server_run(loop, srv);
}
