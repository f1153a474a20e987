/* Project quotas through syscalls: FS_IOC_FS{GET,SET}XATTR for a directory's project id and
 * quotactl_fd(2) (Linux 5.14) for the project's limits and usage, so no block device node is
 * needed (grootfs mknods one for quotactl(2)). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/quota.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/dqblk_xfs.h>
#include <linux/fs.h>
#include <linux/magic.h>

#include "lib/fs.h"
#include "lib/path.h"
#include "lib/util.h"
#include "cmd/guardian/quota.h"

#ifndef XFS_SUPER_MAGIC
#define XFS_SUPER_MAGIC 0x58465342
#endif
/* quota counts 512-byte basic blocks */
#define BB_SIZE 512
#define ALLOC_TRIES (1u << 20)

int gd_quota_plan(const struct gd_disk_limits *l, uint64_t image_bytes, uint64_t image_inodes,
		  struct gd_quota_plan *ret, struct gdn_err **err)
{
	struct gd_quota_plan p = {l->byte_hard, l->inode_hard};

	if (!l->exclusive && l->byte_hard > 0) {
		if (l->byte_hard < image_bytes)
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					    "creating image: applying disk limits: %s",
					    GD_QUOTA_SMALLER_MSG);
		p.bytes = l->byte_hard - image_bytes;
	}
	if (!l->exclusive && l->inode_hard > 0) {
		if (l->inode_hard < image_inodes)
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					    "creating image: applying disk limits: disk inode "
					    "limit is smaller than the volume's inode count");
		p.inodes = l->inode_hard - image_inodes;
	}
	if (l->byte_hard > 0 && p.bytes < GD_QUOTA_MIN_BYTES)
		p.bytes = GD_QUOTA_MIN_BYTES;
	/* an inode limit of 0 would mean none: the image took them all, so none are left */
	if (l->inode_hard > 0 && p.inodes == 0)
		p.inodes = 1;
	*ret = p;
	return 0;
}

static long quotactl_fd(int fd, int cmd, uint32_t id, void *addr)
{
	return syscall(SYS_quotactl_fd, fd, (unsigned)cmd, (unsigned)id, addr);
}

static const char *fs_name(unsigned long magic)
{
	switch (magic) {
	case XFS_SUPER_MAGIC:
		return "xfs";
	case EXT4_SUPER_MAGIC:
		return "ext2/3/4";
	case TMPFS_MAGIC:
		return "tmpfs";
	case BTRFS_SUPER_MAGIC:
		return "btrfs";
	case OVERLAYFS_SUPER_MAGIC:
		return "overlay";
	default:
		return NULL;
	}
}

int gd_quota_probe(const char *path, struct gdn_err **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct fs_quota_statv st = {.qs_version = FS_QSTATV_VERSION1};
	struct statfs sf;
	char other[32];

	if (fd < 0 || fstatfs(fd, &sf) < 0)
		return gdn_err_set(err, errno, "store '%s'", path);
	const char *fs = fs_name((unsigned long)sf.f_type);
	if (!fs) {
		(void)snprintf(other, sizeof(other), "a file system of type 0x%lx",
			       (unsigned long)sf.f_type);
		fs = other;
	}
	if (quotactl_fd(fd, QCMD(Q_XGETQSTATV, PRJQUOTA), 0, &st) < 0) {
		int e = errno;
		if (sf.f_type == XFS_SUPER_MAGIC && (e == ENOSYS || e == EOPNOTSUPP))
			return gdn_err_kind(err, GDN_ERR_GENERIC, EOPNOTSUPP,
					    "disk limits need project quotas, and this kernel's "
					    "XFS has none (CONFIG_XFS_QUOTA): the store '%s' "
					    "cannot enforce them",
					    path);
		if (sf.f_type == XFS_SUPER_MAGIC)
			return gdn_err_kind(
			    err, GDN_ERR_GENERIC, e,
			    "disk limits need project quotas: the store '%s' is "
			    "on XFS mounted without prjquota (%s); 'guardian setup' "
			    "makes a store with them",
			    path, strerror(e));
		return gdn_err_kind(err, GDN_ERR_GENERIC, EOPNOTSUPP,
				    "disk limits need a store on XFS with project quotas: run "
				    "'guardian setup' (the store '%s' is on %s)",
				    path, fs);
	}
	if (!(st.qs_flags & FS_QUOTA_PDQ_ACCT) || !(st.qs_flags & FS_QUOTA_PDQ_ENFD))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EOPNOTSUPP,
				    "disk limits need project quotas: the store '%s' is on %s "
				    "without enforced project quotas (mount option prjquota); "
				    "'guardian setup' makes a store with them",
				    path, fs);
	return 0;
}

int gd_quota_get_project(int fd, uint32_t *ret, struct gdn_err **err)
{
	struct fsxattr fsx;

	if (ioctl(fd, FS_IOC_FSGETXATTR, &fsx) < 0)
		return gdn_err_set(err, errno, "FS_IOC_FSGETXATTR");
	*ret = fsx.fsx_projid;
	return 0;
}

int gd_quota_set_project(int fd, uint32_t id, struct gdn_err **err)
{
	struct fsxattr fsx;

	if (ioctl(fd, FS_IOC_FSGETXATTR, &fsx) < 0)
		return gdn_err_set(err, errno, "FS_IOC_FSGETXATTR");
	fsx.fsx_projid = id;
	fsx.fsx_xflags |= FS_XFLAG_PROJINHERIT;
	if (ioctl(fd, FS_IOC_FSSETXATTR, &fsx) < 0)
		return gdn_err_set(err, errno, "set project id %" PRIu32, id);
	return 0;
}

int gd_quota_set_limits(int fd, uint32_t id, const struct gd_quota_plan *p, struct gdn_err **err)
{
	struct fs_disk_quota d = {
	    .d_version = FS_DQUOT_VERSION,
	    .d_flags = FS_PROJ_QUOTA,
	    .d_fieldmask = FS_DQ_BHARD | FS_DQ_BSOFT | FS_DQ_IHARD | FS_DQ_ISOFT,
	    .d_id = id,
	    /* rounded up: a limit is never tighter than asked */
	    .d_blk_hardlimit = (p->bytes + BB_SIZE - 1) / BB_SIZE,
	    .d_ino_hardlimit = p->inodes,
	};
	d.d_blk_softlimit = d.d_blk_hardlimit;
	d.d_ino_softlimit = d.d_ino_hardlimit;
	if (quotactl_fd(fd, QCMD(Q_XSETQLIM, PRJQUOTA), id, &d) < 0)
		return gdn_err_set(err, errno, "setting quota limit for projid %" PRIu32, id);
	return 0;
}

int gd_quota_get(int fd, uint32_t id, struct gd_quota_usage *ret, struct gdn_err **err)
{
	struct fs_disk_quota d;

	memset(&d, 0, sizeof(d));
	if (quotactl_fd(fd, QCMD(Q_XGETQUOTA, PRJQUOTA), id, &d) < 0) {
		if (errno == ENOENT) { /* no dquot: nothing used, no limits */
			*ret = (struct gd_quota_usage){0};
			return 0;
		}
		return gdn_err_set(err, errno, "getting quota of projid %" PRIu32, id);
	}
	*ret = (struct gd_quota_usage){
	    .bytes = d.d_bcount * BB_SIZE,
	    .inodes = d.d_icount,
	    .byte_limit = d.d_blk_hardlimit * BB_SIZE,
	    .inode_limit = d.d_ino_hardlimit,
	};
	return 0;
}

/* ---- project id records -------------------------------------------------------------------- */

static char *id_path(const char *store, uint32_t id)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s/%" PRIu32, store, GD_QUOTA_IDS_DIR, id) < 0)
		return NULL;
	return p;
}

static size_t count_entries(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *ent;
	size_t n = 0;

	while (d && (ent = readdir(d)))
		if (ent->d_name[0] != '.')
			n++;
	return n;
}

int gd_quota_alloc_id(const char *store, const char *handle, uint32_t *ret, struct gdn_err **err)
{
	_cleanup_free_ char *dir = gdn_path_join(store, GD_QUOTA_IDS_DIR);
	if (!dir)
		return gdn_err_set(err, ENOMEM, "allocating project id");
	int r = gdn_fs_mkdir_p(dir, 0700, err);
	if (r < 0)
		return gdn_err_wrap(err, "allocating project id");

	size_t n = count_entries(dir);
	uint32_t id = n + 1 < 2 || n + 1 > UINT32_MAX ? 2 : (uint32_t)(n + 1);
	for (uint32_t tries = 0; tries < ALLOC_TRIES; tries++, id++) {
		if (id < 2)
			id = 2; /* wrapped */
		_cleanup_free_ char *path = id_path(store, id);
		if (!path)
			return gdn_err_set(err, ENOMEM, "allocating project id");
		_cleanup_close_ int fd =
		    open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0)
			return gdn_err_set(err, errno, "allocating project id: create '%s'", path);
		if (gdn_fd_write_all(fd, handle, strlen(handle)) < 0) {
			int e = errno;
			(void)unlink(path);
			return gdn_err_set(err, e, "allocating project id: write '%s'", path);
		}
		*ret = id;
		return 0;
	}
	return gdn_err_set(err, ENOSPC, "allocating project id: %u ids tried", ALLOC_TRIES);
}

int gd_quota_id_owner(const char *store, uint32_t id, char **ret, struct gdn_err **err)
{
	_cleanup_free_ char *path = id_path(store, id);
	size_t len = 0;
	if (!path)
		return gdn_err_set(err, ENOMEM, "project id %" PRIu32, id);
	return gdn_fs_read_file(path, PATH_MAX, ret, &len, err);
}

int gd_quota_free_id(const char *store, uint32_t id, const char *handle, struct gdn_err **err)
{
	_cleanup_free_ char *path = id_path(store, id);
	_cleanup_free_ char *owner = NULL;
	_cleanup_err_ struct gdn_err *e = NULL;

	if (!path)
		return gdn_err_set(err, ENOMEM, "freeing project id %" PRIu32, id);
	if (gd_quota_id_owner(store, id, &owner, &e) < 0)
		return gdn_err_code(e) == -ENOENT
			   ? 0
			   : gdn_err_set(err, -gdn_err_code(e), "freeing project id %" PRIu32, id);
	if (strcmp(owner, handle) != 0)
		return 0;
	if (unlink(path) < 0 && errno != ENOENT)
		return gdn_err_set(err, errno, "freeing project id: unlink '%s'", path);
	return 0;
}
