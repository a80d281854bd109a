/* check_loop.c - the event loop: lifecycle, run until idle, stop from a
 * signal handler and from another thread, -EBUSY contracts, no fd leak. */
#include "internal.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/time.h>

#include "loop.h"
#include "testutil.h"

static void count_cb(struct tcpchat_timer *t, void *arg)
{
	(*(int *)arg)++;
}

START_TEST(create_free_contracts)
{
	struct tcpchat_loop *loop = NULL;

	ck_assert_int_eq(tcpchat_loop_create(NULL), -EINVAL);
	ck_assert_int_eq(tcpchat_loop_free(NULL), 0);
	ck_assert_int_eq(tcpchat_loop_run(NULL), -EINVAL);
	tcpchat_loop_stop(NULL);
	ck_assert_int_eq(tcpchat_loop_create(&loop), 0);
	ck_assert_ptr_nonnull(loop);
	ck_assert_int_eq(tcpchat_loop_free(loop), 0);
}
END_TEST

START_TEST(run_with_nothing_returns)
{
	struct tcpchat_loop *loop;

	ck_assert_int_eq(tcpchat_loop_create(&loop), 0);
	ck_assert_int_eq(tcpchat_loop_run(loop), 0);
	ck_assert_int_eq(tcpchat_loop_run(loop), 0);
	ck_assert_int_eq(tcpchat_loop_free(loop), 0);
}
END_TEST

START_TEST(stop_before_run_returns_at_once)
{
	struct tcpchat_loop *loop;
	struct tcpchat_timer *t;
	int fired = 0;

	ck_assert_int_eq(tcpchat_loop_create(&loop), 0);
	ck_assert_int_eq(tcpchat_timer_create(loop, &t, count_cb, &fired), 0);
	ck_assert_int_eq(tcpchat_timer_start(t, 60000, 0), 0);
	tcpchat_loop_stop(loop);
	ck_assert_int_eq(tcpchat_loop_run(loop), 0);
	ck_assert_int_eq(fired, 0);
	/* The stop was consumed: the next run waits for the timer again,
	 * shortened here. */
	ck_assert_int_eq(tcpchat_timer_start(t, 10, 0), 0);
	ck_assert_int_eq(tcpchat_loop_run(loop), 0);
	ck_assert_int_eq(fired, 1);
	tcpchat_timer_free(t);
	ck_assert_int_eq(tcpchat_loop_free(loop), 0);
}
END_TEST

static struct tcpchat_loop *signal_loop;
static volatile sig_atomic_t signals_seen;

static void on_alarm(int sig)
{
	signals_seen++;
	errno = EAGAIN; /* the handler must leave errno as it found it */
	tcpchat_loop_stop(signal_loop);
	ck_assert_int_eq(errno, EAGAIN);
}

START_TEST(stop_from_signal_handler)
{
	struct tcpchat_timer *t;
	struct sigaction sa;
	struct itimerval it;
	int ticks = 0;

	ck_assert_int_eq(tcpchat_loop_create(&signal_loop), 0);
	/* A repeating timer keeps the loop alive forever but for the signal. */
	ck_assert_int_eq(tcpchat_timer_create(signal_loop, &t, count_cb, &ticks), 0);
	ck_assert_int_eq(tcpchat_timer_start(t, 1000, 1000), 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_usec = 50000;
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	ck_assert_int_eq(tcpchat_loop_run(signal_loop), 0);
	ck_assert_int_eq(signals_seen, 1);
	ck_assert_int_eq(ticks, 0);
	tcpchat_timer_free(t);
	ck_assert_int_eq(tcpchat_loop_free(signal_loop), 0);
}
END_TEST

static void *stop_later(void *arg)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	tcpchat_loop_stop(arg);
	return NULL;
}

START_TEST(stop_from_another_thread)
{
	struct tcpchat_loop *loop;
	struct tcpchat_timer *t;
	pthread_t th;
	int ticks = 0;
	uint64_t start;

	ck_assert_int_eq(tcpchat_loop_create(&loop), 0);
	ck_assert_int_eq(tcpchat_timer_create(loop, &t, count_cb, &ticks), 0);
	ck_assert_int_eq(tcpchat_timer_start(t, 30000, 0), 0);
	start = tcpchat__now_ms();
	ck_assert_int_eq(pthread_create(&th, NULL, stop_later, loop), 0);
	ck_assert_int_eq(tcpchat_loop_run(loop), 0);
	pthread_join(th, NULL);
	ck_assert_int_eq(ticks, 0);
	ck_assert_uint_lt(tcpchat__now_ms() - start, 10000);
	tcpchat_timer_free(t);
	ck_assert_int_eq(tcpchat_loop_free(loop), 0);
}
END_TEST

static void reenter_cb(struct tcpchat_timer *t, void *arg)
{
	struct tcpchat_loop *loop = arg;

	ck_assert_int_eq(tcpchat_loop_run(loop), -EBUSY);
	ck_assert_int_eq(tcpchat_loop_free(loop), -EBUSY);
}

START_TEST(run_is_not_reentrant)
{
	struct tcpchat_loop *loop;
	struct tcpchat_timer *t;

	ck_assert_int_eq(tcpchat_loop_create(&loop), 0);
	ck_assert_int_eq(tcpchat_timer_create(loop, &t, reenter_cb, loop), 0);
	ck_assert_int_eq(tcpchat_timer_start(t, 0, 0), 0);
	ck_assert_int_eq(tcpchat_loop_run(loop), 0);
	tcpchat_timer_free(t);
	ck_assert_int_eq(tcpchat_loop_free(loop), 0);
}
END_TEST

START_TEST(free_is_busy_while_owned_objects_live)
{
	struct tcpchat_loop *loop;
	struct tcpchat_timer *t;
	struct tcpchat_server *srv;

	ck_assert_int_eq(tcpchat_loop_create(&loop), 0);
	ck_assert_int_eq(tcpchat_timer_create(loop, &t, count_cb, NULL), 0);
	ck_assert_int_eq(tcpchat_loop_free(loop), -EBUSY);
	tcpchat_timer_free(t);

	ck_assert_int_eq(tcpchat_server_create(&srv), 0);
	ck_assert_int_eq(tcpchat_server_bind(srv, "127.0.0.1", 0), 0);
	ck_assert_int_eq(tcpchat_server_listen(srv, 0), 0);
	ck_assert_int_eq(tcpchat_server_start(srv, loop), 0);
	ck_assert_int_eq(tcpchat_loop_free(loop), -EBUSY);
	tcpchat_server_free(srv);
	ck_assert_int_eq(tcpchat_loop_free(loop), 0);
}
END_TEST

START_TEST(clock_moves_forward)
{
	struct tcpchat_loop *loop;
	struct tcpchat_timer *t;
	uint64_t before;
	int fired = 0;

	ck_assert_int_eq(tcpchat_loop_create(&loop), 0);
	before = tcpchat_loop_now(loop);
	ck_assert_int_eq(tcpchat_timer_create(loop, &t, count_cb, &fired), 0);
	ck_assert_int_eq(tcpchat_timer_start(t, 20, 0), 0);
	ck_assert_int_eq(tcpchat_loop_run(loop), 0);
	ck_assert_int_eq(fired, 1);
	ck_assert_uint_ge(tcpchat_loop_now(loop), before + 20);
	ck_assert_uint_eq(tcpchat_loop_now(NULL), 0);
	tcpchat_timer_free(t);
	ck_assert_int_eq(tcpchat_loop_free(loop), 0);
}
END_TEST

/* Deferred work runs at the end of the iteration, in order, including work
 * queued by deferred work; queuing twice runs once; a cancelled one never. */
static int deferred_log[8], deferred_n;
static struct tcpchat__deferred d1, d2, d3;

static void log_d2(struct tcpchat__deferred *d) { deferred_log[deferred_n++] = 2; }
static void log_d3(struct tcpchat__deferred *d) { deferred_log[deferred_n++] = 3; }
static struct tcpchat_loop *deferred_loop;
static void log_d1(struct tcpchat__deferred *d)
{
	deferred_log[deferred_n++] = 1;
	tcpchat__loop_defer(deferred_loop, &d2);
}

static void defer_from_timer(struct tcpchat_timer *t, void *arg)
{
	tcpchat__loop_defer(deferred_loop, &d1);
	tcpchat__loop_defer(deferred_loop, &d1);
	tcpchat__loop_defer(deferred_loop, &d3);
	tcpchat__loop_cancel(&d3);
}

START_TEST(deferred_work_runs_once_in_order)
{
	struct tcpchat_timer *t;

	ck_assert_int_eq(tcpchat_loop_create(&deferred_loop), 0);
	tcpchat__deferred_init(&d1, log_d1);
	tcpchat__deferred_init(&d2, log_d2);
	tcpchat__deferred_init(&d3, log_d3);
	ck_assert_int_eq(tcpchat_timer_create(deferred_loop, &t, defer_from_timer, NULL), 0);
	ck_assert_int_eq(tcpchat_timer_start(t, 0, 0), 0);
	ck_assert_int_eq(tcpchat_loop_run(deferred_loop), 0);
	ck_assert_int_eq(deferred_n, 2);
	ck_assert_int_eq(deferred_log[0], 1);
	ck_assert_int_eq(deferred_log[1], 2);
	tcpchat_timer_free(t);
	ck_assert_int_eq(tcpchat_loop_free(deferred_loop), 0);
}
END_TEST

/* A watcher on a pipe sees readability; changing interest from inside a
 * callback of the same batch is honoured. */
struct pipe_watch {
	struct tcpchat__io io;
	int reads;
	struct tcpchat__io *other;
};

static void on_pipe(struct tcpchat_loop *loop, struct tcpchat__io *io, unsigned revents)
{
	struct pipe_watch *w = TCPCHAT__CONTAINER_OF(io, struct pipe_watch, io);
	char c;

	ck_assert_uint_eq(revents, TCPCHAT__READ);
	ck_assert_int_eq(read(io->fd, &c, 1), 1);
	w->reads++;
	/* Unwatch ourselves and the other pipe: the other's pending event in
	 * this batch must not be delivered. */
	ck_assert_int_eq(tcpchat__io_set(loop, io, 0), 0);
	ck_assert_int_eq(tcpchat__io_set(loop, w->other, 0), 0);
	tcpchat_loop_stop(loop);
}

START_TEST(io_interest_changes_within_a_batch)
{
	struct tcpchat_loop *loop;
	struct pipe_watch a, b;
	int pa[2], pb[2];

	ck_assert_int_eq(tcpchat_loop_create(&loop), 0);
	ck_assert_int_eq(pipe(pa), 0);
	ck_assert_int_eq(pipe(pb), 0);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	tcpchat__io_init(&a.io, pa[0], on_pipe);
	tcpchat__io_init(&b.io, pb[0], on_pipe);
	a.other = &b.io;
	b.other = &a.io;
	ck_assert_int_eq(tcpchat__io_set(loop, &a.io, TCPCHAT__READ), 0);
	ck_assert_int_eq(tcpchat__io_set(loop, &b.io, TCPCHAT__READ), 0);
	ck_assert_int_eq(write(pa[1], "x", 1), 1);
	ck_assert_int_eq(write(pb[1], "y", 1), 1);
	loop->alive++; /* the raw watchers are not counted by themselves */
	ck_assert_int_eq(tcpchat_loop_run(loop), 0);
	loop->alive--;
	ck_assert_int_eq(a.reads + b.reads, 1);
	close(pa[0]); close(pa[1]); close(pb[0]); close(pb[1]);
	ck_assert_int_eq(tcpchat_loop_free(loop), 0);
}
END_TEST

START_TEST(no_descriptor_leak)
{
	struct tcpchat_loop *loop;
	int before = test_open_fds(), i;

	for (i = 0; i < 200; i++) {
		ck_assert_int_eq(tcpchat_loop_create(&loop), 0);
		tcpchat_loop_stop(loop);
		ck_assert_int_eq(tcpchat_loop_run(loop), 0);
		ck_assert_int_eq(tcpchat_loop_free(loop), 0);
	}
	ck_assert_int_eq(test_open_fds(), before);
}
END_TEST

/* ------------------------------------------------------------------ */
/* tcpchat_loop_post                                                   */

static void never_called(void *arg)
{
	ck_abort_msg("a dropped post ran");
}

START_TEST(post_contracts)
{
	struct tcpchat_loop *loop;

	ck_assert_int_eq(tcpchat_loop_create(&loop), 0);
	ck_assert_int_eq(tcpchat_loop_post(NULL, never_called, NULL), -EINVAL);
	ck_assert_int_eq(tcpchat_loop_post(loop, NULL, NULL), -EINVAL);
	/* Nothing was queued by the failures: run returns at once. */
	ck_assert_int_eq(tcpchat_loop_run(loop), 0);
	ck_assert_int_eq(tcpchat_loop_free(loop), 0);
}
END_TEST

static pthread_t main_thread;

struct post_log {
	struct tcpchat_loop *loop;
	int ran[8];
	int n;
	bool again;     /* the first call posts one more */
};

static struct post_log plog;

static void log_post(void *arg)
{
	int id = (int)(intptr_t)arg;

	ck_assert(pthread_equal(pthread_self(), main_thread));
	ck_assert_int_lt(plog.n, 8);
	plog.ran[plog.n++] = id;
	if (plog.again) {
		plog.again = false;
		/* From the loop's own thread, while it runs. */
		ck_assert_int_eq(tcpchat_loop_post(plog.loop, log_post, (void *)(intptr_t)9), 0);
	}
}

START_TEST(post_before_run_runs_then_run_returns)
{
	memset(&plog, 0, sizeof(plog));
	main_thread = pthread_self();
	ck_assert_int_eq(tcpchat_loop_create(&plog.loop), 0);
	/* Nothing else keeps the loop alive: the pending posts do. */
	ck_assert_int_eq(tcpchat_loop_post(plog.loop, log_post, (void *)(intptr_t)1), 0);
	ck_assert_int_eq(tcpchat_loop_post(plog.loop, log_post, (void *)(intptr_t)2), 0);
	ck_assert_int_eq(plog.n, 0); /* not run by post itself */
	plog.again = true;
	ck_assert_int_eq(tcpchat_loop_run(plog.loop), 0);
	ck_assert_int_eq(plog.n, 3);
	ck_assert_int_eq(plog.ran[0], 1);
	ck_assert_int_eq(plog.ran[1], 2);
	ck_assert_int_eq(plog.ran[2], 9);
	/* Nothing pending any more: the next run returns at once. */
	ck_assert_int_eq(tcpchat_loop_run(plog.loop), 0);
	ck_assert_int_eq(plog.n, 3);
	ck_assert_int_eq(tcpchat_loop_free(plog.loop), 0);
}
END_TEST

/* 4 threads post 250 calls each while a timer keeps the loop alive. */
enum { POSTERS = 4, PER_POSTER = 250 };

struct post_arg {
	int thread, seq;
};

static struct {
	struct tcpchat_loop *loop;
	struct post_arg args[POSTERS][PER_POSTER];
	int ran[POSTERS][PER_POSTER];
	int next[POSTERS];       /* the seq expected next from each thread */
	int total;
	int out_of_order, wrong_thread;
	int failed_posts;
	pthread_barrier_t go;
} mt;

static void mt_call(void *arg)
{
	struct post_arg *a = arg;

	if (!pthread_equal(pthread_self(), main_thread))
		mt.wrong_thread++;
	if (a->seq != mt.next[a->thread])
		mt.out_of_order++;
	mt.next[a->thread] = a->seq + 1;
	mt.ran[a->thread][a->seq]++;
	if (++mt.total == POSTERS * PER_POSTER)
		tcpchat_loop_stop(mt.loop);
}

static void *poster_main(void *arg)
{
	int t = (int)(intptr_t)arg, i;

	pthread_barrier_wait(&mt.go);
	for (i = 0; i < PER_POSTER; i++) {
		mt.args[t][i].thread = t;
		mt.args[t][i].seq = i;
		if (tcpchat_loop_post(mt.loop, mt_call, &mt.args[t][i]) != 0)
			__atomic_fetch_add(&mt.failed_posts, 1, __ATOMIC_SEQ_CST);
		if (i % 50 == 0)
			sched_yield();
	}
	return NULL;
}

START_TEST(posts_from_threads_run_once_in_order)
{
	struct tcpchat_timer *t;
	pthread_t th[POSTERS];
	int i, j, ticks = 0;

	memset(&mt, 0, sizeof(mt));
	main_thread = pthread_self();
	ck_assert_int_eq(tcpchat_loop_create(&mt.loop), 0);
	ck_assert_int_eq(tcpchat_timer_create(mt.loop, &t, count_cb, &ticks), 0);
	ck_assert_int_eq(tcpchat_timer_start(t, 60000, 0), 0); /* keeps it alive */
	ck_assert_int_eq(pthread_barrier_init(&mt.go, NULL, POSTERS), 0);
	for (i = 0; i < POSTERS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, poster_main, (void *)(intptr_t)i), 0);
	ck_assert_int_eq(tcpchat_loop_run(mt.loop), 0);
	for (i = 0; i < POSTERS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&mt.go);
	ck_assert_int_eq(mt.failed_posts, 0);
	ck_assert_int_eq(mt.total, POSTERS * PER_POSTER);
	ck_assert_int_eq(mt.wrong_thread, 0);
	ck_assert_int_eq(mt.out_of_order, 0);
	for (i = 0; i < POSTERS; i++)
		for (j = 0; j < PER_POSTER; j++)
			ck_assert_int_eq(mt.ran[i][j], 1);
	ck_assert_int_eq(ticks, 0); /* the stop came from the last post */
	tcpchat_timer_free(t);
	ck_assert_int_eq(tcpchat_loop_free(mt.loop), 0);
}
END_TEST

START_TEST(posts_pending_at_free_are_dropped)
{
	struct tcpchat_loop *loop;
	int i;

	ck_assert_int_eq(tcpchat_loop_create(&loop), 0);
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(tcpchat_loop_post(loop, never_called, NULL), 0);
	/* Freed with the calls pending: none runs, nothing leaks (valgrind). */
	ck_assert_int_eq(tcpchat_loop_free(loop), 0);

	/* Also when a run left one behind: a stop requested before the run
	 * makes it return at once, before the post. */
	memset(&plog, 0, sizeof(plog));
	main_thread = pthread_self();
	ck_assert_int_eq(tcpchat_loop_create(&plog.loop), 0);
	ck_assert_int_eq(tcpchat_loop_post(plog.loop, log_post, (void *)(intptr_t)1), 0);
	tcpchat_loop_stop(plog.loop);
	ck_assert_int_eq(tcpchat_loop_run(plog.loop), 0);
	ck_assert_int_eq(tcpchat_loop_free(plog.loop), 0);
	ck_assert_int_eq(plog.n, 0);
}
END_TEST

static Suite *loop_suite(void)
{
	Suite *s = suite_create("loop");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, create_free_contracts);
	tcase_add_test(tc, run_with_nothing_returns);
	tcase_add_test(tc, stop_before_run_returns_at_once);
	tcase_add_test(tc, stop_from_signal_handler);
	tcase_add_test(tc, stop_from_another_thread);
	tcase_add_test(tc, run_is_not_reentrant);
	tcase_add_test(tc, free_is_busy_while_owned_objects_live);
	tcase_add_test(tc, clock_moves_forward);
	tcase_add_test(tc, deferred_work_runs_once_in_order);
	tcase_add_test(tc, io_interest_changes_within_a_batch);
	tcase_add_test(tc, no_descriptor_leak);
	tcase_add_test(tc, post_contracts);
	tcase_add_test(tc, post_before_run_runs_then_run_returns);
	tcase_add_test(tc, posts_from_threads_run_once_in_order);
	tcase_add_test(tc, posts_pending_at_free_are_dropped);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(loop_suite)
