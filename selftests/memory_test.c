// SPDX-License-Identifier: GPL-2.0
/*
 * memory_test: KDISPOSE_TYPE_MEMORY, the memory buffer. Each test checks one
 * behaviour: creation limits and the max_bytes quota, the read and write
 * operations (ranges, bad pointers), mmap of the buffer through the device
 * fd, the buffer's lifetime when it is disposed, finalized, mapped, split,
 * or mapped by a forked child, and (fixture memory_vma) the contents every
 * part of a mapping shows after it was split, shrunk, moved or forked. The
 * fixture teardowns check the module counters: invariants hold and nothing
 * the test made is left live or unreleased once its file is closed.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "kdispose_test.h"

/* Rounds of the mmap / dispose race. */
#define RACE_ROUNDS	200

FIXTURE(memory)
{
	KD_T_DEV_MEMBERS;
	long page;			/* the page size */
	struct kd_t_param max_bytes;	/* saved by the quota tests */
};

FIXTURE_SETUP(memory)
{
	self->page = sysconf(_SC_PAGESIZE);
	KD_T_DEV_SETUP(self);
}

/* No ASSERT here: a failing ASSERT in teardown would re-enter teardown. */
FIXTURE_TEARDOWN(memory)
{
	EXPECT_EQ(0, kd_t_param_restore(&self->max_bytes));
	KD_T_DEV_TEARDOWN(self, KDISPOSE_TYPE_MEMORY, 0);
}

/* A memory buffer of @size bytes. Return: 0 or -errno. */
static int mem_create(int fd, __u64 size, __u64 *handle)
{
	return kd_t_create(fd, KDISPOSE_TYPE_MEMORY, 0, size, 0, "mem",
			   handle);
}

/* KDISPOSE_OP_MEM_READ. Return: 0 or -errno. */
static int mem_read(int fd, __u64 h, __u64 off, __u64 len, void *buf)
{
	__u64 args[4] = { off, len, (uintptr_t)buf };

	return kd_t_op(fd, h, KDISPOSE_OP_MEM_READ, args);
}

/* KDISPOSE_OP_MEM_WRITE. Return: 0 or -errno. */
static int mem_write(int fd, __u64 h, __u64 off, __u64 len, const void *buf)
{
	__u64 args[4] = { off, len, (uintptr_t)buf };

	return kd_t_op(fd, h, KDISPOSE_OP_MEM_WRITE, args);
}

/* The mmap offset of buffer @h, from KDISPOSE_IOC_QUERY; -1 on error. */
static off_t mem_offset(int fd, __u64 h)
{
	struct kdispose_query q;

	if (kd_t_query(fd, h, &q))
		return -1;
	return q.info[1];
}

/* mmap(MAP_SHARED) of @len bytes of buffer @h. */
static void *mem_map(int fd, __u64 h, size_t len)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    mem_offset(fd, h));
}

/* KDISPOSE_STATE_* of @h, or 0 if the query fails. */
static __u32 mem_state(int fd, __u64 h)
{
	struct kdispose_query q;

	return kd_t_query(fd, h, &q) ? 0 : q.state;
}

/* A page that is not mapped: any access to it faults. */
static void *unmapped_page(long page)
{
	void *p = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	munmap(p, page);
	return p;
}

TEST_F(memory, create_query)
{
	struct kdispose_query q;
	__u64 h, v;

	ASSERT_EQ(0, mem_create(self->fd, 5000, &h));
	ASSERT_EQ(0, kd_t_query(self->fd, h, &q));
	EXPECT_EQ(KDISPOSE_TYPE_MEMORY, q.type);
	EXPECT_EQ(5000, q.info[0]);
	EXPECT_EQ(kd_t_handle_seq(h) * self->page, q.info[1]);
	EXPECT_EQ(0, q.state);
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_bytes", &v));
	EXPECT_EQ(2 * self->page, v) TH_LOG("charged in whole pages");
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_live_memory", &v));
	EXPECT_EQ(1, v);
}

TEST_F(memory, starts_zeroed)
{
	size_t size = 3 * self->page + 123, i;
	unsigned char *buf = malloc(size);
	__u64 h;

	ASSERT_NE(NULL, buf);
	memset(buf, 0xa5, size);
	ASSERT_EQ(0, mem_create(self->fd, size, &h));
	ASSERT_EQ(0, mem_read(self->fd, h, 0, size, buf));
	for (i = 0; i < size; i++)
		ASSERT_EQ(0, buf[i]) TH_LOG("byte %zu", i);
	free(buf);
}

TEST_F(memory, write_read_across_pages)
{
	size_t len = self->page + 100;
	char *in = malloc(len), *out = malloc(len);
	size_t i;
	__u64 h;

	ASSERT_NE(NULL, in);
	ASSERT_NE(NULL, out);
	for (i = 0; i < len; i++)
		in[i] = i * 7;
	ASSERT_EQ(0, mem_create(self->fd, 3 * self->page, &h));
	ASSERT_EQ(0, mem_write(self->fd, h, self->page - 50, len, in));
	memset(out, 0, len);
	ASSERT_EQ(0, mem_read(self->fd, h, self->page - 50, len, out));
	EXPECT_EQ(0, memcmp(in, out, len));
	free(in);
	free(out);
}

TEST_F(memory, zero_length_ok)
{
	__u64 h;

	ASSERT_EQ(0, mem_create(self->fd, 100, &h));
	EXPECT_EQ(0, mem_read(self->fd, h, 100, 0, NULL));
	EXPECT_EQ(0, mem_write(self->fd, h, 0, 0, NULL));
}

TEST_F(memory, lifecycle_dispose)
{
	struct kd_t_counters before, after;
	__u64 h, v;

	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(0, mem_create(self->fd, 3 * self->page, &h));
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_MEMORY,
			  .created = 1, .disposed = 1, .released = 1);
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_bytes", &v));
	EXPECT_EQ(0, v);
}

TEST_F(memory, lifecycle_close_finalizes)
{
	struct kd_t_counters before, after;
	int fd = kd_t_open();
	__u64 h;

	ASSERT_LE(0, fd);
	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(0, mem_create(fd, self->page, &h));
	ASSERT_EQ(0, mem_create(fd, 10 * self->page, &h));
	ASSERT_EQ(0, close(fd));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_MEMORY,
			  .created = 2, .finalized = 2, .released = 2);
}

TEST_F(memory, size_zero_einval)
{
	__u64 h;

	EXPECT_EQ(-EINVAL, mem_create(self->fd, 0, &h));
}

TEST_F(memory, size_above_max_bytes_einval)
{
	__u64 h;

	ASSERT_EQ(0, kd_t_param_set_u64(&self->max_bytes, "max_bytes",
					4 * self->page));
	EXPECT_EQ(-EINVAL, mem_create(self->fd, 4 * self->page + 1, &h));
	EXPECT_EQ(0, mem_create(self->fd, 4 * self->page, &h));
}

TEST_F(memory, size_huge_einval)
{
	__u64 h;

	EXPECT_EQ(-EINVAL, mem_create(self->fd, ~0ULL, &h));
}

TEST_F(memory, create_arg1_einval)
{
	__u64 h;

	EXPECT_EQ(-EINVAL, kd_t_create(self->fd, KDISPOSE_TYPE_MEMORY, 0,
				       self->page, 1, NULL, &h));
}

TEST_F(memory, quota_edquot)
{
	__u64 a, b;

	ASSERT_EQ(0, kd_t_param_set_u64(&self->max_bytes, "max_bytes",
					3 * self->page));
	ASSERT_EQ(0, mem_create(self->fd, 2 * self->page, &a));
	EXPECT_EQ(-EDQUOT, mem_create(self->fd, 2 * self->page, &b));
	/* A partial page is charged as a whole one. */
	EXPECT_EQ(-EDQUOT, mem_create(self->fd, self->page + 1, &b));
	EXPECT_EQ(0, mem_create(self->fd, self->page, &b));
	EXPECT_EQ(-EDQUOT, mem_create(self->fd, 1, &b));
	ASSERT_EQ(1, kd_t_dispose(self->fd, a));
	EXPECT_EQ(0, mem_create(self->fd, 2 * self->page, &a));
}

/* The quota is per file: another file has its own. */
TEST_F(memory, quota_per_file)
{
	int fd2 = kd_t_open();
	__u64 a, b;

	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, kd_t_param_set_u64(&self->max_bytes, "max_bytes",
					2 * self->page));
	ASSERT_EQ(0, mem_create(self->fd, 2 * self->page, &a));
	EXPECT_EQ(0, mem_create(fd2, 2 * self->page, &b));
	EXPECT_EQ(0, close(fd2));
}

TEST_F(memory, read_beyond_end_einval)
{
	char buf[16];
	__u64 h;

	ASSERT_EQ(0, mem_create(self->fd, 100, &h));
	EXPECT_EQ(-EINVAL, mem_read(self->fd, h, 90, 11, buf));
	EXPECT_EQ(-EINVAL, mem_read(self->fd, h, 101, 0, buf));
	EXPECT_EQ(0, mem_read(self->fd, h, 90, 10, buf));
}

TEST_F(memory, write_beyond_end_einval)
{
	char buf[16] = "0123456789abcdef", out[16];
	__u64 h;

	ASSERT_EQ(0, mem_create(self->fd, 100, &h));
	EXPECT_EQ(-EINVAL, mem_write(self->fd, h, 90, 11, buf));
	ASSERT_EQ(0, mem_read(self->fd, h, 84, 16, out));
	EXPECT_EQ(0, memcmp(out, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16))
		TH_LOG("a refused write changed the buffer");
}

TEST_F(memory, offset_overflow_einval)
{
	char buf[16];
	__u64 h;

	ASSERT_EQ(0, mem_create(self->fd, 100, &h));
	EXPECT_EQ(-EINVAL, mem_read(self->fd, h, ~0ULL, 2, buf));
	EXPECT_EQ(-EINVAL, mem_write(self->fd, h, 2, ~0ULL, buf));
}

TEST_F(memory, op_arg3_einval)
{
	__u64 args[4] = { 0, 1, 0, 1 };
	char buf[1];
	__u64 h;

	ASSERT_EQ(0, mem_create(self->fd, 100, &h));
	args[2] = (uintptr_t)buf;
	EXPECT_EQ(-EINVAL, kd_t_op(self->fd, h, KDISPOSE_OP_MEM_READ, args));
	args[3] = 1;
	EXPECT_EQ(-EINVAL, kd_t_op(self->fd, h, KDISPOSE_OP_MEM_WRITE, args));
}

TEST_F(memory, read_to_unmapped_efault)
{
	void *bad = unmapped_page(self->page);
	__u64 h;

	ASSERT_NE(NULL, bad);
	ASSERT_EQ(0, mem_create(self->fd, 100, &h));
	EXPECT_EQ(-EFAULT, mem_read(self->fd, h, 0, 100, bad));
	EXPECT_EQ(-EFAULT, mem_read(self->fd, h, 0, 100, NULL));
}

TEST_F(memory, read_to_readonly_efault)
{
	void *ro = mmap(NULL, self->page, PROT_READ,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	__u64 h;

	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(0, mem_create(self->fd, 100, &h));
	EXPECT_EQ(-EFAULT, mem_read(self->fd, h, 0, 100, ro));
	EXPECT_EQ(0, munmap(ro, self->page));
}

TEST_F(memory, write_from_unmapped_efault_unchanged)
{
	void *bad = unmapped_page(self->page);
	char pattern[100], out[100];
	__u64 h;

	ASSERT_NE(NULL, bad);
	memset(pattern, 'x', sizeof(pattern));
	ASSERT_EQ(0, mem_create(self->fd, 100, &h));
	ASSERT_EQ(0, mem_write(self->fd, h, 0, 100, pattern));
	EXPECT_EQ(-EFAULT, mem_write(self->fd, h, 0, 100, bad));
	ASSERT_EQ(0, mem_read(self->fd, h, 0, 100, out));
	EXPECT_EQ(0, memcmp(pattern, out, sizeof(out)));
}

/*
 * A source that faults half way: the pages before the fault are copied,
 * the rest of the range is left as it was (not zeroed).
 */
TEST_F(memory, write_partial_fault_copies_prefix)
{
	size_t len = 2 * self->page;
	char *src, *out = malloc(len);
	size_t i;
	__u64 h;

	ASSERT_NE(NULL, out);
	src = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, src);
	ASSERT_EQ(0, munmap(src + self->page, self->page));
	memset(src, 'n', self->page);
	memset(out, 'o', len);
	ASSERT_EQ(0, mem_create(self->fd, len, &h));
	ASSERT_EQ(0, mem_write(self->fd, h, 0, len, out));
	EXPECT_EQ(-EFAULT, mem_write(self->fd, h, 0, len, src));
	ASSERT_EQ(0, mem_read(self->fd, h, 0, len, out));
	for (i = 0; i < len; i++)
		ASSERT_EQ(i < (size_t)self->page ? 'n' : 'o', out[i])
			TH_LOG("byte %zu", i);
	EXPECT_EQ(0, munmap(src, self->page));
	free(out);
}

TEST_F(memory, ops_after_dispose_eidrm)
{
	char buf[8] = "";
	__u64 h;

	ASSERT_EQ(0, mem_create(self->fd, 100, &h));
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	EXPECT_EQ(-EIDRM, mem_read(self->fd, h, 0, 8, buf));
	EXPECT_EQ(-EIDRM, mem_write(self->fd, h, 0, 8, buf));
}

TEST_F(memory, op_unknown_eopnotsupp)
{
	__u64 args[4] = { 0 };
	__u64 h;

	ASSERT_EQ(0, mem_create(self->fd, 100, &h));
	EXPECT_EQ(-EOPNOTSUPP, kd_t_op(self->fd, h, 0x0203, args));
	EXPECT_EQ(-EOPNOTSUPP, kd_t_op(self->fd, h, KDISPOSE_OP_EVENT_SIGNAL,
				       args));
}

TEST_F(memory, mmap_shares_with_ops)
{
	char *map, buf[6];
	__u64 h;

	ASSERT_EQ(0, mem_create(self->fd, 2 * self->page, &h));
	map = mem_map(self->fd, h, 2 * self->page);
	ASSERT_NE(MAP_FAILED, map);
	memcpy(map + self->page - 2, "hello", 6);
	ASSERT_EQ(0, mem_read(self->fd, h, self->page - 2, 6, buf));
	EXPECT_STREQ("hello", buf);
	ASSERT_EQ(0, mem_write(self->fd, h, 10, 6, "world"));
	EXPECT_STREQ("world", map + 10);
	EXPECT_EQ(0, munmap(map, 2 * self->page));
}

TEST_F(memory, mmap_state_mapped)
{
	void *map;
	__u64 h;

	ASSERT_EQ(0, mem_create(self->fd, self->page, &h));
	EXPECT_EQ(0, mem_state(self->fd, h));
	map = mem_map(self->fd, h, self->page);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(KDISPOSE_STATE_MAPPED, mem_state(self->fd, h));
	ASSERT_EQ(0, munmap(map, self->page));
	EXPECT_EQ(0, mem_state(self->fd, h));
}

/* A mapping shorter than the buffer is fine. */
TEST_F(memory, mmap_prefix)
{
	char *map;
	__u64 h;

	ASSERT_EQ(0, mem_create(self->fd, 4 * self->page, &h));
	ASSERT_EQ(0, mem_write(self->fd, h, 0, 4, "abc"));
	map = mem_map(self->fd, h, self->page);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_STREQ("abc", map);
	EXPECT_EQ(0, munmap(map, self->page));
}

TEST_F(memory, mmap_beyond_size_einval)
{
	__u64 h;

	ASSERT_EQ(0, mem_create(self->fd, self->page + 1, &h));
	EXPECT_EQ(MAP_FAILED, mem_map(self->fd, h, 3 * self->page));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, mem_state(self->fd, h));
}

TEST_F(memory, mmap_private_einval)
{
	void *map;
	__u64 h;

	ASSERT_EQ(0, mem_create(self->fd, self->page, &h));
	map = mmap(NULL, self->page, PROT_READ, MAP_PRIVATE, self->fd,
		   mem_offset(self->fd, h));
	EXPECT_EQ(MAP_FAILED, map);
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(memory, mmap_unknown_offset_einval)
{
	void *map;
	__u64 h, t;

	ASSERT_EQ(0, mem_create(self->fd, self->page, &h));
	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &t));
	/* The token's seq is not a mappable object. */
	map = mmap(NULL, self->page, PROT_READ, MAP_SHARED, self->fd,
		   kd_t_handle_seq(t) * self->page);
	EXPECT_EQ(MAP_FAILED, map);
	EXPECT_EQ(EINVAL, errno);
	map = mmap(NULL, self->page, PROT_READ, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, map);
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(memory, mmap_after_dispose_einval)
{
	off_t off;
	void *map;
	__u64 h;

	ASSERT_EQ(0, mem_create(self->fd, self->page, &h));
	off = mem_offset(self->fd, h);
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	map = mmap(NULL, self->page, PROT_READ, MAP_SHARED, self->fd, off);
	EXPECT_EQ(MAP_FAILED, map);
	EXPECT_EQ(EINVAL, errno);
}

/* An mremap that would grow the mapping is refused (VM_DONTEXPAND). */
TEST_F(memory, mremap_grow_fails)
{
	void *map, *grown;
	__u64 h;

	ASSERT_EQ(0, mem_create(self->fd, 2 * self->page, &h));
	map = mem_map(self->fd, h, self->page);
	ASSERT_NE(MAP_FAILED, map);
	grown = mremap(map, self->page, 2 * self->page, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, grown);
	EXPECT_EQ(0, munmap(map, self->page));
}

/*
 * The handle goes at once, the mapping stays valid, the pages (and the
 * quota) are released at the munmap.
 */
TEST_F(memory, dispose_while_mapped)
{
	struct kd_t_counters before, mid, after;
	char *map, buf[4];
	__u64 h, v;

	ASSERT_EQ(0, mem_create(self->fd, 2 * self->page, &h));
	map = mem_map(self->fd, h, 2 * self->page);
	ASSERT_NE(MAP_FAILED, map);
	memcpy(map, "abc", 4);
	KD_T_ASSERT_COUNTERS(before);

	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	KD_T_ASSERT_COUNTERS(mid);
	KD_T_EXPECT_DELTA(&before, &mid, KDISPOSE_TYPE_MEMORY,
			  .disposed = 1, .live = -1);
	EXPECT_EQ(-EIDRM, mem_read(self->fd, h, 0, 4, buf));
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_bytes", &v));
	EXPECT_EQ(2 * self->page, v);
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_live_memory", &v));
	EXPECT_EQ(0, v);

	/* Still the same pages, still writable. */
	EXPECT_STREQ("abc", map);
	map[2 * self->page - 1] = 'z';
	EXPECT_EQ('z', map[2 * self->page - 1]);

	ASSERT_EQ(0, munmap(map, 2 * self->page));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_MEMORY,
			  .disposed = 1, .live = -1, .released = 1);
	ASSERT_EQ(0, kd_t_fdinfo(self->fd, "kdispose_bytes", &v));
	EXPECT_EQ(0, v);
}

/*
 * Closing the fd while a mapping exists does not run the finalizer: the
 * mapping holds the file. The munmap does, and the buffer is finalized.
 */
TEST_F(memory, close_while_mapped_finalizes_at_munmap)
{
	struct kd_t_counters before, mid, after;
	char *map;
	__u64 h;

	ASSERT_EQ(0, mem_create(self->fd, self->page, &h));
	map = mem_map(self->fd, h, self->page);
	ASSERT_NE(MAP_FAILED, map);
	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	KD_T_ASSERT_COUNTERS(mid);
	/* Nothing moved: the buffer is still live in the table. */
	KD_T_EXPECT_DELTA(&before, &mid, KDISPOSE_TYPE_MEMORY, .live = 0);
	map[0] = 1;
	ASSERT_EQ(0, munmap(map, self->page));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_MEMORY,
			  .finalized = 1, .live = -1, .released = 1);
}

/*
 * munmap of the middle page splits the vma in two; each part holds the
 * buffer until it goes.
 */
TEST_F(memory, split_mapping)
{
	struct kd_t_counters before, mid, after;
	char *map;
	__u64 h;

	ASSERT_EQ(0, mem_create(self->fd, 3 * self->page, &h));
	map = mem_map(self->fd, h, 3 * self->page);
	ASSERT_NE(MAP_FAILED, map);
	map[0] = 'a';
	map[2 * self->page] = 'c';
	ASSERT_EQ(0, munmap(map + self->page, self->page));
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(0, munmap(map, self->page));
	KD_T_ASSERT_COUNTERS(mid);
	KD_T_EXPECT_DELTA(&before, &mid, KDISPOSE_TYPE_MEMORY, .released = 0);
	EXPECT_EQ('c', map[2 * self->page]);
	ASSERT_EQ(0, munmap(map + 2 * self->page, self->page));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_MEMORY,
			  .released = 1);
}

/* A moved mapping keeps the buffer: the new vma took over. */
TEST_F(memory, mremap_move_keeps_buffer)
{
	struct kd_t_counters before, after;
	char *map, *moved, *dest;
	__u64 h;

	ASSERT_EQ(0, mem_create(self->fd, self->page, &h));
	map = mem_map(self->fd, h, self->page);
	ASSERT_NE(MAP_FAILED, map);
	map[0] = 'm';
	dest = mmap(NULL, self->page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	ASSERT_NE(MAP_FAILED, dest);
	moved = mremap(map, self->page, self->page,
		       MREMAP_MAYMOVE | MREMAP_FIXED, dest);
	ASSERT_EQ(dest, moved);
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	EXPECT_EQ('m', moved[0]);
	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(0, munmap(moved, self->page));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_MEMORY,
			  .released = 1);
}

/*
 * A forked child inherits the mapping: it sees the parent's writes, the
 * parent sees its writes, and the buffer outlives the parent's dispose and
 * munmap until the child exits.
 */
TEST_F(memory, fork_child_keeps_mapping)
{
	struct kd_t_counters before, after;
	int go[2], status;
	char *map;
	pid_t pid;
	__u64 h;

	ASSERT_EQ(0, mem_create(self->fd, self->page, &h));
	map = mem_map(self->fd, h, self->page);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, pipe(go));
	strcpy(map, "parent");

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char c;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(go[1]);
		close(self->fd);
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		/* The parent disposed the buffer and unmapped its view. */
		if (strcmp(map, "parent"))
			_exit(3);
		strcpy(map, "child");
		_exit(0);
	}
	close(go[0]);
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	ASSERT_EQ(0, munmap(map, self->page));
	KD_T_ASSERT_COUNTERS(before);
	EXPECT_EQ(1, write(go[1], "g", 1));
	close(go[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_MEMORY,
			  .released = 1);
}

/* The child writes through its inherited mapping; the parent sees it. */
TEST_F(memory, fork_child_writes_shared)
{
	int status;
	char *map;
	pid_t pid;
	__u64 h;

	ASSERT_EQ(0, mem_create(self->fd, self->page, &h));
	map = mem_map(self->fd, h, self->page);
	ASSERT_NE(MAP_FAILED, map);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		strcpy(map, "from child");
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	EXPECT_STREQ("from child", map);
	EXPECT_EQ(0, munmap(map, self->page));
}

/*
 * A child that holds the only mapping and the only fd exits: its exit
 * unmaps, closes, finalizes the buffer and frees it.
 */
TEST_F(memory, exit_with_mapping_finalizes)
{
	struct kd_t_counters before, after;
	int status;
	pid_t pid;

	KD_T_ASSERT_COUNTERS(before);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = kd_t_open();
		char *map;
		__u64 h;

		if (fd < 0 || mem_create(fd, 4 * self->page, &h))
			_exit(2);
		map = mem_map(fd, h, 4 * self->page);
		if (map == MAP_FAILED)
			_exit(3);
		memset(map, 1, 4 * self->page);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_MEMORY,
			  .created = 1, .finalized = 1, .released = 1);
}

/* The mapper's half of the race: map, touch, unmap until mmap fails. */
struct mapper {
	int fd;
	off_t offset;
	long page;
	int maps;	/* successful mappings */
	int err;	/* errno of the failed mmap */
};

static void *mapper_main(void *arg)
{
	struct mapper *m = arg;
	char *map;

	for (;;) {
		map = mmap(NULL, 2 * m->page, PROT_READ | PROT_WRITE,
			   MAP_SHARED, m->fd, m->offset);
		if (map == MAP_FAILED) {
			m->err = errno;
			return NULL;
		}
		map[0]++;
		map[m->page]++;
		munmap(map, 2 * m->page);
		m->maps++;
	}
}

/*
 * A thread maps, touches and unmaps a buffer in a loop while the main
 * thread disposes it: the mapper stops with EINVAL, and every buffer is
 * released exactly once, after its last munmap.
 */
TEST_F(memory, race_mmap_dispose)
{
	struct kd_t_counters before, after;
	struct mapper m;
	pthread_t thread;
	int round, maps = 0;
	__u64 h;

	KD_T_ASSERT_COUNTERS(before);
	for (round = 0; round < RACE_ROUNDS; round++) {
		ASSERT_EQ(0, mem_create(self->fd, 2 * self->page, &h));
		memset(&m, 0, sizeof(m));
		m.fd = self->fd;
		m.offset = mem_offset(self->fd, h);
		m.page = self->page;
		ASSERT_EQ(0, pthread_create(&thread, NULL, mapper_main, &m));
		usleep(round % 10 * 100);
		ASSERT_EQ(1, kd_t_dispose(self->fd, h));
		ASSERT_EQ(0, pthread_join(thread, NULL));
		ASSERT_EQ(EINVAL, m.err) TH_LOG("round %d", round);
		maps += m.maps;
	}
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_MEMORY,
			  .created = RACE_ROUNDS, .disposed = RACE_ROUNDS,
			  .released = RACE_ROUNDS);
	TH_LOG("%d mappings in %d rounds", maps, RACE_ROUNDS);
}

/*
 * The mapping after vma surgery: a split (munmap or mprotect of a range, an
 * mremap that shrinks or moves a part), a move or a fork leaves vmas whose
 * vm_pgoff is not the buffer's base, and each must still show, at every
 * address, the buffer's page at that address's own offset. Each buffer page
 * is filled with one tag byte (vma_tag()), so a page that shows another
 * page's bytes names that page. The setup fills the buffer through
 * KDISPOSE_OP_MEM_WRITE and maps it without touching it, so that every
 * page is first faulted in after the surgery.
 */
#define VMA_PAGES	8

FIXTURE(memory_vma)
{
	KD_T_DEV_MEMBERS;
	long page;			/* the page size */
	__u64 h;			/* a VMA_PAGES-page buffer */
	char *map;	/* its whole mapping, NULL once moved away whole */
	char *dest;	/* where a test moved (part of) it, or NULL */
	size_t dest_len;		/* the length mapped at @dest */
};

/* The byte page @i of the buffer holds after @gen rounds of writes. */
static unsigned char vma_tag(int gen, unsigned int i)
{
	return 0x80 | gen << 4 | i;
}

/* The byte all @len bytes at @p hold, or -1 if they are not all equal. */
static int vma_page_tag(const unsigned char *p, long len)
{
	long i;

	for (i = 1; i < len; i++)
		if (p[i] != p[0])
			return -1;
	return p[0];
}

/* Writes generation 1 through the @n pages at @view: buffer pages @first... */
static void vma_write_view(char *view, long page, unsigned int first,
			   unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		memset(view + i * page, vma_tag(1, first + i), page);
}

/*
 * The @n pages at @view must be the buffer's pages @first.. of generation
 * @gen; the first one that is not is named by the page whose tag it holds.
 */
#define VMA_EXPECT_VIEW(view, first, n, gen) do {			\
	const unsigned char *__view = (const unsigned char *)(view);	\
	unsigned int __first = (first), __i;				\
	int __gen = (gen);						\
									\
	for (__i = 0; __i < (n); __i++) {				\
		const unsigned char *__p = __view + __i * self->page;	\
		int __tag = vma_page_tag(__p, self->page);		\
									\
		if (__tag == vma_tag(__gen, __first + __i))		\
			continue;					\
		EXPECT_EQ(vma_tag(__gen, __first + __i), __tag)		\
			TH_LOG("mapped page %u (gen %d) shows %s %d (gen %d)", \
			       __first + __i, __gen,			\
			       __tag < 0 ? "mixed bytes, first of" : "page", \
			       __p[0] & 0xf, __p[0] >> 4 & 7);		\
		break;							\
	}								\
} while (0)

/*
 * Every page of the buffer, read through KDISPOSE_OP_MEM_READ, must be of
 * generation 1 if bit i of @written is set (written through the mapping),
 * else of generation 0 (as the setup left it).
 */
#define VMA_EXPECT_BUFFER(written) do {					\
	unsigned char __buf[self->page];				\
	unsigned int __i;						\
									\
	for (__i = 0; __i < VMA_PAGES; __i++) {				\
		int __gen = (written) >> __i & 1;			\
		int __tag;						\
									\
		ASSERT_EQ(0, mem_read(self->fd, self->h, __i * self->page, \
				      self->page, __buf));		\
		__tag = vma_page_tag(__buf, self->page);		\
		EXPECT_EQ(vma_tag(__gen, __i), __tag)			\
			TH_LOG("buffer page %u (gen %d) holds %s %d (gen %d)", \
			       __i, __gen,				\
			       __tag < 0 ? "mixed bytes, first of" : "page", \
			       __buf[0] & 0xf, __buf[0] >> 4 & 7);	\
	}								\
} while (0)

FIXTURE_SETUP(memory_vma)
{
	unsigned char *buf;
	unsigned int i;

	self->page = sysconf(_SC_PAGESIZE);
	KD_T_DEV_SETUP(self);
	ASSERT_EQ(0, mem_create(self->fd, VMA_PAGES * self->page, &self->h));
	buf = malloc(self->page);
	ASSERT_NE(NULL, buf);
	for (i = 0; i < VMA_PAGES; i++) {
		memset(buf, vma_tag(0, i), self->page);
		ASSERT_EQ(0, mem_write(self->fd, self->h, i * self->page,
				       self->page, buf));
	}
	free(buf);
	self->map = mem_map(self->fd, self->h, VMA_PAGES * self->page);
	ASSERT_NE(MAP_FAILED, self->map);
}

/* No ASSERT here: a failing ASSERT in teardown would re-enter teardown. */
FIXTURE_TEARDOWN(memory_vma)
{
	/* munmap() of a range with holes unmaps what is left of it. */
	if (self->map)
		EXPECT_EQ(0, munmap(self->map, VMA_PAGES * self->page));
	if (self->dest)
		EXPECT_EQ(0, munmap(self->dest, self->dest_len));
	KD_T_DEV_TEARDOWN(self, KDISPOSE_TYPE_MEMORY, 0);
}

/* @len bytes of address space, reserved for the target of an mremap. */
static char *vma_reserve(size_t len)
{
	char *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* The bug report's case: without page 0, page 1 showed page 0's bytes. */
TEST_F(memory_vma, munmap_head)
{
	ASSERT_EQ(0, munmap(self->map, 2 * self->page));
	VMA_EXPECT_VIEW(self->map + 2 * self->page, 2, 6, 0);
	vma_write_view(self->map + 2 * self->page, self->page, 2, 6);
	VMA_EXPECT_BUFFER(0xfc);
}

TEST_F(memory_vma, munmap_middle)
{
	ASSERT_EQ(0, munmap(self->map + 3 * self->page, 2 * self->page));
	VMA_EXPECT_VIEW(self->map, 0, 3, 0);
	VMA_EXPECT_VIEW(self->map + 5 * self->page, 5, 3, 0);
	vma_write_view(self->map, self->page, 0, 3);
	vma_write_view(self->map + 5 * self->page, self->page, 5, 3);
	VMA_EXPECT_BUFFER(0xe7);
}

TEST_F(memory_vma, munmap_tail)
{
	ASSERT_EQ(0, munmap(self->map + 5 * self->page, 3 * self->page));
	VMA_EXPECT_VIEW(self->map, 0, 5, 0);
	vma_write_view(self->map, self->page, 0, 5);
	VMA_EXPECT_BUFFER(0x1f);
}

/* mprotect of pages 3-4 splits the mapping into three vmas. */
TEST_F(memory_vma, mprotect_middle)
{
	ASSERT_EQ(0, mprotect(self->map + 3 * self->page, 2 * self->page,
			      PROT_READ));
	VMA_EXPECT_VIEW(self->map, 0, VMA_PAGES, 0);
	vma_write_view(self->map, self->page, 0, 3);
	vma_write_view(self->map + 5 * self->page, self->page, 5, 3);
	VMA_EXPECT_BUFFER(0xe7);
}

/* The same three vmas, then the first one goes: two split parts remain. */
TEST_F(memory_vma, mprotect_middle_munmap_head)
{
	ASSERT_EQ(0, mprotect(self->map + 3 * self->page, 2 * self->page,
			      PROT_READ));
	ASSERT_EQ(0, munmap(self->map, 3 * self->page));
	VMA_EXPECT_VIEW(self->map + 3 * self->page, 3, 5, 0);
	vma_write_view(self->map + 5 * self->page, self->page, 5, 3);
	VMA_EXPECT_BUFFER(0xe0);
}

/* Shrinking the whole mapping in place keeps its first pages. */
TEST_F(memory_vma, mremap_shrink)
{
	char *map;

	map = mremap(self->map, VMA_PAGES * self->page, 5 * self->page, 0);
	ASSERT_EQ(self->map, map);
	VMA_EXPECT_VIEW(self->map, 0, 5, 0);
	vma_write_view(self->map, self->page, 0, 5);
	VMA_EXPECT_BUFFER(0x1f);
}

/* Shrinking pages 2-3 to one page unmaps page 3 and splits the mapping. */
TEST_F(memory_vma, mremap_shrink_middle)
{
	char *map;

	map = mremap(self->map + 2 * self->page, 2 * self->page, self->page,
		     0);
	ASSERT_EQ(self->map + 2 * self->page, map);
	VMA_EXPECT_VIEW(self->map, 0, 3, 0);
	VMA_EXPECT_VIEW(self->map + 4 * self->page, 4, 4, 0);
	vma_write_view(self->map, self->page, 0, 3);
	vma_write_view(self->map + 4 * self->page, self->page, 4, 4);
	VMA_EXPECT_BUFFER(0xf7);
}

TEST_F(memory_vma, mremap_move_whole)
{
	size_t len = VMA_PAGES * self->page;
	char *dest = vma_reserve(len), *moved;

	ASSERT_NE(NULL, dest);
	self->dest = dest;
	self->dest_len = len;
	moved = mremap(self->map, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
		       dest);
	ASSERT_EQ(dest, moved);
	self->map = NULL;
	VMA_EXPECT_VIEW(dest, 0, VMA_PAGES, 0);
	vma_write_view(dest, self->page, 0, VMA_PAGES);
	VMA_EXPECT_BUFFER(0xff);
}

/* Moving pages 4-7 away: the part left and the part moved both hold. */
TEST_F(memory_vma, mremap_move_tail)
{
	size_t len = 4 * self->page;
	char *dest = vma_reserve(len), *moved;

	ASSERT_NE(NULL, dest);
	self->dest = dest;
	self->dest_len = len;
	moved = mremap(self->map + 4 * self->page, len, len,
		       MREMAP_MAYMOVE | MREMAP_FIXED, dest);
	ASSERT_EQ(dest, moved);
	VMA_EXPECT_VIEW(self->map, 0, 4, 0);
	VMA_EXPECT_VIEW(dest, 4, 4, 0);
	vma_write_view(self->map + self->page, self->page, 1, 1);
	vma_write_view(dest + 2 * self->page, self->page, 6, 2);
	VMA_EXPECT_BUFFER(0xc2);
}

/*
 * The child checks a view of @n pages, buffer pages @first..., of
 * generation 0 and exits with 10 + the first wrong page, if one is.
 */
static void vma_child_check(const char *view, long page, unsigned int first,
			    unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (vma_page_tag((const unsigned char *)view + i * page,
				 page) != vma_tag(0, first + i))
			_exit(10 + first + i);
}

/*
 * A child forked after the parent split the mapping faults every page in
 * afresh (fork copies no page tables of a shared mapping): it sees each
 * page at its offset, and its write reaches the parent's view and the
 * buffer at the right page.
 */
TEST_F(memory_vma, fork_after_split)
{
	int status;
	pid_t pid;

	ASSERT_EQ(0, munmap(self->map + 2 * self->page, self->page));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		vma_child_check(self->map, self->page, 0, 2);
		vma_child_check(self->map + 3 * self->page, self->page, 3, 5);
		vma_write_view(self->map + 5 * self->page, self->page, 5, 1);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("the child saw the wrong bytes at page %d",
		       WEXITSTATUS(status) - 10);
	VMA_EXPECT_VIEW(self->map, 0, 2, 0);
	VMA_EXPECT_VIEW(self->map + 3 * self->page, 3, 2, 0);
	VMA_EXPECT_VIEW(self->map + 5 * self->page, 5, 1, 1);
	VMA_EXPECT_VIEW(self->map + 6 * self->page, 6, 2, 0);
	VMA_EXPECT_BUFFER(0x20);
}

/*
 * Writes, the first touch of the pages, through the part after a split
 * land in the buffer at that part's offsets, not over its first pages.
 */
TEST_F(memory_vma, split_tail_writes_land)
{
	ASSERT_EQ(0, munmap(self->map + 3 * self->page, self->page));
	vma_write_view(self->map + 4 * self->page, self->page, 4, 4);
	VMA_EXPECT_BUFFER(0xf0);
	VMA_EXPECT_VIEW(self->map, 0, 3, 0);
}

TEST_HARNESS_MAIN
