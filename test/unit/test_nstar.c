/* clang-format off */
/* link: cmd/nstar/path.c cmd/nstar/enter.c cmd/guardian/users.c cmd/guardian/volumizer.c cmd/guardian/volume_store.c cmd/guardian/quota.c cmd/guardian/disk_usage.c cmd/guardian/mountinfo.c */
/* clang-format on */
/* nstar's pure parts: Go's path splitting of a StreamOut source, the id-map flags, and
 * mkdir -p with new directories owned by the user. */
#include <string.h>
#include <sys/stat.h>

#include "test/unit/tap.h"
#include "lib/macro.h"
#include "cmd/nstar/nstar.h"

static void check_clean(const char *in, const char *want)
{
	_cleanup_free_ char *got = nst_path_clean(in);
	if (!got || strcmp(got, want) != 0)
		tap_fail_(__FILE__, __LINE__, "Clean(%s) = %s, want %s", in, got ? got : "(null)",
			  want);
}

static void test_clean_like_go(void)
{
	/* the cases of Go's path/filepath tests that apply on Unix */
	check_clean("", ".");
	check_clean("abc", "abc");
	check_clean("abc/def", "abc/def");
	check_clean("a/b/c", "a/b/c");
	check_clean(".", ".");
	check_clean("..", "..");
	check_clean("../..", "../..");
	check_clean("../../abc", "../../abc");
	check_clean("/abc", "/abc");
	check_clean("/", "/");
	check_clean("abc/", "abc");
	check_clean("abc/def/", "abc/def");
	check_clean("/abc/", "/abc");
	check_clean("abc//def//ghi", "abc/def/ghi");
	check_clean("//abc", "/abc");
	check_clean("///abc", "/abc");
	check_clean("abc//", "abc");
	check_clean("abc/./def", "abc/def");
	check_clean("/./abc/def", "/abc/def");
	check_clean("abc/.", "abc");
	check_clean("abc/def/ghi/../jkl", "abc/def/jkl");
	check_clean("abc/def/../ghi/../jkl", "abc/jkl");
	check_clean("abc/def/..", "abc");
	check_clean("abc/def/../..", ".");
	check_clean("/abc/def/../..", "/");
	check_clean("abc/def/../../..", "..");
	check_clean("/abc/def/../../..", "/");
	check_clean("abc/def/../../../ghi/jkl/../../../mno", "../../mno");
	check_clean("/../abc", "/abc");
	check_clean("abc/./../def", "def");
	check_clean("abc//./../def", "def");
	check_clean("abc/../../././../def", "../../def");
}

static void check_split(const char *src, const char *dir, const char *member)
{
	_cleanup_free_ char *d = NULL, *m = NULL;

	CHECK(nst_split_source(src, &d, &m) == 0);
	if (strcmp(d, dir) != 0 || strcmp(m, member) != 0)
		tap_fail_(__FILE__, __LINE__, "split(%s) = %s + %s, want %s + %s", src, d, m, dir,
			  member);
}

static void test_split_source_as_garden(void)
{
	check_split("/root/documents/some/reports", "/root/documents/some", "reports");
	check_split("/etc/hosts", "/etc", "hosts");
	check_split("/a/b/", "/a/b/", ".");
	check_split("/", "/", ".");
	check_split("some-dir/some-file", "some-dir", "some-file");
	check_split("file", ".", "file");
	check_split("", ".", ".");
	check_split("/a//b", "/a", "b");
	check_split("/a/../b", "/", "b");
}

static void test_base(void)
{
	_cleanup_free_ char *a = nst_path_base("/a/b//");
	_cleanup_free_ char *b = nst_path_base("///");
	CHECK_STREQ(a, "b");
	CHECK_STREQ(b, "/");
}

static void test_idmap_parse(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct nst_idmap m;
	const char *bad[] = {"",      "1",	"1:2",	 "1:2:0",	  "1:2:3:4",
			     "a:2:3", "-1:2:3", "1:2:x", "4294967296:1:1"};

	CHECK(nst_idmap_parse("0:4294967294:1", &m, &err) == 0);
	CHECK_INTEQ(m.inside, 0);
	CHECK_INTEQ(m.outside, 4294967294u);
	CHECK_INTEQ(m.count, 1);
	for (size_t i = 0; i < GDN_ARRAY_SIZE(bad); i++) {
		_cleanup_err_ struct gdn_err *e = NULL;
		if (nst_idmap_parse(bad[i], &m, &e) != -EINVAL)
			tap_fail_(__FILE__, __LINE__, "'%s' was accepted", bad[i]);
		CHECK(strstr(gdn_err_str(e), "INSIDE:OUTSIDE:COUNT"));
	}
}

static void test_mkdir_p_as_owns_new_dirs_only(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	char path[128];
	struct stat st;

	if (geteuid() != 0)
		SKIP("needs root (chown)");
	CHECK(chdir(tap_tmp) == 0);
	CHECK(mkdir("old", 0700) == 0);
	_cleanup_free_ char *created = NULL;
	CHECK_OK(nst_mkdir_p_as("old/new/deeper/", 1234, 4321, &created, &err), err);
	CHECK_STREQ(created, "old/new");
	CHECK(stat("old", &st) == 0);
	CHECK_INTEQ(st.st_uid, 0);
	CHECK_INTEQ(st.st_mode & 07777, 0700);
	for (const char *p = "old/new"; p;
	     p = strcmp(p, "old/new") == 0 ? "old/new/deeper" : NULL) {
		CHECK(stat(p, &st) == 0);
		CHECK_INTEQ(st.st_uid, 1234);
		CHECK_INTEQ(st.st_gid, 4321);
	}
	/* absolute, existing: nothing changes */
	(void)snprintf(path, sizeof(path), "%s/old", tap_tmp);
	char *none = (char *)"x";
	CHECK_OK(nst_mkdir_p_as(path, 1, 1, &none, &err), err);
	CHECK(none == NULL);
	CHECK(stat("old", &st) == 0 && st.st_uid == 0);
	/* a file in the way */
	CHECK(close(open("file", O_CREAT | O_WRONLY | O_CLOEXEC, 0644)) == 0);
	CHECK(nst_mkdir_p_as("file/x", 1, 1, NULL, &err) == -ENOTDIR);
	CHECK(strstr(gdn_err_str(err), "mkdir file/x"));
	/* undo removes what it made, and stops there */
	nst_mkdir_undo("old/new/deeper/", created);
	CHECK(stat("old/new", &st) < 0 && errno == ENOENT);
	CHECK(stat("old", &st) == 0);
	/* a directory that is not empty stays */
	CHECK_OK(nst_mkdir_p_as("old/a/b", 0, 0, &none, &err), err);
	CHECK(close(open("old/a/b/f", O_CREAT | O_WRONLY | O_CLOEXEC, 0644)) == 0);
	nst_mkdir_undo("old/a/b", none);
	free(none);
	CHECK(stat("old/a/b/f", &st) == 0);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_clean_like_go), TEST(test_split_source_as_garden),	TEST(test_base),
	    TEST(test_idmap_parse),   TEST(test_mkdir_p_as_owns_new_dirs_only),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
