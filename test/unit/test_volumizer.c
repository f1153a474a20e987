/* clang-format off */
/* link: cmd/guardian/volumizer.c cmd/guardian/volume_store.c cmd/guardian/mountinfo.c cmd/guardian/quota.c cmd/guardian/disk_usage.c */
/* clang-format on */
#include <sched.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <linux/capability.h>

#include "test/unit/tap.h"
#include "lib/fs.h"
#include "lib/log.h"
#include "lib/path.h"
#include "cmd/guardian/mountinfo.h"
#include "cmd/guardian/volume_store.h"
#include "cmd/guardian/volumizer.h"

#define MAXID 4294967294u

static struct gd_config shift_cfg(const char *store)
{
	/* a mapping that is not the identity for ids >= 1, to see every id move */
	struct gd_config cfg = {
	    .store = store,
	    .maxid = MAXID,
	    .uid_map_start = 100000,
	    .uid_map_length = 65536,
	    .gid_map_start = 200000,
	    .gid_map_length = 65536,
	};
	return cfg;
}

static char *tmp_path(const char *name)
{
	char *p = gdn_path_join(tap_tmp, name);
	CHECK(p);
	return p;
}

static void need_root(void)
{
	if (geteuid() != 0)
		SKIP("needs root");
}

/* Runs the rest of the test in a private mount namespace: mounts vanish with the test. */
static void private_mounts(void)
{
	need_root();
	if (unshare(CLONE_NEWNS) < 0)
		SKIP("cannot unshare the mount namespace");
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
}

static void make_file(const char *dir, const char *name, uid_t uid, gid_t gid, mode_t mode)
{
	_cleanup_free_ char *p = gdn_path_join(dir, name);
	struct gdn_err *err = NULL;
	CHECK_OK(gdn_fs_write_atomic(p, "x", 1, mode, &err), err);
	CHECK(chown(p, uid, gid) == 0);
	CHECK(chmod(p, mode) == 0);
}

static void check_owner(const char *dir, const char *name, uid_t uid, gid_t gid)
{
	_cleanup_free_ char *p = gdn_path_join(dir, name);
	struct stat st;
	if (lstat(p, &st) < 0)
		tap_fail_(__FILE__, __LINE__, "lstat '%s': %s", p, strerror(errno));
	if (st.st_uid != uid || st.st_gid != gid)
		tap_fail_(__FILE__, __LINE__, "'%s' is %u:%u, wanted %u:%u", name,
			  (unsigned)st.st_uid, (unsigned)st.st_gid, (unsigned)uid, (unsigned)gid);
}

static void test_idmap(void)
{
	CHECK_INTEQ(gd_idmap_host(MAXID, 1, MAXID - 1, 0), MAXID);
	CHECK_INTEQ(gd_idmap_host(MAXID, 1, MAXID - 1, 1), 1);
	CHECK_INTEQ(gd_idmap_host(MAXID, 1, MAXID - 1, 1000), 1000);
	CHECK_INTEQ(gd_idmap_host(MAXID, 1, MAXID - 1, MAXID - 1), MAXID - 1);
	CHECK_INTEQ(gd_idmap_host(MAXID, 100000, 65536, 1), 100000);
	CHECK_INTEQ(gd_idmap_host(MAXID, 100000, 65536, 65536), 165535);
	/* outside the mapping: the container root's host id */
	CHECK_INTEQ(gd_idmap_host(MAXID, 100000, 65536, 65537), MAXID);
	CHECK_INTEQ(gd_idmap_host(MAXID, 100000, 0, 5), MAXID);
	/* no overflow past UINT32_MAX */
	CHECK_INTEQ(gd_idmap_host(MAXID, 4294967000u, 1000, 999), MAXID);
}

static void test_mountinfo_parse(void)
{
	_cleanup_free_ char *path = tmp_path("mountinfo");
	const char *text =
	    "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
	    "27 1 254:0 / / rw,relatime shared:1 master:2 - ext4 /dev/vda rw,discard\n"
	    "44 27 0:39 / /tmp/a\\040b/m rw,relatime - overlay overlay "
	    "rw,lowerdir=/l,upperdir=/u,workdir=/w\n"
	    "45 27 0:40 /sub /mnt/x rw - tmpfs my\\134src rw\n"
	    "garbage line\n";
	struct gdn_err *err = NULL;
	CHECK_OK(gdn_fs_write_atomic(path, text, strlen(text), 0644, &err), err);
	_cleanup_mounts_ struct gd_mounts m = {0};
	CHECK_OK(gd_mountinfo_read(path, &m, &err), err);
	CHECK_INTEQ(m.n, 4);
	CHECK_STREQ(m.v[1].target, "/");
	CHECK_STREQ(m.v[1].fstype, "ext4");
	CHECK_STREQ(m.v[1].source, "/dev/vda");
	CHECK_STREQ(m.v[2].target, "/tmp/a b/m");
	CHECK_STREQ(m.v[2].fstype, "overlay");
	CHECK(gd_opts_has(m.v[2].super_opts, "workdir=/w"));
	CHECK(!gd_opts_has(m.v[2].super_opts, "workdir"));
	CHECK_STREQ(m.v[3].root, "/sub");
	CHECK_STREQ(m.v[3].source, "my\\src");
}

static void test_shifted_copy(void)
{
	need_root();
	_cleanup_free_ char *base = tmp_path("base");
	_cleanup_free_ char *store = tmp_path("store");
	_cleanup_free_ char *lnk1 = NULL;
	_cleanup_free_ char *lnk2 = NULL;
	struct gdn_err *err = NULL;

	CHECK(mkdir(base, 0755) == 0);
	make_file(base, "root-file", 0, 0, 0644);
	make_file(base, "user-file", 1000, 1000, 0600);
	make_file(base, "nobody-file", 65534, 65534, 0644);
	make_file(base, "unmapped-file", 70000, 70000, 0644);
	make_file(base, "suid", 0, 0, 04755);
	make_file(base, "hard1", 1000, 1001, 0644);
	make_file(base, "caps", 0, 0, 0755);
	lnk1 = gdn_path_join(base, "hard1");
	lnk2 = gdn_path_join(base, "hard2");
	CHECK(lnk1 && lnk2 && link(lnk1, lnk2) == 0);
	_cleanup_free_ char *sym = gdn_path_join(base, "sym");
	CHECK(symlink("root-file", sym) == 0);
	CHECK(lchown(sym, 1000, 1000) == 0);
	/* a v2 file capability (cap_net_raw, effective) */
	_cleanup_free_ char *capsf = gdn_path_join(base, "caps");
	struct vfs_cap_data v2 = {.magic_etc =
				      htole32(VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE)};
	v2.data[0].permitted = htole32(1u << 13);
	bool have_caps = setxattr(capsf, "security.capability", &v2, XATTR_CAPS_SZ_2, 0) == 0;

	struct gd_config cfg = shift_cfg(store);
	_cleanup_free_ char *copy = NULL;
	CHECK_OK(gd_volume_shifted(&cfg, base, NULL, &copy, &err), err);
	CHECK(strncmp(copy, store, strlen(store)) == 0);

	check_owner(copy, ".", MAXID, MAXID);
	check_owner(copy, "root-file", MAXID, MAXID);
	check_owner(copy, "user-file", 100999, 200999);
	check_owner(copy, "nobody-file", 100000 + 65533, 200000 + 65533);
	check_owner(copy, "unmapped-file", MAXID, MAXID);
	check_owner(copy, "sym", 100999, 200999);
	/* hard links are shifted once */
	check_owner(copy, "hard1", 100999, 201000);
	check_owner(copy, "hard2", 100999, 201000);
	struct stat st;
	_cleanup_free_ char *suid = gdn_path_join(copy, "suid");
	CHECK(stat(suid, &st) == 0);
	CHECK_INTEQ(st.st_mode & 07777, 04755);
	if (have_caps) {
		_cleanup_free_ char *c = gdn_path_join(copy, "caps");
		struct vfs_ns_cap_data v3;
		CHECK_INTEQ(getxattr(c, "security.capability", &v3, sizeof(v3)), XATTR_CAPS_SZ_3);
		CHECK_INTEQ(le32toh(v3.magic_etc), VFS_CAP_REVISION_3 | VFS_CAP_FLAGS_EFFECTIVE);
		CHECK_INTEQ(le32toh(v3.rootid), MAXID);
		CHECK_INTEQ(le32toh(v3.data[0].permitted), 1u << 13);
	}

	/* the base is untouched */
	check_owner(base, "root-file", 0, 0);
	check_owner(base, "user-file", 1000, 1000);

	/* built once: the same path again */
	_cleanup_free_ char *again = NULL;
	CHECK_OK(gd_volume_shifted(&cfg, base, NULL, &again, &err), err);
	CHECK_STREQ(again, copy);

	/* a change of the base's root dir makes a new generation, and the old one (unused by
	 * any mount) is collected */
	make_file(base, "new-file", 0, 0, 0644);
	_cleanup_free_ char *fresh = NULL;
	CHECK_OK(gd_volume_shifted(&cfg, base, NULL, &fresh, &err), err);
	CHECK(strcmp(fresh, copy) != 0);
	check_owner(fresh, "new-file", MAXID, MAXID);
	CHECK(access(copy, F_OK) < 0 && errno == ENOENT);

	/* another mapping is another cache entry */
	cfg.uid_map_start = 1;
	_cleanup_free_ char *other = NULL;
	CHECK_OK(gd_volume_shifted(&cfg, base, NULL, &other, &err), err);
	CHECK(strcmp(other, fresh) != 0);
	check_owner(other, "user-file", 1000, 200999);
	CHECK(access(fresh, F_OK) == 0);
}

static void test_concurrent_first_builds_build_once(void)
{
	need_root();
	_cleanup_free_ char *base = tmp_path("base");
	_cleanup_free_ char *store = tmp_path("store");
	CHECK(mkdir(base, 0755) == 0);
	for (int i = 0; i < 50; i++) {
		char name[16];
		snprintf(name, sizeof(name), "f%d", i);
		make_file(base, name, (uid_t)i, (gid_t)i, 0644);
	}
	struct gd_config cfg = shift_cfg(store);
	pid_t kids[10];
	for (int i = 0; i < 10; i++) {
		kids[i] = fork();
		CHECK(kids[i] >= 0);
		if (kids[i] == 0) {
			struct gdn_err *err = NULL;
			char *path = NULL;
			_exit(gd_volume_shifted(&cfg, base, NULL, &path, &err) < 0 ? 1 : 0);
		}
	}
	for (int i = 0; i < 10; i++) {
		int status = 0;
		CHECK(waitpid(kids[i], &status, 0) == kids[i]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	/* one generation, no build leftovers */
	_cleanup_free_ char *shifted = gdn_path_join(store, "shifted");
	_cleanup_closedir_ DIR *d = opendir(shifted);
	CHECK(d);
	struct dirent *e;
	char keydir[512] = "";
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && !strstr(e->d_name, ".lock"))
			snprintf(keydir, sizeof(keydir), "%s/%s", shifted, e->d_name);
	_cleanup_closedir_ DIR *k = opendir(keydir);
	CHECK(k);
	int gens = 0, tmps = 0;
	while ((e = readdir(k))) {
		gens += strncmp(e->d_name, "rootfs.", 7) == 0;
		tmps += strncmp(e->d_name, "tmp.", 4) == 0;
	}
	CHECK_INTEQ(gens, 1);
	CHECK_INTEQ(tmps, 0);
}

static void test_volume_create_and_unmount(void)
{
	private_mounts();
	_cleanup_free_ char *base = tmp_path("base");
	_cleanup_free_ char *store = tmp_path("store");
	_cleanup_free_ char *dir = tmp_path("depot-h");
	struct gdn_err *err = NULL;
	CHECK(mkdir(base, 0751) == 0);
	make_file(base, "etc-file", 0, 0, 0644);
	CHECK(mkdir(dir, 0755) == 0);

	struct gd_config cfg = shift_cfg(store);
	CHECK_OK(gd_volume_create(&cfg, dir, base, false, NULL, NULL, &err), err);
	_cleanup_free_ char *rootfs = gdn_path_join(dir, "rootfs");
	CHECK(gdn_fs_is_mountpoint(rootfs));
	/* the merged root belongs to the container's root, with the base root's mode */
	struct stat st;
	CHECK(stat(rootfs, &st) == 0);
	CHECK_INTEQ(st.st_uid, MAXID);
	CHECK_INTEQ(st.st_gid, MAXID);
	CHECK_INTEQ(st.st_mode & 07777, 0751);
	check_owner(rootfs, "etc-file", MAXID, MAXID);
	make_file(rootfs, "written", 0, 0, 0644);
	_cleanup_free_ char *in_base = gdn_path_join(base, "written");
	CHECK(access(in_base, F_OK) < 0);

	/* a nested mount too; deepest first */
	_cleanup_free_ char *nested = gdn_path_join(rootfs, "etc-dir");
	CHECK(mkdir(nested, 0755) == 0);
	CHECK(mount("tmpfs", nested, "tmpfs", 0, NULL) == 0);
	CHECK_OK(gd_volume_unmount_all(dir, NULL, &err), err);
	CHECK(!gdn_fs_is_mountpoint(rootfs));
	CHECK(!gdn_fs_is_mountpoint(nested));
	CHECK_OK(gdn_fs_rm_rf(dir, &err), err);
	/* a missing dir is fine */
	CHECK_OK(gd_volume_unmount_all(dir, NULL, &err), err);
}

/* Once detached, the overlay is in no mount guardian can see: the recorded lowerdir is what keeps
 * its generation of the shifted copy alive, and what mounts the volume again. */
static void test_detached_volume_keeps_its_lower(void)
{
	private_mounts();
	_cleanup_free_ char *base = tmp_path("base-d");
	_cleanup_free_ char *store = tmp_path("store-d");
	_cleanup_free_ char *depot = tmp_path("depot-d");
	_cleanup_free_ char *dir = gdn_path_join(depot, "h");
	_cleanup_free_ char *rootfs = gdn_path_join(dir, "rootfs");
	_cleanup_free_ char *record = gdn_path_join(dir, "volume/" GD_VOLUME_LOWERDIR);
	_cleanup_free_ char *lower = NULL;
	_cleanup_free_ char *copy = NULL;
	_cleanup_free_ char *fresh = NULL;
	_cleanup_free_ char *last = NULL;
	struct gdn_err *err = NULL;
	size_t len = 0;

	CHECK(mkdir(base, 0755) == 0);
	make_file(base, "etc-file", 0, 0, 0644);
	CHECK(mkdir(depot, 0755) == 0 && mkdir(dir, 0755) == 0);
	struct gd_config cfg = shift_cfg(store);
	cfg.depot = depot;
	CHECK_OK(gd_volume_create(&cfg, dir, base, false, NULL, NULL, &err), err);
	CHECK_OK(gd_volume_shifted(&cfg, base, NULL, &copy, &err), err);
	CHECK_OK(gdn_fs_read_file(record, 4096, &lower, &len, &err), err);
	CHECK_STREQ(lower, copy);
	make_file(rootfs, "written", 0, 0, 0644);

	gd_volume_detach(dir, NULL);
	CHECK(!gdn_fs_is_mountpoint(rootfs));
	/* a new generation: the old one is no mount's lower any more, but the record keeps it */
	make_file(base, "new-file", 0, 0, 0644);
	CHECK_OK(gd_volume_shifted(&cfg, base, NULL, &fresh, &err), err);
	CHECK(strcmp(fresh, copy) != 0);
	CHECK(access(copy, F_OK) == 0);

	/* mounted again: the same files, what the container wrote included */
	CHECK_OK(gd_volume_mount(dir, rootfs, &err), err);
	check_owner(rootfs, "etc-file", MAXID, MAXID);
	check_owner(rootfs, "written", 0, 0);
	_cleanup_free_ char *not_new = gdn_path_join(rootfs, "new-file");
	CHECK(access(not_new, F_OK) < 0);
	CHECK_OK(gd_volume_unmount_all(dir, NULL, &err), err);

	/* the container gone, its generation goes at the next build check */
	CHECK_OK(gdn_fs_rm_rf(dir, &err), err);
	CHECK_OK(gd_volume_shifted(&cfg, base, NULL, &last, &err), err);
	CHECK_STREQ(last, fresh);
	CHECK(access(copy, F_OK) < 0 && errno == ENOENT);

	/* no record, nothing to mount */
	CHECK(mkdir(dir, 0755) == 0);
	CHECK_INTEQ(gd_volume_mount(dir, rootfs, &err), -ENOENT);
	gdn_err_free(err);
}

static void test_privileged_volume_uses_base(void)
{
	private_mounts();
	_cleanup_free_ char *base = tmp_path("base");
	_cleanup_free_ char *dir = tmp_path("depot-p");
	struct gdn_err *err = NULL;
	CHECK(mkdir(base, 0755) == 0);
	make_file(base, "f", 1000, 1000, 0644);
	CHECK(mkdir(dir, 0755) == 0);

	_cleanup_free_ char *store = tmp_path("store-p");
	struct gd_config cfg = shift_cfg(store); /* the volume lives there */
	CHECK_OK(gd_volume_create(&cfg, dir, base, true, NULL, NULL, &err), err);
	_cleanup_free_ char *rootfs = gdn_path_join(dir, "rootfs");
	check_owner(rootfs, "f", 1000, 1000);
	check_owner(rootfs, ".", 0, 0);
	CHECK_OK(gd_volume_unmount_all(dir, NULL, &err), err);
}

static void test_volume_create_errors(void)
{
	need_root();
	_cleanup_free_ char *dir = tmp_path("depot-x");
	struct gdn_err *err = NULL;
	CHECK(mkdir(dir, 0755) == 0);
	struct gd_config cfg = shift_cfg(tap_tmp);
	CHECK_INTEQ(gd_volume_create(&cfg, dir, "/nonexistent/rootfs", false, NULL, NULL, &err),
		    -ENOENT);
	CHECK(strstr(gdn_err_str(err), "/nonexistent/rootfs") != NULL);
	gdn_err_free(err);
}

static void test_volume_names(void)
{
	static const struct {
		const char *dir, *name;
	} cases[] = {
	    {"/d/depot/h1", "h1"},
	    {"/d/depot/h1/processes/p1", "h1@p1"},
	    {"depot/processes", "processes"},
	    {"/processes/p", "p"},
	    {"/d/x/yprocesses/p", "p"},
	};
	for (size_t i = 0; i < GDN_ARRAY_SIZE(cases); i++) {
		char *n = gd_volume_name(cases[i].dir);
		CHECK_STREQ(n, cases[i].name);
		free(n);
	}
}

int main(void)
{
	gdn_log_init("test", GDN_LOG_FATAL, 2);
	static const struct tap_test tests[] = {
	    TEST(test_idmap),
	    TEST(test_volume_names),
	    TEST(test_mountinfo_parse),
	    TEST(test_shifted_copy),
	    TEST(test_concurrent_first_builds_build_once),
	    TEST(test_volume_create_and_unmount),
	    TEST(test_detached_volume_keeps_its_lower),
	    TEST(test_privileged_volume_uses_base),
	    TEST(test_volume_create_errors),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
