// SPDX-License-Identifier: GPL-2.0
/*
 * Module-wide counters, read as one consistent snapshot from
 * /sys/class/misc/kdispose/counters.
 *
 * Every object is counted once as created when it is published, once as
 * disposed or finalized when it is taken out of its table, and once as
 * released when its last reference goes. Nothing machine-wide is written
 * on those paths: each event increments a counter of the CPU it runs on
 * (this_cpu_inc(), no lock, no atomic, no shared cache line), and a read
 * sums the CPUs. "live" is not counted: it is created - disposed -
 * finalized of the snapshot, so created == disposed + finalized + live
 * holds in every snapshot by construction.
 *
 * What makes the snapshot consistent besides is the order of the sums.
 * The events of one object happen in order, each after the one before is
 * visible to the CPU that counts the next: an object is taken under its
 * owner's lock after the publish counted under the same lock, and released
 * after the put of the last reference (a full barrier) that followed the
 * take. The counters only grow. A read therefore sums "released" over all
 * CPUs first, then "disposed" and "finalized", then "created", with a full
 * barrier between the passes: every release it counts had its take counted
 * before, so the take is counted in the later pass, and likewise every
 * take's create. So released <= disposed + finalized and live >= 0 hold
 * too, without stopping the writers: the snapshot is what the counters
 * were at some moment of each pass, later passes seeing at least as much.
 */
#include <linux/device.h>
#include <linux/percpu.h>
#include <linux/sysfs.h>

#include "internal.h"

/**
 * struct kdispose_counters - the counters of one kind, as shown
 * @created: objects published.
 * @disposed: objects taken out of a table by an explicit dispose.
 * @finalized: objects taken out of a table by a file's release.
 * @live: objects in a table now: created - disposed - finalized.
 * @released: objects whose last reference is gone.
 */
struct kdispose_counters {
	u64 created;
	u64 disposed;
	u64 finalized;
	u64 live;
	u64 released;
};

DEFINE_PER_CPU(struct kdispose_cpu_counters, kdispose_cpu_counters);

/* Adds up, over the CPUs, the array at offset @field of their counters. */
static void kdispose_stats_sum(u64 *sum, size_t field)
{
	unsigned int kind;
	int cpu;

	for_each_possible_cpu(cpu) {
		const u64 *count =
			(void *)per_cpu_ptr(&kdispose_cpu_counters, cpu) + field;

		for (kind = 0; kind < KDISPOSE_NR_KINDS; kind++)
			sum[kind] += READ_ONCE(count[kind]);
	}
}

#define KDISPOSE_STATS_FIELD(field) \
	offsetof(struct kdispose_cpu_counters, field)

/* One snapshot, in the order the top of the file explains. */
static void kdispose_stats_snapshot(struct kdispose_counters *snap)
{
	struct kdispose_cpu_counters sum = {};
	unsigned int kind;

	kdispose_stats_sum(sum.released, KDISPOSE_STATS_FIELD(released));
	/* Every take before a release counted above is counted below. */
	smp_mb();
	kdispose_stats_sum(sum.disposed, KDISPOSE_STATS_FIELD(disposed));
	kdispose_stats_sum(sum.finalized, KDISPOSE_STATS_FIELD(finalized));
	/* Every create before a take counted above is counted below. */
	smp_mb();
	kdispose_stats_sum(sum.created, KDISPOSE_STATS_FIELD(created));
	for (kind = 0; kind < KDISPOSE_NR_KINDS; kind++) {
		snap[kind].created = sum.created[kind];
		snap[kind].disposed = sum.disposed[kind];
		snap[kind].finalized = sum.finalized[kind];
		snap[kind].live = sum.created[kind] - sum.disposed[kind] -
				  sum.finalized[kind];
		snap[kind].released = sum.released[kind];
	}
}

static int kdispose_counters_emit(char *buf, int len, const char *name,
				  const struct kdispose_counters *c)
{
	return sysfs_emit_at(buf, len,
			     "%s created %llu disposed %llu finalized %llu live %llu released %llu\n",
			     name, c->created, c->disposed, c->finalized,
			     c->live, c->released);
}

static ssize_t counters_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct kdispose_counters snap[KDISPOSE_NR_KINDS];
	struct kdispose_counters all = {};
	unsigned int kind;
	int len;

	kdispose_stats_snapshot(snap);
	for (kind = 0; kind < KDISPOSE_NR_KINDS; kind++) {
		all.created += snap[kind].created;
		all.disposed += snap[kind].disposed;
		all.finalized += snap[kind].finalized;
		all.live += snap[kind].live;
		all.released += snap[kind].released;
	}
	len = kdispose_counters_emit(buf, 0, "all", &all);
	for (kind = 0; kind < KDISPOSE_NR_KINDS; kind++)
		if (kdispose_ops(kind))
			len += kdispose_counters_emit(buf, len,
						      kdispose_kind_name(kind),
						      &snap[kind]);
	return len;
}
static DEVICE_ATTR_RO(counters);

static struct attribute *kdispose_attrs[] = {
	&dev_attr_counters.attr,
	NULL,
};

static const struct attribute_group kdispose_attr_group = {
	.attrs = kdispose_attrs,
};

const struct attribute_group *kdispose_attr_groups[] = {
	&kdispose_attr_group,
	NULL,
};
