// SPDX-License-Identifier: GPL-2.0
/*
 * race_test: dispose under concurrency. Many threads dispose one handle
 * (exactly one wins, the object is released once); a thread guesses and
 * disposes the handles another thread is creating (nothing leaks, nothing
 * is disposed twice); the counter invariant holds in every snapshot while
 * writers churn; threads creating and disposing on one file never share
 * an object's memory (the file's spares); and a dispose while someone
 * else holds a reference (a mapping, a waiter, an ioctl blocked in a page
 * fault) removes the handle at once but releases the resource only when
 * that user lets go.
 *
 * The loops run for a time budget with an iteration cap, so the file fits
 * in about a minute under QEMU TCG; each prints how many iterations it ran.
 */
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "kdispose_test.h"

/* Threads disposing the same handles, and handles per round. */
#define RACERS		8
#define RACE_HANDLES	16
#define RACE_ROUNDS	5000
#define RACE_BUDGET_MS	12000

/* Live handles the creator keeps while the guesser hunts them. */
#define GUESS_WINDOW	4
#define GUESS_BUDGET_MS	8000

/* Writer threads against one counters reader. */
#define WRITERS		2
#define INVARIANT_BUDGET_MS	8000

/* Threads creating and disposing on one file, and the tokens each keeps. */
#define SPARE_RACERS	4
#define SPARE_LIVE	2
#define SPARE_BUDGET_MS	8000

/* Longest wait for another thread to reach the kernel. */
#define SETTLE_MS	10000

KD_T_DEV_FIXTURE(race, KD_T_ALL);

static uint64_t deadline_after(int ms)
{
	return kd_t_now_ns() + (uint64_t)ms * 1000000;
}

/* Sleep until @deadline. */
static void sleep_until(uint64_t deadline)
{
	uint64_t now;

	while ((now = kd_t_now_ns()) < deadline)
		usleep((deadline - now) / 1000 > 100000 ?
		       100000 : (deadline - now) / 1000 + 1);
}

/* One round: every racer disposes every handle, in the same order. */
struct dispose_race {
	int fd;
	pthread_barrier_t go;		/* handles[] ready, or stop */
	pthread_barrier_t done;		/* results[] written */
	bool stop;			/* set before the last "go" */
	__u64 handles[RACE_HANDLES];
	int results[RACERS][RACE_HANDLES];
};

struct racer {
	struct dispose_race *race;
	int id;
};

static void *racer_fn(void *arg)
{
	struct racer *r = arg;
	struct dispose_race *race = r->race;
	int j;

	for (;;) {
		pthread_barrier_wait(&race->go);
		if (race->stop)
			return NULL;
		for (j = 0; j < RACE_HANDLES; j++)
			race->results[r->id][j] =
				kd_t_dispose(race->fd, race->handles[j]);
		pthread_barrier_wait(&race->done);
	}
}

TEST_F_TIMEOUT(race, dispose_one_winner, 60)
{
	/* Static: the racers must not point into a frame an ASSERT left. */
	static struct dispose_race race;
	struct racer racers[RACERS];
	pthread_t tids[RACERS];
	struct kd_t_counters before, after;
	struct kdispose_query q;
	uint64_t t0, deadline;
	int i, j, rounds;

	race.fd = self->fd;
	ASSERT_EQ(0, pthread_barrier_init(&race.go, NULL, RACERS + 1));
	ASSERT_EQ(0, pthread_barrier_init(&race.done, NULL, RACERS + 1));
	for (i = 0; i < RACERS; i++) {
		racers[i] = (struct racer){ .race = &race, .id = i };
		ASSERT_EQ(0, pthread_create(&tids[i], NULL, racer_fn,
					    &racers[i]));
	}
	KD_T_ASSERT_COUNTERS(before);
	t0 = kd_t_now_ns();
	deadline = deadline_after(RACE_BUDGET_MS);
	for (rounds = 0; rounds < RACE_ROUNDS && kd_t_now_ns() < deadline;
	     rounds++) {
		for (j = 0; j < RACE_HANDLES; j++)
			ASSERT_EQ(0, kd_t_token(self->fd, 0, j, NULL,
						&race.handles[j]));
		pthread_barrier_wait(&race.go);
		pthread_barrier_wait(&race.done);
		for (j = 0; j < RACE_HANDLES; j++) {
			int winners = 0;

			for (i = 0; i < RACERS; i++) {
				ASSERT_TRUE(race.results[i][j] == 0 ||
					    race.results[i][j] == 1)
					TH_LOG("round %d racer %d: %d", rounds,
					       i, race.results[i][j]);
				winners += race.results[i][j];
			}
			ASSERT_EQ(1, winners) TH_LOG("round %d handle %d",
						     rounds, j);
			ASSERT_EQ(-EIDRM, kd_t_query(self->fd,
						     race.handles[j], &q));
		}
	}
	race.stop = true;
	pthread_barrier_wait(&race.go);
	for (i = 0; i < RACERS; i++)
		EXPECT_EQ(0, pthread_join(tids[i], NULL));
	TH_LOG("%d rounds of %d threads x %d handles in %" PRIu64 " ms",
	       rounds, RACERS, RACE_HANDLES, (kd_t_now_ns() - t0) / 1000000);
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_TOKEN,
			  .created = rounds * RACE_HANDLES,
			  .disposed = rounds * RACE_HANDLES,
			  .released = rounds * RACE_HANDLES);
}

/* A creator and a thread that disposes the handles it expects next. */
struct guess_race {
	int fd;
	atomic_bool stop;
	atomic_ullong last;		/* newest handle the creator got */
	int error;			/* first unexpected result, or 0 */
	long created;			/* creator: objects created */
	long creator_disposed;		/* creator: its dispose returned 1 */
	long stolen;			/* creator: its dispose returned 0 */
	long guesses;			/* guesser: handles tried */
	long guesser_disposed;		/* guesser: its dispose returned 1 */
};

static void guess_error(struct guess_race *g, int ret)
{
	if (!g->error)
		g->error = ret ?: -EPROTO;
	atomic_store(&g->stop, true);
}

static void guess_dispose_own(struct guess_race *g, __u64 handle)
{
	int ret = kd_t_dispose(g->fd, handle);

	if (ret == 1)
		g->creator_disposed++;
	else if (ret == 0)
		g->stolen++;
	else
		guess_error(g, ret);
}

static void *creator_fn(void *arg)
{
	struct guess_race *g = arg;
	__u64 window[GUESS_WINDOW], h;
	int head = 0, n = 0, ret;

	while (!atomic_load(&g->stop)) {
		if (n == GUESS_WINDOW) {
			guess_dispose_own(g, window[head]);
			head = (head + 1) % GUESS_WINDOW;
			n--;
		}
		ret = kd_t_token(g->fd, 0, g->created, NULL, &h);
		if (ret) {
			guess_error(g, ret);
			break;
		}
		g->created++;
		window[(head + n++) % GUESS_WINDOW] = h;
		atomic_store(&g->last, h);
	}
	for (; n; n--, head = (head + 1) % GUESS_WINDOW)
		guess_dispose_own(g, window[head]);
	return NULL;
}

/*
 * Tries the next two seqs in every slot the creator's window can use (one
 * more than the window: the slot being freed and refilled).
 */
static void *guesser_fn(void *arg)
{
	struct guess_race *g = arg;
	const int slots = GUESS_WINDOW + 1;
	struct kdispose_query q;
	__u64 next, h;
	int i, ret;

	while (!atomic_load(&g->stop)) {
		next = kd_t_handle_seq(atomic_load(&g->last)) + 1;
		for (i = 0; i < 2 * slots; i++) {
			h = kd_t_handle_make(next + i / slots, i % slots);
			ret = kd_t_query(g->fd, h, &q);
			if (ret == 0 && (q.handle != h ||
					 q.type != KDISPOSE_TYPE_TOKEN))
				guess_error(g, -EPROTO);
			else if (ret && ret != -ENOENT && ret != -EIDRM)
				guess_error(g, ret);
			ret = kd_t_dispose(g->fd, h);
			g->guesses++;
			if (ret == 1)
				g->guesser_disposed++;
			else if (ret && ret != -ENOENT)
				guess_error(g, ret);
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(race, guessed_handles_disposed_once, 60)
{
	static struct guess_race g;
	struct kd_t_counters before, after;
	pthread_t creator, guesser;

	g.fd = self->fd;
	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(0, pthread_create(&creator, NULL, creator_fn, &g));
	ASSERT_EQ(0, pthread_create(&guesser, NULL, guesser_fn, &g));
	sleep_until(deadline_after(GUESS_BUDGET_MS));
	atomic_store(&g.stop, true);
	EXPECT_EQ(0, pthread_join(creator, NULL));
	EXPECT_EQ(0, pthread_join(guesser, NULL));
	TH_LOG("%ld created, %ld guesses, %ld disposed by the guesser",
	       g.created, g.guesses, g.guesser_disposed);
	ASSERT_EQ(0, g.error) TH_LOG("unexpected result: %s",
				     strerror(-g.error));
	EXPECT_LT(0, g.created);
	EXPECT_EQ(g.created, g.creator_disposed + g.guesser_disposed);
	EXPECT_EQ(g.stolen, g.guesser_disposed);
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_TOKEN,
			  .created = g.created, .disposed = g.created,
			  .released = g.created);
}

/* Writers churn objects through every path while a reader samples. */
struct invariant_race {
	atomic_bool stop;
	int error;		/* a writer's first failure, or 0 */
	long samples;		/* reader: snapshots checked */
	char why[160];		/* reader: the first broken rule */
	struct {
		long created, disposed, finalized;
	} writer[WRITERS];
};

struct writer {
	struct invariant_race *race;
	int id;
};

/*
 * One file's life: 8 creates, 5 disposes (one a cascade of 3), 3 objects
 * left for the finalizer, one of them an event so that two rows move.
 */
#define ROUND_CREATED	8
#define ROUND_DISPOSED	5

static int writer_round(void)
{
	__u64 parent, h, objs[5];
	int fd, i, ret;

	fd = kd_t_open();
	if (fd < 0)
		return fd;
	ret = kd_t_token(fd, 0, 0, "parent", &parent);
	for (i = 0; !ret && i < 2; i++)
		ret = kd_t_token(fd, parent, i, "child", &h);
	for (i = 0; !ret && i < 4; i++)
		ret = kd_t_token(fd, 0, i, "token", &objs[i]);
	if (!ret)
		ret = kd_t_create(fd, KDISPOSE_TYPE_EVENT, 0, 0, 0, "event",
				  &objs[4]);
	if (!ret && kd_t_dispose(fd, parent) != 1)
		ret = -EPROTO;
	for (i = 0; !ret && i < 2; i++)
		if (kd_t_dispose(fd, objs[i]) != 1)
			ret = -EPROTO;
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

static void *writer_fn(void *arg)
{
	struct writer *w = arg;
	struct invariant_race *race = w->race;
	int ret;

	while (!atomic_load(&race->stop)) {
		ret = writer_round();
		if (ret) {
			race->error = ret;
			atomic_store(&race->stop, true);
			break;
		}
		race->writer[w->id].created += ROUND_CREATED;
		race->writer[w->id].disposed += ROUND_DISPOSED;
		race->writer[w->id].finalized += ROUND_CREATED - ROUND_DISPOSED;
	}
	return NULL;
}

/* Each snapshot is consistent, and the event counters never go down. */
static void *reader_fn(void *arg)
{
	struct invariant_race *race = arg;
	struct kd_t_counters prev, now;
	int i;

	if (kd_t_counters_read(&prev))
		return NULL;
	while (!atomic_load(&race->stop)) {
		if (kd_t_counters_read(&now)) {
			snprintf(race->why, sizeof(race->why), "read failed");
			break;
		}
		race->samples++;
		if (kd_t_counters_check(&now, race->why, sizeof(race->why)))
			break;
		for (i = 0; i < KD_T_NROWS; i++) {
			const struct kd_t_count *a = &prev.row[i];
			const struct kd_t_count *b = &now.row[i];

			if (b->created < a->created ||
			    b->disposed < a->disposed ||
			    b->finalized < a->finalized ||
			    b->released < a->released) {
				snprintf(race->why, sizeof(race->why),
					 "row %s went backwards",
					 kd_t_row_names[i]);
				atomic_store(&race->stop, true);
				return NULL;
			}
		}
		prev = now;
	}
	if (race->why[0])
		atomic_store(&race->stop, true);
	return NULL;
}

TEST_F_TIMEOUT(race, counters_consistent_under_load, 60)
{
	static struct invariant_race race;
	struct writer writers[WRITERS];
	pthread_t reader, tids[WRITERS];
	struct kd_t_counters before, after;
	long created = 0, disposed = 0, finalized = 0;
	int i;

	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(0, pthread_create(&reader, NULL, reader_fn, &race));
	for (i = 0; i < WRITERS; i++) {
		writers[i] = (struct writer){ .race = &race, .id = i };
		ASSERT_EQ(0, pthread_create(&tids[i], NULL, writer_fn,
					    &writers[i]));
	}
	sleep_until(deadline_after(INVARIANT_BUDGET_MS));
	atomic_store(&race.stop, true);
	for (i = 0; i < WRITERS; i++) {
		EXPECT_EQ(0, pthread_join(tids[i], NULL));
		created += race.writer[i].created;
		disposed += race.writer[i].disposed;
		finalized += race.writer[i].finalized;
	}
	EXPECT_EQ(0, pthread_join(reader, NULL));
	TH_LOG("%ld snapshots while %d writers created %ld objects",
	       race.samples, WRITERS, created);
	EXPECT_STREQ("", race.why);
	EXPECT_EQ(0, race.error) TH_LOG("writer: %s", strerror(-race.error));
	EXPECT_LT(0, race.samples);
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KD_T_ALL, .created = created,
			  .disposed = disposed, .finalized = finalized,
			  .released = created);
}

/*
 * Threads creating and disposing on one file: each dispose leaves the
 * object's memory in the file's spares, which the next create of any
 * thread takes. Two creates given the same memory would publish one
 * object under two handles: one thread would read the other's value.
 */
struct spare_race {
	int fd;
	atomic_bool stop;
	atomic_long ops;
	char why[128];
};

struct spare_racer {
	struct spare_race *race;
	__u64 id;
};

static void *spare_racer_fn(void *arg)
{
	struct spare_racer *r = arg;
	struct spare_race *race = r->race;
	__u64 live[SPARE_LIVE] = { 0 }, value[SPARE_LIVE], got = 0;
	unsigned long i;
	int j, ret;

	for (i = 0; !atomic_load(&race->stop); i++) {
		j = i % SPARE_LIVE;
		if (live[j]) {
			ret = kd_t_token_get(race->fd, live[j], &got);
			if (ret || got != value[j]) {
				snprintf(race->why, sizeof(race->why),
					 "thread %llu: token_get %d, value %#llx, wanted %#llx",
					 r->id, ret, got, value[j]);
				break;
			}
			ret = kd_t_dispose(race->fd, live[j]);
			if (ret != 1) {
				snprintf(race->why, sizeof(race->why),
					 "thread %llu: dispose %d", r->id, ret);
				break;
			}
		}
		value[j] = r->id << 32 | (i & 0xffffffff);
		ret = kd_t_token(race->fd, 0, value[j], NULL, &live[j]);
		if (ret) {
			snprintf(race->why, sizeof(race->why),
				 "thread %llu: create %d", r->id, ret);
			break;
		}
		atomic_fetch_add(&race->ops, 1);
	}
	atomic_store(&race->stop, true);
	return NULL;
}

TEST_F_TIMEOUT(race, creates_on_one_file_get_distinct_objects, 60)
{
	static struct spare_race race;
	struct spare_racer racers[SPARE_RACERS];
	pthread_t tids[SPARE_RACERS];
	int i;

	race.fd = self->fd;
	for (i = 0; i < SPARE_RACERS; i++) {
		racers[i] = (struct spare_racer){ .race = &race, .id = i + 1 };
		ASSERT_EQ(0, pthread_create(&tids[i], NULL, spare_racer_fn,
					    &racers[i]));
	}
	sleep_until(deadline_after(SPARE_BUDGET_MS));
	atomic_store(&race.stop, true);
	for (i = 0; i < SPARE_RACERS; i++)
		EXPECT_EQ(0, pthread_join(tids[i], NULL));
	TH_LOG("%ld creates by %d threads on one file",
	       atomic_load(&race.ops), SPARE_RACERS);
	EXPECT_STREQ("", race.why);
	EXPECT_LT(0, atomic_load(&race.ops));
}

/* A mapping holds a reference: dispose unpublishes, munmap releases. */
TEST_F(race, dispose_mapped_memory_defers_release)
{
	long page = sysconf(_SC_PAGESIZE);
	struct kd_t_counters before, mid, after;
	struct kdispose_query q;
	unsigned char *p;
	__u64 h;

	ASSERT_EQ(0, kd_t_create(self->fd, KDISPOSE_TYPE_MEMORY, 0, page, 0,
				 "mapped", &h));
	ASSERT_EQ(0, kd_t_query(self->fd, h, &q));
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd,
		 q.info[1]);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap: %s", strerror(errno));
	memset(p, 0x5a, page);
	ASSERT_EQ(0, kd_t_query(self->fd, h, &q));
	EXPECT_EQ(3, q.refcount) TH_LOG("table, mapping and this query");
	EXPECT_TRUE(q.state & KDISPOSE_STATE_MAPPED);

	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	KD_T_ASSERT_COUNTERS(mid);
	KD_T_EXPECT_DELTA(&before, &mid, KDISPOSE_TYPE_MEMORY, .disposed = 1,
			  .live = -1);
	EXPECT_EQ(-EIDRM, kd_t_query(self->fd, h, &q));
	EXPECT_EQ(0x5a, p[0]);
	EXPECT_EQ(0x5a, p[page - 1]);
	p[1] = 0xa5;
	EXPECT_EQ(0xa5, p[1]);

	ASSERT_EQ(0, munmap(p, page));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_MEMORY,
			  .disposed = 1, .live = -1, .released = 1);
}

struct waiter {
	int fd;
	__u64 handle;
	int ret;		/* what KDISPOSE_OP_EVENT_WAIT returned */
	atomic_bool done;	/* set once the wait returned */
};

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;
	__u64 args[4] = { 20ULL * 1000000000 };

	w->ret = kd_t_op(w->fd, w->handle, KDISPOSE_OP_EVENT_WAIT, args);
	atomic_store(&w->done, true);
	return NULL;
}

/*
 * Poll until the waiter holds its reference on the event: query then
 * reports 3 (table, waiter, query), at most SETTLE_MS.
 * Return: 0, -ETIMEDOUT, -ECHILD if the wait returned already, or the
 * query's -errno.
 */
static int wait_for_waiter(struct waiter *w)
{
	uint64_t deadline = deadline_after(SETTLE_MS);
	struct kdispose_query q;
	int ret;

	for (;;) {
		if (atomic_load(&w->done))
			return -ECHILD;
		ret = kd_t_query(w->fd, w->handle, &q);
		if (ret)
			return ret;
		if (q.refcount == 3)
			return 0;
		if (kd_t_now_ns() > deadline)
			return -ETIMEDOUT;
		usleep(1000);
	}
}

/* Disposing an event wakes its waiter with EIDRM, then releases it. */
TEST_F(race, dispose_event_wakes_waiter)
{
	struct kd_t_counters before, after;
	struct waiter w = { .fd = self->fd, .ret = 1, .done = false };
	pthread_t tid;

	ASSERT_EQ(0, kd_t_create(self->fd, KDISPOSE_TYPE_EVENT, 0, 0, 0,
				 "waited", &w.handle));
	ASSERT_EQ(0, pthread_create(&tid, NULL, waiter_fn, &w));
	ASSERT_EQ(0, wait_for_waiter(&w))
		TH_LOG("the waiter is not waiting; its wait returned %d",
		       w.ret);
	KD_T_ASSERT_COUNTERS(before);
	EXPECT_EQ(1, kd_t_dispose(self->fd, w.handle));
	EXPECT_EQ(0, pthread_join(tid, NULL));
	EXPECT_EQ(-EIDRM, w.ret) TH_LOG("wait returned %d", w.ret);
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_EVENT,
			  .disposed = 1, .live = -1, .released = 1);
}

struct blocked_write {
	int fd;
	__u64 handle;
	void *src;		/* the userfaultfd-armed source buffer */
	int ret;		/* what KDISPOSE_OP_MEM_WRITE returned */
};

static void *blocked_write_fn(void *arg)
{
	struct blocked_write *b = arg;
	__u64 args[4] = { 0, 64, (__u64)(uintptr_t)b->src };

	b->ret = kd_t_op(b->fd, b->handle, KDISPOSE_OP_MEM_WRITE, args);
	return NULL;
}

/*
 * A MEM_WRITE blocks inside the ioctl on a userfaultfd page fault, holding
 * its reference. A dispose meanwhile takes the handle away at once, but the
 * release waits until the write returns.
 */
TEST_F(race, dispose_during_ioctl_defers_release)
{
	long page = sysconf(_SC_PAGESIZE);
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct blocked_write b = { .fd = self->fd, .ret = 1 };
	struct kd_t_counters before, mid, after;
	struct pollfd pfd = { .events = POLLIN };
	struct uffdio_copy copy = { 0 };
	struct kdispose_query q;
	struct uffd_msg msg;
	unsigned char *fill;
	pthread_t tid;
	int uffd;

	/* Non-blocking: poll() on a blocking userfaultfd returns POLLERR. */
	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		SKIP(return, "userfaultfd unavailable: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	b.src = mmap(NULL, page, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, b.src);
	fill = mmap(NULL, page, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, fill);
	memset(fill, 0x3c, page);
	reg.range.start = (uintptr_t)b.src;
	reg.range.len = page;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));

	ASSERT_EQ(0, kd_t_create(self->fd, KDISPOSE_TYPE_MEMORY, 0, page, 0,
				 "blocked", &b.handle));
	ASSERT_EQ(0, pthread_create(&tid, NULL, blocked_write_fn, &b));
	pfd.fd = uffd;
	ASSERT_EQ(1, poll(&pfd, 1, SETTLE_MS)) TH_LOG("no page fault");
	ASSERT_EQ(sizeof(msg), read(uffd, &msg, sizeof(msg)));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);
	ASSERT_EQ(0, kd_t_query(self->fd, b.handle, &q));
	EXPECT_EQ(3, q.refcount) TH_LOG("table, blocked write and query");

	KD_T_ASSERT_COUNTERS(before);
	EXPECT_EQ(1, kd_t_dispose(self->fd, b.handle));
	KD_T_ASSERT_COUNTERS(mid);
	KD_T_EXPECT_DELTA(&before, &mid, KDISPOSE_TYPE_MEMORY, .disposed = 1,
			  .live = -1);
	EXPECT_EQ(-EIDRM, kd_t_query(self->fd, b.handle, &q));

	copy.dst = (uintptr_t)b.src;
	copy.src = (uintptr_t)fill;
	copy.len = page;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_COPY, &copy));
	EXPECT_EQ(0, pthread_join(tid, NULL));
	EXPECT_EQ(0, b.ret) TH_LOG("the write returned %d", b.ret);
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_MEMORY,
			  .disposed = 1, .live = -1, .released = 1);
	EXPECT_EQ(0, close(uffd));
}

TEST_HARNESS_MAIN
