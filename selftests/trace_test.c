// SPDX-License-Identifier: GPL-2.0
/*
 * The kdispose tracepoints: one create / dispose / finalize sequence must
 * produce exactly the expected events, in order, with the right fields.
 * Events are filtered on the fd owner (this process) so that nothing else
 * running in the VM can add lines.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kdispose_test.h"
#include "kselftest_harness.h"

/*
 * Collect the kdispose lines of the trace buffer into @out, each reduced to
 * "event: fields" (the task, cpu and timestamp columns dropped).
 */
static int trace_collect(char out[][256], int max)
{
	static char buf[1 << 16];
	char *line, *save, *ev;
	int n = 0, len;

	len = kd_t_read_file(KD_T_TRACEFS "trace", buf, sizeof(buf));
	if (len < 0)
		return len;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		ev = strstr(line, " kdispose_");
		if (!ev || n == max)
			continue;
		snprintf(out[n++], 256, "%s", ev + 1);
	}
	return n;
}

static void handle_str(char *buf, size_t size, __u64 handle)
{
	snprintf(buf, size, "handle=%#llx ", (unsigned long long)handle);
}

FIXTURE(trace) {
	int fd;			/* /dev/kdispose, opened after tracing starts */
	char lines[32][256];	/* the events, as trace_collect() gives them */
};

FIXTURE_SETUP(trace)
{
	char filter[64];

	if (access(KD_T_TRACEFS "events/kdispose", F_OK))
		SKIP(return, "no tracefs or no kdispose events (CONFIG_TRACING off?)");
	snprintf(filter, sizeof(filter), "owner == %d", getpid());
	ASSERT_EQ(0, kd_t_trace_enable("events/kdispose/", false));
	ASSERT_EQ(0, kd_t_trace_write("trace", ""));
	ASSERT_EQ(0, kd_t_trace_write("events/kdispose/filter", filter));
	ASSERT_EQ(0, kd_t_trace_enable("events/kdispose/", true));
	self->fd = kd_t_open();
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(trace)
{
	if (access(KD_T_TRACEFS "events/kdispose", F_OK))
		return;
	EXPECT_EQ(0, kd_t_trace_enable("events/kdispose/", false));
	EXPECT_EQ(0, kd_t_trace_write("events/kdispose/filter", "0"));
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * Check that @line is event @ev for @handle and contains each string of the
 * NULL-terminated @want. Return: NULL, or what is missing.
 */
static const char *event_mismatch(const char *line, const char *ev,
				  __u64 handle, const char *const *want)
{
	static char missing[64];

	snprintf(missing, sizeof(missing), "%s:", ev);
	if (strncmp(line, missing, strlen(missing)))
		return missing;
	handle_str(missing, sizeof(missing), handle);
	if (!strstr(line, missing))
		return missing;
	for (; *want; want++)
		if (!strstr(line, *want))
			return *want;
	return NULL;
}

#define EXPECT_EVENT(line, ev, handle, ...) do {			\
	const char *const _want[] = { __VA_ARGS__, NULL };		\
									\
	EXPECT_EQ(NULL, event_mismatch(line, ev, handle, _want))	\
		TH_LOG("in: %s", line);					\
} while (0)

TEST_F(trace, create_dispose_finalize_sequence)
{
	__u64 a, b;
	int n;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, "trc-a", &a));
	ASSERT_EQ(0, kd_t_create(self->fd, KDISPOSE_TYPE_GROUP, 0, 0, 0,
				 "trc-b", &b));
	ASSERT_EQ(1, kd_t_dispose(self->fd, a));
	ASSERT_EQ(0, kd_t_dispose(self->fd, a));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;

	n = trace_collect(self->lines, ARRAY_SIZE(self->lines));
	ASSERT_EQ(7, n) {
		int i;

		for (i = 0; i < n; i++)
			TH_LOG("%s", self->lines[i]);
	}
	EXPECT_EVENT(self->lines[0], "kdispose_create", a,
		     "kind=token", "label=\"trc-a\"");
	EXPECT_EVENT(self->lines[1], "kdispose_create", b,
		     "kind=group", "label=\"trc-b\"");
	EXPECT_EVENT(self->lines[2], "kdispose_dispose", a,
		     "kind=token", "via=ioctl", "won=1");
	EXPECT_EVENT(self->lines[3], "kdispose_release", a, "deferred=0");
	EXPECT_EVENT(self->lines[4], "kdispose_dispose", a,
		     "kind=none", "via=ioctl", "won=0");
	EXPECT_EVENT(self->lines[5], "kdispose_finalize", b,
		     "kind=group", "label=\"trc-b\"");
	EXPECT_EVENT(self->lines[6], "kdispose_release", b, "deferred=0");
}

TEST_F(trace, cascade_traces_children_first)
{
	__u64 parent, child;
	int n;

	ASSERT_EQ(0, kd_t_create(self->fd, KDISPOSE_TYPE_GROUP, 0, 0, 0,
				 "parent", &parent));
	ASSERT_EQ(0, kd_t_token(self->fd, parent, 2, "child", &child));
	ASSERT_EQ(1, kd_t_dispose(self->fd, parent));

	n = trace_collect(self->lines, ARRAY_SIZE(self->lines));
	ASSERT_EQ(6, n);
	EXPECT_EVENT(self->lines[2], "kdispose_dispose", child, "won=1");
	EXPECT_EVENT(self->lines[3], "kdispose_release", child, "deferred=0");
	EXPECT_EVENT(self->lines[4], "kdispose_dispose", parent, "won=1");
	EXPECT_EVENT(self->lines[5], "kdispose_release", parent, "deferred=0");
}

TEST_F(trace, batch_names_its_entry_point)
{
	__s32 result;
	__u64 h;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 3, "batched", &h));
	ASSERT_EQ(0, kd_t_dispose_batch(self->fd, &h, &result, 1, NULL));
	ASSERT_EQ(1, result);

	ASSERT_EQ(3, trace_collect(self->lines, ARRAY_SIZE(self->lines)));
	EXPECT_EVENT(self->lines[1], "kdispose_dispose", h, "via=batch",
		     "won=1");
}

/*
 * A dispose while a mapping holds a memory buffer: the release happens at
 * munmap(), and is traced as deferred.
 */
TEST_F(trace, release_at_munmap_is_deferred)
{
	struct kdispose_query q;
	void *map;
	__u64 h;

	ASSERT_EQ(0, kd_t_create(self->fd, KDISPOSE_TYPE_MEMORY, 0, 4096, 0,
				 "mapped", &h));
	ASSERT_EQ(0, kd_t_query(self->fd, h, &q));
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd,
		   q.info[1]);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	/* create, dispose, and the end of the buffer's only name */
	ASSERT_EQ(3, trace_collect(self->lines, ARRAY_SIZE(self->lines)));
	ASSERT_EQ(0, munmap(map, 4096));

	ASSERT_EQ(4, trace_collect(self->lines, ARRAY_SIZE(self->lines)));
	EXPECT_EVENT(self->lines[1], "kdispose_dispose", h, "won=1");
	EXPECT_EQ(0, strncmp(self->lines[2], "kdispose_share_end: owner=", 26))
		TH_LOG("in: %s", self->lines[2]);
	EXPECT_NE(NULL, strstr(self->lines[2], "kind=memory disposing=1"))
		TH_LOG("in: %s", self->lines[2]);
	EXPECT_EVENT(self->lines[3], "kdispose_release", h, "deferred=1");
}

TEST_HARNESS_MAIN
