/* timer.c - one-shot and repeating timers in a binary min-heap.
 *
 * The heap is ordered by (deadline, seq): timers due at the same time fire
 * in the order they were started.  Each timer knows its heap index, so
 * stopping one is O(log n). */
#include "internal.h"

#include <stdlib.h>

#include "loop.h"

static bool before(const struct tcpchat_timer *a, const struct tcpchat_timer *b)
{
	return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_set(struct tcpchat_loop *loop, size_t i, struct tcpchat_timer *t)
{
	loop->heap[i] = t;
	t->heap_index = i;
}

static void sift_up(struct tcpchat_loop *loop, size_t i)
{
	struct tcpchat_timer *t = loop->heap[i];

	while (i > 0 && before(t, loop->heap[(i - 1) / 2])) {
		heap_set(loop, i, loop->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(loop, i, t);
}

static void sift_down(struct tcpchat_loop *loop, size_t i)
{
	struct tcpchat_timer *t = loop->heap[i];
	size_t child;

	for (;;) {
		child = 2 * i + 1;
		if (child >= loop->nheap)
			break;
		if (child + 1 < loop->nheap && before(loop->heap[child + 1], loop->heap[child]))
			child++;
		if (!before(loop->heap[child], t))
			break;
		heap_set(loop, i, loop->heap[child]);
		i = child;
	}
	heap_set(loop, i, t);
}

static void heap_remove(struct tcpchat_loop *loop, struct tcpchat_timer *t)
{
	size_t i = t->heap_index;
	struct tcpchat_timer *last = loop->heap[--loop->nheap];

	t->heap_index = SIZE_MAX;
	loop->alive--;
	if (last == t)
		return;
	heap_set(loop, i, last);
	sift_up(loop, i);
	sift_down(loop, last->heap_index);
}

static int heap_insert(struct tcpchat_loop *loop, struct tcpchat_timer *t)
{
	struct tcpchat_timer **heap;
	size_t cap;

	if (loop->nheap == loop->heap_cap) {
		cap = loop->heap_cap ? loop->heap_cap * 2 : 16;
		heap = realloc(loop->heap, cap * sizeof(*heap));
		if (!heap)
			return -ENOMEM;
		loop->heap = heap;
		loop->heap_cap = cap;
	}
	loop->heap[loop->nheap] = t;
	t->heap_index = loop->nheap++;
	loop->alive++;
	sift_up(loop, t->heap_index);
	return 0;
}

void tcpchat__timer_init(struct tcpchat_timer *t, struct tcpchat_loop *loop,
                         tcpchat_timer_cb *cb, void *arg)
{
	t->loop = loop;
	t->cb = cb;
	t->arg = arg;
	t->deadline = 0;
	t->repeat = 0;
	t->seq = 0;
	t->heap_index = SIZE_MAX;
	t->internal = true;
}

TCPCHAT_EXPORT int tcpchat_timer_create(struct tcpchat_loop *loop,
                                        struct tcpchat_timer **timerp,
                                        tcpchat_timer_cb *cb, void *arg)
{
	struct tcpchat_timer *t;

	if (!loop || !timerp || !cb)
		return -EINVAL;
	t = malloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	tcpchat__timer_init(t, loop, cb, arg);
	t->internal = false;
	loop->ntimers++;
	*timerp = t;
	return 0;
}

TCPCHAT_EXPORT int tcpchat_timer_start(struct tcpchat_timer *t,
                                       uint64_t timeout_ms, uint64_t repeat_ms)
{
	struct tcpchat_loop *loop;

	if (!t)
		return -EINVAL;
	loop = t->loop;
	if (t->heap_index != SIZE_MAX)
		heap_remove(loop, t);
	t->deadline = timeout_ms > UINT64_MAX - loop->now ? UINT64_MAX : loop->now + timeout_ms;
	t->repeat = repeat_ms;
	t->seq = loop->timer_seq++;
	return heap_insert(loop, t);
}

TCPCHAT_EXPORT void tcpchat_timer_stop(struct tcpchat_timer *t)
{
	if (t && t->heap_index != SIZE_MAX)
		heap_remove(t->loop, t);
}

TCPCHAT_EXPORT void tcpchat_timer_free(struct tcpchat_timer *t)
{
	if (!t)
		return;
	tcpchat_timer_stop(t);
	if (!t->internal)
		t->loop->ntimers--;
	free(t);
}

int tcpchat__timers_timeout(const struct tcpchat_loop *loop)
{
	uint64_t deadline;

	if (loop->nheap == 0)
		return -1;
	deadline = loop->heap[0]->deadline;
	if (deadline <= loop->now)
		return 0;
	return deadline - loop->now > INT32_MAX ? INT32_MAX : (int)(deadline - loop->now);
}

void tcpchat__timers_run(struct tcpchat_loop *loop)
{
	struct tcpchat_timer *t;
	uint64_t seq_limit = loop->timer_seq;

	/* Timers started by these callbacks wait for the next iteration (their
	 * seq is at least seq_limit), so a callback that restarts its timer
	 * with a 0 timeout cannot starve I/O. */
	while (loop->nheap > 0 && loop->heap[0]->deadline <= loop->now &&
	       loop->heap[0]->seq < seq_limit) {
		t = loop->heap[0];
		heap_remove(loop, t);
		/* Re-arm before the call, so the callback may stop, restart or
		 * free its timer and nothing touches it afterwards.  A repeat is
		 * counted from now, so a late loop does not fire a burst. */
		if (t->repeat > 0 && tcpchat_timer_start(t, t->repeat, t->repeat) < 0)
			continue;
		t->cb(t, t->arg);
	}
}
