// SPDX-License-Identifier: GPL-2.0
/*
 * batch_test: KDISPOSE_IOC_DISPOSE_BATCH. Each handle gets what
 * KDISPOSE_IOC_DISPOSE would have returned for it, in order (a duplicate
 * gets 1 once, then 0); one bad handle never stops the others; the struct's
 * own errors (flags, pad, count) dispose nothing; and a fault in the arrays
 * stops the call with EFAULT, the chunks before it staying disposed.
 *
 * The kernel works in chunks of BATCH_CHUNK handles: copy the chunk's
 * handles in, dispose them, copy the chunk's results out. The fault tests
 * rely on that size (an internal of the module, like the handle layout):
 * a handle fault in chunk k leaves chunks 0..k-1 disposed with their
 * results written; a result fault in chunk k leaves chunks 0..k disposed
 * (k's results are lost). ndisposed is written only by a call that
 * returns 0.
 *
 * Loop bodies holding an ASSERT or EXPECT are braced: with a TH_LOG, such a
 * macro is two statements, and the second would run after the loop.
 */
#include <pthread.h>
#include <sys/mman.h>

#include "kdispose_test.h"

#define BATCH_CHUNK	64

/* The mixed batch: objects of the model and the PRNG's seed. */
#define MIX_TOKENS	300
#define MIX_GROUPS	30
#define MIX_KIDS	10
#define MIX_PREDISPOSED	100
#define MIX_LATE	200
#define MIX_OBJECTS	(MIX_TOKENS + MIX_GROUPS * (1 + MIX_KIDS) + MIX_LATE)
#define MIX_SEED	0x6b646973706f7365ULL

/* Two threads batching the same handles. */
#define RACE_BUDGET_MS	6000
#define RACE_ROUNDS	500

FIXTURE(batch)
{
	KD_T_DEV_MEMBERS;
	void *map;			/* fault tests: two pages, or NULL */
	size_t map_len;
};

FIXTURE_SETUP(batch)
{
	KD_T_DEV_SETUP(self);
}

/* Closing the file finalizes what is left: every object is released. */
FIXTURE_TEARDOWN(batch)
{
	if (self->map) {
		EXPECT_EQ(0, munmap(self->map, self->map_len));
	}
	KD_T_DEV_TEARDOWN(self, KD_T_ALL, 0);
}

/* Create @n tokens. Return: 0 or -errno. */
static int tokens(int fd, __u64 *h, int n)
{
	int i, ret;

	for (i = 0; i < n; i++) {
		ret = kd_t_token(fd, 0, i, NULL, &h[i]);
		if (ret)
			return ret;
	}
	return 0;
}

static void fill_untouched(__s32 *r, int n)
{
	while (n--)
		r[n] = KD_T_UNTOUCHED;
}

/* Return: how many of @h[0..n) are live (query succeeds), or -errno. */
static int count_live(int fd, const __u64 *h, int n)
{
	struct kdispose_query q;
	int i, live = 0, ret;

	for (i = 0; i < n; i++) {
		ret = kd_t_query(fd, h[i], &q);
		if (ret == 0)
			live++;
		else if (ret != -EIDRM)
			return ret;
	}
	return live;
}

/*
 * Map two pages, the second PROT_NONE, into the fixture (unmapped by the
 * teardown). Return: the address of the second page, or NULL.
 */
static char *map_guarded(FIXTURE_DATA(batch) *self)
{
	long page = sysconf(_SC_PAGESIZE);
	char *p;

	p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	self->map = p;
	self->map_len = 2 * page;
	if (mprotect(p + page, page, PROT_NONE))
		return NULL;
	return p + page;
}

TEST_F(batch, duplicates_win_once)
{
	static const int pick[7] = { 0, 0, 1, 0, 1, 1, 0 };
	static const __s32 want[7] = { 1, 0, 1, 0, 0, 0, 0 };
	struct kd_t_counters before, after;
	__u64 h[2], in[7];
	__s32 res[7];
	__u32 nd;
	int i;

	ASSERT_EQ(0, tokens(self->fd, h, 2));
	for (i = 0; i < 7; i++)
		in[i] = h[pick[i]];
	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(0, kd_t_dispose_batch(self->fd, in, res, 7, &nd));
	for (i = 0; i < 7; i++) {
		EXPECT_EQ(want[i], res[i]) TH_LOG("slot %d", i);
	}
	EXPECT_EQ(2, nd);
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_TOKEN,
			  .disposed = 2, .live = -2, .released = 2);
}

TEST_F(batch, invalid_handles_do_not_stop_the_rest)
{
	__u64 h[3], in[7], v;
	__s32 res[7];
	__u32 nd;
	int i;

	ASSERT_EQ(0, tokens(self->fd, h, 3));
	in[0] = h[0];
	in[1] = 0;
	in[2] = kd_t_handle_make(kd_t_handle_seq(h[2]) + 1, 0);
	in[3] = h[1];
	in[4] = kd_t_handle_make(1, KD_T_SLOT_MASK);
	in[5] = ~0ULL;
	in[6] = h[2];
	ASSERT_EQ(0, kd_t_dispose_batch(self->fd, in, res, 7, &nd));
	for (i = 0; i < 7; i++) {
		EXPECT_EQ(i % 3 == 0 ? 1 : -ENOENT, res[i])
			TH_LOG("slot %d", i);
	}
	EXPECT_EQ(3, nd);
	EXPECT_EQ(0, count_live(self->fd, h, 3));
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_disposed", &v));
	EXPECT_EQ(3, v);
}

TEST_F(batch, already_disposed_is_zero)
{
	__u64 a, b, cascaded, group, newer, in[4];
	__s32 res[4];
	__u32 nd;
	int i;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &a));
	ASSERT_EQ(0, kd_t_token(self->fd, 0, 2, NULL, &b));
	ASSERT_EQ(0, kd_t_create(self->fd, KDISPOSE_TYPE_GROUP, 0, 0, 0, NULL,
				 &group));
	ASSERT_EQ(0, kd_t_token(self->fd, group, 3, NULL, &cascaded));
	ASSERT_EQ(1, kd_t_dispose(self->fd, a));
	ASSERT_EQ(1, kd_t_dispose(self->fd, group));
	ASSERT_EQ(1, kd_t_dispose(self->fd, b));
	/* Reuses b's slot: b's handle is stale, and must not hit it. */
	ASSERT_EQ(0, kd_t_token(self->fd, 0, 4, NULL, &newer));
	in[0] = a;
	in[1] = group;
	in[2] = cascaded;
	in[3] = b;
	ASSERT_EQ(0, kd_t_dispose_batch(self->fd, in, res, 4, &nd));
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(0, res[i]) TH_LOG("slot %d", i);
	}
	EXPECT_EQ(0, nd);
	EXPECT_EQ(1, count_live(self->fd, &newer, 1));
}

TEST_F(batch, cascade_within_the_batch)
{
	/* h[0] is the group, h[1] and h[2] its children. */
	static const int pick[4] = { 1, 0, 2, 1 };
	static const __s32 want[4] = { 1, 1, 0, 0 };
	struct kd_t_counters before, after;
	__u64 h[3], in[4];
	__s32 res[4];
	__u32 nd;
	int i;

	ASSERT_EQ(0, kd_t_create(self->fd, KDISPOSE_TYPE_GROUP, 0, 0, 0, NULL,
				 &h[0]));
	ASSERT_EQ(0, kd_t_token(self->fd, h[0], 1, NULL, &h[1]));
	ASSERT_EQ(0, kd_t_token(self->fd, h[0], 2, NULL, &h[2]));
	for (i = 0; i < 4; i++)
		in[i] = h[pick[i]];
	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(0, kd_t_dispose_batch(self->fd, in, res, 4, &nd));
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(want[i], res[i]) TH_LOG("slot %d", i);
	}
	EXPECT_EQ(2, nd);
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KD_T_ALL,
			  .disposed = 3, .live = -3, .released = 3);
}

/*
 * The objects whose last reference a batch drops are freed together, a
 * few at a time; a buffer still mapped is not one of them. Its release
 * waits for the munmap, and its pages stay the program's until then.
 * MAPPED_SPAN spans several of the module's groups of frees, with a
 * mapped buffer in each and an unmapped one last.
 */
#define MAPPED_SPAN	40

TEST_F(batch, mapped_buffers_released_at_their_last_put)
{
	long page = sysconf(_SC_PAGESIZE);
	struct kd_t_counters before, mid, after;
	__u64 h[MAPPED_SPAN];
	__s32 res[MAPPED_SPAN];
	char *map[MAPPED_SPAN] = { NULL };
	int i, nmapped = 0;
	__u32 nd;

	ASSERT_EQ(0, kd_t_counters_read(&before));
	for (i = 0; i < MAPPED_SPAN; i++) {
		struct kdispose_query q;

		ASSERT_EQ(0, kd_t_create(self->fd, KDISPOSE_TYPE_MEMORY, 0,
					 page, 0, "mapped", &h[i]));
		if (i % 7 != 3)
			continue;
		ASSERT_EQ(0, kd_t_query(self->fd, h[i], &q));
		map[i] = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED,
			      self->fd, q.info[1]);
		ASSERT_NE(MAP_FAILED, map[i]);
		memset(map[i], 'a' + i % 26, page);
		nmapped++;
	}

	ASSERT_EQ(0, kd_t_dispose_batch(self->fd, h, res, MAPPED_SPAN, &nd));
	EXPECT_EQ(MAPPED_SPAN, nd);
	ASSERT_EQ(0, kd_t_counters_read(&mid));
	KD_T_EXPECT_DELTA(&before, &mid, KDISPOSE_TYPE_MEMORY,
			  .created = MAPPED_SPAN, .disposed = MAPPED_SPAN,
			  .released = MAPPED_SPAN - nmapped);

	for (i = 0; i < MAPPED_SPAN; i++) {
		if (!map[i])
			continue;
		EXPECT_EQ('a' + i % 26, map[i][0]);
		EXPECT_EQ('a' + i % 26, map[i][page - 1]);
		map[i][0] = 'z';
		EXPECT_EQ(0, munmap(map[i], page));
	}
	ASSERT_EQ(0, kd_t_counters_read(&after));
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_MEMORY,
			  .created = MAPPED_SPAN, .disposed = MAPPED_SPAN,
			  .released = MAPPED_SPAN);
}

TEST_F(batch, count_zero_touches_nothing)
{
	__u64 h;
	__u32 nd;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &h));
	ASSERT_EQ(0, kd_t_dispose_batch(self->fd, NULL, NULL, 0, &nd));
	EXPECT_EQ(0, nd);
	ASSERT_EQ(0, kd_t_dispose_batch(self->fd, &h, NULL, 0, &nd));
	EXPECT_EQ(0, nd);
	EXPECT_EQ(1, count_live(self->fd, &h, 1));
}

TEST_F(batch, count_over_max_is_einval)
{
	static __u64 h[KDISPOSE_BATCH_MAX + 1];
	static __s32 res[KDISPOSE_BATCH_MAX + 1];
	__u32 nd;
	int i;

	ASSERT_EQ(0, tokens(self->fd, h, KDISPOSE_BATCH_MAX + 1));
	fill_untouched(res, KDISPOSE_BATCH_MAX + 1);
	EXPECT_EQ(-EINVAL, kd_t_dispose_batch(self->fd, h, res,
					      KDISPOSE_BATCH_MAX + 1, &nd));
	EXPECT_EQ(-EINVAL, kd_t_dispose_batch(self->fd, h, res, ~0U, &nd));
	EXPECT_EQ(KDISPOSE_BATCH_MAX + 1,
		  count_live(self->fd, h, KDISPOSE_BATCH_MAX + 1));
	for (i = 0; i <= KDISPOSE_BATCH_MAX; i++) {
		ASSERT_EQ(KD_T_UNTOUCHED, res[i]) TH_LOG("slot %d", i);
	}
	EXPECT_EQ(KD_T_UNTOUCHED, nd);
}

TEST_F(batch, flags_and_pad_are_einval)
{
	static const struct { __u32 flags, pad; } bad[] = {
		{ .flags = 1 }, { .flags = 1U << 31 },
		{ .pad = 1 }, { .pad = 1U << 31 },
	};
	struct kdispose_dispose_batch b;
	unsigned int i;
	__u64 h;
	__s32 res;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &h));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		b = (struct kdispose_dispose_batch){
			.handles = (uintptr_t)&h,
			.results = (uintptr_t)&res,
			.count = 1,
			.flags = bad[i].flags,
			.pad = bad[i].pad,
		};
		res = KD_T_UNTOUCHED;
		EXPECT_EQ(-EINVAL, kd_t_ioctl(self->fd,
					      KDISPOSE_IOC_DISPOSE_BATCH, &b))
			TH_LOG("flags %#x pad %#x", b.flags, b.pad);
		EXPECT_EQ(KD_T_UNTOUCHED, res);
	}
	EXPECT_EQ(1, count_live(self->fd, &h, 1));
}

TEST_F(batch, bad_handles_pointer_is_efault)
{
	__u64 h[4];
	__s32 res[4];
	char *guard;
	int i;

	ASSERT_EQ(0, tokens(self->fd, h, 4));
	guard = map_guarded(self);
	ASSERT_NE(NULL, guard);
	fill_untouched(res, 4);
	EXPECT_EQ(-EFAULT, kd_t_dispose_batch(self->fd, NULL, res, 4, NULL));
	EXPECT_EQ(-EFAULT, kd_t_dispose_batch(self->fd, (__u64 *)guard, res, 4,
					      NULL));
	EXPECT_EQ(-EFAULT, kd_t_dispose_batch(self->fd, (__u64 *)-4096L, res, 4,
					      NULL));
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(KD_T_UNTOUCHED, res[i]);
	}
	EXPECT_EQ(4, count_live(self->fd, h, 4));
}

/* The handles of the second chunk are unreadable: the first is done. */
TEST_F(batch, handles_fault_in_second_chunk)
{
	__u64 h[2 * BATCH_CHUNK], *in;
	__s32 res[2 * BATCH_CHUNK];
	char *guard;
	int i;

	ASSERT_EQ(0, tokens(self->fd, h, 2 * BATCH_CHUNK));
	guard = map_guarded(self);
	ASSERT_NE(NULL, guard);
	in = (__u64 *)guard - BATCH_CHUNK;
	memcpy(in, h, BATCH_CHUNK * sizeof(*in));
	fill_untouched(res, 2 * BATCH_CHUNK);
	EXPECT_EQ(-EFAULT, kd_t_dispose_batch(self->fd, in, res,
					      2 * BATCH_CHUNK, NULL));
	for (i = 0; i < 2 * BATCH_CHUNK; i++) {
		EXPECT_EQ(i < BATCH_CHUNK ? 1 : KD_T_UNTOUCHED, res[i])
			TH_LOG("slot %d", i);
	}
	EXPECT_EQ(0, count_live(self->fd, h, BATCH_CHUNK));
	EXPECT_EQ(BATCH_CHUNK,
		  count_live(self->fd, h + BATCH_CHUNK, BATCH_CHUNK));
}

/*
 * No result can be written: the first chunk is disposed before its results
 * fault, the rest is not; a retry reports 0 for the first chunk.
 */
TEST_F(batch, results_unwritable_first_chunk_disposed)
{
	__u64 h[BATCH_CHUNK + 36];
	__s32 res[BATCH_CHUNK + 36];
	const int n = BATCH_CHUNK + 36;
	struct kd_t_counters before, after;
	char *guard;
	__u32 nd;
	int i;

	ASSERT_EQ(0, tokens(self->fd, h, n));
	guard = map_guarded(self);
	ASSERT_NE(NULL, guard);
	ASSERT_EQ(0, mprotect(self->map, guard - (char *)self->map,
			      PROT_READ));
	KD_T_ASSERT_COUNTERS(before);
	EXPECT_EQ(-EFAULT, kd_t_dispose_batch(self->fd, h, NULL, n, &nd));
	EXPECT_EQ(KD_T_UNTOUCHED, nd);
	EXPECT_EQ(-EFAULT, kd_t_dispose_batch(self->fd, h, (__s32 *)guard, n,
					      NULL));
	EXPECT_EQ(-EFAULT, kd_t_dispose_batch(self->fd, h, self->map, n, NULL));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_TOKEN,
			  .disposed = BATCH_CHUNK, .live = -BATCH_CHUNK,
			  .released = BATCH_CHUNK);
	EXPECT_EQ(0, count_live(self->fd, h, BATCH_CHUNK));
	EXPECT_EQ(n - BATCH_CHUNK,
		  count_live(self->fd, h + BATCH_CHUNK, n - BATCH_CHUNK));

	ASSERT_EQ(0, kd_t_dispose_batch(self->fd, h, res, n, &nd));
	for (i = 0; i < n; i++) {
		EXPECT_EQ(i < BATCH_CHUNK ? 0 : 1, res[i]) TH_LOG("slot %d", i);
	}
	EXPECT_EQ(n - BATCH_CHUNK, nd);
}

/* The results of the second chunk fault: both chunks are disposed. */
TEST_F(batch, results_fault_in_second_chunk)
{
	__u64 h[3 * BATCH_CHUNK];
	__s32 *res;
	char *guard;
	int i;

	ASSERT_EQ(0, tokens(self->fd, h, 3 * BATCH_CHUNK));
	guard = map_guarded(self);
	ASSERT_NE(NULL, guard);
	res = (__s32 *)guard - BATCH_CHUNK;
	fill_untouched(res, BATCH_CHUNK);
	EXPECT_EQ(-EFAULT, kd_t_dispose_batch(self->fd, h, res,
					      3 * BATCH_CHUNK, NULL));
	for (i = 0; i < BATCH_CHUNK; i++) {
		EXPECT_EQ(1, res[i]) TH_LOG("slot %d", i);
	}
	EXPECT_EQ(0, count_live(self->fd, h, 2 * BATCH_CHUNK));
	EXPECT_EQ(BATCH_CHUNK,
		  count_live(self->fd, h + 2 * BATCH_CHUNK, BATCH_CHUNK));
}

/*
 * A model of one file's table for the mixed batch: objects in creation
 * order (a parent before its children), live or not.
 */
struct model {
	__u64 handle[MIX_OBJECTS];
	int parent[MIX_OBJECTS];	/* index, or -1 */
	bool live[MIX_OBJECTS];
	int n;
	int nlive;
};

static int model_find(const struct model *m, __u64 handle)
{
	int i;

	for (i = 0; i < m->n; i++)
		if (m->handle[i] == handle)
			return i;
	return -1;
}

/* What a dispose of @handle returns; applies it (children first). */
static int model_dispose(struct model *m, __u64 handle, int *ntaken)
{
	int i = model_find(m, handle), j;

	*ntaken = 0;
	if (i < 0)
		return -ENOENT;
	if (!m->live[i])
		return 0;
	m->live[i] = false;
	(*ntaken)++;
	/* Parents come first: one pass reaches every descendant. */
	for (j = i + 1; j < m->n; j++) {
		if (m->live[j] && m->parent[j] >= 0 && !m->live[m->parent[j]]) {
			m->live[j] = false;
			(*ntaken)++;
		}
	}
	m->nlive -= *ntaken;
	return 1;
}

static int model_create(struct model *m, int fd, __u32 type, int parent)
{
	__u64 h;
	int ret;

	ret = kd_t_create(fd, type, parent < 0 ? 0 : m->handle[parent],
			  type == KDISPOSE_TYPE_TOKEN ? m->n : 0, 0, NULL, &h);
	if (ret)
		return ret;
	m->handle[m->n] = h;
	m->parent[m->n] = parent;
	m->live[m->n] = true;
	m->n++;
	m->nlive++;
	return 0;
}

static __u64 xorshift(__u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * Tokens; groups nested three to a parent, each with tokens; some disposed
 * beforehand (with their subtrees); then tokens that reuse their slots, so
 * stale handles share slots with live ones. Return: 0 or -errno.
 */
static int model_build(struct model *m, int fd, __u64 *seed)
{
	int i, j, g, ret = 0, taken;

	for (i = 0; i < MIX_TOKENS && !ret; i++)
		ret = model_create(m, fd, KDISPOSE_TYPE_TOKEN, -1);
	for (g = 0; g < MIX_GROUPS && !ret; g++) {
		int group = m->n;

		ret = model_create(m, fd, KDISPOSE_TYPE_GROUP, g ?
				   MIX_TOKENS + (g - 1) / 3 * (1 + MIX_KIDS) :
				   -1);
		for (j = 0; j < MIX_KIDS && !ret; j++)
			ret = model_create(m, fd, KDISPOSE_TYPE_TOKEN, group);
	}
	for (i = 0; i < MIX_PREDISPOSED && !ret; i++) {
		__u64 h = m->handle[xorshift(seed) % m->n];
		int want = model_dispose(m, h, &taken);

		if (kd_t_dispose(fd, h) != want)
			ret = -EPROTO;
	}
	for (i = 0; i < MIX_LATE && !ret; i++)
		ret = model_create(m, fd, KDISPOSE_TYPE_TOKEN, -1);
	return ret;
}

TEST_F_TIMEOUT(batch, max_batch_with_a_mix, 60)
{
	static struct model m;
	static __u64 in[KDISPOSE_BATCH_MAX];
	static __s32 res[KDISPOSE_BATCH_MAX], want[KDISPOSE_BATCH_MAX];
	struct kd_t_counters before, after;
	__u64 seed = MIX_SEED, r, v;
	int i, taken, disposed = 0, wins = 0, zeros = 0, enoent = 0;
	__u32 nd;

	ASSERT_EQ(0, model_build(&m, self->fd, &seed));
	for (i = 0; i < KDISPOSE_BATCH_MAX; i++) {
		r = xorshift(&seed);
		if (r % 20 == 0)
			in[i] = 0;
		else if (r % 20 == 1)
			in[i] = kd_t_handle_make(m.n + 1 + r % 1000,
						 r % (m.n + 100));
		else
			in[i] = m.handle[r / 20 % m.n];
	}
	for (i = 0; i < KDISPOSE_BATCH_MAX; i++) {
		want[i] = model_dispose(&m, in[i], &taken);
		disposed += taken;
		wins += want[i] == 1;
		zeros += want[i] == 0;
		enoent += want[i] == -ENOENT;
	}
	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(0, kd_t_dispose_batch(self->fd, in, res, KDISPOSE_BATCH_MAX,
					&nd));
	for (i = 0; i < KDISPOSE_BATCH_MAX; i++) {
		ASSERT_EQ(want[i], res[i]) TH_LOG("slot %d", i);
	}
	EXPECT_EQ(wins, nd);
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KD_T_ALL, .disposed = disposed,
			  .live = -disposed, .released = disposed);
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_live", &v));
	EXPECT_EQ(m.nlive, v);
	TH_LOG("%d objects; batch of %d: %d disposed (%d with cascades), "
	       "%d already, %d ENOENT", m.n, KDISPOSE_BATCH_MAX, wins,
	       disposed, zeros, enoent);
}

/* Two threads batch the same handles, in opposite orders. */
struct batch_race {
	int fd;
	pthread_barrier_t go;
	pthread_barrier_t done;
	bool stop;
	__u64 handles[2][KDISPOSE_BATCH_MAX];	/* [1] is [0] reversed */
	__s32 results[2][KDISPOSE_BATCH_MAX];
	__u32 ndisposed[2];
	int err[2];
};

struct batch_racer {
	struct batch_race *race;
	int id;
};

static void *batch_racer_fn(void *arg)
{
	struct batch_racer *r = arg;
	struct batch_race *race = r->race;
	int ret;

	for (;;) {
		pthread_barrier_wait(&race->go);
		if (race->stop)
			return NULL;
		ret = kd_t_dispose_batch(race->fd, race->handles[r->id],
					 race->results[r->id],
					 KDISPOSE_BATCH_MAX,
					 &race->ndisposed[r->id]);
		if (ret && !race->err[r->id])
			race->err[r->id] = ret;
		pthread_barrier_wait(&race->done);
	}
}

TEST_F_TIMEOUT(batch, two_threads_one_winner_each, 60)
{
	static struct batch_race race;
	struct batch_racer racers[2];
	struct kd_t_counters before, after;
	pthread_t tids[2];
	uint64_t deadline;
	long wins[2] = { 0 };
	int rounds, i, a, b;

	race.fd = self->fd;
	ASSERT_EQ(0, pthread_barrier_init(&race.go, NULL, 3));
	ASSERT_EQ(0, pthread_barrier_init(&race.done, NULL, 3));
	for (i = 0; i < 2; i++) {
		racers[i] = (struct batch_racer){ .race = &race, .id = i };
		ASSERT_EQ(0, pthread_create(&tids[i], NULL, batch_racer_fn,
					    &racers[i]));
	}
	KD_T_ASSERT_COUNTERS(before);
	deadline = kd_t_now_ns() + RACE_BUDGET_MS * 1000000ULL;
	for (rounds = 0; rounds < RACE_ROUNDS && kd_t_now_ns() < deadline;
	     rounds++) {
		ASSERT_EQ(0, tokens(self->fd, race.handles[0],
				    KDISPOSE_BATCH_MAX));
		for (i = 0; i < KDISPOSE_BATCH_MAX; i++)
			race.handles[1][KDISPOSE_BATCH_MAX - 1 - i] =
				race.handles[0][i];
		pthread_barrier_wait(&race.go);
		pthread_barrier_wait(&race.done);
		ASSERT_EQ(0, race.err[0]);
		ASSERT_EQ(0, race.err[1]);
		for (i = 0; i < KDISPOSE_BATCH_MAX; i++) {
			a = race.results[0][i];
			b = race.results[1][KDISPOSE_BATCH_MAX - 1 - i];
			ASSERT_TRUE((a == 0 || a == 1) && a + b == 1)
				TH_LOG("round %d handle %d: %d and %d", rounds,
				       i, a, b);
			wins[0] += a;
			wins[1] += b;
		}
		ASSERT_EQ(KDISPOSE_BATCH_MAX,
			  race.ndisposed[0] + race.ndisposed[1]);
	}
	race.stop = true;
	pthread_barrier_wait(&race.go);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(0, pthread_join(tids[i], NULL));
	}
	TH_LOG("%d rounds of %d handles: %ld and %ld won", rounds,
	       KDISPOSE_BATCH_MAX, wins[0], wins[1]);
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_TOKEN,
			  .created = rounds * KDISPOSE_BATCH_MAX,
			  .disposed = rounds * KDISPOSE_BATCH_MAX,
			  .released = rounds * KDISPOSE_BATCH_MAX);
}

TEST_HARNESS_MAIN
