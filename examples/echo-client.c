/* echo-client.c - tcpchat-echo-client: send a message to an echo server,
 * print what comes back, and check that it is exactly what was sent.
 *
 * The message is the MESSAGE words joined by spaces plus "\n", or, with no
 * MESSAGE, everything read from stdin (any bytes at all).  A second thread
 * sends it and then half-closes the connection, so the server knows the
 * message is complete, while the main thread reads the echo until the
 * server closes: reading as we send keeps a large message from filling
 * every buffer on the way and stalling both ends.
 *
 * Try it:
 *     tcpchat-echo-server -k -p 7788 &
 *     tcpchat-echo-client 127.0.0.1 7788 hello world
 *     tcpchat-echo-client 127.0.0.1 7788 < /bin/ls > copy && cmp /bin/ls copy
 *     printf 'hello\n' | nc -N 127.0.0.1 7788      (the same, by hand)
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char usage[] =
	"Usage: tcpchat-echo-client [-t SECONDS] HOST PORT [MESSAGE...]\n"
	"Send MESSAGE (or all of stdin) to an echo server, print the echo,\n"
	"and exit 0 only if exactly the bytes sent came back.\n"
	"\n"
	"  -t, --timeout SECONDS  give up connecting, or waiting for data,\n"
	"                         after SECONDS (default 10)\n"
	"  -h, --help             show this help and exit\n"
	"  -V, --version          show the version and exit\n";

struct buffer {
	char *data;
	size_t len, size;
};

static void append(struct buffer *b, const void *data, size_t len)
{
	if (b->len + len > b->size) {
		size_t size = b->size ? b->size : 4096;
		char *p;

		while (size < b->len + len)
			size *= 2;
		p = realloc(b->data, size);
		if (p == NULL)
			fatal("out of memory");
		b->data = p;
		b->size = size;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

/* The MESSAGE words joined by single spaces, plus "\n". */
static void join_words(struct buffer *msg, char **words, int count)
{
	int i;

	for (i = 0; i < count; i++) {
		if (i > 0)
			append(msg, " ", 1);
		append(msg, words[i], strlen(words[i]));
	}
	append(msg, "\n", 1);
}

static void read_stdin(struct buffer *msg)
{
	char chunk[65536];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		append(msg, chunk, n);
	if (ferror(stdin))
		fatal("cannot read stdin: %s", strerror(errno));
}

/* What the sending thread needs, and how it went. */
struct sender {
	struct tcpchat_client *client;
	const struct buffer *msg;
	int rc;
};

static void *send_message(void *arg)
{
	struct sender *s = arg;

	s->rc = 0;
	if (s->msg->len > 0)
		s->rc = tcpchat_client_send(s->client, s->msg->data,
					    s->msg->len);
	if (s->rc >= 0)
		s->rc = tcpchat_client_shutdown(s->client);
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	struct buffer msg = { NULL, 0, 0 };
	struct tcpchat_client *client;
	struct sender sender;
	pthread_t thread;
	char chunk[65536];
	size_t received = 0;
	int timeout_ms = 10000;
	int same = 1;
	const char *host;
	unsigned port;
	ssize_t n;
	int opt, rc;

	prog_init("tcpchat-echo-client", usage);
	while ((opt = getopt_long(argc, argv, COMMON_SHORTOPTS "t:",
				  longopts, NULL)) != -1) {
		if (opt == 't')
			timeout_ms = parse_seconds(optarg, "timeout");
		else
			common_option(opt, argv);
	}
	check_operands(argc, argv, 2, -1);
	host = argv[optind];
	port = parse_port(argv[optind + 1], 0);

	if (argc - optind > 2)
		join_words(&msg, argv + optind + 2, argc - optind - 2);
	else
		read_stdin(&msg);

	client = client_open(host, port, 0, timeout_ms);
	sender.client = client;
	sender.msg = &msg;
	rc = pthread_create(&thread, NULL, send_message, &sender);
	if (rc != 0)
		fatal("cannot start the sending thread: %s", strerror(rc));

	/* Print the echo as it comes, comparing it with what we sent. */
	while ((n = tcpchat_client_recv(client, chunk, sizeof(chunk),
					timeout_ms)) > 0) {
		size_t len = (size_t)n;

		fwrite(chunk, 1, len, stdout);
		if (received + len > msg.len ||
		    memcmp(msg.data + received, chunk, len) != 0)
			same = 0;
		received += len;
	}
	if (n != TCPCHAT_EOF)
		fatal("cannot receive from %s: %s", tcpchat_client_peer(client),
		      tcpchat_strerror((int)n));
	pthread_join(thread, NULL);
	if (sender.rc < 0)
		fatal("cannot send to %s: %s", tcpchat_client_peer(client),
		      tcpchat_strerror(sender.rc));
	tcpchat_client_close(client);

	if (fflush(stdout) != 0 || ferror(stdout))
		fatal("cannot write to stdout: %s", strerror(errno));
	if (!same || received != msg.len)
		fatal("echo mismatch: sent %zu bytes, received %zu%s",
		      msg.len, received,
		      received == msg.len ? " (different bytes)" : "");
	free(msg.data);
	return 0;
}
