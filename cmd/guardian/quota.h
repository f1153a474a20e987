/* Disk limits with project quotas, the way grootfs's overlay-xfs driver applies them: one
 * project id per container volume (set with FS_IOC_FSSETXATTR, FS_XFLAG_PROJINHERIT, so that
 * everything created below inherits it), limits and usage through quotactl on the project quota
 * of the store's filesystem (XFS mounted with prjquota). Syscalls only: no xfs_quota children. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "lib/err.h"

/* limits.disk_limits of a ContainerSpec: byte_hard, inode_hard; scope 1 (exclusive) leaves the
 * image out of the limit, scope 0 (total) counts it. 0 means no limit. */
struct gd_disk_limits {
	uint64_t byte_hard;
	uint64_t inode_hard;
	bool exclusive;
};

/* What a container's project gets: limits on its own writes (0: none). */
struct gd_quota_plan {
	uint64_t bytes;
	uint64_t inodes;
};

/* grootfs's MinQuota: a project limit below this is raised to it (XFS needs room for the
 * metadata of the first writes). */
#define GD_QUOTA_MIN_BYTES (256 * 1024)

/* Garden's (grootfs's) message for a total-scope limit that the image alone exceeds. */
#define GD_QUOTA_SMALLER_MSG "disk limit is smaller than volume size"

/* The project limits for `l` given the image's size (apparent bytes, as `du -bs`, and inodes):
 * exclusive limits pass as they are, total ones lose the image's share. A total limit the image
 * alone exceeds is refused with Garden's message ("... disk limit is smaller than volume size");
 * a byte limit under GD_QUOTA_MIN_BYTES is raised to it. Pure. */
int gd_quota_plan(const struct gd_disk_limits *l, uint64_t image_bytes, uint64_t image_inodes,
		  struct gd_quota_plan *ret, struct gdn_err **err);

/* 0 when the filesystem holding `path` accounts and enforces project quotas; otherwise an error
 * (for API clients) saying why: not XFS, XFS mounted without prjquota, or a kernel without XFS
 * quota support. */
int gd_quota_probe(const char *path, struct gdn_err **err);

/* The project id of the file open at `fd` (0: none). */
int gd_quota_get_project(int fd, uint32_t *ret, struct gdn_err **err);

/* Gives the directory open at `fd` project id `id` and FS_XFLAG_PROJINHERIT. */
int gd_quota_set_project(int fd, uint32_t id, struct gdn_err **err);

/* Sets the hard (and soft, as grootfs does) block and inode limits of project `id` on the
 * filesystem of `fd`; zeros remove them. */
int gd_quota_set_limits(int fd, uint32_t id, const struct gd_quota_plan *p, struct gdn_err **err);

/* What project `id` uses on the filesystem of `fd`, and its limits (0: none). An id the
 * filesystem has no record of uses nothing. */
struct gd_quota_usage {
	uint64_t bytes, inodes;
	uint64_t byte_limit, inode_limit;
};
int gd_quota_get(int fd, uint32_t id, struct gd_quota_usage *ret, struct gdn_err **err);

/* Project ids, recorded in <store>/projectids/<id> (a file holding the handle, made with
 * O_EXCL, as grootfs's tardis makes a directory): ids of live containers never collide, also
 * across restarts. The search starts past the number of ids in use (grootfs's rule) and skips
 * 0 and 1. */
int gd_quota_alloc_id(const char *store, const char *handle, uint32_t *ret, struct gdn_err **err);

/* Frees `id` if it is recorded for `handle` (another handle's record is left alone). */
int gd_quota_free_id(const char *store, uint32_t id, const char *handle, struct gdn_err **err);

/* The handle recorded for `id` (malloc'd), or -ENOENT. */
int gd_quota_id_owner(const char *store, uint32_t id, char **ret, struct gdn_err **err);

#define GD_QUOTA_IDS_DIR "projectids"
