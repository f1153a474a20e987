#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/loop.h>

#include "lib/fs.h"
#include "lib/run.h"
#include "lib/util.h"
#include "cmd/guardian/loopdev.h"
#include "cmd/guardian/mountinfo.h"
#include "cmd/guardian/quota.h"
#include "cmd/guardian/store_setup.h"

#define BACKING_SUFFIX ".backing-store"
#define MKFS_TIMEOUT_NS (120ULL * 1000 * 1000 * 1000)

static char *backing_path(const char *store)
{
	char *p = NULL;
	return asprintf(&p, "%s%s", store, BACKING_SUFFIX) < 0 ? NULL : p;
}

/* Whether `fd` starts with an XFS superblock ("XFSB"). */
static bool is_xfs_image(int fd)
{
	char magic[4];
	return pread(fd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
	       memcmp(magic, "XFSB", 4) == 0;
}

static int mkfs_xfs(const char *file, struct gdn_log *log, struct gdn_err **err)
{
	const char *argv[] = {"mkfs.xfs", "-q", "-f", file, NULL};
	struct gdn_spawn_opts sp = {
	    .path = "mkfs.xfs", .argv = (char *const *)argv, .stdin_fd = -1, .stdout_fd = -1};
	struct gdn_run_opts o = {.spawn = &sp,
				 .capture_stdout = true,
				 .merge_stderr = true,
				 .timeout_ns = MKFS_TIMEOUT_NS};
	_cleanup_run_result_ struct gdn_run_result res = {0};

	gdn_log_info(log, "formatting-store", "file", file, NULL);
	int r = gdn_run(&o, &res, err);
	if (r < 0)
		return gdn_err_wrap(err, "mkfs.xfs");
	if (res.status != 0) {
		size_t len = res.out_len;
		while (len > 0 && res.out[len - 1] == '\n')
			res.out[--len] = '\0';
		return gdn_err_set(err, 0, "mkfs.xfs '%s': exit status %d%s%s", file, res.status,
				   len ? ": " : "", len ? res.out : "");
	}
	return 0;
}

static int mount_store(const char *dev, const char *store, struct gdn_err **err)
{
	if (mount(dev, store, "xfs", MS_NOATIME, "prjquota") == 0)
		return 0;
	int e = errno;
	/* the kernel says why only in its log: a kernel without XFS quotas has no xqmstat */
	if (e == EINVAL && access("/proc/fs/xfs/xqmstat", F_OK) < 0)
		return gdn_err_set(err, EOPNOTSUPP,
				   "mount '%s' (xfs, prjquota) at '%s': this kernel's XFS has no "
				   "quota support (CONFIG_XFS_QUOTA is not set)",
				   dev, store);
	return gdn_err_set(err, e, "mount '%s' (xfs, prjquota) at '%s'", dev, store);
}

/* Everything after the lock: `created` tells the caller to remove a new backing file again. */
static int setup_locked(const char *store, const char *backing, int backing_fd, uint64_t size,
			bool *created, struct gdn_log *log, struct gdn_err **err)
{
	struct stat st;
	char dev[64];

	if (gd_quota_probe(store, NULL) >= 0) {
		gdn_log_info(log, "store-has-project-quotas", "store", store, NULL);
		return 0;
	}
	if (gdn_fs_is_mountpoint(store))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EEXIST,
				    "'%s' is a mount point without project quotas: unmount it or "
				    "choose another --store",
				    store);
	if (fstat(backing_fd, &st) < 0)
		return gdn_err_set(err, errno, "stat '%s'", backing);
	if (st.st_size > 0 && !is_xfs_image(backing_fd))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EEXIST,
				    "'%s' exists and holds no XFS file system: not formatting it",
				    backing);
	if (st.st_size == 0) {
		*created = true;
		if (ftruncate(backing_fd, (off_t)size) < 0)
			return gdn_err_set(err, errno, "truncate '%s' to %" PRIu64 " bytes",
					   backing, size);
		int r = mkfs_xfs(backing, log, err);
		if (r < 0)
			return r;
	}
	_cleanup_close_ int loop_fd = gd_loop_attach(backing, dev, sizeof(dev), err);
	if (loop_fd < 0)
		return loop_fd;
	/* the loop fd is held until the mount holds the device: autoclear lets it go otherwise */
	int r = mount_store(dev, store, err);
	if (r < 0) {
		/* at once, not when autoclear's rundown gets to it */
		(void)ioctl(loop_fd, LOOP_CLR_FD, 0);
		return r;
	}
	if (chmod(store, 0755) < 0) {
		r = gdn_err_set(err, errno, "chmod '%s'", store);
		(void)umount2(store, 0);
		return r;
	}
	r = gd_quota_probe(store, err);
	if (r < 0) {
		(void)umount2(store, 0);
		return r;
	}
	char bytes[24];
	(void)snprintf(bytes, sizeof(bytes), "%" PRIu64, *created ? size : (uint64_t)st.st_size);
	gdn_log_info(log, *created ? "store-created" : "store-mounted", "store", store, "device",
		     dev, "backing_file", backing, "size_bytes", bytes, NULL);
	return 0;
}

int gd_store_setup(const char *store, uint64_t size, struct gdn_log *log, struct gdn_err **err)
{
	if (size < GD_STORE_SIZE_MIN)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "--store-size-bytes: %" PRIu64 " is below %llu (300 MiB, the "
				    "smallest XFS)",
				    size, GD_STORE_SIZE_MIN);
	int r = gdn_fs_mkdir_p(store, 0755, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *real = realpath(store, NULL);
	if (!real)
		return gdn_err_set(err, errno, "--store '%s'", store);
	_cleanup_free_ char *backing = backing_path(real);
	if (!backing)
		return gdn_err_set(err, ENOMEM, "store set-up");
	bool existed = access(backing, F_OK) == 0;
	_cleanup_close_ int fd = open(backing, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return gdn_err_set(err, errno, "open '%s'", backing);
	/* two set-ups at once: the second waits and then finds the store made */
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return gdn_err_set(err, errno, "flock '%s'", backing);
	bool created = false;
	r = setup_locked(real, backing, fd, size, &created, log, err);
	if (r < 0 && (created || !existed))
		(void)unlink(backing);
	return r;
}

int gd_store_teardown(const char *store, struct gdn_log *log, struct gdn_err **err)
{
	_cleanup_free_ char *real = realpath(store, NULL);
	if (!real)
		return errno == ENOENT ? 0 : gdn_err_set(err, errno, "--store '%s'", store);
	_cleanup_free_ char *backing = backing_path(real);
	char dev[64];
	if (!backing)
		return gdn_err_set(err, ENOMEM, "store teardown");
	if (access(backing, F_OK) < 0)
		return errno == ENOENT ? 0 : gdn_err_set(err, errno, "'%s'", backing);
	_cleanup_err_ struct gdn_err *find_err = NULL;
	int found = gd_loop_find(backing, dev, sizeof(dev), &find_err);
	if (found < 0 && found != -ENOENT)
		return gdn_err_set(err, -found, "%s", gdn_err_str(find_err));
	if (found == 0 && gdn_fs_is_mountpoint(real)) {
		_cleanup_mounts_ struct gd_mounts m = {0};
		int r = gd_mountinfo_read(NULL, &m, err);
		if (r < 0)
			return r;
		/* only our device's mount: never what someone else mounted there */
		for (size_t i = m.n; i-- > 0;) {
			if (strcmp(m.v[i].target, real) != 0 || strcmp(m.v[i].source, dev) != 0)
				continue;
			if (umount2(real, UMOUNT_NOFOLLOW) < 0)
				return gdn_err_set(err, errno, "unmount '%s'", real);
			gdn_log_info(log, "store-unmounted", "store", real, "device", dev, NULL);
			break;
		}
	}
	if (found == 0) {
		int r = gd_loop_detach(dev, err);
		if (r < 0)
			return r;
	}
	if (unlink(backing) < 0 && errno != ENOENT)
		return gdn_err_set(err, errno, "unlink '%s'", backing);
	gdn_log_info(log, "store-removed", "store", real, "backing_file", backing, NULL);
	return 0;
}
