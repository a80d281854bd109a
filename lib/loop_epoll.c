/* loop_epoll.c - the Linux backend of the event loop: level-triggered
 * epoll, one epoll_ctl per change of interest, up to 256 events a wait. */
#include "internal.h"

#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop.h"

#define MAX_EVENTS 256

struct tcpchat__backend {
	int epfd;
	struct epoll_event events[MAX_EVENTS];
};

int tcpchat__backend_init(struct tcpchat_loop *loop)
{
	struct tcpchat__backend *be = malloc(sizeof(*be));

	if (!be)
		return -ENOMEM;
	be->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (be->epfd < 0) {
		int err = -errno;
		free(be);
		return err;
	}
	loop->backend = be;
	return 0;
}

void tcpchat__backend_free(struct tcpchat_loop *loop)
{
	close(loop->backend->epfd);
	free(loop->backend);
	loop->backend = NULL;
}

int tcpchat__backend_set(struct tcpchat_loop *loop, struct tcpchat__io *io, unsigned events)
{
	struct epoll_event ev;
	int op;

	ev.events = (events & TCPCHAT__READ ? EPOLLIN : 0u) |
	            (events & TCPCHAT__WRITE ? EPOLLOUT : 0u);
	ev.data.ptr = io;
	if (events == 0)
		op = EPOLL_CTL_DEL;
	else if (io->slot < 0)
		op = EPOLL_CTL_ADD;
	else
		op = EPOLL_CTL_MOD;
	if (epoll_ctl(loop->backend->epfd, op, io->fd, &ev) < 0)
		return -errno;
	io->slot = events ? 0 : -1; /* epoll needs no index: "registered" */
	return 0;
}

int tcpchat__backend_wait(struct tcpchat_loop *loop, int timeout_ms)
{
	struct tcpchat__backend *be = loop->backend;
	struct tcpchat__io *io;
	unsigned revents;
	int i, n;

	n = epoll_wait(be->epfd, be->events, MAX_EVENTS, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	loop->now = tcpchat__now_ms(); /* callbacks see the time they run at */
	for (i = 0; i < n; i++) {
		io = be->events[i].data.ptr;
		revents = 0;
		/* An error or hang-up is reported as readiness, so the read or
		 * write that follows finds out what happened. */
		if (be->events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			revents |= TCPCHAT__READ;
		if (be->events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			revents |= TCPCHAT__WRITE;
		/* An earlier callback of this batch may have changed its
		 * interest; watchers are freed only after the batch. */
		revents &= io->events;
		if (revents)
			io->cb(loop, io, revents);
	}
	return 0;
}
