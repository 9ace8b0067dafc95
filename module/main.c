// SPDX-License-Identifier: GPL-2.0
/*
 * kdispose: the .NET dispose pattern for kernel resources.
 *
 * main.c holds the module parameters, the table of object types, the file
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

static const struct kdispose_type_ops *const kdispose_types[KDISPOSE_NR_TYPES] = {
	[KDISPOSE_TYPE_TOKEN] = &kdispose_token_ops,
	[KDISPOSE_TYPE_MEMORY] = &kdispose_memory_ops,
	[KDISPOSE_TYPE_EVENT] = &kdispose_event_ops,
	[KDISPOSE_TYPE_FILE] = &kdispose_file_ops,
	[KDISPOSE_TYPE_GROUP] = &kdispose_group_ops,
};

/**
 * kdispose_type - the ops of an object type
 * @type: a value of enum kdispose_type, possibly from user space
 *
 * Context: any context.
 * Return: the ops, or NULL when @type is not a type.
 */
const struct kdispose_type_ops *kdispose_type(unsigned int type)
{
	if (type >= KDISPOSE_NR_TYPES)
		return NULL;
	return kdispose_types[array_index_nospec(type, KDISPOSE_NR_TYPES)];
}

static int kdispose_open(struct inode *inode, struct file *file)
{
	struct kdispose_file *kf;

	kf = kdispose_file_alloc();
	if (!kf)
		return -ENOMEM;
	/* misc_open() left the miscdevice here; the file owns @kf instead. */
	file->private_data = kf;
	return 0;
}

static int kdispose_release(struct inode *inode, struct file *file)
{
	kdispose_file_release(file->private_data);
	return 0;
}

static int kdispose_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct kdispose_object *obj;
	int err;

	obj = kdispose_object_lookup_mmap(file->private_data, vma->vm_pgoff);
	if (!obj)
		return -EINVAL;
	err = kdispose_type(obj->type)->mmap(obj, vma);
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
