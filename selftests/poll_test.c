// SPDX-License-Identifier: GPL-2.0
/*
 * poll_test: an event's export fd as an event-loop source. poll/epoll
 * report EPOLLIN while the event is signaled (level, never consuming) and
 * EPOLLHUP while no table holds a handle of it; read() returns 8 bytes of
 * value 1 and consumes an auto-reset signal, blocks until signaled, fails
 * with EAGAIN when O_NONBLOCK, EINTR on a signal, EINVAL for a short
 * buffer. storm_1000_events checks under load that epoll reports every
 * signal and read() consumes each exactly once. Also: what an export fd of
 * a memory buffer gives to poll and read.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kdispose_test.h"

KD_T_DEV_FIXTURE(poll, KD_T_ALL);

/* poll() the fd once without sleeping. Return: its revents, or -errno. */
static int revents(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int ret = poll(&p, 1, 0);

	if (ret < 0)
		return -errno;
	return ret ? p.revents : 0;
}

/* An event and its export fd. Return: the fd, or -errno. */
static int exported_event(int fd, __u64 flags, __u64 *h)
{
	int ret = kd_t_event(fd, 0, flags, h);

	return ret ? ret : kd_t_export(fd, *h, 0);
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* read() of @len bytes into *@value. Return: the length read, or -errno. */
static ssize_t read_value(int efd, __u64 *value, size_t len)
{
	char buf[16] = { 0 };
	ssize_t n = read(efd, buf, len);

	if (n < 0)
		return -errno;
	memcpy(value, buf, sizeof(*value));
	return n;
}

static void on_sigusr1(int sig)
{
}

/* A thread blocked in poll() or read() on an fd: what it got. */
struct blocked {
	pthread_t thread;
	int fd;
	pid_t tid;
	int ret;	/* poll(): revents; read(): the length; or -errno */
	__u64 value;
};

static void *poller_main(void *arg)
{
	struct blocked *b = arg;
	struct pollfd p = { .fd = b->fd, .events = POLLIN };

	__atomic_store_n(&b->tid, syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	b->ret = poll(&p, 1, 20000) < 0 ? -errno : p.revents;
	return NULL;
}

static void *reader_main(void *arg)
{
	struct blocked *b = arg;

	__atomic_store_n(&b->tid, syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	b->ret = read_value(b->fd, &b->value, sizeof(b->value));
	return NULL;
}

/* Start @fn on @fd and wait until it sleeps. Return: 0 or -1. */
static int blocked_start(struct blocked *b, void *(*fn)(void *), int fd)
{
	memset(b, 0, sizeof(*b));
	b->fd = fd;
	if (pthread_create(&b->thread, NULL, fn, b))
		return -1;
	while (!__atomic_load_n(&b->tid, __ATOMIC_SEQ_CST))
		usleep(100);
	return kd_t_wait_asleep(b->tid, -1) ? 0 : -1;
}

/* --- poll and epoll: EPOLLIN ----------------------------------------- */

TEST_F(poll, pollin_while_signaled)
{
	__u64 h;
	int efd;

	efd = exported_event(self->fd, 0, &h);
	ASSERT_LE(0, efd) TH_LOG("export: %s", strerror(-efd));
	EXPECT_EQ(0, revents(efd));
	ASSERT_EQ(0, kd_t_event_signal(self->fd, h));
	EXPECT_EQ(POLLIN, revents(efd));
	ASSERT_EQ(0, kd_t_op(self->fd, h, KDISPOSE_OP_EVENT_RESET, NULL));
	EXPECT_EQ(0, revents(efd));
	EXPECT_EQ(0, close(efd));
}

TEST_F(poll, poll_never_consumes)
{
	__u64 h;
	int efd;

	efd = exported_event(self->fd, KDISPOSE_EVENT_SIGNALED |
			     KDISPOSE_EVENT_AUTO_RESET, &h);
	ASSERT_LE(0, efd) TH_LOG("export: %s", strerror(-efd));
	EXPECT_EQ(POLLIN, revents(efd));
	EXPECT_EQ(POLLIN, revents(efd));
	EXPECT_EQ(1, kd_t_event_signaled(self->fd, h));
	EXPECT_EQ(0, close(efd));
}

/* Level-triggered: reported until read() consumes the signal. */
TEST_F(poll, epoll_level_until_read)
{
	struct epoll_event ev = { .events = EPOLLIN }, out[2];
	int efd, ep;
	__u64 h, v;

	efd = exported_event(self->fd, KDISPOSE_EVENT_AUTO_RESET, &h);
	ASSERT_LE(0, efd) TH_LOG("export: %s", strerror(-efd));
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ev.data.u64 = h;
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev));
	EXPECT_EQ(0, epoll_wait(ep, out, 2, 0));
	ASSERT_EQ(0, kd_t_event_signal(self->fd, h));
	ASSERT_EQ(1, epoll_wait(ep, out, 2, 0));
	EXPECT_EQ(EPOLLIN, out[0].events);
	EXPECT_EQ(h, out[0].data.u64);
	ASSERT_EQ(1, epoll_wait(ep, out, 2, 0));
	EXPECT_EQ(EPOLLIN, out[0].events);
	ASSERT_EQ(8, read_value(efd, &v, 8));
	EXPECT_EQ(0, epoll_wait(ep, out, 2, 0));
	EXPECT_EQ(0, close(ep));
	EXPECT_EQ(0, close(efd));
}

/* A signal wakes a sleeping epoll_wait(). */
TEST_F(poll, epoll_wait_woken_by_signal)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct blocked b;
	int efd, ep;
	__u64 h;

	efd = exported_event(self->fd, 0, &h);
	ASSERT_LE(0, efd) TH_LOG("export: %s", strerror(-efd));
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev));
	/* An epoll fd polls like any other: POLLIN when an fd in it is. */
	ASSERT_EQ(0, blocked_start(&b, poller_main, ep));
	ASSERT_EQ(0, kd_t_event_signal(self->fd, h));
	ASSERT_EQ(0, pthread_join(b.thread, NULL));
	EXPECT_EQ(POLLIN, b.ret);
	EXPECT_EQ(0, close(ep));
	EXPECT_EQ(0, close(efd));
}

/*
 * The storm. STORM_EVENTS auto-reset events, one export fd each, all in
 * one epoll set (level-triggered). Signalers, two threads and two forked
 * processes sharing the table, signal random events; the main thread is
 * the only consumer: it epoll_wait()s and read()s (O_NONBLOCK) every fd
 * reported.
 *
 * Signals do not count (signaling a set event does nothing), so that every
 * signal is one to consume, a signaler signals an event only after taking
 * its "pending" flag (0 -> 1, in shared memory), and the consumer clears
 * the flag only after its read() consumed the signal: each signal then
 * finds the event clear. Conservation: every read() after an EPOLLIN must
 * succeed (nobody else consumes), and at the end every event has been
 * read exactly as many times as it was signaled, with none left signaled
 * or reported. A signal that epoll does not report leaves its event
 * pending forever: the consumer then sees nothing for STORM_QUIET_MS
 * although a signal it knows was delivered (the signaler's ioctl
 * returned before the wait began) is still unread. A quiet spell with
 * every delivered signal read is no failure: a signaler that the host
 * stalls, under TCG on a loaded machine, can be silent that long.
 */
#define STORM_EVENTS	1000
#define STORM_SIGNALS	2500	/* per signaler */
#define STORM_THREADS	2
#define STORM_PROCS	2
#define STORM_QUIET_MS	5000

struct storm {
	int pending[STORM_EVENTS];
	unsigned int sent[STORM_EVENTS];
	unsigned int got[STORM_EVENTS];
	unsigned long sent_total;
	unsigned long delivered_total;	/* signals whose ioctl returned */
	int finished;		/* signalers done */
	int error;		/* a signaler's failed ioctl, as errno */
};

struct storm_signaler {
	struct storm *s;
	int fd;
	const __u64 *h;
	unsigned int seed;
	unsigned long signals;
	pthread_t thread;
};

static void storm_signal(struct storm_signaler *g)
{
	struct storm *s = g->s;
	unsigned long done = 0;
	int i, zero, ret;

	while (done < g->signals && !__atomic_load_n(&s->error,
						     __ATOMIC_SEQ_CST)) {
		i = rand_r(&g->seed) % STORM_EVENTS;
		zero = 0;
		if (!__atomic_compare_exchange_n(&s->pending[i], &zero, 1,
						 false, __ATOMIC_SEQ_CST,
						 __ATOMIC_SEQ_CST))
			continue;
		__atomic_add_fetch(&s->sent[i], 1, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&s->sent_total, 1, __ATOMIC_SEQ_CST);
		ret = kd_t_event_signal(g->fd, g->h[i]);
		if (ret)
			__atomic_store_n(&s->error, -ret, __ATOMIC_SEQ_CST);
		else
			__atomic_add_fetch(&s->delivered_total, 1,
					   __ATOMIC_SEQ_CST);
		done++;
	}
	__atomic_add_fetch(&s->finished, 1, __ATOMIC_SEQ_CST);
}

static void *storm_thread(void *arg)
{
	storm_signal(arg);
	return NULL;
}

/* Raise RLIMIT_NOFILE to at least @n (root may raise the hard limit). */
static int nofile_at_least(rlim_t n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	if (rl.rlim_cur >= n)
		return 0;
	rl.rlim_cur = n;
	if (rl.rlim_max < n)
		rl.rlim_max = n;
	return setrlimit(RLIMIT_NOFILE, &rl) ? -errno : 0;
}

TEST_F_TIMEOUT(poll, storm_1000_events, 120)
{
	struct storm_signaler g[STORM_THREADS + STORM_PROCS];
	unsigned long signals = kd_t_scaled(STORM_SIGNALS);
	unsigned long got_total = 0, reports = 0;
	struct epoll_event ev, out[64];
	pid_t pid[STORM_PROCS];
	__u64 *h;
	int *efd;
	struct storm *s;
	int ep, i, n, status;

	ASSERT_EQ(0, nofile_at_least(STORM_EVENTS + 64));
	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, s);
	h = calloc(STORM_EVENTS, sizeof(*h));
	efd = calloc(STORM_EVENTS, sizeof(*efd));
	ASSERT_TRUE(h && efd);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	for (i = 0; i < STORM_EVENTS; i++) {
		efd[i] = exported_event(self->fd, KDISPOSE_EVENT_AUTO_RESET,
					&h[i]);
		ASSERT_LE(0, efd[i]) TH_LOG("event %d: %s", i,
					    strerror(-efd[i]));
		ASSERT_EQ(0, set_nonblock(efd[i]));
		ev.events = EPOLLIN;
		ev.data.u32 = i;
		ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, efd[i], &ev));
	}

	for (i = 0; i < STORM_THREADS + STORM_PROCS; i++) {
		g[i] = (struct storm_signaler) {
			.s = s, .fd = self->fd, .h = h, .seed = 17 * i + 1,
			.signals = signals,
		};
	}
	for (i = 0; i < STORM_PROCS; i++) {
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (pid[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			storm_signal(&g[STORM_THREADS + i]);
			_exit(0);
		}
	}
	for (i = 0; i < STORM_THREADS; i++)
		ASSERT_EQ(0, pthread_create(&g[i].thread, NULL, storm_thread,
					    &g[i]));

	/* Consume until every signaler is done and every signal read. */
	for (;;) {
		int finished = __atomic_load_n(&s->finished, __ATOMIC_SEQ_CST);
		unsigned long sent = __atomic_load_n(&s->sent_total,
						     __ATOMIC_SEQ_CST);
		unsigned long delivered =
			__atomic_load_n(&s->delivered_total, __ATOMIC_SEQ_CST);

		ASSERT_EQ(0, s->error) TH_LOG("signal: %s",
					      strerror(s->error));
		if (finished == STORM_THREADS + STORM_PROCS &&
		    got_total == sent)
			break;
		n = epoll_wait(ep, out, ARRAY_SIZE(out), STORM_QUIET_MS);
		ASSERT_LE(0, n) TH_LOG("epoll_wait: %s", strerror(errno));
		if (n == 0 && got_total >= delivered)
			continue;
		ASSERT_LT(0, n)
			TH_LOG("nothing reported for %d ms: %lu of %lu delivered signals read",
			       STORM_QUIET_MS, got_total, delivered);
		for (i = 0; i < n; i++) {
			unsigned int e = out[i].data.u32;
			__u64 v = 0;
			ssize_t len;

			ASSERT_EQ(EPOLLIN, out[i].events)
				TH_LOG("event %u", e);
			len = read_value(efd[e], &v, sizeof(v));
			ASSERT_EQ(8, len)
				TH_LOG("event %u reported but read() gave %s",
				       e, len < 0 ? strerror(-len) : "a length");
			ASSERT_EQ(1, v);
			s->got[e]++;
			got_total++;
			__atomic_store_n(&s->pending[e], 0, __ATOMIC_SEQ_CST);
		}
		reports++;
	}

	for (i = 0; i < STORM_THREADS; i++)
		ASSERT_EQ(0, pthread_join(g[i].thread, NULL));
	for (i = 0; i < STORM_PROCS; i++) {
		ASSERT_EQ(pid[i], waitpid(pid[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	EXPECT_EQ(signals * (STORM_THREADS + STORM_PROCS), got_total);
	for (i = 0; i < STORM_EVENTS; i++) {
		EXPECT_EQ(s->sent[i], s->got[i]) TH_LOG("event %d", i);
		EXPECT_EQ(0, kd_t_event_signaled(self->fd, h[i]))
			TH_LOG("event %d", i);
	}
	EXPECT_EQ(0, epoll_wait(ep, out, ARRAY_SIZE(out), 0));
	TH_LOG("%lu signals read after %lu epoll_wait() reports", got_total,
	       reports);
	EXPECT_EQ(0, close(ep));
	for (i = 0; i < STORM_EVENTS; i++)
		EXPECT_EQ(0, close(efd[i]));
	free(efd);
	free(h);
	munmap(s, sizeof(*s));
}

/* --- EPOLLHUP: no table holds a handle ------------------------------- */

TEST_F(poll, hup_when_last_handle_disposed)
{
	__u64 h;
	int efd;

	efd = exported_event(self->fd, 0, &h);
	ASSERT_LE(0, efd) TH_LOG("export: %s", strerror(-efd));
	EXPECT_EQ(0, revents(efd) & POLLHUP);
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	EXPECT_EQ(POLLHUP, revents(efd) & POLLHUP);
	EXPECT_EQ(0, close(efd));
}

TEST_F(poll, hup_wakes_a_sleeping_poller)
{
	struct blocked b;
	__u64 h;
	int efd;

	efd = exported_event(self->fd, 0, &h);
	ASSERT_LE(0, efd) TH_LOG("export: %s", strerror(-efd));
	ASSERT_EQ(0, blocked_start(&b, poller_main, efd));
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	ASSERT_EQ(0, pthread_join(b.thread, NULL));
	EXPECT_LT(0, b.ret);
	EXPECT_EQ(POLLHUP, b.ret & POLLHUP);
	EXPECT_EQ(0, close(efd));
}

/* Two tables hold the event: HUP only once both handles are gone. */
TEST_F(poll, hup_only_after_the_last_handle)
{
	__u64 h, imp;
	int efd, fd2;

	efd = exported_event(self->fd, 0, &h);
	ASSERT_LE(0, efd) TH_LOG("export: %s", strerror(-efd));
	fd2 = kd_t_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, kd_t_import(fd2, efd, KDISPOSE_TYPE_EVENT, 0, "imp",
				 &imp));
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	EXPECT_EQ(0, revents(efd) & POLLHUP);
	ASSERT_EQ(1, kd_t_dispose(fd2, imp));
	EXPECT_EQ(POLLHUP, revents(efd) & POLLHUP);
	EXPECT_EQ(0, close(fd2));
	EXPECT_EQ(0, close(efd));
}

/* The finalizer ends the handles of a closed table: epoll sees HUP. */
TEST_F(poll, hup_when_the_table_is_closed)
{
	struct epoll_event ev = { .events = EPOLLIN }, out[2];
	int efd, fd2, ep;
	__u64 h;

	fd2 = kd_t_open();
	ASSERT_LE(0, fd2);
	efd = exported_event(fd2, 0, &h);
	ASSERT_LE(0, efd) TH_LOG("export: %s", strerror(-efd));
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev));
	EXPECT_EQ(0, epoll_wait(ep, out, 2, 0));
	ASSERT_EQ(0, close(fd2));
	ASSERT_EQ(1, epoll_wait(ep, out, 2, 0));
	EXPECT_EQ(EPOLLHUP, out[0].events & EPOLLHUP);
	EXPECT_EQ(0, close(ep));
	EXPECT_EQ(0, close(efd));
}

/* An import makes a handle again: HUP clears, and it can be signaled. */
TEST_F(poll, hup_cleared_by_an_import)
{
	__u64 h, imp;
	int efd;

	efd = exported_event(self->fd, 0, &h);
	ASSERT_LE(0, efd) TH_LOG("export: %s", strerror(-efd));
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	ASSERT_EQ(POLLHUP, revents(efd) & POLLHUP);
	ASSERT_EQ(0, kd_t_import(self->fd, efd, KDISPOSE_TYPE_EVENT, 0,
				 "imp", &imp));
	EXPECT_EQ(0, revents(efd));
	ASSERT_EQ(0, kd_t_event_signal(self->fd, imp));
	EXPECT_EQ(POLLIN, revents(efd));
	EXPECT_EQ(0, close(efd));
}

/* --- read() ----------------------------------------------------------- */

TEST_F(poll, read_returns_8_bytes_of_1_and_consumes)
{
	__u64 h, v = 0;
	int efd;

	efd = exported_event(self->fd, KDISPOSE_EVENT_SIGNALED |
			     KDISPOSE_EVENT_AUTO_RESET, &h);
	ASSERT_LE(0, efd) TH_LOG("export: %s", strerror(-efd));
	EXPECT_EQ(8, read_value(efd, &v, 8));
	EXPECT_EQ(1, v);
	EXPECT_EQ(0, kd_t_event_signaled(self->fd, h));
	EXPECT_EQ(0, revents(efd));
	EXPECT_EQ(0, close(efd));
}

TEST_F(poll, read_larger_buffer_returns_8)
{
	__u64 h, v = 0;
	int efd;

	efd = exported_event(self->fd, KDISPOSE_EVENT_SIGNALED, &h);
	ASSERT_LE(0, efd) TH_LOG("export: %s", strerror(-efd));
	EXPECT_EQ(8, read_value(efd, &v, 16));
	EXPECT_EQ(1, v);
	EXPECT_EQ(0, close(efd));
}

TEST_F(poll, read_manual_reset_not_consumed)
{
	__u64 h, v = 0;
	int efd;

	efd = exported_event(self->fd, KDISPOSE_EVENT_SIGNALED, &h);
	ASSERT_LE(0, efd) TH_LOG("export: %s", strerror(-efd));
	EXPECT_EQ(8, read_value(efd, &v, 8));
	EXPECT_EQ(8, read_value(efd, &v, 8));
	EXPECT_EQ(1, kd_t_event_signaled(self->fd, h));
	EXPECT_EQ(0, close(efd));
}

TEST_F(poll, read_nonblock_eagain)
{
	__u64 h, v;
	int efd;

	efd = exported_event(self->fd, KDISPOSE_EVENT_AUTO_RESET, &h);
	ASSERT_LE(0, efd) TH_LOG("export: %s", strerror(-efd));
	ASSERT_EQ(0, set_nonblock(efd));
	EXPECT_EQ(-EAGAIN, read_value(efd, &v, 8));
	ASSERT_EQ(0, kd_t_event_signal(self->fd, h));
	EXPECT_EQ(8, read_value(efd, &v, 8));
	EXPECT_EQ(-EAGAIN, read_value(efd, &v, 8));
	EXPECT_EQ(0, close(efd));
}

/* Fewer than 8 bytes: EINVAL, and the signal stays. */
TEST_F(poll, read_short_einval)
{
	__u64 h, v;
	int efd;

	efd = exported_event(self->fd, KDISPOSE_EVENT_SIGNALED |
			     KDISPOSE_EVENT_AUTO_RESET, &h);
	ASSERT_LE(0, efd) TH_LOG("export: %s", strerror(-efd));
	EXPECT_EQ(-EINVAL, read_value(efd, &v, 7));
	EXPECT_EQ(-EINVAL, read_value(efd, &v, 1));
	EXPECT_EQ(1, kd_t_event_signaled(self->fd, h));
	EXPECT_EQ(0, close(efd));
}

/*
 * A blocking read() sleeps until another process, which imported the
 * event into a table of its own, signals it.
 */
TEST_F(poll, read_blocking_woken_by_another_process)
{
	__u64 h, v = 0;
	int efd, status;
	pid_t pid, parent = getpid();

	efd = exported_event(self->fd, KDISPOSE_EVENT_AUTO_RESET, &h);
	ASSERT_LE(0, efd) TH_LOG("export: %s", strerror(-efd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd2;
		__u64 imp;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(self->fd);
		if (!kd_t_wait_asleep(parent, SYS_read))
			_exit(2);
		fd2 = kd_t_open();
		if (fd2 < 0 || kd_t_import(fd2, efd, KDISPOSE_TYPE_EVENT, 0,
					   "imp", &imp))
			_exit(3);
		_exit(kd_t_event_signal(fd2, imp) ? 4 : 0);
	}
	EXPECT_EQ(8, read_value(efd, &v, 8));
	EXPECT_EQ(1, v);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, kd_t_event_signaled(self->fd, h));
	EXPECT_EQ(0, close(efd));
}

/*
 * With no handle left in any table nobody can signal the event: read()
 * gives end of file, as a FIFO without writers, after a signal set before
 * the last handle went.
 */
TEST_F(poll, read_eof_without_handles)
{
	__u64 h, v;
	int efd;

	efd = exported_event(self->fd, KDISPOSE_EVENT_SIGNALED |
			     KDISPOSE_EVENT_AUTO_RESET, &h);
	ASSERT_LE(0, efd) TH_LOG("export: %s", strerror(-efd));
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	EXPECT_EQ(8, read_value(efd, &v, 8));
	EXPECT_EQ(0, read_value(efd, &v, 8));
	ASSERT_EQ(0, set_nonblock(efd));
	EXPECT_EQ(0, read_value(efd, &v, 8));
	EXPECT_EQ(0, close(efd));
}

/* A blocked read() ends with end of file when the last handle goes. */
TEST_F(poll, read_blocking_woken_by_last_dispose)
{
	struct blocked b;
	__u64 h;
	int efd;

	efd = exported_event(self->fd, 0, &h);
	ASSERT_LE(0, efd) TH_LOG("export: %s", strerror(-efd));
	ASSERT_EQ(0, blocked_start(&b, reader_main, efd));
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	ASSERT_EQ(0, pthread_join(b.thread, NULL));
	EXPECT_EQ(0, b.ret);
	EXPECT_EQ(0, close(efd));
}

TEST_F(poll, read_blocking_eintr)
{
	struct sigaction sa = { .sa_handler = on_sigusr1 };
	struct blocked b;
	__u64 h;
	int efd;

	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	efd = exported_event(self->fd, 0, &h);
	ASSERT_LE(0, efd) TH_LOG("export: %s", strerror(-efd));
	ASSERT_EQ(0, blocked_start(&b, reader_main, efd));
	ASSERT_EQ(0, pthread_kill(b.thread, SIGUSR1));
	ASSERT_EQ(0, pthread_join(b.thread, NULL));
	EXPECT_EQ(-EINTR, b.ret);
	EXPECT_EQ(0, close(efd));
}

/* --- export fds of other kinds, and names ------------------------------ */

/* "anon_inode:[kdispose-event]": the kind is in the fd's name. */
TEST_F(poll, export_fd_named_by_kind)
{
	char path[64], name[64];
	__u64 ev, mem;
	int efd, mfd;
	ssize_t n;

	efd = exported_event(self->fd, 0, &ev);
	ASSERT_LE(0, efd) TH_LOG("export: %s", strerror(-efd));
	ASSERT_EQ(0, kd_t_create(self->fd, KDISPOSE_TYPE_MEMORY, 0, 4096, 0,
				 "mem", &mem));
	mfd = kd_t_export(self->fd, mem, 0);
	ASSERT_LE(0, mfd) TH_LOG("export: %s", strerror(-mfd));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", efd);
	n = readlink(path, name, sizeof(name) - 1);
	ASSERT_LT(0, n);
	name[n] = '\0';
	EXPECT_STREQ("anon_inode:[kdispose-event]", name);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
	n = readlink(path, name, sizeof(name) - 1);
	ASSERT_LT(0, n);
	name[n] = '\0';
	EXPECT_STREQ("anon_inode:[kdispose-memory]", name);
	EXPECT_EQ(0, close(mfd));
	EXPECT_EQ(0, close(efd));
}

/*
 * A memory buffer's export fd has no poll of its own: the kernel's
 * default mask, always readable and writable, and never EPOLLHUP, not
 * even once no table holds the buffer.
 */
TEST_F(poll, memory_export_polls_default_mask)
{
	struct pollfd p = { .events = POLLIN | POLLOUT };
	__u64 mem;

	ASSERT_EQ(0, kd_t_create(self->fd, KDISPOSE_TYPE_MEMORY, 0, 4096, 0,
				 "mem", &mem));
	p.fd = kd_t_export(self->fd, mem, 0);
	ASSERT_LE(0, p.fd) TH_LOG("export: %s", strerror(-p.fd));
	ASSERT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLIN | POLLOUT, p.revents);
	ASSERT_EQ(1, kd_t_dispose(self->fd, mem));
	ASSERT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLIN | POLLOUT, p.revents);
	EXPECT_EQ(0, close(p.fd));
}

/* ... and no read: EINVAL, whatever the length. */
TEST_F(poll, memory_export_read_einval)
{
	__u64 mem, v;
	int mfd;

	ASSERT_EQ(0, kd_t_create(self->fd, KDISPOSE_TYPE_MEMORY, 0, 4096, 0,
				 "mem", &mem));
	mfd = kd_t_export(self->fd, mem, 0);
	ASSERT_LE(0, mfd) TH_LOG("export: %s", strerror(-mfd));
	EXPECT_EQ(-EINVAL, read_value(mfd, &v, 8));
	EXPECT_EQ(0, close(mfd));
}

TEST_HARNESS_MAIN
