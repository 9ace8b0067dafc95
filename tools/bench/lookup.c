// SPDX-License-Identifier: GPL-2.0
/*
 * Row 6: lookup ioctls from two threads on one fd against one thread.
 * Both threads exist in both modes (the idle one waits on a barrier), so
 * the fd lookup costs the same: a multithreaded process takes a file
 * reference in every ioctl.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kdispose.h>

#include "bench.h"

/* Handles each thread looks up in turn. */
#define LOOKUP_SET	64

enum lookup_case { LOOKUP_DISJOINT, LOOKUP_SHARED, LOOKUP_FLOOR, NLOOKUP };

struct lookup {
	int fd;
	unsigned int active;
	enum lookup_case which;
	bool quit;
	uint64_t handles[2][LOOKUP_SET];
	pthread_barrier_t start;
	pthread_barrier_t done;
};

struct lookup_thread {
	struct lookup *l;
	unsigned int index;
	pthread_t tid;
};

static void lookup_run(struct lookup *l, unsigned int index)
{
	unsigned int own = l->which == LOOKUP_DISJOINT ? index : 0;
	const uint64_t *set = l->handles[own];
	struct kdispose_op op = { .op = KDISPOSE_OP_TOKEN_GET };
	unsigned int i;

	for (i = 0; i < cfg->lookups; i++) {
		if (l->which == LOOKUP_FLOOR) {
			if (ioctl(l->fd, KDISPOSE_IOC_VERSION) !=
			    KDISPOSE_ABI_VERSION)
				die("KDISPOSE_IOC_VERSION: %s",
				    strerror(errno));
			continue;
		}
		op.handle = set[i % LOOKUP_SET];
		op.args[0] = 0;
		xioctl(l->fd, KDISPOSE_IOC_OP, &op, "KDISPOSE_OP_TOKEN_GET");
	}
}

static void *lookup_thread_fn(void *arg)
{
	struct lookup_thread *t = arg;
	struct lookup *l = t->l;
	cpu_set_t cpus;

	CPU_ZERO(&cpus);
	CPU_SET(t->index, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		die("sched_setaffinity: %s", strerror(errno));
	for (;;) {
		pthread_barrier_wait(&l->start);
		if (l->quit)
			return NULL;
		if (t->index < l->active)
			lookup_run(l, t->index);
		pthread_barrier_wait(&l->done);
	}
}

/* Wall-clock time of one round with @active threads working. */
static double lookup_round(struct lookup *l, enum lookup_case which,
			   unsigned int active)
{
	uint64_t t0;

	l->which = which;
	l->active = active;
	pthread_barrier_wait(&l->start);
	t0 = now_ns();
	pthread_barrier_wait(&l->done);
	return elapsed(t0);
}

void row_lookup(void)
{
	static const char *const names[NLOOKUP] = {
		[LOOKUP_DISJOINT] = "TOKEN_GET (own handles)",
		[LOOKUP_SHARED] = "TOKEN_GET (shared handles)",
		[LOOKUP_FLOOR] = "ioctl(VERSION) floor",
	};
	double one[NLOOKUP][MAX_ROUNDS], two[NLOOKUP][MAX_ROUNDS];
	double speedup[NLOOKUP];
	struct result *verdict_line = NULL;
	struct lookup_thread threads[2];
	struct lookup l = { .fd = open_kdispose() };
	char name[64];
	struct result *r;
	unsigned int i, round, c;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		skip(6, "2 threads / 1 thread", "needs 2 CPUs");
		close(l.fd);
		return;
	}
	create_tokens(l.fd, l.handles[0], LOOKUP_SET);
	create_tokens(l.fd, l.handles[1], LOOKUP_SET);
	pthread_barrier_init(&l.start, NULL, 3);
	pthread_barrier_init(&l.done, NULL, 3);
	for (i = 0; i < 2; i++) {
		threads[i].l = &l;
		threads[i].index = i;
		if (pthread_create(&threads[i].tid, NULL, lookup_thread_fn,
				   &threads[i]))
			die("pthread_create failed");
	}

	progress("row 6: lookups from 1 and 2 threads");
	for (round = 0; round < cfg->rounds; round++)
		for (c = 0; c < NLOOKUP; c++) {
			one[c][round] = lookup_round(&l, c, 1);
			two[c][round] = lookup_round(&l, c, 2);
		}
	l.quit = true;
	pthread_barrier_wait(&l.start);
	for (i = 0; i < 2; i++)
		pthread_join(threads[i].tid, NULL);
	pthread_barrier_destroy(&l.start);
	pthread_barrier_destroy(&l.done);

	for (c = 0; c < NLOOKUP; c++) {
		double m1 = median(one[c], cfg->rounds);
		double m2 = median(two[c], cfg->rounds);

		speedup[c] = 2 * m1 / m2;
		snprintf(name, sizeof(name), "%s, 1 thread", names[c]);
		add(6, name, m1 / cfg->lookups, "ns");
		snprintf(name, sizeof(name), "%s, 2 threads", names[c]);
		r = add(6, name, m2 / (2.0 * cfg->lookups), "ns");
		note(r, "aggregate: wall time / ops of both threads");
		snprintf(name, sizeof(name), "%s, speed-up", names[c]);
		r = add(6, name, speedup[c], "x");
		if (c == LOOKUP_DISJOINT) {
			verdict_line = r;
			target(r, ">=", 1.7);
			note(r, "%d handles per thread", LOOKUP_SET);
		}
		if (c == LOOKUP_SHARED)
			note(r, "both threads on the same %d handles",
			     LOOKUP_SET);
		if (c == LOOKUP_FLOOR)
			note(r, "what the VM and host give 2 threads at best");
	}
	if (speedup[LOOKUP_FLOOR] < 1.7) {
		verdict_line->unmeasurable = true;
		note(verdict_line,
		     "empty ioctls sped up %.2fx: the VM had no 2 host cores",
		     speedup[LOOKUP_FLOOR]);
	}
	r = add(6, "own handles / floor speed-up",
		speedup[LOOKUP_DISJOINT] / speedup[LOOKUP_FLOOR], "ratio");
	note(r, "1.0: lookups scale as well as an empty ioctl");
	close(l.fd);
}
