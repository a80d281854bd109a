/* chat-tcpchat-plain.c - the plain newline broadcast of the benchmark's
 * other chat peers, on the public libtcpchat API: every line a client sends
 * goes, unchanged, to every other client (no names, no notices), so the
 * library can be compared like for like.  Exits 0 on SIGTERM/SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tcpchat.h>

#define MAX_LINE 4096           /* the library's default line limit */

static struct tcpchat_loop *loop;
static struct tcpchat_server *srv;
static char out[MAX_LINE + 1];

static void on_line(struct tcpchat_conn *conn, const char *line, size_t len)
{
	memcpy(out, line, len);
	out[len] = '\n';
	tcpchat_server_broadcast(srv, out, len + 1, conn);
}

static void on_signal(int sig)
{
	(void)sig;
	tcpchat_loop_stop(loop);
}

int main(int argc, char **argv)
{
	unsigned port = 0;
	int rc;

	if (argc == 3 && strcmp(argv[1], "-p") == 0)
		port = (unsigned)strtoul(argv[2], NULL, 10);
	if ((rc = tcpchat_loop_create(&loop)) < 0 ||
	    (rc = tcpchat_server_create(&srv)) < 0 ||
	    (rc = tcpchat_server_set_limit(srv, TCPCHAT_LIMIT_CLIENTS, 0)) < 0 ||
	    (rc = tcpchat_server_set_limit(srv, TCPCHAT_LIMIT_LINE, MAX_LINE)) < 0 ||
	    (rc = tcpchat_server_bind(srv, "127.0.0.1", port)) < 0 ||
	    (rc = tcpchat_server_listen(srv, 0)) < 0) {
		fprintf(stderr, "chat-tcpchat-plain: %s\n", tcpchat_strerror(rc));
		return 1;
	}
	tcpchat_server_on_line(srv, on_line);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	tcpchat_server_start(srv, loop);
	printf("listening on %s\n", tcpchat_server_address(srv));
	fflush(stdout);
	tcpchat_loop_run(loop);
	tcpchat_server_free(srv);
	tcpchat_loop_free(loop);
	return 0;
}
