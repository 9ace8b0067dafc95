// SPDX-License-Identifier: GPL-2.0
/*
 * event_test: KDISPOSE_TYPE_EVENT, the wait handle. Each test checks one
 * behaviour: creation flags, signal / reset / wait with manual and
 * auto-reset events, timeouts, signals interrupting a wait, and waiters
 * meeting a dispose, a close, a fork, a kill or an exit. Waiters run in
 * threads (or children) that record their result; the test's main thread
 * checks it. "Asleep" means the waiter's task is in state S inside the
 * ioctl system call (/proc/.../syscall), so a dispose or a signal really
 * hits a sleeping waiter. The fixture teardown checks the module counters.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kdispose_test.h"

#define NWAITERS	8
#define RACE_ROUNDS	200
#define MS		1000000ULL	/* nanoseconds */
#define FOREVER		(~0ULL)

KD_T_DEV_FIXTURE(event, KDISPOSE_TYPE_EVENT);

/* An event with KDISPOSE_EVENT_* @flags. Return: 0 or -errno. */
static int ev_create(int fd, __u64 parent, __u64 flags, __u64 *handle)
{
	return kd_t_create(fd, KDISPOSE_TYPE_EVENT, parent, flags, 0, "ev",
			   handle);
}

static int ev_signal(int fd, __u64 h)
{
	return kd_t_op(fd, h, KDISPOSE_OP_EVENT_SIGNAL, NULL);
}

static int ev_reset(int fd, __u64 h)
{
	return kd_t_op(fd, h, KDISPOSE_OP_EVENT_RESET, NULL);
}

/* Return: 0 (signaled), -ETIMEDOUT, -EINTR, -EIDRM or another -errno. */
static int ev_wait(int fd, __u64 h, __u64 timeout_ns)
{
	__u64 args[4] = { timeout_ns };

	return kd_t_op(fd, h, KDISPOSE_OP_EVENT_WAIT, args);
}

static __u32 ev_state(int fd, __u64 h)
{
	struct kdispose_query q;

	return kd_t_query(fd, h, &q) ? ~0U : q.state;
}

/* One waiting thread: inputs, then what it saw. */
struct waiter {
	pthread_t thread;
	int fd;
	__u64 handle;
	__u64 timeout;
	pid_t tid;	/* set by the thread before it waits */
	int ret;	/* ev_wait()'s result */
	int done;	/* set (atomically) after @ret */
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	__atomic_store_n(&w->tid, syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	w->ret = ev_wait(w->fd, w->handle, w->timeout);
	__atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* Start a waiter and wait until it sleeps. Return: 0 or -1. */
static int waiter_start(struct waiter *w, int fd, __u64 h, __u64 timeout)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->handle = h;
	w->timeout = timeout;
	if (pthread_create(&w->thread, NULL, waiter_main, w))
		return -1;
	while (!__atomic_load_n(&w->tid, __ATOMIC_SEQ_CST))
		usleep(100);
	return kd_t_wait_asleep(w->tid, SYS_ioctl) ? 0 : -1;
}

/* How many of @n waiters have returned. */
static int waiters_done(struct waiter *w, int n)
{
	int i, done = 0;

	for (i = 0; i < n; i++)
		done += __atomic_load_n(&w[i].done, __ATOMIC_SEQ_CST);
	return done;
}

/* Wait up to 10 s until at least @want of @n waiters returned. */
static int waiters_wait_done(struct waiter *w, int n, int want)
{
	int i;

	for (i = 0; i < 10000 && waiters_done(w, n) < want; i++)
		usleep(1000);
	return waiters_done(w, n);
}

TEST_F(event, create_query)
{
	struct kdispose_query q;
	__u64 a, b;

	ASSERT_EQ(0, ev_create(self->fd, 0, 0, &a));
	ASSERT_EQ(0, ev_create(self->fd, 0, KDISPOSE_EVENT_SIGNALED |
			       KDISPOSE_EVENT_AUTO_RESET, &b));
	ASSERT_EQ(0, kd_t_query(self->fd, a, &q));
	EXPECT_EQ(KDISPOSE_TYPE_EVENT, q.type);
	EXPECT_EQ(0, q.info[0]);
	EXPECT_EQ(0, q.state);
	ASSERT_EQ(0, kd_t_query(self->fd, b, &q));
	EXPECT_EQ(KDISPOSE_EVENT_SIGNALED | KDISPOSE_EVENT_AUTO_RESET,
		  q.info[0]);
	EXPECT_EQ(KDISPOSE_STATE_SIGNALED, q.state);
}

TEST_F(event, create_unknown_flag_einval)
{
	__u64 h;

	EXPECT_EQ(-EINVAL, ev_create(self->fd, 0, 1ULL << 2, &h));
	EXPECT_EQ(-EINVAL, ev_create(self->fd, 0, 1ULL << 63, &h));
}

TEST_F(event, create_arg1_einval)
{
	__u64 h;

	EXPECT_EQ(-EINVAL, kd_t_create(self->fd, KDISPOSE_TYPE_EVENT, 0, 0, 1,
				       NULL, &h));
}

TEST_F(event, lifecycle_dispose)
{
	struct kd_t_counters before, after;
	__u64 h;

	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(0, ev_create(self->fd, 0, 0, &h));
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_EVENT,
			  .created = 1, .disposed = 1, .released = 1);
}

TEST_F(event, lifecycle_close_finalizes)
{
	struct kd_t_counters before, after;
	int fd = kd_t_open();
	__u64 h;

	ASSERT_LE(0, fd);
	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(0, ev_create(fd, 0, 0, &h));
	ASSERT_EQ(0, ev_create(fd, 0, KDISPOSE_EVENT_SIGNALED, &h));
	ASSERT_EQ(0, close(fd));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_EVENT,
			  .created = 2, .finalized = 2, .released = 2);
}

/* A manual-reset event stays signaled: every wait returns at once. */
TEST_F(event, manual_reset_stays_signaled)
{
	__u64 h;

	ASSERT_EQ(0, ev_create(self->fd, 0, KDISPOSE_EVENT_SIGNALED, &h));
	EXPECT_EQ(0, ev_wait(self->fd, h, 0));
	EXPECT_EQ(0, ev_wait(self->fd, h, FOREVER));
	EXPECT_EQ(KDISPOSE_STATE_SIGNALED, ev_state(self->fd, h));
}

TEST_F(event, reset_clears)
{
	__u64 h;

	ASSERT_EQ(0, ev_create(self->fd, 0, KDISPOSE_EVENT_SIGNALED, &h));
	ASSERT_EQ(0, ev_reset(self->fd, h));
	EXPECT_EQ(0, ev_state(self->fd, h));
	EXPECT_EQ(-ETIMEDOUT, ev_wait(self->fd, h, 0));
	ASSERT_EQ(0, ev_signal(self->fd, h));
	EXPECT_EQ(KDISPOSE_STATE_SIGNALED, ev_state(self->fd, h));
	EXPECT_EQ(0, ev_wait(self->fd, h, 0));
}

TEST_F(event, wait_zero_timeout_polls)
{
	uint64_t t0;
	__u64 h;

	ASSERT_EQ(0, ev_create(self->fd, 0, 0, &h));
	t0 = kd_t_now_ns();
	EXPECT_EQ(-ETIMEDOUT, ev_wait(self->fd, h, 0));
	EXPECT_GT(1000 * MS, kd_t_now_ns() - t0);
}

TEST_F(event, wait_timeout_etimedout)
{
	uint64_t t0, dt;
	__u64 h;

	ASSERT_EQ(0, ev_create(self->fd, 0, 0, &h));
	t0 = kd_t_now_ns();
	EXPECT_EQ(-ETIMEDOUT, ev_wait(self->fd, h, 100 * MS));
	dt = kd_t_now_ns() - t0;
	EXPECT_LE(100 * MS, dt);
	EXPECT_GT(5000 * MS, dt);
}

TEST_F(event, signal_wakes_waiter)
{
	struct waiter w;
	__u64 h;

	ASSERT_EQ(0, ev_create(self->fd, 0, 0, &h));
	ASSERT_EQ(0, waiter_start(&w, self->fd, h, FOREVER));
	ASSERT_EQ(0, ev_signal(self->fd, h));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(0, w.ret);
}

TEST_F(event, manual_signal_wakes_all)
{
	struct waiter w[4];
	__u64 h;
	int i;

	ASSERT_EQ(0, ev_create(self->fd, 0, 0, &h));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, waiter_start(&w[i], self->fd, h, FOREVER));
	ASSERT_EQ(0, ev_signal(self->fd, h));
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, pthread_join(w[i].thread, NULL));
		EXPECT_EQ(0, w[i].ret) TH_LOG("waiter %d", i);
	}
}

TEST_F(event, auto_reset_consumes)
{
	__u64 h;

	ASSERT_EQ(0, ev_create(self->fd, 0, KDISPOSE_EVENT_AUTO_RESET, &h));
	ASSERT_EQ(0, ev_signal(self->fd, h));
	EXPECT_EQ(KDISPOSE_STATE_SIGNALED, ev_state(self->fd, h));
	EXPECT_EQ(0, ev_wait(self->fd, h, 0));
	EXPECT_EQ(0, ev_state(self->fd, h));
	EXPECT_EQ(-ETIMEDOUT, ev_wait(self->fd, h, 0));
}

TEST_F(event, auto_reset_initially_signaled)
{
	__u64 h;

	ASSERT_EQ(0, ev_create(self->fd, 0, KDISPOSE_EVENT_SIGNALED |
			       KDISPOSE_EVENT_AUTO_RESET, &h));
	EXPECT_EQ(0, ev_wait(self->fd, h, 0));
	EXPECT_EQ(-ETIMEDOUT, ev_wait(self->fd, h, 0));
}

/* Signals do not accumulate: two signals, one wait. */
TEST_F(event, auto_reset_signals_do_not_count)
{
	__u64 h;

	ASSERT_EQ(0, ev_create(self->fd, 0, KDISPOSE_EVENT_AUTO_RESET, &h));
	ASSERT_EQ(0, ev_signal(self->fd, h));
	ASSERT_EQ(0, ev_signal(self->fd, h));
	EXPECT_EQ(0, ev_wait(self->fd, h, 0));
	EXPECT_EQ(-ETIMEDOUT, ev_wait(self->fd, h, 0));
}

/* With four waiters asleep, each signal lets exactly one of them go. */
TEST_F(event, auto_reset_one_waiter_per_signal)
{
	struct waiter w[4];
	__u64 h;
	int i;

	ASSERT_EQ(0, ev_create(self->fd, 0, KDISPOSE_EVENT_AUTO_RESET, &h));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, waiter_start(&w[i], self->fd, h, 20000 * MS));
	for (i = 1; i <= 4; i++) {
		ASSERT_EQ(0, ev_signal(self->fd, h));
		ASSERT_EQ(i, waiters_wait_done(w, 4, i));
		usleep(100000);
		EXPECT_EQ(i, waiters_done(w, 4)) TH_LOG("signal %d", i);
		EXPECT_EQ(0, ev_state(self->fd, h));
	}
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, pthread_join(w[i].thread, NULL));
		EXPECT_EQ(0, w[i].ret) TH_LOG("waiter %d", i);
	}
}

/* The dispose of the brief: every sleeping waiter wakes with EIDRM. */
TEST_F(event, dispose_wakes_all_waiters_eidrm)
{
	struct kd_t_counters before, after;
	struct waiter w[NWAITERS];
	__u64 h;
	int i;

	ASSERT_EQ(0, ev_create(self->fd, 0, 0, &h));
	for (i = 0; i < NWAITERS; i++)
		ASSERT_EQ(0, waiter_start(&w[i], self->fd, h, FOREVER));
	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	for (i = 0; i < NWAITERS; i++) {
		ASSERT_EQ(0, pthread_join(w[i].thread, NULL));
		EXPECT_EQ(-EIDRM, w[i].ret) TH_LOG("waiter %d", i);
	}
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_EVENT,
			  .disposed = 1, .live = -1, .released = 1);
}

/* A dispose wins over a signal: a disposed, signaled event is gone. */
TEST_F(event, ops_after_dispose_eidrm)
{
	__u64 h;

	ASSERT_EQ(0, ev_create(self->fd, 0, KDISPOSE_EVENT_SIGNALED, &h));
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	EXPECT_EQ(-EIDRM, ev_signal(self->fd, h));
	EXPECT_EQ(-EIDRM, ev_reset(self->fd, h));
	EXPECT_EQ(-EIDRM, ev_wait(self->fd, h, 0));
	EXPECT_EQ(-EIDRM, ev_wait(self->fd, h, FOREVER));
}

/* Disposing a parent group cascades to the event and wakes its waiter. */
TEST_F(event, dispose_parent_wakes_waiter)
{
	struct waiter w;
	__u64 g, h;

	ASSERT_EQ(0, kd_t_create(self->fd, KDISPOSE_TYPE_GROUP, 0, 0, 0,
				 "grp", &g));
	ASSERT_EQ(0, ev_create(self->fd, g, 0, &h));
	ASSERT_EQ(0, waiter_start(&w, self->fd, h, FOREVER));
	ASSERT_EQ(1, kd_t_dispose(self->fd, g));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(-EIDRM, w.ret);
}

/* A sleeping waiter holds a reference: table + query + waiter. */
TEST_F(event, waiter_holds_reference)
{
	struct kdispose_query q;
	struct waiter w;
	__u64 h;

	ASSERT_EQ(0, ev_create(self->fd, 0, 0, &h));
	ASSERT_EQ(0, kd_t_query(self->fd, h, &q));
	EXPECT_EQ(2, q.refcount);
	ASSERT_EQ(0, waiter_start(&w, self->fd, h, FOREVER));
	ASSERT_EQ(0, kd_t_query(self->fd, h, &q));
	EXPECT_EQ(3, q.refcount);
	ASSERT_EQ(0, ev_signal(self->fd, h));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(0, w.ret);
}

static void on_sigusr1(int sig)
{
}

/* Even with SA_RESTART the wait is not restarted: it fails with EINTR. */
TEST_F(event, signal_interrupts_eintr)
{
	struct sigaction sa = { .sa_handler = on_sigusr1,
				.sa_flags = SA_RESTART };
	struct waiter w;
	__u64 h;

	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, ev_create(self->fd, 0, 0, &h));
	ASSERT_EQ(0, waiter_start(&w, self->fd, h, FOREVER));
	ASSERT_EQ(0, pthread_kill(w.thread, SIGUSR1));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(-EINTR, w.ret);
	EXPECT_EQ(0, ev_state(self->fd, h));
}

TEST_F(event, wait_unused_args_einval)
{
	__u64 args[4] = { 0, 0, 1, 0 };
	__u64 h;

	ASSERT_EQ(0, ev_create(self->fd, 0, KDISPOSE_EVENT_SIGNALED, &h));
	EXPECT_EQ(-EINVAL, kd_t_op(self->fd, h, KDISPOSE_OP_EVENT_WAIT, args));
}

TEST_F(event, signal_arg0_einval)
{
	__u64 args[4] = { 1 };
	__u64 h;

	ASSERT_EQ(0, ev_create(self->fd, 0, 0, &h));
	EXPECT_EQ(-EINVAL, kd_t_op(self->fd, h, KDISPOSE_OP_EVENT_SIGNAL,
				   args));
	EXPECT_EQ(0, ev_state(self->fd, h));
}

TEST_F(event, reset_arg3_einval)
{
	__u64 args[4] = { 0, 0, 0, 1 };
	__u64 h;

	ASSERT_EQ(0, ev_create(self->fd, 0, KDISPOSE_EVENT_SIGNALED, &h));
	EXPECT_EQ(-EINVAL, kd_t_op(self->fd, h, KDISPOSE_OP_EVENT_RESET,
				   args));
	EXPECT_EQ(KDISPOSE_STATE_SIGNALED, ev_state(self->fd, h));
}

TEST_F(event, op_unknown_eopnotsupp)
{
	__u64 args[4] = { 0 };
	__u64 h;

	ASSERT_EQ(0, ev_create(self->fd, 0, 0, &h));
	EXPECT_EQ(-EOPNOTSUPP, kd_t_op(self->fd, h, 0x0304, args));
	EXPECT_EQ(-EOPNOTSUPP, kd_t_op(self->fd, h, KDISPOSE_OP_MEM_READ,
				       args));
}

/*
 * Another thread closes the fd under a sleeping waiter: the wait goes on
 * (the ioctl holds the file) and times out; the finalizer runs after it.
 */
TEST_F(event, close_under_waiter)
{
	struct kd_t_counters before, mid, after;
	struct waiter w;
	__u64 h;

	ASSERT_EQ(0, ev_create(self->fd, 0, 0, &h));
	ASSERT_EQ(0, waiter_start(&w, self->fd, h, 500 * MS));
	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	KD_T_ASSERT_COUNTERS(mid);
	/* Nothing moved: the event is still in its table. */
	KD_T_EXPECT_DELTA(&before, &mid, KDISPOSE_TYPE_EVENT, .live = 0);
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(-ETIMEDOUT, w.ret);
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_EVENT,
			  .finalized = 1, .live = -1, .released = 1);
}

/* Fork a child that waits on @h of @fd forever; it exits with -ret. */
static pid_t fork_waiter(int fd, __u64 h)
{
	pid_t pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(-ev_wait(fd, h, FOREVER));
	}
	return pid;
}

TEST_F(event, fork_child_waiter_signaled)
{
	int status;
	pid_t pid;
	__u64 h;

	ASSERT_EQ(0, ev_create(self->fd, 0, 0, &h));
	pid = fork_waiter(self->fd, h);
	ASSERT_LT(0, pid);
	ASSERT_TRUE(kd_t_wait_asleep(pid, SYS_ioctl));
	ASSERT_EQ(0, ev_signal(self->fd, h));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_F(event, fork_child_waiter_disposed)
{
	struct kd_t_counters before, after;
	int status;
	pid_t pid;
	__u64 h;

	ASSERT_EQ(0, ev_create(self->fd, 0, 0, &h));
	pid = fork_waiter(self->fd, h);
	ASSERT_LT(0, pid);
	ASSERT_TRUE(kd_t_wait_asleep(pid, SYS_ioctl));
	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(EIDRM, WEXITSTATUS(status));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_EVENT,
			  .disposed = 1, .live = -1, .released = 1);
}

/* SIGKILL of a sleeping waiter leaves the event intact and usable. */
TEST_F(event, kill_sleeping_waiter)
{
	struct kd_t_counters before, after;
	struct kdispose_query q;
	int status;
	pid_t pid;
	__u64 h;

	ASSERT_EQ(0, ev_create(self->fd, 0, 0, &h));
	pid = fork_waiter(self->fd, h);
	ASSERT_LT(0, pid);
	ASSERT_TRUE(kd_t_wait_asleep(pid, SYS_ioctl));
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ(0, kd_t_query(self->fd, h, &q));
	EXPECT_EQ(2, q.refcount) TH_LOG("the killed waiter's reference");
	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_EVENT,
			  .disposed = 1, .live = -1, .released = 1);
}

/*
 * A process exits (exit_group) while one of its threads sleeps in a wait
 * on its own file: the thread dies, the file is closed and the event is
 * finalized.
 */
TEST_F(event, exit_with_sleeping_waiter_finalizes)
{
	struct kd_t_counters before, after;
	int status;
	pid_t pid;

	KD_T_ASSERT_COUNTERS(before);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct waiter w;
		int fd = kd_t_open();
		__u64 h;

		if (fd < 0 || ev_create(fd, 0, 0, &h))
			_exit(2);
		if (waiter_start(&w, fd, h, FOREVER))
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_EVENT,
			  .created = 1, .finalized = 1, .released = 1);
}

static void *racing_waiter_main(void *arg)
{
	struct waiter *w = arg;

	w->ret = ev_wait(w->fd, w->handle, w->timeout);
	return NULL;
}

/*
 * Waiters start while the main thread disposes the event: each one either
 * slept and was woken, or found the handle gone; all get EIDRM, and every
 * event is released exactly once.
 */
TEST_F(event, race_wait_dispose)
{
	struct kd_t_counters before, after;
	struct waiter w[4];
	int round, i;
	__u64 h;

	KD_T_ASSERT_COUNTERS(before);
	for (round = 0; round < RACE_ROUNDS; round++) {
		ASSERT_EQ(0, ev_create(self->fd, 0, 0, &h));
		for (i = 0; i < 4; i++) {
			memset(&w[i], 0, sizeof(w[i]));
			w[i].fd = self->fd;
			w[i].handle = h;
			w[i].timeout = 10000 * MS;
			ASSERT_EQ(0, pthread_create(&w[i].thread, NULL,
						    racing_waiter_main, &w[i]));
		}
		usleep(round % 10 * 100);
		ASSERT_EQ(1, kd_t_dispose(self->fd, h));
		for (i = 0; i < 4; i++) {
			ASSERT_EQ(0, pthread_join(w[i].thread, NULL));
			ASSERT_EQ(-EIDRM, w[i].ret)
				TH_LOG("round %d waiter %d", round, i);
		}
	}
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_EVENT,
			  .created = RACE_ROUNDS, .disposed = RACE_ROUNDS,
			  .released = RACE_ROUNDS);
}

TEST_HARNESS_MAIN
