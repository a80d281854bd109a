/* loop.c - the event loop: watchers, deferred work, run and stop. */
#include "internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "loop.h"

void tcpchat__io_init(struct tcpchat__io *io, int fd, tcpchat__io_cb *cb)
{
	io->fd = fd;
	io->events = 0;
	io->slot = -1;
	io->cb = cb;
}

int tcpchat__io_set(struct tcpchat_loop *loop, struct tcpchat__io *io, unsigned events)
{
	int rc;

	if (io->events == events)
		return 0;
	rc = tcpchat__backend_set(loop, io, events);
	if (rc == 0)
		io->events = events;
	return rc;
}

void tcpchat__deferred_init(struct tcpchat__deferred *d, void (*cb)(struct tcpchat__deferred *))
{
	tcpchat__list_init(&d->link);
	d->cb = cb;
}

void tcpchat__loop_defer(struct tcpchat_loop *loop, struct tcpchat__deferred *d)
{
	if (tcpchat__list_empty(&d->link))
		tcpchat__list_append(&loop->deferred, &d->link);
}

void tcpchat__loop_cancel(struct tcpchat__deferred *d)
{
	tcpchat__list_remove(&d->link);
}

/* Run deferred work, including work that deferred work queues. */
static void run_deferred(struct tcpchat_loop *loop)
{
	struct tcpchat__deferred *d;

	while (!tcpchat__list_empty(&loop->deferred)) {
		d = TCPCHAT__CONTAINER_OF(loop->deferred.next, struct tcpchat__deferred, link);
		tcpchat__list_remove(&d->link);
		d->cb(d);
	}
}

/* Take the posted calls waiting now (later ones wait for the next wake). */
static struct tcpchat__post *take_posts(struct tcpchat_loop *loop)
{
	struct tcpchat__post *head;

	pthread_mutex_lock(&loop->post_lock);
	head = loop->post_head;
	loop->post_head = NULL;
	loop->post_tail = &loop->post_head;
	atomic_store(&loop->posted, 0);
	pthread_mutex_unlock(&loop->post_lock);
	return head;
}

/* The self-pipe became readable: empty it and run the posted calls; the
 * stop flag says whether a stop woke us. */
static void on_wake(struct tcpchat_loop *loop, struct tcpchat__io *io, unsigned revents)
{
	struct tcpchat__post *p, *next;
	char junk[64];

	while (read(io->fd, junk, sizeof(junk)) > 0)
		;
	for (p = take_posts(loop); p; p = next) {
		next = p->next;
		p->cb(p->arg);
		free(p);
	}
}

/* Wake the backend; a full pipe already holds a wake-up. */
static void wake(struct tcpchat_loop *loop)
{
	ssize_t n = write(loop->wake_fds[1], "", 1);

	(void)n;
}

static int make_pipe(int fds[2])
{
#ifdef HAVE_PIPE2
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return -errno;
#else
	int i;

	if (pipe(fds) < 0)
		return -errno;
	for (i = 0; i < 2; i++)
		if (fcntl(fds[i], F_SETFD, FD_CLOEXEC) < 0 ||
		    fcntl(fds[i], F_SETFL, O_NONBLOCK) < 0) {
			int err = -errno;
			close(fds[0]);
			close(fds[1]);
			return err;
		}
#endif
	return 0;
}

TCPCHAT_EXPORT int tcpchat_loop_create(struct tcpchat_loop **loopp)
{
	struct tcpchat_loop *loop;
	int rc;

	if (!loopp)
		return -EINVAL;
	loop = calloc(1, sizeof(*loop));
	if (!loop)
		return -ENOMEM;
	tcpchat__list_init(&loop->deferred);
	atomic_init(&loop->stop, 0);
	atomic_init(&loop->posted, 0);
	loop->post_tail = &loop->post_head;
	pthread_mutex_init(&loop->post_lock, NULL);
	loop->now = tcpchat__now_ms();
	rc = make_pipe(loop->wake_fds);
	if (rc < 0)
		goto fail;
	rc = tcpchat__backend_init(loop);
	if (rc < 0)
		goto fail_pipe;
	tcpchat__io_init(&loop->wake_io, loop->wake_fds[0], on_wake);
	rc = tcpchat__io_set(loop, &loop->wake_io, TCPCHAT__READ);
	if (rc < 0)
		goto fail_backend;
	*loopp = loop;
	return 0;

fail_backend:
	tcpchat__backend_free(loop);
fail_pipe:
	close(loop->wake_fds[0]);
	close(loop->wake_fds[1]);
fail:
	pthread_mutex_destroy(&loop->post_lock);
	free(loop);
	return rc;
}

TCPCHAT_EXPORT int tcpchat_loop_free(struct tcpchat_loop *loop)
{
	struct tcpchat__post *p, *next;

	if (!loop)
		return 0;
	if (loop->ntimers > 0 || loop->nservers > 0 || loop->running)
		return -EBUSY;
	for (p = take_posts(loop); p; p = next) {
		next = p->next;
		free(p);
	}
	pthread_mutex_destroy(&loop->post_lock);
	tcpchat__io_set(loop, &loop->wake_io, 0);
	tcpchat__backend_free(loop);
	close(loop->wake_fds[0]);
	close(loop->wake_fds[1]);
	free(loop->heap);
	free(loop->readbuf);
	free(loop);
	return 0;
}

TCPCHAT_EXPORT int tcpchat_loop_run(struct tcpchat_loop *loop)
{
	int rc = 0, timeout;

	if (!loop)
		return -EINVAL;
	if (loop->running)
		return -EBUSY;
	loop->running = true;
	while (!atomic_load(&loop->stop)) {
		if (loop->alive == 0 && tcpchat__list_empty(&loop->deferred) &&
		    atomic_load(&loop->posted) == 0)
			break;
		loop->now = tcpchat__now_ms();
		timeout = tcpchat__list_empty(&loop->deferred) ? tcpchat__timers_timeout(loop) : 0;
		rc = tcpchat__backend_wait(loop, timeout);
		if (rc < 0)
			break;
		tcpchat__timers_run(loop);
		run_deferred(loop);
	}
	/* A stop is consumed by the run it ends. */
	atomic_store(&loop->stop, 0);
	loop->running = false;
	return rc;
}

TCPCHAT_EXPORT void tcpchat_loop_stop(struct tcpchat_loop *loop)
{
	int saved = errno;

	if (!loop)
		return;
	atomic_store(&loop->stop, 1);
	wake(loop);
	errno = saved;
}

TCPCHAT_EXPORT int tcpchat_loop_post(struct tcpchat_loop *loop, tcpchat_post_cb *cb, void *arg)
{
	struct tcpchat__post *p;

	if (!loop || !cb)
		return -EINVAL;
	p = malloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->next = NULL;
	p->cb = cb;
	p->arg = arg;
	pthread_mutex_lock(&loop->post_lock);
	*loop->post_tail = p;
	loop->post_tail = &p->next;
	atomic_fetch_add(&loop->posted, 1);
	pthread_mutex_unlock(&loop->post_lock);
	wake(loop);
	return 0;
}

TCPCHAT_EXPORT uint64_t tcpchat_loop_now(const struct tcpchat_loop *loop)
{
	return loop ? loop->now : 0;
}
