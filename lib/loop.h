/* loop.h - the inside of struct tcpchat_loop, shared by the loop, its
 * timers, its backends and the servers that run on it.
 *
 * A loop watches descriptors (struct tcpchat__io) through one backend
 * (loop_epoll.c or loop_poll.c, chosen at configure time), keeps timers in
 * a binary min-heap, and runs deferred work at the end of each iteration.
 * Deferred work is how an object is torn down safely: it is closed at once
 * but freed only once no event of the current batch can still point at it. */
#ifndef TCPCHAT_LOOP_H
#define TCPCHAT_LOOP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "internal.h"
#include "list.h"

/* Readiness a watcher asks for and is told about. */
#define TCPCHAT__READ  1u
#define TCPCHAT__WRITE 2u

struct tcpchat__io;
typedef void tcpchat__io_cb(struct tcpchat_loop *loop, struct tcpchat__io *io,
                            unsigned revents);

/* A descriptor watched by the loop. */
struct tcpchat__io {
	int fd;
	unsigned events;  /* what the backend currently watches for, 0 = nothing */
	int slot;         /* backend's index for it (poll), -1 when unregistered */
	tcpchat__io_cb *cb;
};

struct tcpchat_timer {
	struct tcpchat_loop *loop;
	tcpchat_timer_cb *cb;
	void *arg;
	uint64_t deadline;   /* loop time at which it fires */
	uint64_t repeat;     /* period, 0 for one-shot */
	uint64_t seq;        /* start order, breaks deadline ties */
	size_t heap_index;   /* position in loop->heap, SIZE_MAX when stopped */
	bool internal;       /* the library's own: not counted for loop_free */
};

/* Work to run at the end of the current iteration. */
struct tcpchat__deferred {
	struct tcpchat__list link; /* in loop->deferred; empty when not queued */
	void (*cb)(struct tcpchat__deferred *d);
};

/* A call posted from another thread (tcpchat_loop_post). */
struct tcpchat__post {
	struct tcpchat__post *next;
	tcpchat_post_cb *cb;
	void *arg;
};

struct tcpchat__backend; /* defined by the backend */

struct tcpchat_loop {
	struct tcpchat__backend *backend;
	uint64_t now;

	struct tcpchat_timer **heap; /* min-heap on (deadline, seq) */
	size_t nheap, heap_cap;
	uint64_t timer_seq;

	size_t ntimers;  /* user timers created and not freed */
	size_t nservers; /* servers started and not freed */
	size_t alive;    /* listeners, connections and timers that keep run going */

	struct tcpchat__list deferred;

	int wake_fds[2];              /* self-pipe written by stop and post */
	struct tcpchat__io wake_io;
	atomic_int stop;

	pthread_mutex_t post_lock;    /* guards the posted calls */
	struct tcpchat__post *post_head, **post_tail;
	atomic_int posted;            /* how many are waiting */

	char *readbuf; /* one read buffer shared by every connection of the loop */
	bool running;
};

/* --- watchers (loop.c) --- */
void tcpchat__io_init(struct tcpchat__io *io, int fd, tcpchat__io_cb *cb);
/* Watch io for events (0 = stop watching).  Returns 0 or -errno. */
int tcpchat__io_set(struct tcpchat_loop *loop, struct tcpchat__io *io, unsigned events);

/* --- deferred work (loop.c) --- */
void tcpchat__deferred_init(struct tcpchat__deferred *d, void (*cb)(struct tcpchat__deferred *));
/* Queue d to run at the end of the iteration; queuing it twice runs it once. */
void tcpchat__loop_defer(struct tcpchat_loop *loop, struct tcpchat__deferred *d);
void tcpchat__loop_cancel(struct tcpchat__deferred *d);

/* --- timers (timer.c) --- */
void tcpchat__timer_init(struct tcpchat_timer *t, struct tcpchat_loop *loop,
                         tcpchat_timer_cb *cb, void *arg);
/* Milliseconds until the next timer is due: 0 if one is, -1 if none runs. */
int tcpchat__timers_timeout(const struct tcpchat_loop *loop);
/* Run the callbacks of every timer due at loop->now. */
void tcpchat__timers_run(struct tcpchat_loop *loop);

/* --- backend (loop_epoll.c or loop_poll.c) --- */
int tcpchat__backend_init(struct tcpchat_loop *loop);
void tcpchat__backend_free(struct tcpchat_loop *loop);
/* Register, change or (events == 0) remove io; io->events and io->slot are
 * updated by the caller's behalf. */
int tcpchat__backend_set(struct tcpchat_loop *loop, struct tcpchat__io *io, unsigned events);
/* Wait at most timeout_ms (-1: no limit), set loop->now to the time the
 * wait ended, and call each ready watcher's callback with the readiness it
 * asked for.  Returns 0 or -errno. */
int tcpchat__backend_wait(struct tcpchat_loop *loop, int timeout_ms);

#endif /* TCPCHAT_LOOP_H */
