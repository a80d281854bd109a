/* time-client.c - tcpchat-time-client: greet a time server and print the
 * line it answers with (the time, and our address as the server saw it).
 *
 * With --local-port the client speaks from a port of its choosing, so the
 * address in the reply ends with that port.
 *
 * Try it:
 *     tcpchat-time-server -p 8088 --delay 1 &
 *     tcpchat-time-client 127.0.0.1 8088
 *     tcpchat-time-client --local-port 1211 127.0.0.1 8088 "good morning"
 *     nc 127.0.0.1 8088
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common.h"

static const char usage[] =
	"Usage: tcpchat-time-client [--local-port P] [-t SECONDS] HOST PORT\n"
	"                           [MESSAGE]\n"
	"Send a greeting line (MESSAGE, or \"hello from tcpchat-time-client\n"
	"at TIME\") to a time server and print the line it replies with.\n"
	"\n"
	"  -l, --local-port P     connect from local port P\n"
	"  -t, --timeout SECONDS  give up connecting, or waiting for the\n"
	"                         reply, after SECONDS (default 30)\n"
	"  -h, --help             show this help and exit\n"
	"  -V, --version          show the version and exit\n";

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "local-port", required_argument, NULL, 'l' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	struct tcpchat_client *client;
	char greeting[1024], now[RFC3339_SIZE], reply[1024];
	unsigned port, local_port = 0;
	int timeout_ms = 30000;
	const char *host;
	ssize_t n;
	int opt, rc;

	prog_init("tcpchat-time-client", usage);
	while ((opt = getopt_long(argc, argv, COMMON_SHORTOPTS "l:t:",
				  longopts, NULL)) != -1) {
		if (opt == 'l')
			local_port = parse_port(optarg, 0);
		else if (opt == 't')
			timeout_ms = parse_seconds(optarg, "timeout");
		else
			common_option(opt, argv);
	}
	check_operands(argc, argv, 2, 3);
	host = argv[optind];
	port = parse_port(argv[optind + 1], 0);

	format_rfc3339(now, time(NULL));
	if (argc - optind == 3)
		snprintf(greeting, sizeof(greeting), "%s\n", argv[optind + 2]);
	else
		snprintf(greeting, sizeof(greeting),
			 "hello from tcpchat-time-client at %s\n", now);

	client = client_open(host, port, local_port, timeout_ms);
	rc = tcpchat_client_send(client, greeting, strlen(greeting));
	if (rc < 0)
		fatal("cannot send to %s: %s", tcpchat_client_peer(client),
		      tcpchat_strerror(rc));

	n = tcpchat_client_recv_line(client, reply, sizeof(reply), timeout_ms);
	if (n == TCPCHAT_EOF)
		fatal("%s closed the connection without a reply",
		      tcpchat_client_peer(client));
	if (n < 0)
		fatal("cannot read the reply from %s: %s",
		      tcpchat_client_peer(client), tcpchat_strerror((int)n));
	tcpchat_client_close(client);

	fwrite(reply, 1, (size_t)n, stdout);
	putchar('\n');
	if (fflush(stdout) != 0 || ferror(stdout))
		fatal("cannot write to stdout: %s", strerror(errno));
	return 0;
}
