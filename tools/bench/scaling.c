// SPDX-License-Identifier: GPL-2.0
/*
 * Row 9: does kdispose scale over CPUs as eventfd does? N processes, each
 * with its own /dev/kdispose fd, create and dispose tokens for a fixed
 * time; then N processes run eventfd() + close() for as long. speed-up(N)
 * is what N processes did in that time over what one did, for each, and
 * their ratio is 1 when kdispose scales like eventfd, which touches only
 * per-process and per-CPU state on its way (the fd table, the filp slab).
 * A module-wide lock, atomic or counter line written by every create or
 * dispose shows here as a kdispose speed-up below eventfd's, further below
 * the more CPUs there are. Two VERSION ioctls per operation, on each
 * process's own fd, show what the VM and the host give N processes at
 * best: when even they do not speed up, the host had no N cores to give
 * and the verdict is n/a.
 *
 * N is 1, each power of 2 below the number of CPUs, and that number. The
 * workers are forked once, before the first round, each pinned to a CPU of
 * its own; those a run does not use sleep in read() on their pipe and cost
 * the others nothing. A run: the parent wakes N workers, waits until each
 * spins on the shared start flag, raises it, sleeps cfg->scale_ms, raises
 * the stop flag and adds up the operations the workers counted. A round
 * runs every N and every case in turn, and a speed-up is the median of its
 * per-round values, so a busy spell of the host that hits a round mostly
 * cancels out, as in the other rows.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/kdispose.h>

#include "bench.h"

/* Processes at most: a bigger machine only measures up to this many. */
#define SCALE_MAX_PROCS		256

/* The process counts: the powers of 2 below SCALE_MAX_PROCS, the CPUs'. */
#define SCALE_MAX_COUNTS	9

/* How long the parent waits for a worker's answer before giving up. */
#define SCALE_REPLY_MS		60000

enum scale_case { SCALE_KDISPOSE, SCALE_EVENTFD, SCALE_FLOOR, NSCALE };

static const char *const scale_names[NSCALE] = {
	[SCALE_KDISPOSE] = "create+dispose",
	[SCALE_EVENTFD] = "eventfd+close",
	[SCALE_FLOOR] = "floor: 2 x ioctl(VERSION)",
};

/*
 * What a worker counted in its last run, on a cache line of its own so
 * that the counting shares nothing: each worker writes its line once, at
 * the end of a run.
 */
struct scale_count {
	uint64_t ops;
	int err;
} __aligned(64);

/**
 * struct scale_shared - the memory the parent shares with its workers
 * @go: raised by the parent when every worker of a run is ready.
 * @stop: raised by the parent when the run's time is up.
 * @count: each worker's operations in the last run, and the errno that
 *	stopped it (0 when none did).
 */
struct scale_shared {
	int go;
	int stop;
	struct scale_count count[SCALE_MAX_PROCS];
};

/**
 * struct scale - the parent's view of its workers
 * @sh: the shared memory.
 * @pid: the workers' process ids.
 * @cmd: the write ends of their command pipes: one byte, the case, starts
 *	a run; closing it ends the worker.
 * @reply: the read end of the pipe all workers answer on: 'r' when ready,
 *	'd' when done, 'x' when a call failed.
 * @nworkers: how many there are.
 */
struct scale {
	struct scale_shared *sh;
	pid_t pid[SCALE_MAX_PROCS];
	int cmd[SCALE_MAX_PROCS];
	int reply;
	unsigned int nworkers;
};

/* One operation of case @c; 0, or the errno of the call that failed. */
static int scale_op(enum scale_case c, int kfd, uint64_t i)
{
	struct kdispose_create cr = {
		.type = KDISPOSE_TYPE_TOKEN,
		.args = { i },
	};
	struct kdispose_dispose d = {};
	int fd, ret, n;

	switch (c) {
	case SCALE_KDISPOSE:
		if (ioctl(kfd, KDISPOSE_IOC_CREATE, &cr))
			return errno;
		d.handle = cr.handle;
		ret = ioctl(kfd, KDISPOSE_IOC_DISPOSE, &d);
		if (ret != 1)
			return ret < 0 ? errno : EPROTO;
		return 0;
	case SCALE_EVENTFD:
		fd = eventfd(0, EFD_CLOEXEC);
		if (fd < 0)
			return errno;
		close(fd);
		return 0;
	default:
		for (n = 0; n < 2; n++) {
			ret = ioctl(kfd, KDISPOSE_IOC_VERSION);
			if (ret != KDISPOSE_ABI_VERSION)
				return ret < 0 ? errno : EPROTO;
		}
		return 0;
	}
}

static void scale_answer(int reply, char c)
{
	if (write(reply, &c, 1) != 1)
		_exit(1);
}

/*
 * A worker: its own kdispose fd, opened after the fork so that no other
 * process shares the file. It leaves with _exit(): exit() would run the
 * parent's atexit handlers and flush its stdio a second time.
 */
static __noreturn void scale_worker(struct scale_shared *sh,
				    unsigned int index, int cpu, int cmd,
				    int reply)
{
	struct scale_count *count = &sh->count[index];
	cpu_set_t cpus;
	uint64_t ops;
	int kfd, err;
	char c;

	CPU_ZERO(&cpus);
	CPU_SET(cpu, &cpus);
	err = sched_setaffinity(0, sizeof(cpus), &cpus) ? errno : 0;
	kfd = open(DEV_PATH, O_RDWR | O_CLOEXEC);
	if (kfd < 0 && !err)
		err = errno;
	while (read(cmd, &c, 1) == 1) {
		if (err) {
			count->err = err;
			scale_answer(reply, 'x');
			continue;
		}
		scale_answer(reply, 'r');
		while (!__atomic_load_n(&sh->go, __ATOMIC_ACQUIRE))
			;
		/*
		 * At least one operation, whenever the stop comes: a worker
		 * that a busy host ran only after the run's time was up
		 * still counts one, and a run never counts none.
		 */
		ops = 0;
		do {
			err = scale_op(c, kfd, ops);
			if (err)
				break;
			ops++;
		} while (!__atomic_load_n(&sh->stop, __ATOMIC_RELAXED));
		count->ops = ops;
		count->err = err;
		scale_answer(reply, err ? 'x' : 'd');
	}
	_exit(0);
}

/* Wait for @n answers @expect from the workers; die if one failed. */
static void scale_wait(struct scale *s, unsigned int n, char expect)
{
	struct pollfd p = { .fd = s->reply, .events = POLLIN };
	unsigned int i;
	char c;

	while (n--) {
		if (poll(&p, 1, SCALE_REPLY_MS) != 1)
			die("row 9: a worker did not answer in %d s",
			    SCALE_REPLY_MS / 1000);
		if (read(s->reply, &c, 1) != 1)
			die("row 9: the workers are gone");
		if (c == expect)
			continue;
		for (i = 0; i < s->nworkers; i++)
			if (s->sh->count[i].err)
				die("row 9: worker %u: %s", i,
				    strerror(s->sh->count[i].err));
		die("row 9: a worker answered '%c'", c);
	}
}

/* Fork a worker per CPU of @cpus, up to @n of them. */
static void scale_start(struct scale *s, const cpu_set_t *cpus, unsigned int n)
{
	int reply[2], cmd[2];
	unsigned int i, j;
	int cpu = -1;
	pid_t pid;

	s->sh = mmap(NULL, sizeof(*s->sh), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s->sh == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	if (pipe2(reply, O_CLOEXEC))
		die("pipe2: %s", strerror(errno));
	s->reply = reply[0];
	for (i = 0; i < n; i++) {
		do
			cpu++;
		while (!CPU_ISSET(cpu, cpus));
		if (pipe2(cmd, O_CLOEXEC))
			die("pipe2: %s", strerror(errno));
		pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (!pid) {
			/* The earlier workers end when the parent closes. */
			for (j = 0; j < i; j++)
				close(s->cmd[j]);
			close(cmd[1]);
			close(reply[0]);
			scale_worker(s->sh, i, cpu, cmd[0], reply[1]);
		}
		close(cmd[0]);
		s->cmd[i] = cmd[1];
		s->pid[i] = pid;
		s->nworkers++;
	}
	close(reply[1]);
}

static void scale_stop(struct scale *s)
{
	unsigned int i;
	int status;

	for (i = 0; i < s->nworkers; i++)
		close(s->cmd[i]);
	for (i = 0; i < s->nworkers; i++)
		if (waitpid(s->pid[i], &status, 0) != s->pid[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			die("row 9: worker %u did not exit cleanly", i);
	close(s->reply);
	munmap(s->sh, sizeof(*s->sh));
}

/*
 * One run of case @c on the first @n workers. Return: the wall time per
 * operation of all of them together, in nanoseconds.
 */
static double scale_run(struct scale *s, enum scale_case c, unsigned int n)
{
	struct timespec ts = {
		.tv_sec = cfg->scale_ms / 1000,
		.tv_nsec = cfg->scale_ms % 1000 * 1000000L,
	};
	uint64_t t0, ops = 0;
	unsigned int i;
	char cmd = c;
	double t;

	/* Every worker is asleep in read(): nobody looks at the flags. */
	s->sh->go = 0;
	s->sh->stop = 0;
	for (i = 0; i < n; i++)
		if (write(s->cmd[i], &cmd, 1) != 1)
			die("row 9: worker %u: %s", i, strerror(errno));
	scale_wait(s, n, 'r');
	t0 = now_ns();
	__atomic_store_n(&s->sh->go, 1, __ATOMIC_RELEASE);
	while (nanosleep(&ts, &ts))
		if (errno != EINTR)
			die("nanosleep: %s", strerror(errno));
	__atomic_store_n(&s->sh->stop, 1, __ATOMIC_RELAXED);
	t = elapsed(t0);
	scale_wait(s, n, 'd');
	for (i = 0; i < n; i++)
		ops += s->sh->count[i].ops;
	return t / ops;
}

/*
 * The lines of one process count @n > 1, from the per-round times @t1 of
 * one process and @tn of n; @last: the largest count, which gets the
 * target.
 */
static void scale_report(double (*t1)[MAX_ROUNDS], double (*tn)[MAX_ROUNDS],
			 unsigned int rounds, unsigned int n, bool last)
{
	static const char *const short_names[NSCALE] = {
		[SCALE_KDISPOSE] = "create+dispose",
		[SCALE_EVENTFD] = "eventfd+close",
		[SCALE_FLOOR] = "floor",
	};
	static double up[NSCALE][MAX_ROUNDS];
	unsigned int c, round;
	double floor_up = 0;
	struct result *r;
	char name[64];

	for (c = 0; c < NSCALE; c++) {
		for (round = 0; round < rounds; round++)
			up[c][round] = t1[c][round] / tn[c][round];
		snprintf(name, sizeof(name), "%s speed-up, N=%u",
			 short_names[c], n);
		r = add(9, name, median(up[c], rounds), "x");
		if (c == SCALE_FLOOR) {
			floor_up = r->value;
			note(r, "what the VM and host give %u processes", n);
		}
	}
	snprintf(name, sizeof(name), "kdispose / eventfd speed-up, N=%u", n);
	r = add(9, name, ratio(up[SCALE_KDISPOSE], up[SCALE_EVENTFD], rounds),
		"ratio");
	note(r, "1.0: create+dispose scales like eventfd+close");
	if (!last)
		return;
	target(r, ">=", 0.95);
	if (floor_up < 0.85 * n) {
		r->unmeasurable = true;
		note(r, "empty ioctls sped up %.2fx: the VM had no %u host cores",
		     floor_up, n);
	}
	snprintf(name, sizeof(name), "kdispose / floor speed-up, N=%u", n);
	r = add(9, name, ratio(up[SCALE_KDISPOSE], up[SCALE_FLOOR], rounds),
		"ratio");
	note(r, "1.0: nothing shared (eventfd shares an IDA and an inode)");
}

void row_scaling(void)
{
	static double t[SCALE_MAX_COUNTS][NSCALE][MAX_ROUNDS];
	unsigned int counts[SCALE_MAX_COUNTS], ncounts = 0, ncpus, n;
	unsigned int rounds = cfg->scale_rounds, round, k, c;
	struct scale s = {};
	struct result *r;
	cpu_set_t cpus;
	char name[64];

	if (sched_getaffinity(0, sizeof(cpus), &cpus))
		die("sched_getaffinity: %s", strerror(errno));
	ncpus = CPU_COUNT(&cpus);
	if (ncpus > SCALE_MAX_PROCS)
		ncpus = SCALE_MAX_PROCS;
	if (ncpus < 2) {
		skip(9, "kdispose / eventfd speed-up", "needs 2 CPUs");
		return;
	}
	for (n = 1; n < ncpus; n *= 2)
		counts[ncounts++] = n;
	counts[ncounts++] = ncpus;

	snprintf(name, sizeof(name), "row 9: 1 to %u processes, %u ms a run",
		 ncpus, cfg->scale_ms);
	progress(name);
	/* A worker that died must make write() fail, not kill the parent. */
	signal(SIGPIPE, SIG_IGN);
	scale_start(&s, &cpus, ncpus);
	for (round = 0; round < rounds; round++)
		for (k = 0; k < ncounts; k++)
			for (c = 0; c < NSCALE; c++)
				t[k][c][round] = scale_run(&s, c, counts[k]);
	scale_stop(&s);
	signal(SIGPIPE, SIG_DFL);

	for (c = 0; c < NSCALE; c++) {
		snprintf(name, sizeof(name), "%s, N=1", scale_names[c]);
		r = add(9, name, median(t[0][c], rounds), "ns");
		if (c == SCALE_KDISPOSE)
			note(r, "N processes, each on its own fd and CPU");
	}
	for (c = 0; c < NSCALE; c++) {
		snprintf(name, sizeof(name), "%s, N=%u", scale_names[c], ncpus);
		r = add(9, name, median(t[ncounts - 1][c], rounds), "ns");
		note(r, "aggregate: wall time / ops of all %u", ncpus);
	}
	for (k = 1; k < ncounts; k++)
		scale_report(t[0], t[k], rounds, counts[k], k == ncounts - 1);
}
