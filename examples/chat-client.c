/* chat-client.c - tcpchat-chat-client: join a tcpchat-chat-server room.
 *
 * It reads the server's greeting, sends a name (from -n, or asked for on
 * the terminal), and then, at the same time, prints every line the room
 * sends and sends every line typed.  "bye" or the end of input leaves.
 * stdin and stdout may be pipes, so it can be scripted:
 *
 *     printf 'hello\n' | tcpchat-chat-client -n ann 127.0.0.1 8888
 *
 * Try it:
 *     tcpchat-chat-server &
 *     tcpchat-chat-client 127.0.0.1 8888      (twice, in two terminals)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "relay.h"

static const char usage[] =
	"Usage: tcpchat-chat-client [-n NAME] [-t SECONDS] HOST PORT\n"
	"Join a chat room: print what the room says, send what you type.\n"
	"\n"
	"  -n, --name NAME        the name to join with (default: ask)\n"
	"  -t, --timeout SECONDS  give up connecting or waiting for the server\n"
	"                         to answer after SECONDS (default 10)\n"
	"  -h, --help             show this help and exit\n"
	"  -V, --version          show the version and exit\n"
	"\n"
	"Type \"bye\" or end the input to leave; \"/who\" lists the members,\n"
	"\"/nick NEW\" renames you.\n";

#define LINE_SIZE 4200

/* The next line from the server, or exit 1 saying why there is none. */
static size_t expect_line(struct tcpchat_client *c, char *buf, int timeout_ms)
{
	ssize_t n = tcpchat_client_recv_line(c, buf, LINE_SIZE, timeout_ms);

	if (n == TCPCHAT_EOF)
		fatal("connection closed by %s", tcpchat_client_peer(c));
	if (n < 0)
		fatal("no answer from %s: %s", tcpchat_client_peer(c), tcpchat_strerror((int)n));
	return (size_t)n;
}

/* Ask for a name on the terminal; the line typed, without its newline. */
static char *ask_name(void)
{
	static char name[256];

	fputs("name: ", stderr);
	fflush(stderr);
	if (!fgets(name, sizeof(name), stdin))
		fatal("no name given");
	name[strcspn(name, "\r\n")] = '\0';
	return name;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "name", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	static char line[LINE_SIZE];
	struct tcpchat_client *c;
	const char *name = NULL;
	int timeout_ms = 10000, opt, status;
	unsigned port;
	size_t n;

	prog_init("tcpchat-chat-client", usage);
	while ((opt = getopt_long(argc, argv, COMMON_SHORTOPTS "n:t:", longopts, NULL)) != -1) {
		if (opt == 'n')
			name = optarg;
		else if (opt == 't')
			timeout_ms = parse_seconds(optarg, "--timeout");
		else
			common_option(opt, argv);
	}
	check_operands(argc, argv, 2, 2);
	port = parse_port(argv[optind + 1], 0);

	relay_catch_signals();
	c = client_open(argv[optind], port, 0, timeout_ms);
	n = expect_line(c, line, timeout_ms); /* the greeting */
	printf("%.*s\n", (int)n, line);
	fflush(stdout);
	for (;;) {
		const char *try = name ? name : ask_name();

		if (tcpchat_client_send(c, try, strlen(try)) < 0 ||
		    tcpchat_client_send(c, "\n", 1) < 0)
			fatal("connection to %s lost", tcpchat_client_peer(c));
		n = expect_line(c, line, timeout_ms);
		if (n < 4 || memcmp(line, "ERR ", 4) != 0)
			break; /* "* NAME joined" */
		logmsg("%.*s", (int)n, line);
		if (name)
			exit(1); /* a name given on the command line cannot be asked again */
	}
	printf("%.*s\n", (int)n, line);
	fflush(stdout);
	status = relay(c, false);
	tcpchat_client_close(c);
	return status;
}
