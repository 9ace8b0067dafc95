// SPDX-License-Identifier: GPL-2.0
/*
 * kdispose: the .NET dispose pattern for kernel resources.
 *
 * main.c holds the module parameters, the file operations of /dev/kdispose,
 * the misc device and module init/exit.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

#include <linux/kdispose.h>

#include "compat.h"

static long kdispose_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	switch (cmd) {
	case KDISPOSE_IOC_VERSION:
		return KDISPOSE_ABI_VERSION;
	default:
		return -ENOTTY;
	}
}

static int kdispose_open(struct inode *inode, struct file *file)
{
	return 0;
}

static int kdispose_release(struct inode *inode, struct file *file)
{
	return 0;
}

static const struct file_operations kdispose_fops = {
	.owner = THIS_MODULE,
	.open = kdispose_open,
	.release = kdispose_release,
	.unlocked_ioctl = kdispose_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice kdispose_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kdispose",
	.fops = &kdispose_fops,
	.mode = 0666,
};

static int __init kdispose_init(void)
{
	return misc_register(&kdispose_misc);
}

static void __exit kdispose_exit(void)
{
	misc_deregister(&kdispose_misc);
}

module_init(kdispose_init);
module_exit(kdispose_exit);

MODULE_DESCRIPTION("kdispose: dispose-pattern handle tables for kernel resources");
MODULE_AUTHOR("kdispose developers");
MODULE_LICENSE("GPL");
