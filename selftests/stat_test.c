// SPDX-License-Identifier: GPL-2.0
/*
 * kdispose-stat against live objects of several processes: each child
 * holds a known set of objects, and the tool must list each child's fd with
 * exactly those counts, in the table and in --json. The tool is the
 * kdispose-stat binary next to this program.
 */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kdispose_test.h"
#include "kselftest_harness.h"

#define NCHILDREN 2

/*
 * Run kdispose-stat with @args into @out. Return: its exit status, or -1
 * when it could not be run.
 */
static int run_stat(const char *args, char *out, size_t size)
{
	char exe[PATH_MAX], cmd[PATH_MAX + 128];
	size_t len = 0;
	ssize_t n;
	FILE *p;
	int status;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -1;
	exe[n] = '\0';
	snprintf(cmd, sizeof(cmd), "%s/kdispose-stat %s 2>&1", dirname(exe),
		 args);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (len < size - 1 && (n = fread(out + len, 1, size - 1 - len, p)) > 0)
		len += n;
	out[len] = '\0';
	status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

FIXTURE(stat) {
	pid_t pids[NCHILDREN];	/* children holding objects until killed */
};

/*
 * Child i holds 1 + i tokens, one group and, for i == 1, a 4096-byte memory
 * buffer; it disposes one extra token so that its disposed count is 1.
 */
static void child_hold(int i, int ready)
{
	__u64 h;
	int fd, k;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	fd = kd_t_open();
	if (fd < 0)
		_exit(1);
	for (k = 0; k < 1 + i; k++)
		if (kd_t_token(fd, 0, k, "held", &h))
			_exit(1);
	if (kd_t_create(fd, KDISPOSE_TYPE_GROUP, 0, 0, 0, "grp", &h))
		_exit(1);
	if (i == 1 && kd_t_create(fd, KDISPOSE_TYPE_MEMORY, 0, 4096, 0,
				  "buf", &h))
		_exit(1);
	if (kd_t_token(fd, 0, 0, "gone", &h) || kd_t_dispose(fd, h) != 1)
		_exit(1);
	if (write(ready, "x", 1) != 1)
		_exit(1);
	pause();
	_exit(0);
}

FIXTURE_SETUP(stat)
{
	int pipefd[2], i;
	char c;

	ASSERT_EQ(0, pipe(pipefd));
	for (i = 0; i < NCHILDREN; i++) {
		self->pids[i] = fork();
		ASSERT_LE(0, self->pids[i]);
		if (self->pids[i] == 0) {
			close(pipefd[0]);
			child_hold(i, pipefd[1]);
		}
	}
	close(pipefd[1]);
	for (i = 0; i < NCHILDREN; i++)
		ASSERT_EQ(1, read(pipefd[0], &c, 1));
	close(pipefd[0]);
}

FIXTURE_TEARDOWN(stat)
{
	int i;

	for (i = 0; i < NCHILDREN; i++) {
		if (self->pids[i] <= 0)
			continue;
		kill(self->pids[i], SIGKILL);
		EXPECT_EQ(self->pids[i], waitpid(self->pids[i], NULL, 0));
	}
}

/* Find the table row of @pid in @out. Return: the row, or NULL. */
static const char *row_of(const char *out, pid_t pid)
{
	const char *line;

	for (line = out; line; line = strchr(line, '\n')) {
		int p;

		line += *line == '\n';
		if (sscanf(line, "%d", &p) == 1 && p == pid)
			return line;
	}
	return NULL;
}

/*
 * The number in @row's column named @name in the table's header (its first
 * line): the columns of the kinds are those the module lists, whatever
 * they are. Return: the number, or -1 when there is no such column.
 */
static long long column(const char *out, const char *row, const char *name)
{
	char header[512], line[512], *tok, *save, *htok, *hsave;
	int col, want = -1;

	sscanf(out, "%511[^\n]", header);
	sscanf(row, "%511[^\n]", line);
	for (col = 0, htok = strtok_r(header, " ", &hsave); htok;
	     col++, htok = strtok_r(NULL, " ", &hsave))
		if (!strcmp(htok, name))
			want = col;
	if (want < 0)
		return -1;
	for (col = 0, tok = strtok_r(line, " ", &save); tok && col < want;
	     col++, tok = strtok_r(NULL, " ", &save))
		;
	return tok ? strtoll(tok, NULL, 10) : -1;
}

TEST_F(stat, table_lists_each_process)
{
	static char out[1 << 16];
	int i;

	ASSERT_EQ(0, run_stat("", out, sizeof(out))) TH_LOG("%s", out);
	for (i = 0; i < NCHILDREN; i++) {
		const char *row = row_of(out, self->pids[i]);

		ASSERT_NE(NULL, row) TH_LOG("no row for %d in:\n%s",
					    self->pids[i], out);
		EXPECT_EQ(2 + i + (i == 1), column(out, row, "LIVE"));
		EXPECT_EQ(1 + i, column(out, row, "token"));
		EXPECT_EQ(i == 1, column(out, row, "memory"));
		EXPECT_EQ(1, column(out, row, "group"));
		EXPECT_EQ(i == 1 ? 4096 : 0, column(out, row, "BYTES"));
		EXPECT_EQ(1, column(out, row, "DISPOSED"));
	}
	EXPECT_NE(NULL, strstr(out, "MODULE")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\nall ")) TH_LOG("%s", out);
}

TEST_F(stat, json_lists_each_process)
{
	static char out[1 << 16];
	char want[256];
	int i;

	ASSERT_EQ(0, run_stat("--json", out, sizeof(out))) TH_LOG("%s", out);
	ASSERT_EQ('{', out[0]);
	for (i = 0; i < NCHILDREN; i++) {
		snprintf(want, sizeof(want),
			 "{\"pid\":%d,\"comm\":\"stat_test\",", self->pids[i]);
		EXPECT_NE(NULL, strstr(out, want)) TH_LOG("no %s in %s", want,
							  out);
		snprintf(want, sizeof(want),
			 "\"live\":%d,\"kinds\":{\"token\":%d,\"memory\":%d,\"event\":0,\"file\":0,\"group\":1",
			 2 + i + (i == 1), 1 + i, i == 1);
		EXPECT_NE(NULL, strstr(out, want)) TH_LOG("no %s in %s", want,
							  out);
		/* Kinds newer than this test come after "group". */
		snprintf(want, sizeof(want), "},\"bytes\":%d,\"disposed\":1,",
			 i == 1 ? 4096 : 0);
		EXPECT_NE(NULL, strstr(out, want)) TH_LOG("no %s in %s", want,
							  out);
	}
	EXPECT_NE(NULL, strstr(out, "\"module\":{\"all\":{\"created\":"));
}

TEST_F(stat, pid_filter_shows_one_process)
{
	static char out[1 << 16];
	char arg[32];

	snprintf(arg, sizeof(arg), "-p %d", self->pids[1]);
	ASSERT_EQ(0, run_stat(arg, out, sizeof(out))) TH_LOG("%s", out);
	EXPECT_NE(NULL, row_of(out, self->pids[1]));
	EXPECT_EQ(NULL, row_of(out, self->pids[0]));
}

TEST(bad_arguments_exit_2)
{
	char out[4096];

	EXPECT_EQ(2, run_stat("--no-such-option", out, sizeof(out)));
	EXPECT_EQ(2, run_stat("-p 0", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "bad pid")) TH_LOG("%s", out);
}

TEST_HARNESS_MAIN
