// SPDX-License-Identifier: GPL-2.0
/*
 * cascade_test: parent/child trees of objects of every kind. Each test
 * checks one behaviour: one dispose releases a 1000-node tree, each node
 * exactly once (module counter deltas, per kind); closing the file does the
 * same on the finalizer path; a child disposed on its own first is not
 * counted again; a cascade racing with disposes of its children from
 * another thread still releases every object once; a mapped buffer in a
 * disposed tree lives until its munmap; the depth limit and bad parents.
 * The fixture teardown checks the module counters.
 */
#include <pthread.h>
#include <sys/mman.h>

#include "kdispose_test.h"

#define NODES		1000
#define FANOUT		4
#define RACE_ROUNDS	200
#define RACE_CHILDREN	32

FIXTURE(cascade)
{
	KD_T_DEV_MEMBERS;
	int nul;			/* /dev/null, pinned by file nodes */
	long page;			/* the page size */
};

FIXTURE_SETUP(cascade)
{
	self->page = sysconf(_SC_PAGESIZE);
	KD_T_DEV_SETUP(self);
	self->nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->nul);
}

/* No ASSERT here: a failing ASSERT in teardown would re-enter teardown. */
FIXTURE_TEARDOWN(cascade)
{
	EXPECT_EQ(0, close(self->nul));
	KD_T_DEV_TEARDOWN(self, KD_T_ALL, 0);
}

/* The kinds in the order nodes cycle through them. */
static const __u32 kinds[] = {
	KDISPOSE_TYPE_GROUP, KDISPOSE_TYPE_TOKEN, KDISPOSE_TYPE_MEMORY,
	KDISPOSE_TYPE_EVENT, KDISPOSE_TYPE_FILE,
};

/*
 * Create an object of kind @type under @parent, with valid arguments for
 * the kind (@nul is the fd a file object pins). Return: 0 or -errno.
 */
static int create_kind(int fd, __u32 type, __u64 parent, int nul, long page,
		       __u64 *handle)
{
	__u64 arg0 = 0;

	switch (type) {
	case KDISPOSE_TYPE_MEMORY:
		arg0 = page;
		break;
	case KDISPOSE_TYPE_FILE:
		arg0 = nul;
		break;
	case KDISPOSE_TYPE_TOKEN:
		arg0 = parent;
		break;
	}
	return kd_t_create(fd, type, parent, arg0, 0, "node", handle);
}

/*
 * Build an @n-node tree: node 0 is a group, node i > 0 has kind
 * kinds[i % 5] and parent node (i - 1) / FANOUT. @count[type] gets the
 * number of nodes of each kind. Return: 0 or -errno.
 */
static int build_tree(int fd, int nul, long page, __u64 *nodes, int n,
		      int count[KD_T_NROWS])
{
	int i, ret;

	memset(count, 0, KD_T_NROWS * sizeof(count[0]));
	for (i = 0; i < n; i++) {
		__u32 type = i ? kinds[i % ARRAY_SIZE(kinds)] :
				 KDISPOSE_TYPE_GROUP;

		ret = create_kind(fd, type, i ? nodes[(i - 1) / FANOUT] : 0,
				  nul, page, &nodes[i]);
		if (ret)
			return ret;
		count[type]++;
	}
	return 0;
}

TEST_F(cascade, tree_1000_one_dispose)
{
	struct kd_t_counters before, after;
	struct kdispose_query q;
	int count[KD_T_NROWS], t, i;
	__u64 nodes[NODES], v;

	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(0, build_tree(self->fd, self->nul, self->page, nodes, NODES,
				count));
	ASSERT_EQ(0, kd_t_query(self->fd, nodes[0], &q));
	EXPECT_EQ(FANOUT, q.nchildren);

	ASSERT_EQ(1, kd_t_dispose(self->fd, nodes[0]));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KD_T_ALL, .created = NODES,
			  .disposed = NODES, .released = NODES);
	for (t = 1; t < KD_T_NROWS; t++)
		KD_T_EXPECT_DELTA(&before, &after, t, .created = count[t],
				  .disposed = count[t], .released = count[t]);
	for (i = 0; i < NODES; i++) {
		ASSERT_EQ(-EIDRM, kd_t_query(self->fd, nodes[i], &q))
			TH_LOG("node %d", i);
		ASSERT_EQ(0, kd_t_dispose(self->fd, nodes[i]))
			TH_LOG("node %d", i);
	}
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_live", &v));
	EXPECT_EQ(0, v);
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_bytes", &v));
	EXPECT_EQ(0, v);
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_disposed", &v));
	EXPECT_EQ(NODES, v);
}

/* The finalizer path: closing the file disposes the tree, not disposing. */
TEST_F(cascade, tree_1000_finalized_on_close)
{
	struct kd_t_counters before, after;
	int count[KD_T_NROWS], t;
	int fd = kd_t_open();
	__u64 nodes[NODES];

	ASSERT_LE(0, fd);
	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(0, build_tree(fd, self->nul, self->page, nodes, NODES,
				count));
	ASSERT_EQ(0, close(fd));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KD_T_ALL, .created = NODES,
			  .finalized = NODES, .released = NODES);
	for (t = 1; t < KD_T_NROWS; t++)
		KD_T_EXPECT_DELTA(&before, &after, t, .created = count[t],
				  .finalized = count[t], .released = count[t]);
}

/* Children disposed on their own first are not disposed again. */
TEST_F(cascade, child_disposed_before_parent)
{
	struct kd_t_counters before, after;
	struct kdispose_query q;
	__u64 parent, child[ARRAY_SIZE(kinds)];
	unsigned int i;

	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(0, create_kind(self->fd, KDISPOSE_TYPE_GROUP, 0, self->nul,
				 self->page, &parent));
	for (i = 0; i < ARRAY_SIZE(kinds); i++)
		ASSERT_EQ(0, create_kind(self->fd, kinds[i], parent, self->nul,
					 self->page, &child[i]));
	ASSERT_EQ(1, kd_t_dispose(self->fd, child[2]));
	ASSERT_EQ(1, kd_t_dispose(self->fd, child[3]));
	ASSERT_EQ(0, kd_t_query(self->fd, parent, &q));
	EXPECT_EQ(ARRAY_SIZE(kinds) - 2, q.nchildren);
	ASSERT_EQ(1, kd_t_dispose(self->fd, parent));
	ASSERT_EQ(0, kd_t_dispose(self->fd, child[2]));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KD_T_ALL,
			  .created = ARRAY_SIZE(kinds) + 1,
			  .disposed = ARRAY_SIZE(kinds) + 1,
			  .released = ARRAY_SIZE(kinds) + 1);
}

/* One round of the race: the other thread's half. */
struct racer {
	int fd;
	const __u64 *children;
	pthread_barrier_t *start;
	int results[RACE_CHILDREN];
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	int i;

	pthread_barrier_wait(r->start);
	for (i = RACE_CHILDREN - 1; i >= 0; i--)
		r->results[i] = kd_t_dispose(r->fd, r->children[i]);
	return NULL;
}

/*
 * The main thread disposes a group while another thread disposes its
 * children (and their children) one by one: every dispose returns 1 or 0,
 * never an error, and every object is disposed and released exactly once.
 */
TEST_F(cascade, race_with_child_disposes)
{
	struct kd_t_counters before, after;
	__u64 root, children[RACE_CHILDREN], grandchild;
	int round, i, total = 0, by_racer = 0;
	pthread_barrier_t start;
	struct racer r;
	pthread_t thread;

	ASSERT_EQ(0, pthread_barrier_init(&start, NULL, 2));
	KD_T_ASSERT_COUNTERS(before);
	for (round = 0; round < RACE_ROUNDS; round++) {
		ASSERT_EQ(0, create_kind(self->fd, KDISPOSE_TYPE_GROUP, 0,
					 self->nul, self->page, &root));
		total++;
		for (i = 0; i < RACE_CHILDREN; i++) {
			__u32 type = kinds[i % ARRAY_SIZE(kinds)];

			ASSERT_EQ(0, create_kind(self->fd, type, root,
						 self->nul, self->page,
						 &children[i]));
			ASSERT_EQ(0, create_kind(self->fd, KDISPOSE_TYPE_TOKEN,
						 children[i], self->nul,
						 self->page, &grandchild));
			total += 2;
		}
		r.fd = self->fd;
		r.children = children;
		r.start = &start;
		ASSERT_EQ(0, pthread_create(&thread, NULL, racer_main, &r));
		pthread_barrier_wait(&start);
		ASSERT_EQ(1, kd_t_dispose(self->fd, root));
		ASSERT_EQ(0, pthread_join(thread, NULL));
		for (i = 0; i < RACE_CHILDREN; i++) {
			ASSERT_TRUE(r.results[i] == 0 || r.results[i] == 1)
				TH_LOG("round %d child %d: %d", round, i,
				       r.results[i]);
			by_racer += r.results[i];
		}
	}
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KD_T_ALL, .created = total,
			  .disposed = total, .released = total);
	TH_LOG("%d of %d children disposed by the racing thread", by_racer,
	       RACE_ROUNDS * RACE_CHILDREN);
	pthread_barrier_destroy(&start);
}

/* A mapped buffer in a disposed tree: handle gone, pages until munmap. */
TEST_F(cascade, mapped_child_outlives_cascade)
{
	struct kd_t_counters before, mid, after;
	struct kdispose_query q;
	__u64 root, mem;
	char *map;

	ASSERT_EQ(0, create_kind(self->fd, KDISPOSE_TYPE_GROUP, 0, self->nul,
				 self->page, &root));
	ASSERT_EQ(0, create_kind(self->fd, KDISPOSE_TYPE_MEMORY, root,
				 self->nul, self->page, &mem));
	ASSERT_EQ(0, kd_t_query(self->fd, mem, &q));
	map = mmap(NULL, self->page, PROT_READ | PROT_WRITE, MAP_SHARED,
		   self->fd, q.info[1]);
	ASSERT_NE(MAP_FAILED, map);
	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(1, kd_t_dispose(self->fd, root));
	KD_T_ASSERT_COUNTERS(mid);
	KD_T_EXPECT_DELTA(&before, &mid, KDISPOSE_TYPE_MEMORY,
			  .disposed = 1, .live = -1);
	KD_T_EXPECT_DELTA(&before, &mid, KDISPOSE_TYPE_GROUP,
			  .disposed = 1, .live = -1, .released = 1);
	strcpy(map, "still here");
	EXPECT_STREQ("still here", map);
	ASSERT_EQ(0, munmap(map, self->page));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_MEMORY,
			  .disposed = 1, .live = -1, .released = 1);
}

/*
 * A chain of KDISPOSE_MAX_DEPTH + 1 objects of mixed kinds is the deepest
 * there can be; one more level fails with EMLINK.
 */
TEST_F(cascade, depth_limit_emlink)
{
	struct kd_t_counters before, after;
	struct kdispose_query q;
	__u64 chain[KDISPOSE_MAX_DEPTH + 1], h;
	int i;

	KD_T_ASSERT_COUNTERS(before);
	for (i = 0; i <= KDISPOSE_MAX_DEPTH; i++)
		ASSERT_EQ(0, create_kind(self->fd,
					 kinds[i % ARRAY_SIZE(kinds)],
					 i ? chain[i - 1] : 0, self->nul,
					 self->page, &chain[i]))
			TH_LOG("depth %d", i);
	ASSERT_EQ(0, kd_t_query(self->fd, chain[KDISPOSE_MAX_DEPTH], &q));
	EXPECT_EQ(KDISPOSE_MAX_DEPTH, q.depth);
	EXPECT_EQ(chain[KDISPOSE_MAX_DEPTH - 1], q.parent);
	for (i = 0; i < (int)ARRAY_SIZE(kinds); i++)
		EXPECT_EQ(-EMLINK, create_kind(self->fd, kinds[i],
					       chain[KDISPOSE_MAX_DEPTH],
					       self->nul, self->page, &h))
			TH_LOG("kind %u", kinds[i]);
	ASSERT_EQ(1, kd_t_dispose(self->fd, chain[0]));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KD_T_ALL,
			  .created = KDISPOSE_MAX_DEPTH + 1,
			  .disposed = KDISPOSE_MAX_DEPTH + 1,
			  .released = KDISPOSE_MAX_DEPTH + 1);
}

/* Every kind can be a parent, and query reports the link. */
TEST_F(cascade, every_kind_can_parent)
{
	struct kdispose_query q;
	__u64 parent, child;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(kinds); i++) {
		ASSERT_EQ(0, create_kind(self->fd, kinds[i], 0, self->nul,
					 self->page, &parent));
		ASSERT_EQ(0, create_kind(self->fd, kinds[(i + 1) %
							ARRAY_SIZE(kinds)],
					 parent, self->nul, self->page,
					 &child));
		ASSERT_EQ(0, kd_t_query(self->fd, child, &q));
		EXPECT_EQ(parent, q.parent);
		EXPECT_EQ(1, q.depth);
		ASSERT_EQ(0, kd_t_query(self->fd, parent, &q));
		EXPECT_EQ(1, q.nchildren);
		ASSERT_EQ(1, kd_t_dispose(self->fd, parent));
		EXPECT_EQ(-EIDRM, kd_t_query(self->fd, child, &q));
	}
}

TEST_F(cascade, parent_disposed_eidrm)
{
	__u64 parent, h;
	unsigned int i;

	ASSERT_EQ(0, create_kind(self->fd, KDISPOSE_TYPE_EVENT, 0, self->nul,
				 self->page, &parent));
	ASSERT_EQ(1, kd_t_dispose(self->fd, parent));
	for (i = 0; i < ARRAY_SIZE(kinds); i++)
		EXPECT_EQ(-EIDRM, create_kind(self->fd, kinds[i], parent,
					      self->nul, self->page, &h))
			TH_LOG("kind %u", kinds[i]);
}

TEST_F(cascade, parent_never_issued_enoent)
{
	__u64 h, forged;
	unsigned int i;

	ASSERT_EQ(0, create_kind(self->fd, KDISPOSE_TYPE_GROUP, 0, self->nul,
				 self->page, &h));
	forged = kd_t_handle_make(kd_t_handle_seq(h) + 100,
				  kd_t_handle_slot(h));
	for (i = 0; i < ARRAY_SIZE(kinds); i++)
		EXPECT_EQ(-ENOENT, create_kind(self->fd, kinds[i], forged,
					       self->nul, self->page, &h))
			TH_LOG("kind %u", kinds[i]);
}

/* A failed create with a bad parent leaves nothing behind. */
TEST_F(cascade, bad_parent_creates_nothing)
{
	struct kd_t_counters before, after;
	__u64 parent, h;

	ASSERT_EQ(0, create_kind(self->fd, KDISPOSE_TYPE_GROUP, 0, self->nul,
				 self->page, &parent));
	ASSERT_EQ(1, kd_t_dispose(self->fd, parent));
	KD_T_ASSERT_COUNTERS(before);
	EXPECT_EQ(-EIDRM, create_kind(self->fd, KDISPOSE_TYPE_MEMORY, parent,
				      self->nul, self->page, &h));
	EXPECT_EQ(-EIDRM, create_kind(self->fd, KDISPOSE_TYPE_FILE, parent,
				      self->nul, self->page, &h));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KD_T_ALL, .created = 0);
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_bytes", &h));
	EXPECT_EQ(0, h);
}

TEST_HARNESS_MAIN
