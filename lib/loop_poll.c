/* loop_poll.c - the portable backend of the event loop: poll(2) over an
 * array of descriptors that grows as needed.  Removal only blanks a slot
 * while a batch is being dispatched; the array is compacted afterwards. */
#include "internal.h"

#include <poll.h>
#include <stdlib.h>

#include "loop.h"

struct tcpchat__backend {
	struct pollfd *fds;
	struct tcpchat__io **ios;
	size_t n, cap;
	size_t holes; /* blanked slots waiting for compaction */
};

int tcpchat__backend_init(struct tcpchat_loop *loop)
{
	struct tcpchat__backend *be = calloc(1, sizeof(*be));

	if (!be)
		return -ENOMEM;
	loop->backend = be;
	return 0;
}

void tcpchat__backend_free(struct tcpchat_loop *loop)
{
	free(loop->backend->fds);
	free(loop->backend->ios);
	free(loop->backend);
	loop->backend = NULL;
}

static short poll_events(unsigned events)
{
	return (short)((events & TCPCHAT__READ ? POLLIN : 0) |
	               (events & TCPCHAT__WRITE ? POLLOUT : 0));
}

int tcpchat__backend_set(struct tcpchat_loop *loop, struct tcpchat__io *io, unsigned events)
{
	struct tcpchat__backend *be = loop->backend;

	if (io->slot >= 0) {
		if (events) {
			be->fds[io->slot].events = poll_events(events);
		} else {
			be->fds[io->slot].fd = -1;
			be->ios[io->slot] = NULL;
			be->holes++;
			io->slot = -1;
		}
		return 0;
	}
	if (!events)
		return 0;
	if (be->n == be->cap) {
		size_t cap = be->cap ? be->cap * 2 : 64;
		struct pollfd *fds = realloc(be->fds, cap * sizeof(*fds));
		struct tcpchat__io **ios;

		if (!fds)
			return -ENOMEM;
		be->fds = fds;
		ios = realloc(be->ios, cap * sizeof(*ios));
		if (!ios)
			return -ENOMEM;
		be->ios = ios;
		be->cap = cap;
	}
	be->fds[be->n].fd = io->fd;
	be->fds[be->n].events = poll_events(events);
	be->fds[be->n].revents = 0;
	be->ios[be->n] = io;
	io->slot = (int)be->n++;
	return 0;
}

/* Squeeze out blanked slots, keeping order, and renumber the watchers. */
static void compact(struct tcpchat__backend *be)
{
	size_t i, j = 0;

	for (i = 0; i < be->n; i++) {
		if (!be->ios[i])
			continue;
		be->fds[j] = be->fds[i];
		be->ios[j] = be->ios[i];
		be->ios[j]->slot = (int)j;
		j++;
	}
	be->n = j;
	be->holes = 0;
}

int tcpchat__backend_wait(struct tcpchat_loop *loop, int timeout_ms)
{
	struct tcpchat__backend *be = loop->backend;
	struct tcpchat__io *io;
	unsigned revents;
	size_t i, n;
	int rc;

	if (be->holes)
		compact(be);
	rc = poll(be->fds, (nfds_t)be->n, timeout_ms);
	if (rc < 0)
		return errno == EINTR ? 0 : -errno;
	loop->now = tcpchat__now_ms(); /* callbacks see the time they run at */
	/* Watchers added by callbacks land past n and were not polled. */
	n = be->n;
	for (i = 0; i < n && rc > 0; i++) {
		short re = be->fds[i].revents;

		if (!re)
			continue;
		rc--;
		be->fds[i].revents = 0;
		io = be->ios[i];
		if (!io)
			continue;
		revents = 0;
		if (re & (POLLIN | POLLERR | POLLHUP | POLLNVAL))
			revents |= TCPCHAT__READ;
		if (re & (POLLOUT | POLLERR | POLLHUP | POLLNVAL))
			revents |= TCPCHAT__WRITE;
		revents &= io->events;
		if (revents)
			io->cb(loop, io, revents);
	}
	if (be->holes)
		compact(be);
	return 0;
}
