#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include "lib/fs.h"
#include "lib/path.h"
#include "test/unit/tap.h"

/* tap_tmp + "/" + rel; the returned strings live until the case ends. */
static const char *P(const char *rel)
{
	static char bufs[16][512];
	static int i;
	char *b = bufs[i++ % 16];

	snprintf(b, 512, "%s/%s", tap_tmp, rel);
	return b;
}

static void put(const char *path, const char *content)
{
	struct gdn_err *err = NULL;

	CHECK_OK(gdn_fs_write_atomic(path, content, strlen(content), 0644, &err), err);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static void check_content(const char *path, const char *want)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;

	CHECK_OK(gdn_fs_read_file(path, 1 << 20, &data, &len, &err), err);
	CHECK_STREQ(data, want);
	CHECK_INTEQ(len, strlen(want));
}

static int count_entries(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	CHECK(d != NULL);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	return n;
}

static void test_write_atomic_replaces(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct stat st;

	put(P("state.json"), "old");
	check_content(P("state.json"), "old");
	CHECK_OK(gdn_fs_write_atomic(P("state.json"), "new content", 11, 0600, &err), err);
	check_content(P("state.json"), "new content");
	CHECK(stat(P("state.json"), &st) == 0);
	CHECK_INTEQ(st.st_mode & 07777, 0600);
	CHECK_INTEQ(count_entries(tap_tmp), 1); /* no temp file left behind */
	CHECK_OK(gdn_fs_write_atomic(P("empty"), "", 0, 0640, &err), err);
	check_content(P("empty"), "");
	CHECK(stat(P("empty"), &st) == 0);
	CHECK_INTEQ(st.st_mode & 07777, 0640);
}

static void test_write_atomic_fails_cleanly(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;

	CHECK_INTEQ(gdn_fs_write_atomic(P("nodir/x"), "a", 1, 0644, &err), -ENOENT);
	CHECK(err != NULL);
	CHECK(strstr(gdn_err_str(err), "nodir/x.tmp.") != NULL);
	CHECK(mkdir(P("isdir"), 0755) == 0);
	err = gdn_err_free(err);
	CHECK_INTEQ(gdn_fs_write_atomic(P("isdir"), "a", 1, 0644, &err), -EISDIR);
	CHECK_INTEQ(count_entries(tap_tmp), 1);
}

static void test_write_file_needs_the_file(void)
{
	_cleanup_err_ struct gdn_err *err = NULL, *err2 = NULL;

	CHECK_INTEQ(gdn_fs_write_file(P("absent"), "1", 1, &err), -ENOENT);
	CHECK(strstr(gdn_err_str(err), "absent") != NULL);
	CHECK_INTEQ(count_entries(tap_tmp), 0);
	put(P("knob"), "longer old value");
	CHECK_OK(gdn_fs_write_file(P("knob"), "300\n", 4, &err2), err2);
	check_content(P("knob"), "300\n");
}

static void test_read_file_errors(void)
{
	_cleanup_err_ struct gdn_err *err = NULL, *err2 = NULL;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;

	CHECK_INTEQ(gdn_fs_read_file(P("missing"), 100, &data, &len, &err), -ENOENT);
	CHECK(err != NULL);
	CHECK(strstr(gdn_err_str(err), "missing") != NULL);
	put(P("ten"), "0123456789");
	CHECK_INTEQ(gdn_fs_read_file(P("ten"), 9, &data, &len, &err2), -EFBIG);
	CHECK(data == NULL);
	CHECK_OK(gdn_fs_read_file(P("ten"), 10, &data, &len, &err2), err2);
	CHECK_STREQ(data, "0123456789");
}

static void test_read_file_proc_and_big(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *data = NULL, *big = malloc(100000), *got = NULL;
	size_t len = 0;

	/* procfs reports size 0: the reader must not trust st_size */
	CHECK_OK(gdn_fs_read_file("/proc/self/status", 1 << 20, &data, &len, &err), err);
	CHECK(strstr(data, "Pid:") != NULL);
	CHECK_INTEQ(strlen(data), len);
	CHECK(big != NULL);
	memset(big, 'z', 100000);
	CHECK_OK(gdn_fs_write_atomic(P("big"), big, 100000, 0644, &err), err);
	CHECK_OK(gdn_fs_read_file(P("big"), 100000, &got, &len, &err), err);
	CHECK_INTEQ(len, 100000);
	CHECK(memcmp(got, big, 100000) == 0 && got[100000] == '\0');
}

static void test_mkdir_p(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct stat st;

	CHECK_OK(gdn_fs_mkdir_p(P("a/b//c/d/"), 0700, &err), err);
	CHECK(stat(P("a/b/c/d"), &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_INTEQ(st.st_mode & 0777, 0700);
	CHECK_OK(gdn_fs_mkdir_p(P("a/b/c/d"), 0700, &err), err);
	CHECK_OK(gdn_fs_mkdir_p(tap_tmp, 0700, &err), err);
	put(P("file"), "x");
	CHECK_INTEQ(gdn_fs_mkdir_p(P("file/sub"), 0700, &err), -ENOTDIR);
	CHECK(err != NULL);
	err = gdn_err_free(err);

	/* The umask does not narrow the mode of what it creates, nor touch what exists. */
	mode_t old = umask(077);
	CHECK_OK(gdn_fs_mkdir_p(P("a/u/v"), 0755, &err), err);
	umask(old);
	CHECK(stat(P("a/u"), &st) == 0 && (st.st_mode & 0777) == 0755);
	CHECK(stat(P("a/u/v"), &st) == 0 && (st.st_mode & 0777) == 0755);
	CHECK(stat(P("a"), &st) == 0 && (st.st_mode & 0777) == 0700);
}

static void test_rm_rf_symlinks(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;

	CHECK_OK(gdn_fs_mkdir_p(P("t/a/b/c"), 0755, &err), err);
	CHECK_OK(gdn_fs_mkdir_p(P("outside/dir"), 0755, &err), err);
	put(P("outside/dir/precious"), "keep");
	put(P("outside/file"), "keep");
	put(P("t/a/b/c/f1"), "x");
	put(P("t/a/f2"), "x");
	CHECK(symlink(P("outside/dir"), P("t/a/dirlink")) == 0);
	CHECK(symlink(P("outside/file"), P("t/a/b/filelink")) == 0);
	CHECK(symlink("/nonexistent/dangling", P("t/dangling")) == 0);
	CHECK(symlink("../outside", P("t/a/b/c/rel")) == 0);
	CHECK(mkfifo(P("t/a/fifo"), 0600) == 0);
	CHECK(chmod(P("t/a/b"), 0500) == 0); /* root can still remove inside it */
	CHECK_OK(gdn_fs_rm_rf(P("t"), &err), err);
	CHECK(!exists(P("t")));
	check_content(P("outside/dir/precious"), "keep");
	check_content(P("outside/file"), "keep");
}

static void test_rm_rf_edge_cases(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;

	CHECK_OK(gdn_fs_rm_rf(P("missing"), &err), err);
	CHECK_OK(gdn_fs_rm_rf(P("missing/deeper"), &err), err);
	put(P("file"), "x");
	CHECK_OK(gdn_fs_rm_rf(P("file"), &err), err);
	CHECK(!exists(P("file")));
	/* a symlink to a directory: only the link goes */
	CHECK(mkdir(P("dir"), 0755) == 0);
	put(P("dir/inner"), "x");
	CHECK(symlink(P("dir"), P("link")) == 0);
	CHECK_OK(gdn_fs_rm_rf(P("link"), &err), err);
	CHECK(!exists(P("link")));
	check_content(P("dir/inner"), "x");
	CHECK_INTEQ(gdn_fs_rm_rf("", &err), -EINVAL);
}

/* A private mount namespace: every mount made here disappears when the case's process exits,
 * even if it crashes half-way. */
static void private_mounts(void)
{
	if (unshare(CLONE_NEWNS) < 0)
		SKIP("cannot unshare the mount namespace");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		SKIP("cannot make mounts private");
}

static void test_rm_rf_refuses_tmpfs(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;

	private_mounts();
	CHECK_OK(gdn_fs_mkdir_p(P("t/sub/mnt"), 0755, &err), err);
	put(P("t/sibling"), "x");
	if (mount("tmpfs", P("t/sub/mnt"), "tmpfs", 0, "size=1m") < 0)
		SKIP("cannot mount tmpfs");
	put(P("t/sub/mnt/keep"), "mounted");
	CHECK(gdn_fs_is_mountpoint(P("t/sub/mnt")));
	CHECK(!gdn_fs_is_mountpoint(P("t/sub")));
	CHECK_INTEQ(gdn_fs_rm_rf(P("t"), &err), -EBUSY);
	CHECK(strstr(gdn_err_str(err), "t/sub/mnt") != NULL);
	check_content(P("t/sub/mnt/keep"), "mounted");
	CHECK(!exists(P("t/sibling"))); /* everything else went */
	err = gdn_err_free(err);
	/* the mount point itself is refused too */
	CHECK_INTEQ(gdn_fs_rm_rf(P("t/sub/mnt"), &err), -EBUSY);
	check_content(P("t/sub/mnt/keep"), "mounted");
	CHECK(umount2(P("t/sub/mnt"), MNT_DETACH) == 0);
	err = gdn_err_free(err);
	CHECK_OK(gdn_fs_rm_rf(P("t"), &err), err);
	CHECK(!exists(P("t")));
}

static void test_rm_rf_refuses_bind_mount(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct stat a, b;

	private_mounts();
	CHECK_OK(gdn_fs_mkdir_p(P("src/deep"), 0755, &err), err);
	put(P("src/deep/precious"), "bound");
	CHECK_OK(gdn_fs_mkdir_p(P("t/x/bind"), 0755, &err), err);
	if (mount(P("src"), P("t/x/bind"), NULL, MS_BIND, NULL) < 0)
		SKIP("cannot bind mount");
	/* same filesystem, so st_dev alone cannot tell */
	CHECK(stat(P("src"), &a) == 0 && stat(P("t/x/bind"), &b) == 0);
	CHECK(a.st_dev == b.st_dev);
	CHECK(gdn_fs_is_mountpoint(P("t/x/bind")));
	CHECK_INTEQ(gdn_fs_rm_rf(P("t"), &err), -EBUSY);
	check_content(P("src/deep/precious"), "bound");
	check_content(P("t/x/bind/deep/precious"), "bound");
	CHECK(umount2(P("t/x/bind"), MNT_DETACH) == 0);
	err = gdn_err_free(err);
	CHECK_OK(gdn_fs_rm_rf(P("t"), &err), err);
	check_content(P("src/deep/precious"), "bound");
}

static void test_rm_rf_bind_mounted_file(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;

	private_mounts();
	put(P("hostfile"), "host");
	CHECK_OK(gdn_fs_mkdir_p(P("t/etc"), 0755, &err), err);
	put(P("t/etc/resolv.conf"), "");
	if (mount(P("hostfile"), P("t/etc/resolv.conf"), NULL, MS_BIND, NULL) < 0)
		SKIP("cannot bind mount");
	CHECK_INTEQ(gdn_fs_rm_rf(P("t"), &err), -EBUSY);
	check_content(P("hostfile"), "host");
	CHECK(umount2(P("t/etc/resolv.conf"), MNT_DETACH) == 0);
}

static void test_is_mountpoint(void)
{
	CHECK(gdn_fs_is_mountpoint("/"));
	CHECK(gdn_fs_is_mountpoint("/proc"));
	CHECK(!gdn_fs_is_mountpoint(P("missing")));
	CHECK(mkdir(P("d"), 0755) == 0);
	CHECK(!gdn_fs_is_mountpoint(P("d")));
}

static void test_fd_helpers(void)
{
	int p[2], fd, flags;
	char buf[8];

	CHECK(pipe2(p, 0) == 0); /* lint-ok: tests gdn_fd_set_cloexec on a plain fd */
	CHECK(!(fcntl(p[0], F_GETFD) & FD_CLOEXEC));
	CHECK_INTEQ(gdn_fd_set_cloexec(p[0]), 0);
	CHECK_INTEQ(gdn_fd_set_cloexec(p[1]), 0);
	CHECK(fcntl(p[0], F_GETFD) & FD_CLOEXEC);
	CHECK_INTEQ(gdn_fd_set_nonblock(p[0], true), 0);
	flags = fcntl(p[0], F_GETFL);
	CHECK(flags & O_NONBLOCK);
	CHECK_INTEQ(read(p[0], buf, 1), -1);
	CHECK_INTEQ(errno, EAGAIN);
	CHECK_INTEQ(gdn_fd_set_nonblock(p[0], false), 0);
	CHECK(!(fcntl(p[0], F_GETFL) & O_NONBLOCK));
	CHECK_INTEQ(gdn_fd_write_all(p[1], "hello", 5), 5);
	close(p[1]);
	CHECK_INTEQ(gdn_fd_read_all(p[0], buf, sizeof(buf)), 5); /* stops at EOF */
	CHECK(memcmp(buf, "hello", 5) == 0);
	close(p[0]);
	fd = 999;
	CHECK_INTEQ(gdn_fd_set_cloexec(fd), -EBADF);
	CHECK_INTEQ(gdn_fd_write_all(fd, "x", 1), -EBADF);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_write_atomic_replaces),
	    TEST(test_write_atomic_fails_cleanly),
	    TEST(test_write_file_needs_the_file),
	    TEST(test_read_file_errors),
	    TEST(test_read_file_proc_and_big),
	    TEST(test_mkdir_p),
	    TEST(test_rm_rf_symlinks),
	    TEST(test_rm_rf_edge_cases),
	    TEST(test_rm_rf_refuses_tmpfs),
	    TEST(test_rm_rf_refuses_bind_mount),
	    TEST(test_rm_rf_bind_mounted_file),
	    TEST(test_is_mountpoint),
	    TEST(test_fd_helpers),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
