/* relay.c - lines from stdin to the peer and from the peer to stdout, at
 * the same time (see relay.h). */
#include "relay.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* How often a blocked receive looks at the signal flag. */
#define POLL_MS 200
/* The longest line shown; a longer one is skipped with a note. */
#define LINE_MAX_SHOWN 65536

static volatile sig_atomic_t interrupted;
static atomic_bool said_bye;   /* the stdin thread sends or sent "bye" */

static void on_signal(int sig)
{
	interrupted = 1;
}

void relay_catch_signals(void)
{
	catch_signals(on_signal);
}

bool relay_interrupted(void)
{
	return interrupted;
}

static bool is_bye(const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	return len == 3 && memcmp(line, "bye", 3) == 0;
}

/* The sending half: every line of stdin, then "bye" if stdin did not. */
static void *send_stdin(void *arg)
{
	struct tcpchat_client *c = arg;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	while (rc == 0 && (n = getline(&line, &cap, stdin)) > 0) {
		if (line[n - 1] != '\n') {
			/* The last line had no end of line: give it one. */
			char *grown = realloc(line, (size_t)n + 2);
			if (!grown)
				break;
			line = grown;
			line[n++] = '\n';
		}
		/* Say so before the bye leaves: the peer may close as soon as
		 * it reads it, and the receiving half must know that is fine. */
		if (is_bye(line, (size_t)n))
			atomic_store(&said_bye, true);
		rc = tcpchat_client_send(c, line, (size_t)n);
		if (atomic_load(&said_bye))
			break;
	}
	if (rc == 0 && !atomic_load(&said_bye)) {
		atomic_store(&said_bye, true);
		tcpchat_client_send(c, "bye\n", 4);
	}
	free(line);
	return NULL;
}

int relay(struct tcpchat_client *c, bool peer_bye_ends)
{
	static char buf[LINE_MAX_SHOWN + 1];
	pthread_t th;
	ssize_t n;

	if (pthread_create(&th, NULL, send_stdin, c) != 0)
		fatal("cannot start the input thread");
	/* It may be blocked reading stdin when we are done: leave it. */
	pthread_detach(th);

	while (!interrupted) {
		n = tcpchat_client_recv_line(c, buf, sizeof(buf), POLL_MS);
		if (n == -ETIMEDOUT)
			continue;
		if (n == -EMSGSIZE) {
			logmsg("a line longer than %d bytes was skipped", LINE_MAX_SHOWN);
			continue;
		}
		if (n == TCPCHAT_EOF) {
			if (atomic_load(&said_bye))
				return 0;
			logmsg("connection closed by %s", tcpchat_client_peer(c));
			return 1;
		}
		if (n < 0) {
			logmsg("connection to %s lost: %s", tcpchat_client_peer(c), tcpchat_strerror((int)n));
			return 1;
		}
		buf[n] = '\n';
		fwrite(buf, 1, (size_t)n + 1, stdout);
		fflush(stdout);
		if (peer_bye_ends && is_bye(buf, (size_t)n))
			return 0;
	}
	return 0;
}
