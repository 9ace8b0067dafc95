// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The version of the library loaded, for a program to compare with the
 * KD_VERSION_* of the header it was built with (liburing's version.c).
 */
#include "lib.h"

KD_EXPORT int kd_version_major(void)
{
	return KD_VERSION_MAJOR;
}

KD_EXPORT int kd_version_minor(void)
{
	return KD_VERSION_MINOR;
}

KD_EXPORT bool kd_check_version(int major, int minor)
{
	return major < KD_VERSION_MAJOR ||
	       (major == KD_VERSION_MAJOR && minor <= KD_VERSION_MINOR);
}
