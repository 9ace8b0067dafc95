// SPDX-License-Identifier: GPL-2.0
/*
 * kdispose: the .NET dispose pattern for kernel resources.
 *
 * main.c holds the module parameters, the table of object kinds, the file
 * operations of /dev/kdispose, the misc device and module init/exit.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/nospec.h>
#include <linux/seq_file.h>

#include "compat.h"
#include "internal.h"

unsigned int kdispose_max_objects = 1U << 20;
module_param_named(max_objects, kdispose_max_objects, uint, 0644);
MODULE_PARM_DESC(max_objects,
		 "Live objects one open file may hold; more fail with EMFILE (default: 1048576, at most 16777216)");

unsigned long kdispose_max_bytes = 64UL << 20;
module_param_named(max_bytes, kdispose_max_bytes, ulong, 0644);
MODULE_PARM_DESC(max_bytes,
		 "Memory-buffer bytes one open file may hold; more fail with EDQUOT (default: 67108864)");

unsigned long long kdispose_max_handle_seq = KDISPOSE_SEQ_MAX;
module_param_named(max_handle_seq, kdispose_max_handle_seq, ullong, 0644);
MODULE_PARM_DESC(max_handle_seq,
		 "Creates one open file may make over its life, since handles are never reused; more fail with ENOSPC (default and maximum: 2^40-1)");

unsigned long kdispose_max_user_objects = 1UL << 22;
module_param_named(max_user_objects, kdispose_max_user_objects, ulong, 0644);
MODULE_PARM_DESC(max_user_objects,
		 "Handle-table slots all the files one user opened may hold, however they are kept open (mappings, forks, messages in flight); more fail with EDQUOT (default: 4194304)");

unsigned long long kdispose_max_user_bytes = 256ULL << 20;
module_param_named(max_user_bytes, kdispose_max_user_bytes, ullong, 0644);
MODULE_PARM_DESC(max_user_bytes,
		 "Memory-buffer bytes all the files one user opened may hold, until the last mapping of each buffer goes; more fail with EDQUOT (default: 268435456)");

bool kdispose_leak_report;
module_param_named(leak_report, kdispose_leak_report, bool, 0644);
MODULE_PARM_DESC(leak_report,
		 "Log each object that reaches the finalizer path undisposed, rate-limited (default: N)");

/*
 * Indexed by the UAPI value: one past the end does not compile, and
 * kdispose_kinds_check() makes two equal values duplicate case labels.
 */
const struct kdispose_kind_ops *const kdispose_kinds[KDISPOSE_NR_KINDS] = {
#define KDISPOSE_KIND(ID, name)						\
	[KDISPOSE_TYPE_##ID] = &kdispose_##name##_ops,
#include "kinds.h"
#undef KDISPOSE_KIND
};

static const char *const kdispose_kind_names[KDISPOSE_NR_KINDS] = {
#define KDISPOSE_KIND(ID, name)						\
	[KDISPOSE_TYPE_##ID] = #name,
#include "kinds.h"
#undef KDISPOSE_KIND
};

static void __init kdispose_kinds_check(unsigned int kind)
{
	switch (kind) {
#define KDISPOSE_KIND(ID, name)						\
	case KDISPOSE_TYPE_##ID:
#include "kinds.h"
#undef KDISPOSE_KIND
		break;
	}
	BUILD_BUG_ON(ARRAY_SIZE(kdispose_kinds) != KDISPOSE_NR_KINDS);
}

/**
 * kdispose_kind_name - the name of a kind in counters, fdinfo and logs
 * @kind: a kind, as kdispose_ops() accepted it
 *
 * Context: any context.
 * Return: the name.
 */
const char *kdispose_kind_name(unsigned int kind)
{
	return kdispose_kind_names[kind];
}

static int kdispose_open(struct inode *inode, struct file *file)
{
	struct kdispose_ctx *ctx;

	ctx = kdispose_ctx_alloc();
	if (!ctx)
		return -ENOMEM;
	/* misc_open() left the miscdevice here; the file owns @ctx instead. */
	file->private_data = ctx;
	return 0;
}

static int kdispose_release(struct inode *inode, struct file *file)
{
	kdispose_ctx_release(file->private_data);
	return 0;
}

static int kdispose_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct kdispose_object *obj;
	int err;

	obj = kdispose_object_lookup_mmap(file->private_data, vma->vm_pgoff);
	if (!obj)
		return -EINVAL;
	err = kdispose_ops(obj->kind)->mmap(obj, vma);
	kdispose_object_put(obj);
	return err;
}

static void kdispose_show_fdinfo_fop(struct seq_file *m, struct file *file)
{
	kdispose_show_fdinfo(m, file->private_data);
}

const struct file_operations kdispose_fops = {
	.owner = THIS_MODULE,
	.open = kdispose_open,
	.release = kdispose_release,
	.unlocked_ioctl = kdispose_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = kdispose_mmap,
	.uring_cmd = kdispose_uring_cmd,
	.show_fdinfo = kdispose_show_fdinfo_fop,
	.llseek = noop_llseek,
};

static struct miscdevice kdispose_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kdispose",
	.fops = &kdispose_fops,
	.groups = kdispose_attr_groups,
	.mode = 0666,
};

static int __init kdispose_init(void)
{
	int err;

	kdispose_kinds_check(0);
	err = kdispose_cache_init();
	if (err)
		return err;
	err = misc_register(&kdispose_misc);
	if (err)
		kdispose_cache_exit();
	return err;
}

static void __exit kdispose_exit(void)
{
	misc_deregister(&kdispose_misc);
	kdispose_cache_exit();
}

module_init(kdispose_init);
module_exit(kdispose_exit);

MODULE_DESCRIPTION("kdispose: dispose-pattern handle tables for kernel resources");
MODULE_AUTHOR("kdispose developers");
MODULE_LICENSE("GPL");
MODULE_VERSION("0.1");
