// SPDX-License-Identifier: GPL-2.0
/*
 * Module-wide counters, read as one consistent snapshot from
 * /sys/class/misc/kdispose/counters.
 *
 * Every object is counted once as created when it is published, once as
 * disposed or finalized when it is taken out of its table, and once as
 * released when its last reference goes. The counters of one object move
 * under one seqlock, so created == disposed + finalized + live holds in
 * every snapshot a reader can see.
 */
#include <linux/device.h>
#include <linux/seqlock.h>
#include <linux/sysfs.h>

#include "internal.h"

/**
 * struct kdispose_counters - the counters of one kind
 * @created: objects published.
 * @disposed: objects taken out of a table by an explicit dispose.
 * @finalized: objects taken out of a table by a file's release.
 * @live: objects in a table now.
 * @released: objects whose last reference is gone.
 */
struct kdispose_counters {
	u64 created;
	u64 disposed;
	u64 finalized;
	u64 live;
	u64 released;
};

/* Protects kdispose_counters[]. */
static DEFINE_SEQLOCK(kdispose_stats_lock);
static struct kdispose_counters kdispose_counters[KDISPOSE_NR_KINDS];

/**
 * kdispose_stats_created - count a published object
 * @kind: its kind
 *
 * Context: any context.
 */
void kdispose_stats_created(unsigned int kind)
{
	write_seqlock(&kdispose_stats_lock);
	kdispose_counters[kind].created++;
	kdispose_counters[kind].live++;
	write_sequnlock(&kdispose_stats_lock);
}

/**
 * kdispose_stats_taken - count an object taken out of its table
 * @kind: its kind
 * @disposing: true for an explicit dispose, false for the finalizer path
 *
 * Context: any context.
 */
void kdispose_stats_taken(unsigned int kind, bool disposing)
{
	write_seqlock(&kdispose_stats_lock);
	if (disposing)
		kdispose_counters[kind].disposed++;
	else
		kdispose_counters[kind].finalized++;
	kdispose_counters[kind].live--;
	write_sequnlock(&kdispose_stats_lock);
}

/**
 * kdispose_stats_released - count an object whose last reference is gone
 * @kind: its kind
 *
 * Context: any context.
 */
void kdispose_stats_released(unsigned int kind)
{
	write_seqlock(&kdispose_stats_lock);
	kdispose_counters[kind].released++;
	write_sequnlock(&kdispose_stats_lock);
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
	unsigned int seq, kind;
	int len;

	do {
		seq = read_seqbegin(&kdispose_stats_lock);
		memcpy(snap, kdispose_counters, sizeof(snap));
	} while (read_seqretry(&kdispose_stats_lock, seq));

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
