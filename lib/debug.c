// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * KDISPOSE_DEBUG: reports of what the API cannot say through its results
 * (GLib's G_DEBUG, systemd's SYSTEMD_LOG_LEVEL).
 *
 * Some failures have no caller to return to: a forgotten chain-up on the
 * finalizer path, or in KD_AUTO's cleanup, which drops kd_dispose()'s
 * result; an object finalized because nobody disposed it. Others return
 * an errno that does not say which check failed (-EINVAL). With the
 * variable set, each of those prints one line on stderr, prefixed with
 * "libkdispose[pid]: " and the name of the report.
 *
 * The variable is read once, at the first report the library considers,
 * and never again: a program cannot turn reports on and off as it runs,
 * and a report costs nothing but a load and a test while it is off.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib.h"

static const struct {
	const char *name;
	unsigned int flag;
} kd_debug_keys[] = {
	{ "chain", KD_DEBUG_CHAIN },
	{ "leaks", KD_DEBUG_LEAKS },
	{ "checks", KD_DEBUG_CHECKS },
};

static pthread_once_t kd_debug_once = PTHREAD_ONCE_INIT;
static unsigned int kd_debug_flags;

#define KD_DEBUG_SEPARATORS ",:; \t"

static void kd_debug_help(void)
{
	size_t i;

	fprintf(stderr, "libkdispose: KDISPOSE_DEBUG takes:");
	for (i = 0; i < sizeof(kd_debug_keys) / sizeof(kd_debug_keys[0]); i++)
		fprintf(stderr, " %s", kd_debug_keys[i].name);
	fprintf(stderr, " all help\n");
}

/* One word of KDISPOSE_DEBUG, @len bytes at @word. */
static unsigned int kd_debug_word(const char *word, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(kd_debug_keys) / sizeof(kd_debug_keys[0]); i++)
		if (strlen(kd_debug_keys[i].name) == len &&
		    !strncmp(kd_debug_keys[i].name, word, len))
			return kd_debug_keys[i].flag;
	if (len == 3 && !strncmp(word, "all", 3))
		return KD_DEBUG_CHAIN | KD_DEBUG_LEAKS | KD_DEBUG_CHECKS;
	if (len == 4 && !strncmp(word, "help", 4)) {
		kd_debug_help();
		return 0;
	}
	fprintf(stderr, "libkdispose: KDISPOSE_DEBUG: unknown word \"%.*s\"\n",
		(int)len, word);
	kd_debug_help();
	return 0;
}

static void kd_debug_parse(void)
{
	/* Not for setuid programs: their environment is not their user's. */
	const char *s = secure_getenv("KDISPOSE_DEBUG");
	unsigned int flags = 0;
	size_t len;

	while (s && *s) {
		s += strspn(s, KD_DEBUG_SEPARATORS);
		len = strcspn(s, KD_DEBUG_SEPARATORS);
		if (len)
			flags |= kd_debug_word(s, len);
		s += len;
	}
	kd_debug_flags = flags;
}

bool __kd_debug_on(unsigned int flag)
{
	pthread_once(&kd_debug_once, kd_debug_parse);
	return kd_debug_flags & flag;
}

static const char *kd_debug_name(unsigned int flag)
{
	size_t i;

	for (i = 0; i < sizeof(kd_debug_keys) / sizeof(kd_debug_keys[0]); i++)
		if (kd_debug_keys[i].flag == flag)
			return kd_debug_keys[i].name;
	return "debug";
}

static void kd_debug_va(unsigned int flag, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* One call, so that the line is not interleaved with another's. */
	fprintf(stderr, "libkdispose[%d]: %s: %s\n", (int)getpid(),
		kd_debug_name(flag), msg);
}

void __kd_debug(unsigned int flag, const char *fmt, ...)
{
	va_list ap;

	if (!__kd_debug_on(flag))
		return;
	va_start(ap, fmt);
	kd_debug_va(flag, fmt, ap);
	va_end(ap);
}

/* The errnos the library returns, by name: reports are read by people. */
static const char *kd_errno_name(int err)
{
	switch (-err) {
	case EINVAL:
		return "-EINVAL";
	case EBADF:
		return "-EBADF";
	case EIDRM:
		return "-EIDRM";
	case EPROTO:
		return "-EPROTO";
	case ENOMEM:
		return "-ENOMEM";
	case EOPNOTSUPP:
		return "-EOPNOTSUPP";
	case ENOENT:
		return "-ENOENT";
	default:
		return NULL;
	}
}

/*
 * Reports that a call returns @err (0: a NULL pointer) because of the
 * check that @fmt describes, naming the call and, when known, its call
 * site.
 */
void __kd_check_failed(const struct kd_site *site, int err, const char *fmt,
		       ...)
{
	const char *name = kd_errno_name(err);
	char why[320], num[16];
	va_list ap;

	if (!__kd_debug_on(KD_DEBUG_CHECKS))
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!err) {
		name = "NULL";
	} else if (!name) {
		snprintf(num, sizeof(num), "%d", err);
		name = num;
	}
	if (site->file)
		__kd_debug(KD_DEBUG_CHECKS, "%s() at %s:%u: %s: %s", site->fn,
			   site->file, site->line, name, why);
	else
		__kd_debug(KD_DEBUG_CHECKS, "%s(): %s: %s", site->fn, name,
			   why);
}

const char *__kd_class_name(const struct kd_class *cls)
{
	return cls && cls->name ? cls->name : "(unnamed)";
}

/*
 * Writes where @p was created into @buf: "file:line", or a note that the
 * constructor was called without its call site. Return: as snprintf().
 */
int __kd_obj_site(const struct kd_obj_priv *p, char *buf, size_t size)
{
	if (p->file)
		return snprintf(buf, size, "%s:%u", p->file, p->line);
	return snprintf(buf, size, "an unknown call site (no call-site macro)");
}
