/* shim.c - an LD_PRELOAD fault injector for the socket I/O of the programs
 * under test: reads and writes come back short, calls fail with EINTR, and
 * calls on non-blocking sockets fail with EAGAIN, at random but only in ways
 * the kernel itself could produce, so a correct program must behave exactly
 * as without the shim.
 *
 *   LD_PRELOAD=tests/fault/.libs/libtcpchat-fault.so \
 *   TCPCHAT_FAULT_SEED=7 TCPCHAT_FAULT_RATE=0.25 examples/tcpchat-chat-server
 *
 * Environment:
 *   TCPCHAT_FAULT_SEED   seed of the pseudo-random choices (default 1); the
 *                        same seed replays the same choices in a
 *                        single-threaded program given the same inputs.
 *   TCPCHAT_FAULT_RATE   probability (0 to 1) that an eligible call gets a
 *                        fault (default 0.25; 0 disables the shim).
 *   TCPCHAT_FAULT_KINDS  comma-separated subset of short,eintr,eagain
 *                        (default: all three).
 *   TCPCHAT_FAULT_LOG    a file to which every process that saw socket
 *                        calls appends one line of counts when it exits.
 *
 * What is touched, and why it is legitimate:
 *   - Only TCP sockets (AF_INET/AF_INET6, SOCK_STREAM).  Pipes, terminals,
 *     files, AF_UNIX and netlink sockets (the resolver's), the loop's
 *     self-pipe and the programs' stdin/stdout are never touched.
 *   - short: a read or write asks the kernel for fewer bytes (at least 1):
 *     a stream socket may always return less than asked.  Not done with
 *     MSG_WAITALL.
 *   - EINTR: the call fails before doing anything, as if a signal handler
 *     had run first (read, write and friends, accept, poll, epoll_wait).
 *     connect is special: an interrupted connect goes on asynchronously
 *     (POSIX), so the shim starts the real connect first and then reports
 *     EINTR; reporting EINTR without starting it would let the caller
 *     believe an unstarted connection was established.
 *   - EAGAIN: only on a non-blocking socket (O_NONBLOCK or MSG_DONTWAIT),
 *     and never on a descriptor registered edge-triggered or one-shot with
 *     epoll (there a spurious EAGAIN would lose the wake-up for good).  On a
 *     level-triggered or poll(2)-driven descriptor it is a spurious wake-up.
 *     A non-blocking connect that completed at once is reported as
 *     EINPROGRESS instead.
 *   - epoll_wait may return fewer events than are ready (a smaller
 *     maxevents); the rest are reported by the next call.
 *   - At most MAX_RUN faults in a row per thread, so that every retry loop
 *     makes progress even with TCPCHAT_FAULT_RATE=1.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#ifdef HAVE_SYS_EPOLL_H
#include <sys/epoll.h>
#endif

#define MAX_RUN 4          /* faults in a row per thread, at most */
#define MAX_IOV 1024       /* iovecs copied to shorten a vector call */
#define MAX_FD 65536       /* descriptors tracked for edge-triggered epoll */

enum kind { K_SHORT = 1, K_EINTR = 2, K_EAGAIN = 4 };

/* ------------------------------------------------------------------ */
/* The real functions                                                 */

typedef ssize_t read_fn(int, void *, size_t);
typedef ssize_t readv_fn(int, const struct iovec *, int);
typedef ssize_t recv_fn(int, void *, size_t, int);
typedef ssize_t recvfrom_fn(int, void *, size_t, int, struct sockaddr *, socklen_t *);
typedef ssize_t recvmsg_fn(int, struct msghdr *, int);
typedef ssize_t write_fn(int, const void *, size_t);
typedef ssize_t writev_fn(int, const struct iovec *, int);
typedef ssize_t send_fn(int, const void *, size_t, int);
typedef ssize_t sendto_fn(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
typedef ssize_t sendmsg_fn(int, const struct msghdr *, int);
typedef int accept_fn(int, struct sockaddr *, socklen_t *);
typedef int accept4_fn(int, struct sockaddr *, socklen_t *, int);
typedef int connect_fn(int, const struct sockaddr *, socklen_t);
typedef int poll_fn(struct pollfd *, nfds_t, int);
typedef ssize_t read_chk_fn(int, void *, size_t, size_t);
typedef ssize_t recv_chk_fn(int, void *, size_t, size_t, int);
typedef ssize_t recvfrom_chk_fn(int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *);
#ifdef HAVE_SYS_EPOLL_H
typedef int epoll_wait_fn(int, struct epoll_event *, int, int);
typedef int epoll_ctl_fn(int, int, int, struct epoll_event *);
#endif

/* Resolved on first use (a constructor of another library may call us
 * before our own constructor ran); the pointers only ever go from NULL to
 * the one right value. */
#define REAL(name) \
	static _Atomic(name##_fn *) real_##name##_p; \
	static name##_fn *real_##name(void) \
	{ \
		name##_fn *f = atomic_load_explicit(&real_##name##_p, memory_order_relaxed); \
		if (!f) { \
			f = (name##_fn *)dlsym(RTLD_NEXT, #name); \
			if (!f) \
				resolve_failed(#name); \
			atomic_store_explicit(&real_##name##_p, f, memory_order_relaxed); \
		} \
		return f; \
	}

static void resolve_failed(const char *name)
{
	/* stdio writes through the C library's internal write, not ours */
	fprintf(stderr, "tcpchat-fault: cannot find the real %s\n", name);
	abort();
}

/* The fortified variants are looked up by their own names. */
#define REAL_CHK(name, sym) \
	static _Atomic(name##_fn *) real_##name##_p; \
	static name##_fn *real_##name(void) \
	{ \
		name##_fn *f = atomic_load_explicit(&real_##name##_p, memory_order_relaxed); \
		if (!f) { \
			f = (name##_fn *)dlsym(RTLD_NEXT, sym); \
			if (!f) \
				resolve_failed(sym); \
			atomic_store_explicit(&real_##name##_p, f, memory_order_relaxed); \
		} \
		return f; \
	}

REAL(read)
REAL(readv)
REAL(recv)
REAL(recvfrom)
REAL(recvmsg)
REAL(write)
REAL(writev)
REAL(send)
REAL(sendto)
REAL(sendmsg)
REAL(accept)
REAL(accept4)
REAL(connect)
REAL(poll)
REAL_CHK(read_chk, "__read_chk")
REAL_CHK(recv_chk, "__recv_chk")
REAL_CHK(recvfrom_chk, "__recvfrom_chk")
#ifdef HAVE_SYS_EPOLL_H
REAL(epoll_wait)
REAL(epoll_ctl)
#endif

/* ------------------------------------------------------------------ */
/* Configuration, randomness, counters                                */

static struct {
	bool ready;
	uint64_t seed;
	uint32_t threshold;         /* fault if a 32-bit draw is below it */
	unsigned kinds;
	char log[512];
} cfg;

static atomic_uint next_thread;
static _Thread_local uint64_t rng_state;
static _Thread_local unsigned run_length;

static atomic_ulong n_faults, n_short, n_eintr, n_eagain, n_epoll_short, n_inprogress;

static void configure(void)
{
	const char *s;
	double rate = 0.25;

	if (cfg.ready)
		return;
	cfg.seed = 1;
	if ((s = getenv("TCPCHAT_FAULT_SEED")) && *s)
		cfg.seed = strtoull(s, NULL, 0);
	if ((s = getenv("TCPCHAT_FAULT_RATE")) && *s)
		rate = strtod(s, NULL);
	if (!(rate > 0))
		rate = 0;
	if (rate > 1)
		rate = 1;
	cfg.threshold = rate >= 1 ? UINT32_MAX : (uint32_t)(rate * 4294967296.0);
	cfg.kinds = K_SHORT | K_EINTR | K_EAGAIN;
	if ((s = getenv("TCPCHAT_FAULT_KINDS")) && *s) {
		cfg.kinds = 0;
		if (strstr(s, "short"))
			cfg.kinds |= K_SHORT;
		if (strstr(s, "eintr"))
			cfg.kinds |= K_EINTR;
		if (strstr(s, "eagain"))
			cfg.kinds |= K_EAGAIN;
	}
	if ((s = getenv("TCPCHAT_FAULT_LOG")) && *s)
		snprintf(cfg.log, sizeof(cfg.log), "%s", s);
	cfg.ready = true;
}

__attribute__((constructor)) static void shim_init(void)
{
	configure();
}

/* splitmix64: seeds each thread's xorshift state from the seed and the
 * order in which threads first came here. */
static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint32_t draw(void)
{
	uint64_t x = rng_state;

	if (x == 0) {
		x = splitmix(cfg.seed * 1000003u + atomic_fetch_add(&next_thread, 1));
		if (x == 0)
			x = 1;
	}
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return (uint32_t)((x * 0x2545f4914f6cdd1dULL) >> 32);
}

/* A number in [lo, hi]. */
static size_t draw_between(size_t lo, size_t hi)
{
	uint64_t r = ((uint64_t)draw() << 32) | draw();

	return lo + (size_t)(r % (hi - lo + 1));
}

/* fd is a TCP socket (errno preserved). */
static bool is_tcp(int fd)
{
	int saved = errno, domain = 0, type = 0;
	socklen_t len = sizeof(domain);
	bool yes;

	yes = getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
	      (domain == AF_INET || domain == AF_INET6);
	len = sizeof(type);
	yes = yes && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	      type == SOCK_STREAM;
	errno = saved;
	return yes;
}

/* Descriptors registered with EPOLLET or EPOLLONESHOT in some epoll set:
 * no EAGAIN for them.  Descriptors past MAX_FD are treated the same. */
static atomic_uchar edge[MAX_FD / 8];

static bool edge_triggered(int fd)
{
	if (fd < 0 || fd >= MAX_FD)
		return true;
	return atomic_load(&edge[fd / 8]) & (1u << (fd % 8));
}

static bool nonblocking(int fd)
{
	int saved = errno, fl = fcntl(fd, F_GETFL);

	errno = saved;
	return fl >= 0 && (fl & O_NONBLOCK);
}

/* Decide what happens to this call on fd (-1: no descriptor to check): 0
 * (nothing) or one of the kinds in allowed; flags_nonblock says the call
 * itself asked not to block (MSG_DONTWAIT). */
static enum kind decide(int fd, unsigned allowed, int flags_nonblock)
{
	enum kind choice[3];
	int n = 0;

	configure();
	if (cfg.threshold == 0)
		return 0;
	if (draw() >= cfg.threshold || run_length >= MAX_RUN) {
		run_length = 0;
		return 0;
	}
	if (fd >= 0 && !is_tcp(fd))
		return 0;
	allowed &= cfg.kinds;
	if ((allowed & K_EAGAIN) &&
	    (fd < 0 || edge_triggered(fd) || !(flags_nonblock || nonblocking(fd))))
		allowed &= ~(unsigned)K_EAGAIN;
	if (allowed & K_SHORT)
		choice[n++] = K_SHORT;
	if (allowed & K_EINTR)
		choice[n++] = K_EINTR;
	if (allowed & K_EAGAIN)
		choice[n++] = K_EAGAIN;
	if (n == 0)
		return 0;
	run_length++;
	atomic_fetch_add(&n_faults, 1);
	return choice[draw() % (unsigned)n];
}

static ssize_t fail(enum kind k)
{
	if (k == K_EINTR) {
		atomic_fetch_add(&n_eintr, 1);
		errno = EINTR;
	} else {
		atomic_fetch_add(&n_eagain, 1);
		errno = EAGAIN;
	}
	return -1;
}

/* The first n bytes of iov[0, cnt) into out; returns the new count. */
static int shorten_iov(const struct iovec *iov, int cnt, size_t n, struct iovec *out)
{
	int i;

	for (i = 0; i < cnt && n > 0; i++) {
		out[i] = iov[i];
		if (out[i].iov_len > n)
			out[i].iov_len = n;
		n -= out[i].iov_len;
	}
	return i;
}

static size_t iov_total(const struct iovec *iov, int cnt)
{
	size_t total = 0;
	int i;

	for (i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	return total;
}

/* How many bytes a short call asks for: 1 to len - 1 (len >= 2), often
 * very few, so that lines and messages are split at every position. */
static size_t short_len(size_t len)
{
	size_t hi = len - 1;

	atomic_fetch_add(&n_short, 1);
	if (hi > 16 && draw() % 2)
		hi = 16;
	return draw_between(1, hi);
}

/* ------------------------------------------------------------------ */
/* Reads                                                              */

ssize_t read(int fd, void *buf, size_t len)
{
	enum kind k = decide(fd, (len > 1 ? K_SHORT : 0) | K_EINTR | K_EAGAIN, 0);

	if (k == K_SHORT)
		len = short_len(len);
	else if (k)
		return fail(k);
	return real_read()(fd, buf, len);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	enum kind k = decide(fd, (len > 1 && !(flags & MSG_WAITALL) ? K_SHORT : 0) |
	                         K_EINTR | K_EAGAIN, flags & MSG_DONTWAIT);

	if (k == K_SHORT)
		len = short_len(len);
	else if (k)
		return fail(k);
	return real_recv()(fd, buf, len, flags);
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr,
                 socklen_t *addrlen)
{
	enum kind k = decide(fd, (len > 1 && !(flags & MSG_WAITALL) ? K_SHORT : 0) |
	                         K_EINTR | K_EAGAIN, flags & MSG_DONTWAIT);

	if (k == K_SHORT)
		len = short_len(len);
	else if (k)
		return fail(k);
	return real_recvfrom()(fd, buf, len, flags, addr, addrlen);
}

ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	size_t total = cnt > 0 && cnt <= MAX_IOV ? iov_total(iov, cnt) : 0;
	enum kind k = decide(fd, (total > 1 ? K_SHORT : 0) | K_EINTR | K_EAGAIN, 0);
	struct iovec mine[MAX_IOV];

	if (k == K_SHORT) {
		cnt = shorten_iov(iov, cnt, short_len(total), mine);
		iov = mine;
	} else if (k) {
		return fail(k);
	}
	return real_readv()(fd, iov, cnt);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	int cnt = msg ? (int)msg->msg_iovlen : 0;
	size_t total = cnt > 0 && cnt <= MAX_IOV ? iov_total(msg->msg_iov, cnt) : 0;
	enum kind k = decide(fd, (total > 1 && !(flags & MSG_WAITALL) ? K_SHORT : 0) |
	                         K_EINTR | K_EAGAIN, flags & MSG_DONTWAIT);
	struct iovec mine[MAX_IOV], *theirs;
	ssize_t n;

	if (k == K_SHORT) {
		theirs = msg->msg_iov;
		msg->msg_iovlen = (size_t)shorten_iov(theirs, cnt, short_len(total), mine);
		msg->msg_iov = mine;
		n = real_recvmsg()(fd, msg, flags);
		msg->msg_iov = theirs;
		msg->msg_iovlen = (size_t)cnt;
		return n;
	}
	if (k)
		return fail(k);
	return real_recvmsg()(fd, msg, flags);
}

/* _FORTIFY_SOURCE turns read/recv/recvfrom into these. */
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
                       struct sockaddr *addr, socklen_t *addrlen);

ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		return real_read_chk()(fd, buf, len, buflen); /* reports the overflow */
	return read(fd, buf, len);
}

ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	if (len > buflen)
		return real_recv_chk()(fd, buf, len, buflen, flags);
	return recv(fd, buf, len, flags);
}

ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
                       struct sockaddr *addr, socklen_t *addrlen)
{
	if (len > buflen)
		return real_recvfrom_chk()(fd, buf, len, buflen, flags, addr, addrlen);
	return recvfrom(fd, buf, len, flags, addr, addrlen);
}

/* ------------------------------------------------------------------ */
/* Writes                                                             */

ssize_t write(int fd, const void *buf, size_t len)
{
	enum kind k = decide(fd, (len > 1 ? K_SHORT : 0) | K_EINTR | K_EAGAIN, 0);

	if (k == K_SHORT)
		len = short_len(len);
	else if (k)
		return fail(k);
	return real_write()(fd, buf, len);
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	enum kind k = decide(fd, (len > 1 ? K_SHORT : 0) | K_EINTR | K_EAGAIN,
	                     flags & MSG_DONTWAIT);

	if (k == K_SHORT)
		len = short_len(len);
	else if (k)
		return fail(k);
	return real_send()(fd, buf, len, flags);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags,
               const struct sockaddr *addr, socklen_t addrlen)
{
	enum kind k = decide(fd, (len > 1 ? K_SHORT : 0) | K_EINTR | K_EAGAIN,
	                     flags & MSG_DONTWAIT);

	if (k == K_SHORT)
		len = short_len(len);
	else if (k)
		return fail(k);
	return real_sendto()(fd, buf, len, flags, addr, addrlen);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	size_t total = cnt > 0 && cnt <= MAX_IOV ? iov_total(iov, cnt) : 0;
	enum kind k = decide(fd, (total > 1 ? K_SHORT : 0) | K_EINTR | K_EAGAIN, 0);
	struct iovec mine[MAX_IOV];

	if (k == K_SHORT) {
		cnt = shorten_iov(iov, cnt, short_len(total), mine);
		iov = mine;
	} else if (k) {
		return fail(k);
	}
	return real_writev()(fd, iov, cnt);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	int cnt = msg ? (int)msg->msg_iovlen : 0;
	size_t total = cnt > 0 && cnt <= MAX_IOV ? iov_total(msg->msg_iov, cnt) : 0;
	enum kind k = decide(fd, (total > 1 ? K_SHORT : 0) | K_EINTR | K_EAGAIN,
	                     flags & MSG_DONTWAIT);
	struct iovec mine[MAX_IOV];
	struct msghdr m;

	if (k == K_SHORT) {
		m = *msg;
		m.msg_iovlen = (size_t)shorten_iov(msg->msg_iov, cnt, short_len(total), mine);
		m.msg_iov = mine;
		return real_sendmsg()(fd, &m, flags);
	}
	if (k)
		return fail(k);
	return real_sendmsg()(fd, msg, flags);
}

/* ------------------------------------------------------------------ */
/* Connections                                                        */

int accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	enum kind k = decide(fd, K_EINTR | K_EAGAIN, 0);

	if (k)
		return (int)fail(k);
	return real_accept()(fd, addr, addrlen);
}

int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	enum kind k = decide(fd, K_EINTR | K_EAGAIN, 0);

	if (k)
		return (int)fail(k);
	return real_accept4()(fd, addr, addrlen, flags);
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	/* "short" stands for EINPROGRESS here: both mean "not done yet". */
	enum kind k = decide(fd, K_SHORT | K_EINTR, 0);
	int rc = real_connect()(fd, addr, len);

	if (rc < 0 && errno != EINPROGRESS)
		return rc;
	if (k == K_EINTR) {
		/* Started, not finished as far as the caller knows. */
		atomic_fetch_add(&n_eintr, 1);
		errno = EINTR;
		return -1;
	}
	if (k == K_SHORT && rc == 0 && nonblocking(fd)) {
		/* Connected at once; "in progress" is as true. */
		atomic_fetch_add(&n_inprogress, 1);
		errno = EINPROGRESS;
		return -1;
	}
	if (k == K_SHORT)
		atomic_fetch_sub(&n_faults, 1); /* nothing to do after all */
	return rc;
}

/* ------------------------------------------------------------------ */
/* Waiting                                                            */

int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	nfds_t i;
	bool sockets = false;

	/* A wait that involves a TCP socket may be interrupted. */
	for (i = 0; i < nfds && !sockets; i++)
		sockets = fds[i].fd >= 0 && is_tcp(fds[i].fd);
	if (sockets && decide(-1, K_EINTR, 0))
		return (int)fail(K_EINTR);
	return real_poll()(fds, nfds, timeout);
}

#ifdef HAVE_SYS_EPOLL_H
int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	int rc = real_epoll_ctl()(epfd, op, fd, ev);
	unsigned char bit;

	if (rc == 0 && fd >= 0 && fd < MAX_FD) {
		bit = (unsigned char)(1u << (fd % 8));
		if (op != EPOLL_CTL_DEL && ev && (ev->events & (EPOLLET | EPOLLONESHOT)))
			atomic_fetch_or(&edge[fd / 8], bit);
		else
			atomic_fetch_and(&edge[fd / 8], (unsigned char)~bit);
	}
	return rc;
}

int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
	enum kind k = decide(-1, (maxevents > 1 ? K_SHORT : 0) | K_EINTR, 0);

	if (k == K_EINTR)
		return (int)fail(k);
	if (k == K_SHORT) {
		atomic_fetch_add(&n_epoll_short, 1);
		maxevents = (int)draw_between(1, (size_t)maxevents - 1);
	}
	return real_epoll_wait()(epfd, events, maxevents, timeout);
}
#endif

/* ------------------------------------------------------------------ */
/* The report                                                         */

__attribute__((destructor)) static void shim_report(void)
{
	char line[600], exe[256];
	ssize_t n;
	int fd, len;

	if (!cfg.log[0] || atomic_load(&n_faults) == 0)
		return;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	len = snprintf(line, sizeof(line),
	               "pid=%ld exe=%s seed=%llu faults=%lu short=%lu eintr=%lu eagain=%lu "
	               "epoll_short=%lu einprogress=%lu\n",
	               (long)getpid(), exe, (unsigned long long)cfg.seed,
	               atomic_load(&n_faults), atomic_load(&n_short), atomic_load(&n_eintr),
	               atomic_load(&n_eagain), atomic_load(&n_epoll_short),
	               atomic_load(&n_inprogress));
	fd = open(cfg.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (len > 0)
		n = real_write()(fd, line, (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1);
	(void)n;
	close(fd);
}
