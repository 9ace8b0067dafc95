// SPDX-License-Identifier: GPL-2.0
/*
 * finalizer_test: the finalizer path. Objects still in a table when the
 * last reference to its file goes away are disposed by the release hook and
 * counted as "finalized": at close, with a million objects, after fork()
 * and dup() (only the last close counts), after SCM_RIGHTS hand-offs, when
 * the unix socket garbage collector drops an fd in flight, when the owner
 * is killed, and with the leak report on.
 */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "kdispose_test.h"

/* Objects the "million objects" test leaves for the finalizer. */
#define MILLION		((int)kd_t_scaled(1000000))

/* How long the unix garbage collector may take to drop an fd in flight. */
#define GC_WAIT_MS	10000

FIXTURE(finalizer)
{
	KD_T_DEV_MEMBERS;
	struct kd_t_param leak_report;	/* saved by the leak report tests */
	struct kd_t_param max_objects;	/* saved by the million test */
};

FIXTURE_SETUP(finalizer)
{
	KD_T_DEV_SETUP(self);
}

/* No ASSERT here: a failing ASSERT in teardown would re-enter teardown. */
FIXTURE_TEARDOWN(finalizer)
{
	EXPECT_EQ(0, kd_t_param_restore(&self->leak_report));
	EXPECT_EQ(0, kd_t_param_restore(&self->max_objects));
	KD_T_DEV_TEARDOWN(self, KD_T_ALL, 0);
}

/* Create @n tokens in @fd. Return: 0 or the first -errno. */
static int make_tokens(int fd, int n, const char *label)
{
	__u64 h;
	int i, ret;

	for (i = 0; i < n; i++) {
		ret = kd_t_token(fd, 0, i, label, &h);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Poll the counters until @want objects were finalized since @before, at
 * most @ms milliseconds; @gc runs the unix garbage collector meanwhile.
 * Return: 0 with the last snapshot in @now, or -errno / -ETIMEDOUT.
 */
static int wait_finalized(const struct kd_t_counters *before,
			  struct kd_t_counters *now, __s64 want, bool gc,
			  int ms)
{
	uint64_t deadline = kd_t_now_ns() + ms * 1000000ULL;
	int ret, sv[2];

	for (;;) {
		ret = kd_t_counters_read(now);
		if (ret)
			return ret;
		if (kd_t_delta(before, now, KD_T_ALL).finalized >= want)
			return 0;
		if (kd_t_now_ns() > deadline)
			return -ETIMEDOUT;
		/* Releasing a unix socket runs the collector. */
		if (gc && socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) {
			close(sv[0]);
			close(sv[1]);
		}
		usleep(10000);
	}
}

/* Counter deltas are exact: finalized counts only what was left. */
TEST_F(finalizer, close_counts_leftovers)
{
	struct kd_t_counters after;
	__u64 h[10];
	int i;

	for (i = 0; i < 10; i++)
		ASSERT_EQ(0, kd_t_token(self->fd, 0, i, "left", &h[i]));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(1, kd_t_dispose(self->fd, h[i]));
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&self->start, &after, KD_T_ALL, .created = 10,
			  .disposed = 3, .finalized = 7, .released = 10);
	KD_T_EXPECT_DELTA(&self->start, &after, KDISPOSE_TYPE_TOKEN,
			  .created = 10, .disposed = 3, .finalized = 7,
			  .released = 10);
}

/* Children left at close are finalized too, each exactly once. */
TEST_F(finalizer, close_counts_tree)
{
	struct kd_t_counters after;
	__u64 root, parent, h;
	int i;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 0, "root", &root));
	parent = root;
	for (i = 0; i < KDISPOSE_MAX_DEPTH; i++) {
		ASSERT_EQ(0, kd_t_token(self->fd, parent, i, "chain", &h));
		parent = h;
	}
	for (i = 0; i < 100; i++)
		ASSERT_EQ(0, kd_t_token(self->fd, root, i, "leaf", &h));
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&self->start, &after, KD_T_ALL,
			  .created = 1 + KDISPOSE_MAX_DEPTH + 100,
			  .finalized = 1 + KDISPOSE_MAX_DEPTH + 100,
			  .released = 1 + KDISPOSE_MAX_DEPTH + 100);
}

/* The release walk copes with a million objects (no time is asserted). */
TEST_F_TIMEOUT(finalizer, close_million_objects, 120)
{
	struct kd_t_counters after;
	uint64_t t0, t1, t2;
	char limit[32];
	__u64 v;

	ASSERT_EQ(0, kd_t_param_read("max_objects", limit, sizeof(limit)));
	if (strtoull(limit, NULL, 10) < MILLION) {
		if (geteuid())
			SKIP(return, "changing max_objects needs root");
		ASSERT_EQ(0, kd_t_param_set_u64(&self->max_objects,
						"max_objects", MILLION));
	}
	t0 = kd_t_now_ns();
	ASSERT_EQ(0, make_tokens(self->fd, MILLION, NULL));
	t1 = kd_t_now_ns();
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_live", &v));
	EXPECT_EQ(MILLION, v);
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	t2 = kd_t_now_ns();
	TH_LOG("%d creates: %" PRIu64 " ms; close: %" PRIu64 " ms (%" PRIu64
	       " ns/object)", MILLION, (t1 - t0) / 1000000,
	       (t2 - t1) / 1000000, (t2 - t1) / MILLION);
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&self->start, &after, KD_T_ALL, .created = MILLION,
			  .finalized = MILLION, .released = MILLION);
}

/* A forked child shares the file: its exit finalizes nothing. */
TEST_F(finalizer, fork_child_shares_table)
{
	struct kd_t_counters mid, after;
	struct kdispose_query q;
	__u64 h, theirs = 0;
	int pipefd[2], status;
	pid_t pid;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, "parent", &h));
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (kd_t_query(self->fd, h, &q) || q.info[0] != 1)
			_exit(1);
		if (kd_t_token(self->fd, 0, 2, "child", &theirs))
			_exit(2);
		if (write(pipefd[1], &theirs, sizeof(theirs)) != sizeof(theirs))
			_exit(3);
		_exit(0);
	}
	EXPECT_EQ(0, close(pipefd[1]));
	ASSERT_EQ(sizeof(theirs), read(pipefd[0], &theirs, sizeof(theirs)));
	EXPECT_EQ(0, close(pipefd[0]));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, status) TH_LOG("child failed at step %d",
				    WEXITSTATUS(status));
	KD_T_ASSERT_COUNTERS(mid);
	KD_T_EXPECT_DELTA(&self->start, &mid, KD_T_ALL, .created = 2,
			  .live = 2);
	ASSERT_EQ(0, kd_t_query(self->fd, theirs, &q));
	EXPECT_EQ(2, q.info[0]);
	EXPECT_STREQ("child", q.label);

	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&self->start, &after, KD_T_ALL, .created = 2,
			  .finalized = 2, .released = 2);
}

/* The parent closes first: the child's exit is the last close. */
TEST_F(finalizer, fork_last_close_finalizes)
{
	struct kd_t_counters mid, after;
	int pipefd[2], status;
	char go = 'x';
	pid_t pid;

	ASSERT_EQ(0, make_tokens(self->fd, 5, "shared"));
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(pipefd[1]);
		_exit(read(pipefd[0], &go, 1) == 1 ? 0 : 1);
	}
	EXPECT_EQ(0, close(pipefd[0]));
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	KD_T_ASSERT_COUNTERS(mid);
	KD_T_EXPECT_DELTA(&self->start, &mid, KD_T_ALL, .created = 5,
			  .live = 5);
	ASSERT_EQ(1, write(pipefd[1], &go, 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	EXPECT_EQ(0, close(pipefd[1]));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&self->start, &after, KD_T_ALL, .created = 5,
			  .finalized = 5, .released = 5);
}

TEST_F(finalizer, dup_last_close_finalizes)
{
	struct kd_t_counters mid, after;
	struct kdispose_query q;
	__u64 h;
	int fd2;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &h));
	ASSERT_EQ(0, kd_t_token(self->fd, 0, 2, NULL, &h));
	fd2 = dup(self->fd);
	ASSERT_LE(0, fd2);
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	KD_T_ASSERT_COUNTERS(mid);
	KD_T_EXPECT_DELTA(&self->start, &mid, KD_T_ALL, .created = 2,
			  .live = 2);
	EXPECT_EQ(0, kd_t_query(fd2, h, &q));
	EXPECT_EQ(0, close(fd2));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&self->start, &after, KD_T_ALL, .created = 2,
			  .finalized = 2, .released = 2);
}

/*
 * The sender passes its fd to a child over SCM_RIGHTS and closes it: the
 * table lives on in the child, whose close finalizes it.
 */
TEST_F(finalizer, scm_rights_receiver_close_finalizes)
{
	struct kd_t_counters mid, after;
	int sv[2], status;
	char ack;
	__u64 h;
	pid_t pid;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 77, "sent", &h));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct kdispose_query q;
		int fd;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(self->fd);
		close(sv[0]);
		fd = kd_t_recv_fd(sv[1], NULL);
		if (fd < 0)
			_exit(1);
		if (kd_t_query(fd, h, &q) || q.info[0] != 77)
			_exit(2);
		if (write(sv[1], "r", 1) != 1 || read(sv[1], &ack, 1) != 1)
			_exit(3);
		_exit(close(fd) ? 4 : 0);
	}
	EXPECT_EQ(0, close(sv[1]));
	ASSERT_EQ(0, kd_t_send_fd(sv[0], self->fd, 'F'));
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	ASSERT_EQ(1, read(sv[0], &ack, 1));
	KD_T_ASSERT_COUNTERS(mid);
	KD_T_EXPECT_DELTA(&self->start, &mid, KD_T_ALL, .created = 1,
			  .live = 1);
	ASSERT_EQ(1, write(sv[0], "c", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status) TH_LOG("child failed at step %d",
				    WEXITSTATUS(status));
	EXPECT_EQ(0, close(sv[0]));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&self->start, &after, KD_T_ALL, .created = 1,
			  .finalized = 1, .released = 1);
}

/* An fd in flight, never received: closing the receiving end drops it. */
TEST_F(finalizer, in_flight_fd_dropped_with_socket)
{
	struct kd_t_counters mid, after;
	int sv[2];

	ASSERT_EQ(0, make_tokens(self->fd, 3, "flight"));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	ASSERT_EQ(0, kd_t_send_fd(sv[0], self->fd, 'F'));
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	KD_T_ASSERT_COUNTERS(mid);
	KD_T_EXPECT_DELTA(&self->start, &mid, KD_T_ALL, .created = 3,
			  .live = 3);
	EXPECT_EQ(0, close(sv[0]));
	EXPECT_EQ(0, close(sv[1]));
	ASSERT_EQ(0, wait_finalized(&self->start, &after, 3, false,
				    GC_WAIT_MS));
	KD_T_EXPECT_DELTA(&self->start, &after, KD_T_ALL, .created = 3,
			  .finalized = 3, .released = 3);
}

/*
 * An fd in flight in a socket that is itself in flight in its own queue:
 * only the unix garbage collector can drop it.
 */
TEST_F(finalizer, in_flight_fd_dropped_by_unix_gc)
{
	struct kd_t_counters mid, after;
	int sv[2];

	ASSERT_EQ(0, make_tokens(self->fd, 4, "gc"));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	ASSERT_EQ(0, kd_t_send_fd(sv[0], self->fd, 'F'));
	ASSERT_EQ(0, kd_t_send_fd(sv[0], sv[1], 'F'));
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(0, close(sv[1]));
	KD_T_ASSERT_COUNTERS(mid);
	KD_T_EXPECT_DELTA(&self->start, &mid, KD_T_ALL, .created = 4,
			  .live = 4);
	EXPECT_EQ(0, close(sv[0]));
	ASSERT_EQ(0, wait_finalized(&self->start, &after, 4, true,
				    GC_WAIT_MS));
	KD_T_EXPECT_DELTA(&self->start, &after, KD_T_ALL, .created = 4,
			  .finalized = 4, .released = 4);
}

/* The owner is killed with objects in its table: they are finalized. */
TEST_F(finalizer, sigkill_finalizes)
{
	struct kd_t_counters mid, after;
	int pipefd[2], status;
	char ready;
	pid_t pid;

	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(pipefd[0]);
		fd = kd_t_open();
		if (fd < 0 || make_tokens(fd, 50, "killed"))
			_exit(1);
		if (write(pipefd[1], "r", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	EXPECT_EQ(0, close(pipefd[1]));
	ASSERT_EQ(1, read(pipefd[0], &ready, 1));
	EXPECT_EQ(0, close(pipefd[0]));
	KD_T_ASSERT_COUNTERS(mid);
	KD_T_EXPECT_DELTA(&self->start, &mid, KD_T_ALL, .created = 50,
			  .live = 50);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&self->start, &after, KD_T_ALL, .created = 50,
			  .finalized = 50, .released = 50);
}

/* leak_report=Y logs each finalized object once, with type and label. */
TEST_F(finalizer, leak_report_names_leaked_object)
{
	char label[KDISPOSE_LABEL_LEN];
	int kmsg;

	if (geteuid())
		SKIP(return, "changing module parameters needs root");

	snprintf(label, sizeof(label), "kdleak%d", getpid());
	ASSERT_EQ(0, kd_t_param_set(&self->leak_report, "leak_report", "Y"));
	kmsg = kd_t_kmsg_open();
	ASSERT_LE(0, kmsg) TH_LOG("/dev/kmsg: %s", strerror(-kmsg));
	ASSERT_EQ(0, make_tokens(self->fd, 1, label));
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(1, kd_t_kmsg_count(kmsg, label, "token"))
		TH_LOG("one kernel log line with \"%s\" and \"token\"", label);
	EXPECT_EQ(0, close(kmsg));
}

/* Objects disposed explicitly are not leaks. */
TEST_F(finalizer, leak_report_skips_disposed)
{
	char label[KDISPOSE_LABEL_LEN];
	int kmsg;
	__u64 h;

	if (geteuid())
		SKIP(return, "changing module parameters needs root");

	snprintf(label, sizeof(label), "kdgood%d", getpid());
	ASSERT_EQ(0, kd_t_param_set(&self->leak_report, "leak_report", "Y"));
	kmsg = kd_t_kmsg_open();
	ASSERT_LE(0, kmsg) TH_LOG("/dev/kmsg: %s", strerror(-kmsg));
	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, label, &h));
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(0, kd_t_kmsg_count(kmsg, label, NULL));
	EXPECT_EQ(0, close(kmsg));
}

TEST_F(finalizer, leak_report_off_is_silent)
{
	char label[KDISPOSE_LABEL_LEN];
	int kmsg;

	if (geteuid())
		SKIP(return, "changing module parameters needs root");

	snprintf(label, sizeof(label), "kdquiet%d", getpid());
	ASSERT_EQ(0, kd_t_param_set(&self->leak_report, "leak_report", "N"));
	kmsg = kd_t_kmsg_open();
	ASSERT_LE(0, kmsg) TH_LOG("/dev/kmsg: %s", strerror(-kmsg));
	ASSERT_EQ(0, make_tokens(self->fd, 1, label));
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(0, kd_t_kmsg_count(kmsg, label, NULL));
	EXPECT_EQ(0, close(kmsg));
}

TEST_HARNESS_MAIN
