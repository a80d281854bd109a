/* chat-epoll.c - the benchmark's "no library at all" chat server: one
 * thread, hand-written level-triggered epoll, non-blocking sockets.  Every
 * complete line a client sends goes, unchanged, to every other client: the
 * complete lines of one read() are relayed with one send() per receiver,
 * written at once, and only what a socket refuses is queued (EPOLLOUT is
 * watched until that queue is empty).  Exits 0 on SIGTERM/SIGINT. */
#include "peer.h"

#include <signal.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

#define MAX_PARTIAL (1 << 20)   /* a "line" longer than this is cut off */

struct buf {
	char *data;
	size_t off, len, cap;   /* bytes from off to len */
};

struct conn {
	int fd;
	bool dead, want_out;
	struct conn *prev, *next;   /* every client, oldest first */
	struct conn *next_dead;
	struct buf in;              /* a partial line */
	struct buf out;             /* what the socket refused */
};

static int epfd;
static int listen_marker, signal_marker;
static struct conn all = { .prev = &all, .next = &all };
static struct conn *dead;

static void buf_add(struct buf *b, const char *data, size_t len)
{
	if (b->off > 0 && b->off == b->len)
		b->off = b->len = 0;
	if (b->len + len > b->cap) {
		if (b->off > 0) {
			memmove(b->data, b->data + b->off, b->len - b->off);
			b->len -= b->off;
			b->off = 0;
		}
		while (b->len + len > b->cap)
			b->cap = b->cap ? b->cap * 2 : 4096;
		b->data = realloc(b->data, b->cap);
		if (!b->data)
			peer_die("realloc");
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

static void watch(struct conn *c, int op, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (epoll_ctl(epfd, op, c->fd, &ev) < 0)
		peer_die("epoll_ctl");
}

/* Closed at once, freed after the batch of events. */
static void kill_conn(struct conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	close(c->fd);
	c->prev->next = c->next;
	c->next->prev = c->prev;
	c->next_dead = dead;
	dead = c;
}

static void flush(struct conn *c)
{
	ssize_t n;

	while (c->out.off < c->out.len) {
		n = send(c->fd, c->out.data + c->out.off, c->out.len - c->out.off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			kill_conn(c);
			return;
		}
		c->out.off += (size_t)n;
	}
	if ((c->out.off < c->out.len) != c->want_out) {
		c->want_out = !c->want_out;
		watch(c, EPOLL_CTL_MOD, EPOLLIN | (c->want_out ? EPOLLOUT : 0));
	}
}

static void deliver(struct conn *c, const char *data, size_t len)
{
	ssize_t n = 0;

	if (c->out.off == c->out.len) {
		n = send(c->fd, data, len, MSG_NOSIGNAL);
		if (n == (ssize_t)len)
			return;
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				kill_conn(c);
				return;
			}
			n = 0;
		}
	}
	buf_add(&c->out, data + n, len - (size_t)n);
	flush(c);
}

static void relay(struct conn *from, const char *data, size_t len)
{
	struct conn *c;

	for (c = all.next; c != &all; c = c->next)
		if (c != from)
			deliver(c, data, len);
}

static void on_input(struct conn *c, const char *data, size_t len)
{
	const char *last = memrchr(data, '\n', len);
	size_t whole;

	if (!last) {
		buf_add(&c->in, data, len);
		if (c->in.len - c->in.off > MAX_PARTIAL)
			kill_conn(c);
		return;
	}
	whole = (size_t)(last - data) + 1;
	if (c->in.len > c->in.off) {
		/* The waiting partial line, completed. */
		buf_add(&c->in, data, whole);
		relay(c, c->in.data + c->in.off, c->in.len - c->in.off);
		c->in.off = c->in.len = 0;
	} else {
		relay(c, data, whole);
	}
	if (whole < len)
		buf_add(&c->in, data + whole, len - whole);
}

int main(int argc, char **argv)
{
	static char buf[65536];
	struct epoll_event evs[256], ev;
	unsigned port = peer_port(argc, argv);
	int lfd = peer_listen(&port), sfd, i, n, fd;
	sigset_t sigs;
	struct conn *c;
	ssize_t r;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || epfd < 0)
		peer_die("signalfd/epoll_create1");
	ev.events = EPOLLIN;
	ev.data.ptr = &listen_marker;
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
	ev.data.ptr = &signal_marker;
	epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev);
	peer_ready(port);

	for (;;) {
		n = epoll_wait(epfd, evs, 256, -1);
		if (n < 0 && errno != EINTR)
			peer_die("epoll_wait");
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == &signal_marker)
				return 0;
			if (evs[i].data.ptr == &listen_marker) {
				while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					c = calloc(1, sizeof(*c));
					if (!c)
						peer_die("calloc");
					c->fd = fd;
					c->prev = all.prev;
					c->next = &all;
					all.prev->next = c;
					all.prev = c;
					watch(c, EPOLL_CTL_ADD, EPOLLIN);
				}
				continue;
			}
			c = evs[i].data.ptr;
			if (c->dead)
				continue;
			if (evs[i].events & EPOLLOUT)
				flush(c);
			if (c->dead || !(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				continue;
			r = read(c->fd, buf, sizeof(buf));
			if (r > 0)
				on_input(c, buf, (size_t)r);
			else if (r == 0 || (errno != EAGAIN && errno != EINTR))
				kill_conn(c);
		}
		while (dead) {
			c = dead;
			dead = c->next_dead;
			free(c->in.data);
			free(c->out.data);
			free(c);
		}
	}
}
