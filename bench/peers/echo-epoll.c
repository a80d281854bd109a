/* echo-epoll.c - the benchmark's "no library at all" echo server: one
 * thread, hand-written level-triggered epoll, non-blocking sockets.  Each
 * readable connection gets one read(); the bytes are written back at once,
 * and only what the socket refuses is queued, with EPOLLOUT watched (and
 * reading paused) until the queue is empty.  Exits 0 on SIGTERM/SIGINT. */
#include "peer.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

struct conn {
	int fd;
	char *out;              /* bytes the socket refused, from off to len */
	size_t off, len, cap;
};

static int epfd;
static int listen_marker, signal_marker;

static void conn_free(struct conn *c)
{
	close(c->fd); /* also removes it from the epoll set */
	free(c->out);
	free(c);
}

static void watch(struct conn *c, int op, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (epoll_ctl(epfd, op, c->fd, &ev) < 0)
		peer_die("epoll_ctl");
}

/* Write the queue; 0 when it is empty, 1 when the socket is full, -1 on
 * error. */
static int flush(struct conn *c)
{
	ssize_t n;

	while (c->off < c->len) {
		n = send(c->fd, c->out + c->off, c->len - c->off, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 1 : -1;
		c->off += (size_t)n;
	}
	c->off = c->len = 0;
	return 0;
}

static void echo(struct conn *c, const char *data, size_t len)
{
	ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);

	if (n == (ssize_t)len)
		return;
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		conn_free(c);
		return;
	}
	if (n < 0)
		n = 0;
	len -= (size_t)n;
	if (len > c->cap) {
		c->out = realloc(c->out, len);
		if (!c->out)
			peer_die("realloc");
		c->cap = len;
	}
	memcpy(c->out, data + n, len);
	c->off = 0;
	c->len = len;
	watch(c, EPOLL_CTL_MOD, EPOLLOUT); /* and stop reading until drained */
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
					watch(c, EPOLL_CTL_ADD, EPOLLIN);
				}
				continue;
			}
			c = evs[i].data.ptr;
			if (c->len > 0) {
				/* Only EPOLLOUT is watched while output waits. */
				r = flush(c);
				if (r < 0)
					conn_free(c);
				else if (r == 0)
					watch(c, EPOLL_CTL_MOD, EPOLLIN);
				continue;
			}
			r = read(c->fd, buf, sizeof(buf));
			if (r > 0)
				echo(c, buf, (size_t)r);
			else if (r == 0 || (errno != EAGAIN && errno != EINTR))
				conn_free(c);
		}
	}
}
