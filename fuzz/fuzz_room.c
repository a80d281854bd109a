/* fuzz_room.c - a libFuzzer harness for the chat room: the real room of
 * tcpchat-chat-server (examples/chat-server.c, included below so that its
 * static callbacks are reachable; its main() is renamed and never called)
 * on the real library, driven as a state machine without any network
 * traffic.
 *
 * Up to NSLOT scripted clients, each one end of an AF_UNIX socketpair whose
 * other end becomes a connection of a started server through
 * tcpchat__conn_open() (the technique of tests/check_lines.c).  The input
 * bytes are a script: a header of limits, then operations, each naming a
 * client: connect, send bytes (arbitrary, a protocol line, or numbered
 * lines), read what arrived, half-close, close, hand the connection a
 * read or write event directly (one read per event, so the input also
 * decides the segmentation), and run one iteration of the real loop
 * (epoll, deferred flushes, teardowns).
 *
 * Checked after every operation (abort on any violation):
 *   - the counters: accepted = connections in the server's list + closed,
 *     closed = the sum of closed_*, members open <= --max-clients;
 *   - memory bounds: every connection's output queue <= --max-queue, its
 *     partial line <= --max-line + 2;
 *   - the room: the names of the open, joined members are distinct and
 *     valid;
 *   - what clients receive: complete lines only of the room's forms ("* ",
 *     "ERR ", "NAME: TEXT"), none longer than the room composes; numbered
 *     lines "# SLOT GEN SEQ" never come back to their sender and arrive
 *     in increasing order from each connection;
 * and at the end of each input: freeing the server closes every descriptor,
 * the loop frees (nothing left registered), no leak (LeakSanitizer).
 *
 * Header: byte 0 max-line (1..128), bytes 1-2 max-queue (1..8192), byte 3
 * max-clients (1..8).  Then operations: one byte, low 4 bits the operation,
 * bits 4-6 the client, bit 7 "same batch" (no loop iteration after it),
 * and the operation's own bytes (fuzz/make_seeds.py writes such scripts).
 * Operations: 0 connect (its byte: bit 0 set = a client that does not read
 * after each iteration), 1 raw bytes (length byte, bytes; "#" becomes "?"),
 * 2 a protocol line from a dictionary, 3 numbered lines (count byte), 4 read,
 * 5 half-close, 6 close, 7 a write event, 8 toggle reading, others: only a
 * loop iteration.
 *
 * FUZZ_ROOM_VERBOSE=1 in the environment prints one line of counters per
 * input (what a seed reaches: queue cut-offs, a full room, long lines...).
 */
#include "internal.h"

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server.h"

/* The chat room itself, with its main() out of the way and its log quiet. */
int chat_server_main(int argc, char **argv);
#define main chat_server_main
#define logmsg fz_log
#include "../examples/chat-server.c"
#undef main
#undef logmsg

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NSLOT 8
#define MAXGEN 64           /* connections per slot whose order is tracked */
#define RBUF 8192           /* a client's buffer of one incomplete line */
#define SNDBUF 4096         /* the server side's socket send buffer */

#define FAIL(...) \
	do { \
		fprintf(stderr, "fuzz_room: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} while (0)

/* logmsg() of the room, declared by common.h under this name. */
void fz_log(const char *fmt, ...)
{
	(void)fmt;
}

struct fz_slot {
	int fd;                          /* the client's end, -1 if none */
	struct tcpchat_conn *conn;       /* accepted, close callback not yet run */
	bool rejected;                   /* turned away: room full */
	bool auto_read;                  /* reads after every loop iteration */
	bool eof;                        /* the server closed its side */
	unsigned gen, seq;               /* this connection's number, lines sent */
	char rbuf[RBUF];
	size_t rlen;
	unsigned last_seq[NSLOT][MAXGEN]; /* last SEQ seen from (slot, gen), +1 */
};

static struct {
	struct tcpchat_loop *loop;
	struct tcpchat_server *srv;
	struct fz_slot slot[NSLOT];
	unsigned gens[NSLOT];
	int connecting;                  /* the slot tcpchat__conn_open serves */
	uint64_t max_queue, max_clients;
	size_t longest;                  /* the longest line the room composes */
	unsigned connects, closes;
	unsigned long lines, numbered;   /* lines clients received, checked */
	bool verbose;                    /* FUZZ_ROOM_VERBOSE: a summary per input */
	int fds[4096];                   /* every descriptor this input made */
	size_t nfds;
	const uint8_t *p, *end;          /* the script */
} fz;

static struct fz_slot fz_slots_init; /* all zero */

/* ------------------------------------------------------------------ */
/* The room's callbacks, with bookkeeping around them                 */

static struct fz_slot *slot_of(const struct tcpchat_conn *conn)
{
	int i;

	for (i = 0; i < NSLOT; i++)
		if (fz.slot[i].conn == conn)
			return &fz.slot[i];
	return NULL;
}

static void fz_connect(struct tcpchat_conn *conn)
{
	if (fz.connecting < 0 || fz.slot[fz.connecting].conn)
		FAIL("connect callback outside tcpchat__conn_open");
	fz.slot[fz.connecting].conn = conn;
	fz.connects++;
	on_connect(conn);
}

static void fz_full(struct tcpchat_conn *conn)
{
	if (fz.connecting < 0)
		FAIL("full callback outside tcpchat__conn_open");
	fz.slot[fz.connecting].rejected = true;
	on_full(conn);
}

static void fz_close(struct tcpchat_conn *conn, int reason)
{
	struct fz_slot *s = slot_of(conn);

	if (!s)
		FAIL("close callback for a connection never announced (or twice)");
	on_close(conn, reason);
	s->conn = NULL;
	fz.closes++;
}

static void fz_stop(void *arg)
{
	tcpchat_loop_stop(arg);
}

/* One iteration of the real loop: the posted stop makes the wait return at
 * once, the iteration dispatches what is ready, runs the deferred work,
 * and the loop returns. */
static void step(void)
{
	if (tcpchat_loop_post(fz.loop, fz_stop, fz.loop) < 0)
		FAIL("loop_post failed");
	if (tcpchat_loop_run(fz.loop) < 0)
		FAIL("loop_run failed");
}

/* Hand the connection of s an event as the backend would: only what it
 * watches. */
static void dispatch(struct fz_slot *s, unsigned what)
{
	struct tcpchat_conn *conn = s->conn;
	unsigned revents;

	if (!conn)
		return;
	revents = what & conn->io.events;
	if (revents)
		conn->io.cb(fz.loop, &conn->io, revents);
}

/* ------------------------------------------------------------------ */
/* Clients                                                            */

static void remember_fd(int fd)
{
	if (fz.nfds < TCPCHAT__ARRAY_SIZE(fz.fds))
		fz.fds[fz.nfds++] = fd;
}

static void client_connect(int i, uint8_t flags)
{
	struct fz_slot *s = &fz.slot[i];
	char peer[TCPCHAT__ADDRSTRLEN];
	int sv[2], sndbuf = SNDBUF, rc;

	if (s->fd >= 0 || s->conn)
		return;                  /* the old connection is not gone yet */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return;                  /* out of descriptors: not the room's fault */
	remember_fd(sv[0]);
	remember_fd(sv[1]);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	*s = fz_slots_init;
	s->fd = sv[1];
	s->gen = ++fz.gens[i];
	s->auto_read = !(flags & 1);
	snprintf(peer, sizeof(peer), "slot%d:%u", i, s->gen);
	fz.connecting = i;
	rc = tcpchat__conn_open(fz.srv, sv[0], peer);
	fz.connecting = -1;
	if (rc < 0) {
		close(sv[0]);
		close(sv[1]);
		s->fd = -1;
	}
}

/* Write what the socket takes (a client that sends more than the server
 * reads just stops here), then let the connection read once. */
static void client_send(int i, const char *data, size_t len)
{
	struct fz_slot *s = &fz.slot[i];

	if (s->fd < 0)
		return;
	if (len > 0 && send(s->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
	    errno != EAGAIN && errno != EPIPE && errno != ECONNRESET)
		FAIL("client send: %s", strerror(errno));
	dispatch(s, TCPCHAT__READ);
}

static bool valid_name_fz(const char *s, size_t len)
{
	size_t i;

	if (len < 1 || len > NAME_MAX_LEN)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] == 0x7f)
			return false;
	return true;
}

/* One complete line received by the client of slot r. */
static void check_line(int r, const char *line, size_t len)
{
	struct fz_slot *s = &fz.slot[r];
	const char *sep, *text;
	unsigned sl, gen, seq;
	char num[64];
	int used;

	fz.lines++;
	if (len > fz.longest)
		FAIL("slot %d received a line of %zu bytes (the room composes at most %zu)",
		     r, len, fz.longest);
	if ((len >= 2 && memcmp(line, "* ", 2) == 0) || (len >= 4 && memcmp(line, "ERR ", 4) == 0))
		return;
	sep = memmem(line, len, ": ", 2);
	if (!sep || !valid_name_fz(line, (size_t)(sep - line)))
		FAIL("slot %d received a line the room does not send: %.*s", r,
		     (int)(len > 80 ? 80 : len), line);
	text = sep + 2;
	len -= (size_t)(text - line);
	if (len == 0 || text[0] != '#')
		return;
	if (len >= sizeof(num))
		FAIL("slot %d: a numbered line too long", r);
	memcpy(num, text, len);
	num[len] = '\0';
	if (sscanf(num, "# %u %u %u%n", &sl, &gen, &seq, &used) != 3 || (size_t)used != len ||
	    sl >= NSLOT)
		FAIL("slot %d: a mangled numbered line: %s", r, num);
	fz.numbered++;
	if (sl == (unsigned)r && gen == s->gen)
		FAIL("slot %d received its own line back: %s", r, num);
	if (gen < MAXGEN) {
		if (seq + 1 <= s->last_seq[sl][gen])
			FAIL("slot %d: line %s after line %u of that connection", r, num,
			     s->last_seq[sl][gen] - 1);
		s->last_seq[sl][gen] = seq + 1;
	}
}

/* Read everything that arrived for slot r and check it line by line. */
static void client_read(int r)
{
	struct fz_slot *s = &fz.slot[r];
	char *nl, *start;
	ssize_t n;
	size_t rest;

	if (s->fd < 0 || s->eof)
		return;
	for (;;) {
		if (s->rlen == RBUF)
			FAIL("slot %d: %d bytes without an end of line", r, RBUF);
		n = recv(s->fd, s->rbuf + s->rlen, RBUF - s->rlen, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			s->eof = true;   /* a last line without "\n" is left unchecked */
			return;
		}
		if (n < 0) {
			if (errno != EAGAIN)
				FAIL("client recv: %s", strerror(errno));
			return;
		}
		s->rlen += (size_t)n;
		start = s->rbuf;
		rest = s->rlen;
		while ((nl = memchr(start, '\n', rest))) {
			check_line(r, start, (size_t)(nl - start));
			rest -= (size_t)(nl - start) + 1;
			start = nl + 1;
		}
		memmove(s->rbuf, start, rest);
		s->rlen = rest;
	}
}

static void client_close(int i)
{
	struct fz_slot *s = &fz.slot[i];

	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* ------------------------------------------------------------------ */
/* Invariants                                                         */

static void check(void)
{
	struct tcpchat_server *srv = fz.srv;
	struct tcpchat__list *l, *l2;
	struct tcpchat_conn *c, *c2;
	struct member *m, *m2;
	uint64_t listed = 0, announced = 0, closed_sum = 0;
	int st;

	for (l = srv->conns.next; l != &srv->conns; l = l->next) {
		c = TCPCHAT__CONTAINER_OF(l, struct tcpchat_conn, link);
		listed++;
		if (!c->rejected)
			announced++;
		if (fz.max_queue && c->out.bytes > fz.max_queue)
			FAIL("a queue of %zu bytes, over the limit %llu", c->out.bytes,
			     (unsigned long long)fz.max_queue);
		if (c->line.len > max_line + 2)
			FAIL("a partial line of %zu bytes, over the limit + 2 = %lu", c->line.len,
			     max_line + 2);
		m = member_of(c);
		if (c->state != TCPCHAT__OPEN || c->rejected || !m || !m->joined)
			continue;
		if (!valid_name_fz(m->name, strlen(m->name)))
			FAIL("a member named %s", m->name);
		for (l2 = l->next; l2 != &srv->conns; l2 = l2->next) {
			c2 = TCPCHAT__CONTAINER_OF(l2, struct tcpchat_conn, link);
			m2 = member_of(c2);
			if (c2->state == TCPCHAT__OPEN && !c2->rejected && m2 && m2->joined &&
			    strcmp(m->name, m2->name) == 0)
				FAIL("two members named %s", m->name);
		}
	}
	for (st = TCPCHAT_STAT_CLOSED_APP; st <= TCPCHAT_STAT_CLOSED_FREED; st++)
		closed_sum += tcpchat_server_stat(srv, st);
	if (tcpchat_server_stat(srv, TCPCHAT_STAT_ACCEPTED) !=
	    listed + tcpchat_server_stat(srv, TCPCHAT_STAT_CLOSED))
		FAIL("accepted %llu != %llu listed + %llu closed",
		     (unsigned long long)tcpchat_server_stat(srv, TCPCHAT_STAT_ACCEPTED),
		     (unsigned long long)listed,
		     (unsigned long long)tcpchat_server_stat(srv, TCPCHAT_STAT_CLOSED));
	if (tcpchat_server_stat(srv, TCPCHAT_STAT_LIVE) != listed)
		FAIL("live %llu != %llu listed",
		     (unsigned long long)tcpchat_server_stat(srv, TCPCHAT_STAT_LIVE),
		     (unsigned long long)listed);
	if (closed_sum != tcpchat_server_stat(srv, TCPCHAT_STAT_CLOSED))
		FAIL("closed %llu != %llu, the sum of closed_*",
		     (unsigned long long)tcpchat_server_stat(srv, TCPCHAT_STAT_CLOSED),
		     (unsigned long long)closed_sum);
	if (announced != fz.connects - fz.closes)
		FAIL("%llu announced connections listed, %u connects - %u closes",
		     (unsigned long long)announced, fz.connects, fz.closes);
	if (fz.max_clients && srv->nopen > fz.max_clients)
		FAIL("%zu members, over the limit %llu", srv->nopen,
		     (unsigned long long)fz.max_clients);
}

/* ------------------------------------------------------------------ */
/* The script                                                         */

static bool more(void)
{
	return fz.p < fz.end;
}

static uint8_t byte(void)
{
	return fz.p < fz.end ? *fz.p++ : 0;
}

/* Protocol lines worth trying, so that the fuzzer need not find them. */
static const char *const dict[] = {
	"ann", "bob", "cat", "dan", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "two words", "", "bye", "bye\r",
	"/who", "/nick ann", "/nick bob", "/nick eve", "/nick ", "/nick a b",
	"/dance", "hello", "\r", "hi\r", "\xff\xfe\xc0", "ann\r", "/nick \xe7\x8c\xab",
	"a:b", "/who\r", "\x7f", "tab\there",
};

static void setup(void)
{
	uint8_t h[4];
	int i;

	for (i = 0; i < 4; i++)
		h[i] = byte();
	memset(&fz.slot, 0, sizeof(fz.slot));
	for (i = 0; i < NSLOT; i++) {
		fz.slot[i].fd = -1;
		fz.gens[i] = 0;
	}
	fz.connecting = -1;
	fz.connects = fz.closes = 0;
	fz.lines = fz.numbered = 0;
	fz.nfds = 0;
	max_line = 1 + h[0] % 128;
	fz.max_queue = 1 + ((uint64_t)h[1] | (uint64_t)h[2] << 8) % 8192;
	fz.max_clients = 1 + h[3] % NSLOT;
	fz.longest = max_line + NAME_MAX_LEN + 2 > 254 ? max_line + NAME_MAX_LEN + 2 : 254;
	out = malloc(max_line + NAME_MAX_LEN + 64);
	if (!out)
		FAIL("out of memory");
	if (tcpchat_loop_create(&fz.loop) < 0 || tcpchat_server_create(&fz.srv) < 0 ||
	    tcpchat_server_bind(fz.srv, "127.0.0.1", 0) < 0 ||
	    tcpchat_server_listen(fz.srv, 4) < 0)
		FAIL("cannot set up the server");
	room = fz.srv;
	remember_fd(fz.srv->fd);
	tcpchat_server_set_limit(room, TCPCHAT_LIMIT_LINE, max_line);
	tcpchat_server_set_limit(room, TCPCHAT_LIMIT_QUEUE, fz.max_queue);
	tcpchat_server_set_limit(room, TCPCHAT_LIMIT_CLIENTS, fz.max_clients);
	tcpchat_server_on_connect(room, fz_connect);
	tcpchat_server_on_line(room, on_line);
	tcpchat_server_on_long_line(room, on_long_line);
	tcpchat_server_on_full(room, fz_full);
	tcpchat_server_on_close(room, fz_close);
	if (tcpchat_server_start(room, fz.loop) < 0)
		FAIL("cannot start the server");
}

static void teardown(void)
{
	size_t i;
	int rc;

	for (i = 0; i < NSLOT; i++)
		client_close((int)i);
	if (fz.verbose)
		fprintf(stderr, "room: max-line %lu max-queue %llu max-clients %llu: accepted %llu, "
		        "closed app %llu eof %llu error %llu queue %llu full %llu, long lines %llu, "
		        "%lu lines received (%lu numbered)\n", max_line,
		        (unsigned long long)fz.max_queue, (unsigned long long)fz.max_clients,
		        (unsigned long long)tcpchat_server_stat(fz.srv, TCPCHAT_STAT_ACCEPTED),
		        (unsigned long long)tcpchat_server_stat(fz.srv, TCPCHAT_STAT_CLOSED_APP),
		        (unsigned long long)tcpchat_server_stat(fz.srv, TCPCHAT_STAT_CLOSED_EOF),
		        (unsigned long long)tcpchat_server_stat(fz.srv, TCPCHAT_STAT_CLOSED_ERROR),
		        (unsigned long long)tcpchat_server_stat(fz.srv, TCPCHAT_STAT_CLOSED_QUEUE),
		        (unsigned long long)tcpchat_server_stat(fz.srv, TCPCHAT_STAT_CLOSED_FULL),
		        (unsigned long long)tcpchat_server_stat(fz.srv, TCPCHAT_STAT_LONG_LINES),
		        fz.lines, fz.numbered);
	tcpchat_server_free(fz.srv); /* as server_run() does at exit */
	for (i = 0; i < NSLOT; i++)
		if (fz.slot[i].conn)
			FAIL("slot %zu: no close callback after the server was freed", i);
	if (fz.connects != fz.closes)
		FAIL("%u connects, %u closes", fz.connects, fz.closes);
	rc = tcpchat_loop_free(fz.loop);
	if (rc < 0)
		FAIL("loop_free: %s", tcpchat_strerror(rc));
	for (i = 0; i < fz.nfds; i++)
		if (fcntl(fz.fds[i], F_GETFD) >= 0)
			FAIL("descriptor %d still open after the server was freed", fz.fds[i]);
	free(out);
	out = NULL;
	room = NULL;
	fz.srv = NULL;
	fz.loop = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[512], line[64];
	size_t n, k;
	uint8_t op;
	int i, j, count;

	fz.p = data;
	fz.end = data + size;
	setup();
	check();
	while (more()) {
		op = byte();
		i = (op >> 4) & (NSLOT - 1);
		switch (op & 0x0f) {
		case 0:
			client_connect(i, byte());
			break;
		case 1: /* raw bytes; "#" is the harness's own, for numbered lines */
			n = byte();
			for (k = 0; k < n && more(); k++) {
				buf[k] = (char)byte();
				if (buf[k] == '#')
					buf[k] = '?';
			}
			client_send(i, buf, k);
			break;
		case 2: /* a protocol line */
			k = byte() % TCPCHAT__ARRAY_SIZE(dict);
			n = (size_t)snprintf(buf, sizeof(buf), "%s\n", dict[k]);
			client_send(i, buf, n);
			break;
		case 3: /* numbered lines */
			count = 1 + byte() % 16;
			for (j = 0; j < count && fz.slot[i].fd >= 0; j++) {
				n = (size_t)snprintf(line, sizeof(line), "# %d %u %u\n", i,
				                     fz.slot[i].gen, fz.slot[i].seq++);
				client_send(i, line, n);
			}
			break;
		case 4:
			client_read(i);
			break;
		case 5:
			if (fz.slot[i].fd >= 0)
				shutdown(fz.slot[i].fd, SHUT_WR);
			dispatch(&fz.slot[i], TCPCHAT__READ);
			break;
		case 6:
			client_close(i);
			break;
		case 7:
			dispatch(&fz.slot[i], TCPCHAT__WRITE);
			break;
		case 8:
			fz.slot[i].auto_read = !fz.slot[i].auto_read;
			break;
		default:
			break; /* a loop iteration only */
		}
		check();
		if (!(op & 0x80)) {
			step();
			for (j = 0; j < NSLOT; j++)
				if (fz.slot[j].auto_read)
					client_read(j);
			check();
		}
	}
	/* The end of the script: the clients read what is left. */
	step();
	for (j = 0; j < NSLOT; j++)
		client_read(j);
	check();
	teardown();
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	fz.verbose = getenv("FUZZ_ROOM_VERBOSE") != NULL;
	return 0;
}
