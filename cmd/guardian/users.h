/* Resolving a ProcessSpec user inside a container (internals §8): a name, "uid" or "uid:gid",
 * looked up in the container's /etc/passwd and /etc/group. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "lib/err.h"

#define GD_MAX_GROUPS 64

struct gd_user {
	uint32_t uid, gid;
	uint32_t groups[GD_MAX_GROUPS]; /* supplementary gids from /etc/group */
	size_t n_groups;
	char name[256];
	char home[4096];
};

/* Parses passwd/group texts (either may be NULL: file missing). `user` "" means root. Unknown
 * name: "unable to find user <name>: no matching entries in passwd file". */
int gd_user_lookup(const char *passwd, const char *group, const char *user, struct gd_user *ret,
		   struct gdn_err **err);

/* Opens `path` (absolute, inside the container) for reading with the container's root as "/"
 * (openat2 RESOLVE_IN_ROOT on /proc/<pid>/root), so that symlinks inside the container cannot
 * lead guardian out of it. Reads it whole (max 4 MiB). -ENOENT if missing. */
int gd_container_read_file(pid_t init, const char *path, char **ret, struct gdn_err **err);
/* The same inside a rootfs directory of the host (a pea's, before it runs). */
int gd_rootfs_read_file(const char *rootfs, const char *path, char **ret, struct gdn_err **err);

/* mkdir -p `path` inside the container (same confinement), new directories 0755 and owned by
 * host uid/gid; existing ones are left alone. */
int gd_container_mkdir_p(pid_t init, const char *path, uid_t uid, gid_t gid, struct gdn_err **err);

/* The mount point of a bind mount at `path` in the rootfs directory `rootfs` (before the
 * container runs): a directory (`dir`) or an empty file, and the directories above it, made with
 * the same confinement (a symlink in the rootfs is followed as the container would follow it,
 * never out of it), owned by uid/gid; whatever is there already stays. */
int gd_rootfs_mountpoint(const char *rootfs, const char *path, bool dir, uid_t uid, gid_t gid,
			 struct gdn_err **err);
