/* Small macros shared by every binary: attributes, cleanup helpers, ownership hand-over. */
#pragma once

#include <stdlib.h>
#include <stdio.h>
#include <unistd.h>
#include <errno.h>
#include <dirent.h>

#define GDN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define GDN_UNUSED __attribute__((unused))
#define GDN_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(gdn_freep)
#define _cleanup_close_ _cleanup_(gdn_closep)
#define _cleanup_fclose_ _cleanup_(gdn_fclosep)
#define _cleanup_closedir_ _cleanup_(gdn_closedirp)
#define _cleanup_strv_ _cleanup_(gdn_strv_freep)

static inline void gdn_freep(void *p)
{
	free(*(void **)p);
}

/* Preserves errno so that a cleanup on an error path does not clobber the reason. */
static inline void gdn_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		(void)close(*fd);
		errno = saved;
	}
}

static inline void gdn_fclosep(FILE **f)
{
	if (*f)
		(void)fclose(*f);
}

static inline void gdn_closedirp(DIR **d)
{
	if (*d)
		(void)closedir(*d);
}

/* Frees a NULL-terminated vector of strings. */
static inline void gdn_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static inline void gdn_strv_freep(char ***v)
{
	gdn_strv_free(*v);
}

static inline int gdn_steal_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}

static inline void *gdn_steal_ptr_impl(void *pp)
{
	void **p = pp;
	void *r = *p;
	*p = NULL;
	return r;
}

/* Type-checked: the 0 ? branch makes the compiler check that pp points to a pointer. */
#define gdn_steal_ptr(pp) (0 ? (*(pp)) : (gdn_steal_ptr_impl)(pp))
