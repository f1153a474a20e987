/* link: cmd/nstar/in.c */
/* pkgs: jansson libbsd libarchive */
/* nstar's unpacking on its own (no namespaces): libarchive's secure extraction refuses what
 * could leave the destination, and modes come out as GNU tar --no-same-permissions makes them. */
#include <archive.h>
#include <archive_entry.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "test/unit/tap.h"
#include "lib/log.h"
#include "lib/macro.h"
#include "cmd/nstar/nstar.h"

struct member {
	const char *name;
	mode_t type;
	mode_t perm;
	const char *data; /* regular files */
	const char *link; /* symlink target, or hard link target (type 0) */
	bool cut;	  /* a 1 MiB file whose data the archive ends in the middle of */
};

/* Writes the members as a pax archive to a file and returns it opened for reading. */
static int make_tar(const struct member *m, size_t n)
{
	char path[128];
	struct archive *a = archive_write_new();
	bool cut = false;
	static char big[1 << 20];

	(void)snprintf(path, sizeof(path), "%s/archive.tar", tap_tmp);
	CHECK(a && archive_write_set_format_pax_restricted(a) == ARCHIVE_OK);
	CHECK(archive_write_open_filename(a, path) == ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		size_t len = m[i].cut ? sizeof(big) : m[i].data ? strlen(m[i].data) : 0;
		const char *data = m[i].cut ? big : m[i].data;

		archive_entry_set_pathname(e, m[i].name);
		archive_entry_set_mtime(e, 1000000000, 0);
		if (!m[i].type && m[i].link) {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, m[i].link);
		} else {
			archive_entry_set_filetype(e, m[i].type);
			archive_entry_set_perm(e, m[i].perm);
		}
		if (m[i].type == AE_IFLNK)
			archive_entry_set_symlink(e, m[i].link);
		if (m[i].type == AE_IFCHR)
			archive_entry_set_rdev(e, makedev(1, 3));
		archive_entry_set_size(e, (int64_t)len);
		CHECK(archive_write_header(a, e) == ARCHIVE_OK);
		if (len)
			CHECK(archive_write_data(a, data, len) == (la_ssize_t)len);
		cut = cut || m[i].cut;
		archive_entry_free(e);
	}
	CHECK(archive_write_close(a) == ARCHIVE_OK);
	if (cut) {
		/* the rest of the last member never comes */
		struct stat st;
		CHECK(stat(path, &st) == 0);
		CHECK(truncate(path, st.st_size - (int64_t)sizeof(big) / 2) == 0);
	}
	(void)archive_write_free(a);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	return fd;
}

/* Unpacks into <tmp>/dst (created); returns nst_unpack's status and its message. */
static int unpack(const struct member *m, size_t n, bool may_mknod, char **ret_msg)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_close_ int fd = make_tar(m, n);
	char dst[128];
	int r;

	gdn_log_init("nstar", GDN_LOG_FATAL, 2);
	(void)snprintf(dst, sizeof(dst), "%s/dst", tap_tmp);
	CHECK(mkdir(dst, 0755) == 0 || errno == EEXIST);
	CHECK(chdir(dst) == 0);
	umask(NST_UMASK);
	bool wrote;
	r = nst_unpack(fd, may_mknod, &wrote, gdn_log_root(), &err);
	*ret_msg = strdup(err ? gdn_err_str(err) : "");
	CHECK(chdir(tap_tmp) == 0);
	return r;
}

static bool exists(const char *rel)
{
	char p[256];
	struct stat st;

	(void)snprintf(p, sizeof(p), "%s/%s", tap_tmp, rel);
	return lstat(p, &st) == 0;
}

static void test_absolute_and_dotdot_refused(void)
{
	char abs[128];
	_cleanup_free_ char *msg = NULL;

	(void)snprintf(abs, sizeof(abs), "%s/outside-abs", tap_tmp);
	const struct member m[] = {
	    {.name = abs, .type = AE_IFREG, .perm = 0644, .data = "x"},
	    {.name = "../outside-dotdot", .type = AE_IFREG, .perm = 0644, .data = "x"},
	    {.name = "ok", .type = AE_IFREG, .perm = 0644, .data = "fine"},
	};
	CHECK_INTEQ(unpack(m, 3, false, &msg), NST_EXIT_ARCHIVE);
	CHECK(!exists("outside-abs") && !exists("outside-dotdot"));
	CHECK(exists("dst/ok")); /* the rest goes on, as with tar */
	CHECK(strstr(msg, "outside-abs: ") && strstr(msg, "../outside-dotdot: "));
}

static void test_no_write_through_symlinks(void)
{
	_cleanup_free_ char *msg = NULL;
	char target[128];

	(void)snprintf(target, sizeof(target), "%s/outside", tap_tmp);
	CHECK(mkdir(target, 0755) == 0);
	const struct member m[] = {
	    {.name = "x", .type = AE_IFLNK, .perm = 0777, .link = target},
	    {.name = "x/planted", .type = AE_IFREG, .perm = 0644, .data = "evil"},
	    {.name = "y", .type = AE_IFLNK, .perm = 0777, .link = "../outside"},
	    {.name = "y/planted2", .type = AE_IFREG, .perm = 0644, .data = "evil"},
	    {.name = "h", .type = 0, .link = "/etc/passwd"},
	    {.name = "h2", .type = 0, .link = "../outside"},
	};
	CHECK_INTEQ(unpack(m, GDN_ARRAY_SIZE(m), false, &msg), NST_EXIT_ARCHIVE);
	CHECK(!exists("outside/planted") && !exists("outside/planted2"));
	CHECK(!exists("dst/h") && !exists("dst/h2"));
	CHECK(exists("dst/x")); /* the symlink itself is fine */
}

static void test_device_nodes_only_where_root_could(void)
{
	_cleanup_free_ char *msg = NULL;
	const struct member m[] = {
	    {.name = "null", .type = AE_IFCHR, .perm = 0666},
	    {.name = "fifo", .type = AE_IFIFO, .perm = 0644},
	};
	CHECK_INTEQ(unpack(m, 2, false, &msg), NST_EXIT_ARCHIVE);
	CHECK(!exists("dst/null"));
	CHECK(exists("dst/fifo"));
	CHECK(strstr(msg, "null: Cannot mknod: Operation not permitted"));
}

static void test_truncated_member_removed(void)
{
	_cleanup_free_ char *msg = NULL;
	const struct member m[] = {
	    {.name = "whole", .type = AE_IFREG, .perm = 0644, .data = "complete"},
	    {.name = "huge", .type = AE_IFREG, .perm = 0644, .cut = true},
	};
	CHECK_INTEQ(unpack(m, 2, false, &msg), NST_EXIT_ARCHIVE);
	CHECK(exists("dst/whole"));
	CHECK(!exists("dst/huge"));
	CHECK(strstr(msg, "runcated"));
}

static void test_modes_as_gnu_tar(void)
{
	_cleanup_free_ char *msg = NULL;
	struct stat st;
	const struct member m[] = {
	    {.name = "suid", .type = AE_IFREG, .perm = 04755, .data = "x"},
	    {.name = "all", .type = AE_IFREG, .perm = 0777, .data = "x"},
	    {.name = "priv", .type = AE_IFREG, .perm = 0600, .data = "x"},
	    {.name = "sticky", .type = AE_IFDIR, .perm = 01777},
	    {.name = "sgid", .type = AE_IFDIR, .perm = 02775},
	};
	const mode_t want[] = {0755, 0755, 0600, 0755, 0755};

	CHECK_INTEQ(unpack(m, GDN_ARRAY_SIZE(m), false, &msg), 0);
	for (size_t i = 0; i < GDN_ARRAY_SIZE(m); i++) {
		char p[160];
		(void)snprintf(p, sizeof(p), "%s/dst/%s", tap_tmp, m[i].name);
		CHECK(lstat(p, &st) == 0);
		if ((st.st_mode & 07777) != want[i])
			tap_fail_(__FILE__, __LINE__, "%s: mode %04o, want %04o", m[i].name,
				  (unsigned)(st.st_mode & 07777), (unsigned)want[i]);
		CHECK_INTEQ(st.st_mtime, 1000000000);
	}
}

static void test_existing_dir_gets_mode_keeping_sticky(void)
{
	_cleanup_free_ char *msg = NULL;
	char dst[128];
	struct stat st;
	const struct member m[] = {{.name = "./", .type = AE_IFDIR, .perm = 0700}};

	(void)snprintf(dst, sizeof(dst), "%s/dst", tap_tmp);
	CHECK(mkdir(dst, 0755) == 0 && chmod(dst, 01777) == 0);
	CHECK_INTEQ(unpack(m, 1, false, &msg), 0);
	CHECK(stat(dst, &st) == 0);
	CHECK_INTEQ(st.st_mode & 07777, 01700);
	CHECK_INTEQ(st.st_mtime, 1000000000);
}

static void test_garbage_is_an_archive_error(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	char path[128];
	_cleanup_close_ int fd = -1;

	(void)snprintf(path, sizeof(path), "%s/garbage", tap_tmp);
	fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	CHECK(fd >= 0 && write(fd, "this is not a tar archive at all\n", 33) == 33);
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	CHECK(chdir(tap_tmp) == 0);
	gdn_log_init("nstar", GDN_LOG_FATAL, 2);
	bool wrote = true;
	CHECK_INTEQ(nst_unpack(fd, false, &wrote, gdn_log_root(), &err), NST_EXIT_ARCHIVE);
	CHECK(!wrote);
	CHECK(strstr(gdn_err_str(err), "cannot read the archive"));
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_absolute_and_dotdot_refused),
	    TEST(test_no_write_through_symlinks),
	    TEST(test_device_nodes_only_where_root_could),
	    TEST(test_truncated_member_removed),
	    TEST(test_modes_as_gnu_tar),
	    TEST(test_existing_dir_gets_mode_keeping_sticky),
	    TEST(test_garbage_is_an_archive_error),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
