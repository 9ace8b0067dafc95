/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels kdispose supports (Debian 12's 6.1
 * and Debian 13's 6.12) lives in this file and nowhere else.
 */
#ifndef _KDISPOSE_COMPAT_H
#define _KDISPOSE_COMPAT_H

#include <linux/version.h>

#endif /* _KDISPOSE_COMPAT_H */
