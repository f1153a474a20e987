/* clang-format off */
/* link: cmd/guardian/quota.c cmd/guardian/loopdev.c cmd/guardian/store_setup.c cmd/guardian/mountinfo.c */
/* clang-format on */
/* Project quotas: the plan of limits (pure), project id records, the probe, project ids on a real
 * loop-backed XFS made here, and the store set-up. The XFS cases need root; where the kernel's
 * XFS has quota support (/proc/fs/xfs/xqmstat) the limits are enforced and read back, where it
 * has none the probe and the set-up must say so and leave nothing behind. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "test/unit/tap.h"
#include "lib/fs.h"
#include "lib/log.h"
#include "lib/path.h"
#include "lib/run.h"
#include "cmd/guardian/loopdev.h"
#include "cmd/guardian/quota.h"
#include "cmd/guardian/store_setup.h"

#define XFS_SIZE (320ULL << 20)

static bool kernel_has_xfs_quota(void)
{
	return access("/proc/fs/xfs/xqmstat", F_OK) == 0;
}

static void private_mounts(void)
{
	if (geteuid() != 0)
		SKIP("needs root");
	if (unshare(CLONE_NEWNS) < 0)
		SKIP("cannot unshare the mount namespace");
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
}

static void test_plan(void)
{
	struct gdn_err *err = NULL;
	struct gd_quota_plan p;

	/* exclusive: as asked, the image left out */
	struct gd_disk_limits l = {.byte_hard = 10 << 20, .inode_hard = 100, .exclusive = true};
	CHECK_OK(gd_quota_plan(&l, 50 << 20, 1000, &p, &err), err);
	CHECK_INTEQ(p.bytes, 10 << 20);
	CHECK_INTEQ(p.inodes, 100);
	/* total: the image's share comes off */
	l.exclusive = false;
	l.inode_hard = 1100;
	CHECK_OK(gd_quota_plan(&l, 4 << 20, 1000, &p, &err), err);
	CHECK_INTEQ(p.bytes, 6 << 20);
	CHECK_INTEQ(p.inodes, 100);
	/* what is left under grootfs's MinQuota is raised to it; an equal one is allowed */
	CHECK_OK(gd_quota_plan(&l, (10 << 20) - 1000, 1000, &p, &err), err);
	CHECK_INTEQ(p.bytes, GD_QUOTA_MIN_BYTES);
	CHECK_OK(gd_quota_plan(&l, 10 << 20, 1100, &p, &err), err);
	CHECK_INTEQ(p.bytes, GD_QUOTA_MIN_BYTES);
	CHECK_INTEQ(p.inodes, 1); /* none left means one, not "no limit" */
	/* the image alone over the limit: Garden's message */
	CHECK_INTEQ(gd_quota_plan(&l, (10 << 20) + 1, 10, &p, &err), -EINVAL);
	CHECK_STREQ(gdn_err_str(err),
		    "creating image: applying disk limits: disk limit is smaller than volume size");
	err = gdn_err_free(err);
	CHECK_INTEQ(gd_quota_plan(&l, 10, 1101, &p, &err), -EINVAL);
	CHECK(strstr(gdn_err_str(err), "inode limit is smaller") != NULL);
	err = gdn_err_free(err);
	/* no limits: nothing, whatever the image */
	l = (struct gd_disk_limits){0};
	CHECK_OK(gd_quota_plan(&l, 1ULL << 40, 1 << 30, &p, &err), err);
	CHECK_INTEQ(p.bytes, 0);
	CHECK_INTEQ(p.inodes, 0);
	/* only bytes limited: inodes stay unlimited, and the other way round */
	l.byte_hard = 1 << 30;
	CHECK_OK(gd_quota_plan(&l, 1 << 20, 500, &p, &err), err);
	CHECK_INTEQ(p.inodes, 0);
	l = (struct gd_disk_limits){.inode_hard = 600};
	CHECK_OK(gd_quota_plan(&l, 1 << 20, 500, &p, &err), err);
	CHECK_INTEQ(p.bytes, 0);
	CHECK_INTEQ(p.inodes, 100);
}

static void test_project_ids(void)
{
	_cleanup_free_ char *store = gdn_path_join(tap_tmp, "store");
	struct gdn_err *err = NULL;
	uint32_t a = 0, b = 0, c = 0, d = 0;

	CHECK(mkdir(store, 0755) == 0);
	CHECK_OK(gd_quota_alloc_id(store, "ha", &a, &err), err);
	CHECK_OK(gd_quota_alloc_id(store, "hb", &b, &err), err);
	CHECK_OK(gd_quota_alloc_id(store, "hc", &c, &err), err);
	/* grootfs skips 0 (no project) and 1 */
	CHECK(a >= 2 && b >= 2 && c >= 2);
	CHECK(a != b && b != c && a != c);
	_cleanup_free_ char *owner = NULL;
	CHECK_OK(gd_quota_id_owner(store, b, &owner, &err), err);
	CHECK_STREQ(owner, "hb");
	/* another handle's record stays */
	CHECK_OK(gd_quota_free_id(store, b, "hx", &err), err);
	_cleanup_free_ char *still = NULL;
	CHECK_OK(gd_quota_id_owner(store, b, &still, &err), err);
	CHECK_OK(gd_quota_free_id(store, b, "hb", &err), err);
	CHECK_INTEQ(gd_quota_id_owner(store, b, &owner, &err), -ENOENT);
	err = gdn_err_free(err);
	/* freeing twice, or an id never taken, is fine */
	CHECK_OK(gd_quota_free_id(store, b, "hb", &err), err);
	CHECK_OK(gd_quota_free_id(store, 12345, "hb", &err), err);
	/* the records are the state: a later allocation (a restarted guardian) never takes an id
	 * in use, whatever it counts */
	CHECK_OK(gd_quota_alloc_id(store, "hd", &d, &err), err);
	CHECK(d != a && d != c);
	for (int i = 0; i < 50; i++) {
		char h[16];
		uint32_t id = 0;
		snprintf(h, sizeof(h), "h%d", i);
		CHECK_OK(gd_quota_alloc_id(store, h, &id, &err), err);
		CHECK(id != a && id != c && id != d);
	}
	/* a store that cannot hold the records */
	_cleanup_free_ char *file = gdn_path_join(tap_tmp, "not-a-dir");
	CHECK_OK(gdn_fs_write_atomic(file, "x", 1, 0600, &err), err);
	CHECK(gd_quota_alloc_id(file, "h", &a, &err) < 0);
	CHECK(strstr(gdn_err_str(err), "allocating project id") != NULL);
	gdn_err_free(err);
}

static void test_probe_without_quotas(void)
{
	struct gdn_err *err = NULL;
	/* the scratch dir's file system (tmpfs or the root's ext4) has no project quotas */
	CHECK(gd_quota_probe(tap_tmp, &err) < 0);
	CHECK(strstr(gdn_err_str(err), "disk limits need") != NULL);
	CHECK(strstr(gdn_err_str(err), tap_tmp) != NULL);
	err = gdn_err_free(err);
	CHECK_INTEQ(gd_quota_probe("/nonexistent/store", &err), -ENOENT);
	gdn_err_free(err);
}

static void mkfs_xfs(const char *file)
{
	const char *argv[] = {"mkfs.xfs", "-q", "-f", file, NULL};
	struct gdn_spawn_opts sp = {
	    .path = "mkfs.xfs", .argv = (char *const *)argv, .stdin_fd = -1};
	struct gdn_run_opts o = {.spawn = &sp, .capture_stdout = true, .merge_stderr = true};
	_cleanup_run_result_ struct gdn_run_result res = {0};
	struct gdn_err *err = NULL;
	CHECK_OK(gdn_run(&o, &res, &err), err);
	if (res.status != 0)
		fprintf(stderr, "# mkfs.xfs: %s\n", res.out);
	CHECK_INTEQ(res.status, 0);
}

/* A loop-backed XFS, mounted without quota options: project ids work on any XFS. */
static void test_loop_xfs_project_ids(void)
{
	private_mounts();
	_cleanup_free_ char *img = gdn_path_join(tap_tmp, "img");
	_cleanup_free_ char *mnt = gdn_path_join(tap_tmp, "mnt");
	struct gdn_err *err = NULL;
	char dev[64], found[64];

	int fd = open(img, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	CHECK(fd >= 0 && ftruncate(fd, (off_t)XFS_SIZE) == 0);
	(void)close(fd);
	mkfs_xfs(img);
	CHECK(mkdir(mnt, 0755) == 0);
	int loop = gd_loop_attach(img, dev, sizeof(dev), &err);
	CHECK_OK(loop, err);
	CHECK_OK(gd_loop_find(img, found, sizeof(found), &err), err);
	CHECK_STREQ(found, dev);
	CHECK(mount(dev, mnt, "xfs", MS_NOATIME, NULL) == 0);
	(void)close(loop); /* the mount holds it now */
	struct statfs sf;
	CHECK(statfs(mnt, &sf) == 0 && sf.f_type == 0x58465342);

	/* without prjquota there is nothing to enforce: the probe says why */
	CHECK(gd_quota_probe(mnt, &err) < 0);
	if (kernel_has_xfs_quota())
		CHECK(strstr(gdn_err_str(err), "mounted without prjquota") != NULL ||
		      strstr(gdn_err_str(err), "without enforced project quotas") != NULL);
	else
		CHECK(strstr(gdn_err_str(err), "XFS has none (CONFIG_XFS_QUOTA)") != NULL);
	err = gdn_err_free(err);

	/* a project id with PROJINHERIT passes to what is made below; a rename out of the
	 * project fails, which is why a volume's work dir must be in its project too */
	_cleanup_free_ char *vol = gdn_path_join(mnt, "vol");
	_cleanup_free_ char *upper = gdn_path_join(vol, "upper");
	_cleanup_free_ char *outside = gdn_path_join(mnt, "outside");
	_cleanup_free_ char *moved = gdn_path_join(upper, "moved");
	CHECK(mkdir(vol, 0700) == 0 && mkdir(outside, 0700) == 0);
	int vfd = open(vol, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(vfd >= 0);
	uint32_t id = 1;
	CHECK_OK(gd_quota_get_project(vfd, &id, &err), err);
	CHECK_INTEQ(id, 0);
	CHECK_OK(gd_quota_set_project(vfd, 4242, &err), err);
	CHECK(mkdir(upper, 0755) == 0);
	int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(ufd >= 0);
	CHECK_OK(gd_quota_get_project(ufd, &id, &err), err);
	CHECK_INTEQ(id, 4242);
	CHECK(rename(outside, moved) < 0 && errno == EXDEV);
	(void)close(ufd);
	(void)close(vfd);

	CHECK(umount2(mnt, 0) == 0);
	/* autoclear: the unmount let the device go */
	int r = 0;
	for (int i = 0; i < 100; i++) {
		r = gd_loop_find(img, found, sizeof(found), NULL);
		if (r == -ENOENT)
			break;
		usleep(20000);
	}
	CHECK_INTEQ(r, -ENOENT);
	/* detaching an unbound device is fine */
	CHECK_OK(gd_loop_detach(dev, &err), err);
}

/* gd_store_setup: on a kernel with XFS quotas a store that enforces limits, idempotent, and
 * torn down without a trace; on one without, a clear failure that leaves nothing. */
static void test_store_setup(void)
{
	private_mounts();
	_cleanup_free_ char *store = gdn_path_join(tap_tmp, "store");
	_cleanup_free_ char *backing = NULL;
	struct gdn_err *err = NULL;
	char dev[64];

	CHECK(asprintf(&backing, "%s.backing-store", store) > 0);
	CHECK_INTEQ(gd_store_setup(store, 1 << 20, NULL, &err), -EINVAL);
	err = gdn_err_free(err);
	int r = gd_store_setup(store, XFS_SIZE, NULL, &err);
	if (!kernel_has_xfs_quota()) {
		CHECK(r < 0);
		CHECK(strstr(gdn_err_str(err), "CONFIG_XFS_QUOTA is not set") != NULL);
		err = gdn_err_free(err);
		CHECK(access(backing, F_OK) < 0 && errno == ENOENT);
		CHECK(!gdn_fs_is_mountpoint(store));
		/* the device was let go at once */
		CHECK_OK(gd_store_teardown(store, NULL, &err), err);
		return;
	}
	CHECK_OK(r, err);
	CHECK(gdn_fs_is_mountpoint(store));
	CHECK_OK(gd_quota_probe(store, &err), err);
	CHECK_OK(gd_store_setup(store, XFS_SIZE, NULL, &err), err); /* idempotent */

	/* a project with limits, enforced, and its usage read back */
	_cleanup_free_ char *vol = gdn_path_join(store, "vol");
	CHECK(mkdir(vol, 0700) == 0);
	int vfd = open(vol, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(vfd >= 0);
	CHECK_OK(gd_quota_set_project(vfd, 77, &err), err);
	struct gd_quota_plan plan = {.bytes = 1 << 20, .inodes = 10};
	CHECK_OK(gd_quota_set_limits(vfd, 77, &plan, &err), err);
	struct gd_quota_usage u;
	CHECK_OK(gd_quota_get(vfd, 77, &u, &err), err);
	CHECK_INTEQ(u.byte_limit, 1 << 20);
	CHECK_INTEQ(u.inode_limit, 10);
	_cleanup_free_ char *big = gdn_path_join(vol, "big");
	int f = open(big, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CHECK(f >= 0);
	static char block[64 * 1024];
	ssize_t n = 0;
	int e = 0;
	for (int i = 0; i < 64; i++) {
		n = write(f, block, sizeof(block));
		if (n < 0) {
			e = errno;
			break;
		}
	}
	(void)close(f);
	/* XFS reports a project over its limit as ENOSPC (user and group quotas: EDQUOT) */
	CHECK(n < 0 && (e == ENOSPC || e == EDQUOT));
	CHECK_OK(gd_quota_get(vfd, 77, &u, &err), err);
	CHECK(u.bytes > 0 && u.bytes <= 1 << 20);
	CHECK(u.inodes >= 2);
	(void)close(vfd);

	CHECK_OK(gd_store_teardown(store, NULL, &err), err);
	CHECK(!gdn_fs_is_mountpoint(store));
	CHECK(access(backing, F_OK) < 0);
	CHECK_INTEQ(gd_loop_find(store, dev, sizeof(dev), NULL), -ENOENT);
}

int main(void)
{
	gdn_log_init("test", GDN_LOG_FATAL, 2);
	static const struct tap_test tests[] = {
	    TEST(test_plan),
	    TEST(test_project_ids),
	    TEST(test_probe_without_quotas),
	    TEST(test_loop_xfs_project_ids),
	    TEST(test_store_setup),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
