/* tcpchat-bench.c - a load generator for TCP echo and chat servers on
 * 127.0.0.1, with its own epoll loop (it does not use libtcpchat, so it
 * measures every server the same way).
 *
 *   echo  C connections ping-pong: each sends an S-byte message, reads exactly
 *         S bytes back, checks every byte, sends the next.  For W seconds of
 *         warm-up, then D seconds measured (or, with -n N, exactly N messages).
 *   chat  C members of a newline chat room; the first K send numbered lines,
 *         each with at most F lines not yet received by every other member.
 *         Every member checks each sender's sequence (no gap, duplicate or
 *         reordering) and the line's bytes.  --proto plain: the server
 *         relays every line unchanged to all other clients; --proto tcpchat:
 *         the tcpchat-chat-server protocol (greeting, name, "* NAME joined",
 *         "NAME: TEXT", notices "* ..." ignored).
 *   idle  open C connections, let the server accept them all, and report
 *         its resident memory per connection (needs --server-pid).
 *
 * A line of the chat is "s<sender> <seq> <t_ns> <padding>\n", S bytes in
 * all; t_ns is the CLOCK_MONOTONIC time it was sent (one machine, one
 * clock), so every receiver measures the delivery delay.
 *
 * Output: one line "result key=value..." then one line for people.  With
 * --server-pid the server's CPU time (utime+stime from /proc/PID/stat, and
 * on-CPU ns from /proc/PID/schedstat) over the measured window is divided
 * by the messages (echo) or delivered lines (chat).
 *
 * Exit status: 0 ok, 1 a verification error (wrong byte, gap, duplicate,
 * lost line, unexpected close) or a server that did not hold all idle
 * connections, 2 bad usage, 3 setup failed or timed out.
 * Every wait is bounded in time; only 127.0.0.1 is ever connected to.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Options                                                            */
/* ------------------------------------------------------------------ */

enum mode { M_ECHO, M_CHAT, M_IDLE };
enum proto { P_PLAIN, P_TCPCHAT };

static struct {
	enum mode mode;
	enum proto proto;
	unsigned port;
	unsigned conns;
	unsigned size;
	unsigned senders;
	unsigned window;
	double dur, warm;
	long server_pid;
	uint64_t count;         /* echo: exactly this many measured messages */
	bool control;           /* READY/DONE handshake on stdin/stdout */
	double setup_timeout;
	double hold;            /* idle: seconds to settle before reading RSS */
	const char *label;
} opt = {
	.mode = M_ECHO, .proto = P_PLAIN, .port = 0, .conns = 1, .size = 64,
	.senders = 1, .window = 8, .dur = 3, .warm = 1, .server_pid = 0,
	.count = 0, .control = false, .setup_timeout = 60, .hold = 1,
	.label = "",
};

static const char usage[] =
	"Usage: tcpchat-bench echo|chat|idle -p PORT [OPTION]...\n"
	"Load a TCP echo or chat server on 127.0.0.1 and verify what comes back.\n"
	"\n"
	"  -p, --port PORT         the server's port on 127.0.0.1 (required)\n"
	"  -c, --conns N           connections / chat members (default 1)\n"
	"  -s, --size BYTES        echo message size; chat line size with its \\n (default 64)\n"
	"  -k, --senders K         chat: members that send (default 1)\n"
	"  -f, --window F          chat: lines per sender not yet received by all (default 8)\n"
	"  -d, --duration SECS     measured time (default 3)\n"
	"  -w, --warmup SECS       warm-up before it (default 1)\n"
	"  -n, --count N           echo: measure exactly N messages instead of a duration\n"
	"      --control           print READY when warmed up and quiet, wait for a line on\n"
	"                          stdin, run (echo: N messages; chat: D seconds, then every\n"
	"                          line delivered, all counted), print DONE, wait for a line\n"
	"      --proto plain|tcpchat  chat protocol (default plain)\n"
	"      --server-pid PID    read the server's CPU time and memory from /proc/PID\n"
	"      --setup-timeout SECS  connecting/joining must end within it (default 60)\n"
	"      --hold SECS         idle: settle time before reading the RSS (default 1)\n"
	"      --label TEXT        copied into the result line\n"
	"  -h, --help              this help\n";

static void die(int status, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tcpchat-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

/* ------------------------------------------------------------------ */
/* Time, histogram, /proc                                             */
/* ------------------------------------------------------------------ */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Log-linear histogram of nanoseconds: 64 buckets per power of two, so a
 * percentile is within 1.6 %. */
#define SUB_BITS 6
#define SUB (1u << SUB_BITS)
#define NBUCKETS ((64 - SUB_BITS + 1) * SUB)
static uint64_t hist[NBUCKETS];
static uint64_t hist_n;

static unsigned bucket_of(uint64_t v)
{
	int msb, shift;

	if (v < SUB)
		return (unsigned)v;
	msb = 63 - __builtin_clzll(v);
	shift = msb - SUB_BITS;
	return ((unsigned)(shift + 1) << SUB_BITS) + (unsigned)((v >> shift) & (SUB - 1));
}

static double bucket_mid(unsigned b)
{
	unsigned shift;

	if (b < SUB)
		return b;
	shift = (b >> SUB_BITS) - 1;
	return (double)((uint64_t)(SUB + (b & (SUB - 1))) << shift) + (double)(1ull << shift) / 2;
}

static void hist_add(uint64_t v)
{
	hist[bucket_of(v)]++;
	hist_n++;
}

static double hist_pct(double p)
{
	uint64_t want, seen = 0;
	unsigned b;

	if (hist_n == 0)
		return 0;
	want = (uint64_t)(p / 100.0 * (double)hist_n);
	if (want >= hist_n)
		want = hist_n - 1;
	for (b = 0; b < NBUCKETS; b++) {
		seen += hist[b];
		if (seen > want)
			return bucket_mid(b);
	}
	return 0;
}

struct cpu_sample {
	bool ok;
	uint64_t ticks;     /* utime + stime */
	uint64_t uticks;    /* utime */
	uint64_t sched_ns;  /* on-CPU time from schedstat, 0 if unknown */
};

static struct cpu_sample server_cpu(void)
{
	struct cpu_sample s = { false, 0, 0, 0 };
	char path[64], buf[2048], *p;
	unsigned long long ut, st, ns;
	FILE *f;
	size_t n;
	int i;

	if (opt.server_pid <= 0)
		return s;
	snprintf(path, sizeof(path), "/proc/%ld/stat", opt.server_pid);
	f = fopen(path, "r");
	if (!f)
		return s;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return s;
	p += 2; /* field 3, the state */
	for (i = 3; i < 14 && p; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p || sscanf(p, "%llu %llu", &ut, &st) != 2)
		return s;
	s.ok = true;
	s.ticks = ut + st;
	s.uticks = ut;
	snprintf(path, sizeof(path), "/proc/%ld/schedstat", opt.server_pid);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%llu", &ns) == 1)
			s.sched_ns = ns;
		fclose(f);
	}
	return s;
}

/* VmRSS of the server in KiB, -1 if unknown. */
static long server_rss_kb(void)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", opt.server_pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Open descriptors of the server, -1 if unknown. */
static long server_fds(void)
{
	char path[64];
	struct dirent *d;
	long n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%ld/fd", opt.server_pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* ------------------------------------------------------------------ */
/* Connections                                                        */
/* ------------------------------------------------------------------ */

enum cstate { C_NONE, C_CONNECTING, C_OPEN, C_CLOSED };

struct conn {
	int fd;
	unsigned id;
	enum cstate state;
	bool want_out;          /* EPOLLOUT registered */
	/* output not yet taken by the socket */
	char *out;
	size_t out_len, out_off, out_cap;
	/* echo */
	bool in_flight;
	uint32_t msg_no;
	size_t recv_off;
	uint64_t t_sent;
	/* chat */
	char *line;             /* partial line */
	size_t line_len;
	bool joined;            /* tcpchat: saw its own join; plain: saw the sync line */
	uint64_t *next_seq;     /* per sender: the next sequence number expected */
};

static struct conn *conns;
static int epfd;
static uint64_t errors;
static unsigned long closed_by_server;

static void error_at(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	errors++;
	if (errors > 10)
		return; /* the first ten tell the story */
	fprintf(stderr, "tcpchat-bench: connection %u: ", c ? c->id : 0);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void ep_set(struct conn *c, uint32_t events, int op)
{
	struct epoll_event ev;

	ev.events = events;
	ev.data.u64 = c->id;
	if (epoll_ctl(epfd, op, c->fd, &ev) < 0)
		die(3, "epoll_ctl: %s", strerror(errno));
}

static void conn_close(struct conn *c)
{
	if (c->state == C_CLOSED || c->state == C_NONE)
		return;
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->state = C_CLOSED;
}

static void start_connect(struct conn *c)
{
	struct sockaddr_in sa;
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die(3, "socket: %s (raise ulimit -n?)", strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)opt.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		die(3, "connect to 127.0.0.1:%u: %s", opt.port, strerror(errno));
	c->state = C_CONNECTING;
	c->want_out = true;
	ep_set(c, EPOLLOUT, EPOLL_CTL_ADD);
}

/* Write what is queued; register for writability while some is left. */
static void flush_out(struct conn *c)
{
	ssize_t n;

	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			error_at(c, "send: %s", strerror(errno));
			conn_close(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if ((c->out_len > 0) != c->want_out) {
		c->want_out = c->out_len > 0;
		ep_set(c, EPOLLIN | (c->want_out ? EPOLLOUT : 0), EPOLL_CTL_MOD);
	}
}

/* Queue bytes and write them (at once if nothing waits). */
static void send_bytes(struct conn *c, const void *data, size_t len)
{
	if (c->state != C_OPEN)
		return;
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 256;

		if (c->out_off > 0) {
			memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		while (cap < c->out_len + len)
			cap *= 2;
		if (cap != c->out_cap) {
			c->out = realloc(c->out, cap);
			if (!c->out)
				die(3, "out of memory");
			c->out_cap = cap;
		}
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	if (!c->want_out)
		flush_out(c);
}

/* ------------------------------------------------------------------ */
/* Phases                                                             */
/* ------------------------------------------------------------------ */

enum phase { PH_SETUP, PH_WARMUP, PH_PAUSE, PH_MEASURE, PH_DRAIN, PH_END };
static enum phase phase = PH_SETUP;
static uint64_t t_phase_end;        /* deadline of the current phase */
static uint64_t t_meas_start, t_meas_end;
static struct cpu_sample cpu_start, cpu_end;
static struct rusage ru_start, ru_end;
static unsigned nopen;              /* connections established */

/* Measured counters */
static uint64_t m_msgs, m_bytes, m_sent;

static bool sending_allowed(void)
{
	return phase == PH_WARMUP || phase == PH_MEASURE;
}

static void begin_measure(void)
{
	phase = PH_MEASURE;
	t_meas_start = now_ns();
	cpu_start = server_cpu();
	getrusage(RUSAGE_SELF, &ru_start);
	t_phase_end = t_meas_start + (uint64_t)(opt.dur * 1e9);
}

static void end_measure(void)
{
	t_meas_end = now_ns();
	cpu_end = server_cpu();
	getrusage(RUSAGE_SELF, &ru_end);
	phase = PH_DRAIN;
	t_phase_end = t_meas_end + 10ull * 1000000000u;
}

/* One line from stdin in control mode, waited for at most 600 s. */
static void control_wait(const char *say)
{
	char buf[256];
	fd_set set;
	struct timeval tv = { 600, 0 };
	ssize_t n;

	printf("%s\n", say);
	fflush(stdout);
	FD_ZERO(&set);
	FD_SET(0, &set);
	if (select(1, &set, NULL, NULL, &tv) <= 0)
		die(3, "control: no answer on stdin within 600 s");
	n = read(0, buf, sizeof(buf));
	(void)n;
}

/* ------------------------------------------------------------------ */
/* Echo                                                               */
/* ------------------------------------------------------------------ */

static unsigned char *pattern;      /* size + 256 pseudo-random bytes */
static uint64_t e_issued;           /* messages started in count mode */

static const unsigned char *echo_expect(const struct conn *c)
{
	return pattern + ((c->id * 31u + c->msg_no * 17u) & 255u);
}

static void echo_send(struct conn *c)
{
	if (c->state != C_OPEN || c->in_flight || !sending_allowed())
		return;
	if (opt.count && phase == PH_MEASURE) {
		if (e_issued >= opt.count)
			return;
		e_issued++;
	}
	c->in_flight = true;
	c->recv_off = 0;
	c->t_sent = now_ns();
	send_bytes(c, echo_expect(c), opt.size);
}

static void echo_read(struct conn *c, unsigned char *buf)
{
	size_t want = c->in_flight ? opt.size - c->recv_off : 4096;
	ssize_t n = recv(c->fd, buf, want, 0);
	uint64_t t;

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		error_at(c, "recv: %s", strerror(errno));
		conn_close(c);
		return;
	}
	if (n == 0) {
		error_at(c, "the server closed the connection");
		closed_by_server++;
		conn_close(c);
		return;
	}
	if (!c->in_flight) {
		error_at(c, "%zd bytes arrived while none was expected", n);
		return;
	}
	if (memcmp(buf, echo_expect(c) + c->recv_off, (size_t)n) != 0) {
		error_at(c, "message %u: wrong bytes at offset %zu..%zu", c->msg_no,
		         c->recv_off, c->recv_off + (size_t)n);
		conn_close(c);
		return;
	}
	c->recv_off += (size_t)n;
	if (c->recv_off < opt.size)
		return;
	t = now_ns();
	c->in_flight = false;
	c->msg_no++;
	if (phase == PH_MEASURE) {
		hist_add(t - c->t_sent);
		m_msgs++;
		m_bytes += opt.size;
		if (opt.count && m_msgs == opt.count)
			end_measure();
	}
	echo_send(c);
}

/* ------------------------------------------------------------------ */
/* Chat                                                               */
/* ------------------------------------------------------------------ */

#define LINE_CAP (opt.size + 8192)
static uint64_t *sent_seq;          /* per sender: lines sent */
static uint64_t *acked;             /* per sender: lines received by all others */
static uint32_t *ring;              /* per sender x window: receivers that got seq */
static unsigned njoined;
static uint64_t t_next_sync;

static void chat_fill(struct conn *c)
{
	char line[65536];
	char buf[65536];
	size_t blen = 0;
	unsigned s = c->id;
	int n;

	if (s >= opt.senders || c->state != C_OPEN || !sending_allowed())
		return;
	while (sent_seq[s] - acked[s] < opt.window && blen + opt.size <= sizeof(buf)) {
		uint64_t seq = sent_seq[s];

		n = snprintf(line, sizeof(line), "s%u %" PRIu64 " %" PRIu64 " ", s, seq, now_ns());
		if (n < 0 || (unsigned)n + 2 > opt.size)
			die(2, "--size %u is too small for a chat line (need %d)", opt.size, n + 2);
		for (unsigned j = (unsigned)n; j < opt.size - 1; j++)
			line[j] = (char)('a' + (seq + j) % 26);
		line[opt.size - 1] = '\n';
		memcpy(buf + blen, line, opt.size);
		blen += opt.size;
		sent_seq[s]++;
		if (phase == PH_MEASURE)
			m_sent++;
	}
	if (blen)
		send_bytes(c, buf, blen);
}

/* Receiver r got line seq of sender s. */
static void chat_delivered(unsigned s, uint64_t seq)
{
	uint32_t *slots = ring + (size_t)s * opt.window;

	slots[seq % opt.window]++;
	while (acked[s] < sent_seq[s] && slots[acked[s] % opt.window] == opt.conns - 1) {
		slots[acked[s] % opt.window] = 0;
		acked[s]++;
	}
	chat_fill(&conns[s]);
}

static void chat_data_line(struct conn *c, const char *text, size_t len, long from)
{
	unsigned long s;
	uint64_t seq, t, now;
	char *end;
	const char *p;
	size_t j;

	if (len != opt.size - 1 || text[0] != 's') {
		error_at(c, "unexpected line \"%.*s\"", (int)(len > 60 ? 60 : len), text);
		return;
	}
	s = strtoul(text + 1, &end, 10);
	if (*end != ' ' || s >= opt.senders || (from >= 0 && (unsigned long)from != s)) {
		error_at(c, "bad sender in \"%.*s\"", (int)(len > 60 ? 60 : len), text);
		return;
	}
	seq = strtoull(end + 1, &end, 10);
	if (*end != ' ')
		goto bad;
	t = strtoull(end + 1, &end, 10);
	if (*end != ' ')
		goto bad;
	for (p = end + 1, j = (size_t)(p - text); j < len; j++)
		if (text[j] != (char)('a' + (seq + j) % 26))
			goto bad;
	if (s == c->id) {
		error_at(c, "got its own line back (s%lu %" PRIu64 ")", s, seq);
		return;
	}
	if (seq != c->next_seq[s]) {
		error_at(c, "from sender %lu: seq %" PRIu64 " where %" PRIu64 " was expected (%s)",
		         s, seq, c->next_seq[s], seq > c->next_seq[s] ? "gap" : "duplicate or reordered");
		if (seq > c->next_seq[s])
			c->next_seq[s] = seq + 1;
		return;
	}
	c->next_seq[s] = seq + 1;
	if (phase == PH_MEASURE || (opt.control && phase == PH_DRAIN)) {
		now = now_ns();
		hist_add(now > t ? now - t : 0);
		m_msgs++;
	}
	chat_delivered((unsigned)s, seq);
	return;
bad:
	error_at(c, "malformed line \"%.*s\"", (int)(len > 60 ? 60 : len), text);
}

static void chat_line(struct conn *c, const char *line, size_t len)
{
	char want[64];
	const char *colon;
	long from = -1;
	int n;

	if (phase == PH_MEASURE)
		m_bytes += len + 1;
	if (opt.proto == P_TCPCHAT) {
		if (len >= 2 && line[0] == '*' && line[1] == ' ') {
			n = snprintf(want, sizeof(want), "* m%u joined", c->id);
			if (!c->joined && len == (size_t)n && memcmp(line, want, len) == 0) {
				c->joined = true;
				njoined++;
			}
			return;
		}
		if (len >= 4 && memcmp(line, "ERR ", 4) == 0) {
			error_at(c, "server said \"%.*s\"", (int)len, line);
			return;
		}
		colon = memchr(line, ':', len);
		if (!colon || line[0] != 'm' || colon + 1 >= line + len || colon[1] != ' ') {
			error_at(c, "no \"NAME: \" in \"%.*s\"", (int)(len > 60 ? 60 : len), line);
			return;
		}
		from = strtol(line + 1, NULL, 10);
		chat_data_line(c, colon + 2, len - (size_t)(colon + 2 - line), from);
		return;
	}
	if (len == 4 && memcmp(line, "sync", 4) == 0) {
		if (!c->joined) {
			c->joined = true;
			njoined++;
		}
		return;
	}
	chat_data_line(c, line, len, -1);
}

static void chat_read(struct conn *c, char *buf, size_t size)
{
	ssize_t n = recv(c->fd, buf, size, 0);
	char *p, *nl, *end;

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		error_at(c, "recv: %s", strerror(errno));
		conn_close(c);
		return;
	}
	if (n == 0) {
		error_at(c, "the server closed the connection");
		closed_by_server++;
		conn_close(c);
		return;
	}
	p = buf;
	end = buf + n;
	if (c->line_len > 0) {
		nl = memchr(p, '\n', (size_t)(end - p));
		size_t take = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (c->line_len + take > LINE_CAP) {
			error_at(c, "a line longer than %u bytes", LINE_CAP);
			conn_close(c);
			return;
		}
		memcpy(c->line + c->line_len, p, take);
		c->line_len += take;
		if (!nl)
			return;
		chat_line(c, c->line, c->line_len);
		c->line_len = 0;
		p = nl + 1;
	}
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
		chat_line(c, p, (size_t)(nl - p));
		p = nl + 1;
	}
	if (p < end) {
		if ((size_t)(end - p) > LINE_CAP) {
			error_at(c, "a line longer than %u bytes", LINE_CAP);
			conn_close(c);
			return;
		}
		memcpy(c->line, p, (size_t)(end - p));
		c->line_len = (size_t)(end - p);
	}
}

/* ------------------------------------------------------------------ */
/* The loop                                                           */
/* ------------------------------------------------------------------ */

static void on_open(struct conn *c)
{
	char name[32];
	int n;

	nopen++;
	if (opt.mode == M_CHAT) {
		c->line = malloc(LINE_CAP);
		c->next_seq = calloc(opt.senders, sizeof(uint64_t));
		if (!c->line || !c->next_seq)
			die(3, "out of memory");
		if (opt.proto == P_TCPCHAT) {
			n = snprintf(name, sizeof(name), "m%u\n", c->id);
			send_bytes(c, name, (size_t)n);
		} else if (c->id == 0) {
			c->joined = true; /* the one who sends the sync line */
			njoined++;
		}
	}
}

static void on_event(struct conn *c, uint32_t ev, char *buf, size_t bufsize)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (c->state == C_CONNECTING) {
		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
			die(3, "connect to 127.0.0.1:%u: %s", opt.port, strerror(err ? err : errno));
		c->state = C_OPEN;
		c->want_out = false;
		ep_set(c, EPOLLIN, EPOLL_CTL_MOD);
		on_open(c);
		return;
	}
	if (c->state != C_OPEN)
		return;
	if (ev & EPOLLOUT)
		flush_out(c);
	if (c->state != C_OPEN || !(ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		return;
	if (opt.mode == M_ECHO) {
		echo_read(c, (unsigned char *)buf);
	} else if (opt.mode == M_CHAT) {
		chat_read(c, buf, bufsize);
	} else {
		ssize_t n = recv(c->fd, buf, bufsize, 0); /* idle: greetings */
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			closed_by_server++;
			conn_close(c);
		}
	}
}

/* Run the loop until deadline (ns) or until done() says so. */
static void loop_until(uint64_t deadline, bool (*done)(void))
{
	static struct epoll_event evs[512];
	static char buf[65536];
	uint64_t t;
	int i, n, timeout;

	for (;;) {
		if (done && done())
			return;
		t = now_ns();
		if (t >= deadline)
			return;
		timeout = (int)((deadline - t + 999999) / 1000000);
		if (timeout > 100)
			timeout = 100;
		n = epoll_wait(epfd, evs, 512, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die(3, "epoll_wait: %s", strerror(errno));
		}
		for (i = 0; i < n; i++)
			on_event(&conns[evs[i].data.u64], evs[i].events, buf, sizeof(buf));
	}
}

static unsigned next_to_connect;

static bool all_open(void)
{
	unsigned inprog = next_to_connect - nopen;

	/* At most 256 handshakes at a time: a burst of thousands would
	 * overflow the accept queue and wait for SYN retransmits. */
	while (next_to_connect < opt.conns && inprog < 256) {
		conns[next_to_connect].id = next_to_connect;
		start_connect(&conns[next_to_connect]);
		next_to_connect++;
		inprog++;
	}
	return nopen == opt.conns;
}

static bool all_joined(void)
{
	uint64_t t;

	if (opt.proto == P_PLAIN && opt.conns > 1 && njoined < opt.conns) {
		t = now_ns();
		if (t >= t_next_sync) {
			send_bytes(&conns[0], "sync\n", 5);
			t_next_sync = t + 200000000u;
		}
	}
	return njoined == opt.conns || closed_by_server > 0;
}

static bool in_flight_zero(void)
{
	unsigned i;

	for (i = 0; i < opt.conns; i++)
		if (conns[i].state == C_OPEN && conns[i].in_flight)
			return false;
	return true;
}

static bool measure_over(void)
{
	return phase != PH_MEASURE;
}

static bool chat_drained(void)
{
	unsigned s;

	for (s = 0; s < opt.senders; s++)
		if (acked[s] < sent_seq[s] && conns[s].state == C_OPEN)
			return false;
	return true;
}

static long base_fds, last_fds = -1;
static uint64_t t_fds_changed;

/* The server has accepted every connection, or it turns some away and has
 * stopped changing for a second. */
static bool server_holds_all(void)
{
	long n = server_fds();
	uint64_t t = now_ns();

	if (n < 0 || n - base_fds >= (long)opt.conns)
		return true;
	if (n != last_fds) {
		last_fds = n;
		t_fds_changed = t;
	}
	return closed_by_server > 0 && nopen == opt.conns && t - t_fds_changed > 1000000000u;
}

static void setup_connections(void)
{
	uint64_t deadline = now_ns() + (uint64_t)(opt.setup_timeout * 1e9);

	loop_until(deadline, all_open);
	if (nopen < opt.conns)
		die(3, "only %u of %u connections established within %.0f s", nopen,
		    opt.conns, opt.setup_timeout);
}

/* ------------------------------------------------------------------ */
/* Reports                                                            */
/* ------------------------------------------------------------------ */

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void report(const char *mode)
{
	double secs = (double)(t_meas_end - t_meas_start) / 1e9;
	double rate = secs > 0 ? (double)m_msgs / secs : 0;
	double mbs = secs > 0 ? (double)m_bytes / secs / 1e6 : 0;
	double p50 = hist_pct(50) / 1000, p99 = hist_pct(99) / 1000;
	double cli_cpu = tv_s(ru_end.ru_utime) + tv_s(ru_end.ru_stime) -
	                 tv_s(ru_start.ru_utime) - tv_s(ru_start.ru_stime);
	long hz = sysconf(_SC_CLK_TCK);
	char cpu[512] = "";

	if (cpu_start.ok && cpu_end.ok && m_msgs > 0) {
		double ticks = (double)(cpu_end.ticks - cpu_start.ticks);
		double sched = (double)(cpu_end.sched_ns - cpu_start.sched_ns);

		snprintf(cpu, sizeof(cpu),
		         " srv_cpu_ticks=%.0f srv_cpu_pct=%.1f srv_user_pct=%.1f srv_cpu_us_per_msg=%.4f"
		         " srv_sched_us_per_msg=%.4f",
		         ticks, ticks / (double)hz / secs * 100,
		         ticks > 0 ? (double)(cpu_end.uticks - cpu_start.uticks) / ticks * 100 : 0.0,
		         ticks / (double)hz * 1e6 / (double)m_msgs,
		         cpu_start.sched_ns ? sched / 1000 / (double)m_msgs : -1.0);
	}
	printf("result mode=%s label=%s conns=%u size=%u senders=%u window=%u proto=%s"
	       " secs=%.3f msgs=%" PRIu64 " msgs_per_s=%.1f mb_per_s=%.3f"
	       " p50_us=%.2f p99_us=%.2f sent=%" PRIu64 " errors=%" PRIu64
	       " cli_cpu_pct=%.1f%s\n",
	       mode, opt.label[0] ? opt.label : "-", opt.conns, opt.size,
	       opt.mode == M_CHAT ? opt.senders : 0, opt.mode == M_CHAT ? opt.window : 0,
	       opt.mode == M_CHAT ? (opt.proto == P_PLAIN ? "plain" : "tcpchat") : "-",
	       secs, m_msgs, rate, mbs, p50, p99, m_sent, errors,
	       secs > 0 ? cli_cpu / secs * 100 : 0, cpu);
	printf("%s: %u %s x %u B: %.0f %s/s, %.2f MB/s, p50 %.1f us, p99 %.1f us",
	       mode, opt.conns, opt.mode == M_CHAT ? "members" : "connections", opt.size,
	       rate, opt.mode == M_CHAT ? "delivered lines" : "messages", mbs, p50, p99);
	if (cpu_start.ok && cpu_end.ok && m_msgs > 0)
		printf(", server %.3f us CPU per %s",
		       (double)(cpu_end.ticks - cpu_start.ticks) / (double)hz * 1e6 / (double)m_msgs,
		       opt.mode == M_CHAT ? "line" : "message");
	printf(", %" PRIu64 " errors\n", errors);
	fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* Modes                                                              */
/* ------------------------------------------------------------------ */

static void run_echo(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t i;
	unsigned c;

	pattern = malloc(opt.size + 256);
	if (!pattern)
		die(3, "out of memory");
	for (i = 0; i < opt.size + 256; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		pattern[i] = (unsigned char)(x >> 24);
	}
	setup_connections();

	phase = PH_WARMUP;
	for (c = 0; c < opt.conns; c++)
		echo_send(&conns[c]);
	loop_until(now_ns() + (uint64_t)(opt.warm * 1e9), NULL);
	if (opt.control) {
		phase = PH_PAUSE;
		loop_until(now_ns() + 30ull * 1000000000u, in_flight_zero);
		if (!in_flight_zero())
			die(3, "messages still in flight 30 s after the warm-up");
		control_wait("READY");
	}
	begin_measure();
	for (c = 0; c < opt.conns; c++)
		echo_send(&conns[c]);
	if (opt.count) {
		/* Bounded anyway: at most an hour. */
		loop_until(now_ns() + 3600ull * 1000000000u, measure_over);
		if (phase == PH_MEASURE)
			die(3, "%" PRIu64 " of %" PRIu64 " messages within an hour", m_msgs, opt.count);
	} else {
		loop_until(t_phase_end, NULL);
		end_measure();
	}
	phase = PH_DRAIN;
	loop_until(now_ns() + 10ull * 1000000000u, in_flight_zero);
	if (!in_flight_zero())
		error_at(NULL, "echoes still missing 10 s after the end");
	if (opt.control)
		control_wait("DONE");
	for (c = 0; c < opt.conns; c++)
		conn_close(&conns[c]);
	report("echo");
}

static void run_chat(void)
{
	uint64_t deadline;
	unsigned m, s;

	if (opt.senders > opt.conns)
		die(2, "--senders %u is more than --conns %u", opt.senders, opt.conns);
	if (opt.conns < 2)
		die(2, "a chat needs at least 2 members");
	sent_seq = calloc(opt.senders, sizeof(uint64_t));
	acked = calloc(opt.senders, sizeof(uint64_t));
	ring = calloc((size_t)opt.senders * opt.window, sizeof(uint32_t));
	if (!sent_seq || !acked || !ring)
		die(3, "out of memory");
	setup_connections();
	deadline = now_ns() + (uint64_t)(opt.setup_timeout * 1e9);
	loop_until(deadline, all_joined);
	if (njoined < opt.conns)
		die(3, "only %u of %u members joined within %.0f s", njoined, opt.conns,
		    opt.setup_timeout);

	phase = PH_WARMUP;
	for (s = 0; s < opt.senders; s++)
		chat_fill(&conns[s]);
	loop_until(now_ns() + (uint64_t)(opt.warm * 1e9), NULL);
	if (opt.control) {
		phase = PH_PAUSE;
		loop_until(now_ns() + 30ull * 1000000000u, chat_drained);
		if (!chat_drained())
			die(3, "lines still undelivered 30 s after the warm-up");
		control_wait("READY");
	}
	begin_measure();
	for (s = 0; s < opt.senders; s++)
		chat_fill(&conns[s]);
	loop_until(t_phase_end, NULL);
	end_measure();
	loop_until(t_phase_end, chat_drained);
	if (!chat_drained())
		error_at(NULL, "lines still undelivered 10 s after the end");
	if (opt.control) {
		/* Every line sent in the window was delivered and counted. */
		t_meas_end = now_ns();
		cpu_end = server_cpu();
		control_wait("DONE");
	}
	for (m = 0; m < opt.conns; m++)
		for (s = 0; s < opt.senders; s++)
			if (s != m && conns[m].state == C_OPEN && conns[m].next_seq[s] != sent_seq[s])
				error_at(&conns[m], "got %" PRIu64 " of the %" PRIu64
				         " lines of sender %u", conns[m].next_seq[s], sent_seq[s], s);
	for (m = 0; m < opt.conns; m++)
		conn_close(&conns[m]);
	report("chat");
}

static void run_idle(void)
{
	long rss0, rss1, fds;
	unsigned c;
	uint64_t deadline;

	if (opt.server_pid <= 0)
		die(2, "idle needs --server-pid");
	rss0 = server_rss_kb();
	base_fds = server_fds();
	if (rss0 < 0 || base_fds < 0)
		die(3, "cannot read /proc/%ld", opt.server_pid);
	setup_connections();
	/* Established is not accepted: wait until the server has them all. */
	deadline = now_ns() + (uint64_t)(opt.setup_timeout * 1e9);
	loop_until(deadline, server_holds_all);
	loop_until(now_ns() + (uint64_t)(opt.hold * 1e9), NULL);
	rss1 = server_rss_kb();
	fds = server_fds() - base_fds;
	if (closed_by_server || fds < (long)opt.conns)
		error_at(NULL, "the server holds %ld of %u connections (%lu closed by it)",
		         fds, opt.conns, closed_by_server);
	printf("result mode=idle label=%s conns=%u held=%ld rss_base_kb=%ld rss_kb=%ld"
	       " bytes_per_conn=%.0f errors=%" PRIu64 "\n",
	       opt.label[0] ? opt.label : "-", opt.conns, fds, rss0, rss1,
	       fds > 0 ? (double)(rss1 - rss0) * 1024 / (double)fds : -1.0, errors);
	printf("idle: the server holds %ld connections in %ld KiB more RSS: %.0f bytes each\n",
	       fds, rss1 - rss0, fds > 0 ? (double)(rss1 - rss0) * 1024 / (double)fds : -1.0);
	fflush(stdout);
	for (c = 0; c < opt.conns; c++)
		conn_close(&conns[c]);
}

static double parse_num(const char *s, const char *what, double min, double max)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || v < min || v > max)
		die(2, "invalid %s '%s' (try --help)", what, s);
	return v;
}

int main(int argc, char **argv)
{
	enum { O_PROTO = 256, O_PID, O_CONTROL, O_SETUP, O_HOLD, O_LABEL };
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "conns", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 's' },
		{ "senders", required_argument, NULL, 'k' },
		{ "window", required_argument, NULL, 'f' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'n' },
		{ "control", no_argument, NULL, O_CONTROL },
		{ "proto", required_argument, NULL, O_PROTO },
		{ "server-pid", required_argument, NULL, O_PID },
		{ "setup-timeout", required_argument, NULL, O_SETUP },
		{ "hold", required_argument, NULL, O_HOLD },
		{ "label", required_argument, NULL, O_LABEL },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct rlimit rl;
	int o;

	if (argc < 2)
		die(2, "a mode is required: echo, chat or idle (try --help)");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "echo") == 0)
		opt.mode = M_ECHO;
	else if (strcmp(argv[1], "chat") == 0)
		opt.mode = M_CHAT;
	else if (strcmp(argv[1], "idle") == 0)
		opt.mode = M_IDLE;
	else
		die(2, "unknown mode '%s' (echo, chat or idle)", argv[1]);
	optind = 2;
	while ((o = getopt_long(argc, argv, "p:c:s:k:f:d:w:n:h", longopts, NULL)) != -1) {
		switch (o) {
		case 'p': opt.port = (unsigned)parse_num(optarg, "port", 1, 65535); break;
		case 'c': opt.conns = (unsigned)parse_num(optarg, "conns", 1, 1000000); break;
		case 's': opt.size = (unsigned)parse_num(optarg, "size", 1, 1 << 20); break;
		case 'k': opt.senders = (unsigned)parse_num(optarg, "senders", 1, 1000000); break;
		case 'f': opt.window = (unsigned)parse_num(optarg, "window", 1, 4096); break;
		case 'd': opt.dur = parse_num(optarg, "duration", 0.01, 86400); break;
		case 'w': opt.warm = parse_num(optarg, "warm-up", 0, 86400); break;
		case 'n': opt.count = (uint64_t)parse_num(optarg, "count", 1, 1e12); break;
		case O_CONTROL: opt.control = true; break;
		case O_PROTO:
			if (strcmp(optarg, "plain") == 0)
				opt.proto = P_PLAIN;
			else if (strcmp(optarg, "tcpchat") == 0)
				opt.proto = P_TCPCHAT;
			else
				die(2, "unknown protocol '%s' (plain or tcpchat)", optarg);
			break;
		case O_PID: opt.server_pid = (long)parse_num(optarg, "pid", 1, 1e9); break;
		case O_SETUP: opt.setup_timeout = parse_num(optarg, "setup timeout", 1, 3600); break;
		case O_HOLD: opt.hold = parse_num(optarg, "hold", 0, 3600); break;
		case O_LABEL: opt.label = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: die(2, "bad option (try --help)");
		}
	}
	if (optind < argc)
		die(2, "unexpected argument '%s'", argv[optind]);
	if (!opt.port)
		die(2, "-p PORT is required");
	if (opt.control && opt.mode == M_ECHO && !opt.count)
		die(2, "--control in echo needs -n COUNT");
	if (opt.control && opt.mode == M_IDLE)
		die(2, "--control is for echo and chat");
	if (opt.mode == M_CHAT && opt.size > 60000)
		die(2, "chat lines are at most 60000 bytes");

	/* One descriptor per connection, and a few more. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < opt.conns + 64) {
		rl.rlim_cur = rl.rlim_max < opt.conns + 64 ? rl.rlim_max : opt.conns + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < opt.conns + 16)
			die(3, "%u connections need a descriptor limit above %u (ulimit -n)",
			    opt.conns, (unsigned)rl.rlim_cur);
	}
	signal(SIGPIPE, SIG_IGN);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die(3, "epoll_create1: %s", strerror(errno));
	conns = calloc(opt.conns, sizeof(*conns));
	if (!conns)
		die(3, "out of memory");

	if (opt.mode == M_ECHO)
		run_echo();
	else if (opt.mode == M_CHAT)
		run_chat();
	else
		run_idle();
	return errors ? 1 : 0;
}
