/* common.h - what the example programs share: option parsing for the
 * common program contract, error reporting, client and server setup,
 * signal handling and time formatting.  Public API of libtcpchat only.
 */
#ifndef EXAMPLES_COMMON_H
#define EXAMPLES_COMMON_H

#include <getopt.h>
#include <stddef.h>
#include <time.h>

#include <tcpchat.h>

#if defined(__GNUC__)
#define NORETURN __attribute__((noreturn))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define NORETURN
#define PRINTF_LIKE(f, a)
#endif

/* ------------------------------------------------------------------ */
/* Program identity and messages                                      */
/* ------------------------------------------------------------------ */

/* The program's name, as set by prog_init(). */
extern const char *progname;

/* Call first: name is the installed name ("tcpchat-echo-server"), usage
 * the full text printed by -h/--help. */
void prog_init(const char *name, const char *usage);

/* "PROG: message" on stderr. */
void logmsg(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* Bad usage: "PROG: message (try --help)" on stderr, exit 2. */
NORETURN void usage_error(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* Runtime error: "PROG: message" on stderr, exit 1. */
NORETURN void fatal(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* ------------------------------------------------------------------ */
/* Options                                                            */
/* ------------------------------------------------------------------ */

/* Every program's option string starts with COMMON_SHORTOPTS (the leading
 * ':' makes getopt report a missing argument as ':') and its long option
 * table holds COMMON_LONGOPTS. */
#define COMMON_SHORTOPTS ":hV"
#define COMMON_LONGOPTS \
	{ "help", no_argument, NULL, 'h' }, \
	{ "version", no_argument, NULL, 'V' }

/* The default branch of every program's getopt switch: -h/--help and
 * -V/--version (exit 0), and getopt's complaints (exit 2). */
NORETURN void common_option(int opt, char **argv);

/* Check that between min and max operands follow the options; exit 2 if
 * not.  max < 0 means no limit. */
void check_operands(int argc, char **argv, int min, int max);

/* A decimal number from min to max; exit 2 naming what if s is anything
 * else. */
unsigned long parse_count(const char *s, const char *what,
			  unsigned long min, unsigned long max);

/* A port number, 0..65535 if allow_zero, else 1..65535; exit 2 if s is
 * anything else. */
unsigned parse_port(const char *s, int allow_zero);

/* A non-negative decimal number of seconds ("0", "2", "0.5") as
 * milliseconds; what names the option in the error message. */
int parse_seconds(const char *s, const char *what);

/* ------------------------------------------------------------------ */
/* Servers                                                            */
/* ------------------------------------------------------------------ */

#define DEFAULT_HOST "127.0.0.1"

struct server_opts {
	const char *host;
	unsigned port;
};

#define SERVER_SHORTOPTS "H:p:"
#define SERVER_LONGOPTS \
	{ "host", required_argument, NULL, 'H' }, \
	{ "port", required_argument, NULL, 'p' }

/* Handle -H HOST and -p PORT; returns 1 if opt was one of them. */
int server_option(int opt, struct server_opts *o);

/* Create a loop and a server bound to o->host:o->port and listening; on
 * failure say why and exit 1.  Set the callbacks before server_run(). */
void server_open(const struct server_opts *o, struct tcpchat_loop **loopp,
		 struct tcpchat_server **srvp);

/* Start srv on loop, print "listening on ADDR", run until SIGINT or
 * SIGTERM (or until nothing is left to serve), then free the server and
 * the loop.  Returns the exit status. */
int server_run(struct tcpchat_loop *loop, struct tcpchat_server *srv);

/* The most clients at once that the limit on open files allows (keeping
 * a few descriptors for the program), at most wanted. */
unsigned long fit_fd_limit(unsigned long wanted);

/* Set handler (or SIG_IGN) for SIGINT and SIGTERM; server_run() does it
 * itself. */
void catch_signals(void (*handler)(int));

/* The close callback's reason, as words for the log. */
const char *close_reason(int reason);

/* ------------------------------------------------------------------ */
/* Clients                                                            */
/* ------------------------------------------------------------------ */

/* Connect to host:port (from local_port when it is not 0) within
 * timeout_ms; on failure say why and exit 1. */
struct tcpchat_client *client_open(const char *host, unsigned port,
				   unsigned local_port, int timeout_ms);

/* ------------------------------------------------------------------ */
/* Time                                                               */
/* ------------------------------------------------------------------ */

/* Room for an RFC 3339 time with its NUL: "2026-11-21T16:40:20+00:00". */
#define RFC3339_SIZE 32

/* The local time t as RFC 3339 with a numeric offset into buf. */
void format_rfc3339(char buf[RFC3339_SIZE], time_t t);

#endif /* EXAMPLES_COMMON_H */
