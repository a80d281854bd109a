/* common.c - what the example programs share (see common.h). */
#include "common.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

const char *progname = "tcpchat";
static const char *usage_text = "";

/* ------------------------------------------------------------------ */
/* Program identity and messages                                      */
/* ------------------------------------------------------------------ */

void prog_init(const char *name, const char *usage)
{
	progname = name;
	usage_text = usage;
	opterr = 0;	/* we report getopt's errors ourselves, in one line */
}

static void vmessage(const char *fmt, va_list ap, const char *suffix)
{
	/* Build the line first so that it reaches stderr in one write; big
	 * enough for the longest we log (a 1 KiB greeting and an address). */
	char line[4096];
	int n = snprintf(line, sizeof(line), "%s: ", progname);

	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	fprintf(stderr, "%s%s\n", line, suffix);
}

void logmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap, "");
	va_end(ap);
}

void usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap, " (try --help)");
	va_end(ap);
	exit(2);
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap, "");
	va_end(ap);
	exit(1);
}

/* ------------------------------------------------------------------ */
/* Options                                                            */
/* ------------------------------------------------------------------ */

void common_option(int opt, char **argv)
{
	const char *arg = argv[optind - 1];

	switch (opt) {
	case 'h':
		fputs(usage_text, stdout);
		exit(fflush(stdout) == 0 ? 0 : 1);
	case 'V':
		printf("%s (libtcpchat) %s\n", progname, tcpchat_version());
		exit(fflush(stdout) == 0 ? 0 : 1);
	case ':':
		usage_error("option '%s' requires an argument", arg);
	case '?':
		/* optopt is 0 for an unknown long option, and the option's
		 * value for "--flag=value" when --flag takes none. */
		if (optopt == 0)
			usage_error("unrecognized option '%s'", arg);
		if (strncmp(arg, "--", 2) == 0 && strchr(arg, '='))
			usage_error("option '%.*s' takes no argument",
				    (int)(strchr(arg, '=') - arg), arg);
		usage_error("invalid option '-%c'", optopt);
	default:
		usage_error("unhandled option '%s'", arg);
	}
}

void check_operands(int argc, char **argv, int min, int max)
{
	int n = argc - optind;

	if (n < min)
		usage_error("missing argument");
	if (max >= 0 && n > max)
		usage_error("unexpected argument '%s'", argv[optind + max]);
}

unsigned long parse_count(const char *s, const char *what,
			  unsigned long min, unsigned long max)
{
	unsigned long n = 0;
	int too_big = 0;
	const char *p;

	for (p = s; *p >= '0' && *p <= '9'; p++) {
		unsigned long digit = (unsigned long)(*p - '0');

		if (digit > max || n > (max - digit) / 10)
			too_big = 1;	/* n * 10 + digit > max: no overflow */
		else
			n = n * 10 + digit;
	}
	if (p == s || *p != '\0' || too_big || n < min)
		usage_error("invalid %s '%s'", what, s);
	return n;
}

unsigned parse_port(const char *s, int allow_zero)
{
	return (unsigned)parse_count(s, "port", allow_zero ? 0 : 1, 65535);
}

int parse_seconds(const char *s, const char *what)
{
	const long max_seconds = 1000000;	/* fits in an int of ms */
	long seconds = 0, ms = 0, scale = 100;
	const char *p = s;
	int digits = 0;

	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		seconds = seconds * 10 + (*p - '0');
		if (seconds > max_seconds)
			usage_error("%s too large: '%s'", what, s);
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
			ms += scale * (*p - '0');	/* beyond ms: ignored */
			scale /= 10;
		}
	}
	if (digits == 0 || *p != '\0')
		usage_error("invalid %s '%s'", what, s);
	return (int)(seconds * 1000 + ms);
}

/* "host:port", or "[host]:port" for an IPv6 literal. */
static const char *hostport(const char *host, unsigned port)
{
	static char buf[300];

	snprintf(buf, sizeof(buf), strchr(host, ':') ? "[%s]:%u" : "%s:%u",
		 host, port);
	return buf;
}

/* ------------------------------------------------------------------ */
/* Servers                                                            */
/* ------------------------------------------------------------------ */

int server_option(int opt, struct server_opts *o)
{
	switch (opt) {
	case 'H':
		o->host = optarg;
		return 1;
	case 'p':
		o->port = parse_port(optarg, 1);
		return 1;
	default:
		return 0;
	}
}

void server_open(const struct server_opts *o, struct tcpchat_loop **loopp,
		 struct tcpchat_server **srvp)
{
	const char *host = o->host ? o->host : DEFAULT_HOST;
	struct tcpchat_loop *loop;
	struct tcpchat_server *srv;
	int rc;

	rc = tcpchat_loop_create(&loop);
	if (rc < 0)
		fatal("cannot create event loop: %s", tcpchat_strerror(rc));
	rc = tcpchat_server_create(&srv);
	if (rc < 0)
		fatal("cannot create server: %s", tcpchat_strerror(rc));
	rc = tcpchat_server_bind(srv, host, o->port);
	if (rc >= 0)
		rc = tcpchat_server_listen(srv, 0);
	if (rc < 0)
		fatal("cannot listen on %s: %s", hostport(host, o->port),
		      tcpchat_strerror(rc));
	*loopp = loop;
	*srvp = srv;
}

/* Descriptors kept for the listener, the loop and stdio. */
#define RESERVED_FDS 16

unsigned long fit_fd_limit(unsigned long wanted)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return wanted;
	if (rl.rlim_cur <= RESERVED_FDS + 1)
		return 1;
	/* One more than the limit must still be accepted to be told why. */
	if (wanted > rl.rlim_cur - RESERVED_FDS - 1)
		return rl.rlim_cur - RESERVED_FDS - 1;
	return wanted;
}

/* The loop that SIGINT and SIGTERM stop, and the signal that did. */
static struct tcpchat_loop *volatile signal_loop;
static volatile sig_atomic_t caught_signal;

static void on_signal(int sig)
{
	caught_signal = sig;
	tcpchat_loop_stop(signal_loop);
}

void catch_signals(void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int server_run(struct tcpchat_loop *loop, struct tcpchat_server *srv)
{
	int status = 0;
	int rc;

	/* Handlers first: a signal that comes before the loop runs makes
	 * tcpchat_loop_run() return at once. */
	signal_loop = loop;
	catch_signals(on_signal);

	rc = tcpchat_server_start(srv, loop);
	if (rc < 0)
		fatal("cannot start server: %s", tcpchat_strerror(rc));
	printf("listening on %s\n", tcpchat_server_address(srv));
	fflush(stdout);

	rc = tcpchat_loop_run(loop);
	if (rc < 0) {
		logmsg("event loop failed: %s", tcpchat_strerror(rc));
		status = 1;
	}
	/* From here on a signal must neither touch the loop nor kill us. */
	catch_signals(SIG_IGN);
	if (caught_signal)
		logmsg("caught %s, exiting",
		       caught_signal == SIGINT ? "SIGINT" : "SIGTERM");

	tcpchat_server_free(srv);
	rc = tcpchat_loop_free(loop);
	if (rc < 0) {
		logmsg("cannot free event loop: %s", tcpchat_strerror(rc));
		status = 1;
	}
	return status;
}

const char *close_reason(int reason)
{
	if (reason == 0)
		return "closed";
	if (reason == TCPCHAT_EOF)
		return "closed by peer";
	return tcpchat_strerror(reason);
}

/* ------------------------------------------------------------------ */
/* Clients                                                            */
/* ------------------------------------------------------------------ */

struct tcpchat_client *client_open(const char *host, unsigned port,
				   unsigned local_port, int timeout_ms)
{
	struct tcpchat_client *client;
	int rc;

	if (local_port != 0)
		rc = tcpchat_client_connect_from(&client, host, port, NULL,
						 local_port, timeout_ms);
	else
		rc = tcpchat_client_connect(&client, host, port, timeout_ms);
	if (rc < 0)
		fatal("cannot connect to %s: %s", hostport(host, port),
		      tcpchat_strerror(rc));
	return client;
}

/* ------------------------------------------------------------------ */
/* Time                                                               */
/* ------------------------------------------------------------------ */

void format_rfc3339(char buf[RFC3339_SIZE], time_t t)
{
	struct tm tm;
	size_t n;

	/* strftime gives "+0000"; RFC 3339 wants "+00:00". */
	if (localtime_r(&t, &tm) == NULL ||
	    (n = strftime(buf, RFC3339_SIZE, "%Y-%m-%dT%H:%M:%S%z", &tm)) < 5 ||
	    n + 2 > RFC3339_SIZE) {
		snprintf(buf, RFC3339_SIZE, "%s", "1970-01-01T00:00:00+00:00");
		return;
	}
	memmove(buf + n - 1, buf + n - 2, 3);	/* "MM\0" one to the right */
	buf[n - 2] = ':';
}
