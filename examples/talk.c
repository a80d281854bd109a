/* talk.c - tcpchat-talk: a two-person chat.
 *
 * One side waits for the other (-l); the other connects.  Then both print
 * what arrives and send what is typed, at the same time (the tutorial this
 * comes from made them take turns).  A "bye" line from either side, or the
 * end of either side's input, ends both.
 *
 * Try it:
 *     tcpchat-talk -l                     (prints "listening on 127.0.0.1:8998")
 *     tcpchat-talk 127.0.0.1 8998         (in another terminal)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "relay.h"

static const char usage[] =
	"Usage: tcpchat-talk -l [-H HOST] [-p PORT]\n"
	"       tcpchat-talk [-t SECONDS] HOST PORT\n"
	"Chat with one other person: what you type goes to them, and back.\n"
	"\n"
	"  -l, --listen           wait for the other person to connect\n"
	"  -H, --host HOST        address to listen on (default 127.0.0.1;\n"
	"                         0.0.0.0 or :: to accept remote peers)\n"
	"  -p, --port PORT        port to listen on (default 8998; 0 = any free port)\n"
	"  -t, --timeout SECONDS  give up connecting after SECONDS (default 10)\n"
	"  -h, --help             show this help and exit\n"
	"  -V, --version          show the version and exit\n"
	"\n"
	"A \"bye\" line from either side, or the end of input, ends the talk.\n";

/* How often waiting for the peer looks at the signal flag. */
#define POLL_MS 200

/* Listen, print "listening on ADDR", and wait for the one peer. */
static struct tcpchat_client *wait_for_peer(const struct server_opts *o)
{
	struct tcpchat_server *srv;
	struct tcpchat_client *c = NULL;
	int rc;

	if ((rc = tcpchat_server_create(&srv)) < 0 ||
	    (rc = tcpchat_server_bind(srv, o->host, o->port)) < 0 ||
	    (rc = tcpchat_server_listen(srv, 1)) < 0)
		fatal("cannot listen on %s port %u: %s", o->host, o->port, tcpchat_strerror(rc));
	printf("listening on %s\n", tcpchat_server_address(srv));
	fflush(stdout);
	do
		rc = tcpchat_server_accept(srv, &c, POLL_MS);
	while (rc == -ETIMEDOUT && !relay_interrupted());
	tcpchat_server_free(srv); /* one peer only: stop listening */
	if (relay_interrupted())
		exit(0);
	if (rc < 0)
		fatal("cannot accept: %s", tcpchat_strerror(rc));
	logmsg("%s connected", tcpchat_client_peer(c));
	return c;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		SERVER_LONGOPTS,
		{ "listen", no_argument, NULL, 'l' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	struct server_opts opts = { DEFAULT_HOST, 8998 };
	struct tcpchat_client *c;
	int listening = 0, timeout_ms = 10000, opt, status;

	prog_init("tcpchat-talk", usage);
	while ((opt = getopt_long(argc, argv, COMMON_SHORTOPTS SERVER_SHORTOPTS "lt:",
				  longopts, NULL)) != -1) {
		if (opt == 'l')
			listening = 1;
		else if (opt == 't')
			timeout_ms = parse_seconds(optarg, "--timeout");
		else if (!server_option(opt, &opts))
			common_option(opt, argv);
	}
	relay_catch_signals();
	if (listening) {
		check_operands(argc, argv, 0, 0);
		c = wait_for_peer(&opts);
	} else {
		check_operands(argc, argv, 2, 2);
		c = client_open(argv[optind], parse_port(argv[optind + 1], 0), 0, timeout_ms);
	}
	status = relay(c, true);
	tcpchat_client_close(c);
	return status;
}
