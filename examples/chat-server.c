/* chat-server.c - tcpchat-chat-server: a chat room.
 *
 * A line protocol any terminal can speak (CR LF accepted):
 *   - on connect the server asks for a name in a line starting with "* ";
 *   - the first line is the name: 1 to 32 bytes, no spaces or control
 *     characters, not taken; else an "ERR " line, and it waits for another;
 *   - "* NAME joined" goes to every member, the new one included;
 *   - every other non-empty line TEXT goes to every OTHER member as
 *     "NAME: TEXT", its bytes unchanged (any encoding);
 *   - "bye" leaves ("* NAME left" to the others), as does closing the
 *     connection or being cut off by a limit ("* NAME left (reason)");
 *   - "/who" lists the members, "/nick NEW" renames; other "/..." is an error.
 * One slow or hostile member cannot stall, crash or exhaust the room: lines
 * are bounded (--max-line), so is each member's undelivered output
 * (--max-queue), the number of members (--max-clients), silence
 * (--idle-timeout) and the time one line may take (--line-timeout).
 *
 * Try it:
 *     tcpchat-chat-server &
 *     nc 127.0.0.1 8888          (in two terminals: type a name, then talk)
 *     tcpchat-chat-client -n ann 127.0.0.1 8888
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char usage[] =
	"Usage: tcpchat-chat-server [OPTION]...\n"
	"Run a chat room: every line a member sends goes to all the others.\n"
	"\n"
	"  -H, --host HOST           address to listen on (default 127.0.0.1;\n"
	"                            0.0.0.0 or :: to accept remote clients)\n"
	"  -p, --port PORT           port to listen on (default 8888; 0 = any free port)\n"
	"      --max-line BYTES      longest line delivered (default 4096)\n"
	"      --max-queue BYTES     undelivered output a member may have before it\n"
	"                            is cut off (default 1048576)\n"
	"      --max-clients N       members at once (default 1024, lowered to fit\n"
	"                            the limit on open files)\n"
	"      --idle-timeout SECONDS  cut off a member silent that long (default: never)\n"
	"      --line-timeout SECONDS  cut off a member whose line takes longer than\n"
	"                            that to arrive (default 60)\n"
	"  -h, --help                show this help and exit\n"
	"  -V, --version             show the version and exit\n"
	"\n"
	"Protocol: send a name first; then lines; \"/who\", \"/nick NEW\", \"bye\".\n"
	"Prints \"listening on ADDR\" once it accepts connections; logs to stderr.\n";

#define NAME_MAX_LEN 32

/* What the room knows of a connection. */
struct member {
	struct member *prev, *next;     /* in the member list while joined */
	bool joined;                    /* named and announced */
	char name[NAME_MAX_LEN + 1];
};

/* The members, in the order they joined.  A member stays here, and its
 * name stays taken, until "* NAME left" is announced: the room, not the
 * state of the connection, says who is in it. */
static struct member members = { &members, &members, false, "" };

static struct tcpchat_server *room;
static unsigned long max_line = 4096;
static char *out;                   /* one outgoing line being composed */

static struct member *member_of(const struct tcpchat_conn *conn)
{
	return tcpchat_conn_userdata(conn);
}

/* The broadcast filter: members only (not those still choosing a name),
 * except the one given, if any. */
static int is_other_member(const struct tcpchat_conn *conn, void *except)
{
	return conn != except && member_of(conn)->joined;
}

/* A server notice or error: short, made of names and fixed words. */
struct notice {
	char text[256];
	size_t len; /* with its "\n" */
};

static void format_notice(struct notice *nt, const char *fmt, va_list ap)
{
	int n = vsnprintf(nt->text, sizeof(nt->text) - 1, fmt, ap);

	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(nt->text) - 2)
		n = sizeof(nt->text) - 2;
	nt->text[n++] = '\n';
	nt->len = (size_t)n;
}

/* Send one line to conn; a failure closes it, and on_close tells. */
static void reply(struct tcpchat_conn *conn, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void reply(struct tcpchat_conn *conn, const char *fmt, ...)
{
	struct notice nt;
	va_list ap;

	va_start(ap, fmt);
	format_notice(&nt, fmt, ap);
	va_end(ap);
	tcpchat_conn_send(conn, nt.text, nt.len);
}

/* Tell every member, except one if given, a line made from fmt. */
static void announce(const struct tcpchat_conn *except, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void announce(const struct tcpchat_conn *except, const char *fmt, ...)
{
	struct notice nt;
	va_list ap;

	va_start(ap, fmt);
	format_notice(&nt, fmt, ap);
	va_end(ap);
	tcpchat_server_broadcast_if(room, nt.text, nt.len, is_other_member, (void *)except);
}

/* A name is 1 to 32 bytes, none of them a space or a control character;
 * any other byte (UTF-8, GBK...) is fine. */
static bool valid_name(const char *s, size_t len)
{
	size_t i;

	if (len < 1 || len > NAME_MAX_LEN)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == 0x7f)
			return false;
	}
	return true;
}

static bool name_taken(const char *name)
{
	const struct member *m;

	for (m = members.next; m != &members; m = m->next)
		if (strcmp(m->name, name) == 0)
			return true;
	return false;
}

/* Check a wanted name; answers the ERR line itself when it is refused. */
static bool name_ok(struct tcpchat_conn *conn, const char *s, size_t len)
{
	char name[NAME_MAX_LEN + 1];

	if (!valid_name(s, len)) {
		reply(conn, "ERR a name is 1 to %d bytes, without spaces or control characters",
		      NAME_MAX_LEN);
		return false;
	}
	memcpy(name, s, len);
	name[len] = '\0';
	if (name_taken(name)) {
		reply(conn, "ERR the name %s is taken", name);
		return false;
	}
	return true;
}

/* Name m and tell the room. */
static void join(struct tcpchat_conn *conn, struct member *m, const char *name, size_t len)
{
	memcpy(m->name, name, len);
	m->name[len] = '\0';
	m->prev = members.prev;
	m->next = &members;
	members.prev->next = m;
	members.prev = m;
	m->joined = true;
	announce(NULL, "* %s joined", m->name);
	logmsg("%s joined as %s", tcpchat_conn_peer(conn), m->name);
}

/* Take m out of the room and tell the others why (reason 0: no reason). */
static void leave(struct tcpchat_conn *conn, struct member *m, int reason)
{
	if (!m->joined)
		return;
	m->prev->next = m->next;
	m->next->prev = m->prev;
	m->joined = false;
	if (reason == 0 || reason == TCPCHAT_EOF)
		announce(conn, "* %s left", m->name);
	else
		announce(conn, "* %s left (%s)", m->name, tcpchat_strerror(reason));
	logmsg("%s (%s) left", tcpchat_conn_peer(conn), m->name);
}

/* "* members: a, b, c" into out; a huge room ends with "...". */
static size_t list_members(void)
{
	const struct member *m;
	size_t len = 0, n;

	memcpy(out, "* members: ", 11);
	len = 11;
	for (m = members.next; m != &members; m = m->next) {
		n = strlen(m->name);
		if (len + n + 8 > max_line) {
			memcpy(out + len, " ...", 4);
			len += 4;
			break;
		}
		if (m != members.next) {
			memcpy(out + len, ", ", 2);
			len += 2;
		}
		memcpy(out + len, m->name, n);
		len += n;
	}
	out[len++] = '\n';
	return len;
}

static void command(struct tcpchat_conn *conn, struct member *m, const char *line, size_t len)
{
	char old[NAME_MAX_LEN + 1];

	if (len == 4 && memcmp(line, "/who", 4) == 0) {
		tcpchat_conn_send(conn, out, list_members());
	} else if (len > 6 && memcmp(line, "/nick ", 6) == 0) {
		if (len - 6 == strlen(m->name) && memcmp(line + 6, m->name, len - 6) == 0) {
			reply(conn, "* you are %s already", m->name);
			return;
		}
		if (!name_ok(conn, line + 6, len - 6))
			return;
		strcpy(old, m->name);
		memcpy(m->name, line + 6, len - 6);
		m->name[len - 6] = '\0';
		announce(NULL, "* %s is now known as %s", old, m->name);
		logmsg("%s: %s is now known as %s", tcpchat_conn_peer(conn), old, m->name);
	} else {
		reply(conn, "ERR unknown command %.*s (try /who, /nick NEW, bye)",
		      (int)(len > 40 ? 40 : len), line);
	}
}

static void on_line(struct tcpchat_conn *conn, const char *line, size_t len)
{
	struct member *m = member_of(conn);
	size_t n;

	if (!m->joined) {
		if (name_ok(conn, line, len))
			join(conn, m, line, len);
		return;
	}
	if (len == 0)
		return;
	if (len == 3 && memcmp(line, "bye", 3) == 0) {
		/* Leave at once: the others hear it now, the name is free now,
		 * and what is queued for the leaver is still flushed. */
		leave(conn, m, 0);
		tcpchat_conn_close(conn);
		return;
	}
	if (line[0] == '/') {
		command(conn, m, line, len);
		return;
	}
	/* "NAME: TEXT\n", stored once for every receiver. */
	n = strlen(m->name);
	memcpy(out, m->name, n);
	memcpy(out + n, ": ", 2);
	memcpy(out + n + 2, line, len);
	out[n + 2 + len] = '\n';
	tcpchat_server_broadcast_if(room, out, n + 3 + len, is_other_member, conn);
}

static void on_connect(struct tcpchat_conn *conn)
{
	struct member *m = calloc(1, sizeof(*m));

	if (!m) {
		logmsg("%s: out of memory", tcpchat_conn_peer(conn));
		tcpchat_conn_close(conn);
		return;
	}
	tcpchat_conn_set_userdata(conn, m);
	logmsg("%s connected", tcpchat_conn_peer(conn));
	reply(conn, "* welcome to the chat room; what is your name?");
}

/* The peer closed its side: the same as "bye", without waiting for the
 * flush of what is still queued for it to announce it. */
static void on_eof(struct tcpchat_conn *conn)
{
	leave(conn, member_of(conn), 0);
	tcpchat_conn_close(conn);
}

static void on_long_line(struct tcpchat_conn *conn)
{
	reply(conn, "ERR line too long (more than %lu bytes), not delivered", max_line);
}

static void on_full(struct tcpchat_conn *conn)
{
	reply(conn, "ERR the room is full, try again later");
	logmsg("%s turned away: the room is full", tcpchat_conn_peer(conn));
}

static void on_close(struct tcpchat_conn *conn, int reason)
{
	struct member *m = member_of(conn);

	if (!m)
		return;
	leave(conn, m, reason); /* reset, limits, shutdown: if still a member */
	logmsg("%s %s", tcpchat_conn_peer(conn), close_reason(reason));
	free(m);
}

int main(int argc, char **argv)
{
	enum { OPT_MAX_LINE = 256, OPT_MAX_QUEUE, OPT_MAX_CLIENTS, OPT_IDLE, OPT_LINE_TIME };
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		SERVER_LONGOPTS,
		{ "max-line", required_argument, NULL, OPT_MAX_LINE },
		{ "max-queue", required_argument, NULL, OPT_MAX_QUEUE },
		{ "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
		{ "idle-timeout", required_argument, NULL, OPT_IDLE },
		{ "line-timeout", required_argument, NULL, OPT_LINE_TIME },
		{ NULL, 0, NULL, 0 }
	};
	struct server_opts opts = { DEFAULT_HOST, 8888 };
	unsigned long max_queue = 1UL << 20, max_clients = 1024, fitted;
	int idle_ms = 0, line_ms = 60000, opt, clients_given = 0;
	struct tcpchat_loop *loop;

	prog_init("tcpchat-chat-server", usage);
	while ((opt = getopt_long(argc, argv, COMMON_SHORTOPTS SERVER_SHORTOPTS,
				  longopts, NULL)) != -1) {
		if (opt == OPT_MAX_LINE)
			max_line = parse_count(optarg, "--max-line", 1, 1UL << 30);
		else if (opt == OPT_MAX_QUEUE)
			max_queue = parse_count(optarg, "--max-queue", 1, 1UL << 40);
		else if (opt == OPT_MAX_CLIENTS) {
			max_clients = parse_count(optarg, "--max-clients", 1, 1UL << 20);
			clients_given = 1;
		}
		else if (opt == OPT_IDLE)
			idle_ms = parse_seconds(optarg, "--idle-timeout");
		else if (opt == OPT_LINE_TIME)
			line_ms = parse_seconds(optarg, "--line-timeout");
		else if (!server_option(opt, &opts))
			common_option(opt, argv);
	}
	check_operands(argc, argv, 0, 0);
	fitted = fit_fd_limit(max_clients);
	if (fitted < max_clients && clients_given)
		logmsg("--max-clients lowered from %lu to %lu to fit the limit on open files",
		       max_clients, fitted);

	/* The longest line we compose: a name, ": ", the text and "\n". */
	out = malloc(max_line + NAME_MAX_LEN + 64);
	if (!out)
		fatal("out of memory");
	server_open(&opts, &loop, &room);
	tcpchat_server_set_limit(room, TCPCHAT_LIMIT_LINE, max_line);
	tcpchat_server_set_limit(room, TCPCHAT_LIMIT_QUEUE, max_queue);
	tcpchat_server_set_limit(room, TCPCHAT_LIMIT_CLIENTS, fitted);
	tcpchat_server_set_limit(room, TCPCHAT_LIMIT_IDLE, (uint64_t)idle_ms);
	tcpchat_server_set_limit(room, TCPCHAT_LIMIT_LINE_TIME, (uint64_t)line_ms);
	tcpchat_server_on_connect(room, on_connect);
	tcpchat_server_on_line(room, on_line);
	tcpchat_server_on_eof(room, on_eof);
	tcpchat_server_on_long_line(room, on_long_line);
	tcpchat_server_on_full(room, on_full);
	tcpchat_server_on_close(room, on_close);
	opt = server_run(loop, room);
	free(out);
	return opt;
}
