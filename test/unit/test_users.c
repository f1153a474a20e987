/* link: cmd/guardian/users.c */
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <bsd/string.h>
#include <sys/stat.h>

#include "test/unit/tap.h"
#include "lib/macro.h"
#include "cmd/guardian/users.h"

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
			     "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
			     "vcap:x:1000:1001:vcap user:/home/vcap:/bin/sh\n"
			     "nohome:x:1002:1002:no home dir::/bin/sh\n";

static const char group[] = "root:x:0:\n"
			    "vcap:x:1001:\n"
			    "adm:x:4:syslog,vcap\n"
			    "audio:x:29:vcapx\n"
			    "video:x:44:daemon,vcap,nohome\n";

static struct gd_user lookup_ok(const char *pw, const char *gr, const char *user)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gd_user u;

	memset(&u, 0x5a, sizeof(u));
	if (gd_user_lookup(pw, gr, user, &u, &err) < 0)
		tap_fail_(__FILE__, __LINE__, "lookup '%s': %s", user ? user : "(null)",
			  gdn_err_str(err));
	return u;
}

/* `user` is refused with -errnum and exactly the message `want`; *ret is left alone. */
static void lookup_fails(const char *pw, const char *gr, const char *user, int errnum,
			 const char *want)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gd_user u = {.uid = 77, .gid = 78};
	int r = gd_user_lookup(pw, gr, user, &u, &err);

	if (r != -errnum)
		tap_fail_(__FILE__, __LINE__, "lookup '%s' returned %d, wanted %d", user, r,
			  -errnum);
	CHECK_STREQ(gdn_err_str(err), want);
	CHECK(err->kind == GDN_ERR_GENERIC);
	CHECK(u.uid == 77 && u.gid == 78);
}

static void test_by_name(void)
{
	struct gd_user u = lookup_ok(passwd, group, "vcap");

	CHECK_INTEQ(u.uid, 1000);
	CHECK_INTEQ(u.gid, 1001);
	CHECK_STREQ(u.name, "vcap");
	CHECK_STREQ(u.home, "/home/vcap");
	/* adm and video list vcap; its primary group 1001 and audio ("vcapx") do not count */
	CHECK_INTEQ(u.n_groups, 2);
	CHECK_INTEQ(u.groups[0], 4);
	CHECK_INTEQ(u.groups[1], 44);
}

static void test_empty_and_null_user_are_root(void)
{
	struct gd_user u = lookup_ok(passwd, group, "");

	CHECK_INTEQ(u.uid, 0);
	CHECK_INTEQ(u.gid, 0);
	CHECK_STREQ(u.name, "root");
	CHECK_STREQ(u.home, "/root");
	CHECK_INTEQ(u.n_groups, 0);
	u = lookup_ok(passwd, group, NULL);
	CHECK_STREQ(u.name, "root");
	CHECK_STREQ(u.home, "/root");
}

static void test_by_uid(void)
{
	struct gd_user u = lookup_ok(passwd, group, "1000");

	/* the passwd entry lends the gid, name, home and groups */
	CHECK_INTEQ(u.uid, 1000);
	CHECK_INTEQ(u.gid, 1001);
	CHECK_STREQ(u.name, "vcap");
	CHECK_STREQ(u.home, "/home/vcap");
	CHECK_INTEQ(u.n_groups, 2);
}

static void test_uid_without_entry(void)
{
	struct gd_user u = lookup_ok(passwd, group, "4242");

	CHECK_INTEQ(u.uid, 4242);
	CHECK_INTEQ(u.gid, 4242);
	CHECK_STREQ(u.name, "");
	CHECK_STREQ(u.home, "/");
	CHECK_INTEQ(u.n_groups, 0);
	/* the largest uid; no passwd at all */
	u = lookup_ok(NULL, NULL, "4294967295");
	CHECK(u.uid == 4294967295u && u.gid == 4294967295u);
	CHECK_STREQ(u.home, "/");
}

static void test_uid_gid(void)
{
	struct gd_user u = lookup_ok(passwd, group, "1000:50");

	CHECK_INTEQ(u.uid, 1000);
	CHECK_INTEQ(u.gid, 50);
	CHECK_STREQ(u.name, "vcap");
	/* vcap's own group (1001) lists no members, so it does not become supplementary */
	CHECK_INTEQ(u.n_groups, 2);
	u = lookup_ok(passwd, group, "4242:4343");
	CHECK_INTEQ(u.uid, 4242);
	CHECK_INTEQ(u.gid, 4343);
	CHECK_STREQ(u.home, "/");
}

static void test_name_gid(void)
{
	struct gd_user u = lookup_ok(passwd, group, "vcap:44");

	CHECK_INTEQ(u.uid, 1000);
	CHECK_INTEQ(u.gid, 44);
	/* video (44) is now the primary group: only adm is supplementary */
	CHECK_INTEQ(u.n_groups, 1);
	CHECK_INTEQ(u.groups[0], 4);
}

static void test_group_must_be_numeric(void)
{
	lookup_fails(passwd, group, "vcap:vcap", EINVAL,
		     "invalid user 'vcap:vcap': the group must be numeric");
	lookup_fails(passwd, group, "1000:", EINVAL,
		     "invalid user '1000:': the group must be numeric");
	lookup_fails(passwd, group, "1000:-1", EINVAL,
		     "invalid user '1000:-1': the group must be numeric");
}

static void test_missing_user(void)
{
	lookup_fails(passwd, group, "alice", ENOENT,
		     "unable to find user alice: no matching entries in passwd file");
	/* no /etc/passwd: only root can be named */
	lookup_fails(NULL, group, "vcap", ENOENT,
		     "unable to find user vcap: no matching entries in passwd file");
	/* out of range or signed: a name, which does not exist */
	lookup_fails(passwd, group, "4294967296", ENOENT,
		     "unable to find user 4294967296: no matching entries in passwd file");
	lookup_fails(passwd, group, "-1", ENOENT,
		     "unable to find user -1: no matching entries in passwd file");
	/* a prefix of a name is not the name */
	lookup_fails(passwd, group, "vca", ENOENT,
		     "unable to find user vca: no matching entries in passwd file");
}

static void test_root_without_passwd(void)
{
	/* a rootfs without /etc/passwd (or without a root entry) still runs as root */
	struct gd_user u = lookup_ok(NULL, NULL, "root");

	CHECK_INTEQ(u.uid, 0);
	CHECK_INTEQ(u.gid, 0);
	CHECK_STREQ(u.name, "root");
	CHECK_STREQ(u.home, "/");
	u = lookup_ok("vcap:x:1000:1000::/home/vcap:/bin/sh\n", NULL, "");
	CHECK_INTEQ(u.uid, 0);
	CHECK_STREQ(u.home, "/");
	/* but a passwd whose root line is broken does not fall back */
	lookup_fails("root:x:zero:0:root:/root:/bin/sh\n", NULL, "root", ENOENT,
		     "unable to find user root: no matching entries in passwd file");
}

static void test_odd_passwd_lines(void)
{
	static const char odd[] = "\n"
				  "# a comment:x:1:1::/c:/bin/sh\n"
				  "short:x:1003:1003\n"
				  "badid:x:abc:1003::/bad:/bin/sh\n"
				  "badgid:x:1004:-5::/bad:/bin/sh\n"
				  "\n\n"
				  "spaces:x: 1005:1005::/bad:/bin/sh\n"
				  "ok:x:1006:1007:gecos, with: colons?:/home/ok:/bin/sh\n"
				  "last:x:1008:1008::/home/last:/bin/sh";
	struct gd_user u;

	lookup_fails(odd, NULL, "short", ENOENT,
		     "unable to find user short: no matching entries in passwd file");
	lookup_fails(odd, NULL, "badid", ENOENT,
		     "unable to find user badid: no matching entries in passwd file");
	lookup_fails(odd, NULL, "badgid", ENOENT,
		     "unable to find user badgid: no matching entries in passwd file");
	lookup_fails(odd, NULL, "spaces", ENOENT,
		     "unable to find user spaces: no matching entries in passwd file");
	/* a gecos with colons shifts the fields: the home is then the shell's field... */
	u = lookup_ok(odd, NULL, "ok");
	CHECK_INTEQ(u.uid, 1006);
	CHECK_INTEQ(u.gid, 1007);
	/* ...which is only what a split on ':' into 7 fields gives: field 6 is " colons?" */
	CHECK_STREQ(u.home, " colons?");
	/* a last line without a newline */
	u = lookup_ok(odd, NULL, "last");
	CHECK_INTEQ(u.uid, 1008);
	CHECK_STREQ(u.home, "/home/last");
	/* an empty home is "/" */
	u = lookup_ok(passwd, NULL, "nohome");
	CHECK_STREQ(u.home, "/");
	/* the first of two entries with one name wins */
	u = lookup_ok("dup:x:1:1::/one:/bin/sh\ndup:x:2:2::/two:/bin/sh\n", NULL, "dup");
	CHECK_INTEQ(u.uid, 1);
	CHECK_STREQ(u.home, "/one");
	/* also by uid */
	u = lookup_ok("one:x:5:5::/one:/bin/sh\ntwo:x:5:6::/two:/bin/sh\n", NULL, "5");
	CHECK_STREQ(u.name, "one");
}

static void test_odd_group_lines(void)
{
	static const char odd[] = "# comment:x:9:vcap\n"
				  "short:x:10\n"
				  "badgid:x:x11:vcap\n"
				  "empty:x:12:\n"
				  "commas:x:13:,,vcap,,\n"
				  "last:x:14:root,vcap";
	struct gd_user u = lookup_ok(passwd, odd, "vcap");

	/* "# comment" has gid 9 and lists vcap: a comment is not special to the parser */
	CHECK_INTEQ(u.n_groups, 3);
	CHECK_INTEQ(u.groups[0], 9);
	CHECK_INTEQ(u.groups[1], 13);
	CHECK_INTEQ(u.groups[2], 14);
	/* a user without a name (uid without an entry) gets no groups */
	u = lookup_ok(passwd, odd, "4242");
	CHECK_INTEQ(u.n_groups, 0);
}

static void test_groups_capped(void)
{
	char gr[8192] = "";
	struct gd_user u;

	for (int i = 0; i < GD_MAX_GROUPS + 10; i++) {
		char line[64];
		(void)snprintf(line, sizeof(line), "g%d:x:%d:vcap\n", i, 2000 + i);
		strlcat(gr, line, sizeof(gr));
	}
	u = lookup_ok(passwd, gr, "vcap");
	CHECK_INTEQ(u.n_groups, GD_MAX_GROUPS);
	CHECK_INTEQ(u.groups[0], 2000);
	CHECK_INTEQ(u.groups[GD_MAX_GROUPS - 1], 2000 + GD_MAX_GROUPS - 1);
}

static void test_long_name(void)
{
	char name[400];

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	/* truncated to the 255 bytes struct gd_user holds, then not found */
	{
		_cleanup_err_ struct gdn_err *err = NULL;
		struct gd_user u;
		CHECK(gd_user_lookup(passwd, group, name, &u, &err) == -ENOENT);
		CHECK(strstr(gdn_err_str(err), "unable to find user aaa"));
	}
}

/* --- reading and making files inside a "container": a child chrooted into tap_tmp/root ------ */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	CHECK(f);
	CHECK(fputs(text, f) >= 0);
	CHECK(fclose(f) == 0);
}

static char root[128];

/* Forks a child that chroots into tap_tmp/root and waits to be killed (it dies with us). */
static pid_t start_container(void)
{
	int p[2];
	char c = 0;
	pid_t pid;

	(void)snprintf(root, sizeof(root), "%s/root", tap_tmp);
	if (mkdir(root, 0755) < 0 && errno != EEXIST)
		tap_fail_(__FILE__, __LINE__, "mkdir '%s': %s", root, strerror(errno));
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (chroot(root) < 0 || chdir("/") < 0)
			_exit(1);
		(void)!write(p[1], "x", 1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		SKIP("cannot chroot (not root?)");
	close(p[0]);
	return pid;
}

static void stop_container(pid_t pid)
{
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
}

static void test_read_file_in_root(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *text = NULL;
	char path[256];
	pid_t pid = start_container();

	(void)snprintf(path, sizeof(path), "%s/etc", root);
	CHECK(mkdir(path, 0755) == 0);
	(void)snprintf(path, sizeof(path), "%s/etc/passwd", root);
	write_file(path, passwd);
	CHECK_OK(gd_container_read_file(pid, "/etc/passwd", &text, &err), err);
	CHECK_STREQ(text, passwd);
	free(text);
	text = NULL;
	/* missing */
	CHECK(gd_container_read_file(pid, "/etc/group", &text, &err) == -ENOENT);
	CHECK(text == NULL);
	CHECK(strstr(gdn_err_str(err), "open '/etc/group' in the container"));
	stop_container(pid);
}

static void test_read_file_confined(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *text = NULL;
	char path[256], target[256];
	pid_t pid = start_container();

	(void)snprintf(path, sizeof(path), "%s/etc", root);
	CHECK(mkdir(path, 0755) == 0);
	/* a secret just outside the container's root, and symlinks that aim at it */
	(void)snprintf(path, sizeof(path), "%s/secret", tap_tmp);
	write_file(path, "host secret\n");
	(void)snprintf(path, sizeof(path), "%s/etc/passwd", root);
	CHECK(symlink("../../secret", path) == 0);
	(void)snprintf(path, sizeof(path), "%s/etc/group", root);
	(void)snprintf(target, sizeof(target), "%s/secret", tap_tmp);
	CHECK(symlink(target, path) == 0);
	/* "..": resolves to the container's /secret, which does not exist */
	CHECK(gd_container_read_file(pid, "/etc/passwd", &text, &err) == -ENOENT);
	err = gdn_err_free(err);
	/* absolute: resolved inside the container's root too */
	CHECK(gd_container_read_file(pid, "/etc/group", &text, &err) == -ENOENT);
	err = gdn_err_free(err);
	CHECK(gd_container_read_file(pid, "/../../secret", &text, &err) == -ENOENT);
	CHECK(text == NULL);
	stop_container(pid);
}

static void test_read_file_only_regular(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *text = NULL;
	char path[256];
	pid_t pid = start_container();

	/* a FIFO nobody writes must neither block nor be read */
	(void)snprintf(path, sizeof(path), "%s/fifo", root);
	CHECK(mkfifo(path, 0644) == 0);
	alarm(5);
	CHECK(gd_container_read_file(pid, "/fifo", &text, &err) == -EINVAL);
	CHECK_STREQ(gdn_err_str(err),
		    "'/fifo' in the container is not a regular file: Invalid argument");
	err = gdn_err_free(err);
	CHECK(gd_container_read_file(pid, "/", &text, &err) == -EINVAL);
	CHECK(text == NULL);
	stop_container(pid);
}

static void test_mkdir_p(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	char path[256];
	struct stat st;
	pid_t pid = start_container();

	(void)umask(022);
	(void)snprintf(path, sizeof(path), "%s/home", root);
	CHECK(mkdir(path, 0700) == 0);
	CHECK_OK(gd_container_mkdir_p(pid, "/home/vcap/work//deep/", 1000, 1001, &err), err);
	(void)snprintf(path, sizeof(path), "%s/home/vcap/work/deep", root);
	CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_INTEQ(st.st_uid, 1000);
	CHECK_INTEQ(st.st_gid, 1001);
	CHECK_INTEQ(st.st_mode & 07777, 0755);
	/* an existing directory keeps its mode and owner */
	(void)snprintf(path, sizeof(path), "%s/home", root);
	CHECK(stat(path, &st) == 0);
	CHECK_INTEQ(st.st_mode & 07777, 0700);
	CHECK_INTEQ(st.st_uid, 0);
	/* again: nothing to do */
	CHECK_OK(gd_container_mkdir_p(pid, "/home/vcap/work/deep", 1000, 1001, &err), err);
	stop_container(pid);
}

static void test_mkdir_p_confined(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	char path[256], outside[256];
	struct stat st;
	pid_t pid = start_container();

	/* a symlink to an absolute path is followed as the container sees it */
	(void)snprintf(path, sizeof(path), "%s/link", root);
	CHECK(symlink("/real", path) == 0);
	(void)snprintf(path, sizeof(path), "%s/real", root);
	CHECK(mkdir(path, 0755) == 0);
	(void)snprintf(outside, sizeof(outside), "%s/real", tap_tmp);
	CHECK_OK(gd_container_mkdir_p(pid, "/link/sub", 0, 0, &err), err);
	(void)snprintf(path, sizeof(path), "%s/real/sub", root);
	CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK(stat(outside, &st) < 0 && errno == ENOENT);
	/* a working dir is not made through a dangling symlink (a mount point is) */
	(void)snprintf(path, sizeof(path), "%s/dang", root);
	CHECK(symlink("/nonexistent", path) == 0);
	CHECK(gd_container_mkdir_p(pid, "/dang/sub", 0, 0, &err) == -ENOENT);
	err = gdn_err_free(err);
	(void)snprintf(path, sizeof(path), "%s/nonexistent", root);
	CHECK(stat(path, &st) < 0 && errno == ENOENT);
	/* ".." is refused outright */
	CHECK(gd_container_mkdir_p(pid, "/a/../../b", 0, 0, &err) == -EINVAL);
	CHECK_STREQ(gdn_err_str(err), "dir '/a/../../b' must not contain '..'");
	stop_container(pid);
}

static void test_rootfs_mountpoint(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	char rfs[128], p[512], host[128];
	struct stat st;

	(void)snprintf(rfs, sizeof(rfs), "%s/mp-rootfs", tap_tmp);
	(void)snprintf(host, sizeof(host), "%s/mp-host", tap_tmp);
	CHECK(mkdir(rfs, 0755) == 0 && mkdir(host, 0755) == 0);
	/* dangling symlinks to the host, absolute and climbing: made inside the rootfs */
	(void)snprintf(p, sizeof(p), "%s/abs", rfs);
	CHECK(symlink(host, p) == 0);
	(void)snprintf(p, sizeof(p), "%s/rel", rfs);
	CHECK(symlink("../../../../../../../..//tmp/../etc", p) == 0);
	CHECK_OK(gd_rootfs_mountpoint(rfs, "/abs/sub", true, 0, 0, &err), err);
	(void)snprintf(p, sizeof(p), "%s%s/sub", rfs, host);
	CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
	(void)snprintf(p, sizeof(p), "%s/sub", host);
	CHECK(stat(p, &st) < 0 && errno == ENOENT);
	CHECK_OK(gd_rootfs_mountpoint(rfs, "/rel/f", false, 0, 0, &err), err);
	(void)snprintf(p, sizeof(p), "%s/etc/f", rfs);
	CHECK(stat(p, &st) == 0 && S_ISREG(st.st_mode));
	CHECK(stat("/etc/f", &st) < 0);
	/* a file where a directory is wanted above the mount point; a symlink loop */
	CHECK(gd_rootfs_mountpoint(rfs, "/etc/f/x", true, 0, 0, &err) == -ENOTDIR);
	err = gdn_err_free(err);
	(void)snprintf(p, sizeof(p), "%s/loop", rfs);
	CHECK(symlink("/loop", p) == 0);
	CHECK(gd_rootfs_mountpoint(rfs, "/loop/x", true, 0, 0, &err) == -ELOOP);
}

static void test_no_such_container(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *text = NULL;

	/* pid 0 has no /proc entry: /proc/0/root */
	CHECK(gd_container_read_file(0, "/etc/passwd", &text, &err) == -ENOENT);
	CHECK(strstr(gdn_err_str(err), "open the container's root ('/proc/0/root')"));
	err = gdn_err_free(err);
	CHECK(gd_container_mkdir_p(0, "/x", 0, 0, &err) == -ENOENT);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_by_name),
	    TEST(test_empty_and_null_user_are_root),
	    TEST(test_by_uid),
	    TEST(test_uid_without_entry),
	    TEST(test_uid_gid),
	    TEST(test_name_gid),
	    TEST(test_group_must_be_numeric),
	    TEST(test_missing_user),
	    TEST(test_root_without_passwd),
	    TEST(test_odd_passwd_lines),
	    TEST(test_odd_group_lines),
	    TEST(test_groups_capped),
	    TEST(test_long_name),
	    TEST(test_read_file_in_root),
	    TEST(test_read_file_confined),
	    TEST(test_read_file_only_regular),
	    TEST(test_mkdir_p),
	    TEST(test_mkdir_p_confined),
	    TEST(test_rootfs_mountpoint),
	    TEST(test_no_such_container),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
