// SPDX-License-Identifier: GPL-2.0
/*
 * latency_test: one long kernel call must not keep the CPU from other
 * threads.
 *
 * A single call can make the module work on about a million objects: the
 * dispose of a big tree (the cascade), the close of a file holding them
 * (the finalizer, run in the closing task's task work), a batch of such
 * disposes, or an io_uring dispose run by an io-wq worker. The default
 * boot of Debian's kernel has voluntary preemption: a thread in the kernel
 * gives up the CPU only where it calls cond_resched() or sleeps, so such a
 * call must yield every thousand objects or so.
 *
 * Each test pins the thread making the call and a "victim" thread to the
 * same CPU. The victim loops without sleeping and records the longest time
 * it waited for the CPU between two of its iterations while the call ran.
 * A call that yields shares the CPU: the victim's longest wait is a
 * scheduler slice, a small part of the call. A call that does not yield
 * leaves the victim waiting for most of it. No absolute time is asserted,
 * only a ratio: the longest wait must be less than a quarter of the time
 * the call itself had the CPU (its duration less the victim's CPU time),
 * in at least one of LAT_ROUNDS calls, plus one more call for each that
 * the host visibly stalled (up to LAT_ROUNDS more, see call_report()).
 *
 * With preempt=full (or a kernel built with CONFIG_PREEMPT, such as the
 * debug kernel) the kernel preempts the call anyway, so these tests cannot
 * fail there; they still run, a tenth the size, and say so.
 *
 * Sizes: LAT_OBJECTS objects per test, a third per call (a tenth of that
 * with KDISPOSE_SLOW), in trees of groups of at most KDISPOSE_MAX_CHILDREN
 * children. Creating them under QEMU TCG dominates the run time: about
 * 3 s per million on Debian's kernel, so the program takes 20-40 s.
 */
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/utsname.h>

#include "kdispose_test.h"

/* Objects each test makes the module work on, over LAT_ROUNDS calls. */
#define LAT_OBJECTS	1000000

/*
 * Calls measured per test, each on a third of the objects. Under
 * emulation on a busy host the virtual CPU may stall for a good part of a
 * second, which looks like a long wait; a call that does not yield makes
 * the victim wait long in every round, so the test fails only if no round
 * shared the CPU.
 */
#define LAT_ROUNDS	3

/* Roots of the batch test: each holds LAT_OBJECTS / LAT_ROOTS objects. */
#define LAT_ROOTS	16

/*
 * The victim's longest wait must stay below 1/LAT_RATIO of the time the
 * call had the CPU (its duration less the victim's own CPU time).
 */
#define LAT_RATIO	4

/* How long the victim is first measured beside a thread in user space. */
#define BASELINE_NS	100000000ULL

/* Longest wait for the objects of a closed file to be released. */
#define SETTLE_MS	30000

enum phase {
	PHASE_WAIT,		/* the victim has not been started */
	PHASE_BASELINE,		/* the main thread spins in user space */
	PHASE_CALL,		/* the call is about to run, is running */
	PHASE_STOP,		/* the call returned */
};

/* What the main thread and the victim share. */
struct victim {
	pthread_t thread;
	atomic_int phase;		/* enum phase, set by the main thread */
	atomic_ullong call_start;	/* when the call began, or 0 */
	atomic_ulong iters;		/* iterations seen in PHASE_CALL */
	uint64_t call_end;		/* when the call returned */
	/* The victim's results, valid once it is joined: */
	uint64_t baseline_wait;		/* longest wait in PHASE_BASELINE */
	uint64_t wait;			/* longest wait during the call */
	uint64_t wait_at;		/* when that one began */
	uint64_t cpu_ns;		/* the victim's CPU time in the call */
	unsigned long work;		/* what its loop computed */
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * One gap of the victim, from @last to @now, during which it ran @ran
 * nanoseconds: the rest it waited. Only the part between @from and @to
 * counts; the longest is kept in *@max, and where it began in *@at.
 */
static void victim_wait(uint64_t from, uint64_t to, uint64_t last,
			uint64_t now, uint64_t ran, uint64_t *max,
			uint64_t *at)
{
	uint64_t wait = now - last > ran ? now - last - ran : 0;

	if (last < from)
		last = from;
	if (to <= last)
		return;
	if (wait > to - last)
		wait = to - last;
	if (wait > *max) {
		*max = wait;
		if (at)
			*at = last;
	}
}

/*
 * The victim: loop, a little work and two clock reads per iteration, until
 * PHASE_STOP. What counts is how long it waited between two iterations:
 * the wall-clock gap less the CPU time it got meanwhile, so that the time
 * its virtual CPU lost to the host (under emulation) while the victim had
 * it is not counted. A wait counts for the call from the call's start on.
 * The victim may have been preempted anywhere in its loop, just before its
 * look at the phase too: when it sees PHASE_STOP it reads the clocks once
 * more, so that the wait which ends with the call is counted.
 */
static void *victim_loop(void *arg)
{
	struct victim *v = arg;
	uint64_t last = kd_t_now_ns(), last_cpu = thread_cpu_ns();
	uint64_t now, cpu, start, cpu0 = 0;
	unsigned long work = 0;
	int phase, i;

	for (;;) {
		for (i = 0; i < 64; i++)
			work = work * 31 + i;
		now = kd_t_now_ns();
		cpu = thread_cpu_ns();
		start = atomic_load(&v->call_start);
		if (start && !cpu0)
			cpu0 = cpu;
		if (start)
			victim_wait(start, now, last, now, cpu - last_cpu,
				    &v->wait, &v->wait_at);
		else if (atomic_load(&v->phase) == PHASE_BASELINE)
			victim_wait(0, now, last, now, cpu - last_cpu,
				    &v->baseline_wait, NULL);
		last = now;
		last_cpu = cpu;
		phase = atomic_load(&v->phase);
		if (phase == PHASE_STOP)
			break;
		if (phase == PHASE_CALL)
			atomic_fetch_add(&v->iters, 1);
	}
	now = kd_t_now_ns();
	cpu = thread_cpu_ns();
	victim_wait(atomic_load(&v->call_start), v->call_end, last, now,
		    cpu - last_cpu, &v->wait, &v->wait_at);
	v->cpu_ns = cpu0 ? cpu - cpu0 : 0;
	v->work = work;
	return NULL;
}

FIXTURE(latency)
{
	int fd;				/* the device, holding the objects */
	int cpu;			/* the CPU both threads run on */
	unsigned long nobjects;		/* per call */
	double best;			/* the lowest wait / run of the calls */
	int stalled;			/* calls that waited longer than they ran */
	struct victim victim;
	struct kd_t_counters start;	/* module counters after setup */
};

/* Return: 0 with the calling thread pinned to @cpu, or -errno. */
static int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/*
 * Whether the running kernel preempts kernel code anyway: a kernel built
 * with dynamic preemption says which mode it runs in (preempt= on the
 * command line) in debugfs, e.g. "none (voluntary) full"; one built with
 * full preemption (the debug kernel) says "PREEMPT" in its version.
 */
static bool kernel_preempts(void)
{
	char modes[128];
	struct utsname u;

	if (kd_t_read_file("/sys/kernel/debug/sched/preempt", modes,
			   sizeof(modes)) > 0)
		return strstr(modes, "(full)");
	if (uname(&u))
		return false;
	return strstr(u.version, "PREEMPT ") || strstr(u.version, "PREEMPT_RT");
}

FIXTURE_SETUP(latency)
{
	self->victim.phase = PHASE_WAIT;
	self->cpu = sched_getcpu();
	ASSERT_LE(0, self->cpu);
	ASSERT_EQ(0, pin_to(self->cpu));
	self->nobjects = kd_t_scaled(LAT_OBJECTS) / LAT_ROUNDS;
	self->best = 1;
	self->stalled = 0;
	if (kernel_preempts()) {
		/* Nothing to find here: keep it short. */
		self->nobjects /= 10;
		ksft_print_msg("note: this kernel preempts anyway (preempt=full): this test cannot fail here\n");
		fflush(stdout);
	}
	KD_T_ASSERT_COUNTERS(self->start);
	self->fd = kd_t_open();
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(latency)
{
	struct kd_t_counters now;

	if (self->victim.phase == PHASE_BASELINE ||
	    self->victim.phase == PHASE_CALL) {
		atomic_store(&self->victim.phase, PHASE_STOP);
		pthread_join(self->victim.thread, NULL);
	}
	if (self->fd >= 0)
		EXPECT_EQ(0, close(self->fd));
	EXPECT_EQ(0, kd_t_wait_settled(&self->start, &now, SETTLE_MS));
	KD_T_EXPECT_SETTLED(self->start, KD_T_ALL);
}

/*
 * make_tree() - a group under @parent (0: a root) with @n - 1 descendants:
 * tokens as its children while they fit in one group, else subtrees of
 * about equal size.
 * Return: 0 with the group's handle in *@handle, or -errno.
 */
static int make_tree(int fd, __u64 parent, unsigned long n, __u64 *handle)
{
	unsigned long rest = n - 1, k, i, size;
	__u64 group, h;
	int ret;

	ret = kd_t_create(fd, KDISPOSE_TYPE_GROUP, parent, 0, 0, "lat",
			  &group);
	if (ret)
		return ret;
	if (rest <= KDISPOSE_MAX_CHILDREN) {
		for (i = 0; i < rest; i++) {
			ret = kd_t_token(fd, group, i, NULL, &h);
			if (ret)
				return ret;
		}
	} else {
		k = (rest + KDISPOSE_MAX_CHILDREN) / (KDISPOSE_MAX_CHILDREN + 1);
		for (i = 0; i < k; i++) {
			size = rest / k + (i < rest % k);
			ret = make_tree(fd, group, size, &h);
			if (ret)
				return ret;
		}
	}
	*handle = group;
	return 0;
}

/*
 * make_forest() - @nroots trees of @total objects in all, their roots in
 * @roots; says how long it took.
 * Return: 0 or -errno.
 */
static int make_forest(int fd, __u64 *roots, unsigned long nroots,
		       unsigned long total)
{
	uint64_t t0 = kd_t_now_ns();
	unsigned long i;
	int ret;

	for (i = 0; i < nroots; i++) {
		ret = make_tree(fd, 0, total / nroots, &roots[i]);
		if (ret)
			return ret;
	}
	ksft_print_msg("created %lu objects in %lu tree(s) in %.2f s\n",
		       total / nroots * nroots, nroots,
		       (kd_t_now_ns() - t0) / 1e9);
	fflush(stdout);
	return 0;
}

/*
 * Start the victim on the fixture's CPU (threads inherit the affinity).
 * First this thread spins in user space for BASELINE_NS
 * beside it: the victim's longest wait then is what the scheduler makes
 * it wait anyway, for comparison in the report. Then, with the victim
 * known to be running, the call begins.
 */
static int call_begin(struct victim *v)
{
	uint64_t end;
	int ret;

	memset(v, 0, sizeof(*v));
	atomic_store(&v->phase, PHASE_BASELINE);
	ret = pthread_create(&v->thread, NULL, victim_loop, v);
	if (ret) {
		atomic_store(&v->phase, PHASE_WAIT);
		return -ret;
	}
	end = kd_t_now_ns() + BASELINE_NS;
	while (kd_t_now_ns() < end)
		;
	atomic_store(&v->phase, PHASE_CALL);
	while (atomic_load(&v->iters) == 0)
		sched_yield();
	atomic_store(&v->call_start, kd_t_now_ns());
	return 0;
}

/* The call returned: stop the victim. */
static void call_end(struct victim *v)
{
	v->call_end = kd_t_now_ns();
	atomic_store(&v->phase, PHASE_STOP);
	pthread_join(v->thread, NULL);
}

/*
 * Report one measured call: how long the victim waited at most, against
 * the time the call had the CPU. Sharing the CPU, the call gets about half
 * of it and the victim waits a scheduler slice at a time; a call that does
 * not yield makes it wait for most of its run.
 */
static void call_report(FIXTURE_DATA(latency) *self, const char *what,
			int round)
{
	const struct victim *v = &self->victim;
	uint64_t ns = v->call_end - v->call_start;
	uint64_t own = ns > v->cpu_ns ? ns - v->cpu_ns : 1;
	double ratio = (double)v->wait / own;

	ksft_print_msg("%s %d of %lu objects: %.3f s, %.3f s of it on cpu %d; the victim waited %.3f s (%.0f%%) from %.3f s on (%.3f s beside user space)\n",
		       what, round + 1, self->nobjects, ns / 1e9, own / 1e9,
		       self->cpu, v->wait / 1e9, 100 * ratio,
		       ((int64_t)v->wait_at - (int64_t)v->call_start) / 1e9,
		       v->baseline_wait / 1e9);
	fflush(stdout);
	if (ratio < self->best)
		self->best = ratio;
	/*
	 * A call that keeps the CPU makes the victim wait at most as long as
	 * the call runs; a longer wait is the virtual CPU stalled by the host,
	 * which says nothing either way: such a call gets one more round, up
	 * to LAT_ROUNDS more.
	 */
	if (ratio > 1 && self->stalled < LAT_ROUNDS)
		self->stalled++;
}

/* The check: at least one call let the victim run often enough. */
#define EXPECT_YIELDED(what) do {					\
	EXPECT_GT(1.0 / LAT_RATIO, self->best)				\
		TH_LOG("%s kept the CPU without yielding for %.0f%% of its run, at best of %d calls",\
		       what, 100 * self->best, LAT_ROUNDS + self->stalled);\
} while (0)

/* One explicit dispose of a tree: the cascade. */
TEST_F_TIMEOUT(latency, dispose_of_a_big_tree_yields, 120)
{
	__u64 root;
	int round;

	for (round = 0; round < LAT_ROUNDS + self->stalled; round++) {
		ASSERT_EQ(0, make_forest(self->fd, &root, 1, self->nobjects));
		ASSERT_EQ(0, call_begin(&self->victim));
		EXPECT_EQ(1, kd_t_dispose(self->fd, root));
		call_end(&self->victim);
		call_report(self, "dispose", round);
	}
	EXPECT_YIELDED("dispose");
}

/*
 * Close of a file holding the tree: the finalizer, which runs in this
 * task's task work before close() returns to user space.
 */
TEST_F_TIMEOUT(latency, close_of_a_full_file_yields, 120)
{
	int round, fd;
	__u64 root;

	for (round = 0; round < LAT_ROUNDS + self->stalled; round++) {
		ASSERT_EQ(0, make_forest(self->fd, &root, 1, self->nobjects));
		fd = self->fd;
		self->fd = -1;
		ASSERT_EQ(0, call_begin(&self->victim));
		EXPECT_EQ(0, close(fd));
		call_end(&self->victim);
		call_report(self, "close", round);
		self->fd = kd_t_open();
		ASSERT_LE(0, self->fd);
	}
	EXPECT_YIELDED("close");
}

/* One batch of disposes of LAT_ROOTS trees. */
TEST_F_TIMEOUT(latency, batch_dispose_of_big_trees_yields, 120)
{
	__u64 roots[LAT_ROOTS];
	__s32 results[LAT_ROOTS];
	struct kdispose_dispose_batch b;
	int round, i;

	for (round = 0; round < LAT_ROUNDS + self->stalled; round++) {
		ASSERT_EQ(0, make_forest(self->fd, roots, LAT_ROOTS,
					 self->nobjects));
		b = (struct kdispose_dispose_batch){
			.handles = (uintptr_t)roots,
			.results = (uintptr_t)results,
			.count = LAT_ROOTS,
		};
		ASSERT_EQ(0, call_begin(&self->victim));
		EXPECT_EQ(0, kd_t_ioctl(self->fd, KDISPOSE_IOC_DISPOSE_BATCH,
					&b));
		call_end(&self->victim);
		call_report(self, "batch dispose", round);
		EXPECT_EQ(LAT_ROOTS, b.ndisposed);
		for (i = 0; i < LAT_ROOTS; i++) {
			EXPECT_EQ(1, results[i]);
		}
	}
	EXPECT_YIELDED("batch dispose");
}

/*
 * A dispose through io_uring. A tree cannot be disposed without waiting
 * (-EAGAIN on the non-blocking first try), so an io-wq worker runs it: the
 * ring's workers are pinned to the same CPU (IORING_REGISTER_IOWQ_AFF).
 */
TEST_F_TIMEOUT(latency, uring_dispose_of_a_big_tree_yields, 120)
{
	struct kdispose_dispose d = { 0 };
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	int round, res;
	cpu_set_t set;

	ASSERT_EQ(0, io_uring_queue_init(4, &ring, 0));
	CPU_ZERO(&set);
	CPU_SET(self->cpu, &set);
	ASSERT_EQ(0, io_uring_register_iowq_aff(&ring, sizeof(set), &set));
	for (round = 0; round < LAT_ROUNDS + self->stalled; round++) {
		ASSERT_EQ(0, make_forest(self->fd, &d.handle, 1,
					 self->nobjects));
		sqe = io_uring_get_sqe(&ring);
		ASSERT_NE(NULL, sqe);
		io_uring_prep_rw(IORING_OP_URING_CMD, sqe, self->fd, NULL, 0,
				 0);
		sqe->cmd_op = KDISPOSE_URING_CMD_DISPOSE;
		memcpy(sqe->cmd, &d, sizeof(d));

		ASSERT_EQ(0, call_begin(&self->victim));
		res = io_uring_submit_and_wait(&ring, 1);
		if (res == 1)
			res = io_uring_wait_cqe(&ring, &cqe);
		call_end(&self->victim);
		ASSERT_EQ(0, res);
		call_report(self, "io_uring dispose", round);
		EXPECT_EQ(1, cqe->res);
		io_uring_cqe_seen(&ring, cqe);
	}
	io_uring_queue_exit(&ring);
	EXPECT_YIELDED("io_uring dispose");
}

TEST_HARNESS_MAIN
