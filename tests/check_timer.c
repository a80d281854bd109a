/* check_timer.c - timers: deadlines, order, repeat, stop/restart/free from
 * their own callback, no starvation by a 0 ms timer, heap order at scale. */
#include "internal.h"

#include "loop.h"
#include "testutil.h"

struct rec {
	struct tcpchat_loop *loop;
	int log[2048];
	int n;
};

struct tagged {
	struct tcpchat_timer *t;
	struct rec *rec;
	int tag;
	uint64_t fired_at;
};

static void record_cb(struct tcpchat_timer *t, void *arg)
{
	struct tagged *tg = arg;

	tg->rec->log[tg->rec->n++] = tg->tag;
	tg->fired_at = tcpchat_loop_now(tg->rec->loop);
}

static void noop_cb(struct tcpchat_timer *t, void *arg)
{
}

START_TEST(create_contracts)
{
	struct tcpchat_loop *loop;
	struct tcpchat_timer *t = NULL;

	ck_assert_int_eq(tcpchat_loop_create(&loop), 0);
	ck_assert_int_eq(tcpchat_timer_create(NULL, &t, noop_cb, NULL), -EINVAL);
	ck_assert_int_eq(tcpchat_timer_create(loop, NULL, noop_cb, NULL), -EINVAL);
	ck_assert_int_eq(tcpchat_timer_create(loop, &t, NULL, NULL), -EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(tcpchat_timer_start(NULL, 1, 0), -EINVAL);
	tcpchat_timer_stop(NULL);
	tcpchat_timer_free(NULL);
	ck_assert_int_eq(tcpchat_loop_free(loop), 0);
}
END_TEST

START_TEST(one_shot_fires_once_not_early)
{
	struct rec rec = { 0 };
	struct tagged a = { NULL, &rec, 1, 0 };
	uint64_t start;

	ck_assert_int_eq(tcpchat_loop_create(&rec.loop), 0);
	ck_assert_int_eq(tcpchat_timer_create(rec.loop, &a.t, record_cb, &a), 0);
	start = tcpchat_loop_now(rec.loop);
	ck_assert_int_eq(tcpchat_timer_start(a.t, 50, 0), 0);
	ck_assert_int_eq(tcpchat_loop_run(rec.loop), 0);
	ck_assert_int_eq(rec.n, 1);
	ck_assert_uint_ge(a.fired_at, start + 50);
	tcpchat_timer_free(a.t);
	ck_assert_int_eq(tcpchat_loop_free(rec.loop), 0);
}
END_TEST

START_TEST(order_by_deadline_then_start)
{
	struct rec rec = { 0 };
	struct tagged tg[4];
	int i;

	ck_assert_int_eq(tcpchat_loop_create(&rec.loop), 0);
	for (i = 0; i < 4; i++) {
		tg[i].rec = &rec;
		tg[i].tag = i;
		ck_assert_int_eq(tcpchat_timer_create(rec.loop, &tg[i].t, record_cb, &tg[i]), 0);
	}
	ck_assert_int_eq(tcpchat_timer_start(tg[0].t, 30, 0), 0);
	ck_assert_int_eq(tcpchat_timer_start(tg[1].t, 10, 0), 0);
	ck_assert_int_eq(tcpchat_timer_start(tg[2].t, 10, 0), 0); /* tie: after 1 */
	ck_assert_int_eq(tcpchat_timer_start(tg[3].t, 20, 0), 0);
	ck_assert_int_eq(tcpchat_loop_run(rec.loop), 0);
	ck_assert_int_eq(rec.n, 4);
	ck_assert_int_eq(rec.log[0], 1);
	ck_assert_int_eq(rec.log[1], 2);
	ck_assert_int_eq(rec.log[2], 3);
	ck_assert_int_eq(rec.log[3], 0);
	for (i = 0; i < 4; i++)
		tcpchat_timer_free(tg[i].t);
	ck_assert_int_eq(tcpchat_loop_free(rec.loop), 0);
}
END_TEST

START_TEST(stop_and_restart)
{
	struct rec rec = { 0 };
	struct tagged a = { NULL, &rec, 7, 0 }, b = { NULL, &rec, 8, 0 };
	uint64_t start;

	ck_assert_int_eq(tcpchat_loop_create(&rec.loop), 0);
	ck_assert_int_eq(tcpchat_timer_create(rec.loop, &a.t, record_cb, &a), 0);
	ck_assert_int_eq(tcpchat_timer_create(rec.loop, &b.t, record_cb, &b), 0);
	ck_assert_int_eq(tcpchat_timer_start(a.t, 10, 0), 0);
	tcpchat_timer_stop(a.t);
	tcpchat_timer_stop(a.t); /* stopping a stopped timer does nothing */
	start = tcpchat_loop_now(rec.loop);
	ck_assert_int_eq(tcpchat_timer_start(b.t, 10, 0), 0);
	ck_assert_int_eq(tcpchat_timer_start(b.t, 40, 0), 0); /* restart moves it */
	ck_assert_int_eq(tcpchat_loop_run(rec.loop), 0);
	ck_assert_int_eq(rec.n, 1);
	ck_assert_int_eq(rec.log[0], 8);
	ck_assert_uint_ge(b.fired_at, start + 40);
	tcpchat_timer_free(a.t);
	tcpchat_timer_free(b.t);
	ck_assert_int_eq(tcpchat_loop_free(rec.loop), 0);
}
END_TEST

struct repeat {
	struct tcpchat_timer *t;
	int count, limit;
	bool free_self;
};

static void repeat_cb(struct tcpchat_timer *t, void *arg)
{
	struct repeat *r = arg;

	if (++r->count < r->limit)
		return;
	if (r->free_self) {
		tcpchat_timer_free(t); /* ASan would catch a later touch */
		r->t = NULL;
	} else {
		tcpchat_timer_stop(t);
	}
}

START_TEST(repeat_until_stopped_or_freed_in_callback)
{
	struct tcpchat_loop *loop;
	struct repeat r = { NULL, 0, 5, false }, f = { NULL, 0, 3, true };

	ck_assert_int_eq(tcpchat_loop_create(&loop), 0);
	ck_assert_int_eq(tcpchat_timer_create(loop, &r.t, repeat_cb, &r), 0);
	ck_assert_int_eq(tcpchat_timer_create(loop, &f.t, repeat_cb, &f), 0);
	ck_assert_int_eq(tcpchat_timer_start(r.t, 1, 2), 0);
	ck_assert_int_eq(tcpchat_timer_start(f.t, 0, 1), 0);
	ck_assert_int_eq(tcpchat_loop_run(loop), 0);
	ck_assert_int_eq(r.count, 5);
	ck_assert_int_eq(f.count, 3);
	ck_assert_ptr_null(f.t);
	tcpchat_timer_free(r.t);
	ck_assert_int_eq(tcpchat_loop_free(loop), 0);
}
END_TEST

/* A timer that restarts itself with 0 ms must not keep the loop inside one
 * iteration: a second timer still fires and stops the loop. */
static void zero_again(struct tcpchat_timer *t, void *arg)
{
	(*(int *)arg)++;
	tcpchat_timer_start(t, 0, 0);
}

static void stop_loop_cb(struct tcpchat_timer *t, void *arg)
{
	tcpchat_loop_stop(arg);
}

START_TEST(zero_timeout_restart_does_not_starve)
{
	struct tcpchat_loop *loop;
	struct tcpchat_timer *spin, *stopper;
	int spins = 0;

	ck_assert_int_eq(tcpchat_loop_create(&loop), 0);
	ck_assert_int_eq(tcpchat_timer_create(loop, &spin, zero_again, &spins), 0);
	ck_assert_int_eq(tcpchat_timer_create(loop, &stopper, stop_loop_cb, loop), 0);
	ck_assert_int_eq(tcpchat_timer_start(spin, 0, 0), 0);
	ck_assert_int_eq(tcpchat_timer_start(stopper, 30, 0), 0);
	ck_assert_int_eq(tcpchat_loop_run(loop), 0);
	ck_assert_int_gt(spins, 1);
	tcpchat_timer_free(spin);
	tcpchat_timer_free(stopper);
	ck_assert_int_eq(tcpchat_loop_free(loop), 0);
}
END_TEST

/* Many timers with scattered deadlines, some stopped, fire in order. */
START_TEST(heap_order_at_scale)
{
	enum { N = 1000 };
	static struct tagged tg[N];
	static struct rec rec;
	unsigned seed = 12345;
	int i;

	memset(&rec, 0, sizeof(rec));
	ck_assert_int_eq(tcpchat_loop_create(&rec.loop), 0);
	for (i = 0; i < N; i++) {
		tg[i].rec = &rec;
		tg[i].tag = i;
		ck_assert_int_eq(tcpchat_timer_create(rec.loop, &tg[i].t, record_cb, &tg[i]), 0);
		seed = seed * 1103515245u + 12345u;
		ck_assert_int_eq(tcpchat_timer_start(tg[i].t, (seed >> 16) % 50, 0), 0);
	}
	for (i = 0; i < N; i += 3)
		tcpchat_timer_stop(tg[i].t);
	ck_assert_int_eq(tcpchat_loop_run(rec.loop), 0);
	ck_assert_int_eq(rec.n, N - (N + 2) / 3);
	for (i = 1; i < rec.n; i++) {
		struct tagged *p = &tg[rec.log[i - 1]], *q = &tg[rec.log[i]];
		ck_assert(p->t->deadline < q->t->deadline ||
		          (p->t->deadline == q->t->deadline && p->t->seq < q->t->seq));
	}
	for (i = 0; i < N; i++)
		tcpchat_timer_free(tg[i].t);
	ck_assert_int_eq(tcpchat_loop_free(rec.loop), 0);
}
END_TEST

static Suite *timer_suite(void)
{
	Suite *s = suite_create("timer");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, create_contracts);
	tcase_add_test(tc, one_shot_fires_once_not_early);
	tcase_add_test(tc, order_by_deadline_then_start);
	tcase_add_test(tc, stop_and_restart);
	tcase_add_test(tc, repeat_until_stopped_or_freed_in_callback);
	tcase_add_test(tc, zero_timeout_restart_does_not_starve);
	tcase_add_test(tc, heap_order_at_scale);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(timer_suite)
