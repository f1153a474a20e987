/* /proc/self/mountinfo, parsed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include "lib/err.h"

struct gd_mount {
	char *root;   /* root of the mount within its filesystem */
	char *target; /* mount point (unescaped) */
	char *fstype;
	char *source;	  /* unescaped */
	char *super_opts; /* per-superblock options, as the kernel shows them (escaped) */
};

struct gd_mounts {
	struct gd_mount *v;
	size_t n;
};

/* Reads `path` (NULL: /proc/self/mountinfo) in order (parents before children). */
int gd_mountinfo_read(const char *path, struct gd_mounts *ret, struct gdn_err **err);
void gd_mounts_free(struct gd_mounts *m);
static inline void gd_mounts_freep(struct gd_mounts *m)
{
	gd_mounts_free(m);
}
#define _cleanup_mounts_ _cleanup_(gd_mounts_freep)

/* Whether a comma-separated option list contains `opt` exactly. */
bool gd_opts_has(const char *opts, const char *opt);
