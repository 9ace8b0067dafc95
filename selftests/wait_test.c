// SPDX-License-Identifier: GPL-2.0
/*
 * wait_test: KDISPOSE_IOC_WAIT, WaitForMultipleObjects on events of one
 * table. Each test checks one behaviour of the UAPI's kernel-doc and of
 * Documentation/sharing.md: which index a wait for any returns and which
 * signal it consumes, when a wait for all returns and that it consumes all
 * auto-reset signals or none (all_atomic_race), timeouts, signals, handles
 * disposed before or during the wait, bad handles with their index, the
 * argument checks, 64 events, and events imported from another table.
 *
 * Waiters that must sleep run in threads that record their result; the
 * main thread checks it once the waiter's task sleeps in the ioctl
 * (/proc/TID/syscall), so a signal or a dispose really meets a sleeping
 * waiter. The fixture teardown checks that every event was released.
 */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>

#include "kdispose_test.h"

#define MS		1000000ULL	/* nanoseconds */
#define FOREVER		(~0ULL)

KD_T_DEV_FIXTURE(wait, KDISPOSE_TYPE_EVENT);

/* @n events with KDISPOSE_EVENT_* @flags. Return: 0 or -errno. */
static int events(int fd, __u64 flags, __u64 *h, int n)
{
	int i, ret;

	for (i = 0; i < n; i++) {
		ret = kd_t_event(fd, 0, flags, &h[i]);
		if (ret)
			return ret;
	}
	return 0;
}

/* Wait for any, with the index written to *@index. */
static int wait_any(int fd, const __u64 *h, __u32 n, __u64 timeout,
		    __u32 *index)
{
	return kd_t_wait(fd, h, n, 0, timeout, index);
}

static int wait_all(int fd, const __u64 *h, __u32 n, __u64 timeout,
		    __u32 *index)
{
	return kd_t_wait(fd, h, n, KDISPOSE_WAIT_ALL, timeout, index);
}

/* One waiting thread: its arguments, then what it saw. */
struct waiter {
	pthread_t thread;
	int fd;
	const __u64 *handles;
	__u32 count;
	__u32 flags;
	__u64 timeout;
	pid_t tid;	/* set by the thread before it waits */
	int ret;	/* kd_t_wait()'s result */
	__u32 index;	/* the struct's index after the call */
	int done;	/* set (atomically) after @ret and @index */
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	__atomic_store_n(&w->tid, syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	w->ret = kd_t_wait(w->fd, w->handles, w->count, w->flags, w->timeout,
			   &w->index);
	__atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* Start a waiter and wait until it sleeps in the ioctl. Return: 0 or -1. */
static int waiter_start(struct waiter *w, int fd, const __u64 *h, __u32 n,
			__u32 flags, __u64 timeout)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->handles = h;
	w->count = n;
	w->flags = flags;
	w->timeout = timeout;
	if (pthread_create(&w->thread, NULL, waiter_main, w))
		return -1;
	while (!__atomic_load_n(&w->tid, __ATOMIC_SEQ_CST))
		usleep(100);
	return kd_t_wait_asleep(w->tid, SYS_ioctl) ? 0 : -1;
}

static bool waiter_done(struct waiter *w)
{
	return __atomic_load_n(&w->done, __ATOMIC_SEQ_CST);
}

static void on_sigusr1(int sig)
{
}

/* SIGUSR1 interrupts a wait and does nothing else. */
static int catch_sigusr1(int sa_flags)
{
	struct sigaction sa = { .sa_handler = on_sigusr1,
				.sa_flags = sa_flags };

	return sigaction(SIGUSR1, &sa, NULL);
}

/* --- wait for any ---------------------------------------------------- */

TEST_F(wait, any_returns_lowest_signaled_index)
{
	__u32 index;
	__u64 h[4];

	ASSERT_EQ(0, events(self->fd, 0, h, 4));
	ASSERT_EQ(0, kd_t_event_signal(self->fd, h[3]));
	ASSERT_EQ(0, kd_t_event_signal(self->fd, h[1]));
	EXPECT_EQ(1, wait_any(self->fd, h, 4, 0, &index));
	EXPECT_EQ(1, index);
}

/* The index is the position in the array, not the handle's order. */
TEST_F(wait, any_index_is_array_order)
{
	__u64 h[2], arr[2];
	__u32 index;

	ASSERT_EQ(0, events(self->fd, KDISPOSE_EVENT_SIGNALED, h, 2));
	arr[0] = h[1];
	arr[1] = h[0];
	EXPECT_EQ(0, wait_any(self->fd, arr, 2, 0, &index));
	EXPECT_EQ(0, index);
}

TEST_F(wait, any_consumes_only_the_returned_auto_reset_signal)
{
	__u64 h[4];

	ASSERT_EQ(0, events(self->fd, KDISPOSE_EVENT_AUTO_RESET, h, 4));
	ASSERT_EQ(0, kd_t_event_signal(self->fd, h[1]));
	ASSERT_EQ(0, kd_t_event_signal(self->fd, h[3]));
	ASSERT_EQ(1, wait_any(self->fd, h, 4, 0, NULL));
	EXPECT_EQ(0, kd_t_event_signaled(self->fd, h[1]));
	EXPECT_EQ(1, kd_t_event_signaled(self->fd, h[3]));
	EXPECT_EQ(3, wait_any(self->fd, h, 4, 0, NULL));
	EXPECT_EQ(0, kd_t_event_signaled(self->fd, h[3]));
	EXPECT_EQ(-ETIMEDOUT, wait_any(self->fd, h, 4, 0, NULL));
}

TEST_F(wait, any_manual_reset_not_consumed)
{
	__u64 h[3];

	ASSERT_EQ(0, events(self->fd, 0, h, 3));
	ASSERT_EQ(0, kd_t_event_signal(self->fd, h[2]));
	EXPECT_EQ(2, wait_any(self->fd, h, 3, 0, NULL));
	EXPECT_EQ(2, wait_any(self->fd, h, 3, FOREVER, NULL));
	EXPECT_EQ(1, kd_t_event_signaled(self->fd, h[2]));
}

TEST_F(wait, any_wakes_on_signal_with_its_index)
{
	struct waiter w;
	__u64 h[3];

	ASSERT_EQ(0, events(self->fd, KDISPOSE_EVENT_AUTO_RESET, h, 3));
	ASSERT_EQ(0, waiter_start(&w, self->fd, h, 3, 0, FOREVER));
	ASSERT_EQ(0, kd_t_event_signal(self->fd, h[2]));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(2, w.ret);
	EXPECT_EQ(2, w.index);
	EXPECT_EQ(0, kd_t_event_signaled(self->fd, h[2]));
}

/* Only a wait for all rejects a repeated handle. */
TEST_F(wait, any_same_handle_twice_allowed)
{
	__u64 h, arr[2];

	ASSERT_EQ(0, kd_t_event(self->fd, 0, KDISPOSE_EVENT_SIGNALED, &h));
	arr[0] = h;
	arr[1] = h;
	EXPECT_EQ(0, wait_any(self->fd, arr, 2, 0, NULL));
}

/* --- wait for all ---------------------------------------------------- */

TEST_F(wait, all_returns_zero_when_every_event_signaled)
{
	__u64 h[3];

	ASSERT_EQ(0, events(self->fd, KDISPOSE_EVENT_SIGNALED, h, 3));
	EXPECT_EQ(0, wait_all(self->fd, h, 3, 0, NULL));
}

/* Two of three set: the wait times out and consumes neither. */
TEST_F(wait, all_partly_signaled_times_out_consuming_nothing)
{
	__u64 h[3];

	ASSERT_EQ(0, events(self->fd, KDISPOSE_EVENT_AUTO_RESET, h, 3));
	ASSERT_EQ(0, kd_t_event_signal(self->fd, h[0]));
	ASSERT_EQ(0, kd_t_event_signal(self->fd, h[2]));
	EXPECT_EQ(-ETIMEDOUT, wait_all(self->fd, h, 3, 0, NULL));
	EXPECT_EQ(-ETIMEDOUT, wait_all(self->fd, h, 3, 20 * MS, NULL));
	EXPECT_EQ(1, kd_t_event_signaled(self->fd, h[0]));
	EXPECT_EQ(0, kd_t_event_signaled(self->fd, h[1]));
	EXPECT_EQ(1, kd_t_event_signaled(self->fd, h[2]));
}

TEST_F(wait, all_consumes_every_auto_reset_signal)
{
	__u64 h[3];
	int i;

	ASSERT_EQ(0, events(self->fd, KDISPOSE_EVENT_SIGNALED |
			    KDISPOSE_EVENT_AUTO_RESET, h, 3));
	ASSERT_EQ(0, wait_all(self->fd, h, 3, 0, NULL));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, kd_t_event_signaled(self->fd, h[i]))
			TH_LOG("event %d", i);
	EXPECT_EQ(-ETIMEDOUT, wait_all(self->fd, h, 3, 0, NULL));
}

TEST_F(wait, all_keeps_manual_reset_signals)
{
	__u64 h[3];

	ASSERT_EQ(0, kd_t_event(self->fd, 0, KDISPOSE_EVENT_SIGNALED, &h[0]));
	ASSERT_EQ(0, kd_t_event(self->fd, 0, KDISPOSE_EVENT_SIGNALED |
				KDISPOSE_EVENT_AUTO_RESET, &h[1]));
	ASSERT_EQ(0, kd_t_event(self->fd, 0, KDISPOSE_EVENT_SIGNALED, &h[2]));
	ASSERT_EQ(0, wait_all(self->fd, h, 3, 0, NULL));
	EXPECT_EQ(1, kd_t_event_signaled(self->fd, h[0]));
	EXPECT_EQ(0, kd_t_event_signaled(self->fd, h[1]));
	EXPECT_EQ(1, kd_t_event_signaled(self->fd, h[2]));
}

/*
 * A sleeping wait for all returns only after the last of its events is
 * signaled, and leaves the first ones set while it waits.
 */
TEST_F(wait, all_wakes_only_when_the_last_is_signaled)
{
	struct waiter w;
	__u64 h[3];
	int i;

	ASSERT_EQ(0, events(self->fd, KDISPOSE_EVENT_AUTO_RESET, h, 3));
	ASSERT_EQ(0, waiter_start(&w, self->fd, h, 3, KDISPOSE_WAIT_ALL,
				  FOREVER));
	ASSERT_EQ(0, kd_t_event_signal(self->fd, h[0]));
	ASSERT_EQ(0, kd_t_event_signal(self->fd, h[2]));
	ASSERT_TRUE(kd_t_wait_asleep(w.tid, SYS_ioctl));
	usleep(50000);
	EXPECT_FALSE(waiter_done(&w));
	EXPECT_EQ(1, kd_t_event_signaled(self->fd, h[0]));
	EXPECT_EQ(1, kd_t_event_signaled(self->fd, h[2]));
	ASSERT_EQ(0, kd_t_event_signal(self->fd, h[1]));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(0, w.ret);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, kd_t_event_signaled(self->fd, h[i]))
			TH_LOG("event %d", i);
}

/* "Not written for other results": a wait for all that succeeds. */
TEST_F(wait, all_success_leaves_index_alone)
{
	__u32 index;
	__u64 h[2];

	ASSERT_EQ(0, events(self->fd, KDISPOSE_EVENT_SIGNALED, h, 2));
	ASSERT_EQ(0, wait_all(self->fd, h, 2, 0, &index));
	EXPECT_EQ((__u32)KD_T_UNTOUCHED, index);
}

/*
 * The race of the brief: a wait for all competing for auto-reset signals
 * with two waits for any, two single-event waits (KDISPOSE_OP_EVENT_WAIT)
 * and an event loop (poll() + non-blocking read() of an export fd), while
 * the signals come before or during the waits.
 *
 * The wait for all waits on KDISPOSE_WAIT_MAX events, in an order unlike
 * their creation: RACE_CONTESTED auto-reset events that every other waiter
 * wants too, RACE_PRIVATE auto-reset events that only it waits on, and
 * manual-reset events that stay signaled (they make it look at many events
 * for each try: the window a broken wait for all leaves open). Each round
 * the main thread signals every private event (a no-op for one still set)
 * and each contested event exactly once: before the waiters start (even
 * rounds) or through two signaling threads while they start (odd rounds).
 * The wait for all has a CPU to itself; the others share another and start
 * after a delay that the main thread steers until the wait for all wins
 * about half of the even rounds, which is where the others reach the
 * contested events while the wait for all looks at and takes them. Every
 * waiter counts, whenever a wait returns, one consumption for each event
 * it took (all the auto-reset ones for the wait for all). The round ends
 * when the contested events have been consumed: the main thread disposes
 * the round's stop handles, which every wait includes (a signaled
 * manual-reset event for the wait for all, an unsignaled one for the waits
 * for any, the single waits' own imported handles of their events), so
 * that they all end with EIDRM, and wakes the event loop.
 *
 * Conservation, checked after each round: each contested event was
 * signaled once while clear (the previous round left it clear, checked),
 * so it was consumed exactly once and is clear; each private event was
 * consumed once if the wait for all returned in the round, else not at
 * all and it is still signaled. A wait for all that takes signals one at
 * a time without claiming the events first returns 0 after another waiter
 * took one of its events (consumed twice); one that consumes some and then
 * gives up loses them (consumed 0, clear). The test also requires that the
 * wait for all both won and lost rounds: otherwise it did not compete.
 */
#define RACE_CONTESTED	2
#define RACE_PRIVATE	30
#define RACE_AUTO	(RACE_CONTESTED + RACE_PRIVATE)
#define RACE_EVENTS	(KDISPOSE_WAIT_MAX - 1)	/* and a stop handle */
#define RACE_MANUAL	(RACE_EVENTS - RACE_AUTO)
#define RACE_ROUNDS	5000
#define RACE_DEADLINE	(5000 * MS)
#define RACE_STOP	(-1)	/* the round's stop handle, in racer->ev[] */

enum racer_kind { RACER_ALL, RACER_ANY, RACER_SINGLE, RACER_LOOP,
		  RACER_SIGNAL };

/* Events 0 .. RACE_CONTESTED - 1 are contested, then private, then manual. */
struct race {
	int fd;
	__u64 ev[RACE_EVENTS];
	int efd[RACE_CONTESTED];	/* export fds of the contested events */
	int stopfd;			/* an eventfd: the event loop's stop */
	__u64 stop_all;			/* this round's stop handles: */
	__u64 stop_any;
	__u64 single[RACE_CONTESTED];
	pthread_barrier_t start;	/* main and every racer: round begins */
	pthread_barrier_t end;		/* the same: round over */
	uint64_t cost_ns;		/* what a wait for all costs */
	uint64_t delay_ns;		/* the other racers' start after it */
	int concurrent;			/* the signalers signal, not main */
	int stop;			/* the round is over */
	int quit;			/* no more rounds */
	unsigned int consumed[RACE_EVENTS];	/* this round, per event */
	int error;			/* a racer's unexpected result */
	char why[128];
};

struct racer {
	struct race *race;
	enum racer_kind kind;
	int ev[KDISPOSE_WAIT_MAX];	/* indexes of race->ev, or RACE_STOP */
	__u64 handles[KDISPOSE_WAIT_MAX];	/* their handles, in order */
	__u32 n;
	unsigned int seed;
	unsigned long wins;		/* waits that consumed */
	int cpu;			/* the CPU it runs on, or -1 */
	pthread_t thread;
};

static void race_fail(struct race *r, const char *what, long ret)
{
	if (!__atomic_exchange_n(&r->error, 1, __ATOMIC_SEQ_CST))
		snprintf(r->why, sizeof(r->why), "%s returned %ld%s", what,
			 ret, __atomic_load_n(&r->stop, __ATOMIC_SEQ_CST) ?
			 "" : " before the round's end");
}

static void race_consume(struct race *r, int ev)
{
	if (ev >= 0 && ev < RACE_AUTO)
		__atomic_add_fetch(&r->consumed[ev], 1, __ATOMIC_SEQ_CST);
}

/* EIDRM of the stop handle ends a racer's round; anything else is wrong. */
static int racer_end(struct racer *c, const char *what, long ret,
		     __u32 index)
{
	struct race *r = c->race;

	if (ret == -EIDRM && __atomic_load_n(&r->stop, __ATOMIC_SEQ_CST) &&
	    (c->kind == RACER_SINGLE || index == c->n - 1))
		return 1;
	race_fail(r, what, ret);
	return -1;
}

/* The event loop: poll the export fd and the stop fd, read when ready. */
static int racer_loop_once(struct racer *c)
{
	struct race *r = c->race;
	struct pollfd p[2] = {
		{ .fd = r->efd[c->ev[0]], .events = POLLIN },
		{ .fd = r->stopfd, .events = POLLIN },
	};
	__u64 value;
	ssize_t len;

	if (poll(p, 2, -1) < 0) {
		race_fail(r, "poll", -errno);
		return -1;
	}
	if (p[1].revents)
		return 1;
	if (p[0].revents != POLLIN) {
		race_fail(r, "poll of the export fd (revents)", p[0].revents);
		return -1;
	}
	/* Another waiter may have taken the signal since: EAGAIN. */
	len = read(p[0].fd, &value, sizeof(value));
	if (len == sizeof(value) && value == 1) {
		race_consume(r, c->ev[0]);
		c->wins++;
		return 0;
	}
	if (len < 0 && errno == EAGAIN)
		return 0;
	race_fail(r, "read of the export fd", len < 0 ? -errno : len);
	return -1;
}

/*
 * One wait of a racer.
 * Return: 0 (wait again), 1 (the round is over) or -1 (a failure).
 */
static int racer_wait_once(struct racer *c)
{
	struct race *r = c->race;
	__u64 args[4] = { FOREVER };
	__u32 index = 0;
	long ret;
	__u32 i;

	switch (c->kind) {
	case RACER_ALL:
		ret = wait_all(r->fd, c->handles, c->n, FOREVER, &index);
		if (ret)
			return racer_end(c, "wait for all", ret, index);
		for (i = 0; i < c->n; i++)
			race_consume(r, c->ev[i]);
		c->wins++;
		return 0;
	case RACER_ANY:
		ret = wait_any(r->fd, c->handles, c->n, FOREVER, &index);
		if (ret < 0)
			return racer_end(c, "wait for any", ret, index);
		if (ret >= c->n - 1 || index != ret) {
			race_fail(r, "wait for any (bad index)", ret);
			return -1;
		}
		race_consume(r, c->ev[ret]);
		c->wins++;
		return 0;
	case RACER_SINGLE:
		ret = kd_t_op(r->fd, c->handles[0], KDISPOSE_OP_EVENT_WAIT,
			      args);
		if (ret)
			return racer_end(c, "KDISPOSE_OP_EVENT_WAIT", ret, 0);
		race_consume(r, c->ev[0]);
		c->wins++;
		return 0;
	case RACER_LOOP:
		return racer_loop_once(c);
	default:
		return -1;
	}
}

static void racer_signal(struct racer *c)
{
	struct race *r = c->race;
	__u32 i;
	int ret;

	for (i = 0; i < c->n; i++) {
		ret = kd_t_event_signal(r->fd, c->handles[i]);
		if (ret)
			race_fail(r, "signal", ret);
	}
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Run the calling thread on @cpu only (nothing when @cpu is negative). */
static void pin_to(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* This round's stop handles into the racer's arrays. */
static void racer_round(struct racer *c)
{
	struct race *r = c->race;

	if (c->kind == RACER_ALL)
		c->handles[c->n - 1] = r->stop_all;
	else if (c->kind == RACER_ANY)
		c->handles[c->n - 1] = r->stop_any;
	else if (c->kind == RACER_SINGLE)
		c->handles[0] = r->single[c->ev[0]];
}

static void *racer_main(void *arg)
{
	struct racer *c = arg;
	struct race *r = c->race;
	uint64_t until;

	pin_to(c->cpu);
	for (;;) {
		pthread_barrier_wait(&r->start);
		if (__atomic_load_n(&r->quit, __ATOMIC_SEQ_CST))
			break;
		racer_round(c);
		if (c->kind != RACER_ALL) {
			until = kd_t_now_ns() +
				__atomic_load_n(&r->delay_ns, __ATOMIC_SEQ_CST) +
				(uint64_t)rand_r(&c->seed) %
				(r->cost_ns / 4 + 1);
			while (kd_t_now_ns() < until)
				;
		}
		if (c->kind == RACER_SIGNAL) {
			if (__atomic_load_n(&r->concurrent, __ATOMIC_SEQ_CST))
				racer_signal(c);
		} else {
			while (!racer_wait_once(c))
				;
		}
		pthread_barrier_wait(&r->end);
	}
	return NULL;
}

/* A racer on the events @ev, and a stop handle after them if @stop. */
static void racer_init(struct racer *c, struct race *r,
		       enum racer_kind kind, const int *ev, int n, bool stop)
{
	int i;

	c->race = r;
	c->kind = kind;
	c->n = n + stop;
	c->cpu = -1;
	c->seed = 0x5eed + kind * 7 + n * 31 + ev[0] * 131;
	for (i = 0; i < n; i++) {
		c->ev[i] = ev[i];
		c->handles[i] = r->ev[ev[i]];
	}
	if (stop)
		c->ev[n] = RACE_STOP;
}

static unsigned int race_contested_sum(struct race *r)
{
	unsigned int sum = 0;
	int e;

	for (e = 0; e < RACE_CONTESTED; e++)
		sum += __atomic_load_n(&r->consumed[e], __ATOMIC_SEQ_CST);
	return sum;
}

static int race_signal_private(struct race *r)
{
	int e, ret;

	for (e = RACE_CONTESTED; e < RACE_AUTO; e++) {
		ret = kd_t_event_signal(r->fd, r->ev[e]);
		if (ret)
			return ret;
	}
	return 0;
}

/* Make the round's stop handles. Return: 0 or -errno. */
static int race_stop_make(struct race *r)
{
	__u64 v;
	int e, ret;

	if (read(r->stopfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	ret = kd_t_event(r->fd, 0, KDISPOSE_EVENT_SIGNALED, &r->stop_all);
	if (!ret)
		ret = kd_t_event(r->fd, 0, 0, &r->stop_any);
	for (e = 0; !ret && e < RACE_CONTESTED; e++)
		ret = kd_t_import(r->fd, r->efd[e], KDISPOSE_TYPE_EVENT, 0,
				  "single", &r->single[e]);
	return ret;
}

/* End the round: every waiter's stop handle goes. Return: 0 or -errno. */
static int race_stop(struct race *r)
{
	__u64 one = 1;
	int e, ret;

	__atomic_store_n(&r->stop, 1, __ATOMIC_SEQ_CST);
	ret = kd_t_dispose(r->fd, r->stop_all);
	if (ret == 1)
		ret = kd_t_dispose(r->fd, r->stop_any);
	for (e = 0; ret == 1 && e < RACE_CONTESTED; e++)
		ret = kd_t_dispose(r->fd, r->single[e]);
	if (ret != 1)
		return ret < 0 ? ret : -EPROTO;
	return write(r->stopfd, &one, sizeof(one)) < 0 ? -errno : 0;
}

/* The median cost of a wait for all that takes its events at once. */
static uint64_t race_cost(struct race *r, struct racer *all)
{
	uint64_t t[9], t0, tmp;
	int i, j;

	if (race_stop_make(r))
		return 0;
	racer_round(all);
	for (i = 0; i < 9; i++) {
		for (j = 0; j < RACE_CONTESTED; j++)
			kd_t_event_signal(r->fd, r->ev[j]);
		race_signal_private(r);
		t0 = kd_t_now_ns();
		if (wait_all(r->fd, all->handles, all->n, 0, NULL))
			return 0;
		t[i] = kd_t_now_ns() - t0;
		for (j = i; j > 0 && t[j - 1] > t[j]; j--) {
			tmp = t[j];
			t[j] = t[j - 1];
			t[j - 1] = tmp;
		}
	}
	return race_stop(r) ? 0 : t[4];
}

TEST_F_TIMEOUT(wait, all_atomic_race, 120)
{
	static const int any[] = { 1, 0 }, any2[] = { 0, 1 };
	static const int ev0[] = { 0 }, ev1[] = { 1 };
	enum { NRACERS = 8 };
	unsigned long rounds = kd_t_scaled(RACE_ROUNDS), round;
	unsigned long all_won = 0, all_lost = 0, before;
	struct racer c[NRACERS] = { 0 };
	int all[RACE_EVENTS];
	struct race r = { 0 };
	cpu_set_t cpus;
	int i, e, tmp;

	r.fd = self->fd;
	ASSERT_EQ(0, events(self->fd, KDISPOSE_EVENT_AUTO_RESET, r.ev,
			    RACE_AUTO));
	ASSERT_EQ(0, events(self->fd, KDISPOSE_EVENT_SIGNALED,
			    r.ev + RACE_AUTO, RACE_MANUAL));
	for (e = 0; e < RACE_CONTESTED; e++) {
		r.efd[e] = kd_t_export(self->fd, r.ev[e], 0);
		ASSERT_LE(0, r.efd[e]) TH_LOG("export: %s",
					      strerror(-r.efd[e]));
		ASSERT_EQ(0, fcntl(r.efd[e], F_SETFL, O_NONBLOCK));
	}
	r.stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, r.stopfd);
	/* The wait for all's array: every event, shuffled. */
	srand(1);
	for (i = 0; i < RACE_EVENTS; i++)
		all[i] = i;
	for (i = RACE_EVENTS - 1; i > 0; i--) {
		e = rand() % (i + 1);
		tmp = all[i];
		all[i] = all[e];
		all[e] = tmp;
	}
	racer_init(&c[0], &r, RACER_ALL, all, RACE_EVENTS, true);
	racer_init(&c[1], &r, RACER_ANY, any, ARRAY_SIZE(any), true);
	racer_init(&c[2], &r, RACER_ANY, any2, ARRAY_SIZE(any2), true);
	racer_init(&c[3], &r, RACER_SINGLE, ev0, 1, false);
	racer_init(&c[4], &r, RACER_SINGLE, ev1, 1, false);
	racer_init(&c[5], &r, RACER_LOOP, ev0, 1, false);
	racer_init(&c[6], &r, RACER_SIGNAL, ev0, 1, false);
	racer_init(&c[7], &r, RACER_SIGNAL, ev1, 1, false);
	/*
	 * With two CPUs or more, the wait for all has one to itself and
	 * everything else shares another: two racers on one CPU never run
	 * at the same instant, and only racers that do can meet in the
	 * window of a broken wait for all.
	 */
	if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0 &&
	    CPU_COUNT(&cpus) >= 2 && CPU_ISSET(0, &cpus) &&
	    CPU_ISSET(1, &cpus)) {
		c[0].cpu = 0;
		for (i = 1; i < NRACERS; i++)
			c[i].cpu = 1;
		pin_to(1);
	}
	r.cost_ns = race_cost(&r, &c[0]);
	ASSERT_LT(0, r.cost_ns);
	r.delay_ns = r.cost_ns / 2;
	ASSERT_EQ(0, pthread_barrier_init(&r.start, NULL, NRACERS + 1));
	ASSERT_EQ(0, pthread_barrier_init(&r.end, NULL, NRACERS + 1));
	for (i = 0; i < NRACERS; i++)
		ASSERT_EQ(0, pthread_create(&c[i].thread, NULL, racer_main,
					    &c[i]));

	for (round = 0; round < rounds; round++) {
		uint64_t deadline;
		bool won;

		for (e = 0; e < RACE_EVENTS; e++)
			__atomic_store_n(&r.consumed[e], 0, __ATOMIC_SEQ_CST);
		__atomic_store_n(&r.stop, 0, __ATOMIC_SEQ_CST);
		__atomic_store_n(&r.concurrent, round & 1, __ATOMIC_SEQ_CST);
		ASSERT_EQ(0, race_stop_make(&r));
		ASSERT_EQ(0, race_signal_private(&r));
		if (!(round & 1))
			for (e = 0; e < RACE_CONTESTED; e++)
				ASSERT_EQ(0, kd_t_event_signal(self->fd,
							       r.ev[e]));
		before = c[0].wins;
		pthread_barrier_wait(&r.start);

		deadline = kd_t_now_ns() + RACE_DEADLINE;
		while (race_contested_sum(&r) < RACE_CONTESTED &&
		       !__atomic_load_n(&r.error, __ATOMIC_SEQ_CST) &&
		       kd_t_now_ns() < deadline)
			sched_yield();
		ASSERT_EQ(0, race_stop(&r));
		pthread_barrier_wait(&r.end);

		ASSERT_EQ(0, r.error) TH_LOG("round %lu: %s", round, r.why);
		ASSERT_GE(before + 1, c[0].wins)
			TH_LOG("round %lu: the wait for all returned twice",
			       round);
		won = c[0].wins > before;
		for (e = 0; e < RACE_AUTO; e++) {
			bool contested = e < RACE_CONTESTED;
			int set = kd_t_event_signaled(self->fd, r.ev[e]);

			ASSERT_EQ(contested ? 1 : won, r.consumed[e])
				TH_LOG("round %lu (%s): %s event %d consumed %u times, now %s; the wait for all %s",
				       round, round & 1 ? "signaled while waiting" :
				       "signaled before",
				       contested ? "contested" : "private", e,
				       r.consumed[e], set ? "signaled" : "clear",
				       won ? "returned 0" : "did not return");
			ASSERT_EQ(contested ? 0 : !won, set)
				TH_LOG("round %lu: %s event %d %s", round,
				       contested ? "contested" : "private", e,
				       set ? "left signaled" : "clear");
		}
		if (won)
			all_won++;
		else
			all_lost++;
		/*
		 * Steer the others' start to where the wait for all wins
		 * half of the rounds it was signaled for: there they reach
		 * the contested events while it looks at and takes them.
		 */
		if (!(round & 1) && won)
			r.delay_ns -= min_u64(r.delay_ns, r.cost_ns / 16);
		else if (!(round & 1) && r.delay_ns < 4 * r.cost_ns)
			r.delay_ns += r.cost_ns / 16;
	}

	__atomic_store_n(&r.quit, 1, __ATOMIC_SEQ_CST);
	pthread_barrier_wait(&r.start);
	for (i = 0; i < NRACERS; i++)
		ASSERT_EQ(0, pthread_join(c[i].thread, NULL));
	for (e = RACE_AUTO; e < RACE_EVENTS; e++)
		EXPECT_EQ(1, kd_t_event_signaled(self->fd, r.ev[e]))
			TH_LOG("manual-reset event %d", e);
	TH_LOG("%lu rounds, wait for all %llu us, others after %llu us: the wait for all won %lu, lost %lu; any %lu/%lu, single %lu/%lu, event loop %lu",
	       rounds, (unsigned long long)r.cost_ns / 1000,
	       (unsigned long long)r.delay_ns / 1000, all_won, all_lost,
	       c[1].wins, c[2].wins, c[3].wins, c[4].wins, c[5].wins);
	EXPECT_LT(0, all_won) TH_LOG("the wait for all never won a round");
	EXPECT_LT(0, all_lost) TH_LOG("the wait for all never lost a round");
	for (e = 0; e < RACE_CONTESTED; e++)
		EXPECT_EQ(0, close(r.efd[e]));
	EXPECT_EQ(0, close(r.stopfd));
	pthread_barrier_destroy(&r.start);
	pthread_barrier_destroy(&r.end);
}

/* --- timeouts and signals -------------------------------------------- */

/* Timeout 0 checks once: ETIMEDOUT unsignaled, the index when signaled. */
TEST_F(wait, timeout_zero_checks_once)
{
	__u64 h[2];

	ASSERT_EQ(0, events(self->fd, 0, h, 2));
	EXPECT_EQ(-ETIMEDOUT, wait_any(self->fd, h, 2, 0, NULL));
	EXPECT_EQ(-ETIMEDOUT, wait_all(self->fd, h, 2, 0, NULL));
	ASSERT_EQ(0, kd_t_event_signal(self->fd, h[1]));
	EXPECT_EQ(1, wait_any(self->fd, h, 2, 0, NULL));
}

TEST_F(wait, timeout_finite_etimedout)
{
	__u64 h[2];

	ASSERT_EQ(0, events(self->fd, 0, h, 2));
	EXPECT_EQ(-ETIMEDOUT, wait_any(self->fd, h, 2, 30 * MS, NULL));
	EXPECT_EQ(-ETIMEDOUT, wait_all(self->fd, h, 2, 30 * MS, NULL));
}

TEST_F(wait, timeout_leaves_index_alone)
{
	__u32 index;
	__u64 h;

	ASSERT_EQ(0, kd_t_event(self->fd, 0, 0, &h));
	ASSERT_EQ(-ETIMEDOUT, wait_any(self->fd, &h, 1, 0, &index));
	EXPECT_EQ((__u32)KD_T_UNTOUCHED, index);
}

/*
 * From 2^63 - 1 on a timeout means forever: such waiters still sleep
 * after a while (none took its timeout for a negative or tiny one) and
 * return when signaled.
 */
TEST_F(wait, timeout_from_2_63_minus_1_is_forever)
{
	static const __u64 forever[] = {
		(1ULL << 63) - 1, 1ULL << 63, ~0ULL - 1, ~0ULL,
	};
	struct waiter w[ARRAY_SIZE(forever)];
	unsigned int i;
	__u64 h;

	ASSERT_EQ(0, kd_t_event(self->fd, 0, 0, &h));
	for (i = 0; i < ARRAY_SIZE(forever); i++)
		ASSERT_EQ(0, waiter_start(&w[i], self->fd, &h, 1, 0,
					  forever[i]));
	usleep(100000);
	for (i = 0; i < ARRAY_SIZE(forever); i++)
		EXPECT_FALSE(waiter_done(&w[i])) TH_LOG("timeout %#llx",
							forever[i]);
	ASSERT_EQ(0, kd_t_event_signal(self->fd, h));
	for (i = 0; i < ARRAY_SIZE(forever); i++) {
		ASSERT_EQ(0, pthread_join(w[i].thread, NULL));
		EXPECT_EQ(0, w[i].ret) TH_LOG("timeout %#llx", forever[i]);
	}
}

/* Even with SA_RESTART the wait is not restarted: it fails with EINTR. */
TEST_F(wait, signal_eintr_not_restarted)
{
	struct waiter w[2];
	__u64 h[2];
	int i;

	ASSERT_EQ(0, catch_sigusr1(SA_RESTART));
	ASSERT_EQ(0, events(self->fd, 0, h, 2));
	ASSERT_EQ(0, waiter_start(&w[0], self->fd, h, 2, 0, FOREVER));
	ASSERT_EQ(0, waiter_start(&w[1], self->fd, h, 2, KDISPOSE_WAIT_ALL,
				  FOREVER));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, pthread_kill(w[i].thread, SIGUSR1));
		ASSERT_EQ(0, pthread_join(w[i].thread, NULL));
		EXPECT_EQ(-EINTR, w[i].ret) TH_LOG("waiter %d", i);
		EXPECT_EQ((__u32)KD_T_UNTOUCHED, w[i].index)
			TH_LOG("waiter %d", i);
	}
}

/* --- handles disposed, bad handles ----------------------------------- */

TEST_F(wait, disposed_during_wait_any_eidrm_with_index)
{
	struct waiter w;
	__u64 h[3];

	ASSERT_EQ(0, events(self->fd, 0, h, 3));
	ASSERT_EQ(0, waiter_start(&w, self->fd, h, 3, 0, FOREVER));
	ASSERT_EQ(1, kd_t_dispose(self->fd, h[1]));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(-EIDRM, w.ret);
	EXPECT_EQ(1, w.index);
}

/* A wait for all that fails with EIDRM consumes none of its signals. */
TEST_F(wait, disposed_during_wait_all_eidrm_with_index)
{
	struct waiter w;
	__u64 h[3];

	ASSERT_EQ(0, events(self->fd, KDISPOSE_EVENT_AUTO_RESET, h, 3));
	ASSERT_EQ(0, kd_t_event_signal(self->fd, h[0]));
	ASSERT_EQ(0, waiter_start(&w, self->fd, h, 3, KDISPOSE_WAIT_ALL,
				  FOREVER));
	ASSERT_EQ(1, kd_t_dispose(self->fd, h[2]));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(-EIDRM, w.ret);
	EXPECT_EQ(2, w.index);
	EXPECT_EQ(1, kd_t_event_signaled(self->fd, h[0]));
}

TEST_F(wait, disposed_before_wait_eidrm_with_index)
{
	__u32 index;
	__u64 h[3];

	ASSERT_EQ(0, events(self->fd, 0, h, 3));
	ASSERT_EQ(1, kd_t_dispose(self->fd, h[2]));
	EXPECT_EQ(-EIDRM, wait_any(self->fd, h, 3, FOREVER, &index));
	EXPECT_EQ(2, index);
	EXPECT_EQ(-EIDRM, wait_all(self->fd, h, 3, FOREVER, &index));
	EXPECT_EQ(2, index);
}

/*
 * A bad handle fails the whole call, even after a signaled one: the call
 * fails, so it consumes nothing.
 */
TEST_F(wait, bad_handle_after_a_signaled_one_consumes_nothing)
{
	__u32 index;
	__u64 h[2];

	ASSERT_EQ(0, events(self->fd, KDISPOSE_EVENT_SIGNALED |
			    KDISPOSE_EVENT_AUTO_RESET, h, 2));
	ASSERT_EQ(1, kd_t_dispose(self->fd, h[1]));
	EXPECT_EQ(-EIDRM, wait_any(self->fd, h, 2, 0, &index));
	EXPECT_EQ(1, index);
	EXPECT_EQ(1, kd_t_event_signaled(self->fd, h[0]));
}

TEST_F(wait, unknown_handle_enoent_with_index)
{
	__u64 h[3];
	__u32 index;

	ASSERT_EQ(0, events(self->fd, 0, h, 3));
	h[1] = kd_t_handle_make(kd_t_handle_seq(h[2]) + 1000,
				kd_t_handle_slot(h[2]));
	EXPECT_EQ(-ENOENT, wait_any(self->fd, h, 3, 0, &index));
	EXPECT_EQ(1, index);
	h[1] = 0;
	EXPECT_EQ(-ENOENT, wait_all(self->fd, h, 3, 0, &index));
	EXPECT_EQ(1, index);
}

TEST_F(wait, not_an_event_einval_with_index)
{
	__u64 h[3];
	__u32 index;

	ASSERT_EQ(0, events(self->fd, KDISPOSE_EVENT_SIGNALED, h, 3));
	ASSERT_EQ(0, kd_t_token(self->fd, 0, 7, "tok", &h[2]));
	EXPECT_EQ(-EINVAL, wait_any(self->fd, h, 3, 0, &index));
	EXPECT_EQ(2, index);
	EXPECT_EQ(-EINVAL, wait_all(self->fd, h, 3, 0, &index));
	EXPECT_EQ(2, index);
}

/* The index is that of the later copy: the one that repeats. */
TEST_F(wait, all_same_handle_twice_einval)
{
	__u64 h[2], arr[3];
	__u32 index;

	ASSERT_EQ(0, events(self->fd, KDISPOSE_EVENT_SIGNALED, h, 2));
	arr[0] = h[0];
	arr[1] = h[1];
	arr[2] = h[0];
	EXPECT_EQ(-EINVAL, wait_all(self->fd, arr, 3, 0, &index));
	EXPECT_EQ(2, index);
}

/* Two handles of one event: an import next to the original, or two. */
TEST_F(wait, all_two_names_of_one_event_einval)
{
	__u64 h, imp[2], arr[2];
	__u32 index;
	int efd;

	ASSERT_EQ(0, kd_t_event(self->fd, 0, KDISPOSE_EVENT_SIGNALED, &h));
	efd = kd_t_export(self->fd, h, 0);
	ASSERT_LE(0, efd) TH_LOG("export: %s", strerror(-efd));
	ASSERT_EQ(0, kd_t_import(self->fd, efd, KDISPOSE_TYPE_EVENT, 0,
				 "imp", &imp[0]));
	ASSERT_EQ(0, kd_t_import(self->fd, efd, KDISPOSE_TYPE_EVENT, 0,
				 "imp", &imp[1]));
	arr[0] = h;
	arr[1] = imp[0];
	EXPECT_EQ(-EINVAL, wait_all(self->fd, arr, 2, 0, &index));
	EXPECT_EQ(1, index);
	EXPECT_EQ(-EINVAL, wait_all(self->fd, imp, 2, 0, &index));
	EXPECT_EQ(1, index);
	/* A wait for any of the same names is fine. */
	EXPECT_EQ(0, wait_any(self->fd, imp, 2, 0, NULL));
	EXPECT_EQ(0, close(efd));
}

/* --- argument checks: one bad field, the rest valid ------------------ */

TEST_F(wait, count_zero_einval)
{
	__u64 h;

	ASSERT_EQ(0, kd_t_event(self->fd, 0, KDISPOSE_EVENT_SIGNALED, &h));
	EXPECT_EQ(-EINVAL, wait_any(self->fd, &h, 0, 0, NULL));
	EXPECT_EQ(-EINVAL, wait_all(self->fd, &h, 0, 0, NULL));
}

TEST_F(wait, count_over_max_einval)
{
	__u64 h[KDISPOSE_WAIT_MAX + 1];

	ASSERT_EQ(0, events(self->fd, KDISPOSE_EVENT_SIGNALED, h,
			    KDISPOSE_WAIT_MAX + 1));
	EXPECT_EQ(-EINVAL, wait_any(self->fd, h, KDISPOSE_WAIT_MAX + 1, 0,
				    NULL));
	EXPECT_EQ(-EINVAL, wait_all(self->fd, h, KDISPOSE_WAIT_MAX + 1, 0,
				    NULL));
}

TEST_F(wait, flags_unknown_einval)
{
	__u64 h;

	ASSERT_EQ(0, kd_t_event(self->fd, 0, KDISPOSE_EVENT_SIGNALED, &h));
	EXPECT_EQ(-EINVAL, kd_t_wait(self->fd, &h, 1, 1U << 1, 0, NULL));
	EXPECT_EQ(-EINVAL, kd_t_wait(self->fd, &h, 1, 1U << 31, 0, NULL));
}

TEST_F(wait, pad_einval)
{
	struct kdispose_wait w = { .count = 1 };
	__u64 h;

	ASSERT_EQ(0, kd_t_event(self->fd, 0, KDISPOSE_EVENT_SIGNALED, &h));
	w.handles = (uintptr_t)&h;
	w.pad = 1;
	EXPECT_EQ(-EINVAL, kd_t_ioctl(self->fd, KDISPOSE_IOC_WAIT, &w));
	w.pad = 0;
	EXPECT_EQ(0, kd_t_ioctl(self->fd, KDISPOSE_IOC_WAIT, &w));
}

TEST_F(wait, handles_unreadable_efault)
{
	__u64 h;

	ASSERT_EQ(0, kd_t_event(self->fd, 0, KDISPOSE_EVENT_SIGNALED, &h));
	EXPECT_EQ(-EFAULT, kd_t_wait(self->fd, (const __u64 *)8, 1, 0, 0,
				     NULL));
}

/* --- 64 events -------------------------------------------------------- */

TEST_F(wait, max_events_any)
{
	__u64 h[KDISPOSE_WAIT_MAX];
	struct waiter w;
	__u32 index;

	ASSERT_EQ(0, events(self->fd, KDISPOSE_EVENT_AUTO_RESET, h,
			    KDISPOSE_WAIT_MAX));
	ASSERT_EQ(0, waiter_start(&w, self->fd, h, KDISPOSE_WAIT_MAX, 0,
				  FOREVER));
	ASSERT_EQ(0, kd_t_event_signal(self->fd, h[KDISPOSE_WAIT_MAX - 1]));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(KDISPOSE_WAIT_MAX - 1, w.ret);
	ASSERT_EQ(0, kd_t_event_signal(self->fd, h[40]));
	ASSERT_EQ(0, kd_t_event_signal(self->fd, h[17]));
	EXPECT_EQ(17, wait_any(self->fd, h, KDISPOSE_WAIT_MAX, 0, &index));
	EXPECT_EQ(17, index);
}

TEST_F(wait, max_events_all)
{
	__u64 h[KDISPOSE_WAIT_MAX];
	struct waiter w;
	int i;

	ASSERT_EQ(0, events(self->fd, KDISPOSE_EVENT_AUTO_RESET, h,
			    KDISPOSE_WAIT_MAX));
	ASSERT_EQ(0, waiter_start(&w, self->fd, h, KDISPOSE_WAIT_MAX,
				  KDISPOSE_WAIT_ALL, FOREVER));
	for (i = KDISPOSE_WAIT_MAX - 1; i >= 0; i--)
		ASSERT_EQ(0, kd_t_event_signal(self->fd, h[i]));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(0, w.ret);
	for (i = 0; i < KDISPOSE_WAIT_MAX; i++)
		EXPECT_EQ(0, kd_t_event_signaled(self->fd, h[i]))
			TH_LOG("event %d", i);
}

/* --- events of another table ----------------------------------------- */

/*
 * The creator signals through its own table; a waiter in the importer's
 * table, on the imported handle and one of its own, wakes and consumes
 * the creator's event.
 */
TEST_F(wait, imported_event_waited_in_importer_table)
{
	__u64 h, mine[2];
	struct waiter w;
	int fd2, efd;

	ASSERT_EQ(0, kd_t_event(self->fd, 0, KDISPOSE_EVENT_AUTO_RESET, &h));
	efd = kd_t_export(self->fd, h, 0);
	ASSERT_LE(0, efd) TH_LOG("export: %s", strerror(-efd));
	fd2 = kd_t_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, kd_t_event(fd2, 0, 0, &mine[0]));
	ASSERT_EQ(0, kd_t_import(fd2, efd, KDISPOSE_TYPE_EVENT, 0, "imp",
				 &mine[1]));
	ASSERT_EQ(0, waiter_start(&w, fd2, mine, 2, 0, FOREVER));
	ASSERT_EQ(0, kd_t_event_signal(self->fd, h));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(1, w.ret);
	EXPECT_EQ(0, kd_t_event_signaled(self->fd, h));
	EXPECT_EQ(0, close(fd2));
	EXPECT_EQ(0, close(efd));
}

/*
 * Disposing the creator's handle ends the waiters of that handle only: a
 * waiter through an import keeps waiting and is woken by a signal through
 * its own handle.
 */
TEST_F(wait, other_name_disposed_waiter_keeps_waiting)
{
	struct waiter w;
	__u64 h, imp;
	int fd2, efd;

	ASSERT_EQ(0, kd_t_event(self->fd, 0, 0, &h));
	efd = kd_t_export(self->fd, h, 0);
	ASSERT_LE(0, efd) TH_LOG("export: %s", strerror(-efd));
	fd2 = kd_t_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, kd_t_import(fd2, efd, KDISPOSE_TYPE_EVENT, 0, "imp",
				 &imp));
	ASSERT_EQ(0, close(efd));
	ASSERT_EQ(0, waiter_start(&w, fd2, &imp, 1, KDISPOSE_WAIT_ALL,
				  FOREVER));
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	usleep(50000);
	EXPECT_FALSE(waiter_done(&w));
	ASSERT_EQ(0, kd_t_event_signal(fd2, imp));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(0, w.ret);
	EXPECT_EQ(0, close(fd2));
}

TEST_HARNESS_MAIN
