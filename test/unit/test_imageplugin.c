/* The image plugin's argv and requests (lib/imageplugin.c), Garden's failure message, and what
 * guardian reads from the plugin's output (cmd/guardian/imageplugin.c). */
/* link: cmd/guardian/imageplugin.c */
#include <string.h>
#include <jansson.h>

#include "test/unit/tap.h"
#include "lib/imageplugin.h"
#include "lib/util.h"
#include "cmd/guardian/imageplugin.h"

static const char *const extra[] = {"--config", "/etc/grootfs.yml"};
static const struct gdn_imageplugin_conf grootfs = {
    .path = "/bin/grootfs", .args = extra, .n_args = 2};

/* The argv joined by spaces. */
static char *argv_of(const struct gdn_imageplugin_conf *pc, const struct gdn_imageplugin_request *r)
{
	struct gdn_err *err = NULL;
	char **argv = NULL;
	size_t len = 0;
	char *out;

	CHECK_OK(gdn_imageplugin_argv(pc, r, &argv, &err), err);
	for (char **a = argv; *a; a++)
		len += strlen(*a) + 1;
	out = calloc(1, len + 1);
	CHECK(out != NULL);
	for (char **a = argv; *a; a++) {
		strcat(out, *a);
		if (a[1])
			strcat(out, " ");
	}
	free(argv);
	return out;
}

static void argv_is(const struct gdn_imageplugin_request *r, const char *want)
{
	_cleanup_free_ char *got = argv_of(&grootfs, r);

	CHECK_STREQ(got, want);
}

static void test_argv_create(void)
{
	struct gdn_imageplugin_request r = {
	    .op = GDN_IMAGEPLUGIN_CREATE, .handle = "h1", .rootfs = "docker:///busybox#1.36#x"};

	/* the extra args first; the first '#' becomes ':' */
	argv_is(&r, "/bin/grootfs --config /etc/grootfs.yml create docker:///busybox:1.36#x h1");
	/* exclusive scope means nothing without a limit */
	r.exclude_image = true;
	argv_is(&r, "/bin/grootfs --config /etc/grootfs.yml create docker:///busybox:1.36#x h1");
	r.disk_limit = 1048576;
	argv_is(&r, "/bin/grootfs --config /etc/grootfs.yml create --disk-limit-size-bytes 1048576 "
		    "--exclude-image-from-quota docker:///busybox:1.36#x h1");
	r.exclude_image = false;
	r.username = "user";
	r.password = "secret";
	r.rootfs = "/var/rootfs";
	argv_is(&r, "/bin/grootfs --config /etc/grootfs.yml create --disk-limit-size-bytes 1048576 "
		    "--username user --password secret /var/rootfs h1");
	/* an empty username or password passes no flag */
	r.username = "";
	r.password = "";
	r.disk_limit = 0;
	argv_is(&r, "/bin/grootfs --config /etc/grootfs.yml create /var/rootfs h1");
}

static void test_argv_others(void)
{
	struct gdn_imageplugin_request r = {.op = GDN_IMAGEPLUGIN_DELETE, .handle = "h2"};
	const struct gdn_imageplugin_conf bare = {.path = "grootfs"};
	struct gdn_err *err = NULL;
	char **argv = NULL;

	argv_is(&r, "/bin/grootfs --config /etc/grootfs.yml delete h2");
	r.op = GDN_IMAGEPLUGIN_STATS;
	argv_is(&r, "/bin/grootfs --config /etc/grootfs.yml stats h2");
	r.op = GDN_IMAGEPLUGIN_CAPACITY;
	argv_is(&r, "/bin/grootfs --config /etc/grootfs.yml capacity");
	{
		_cleanup_free_ char *got = argv_of(&bare, &r);
		CHECK_STREQ(got, "grootfs capacity");
	}
	/* a plugin that is not configured: Garden's words */
	const struct gdn_imageplugin_conf none = {0};
	r.op = GDN_IMAGEPLUGIN_CREATE;
	r.plugin = GDN_IMAGEPLUGIN_PRIVILEGED;
	CHECK(gdn_imageplugin_argv(&none, &r, &argv, &err) < 0);
	CHECK_STREQ(gdn_err_str(err), "no privileged_image_plugin provided");
	err = gdn_err_free(err);
	r.plugin = GDN_IMAGEPLUGIN_UNPRIVILEGED;
	CHECK(gdn_imageplugin_argv(&none, &r, &argv, &err) < 0);
	CHECK_STREQ(gdn_err_str(err), "no image_plugin provided");
	err = gdn_err_free(err);
	r.op = GDN_IMAGEPLUGIN_PING;
	CHECK(gdn_imageplugin_argv(&grootfs, &r, &argv, &err) < 0);
	CHECK(argv == NULL);
	gdn_err_free(err);
}

static void test_request_round_trip(void)
{
	const struct gdn_imageplugin_request in = {
	    .op = GDN_IMAGEPLUGIN_CREATE,
	    .plugin = GDN_IMAGEPLUGIN_PRIVILEGED,
	    .handle = "web-1",
	    .rootfs = "docker:///busybox#1.36",
	    .disk_limit = 18446744073709551615ULL >> 1,
	    .exclude_image = true,
	    .username = "u",
	    .password = "p",
	};
	struct gdn_imageplugin_request out;
	struct gdn_err *err = NULL;
	json_auto_t *msg = gdn_imageplugin_request_new(&in);
	_cleanup_free_ char *line = gdn_json_line(msg, NULL);

	CHECK(msg != NULL);
	CHECK_STREQ(line,
		    "{\"op\":\"create\",\"v\":1,\"plugin\":\"privileged\",\"handle\":\"web-1\","
		    "\"rootfs\":\"docker:///busybox#1.36\",\"disk_limit_size_bytes\":"
		    "9223372036854775807,\"exclude_image_from_quota\":true,\"username\":\"u\","
		    "\"password\":\"p\"}\n");
	CHECK_OK(gdn_imageplugin_request_parse(msg, &out, &err), err);
	CHECK(out.op == GDN_IMAGEPLUGIN_CREATE && out.plugin == GDN_IMAGEPLUGIN_PRIVILEGED);
	CHECK_STREQ(out.handle, "web-1");
	CHECK_STREQ(out.rootfs, "docker:///busybox#1.36");
	CHECK(out.disk_limit == in.disk_limit && out.exclude_image);
	CHECK_STREQ(out.username, "u");
	CHECK_STREQ(out.password, "p");
	CHECK_INTEQ(out.v, 1);
	{
		const struct gdn_imageplugin_request ping = {.op = GDN_IMAGEPLUGIN_PING};
		json_auto_t *m = gdn_imageplugin_request_new(&ping);
		_cleanup_free_ char *l = gdn_json_line(m, NULL);

		CHECK_STREQ(l, "{\"op\":\"ping\",\"v\":1}\n");
	}
}

static void parse_err(const char *text, const char *want)
{
	struct gdn_imageplugin_request out;
	struct gdn_err *err = NULL;
	json_auto_t *msg = json_loads(text, JSON_ALLOW_NUL, NULL);

	CHECK(msg != NULL);
	CHECK(gdn_imageplugin_request_parse(msg, &out, &err) < 0);
	CHECK_STREQ(gdn_err_str(err), want);
	gdn_err_free(err);
}

static void test_request_refused(void)
{
	parse_err("{\"op\":\"exec\",\"v\":1,\"argv\":[\"/bin/sh\"]}", "unknown op 'exec'");
	parse_err(
	    "{\"op\":\"delete\",\"v\":3,\"plugin\":\"privileged\",\"handle\":\"h\"}",
	    "request 'delete' is of protocol version 3; this image-plugin-shim speaks versions "
	    "0 to 1");
	parse_err("{\"op\":\"delete\",\"v\":1,\"plugin\":\"root\",\"handle\":\"h\"}",
		  "request 'delete': plugin must be \"unprivileged\" or \"privileged\"");
	parse_err("{\"op\":\"delete\",\"v\":1,\"handle\":\"h\"}",
		  "request 'delete': plugin must be a string without NUL");
	parse_err("{\"op\":\"stats\",\"v\":1,\"plugin\":\"unprivileged\",\"handle\":\"../etc\"}",
		  "invalid handle '../etc': may contain only letters, digits and . _ + -");
	parse_err("{\"op\":\"stats\",\"v\":1,\"plugin\":\"unprivileged\",\"handle\":\"a\\u0000b\"}",
		  "request 'stats': handle must be a string without NUL");
	parse_err("{\"op\":\"create\",\"v\":1,\"plugin\":\"unprivileged\",\"handle\":\"h\","
		  "\"rootfs\":\"-x\"}",
		  "request 'create': rootfs must not start with '-'");
	parse_err("{\"op\":\"create\",\"v\":1,\"plugin\":\"unprivileged\",\"handle\":\"h\","
		  "\"rootfs\":\"\"}",
		  "request 'create': rootfs must not be empty");
	parse_err("{\"op\":\"create\",\"v\":1,\"plugin\":\"unprivileged\",\"handle\":\"h\","
		  "\"rootfs\":\"/r\",\"username\":7}",
		  "request 'create': username must be a string without NUL");
	parse_err("{\"op\":\"create\",\"v\":1,\"plugin\":\"unprivileged\",\"handle\":\"h\","
		  "\"rootfs\":\"/r\",\"disk_limit_size_bytes\":-5}",
		  "request 'create': disk_limit_size_bytes must be an integer from 0 to 2^63-1");
	parse_err("{\"op\":\"create\",\"v\":1,\"plugin\":\"unprivileged\",\"handle\":\"h\","
		  "\"rootfs\":\"/r\",\"exclude_image_from_quota\":1}",
		  "request 'create': exclude_image_from_quota must be a boolean");
}

static void failure_is(enum gdn_imageplugin_op op, const char *out, const char *errtext,
		       const char *how, const char *want)
{
	struct gdn_err *err = NULL;

	CHECK(gdn_imageplugin_failure(&err, 0, op, out, out ? strlen(out) : 0, errtext,
				      errtext ? strlen(errtext) : 0, how) < 0);
	CHECK_STREQ(gdn_err_str(err), want);
	gdn_err_free(err);
}

static void test_failure_message(void)
{
	/* Garden: "running image plugin create: <stdout>: exit status 1" */
	failure_is(GDN_IMAGEPLUGIN_CREATE, "layer not found\n", "ignored\n", "exit status 1",
		   "running image plugin create: layer not found: exit status 1");
	/* delete and stats in Garden's words */
	failure_is(GDN_IMAGEPLUGIN_DELETE, "busy", NULL, "exit status 2",
		   "running image plugin destroy: busy: exit status 2");
	failure_is(GDN_IMAGEPLUGIN_STATS, "x", NULL, "exit status 1",
		   "running image plugin metrics: x: exit status 1");
	/* no stdout: the last non-blank stderr line (grootfs prints its errors there) */
	failure_is(GDN_IMAGEPLUGIN_CREATE, " \n", "one\nStore path is not initialized.\n\n",
		   "exit status 1",
		   "running image plugin create: Store path is not initialized.: exit status 1");
	/* ... a lager line's data.error, or its message */
	failure_is(
	    GDN_IMAGEPLUGIN_CREATE, "",
	    "{\"timestamp\":\"1\",\"source\":\"grootfs\",\"message\":\"grootfs.create.failed\","
	    "\"log_level\":2,\"data\":{\"error\":\"no space left\"}}\n",
	    "exit status 1", "running image plugin create: no space left: exit status 1");
	failure_is(GDN_IMAGEPLUGIN_CAPACITY, NULL,
		   "{\"message\":\"grootfs.capacity.oops\",\"data\":{}}", "exit status 1",
		   "running image plugin capacity: grootfs.capacity.oops: exit status 1");
	failure_is(GDN_IMAGEPLUGIN_CREATE, NULL, NULL, "timed out after 5m: killed",
		   "running image plugin create: : timed out after 5m: killed");
	/* bytes that are not UTF-8 cannot go into the JSON of the reply */
	failure_is(GDN_IMAGEPLUGIN_CREATE, "bad \xff byte", NULL, "exit status 1",
		   "running image plugin create: bad ? byte: exit status 1");
}

static void test_image_parse_grootfs(void)
{
	/* grootfs' create output (internals §10.2) */
	const char *out =
	    "{\"ociVersion\":\"\",\"process\":{\"user\":{\"uid\":0,\"gid\":0},\"env\":[\"PATH=/usr/"
	    "local/bin:/usr/bin:/bin\"],\"cwd\":\"\"},\"root\":{\"path\":\"/var/vcap/data/grootfs/"
	    "store/unprivileged/images/web-1/rootfs\"},\"mounts\":[]}\n";
	struct gd_image im = {0};
	struct gdn_err *err = NULL;
	_cleanup_free_ char *mounts = NULL;

	CHECK_OK(gd_image_parse(out, strlen(out), &im, &err), err);
	CHECK_STREQ(im.rootfs, "/var/vcap/data/grootfs/store/unprivileged/images/web-1/rootfs");
	CHECK_STREQ(im.env[0], "PATH=/usr/local/bin:/usr/bin:/bin");
	CHECK(im.env[1] == NULL);
	mounts = json_dumps(im.mounts, JSON_COMPACT);
	CHECK_STREQ(mounts, "[]");
	gd_image_free(&im);
}

static void test_image_parse_mounts(void)
{
	/* skip_mount: the overlay at "/"; Go's decoder: names ignore case, unknown members and
	 * null are ignored, a missing process is tolerated */
	const char *out =
	    "{\"Root\":{\"Path\":\"/s/images/h/rootfs\",\"readonly\":false},\"extra\":1,"
	    "\"process\":null,\"mounts\":[{\"destination\":\"/\",\"type\":\"overlay\",\"source\":"
	    "\"overlay\",\"options\":[\"lowerdir=/l,upperdir=/u,workdir=/w\"]},null,"
	    "{\"Destination\":\"/x\",\"TYPE\":\"tmpfs\"}]}";
	struct gd_image im = {0};
	struct gdn_err *err = NULL;
	_cleanup_free_ char *mounts = NULL;

	CHECK_OK(gd_image_parse(out, strlen(out), &im, &err), err);
	CHECK_STREQ(im.rootfs, "/s/images/h/rootfs");
	CHECK(im.env && im.env[0] == NULL);
	mounts = json_dumps(im.mounts, JSON_COMPACT);
	CHECK_STREQ(mounts,
		    "[{\"destination\":\"/\",\"type\":\"overlay\",\"source\":\"overlay\","
		    "\"options\":[\"lowerdir=/l,upperdir=/u,workdir=/w\"]},{\"destination\":"
		    "\"/x\",\"type\":\"tmpfs\",\"source\":\"\",\"options\":[]}]");
	gd_image_free(&im);
}

static void image_err(const char *out, const char *want)
{
	struct gd_image im = {0};
	struct gdn_err *err = NULL;

	CHECK(gd_image_parse(out, strlen(out), &im, &err) < 0);
	CHECK(im.rootfs == NULL && im.env == NULL && im.mounts == NULL);
	CHECK_STREQ(gdn_err_str(err), want);
	gdn_err_free(err);
}

static void test_image_parse_refused(void)
{
	image_err("", "parsing image plugin create: : EOF");
	image_err("Image created\n", "parsing image plugin create: Image created: invalid JSON: "
				     "invalid character 'I' looking for beginning of value");
	image_err("[]", "parsing image plugin create: []: json: cannot unmarshal array into Go "
			"value of type specs.Spec");
	image_err("{\"root\":{\"path\":3}}",
		  "parsing image plugin create: {\"root\":{\"path\":3}}: json: cannot unmarshal "
		  "number into Go struct field Root.path of type string");
	image_err(
	    "{\"root\":{\"path\":\"/r\"},\"process\":{\"env\":\"A=1\"}}",
	    "parsing image plugin create: {\"root\":{\"path\":\"/r\"},\"process\":{\"env\":"
	    "\"A=1\"}}: json: cannot unmarshal string into Go struct field Process.env of type "
	    "[]string");
	/* what guardian needs of it */
	image_err("{}", "parsing image plugin create: {}: root.path '' is not an absolute path");
	image_err("{\"root\":{\"path\":\"rel/rootfs\"}}",
		  "parsing image plugin create: {\"root\":{\"path\":\"rel/rootfs\"}}: root.path "
		  "'rel/rootfs' is not an absolute path");
	image_err("{\"root\":{\"path\":\"/r\"},\"process\":{\"env\":[\"=x\"]}}",
		  "parsing image plugin create: {\"root\":{\"path\":\"/r\"},\"process\":{\"env\":"
		  "[\"=x\"]}}: process.env entry '=x' is not KEY=VALUE");
	image_err("{\"root\":{\"path\":\"/r\"},\"mounts\":[{\"destination\":\"x\"}]}",
		  "parsing image plugin create: {\"root\":{\"path\":\"/r\"},\"mounts\":[{"
		  "\"destination\":\"x\"}]}: mount destination 'x' is not absolute");
	image_err("{\"root\":{\"path\":\"/r\"},\"mounts\":[5]}",
		  "parsing image plugin create: {\"root\":{\"path\":\"/r\"},\"mounts\":[5]}: json: "
		  "cannot unmarshal number into Go struct field Spec.mounts of type specs.Mount");
}

static void test_stats_and_capacity(void)
{
	const char *stats = "{\"disk_usage\":{\"total_bytes_used\":18446744073709551615,"
			    "\"exclusive_bytes_used\":4096,\"quota_size_bytes\":0}}\n";
	struct gdn_err *err = NULL;
	uint64_t total = 1, excl = 1, cap = 1;

	CHECK_OK(gd_imageplugin_parse_stats(stats, strlen(stats), &total, &excl, &err), err);
	CHECK(total == UINT64_MAX && excl == 4096);
	/* missing members are 0 */
	CHECK_OK(gd_imageplugin_parse_stats("{}", 2, &total, &excl, &err), err);
	CHECK(total == 0 && excl == 0);
	CHECK(gd_imageplugin_parse_stats("{\"disk_usage\":{\"total_bytes_used\":-1}}", 38, &total,
					 &excl, &err) < 0);
	CHECK_STREQ(gdn_err_str(err), "parsing stats: {\"disk_usage\":{\"total_bytes_used\":-1}}: "
				      "json: cannot unmarshal number -1 into Go value of type "
				      "uint64");
	err = gdn_err_free(err);
	CHECK_OK(gd_imageplugin_parse_capacity("{\"capacity\":10737418240}\n", 25, &cap, &err),
		 err);
	CHECK(cap == 10737418240ULL);
	CHECK(gd_imageplugin_parse_capacity("oops", 4, &cap, &err) < 0);
	CHECK_STREQ(gdn_err_str(err), "parsing capacity: oops: invalid JSON: invalid character 'o' "
				      "looking for beginning of value");
	gdn_err_free(err);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_argv_create),	   TEST(test_argv_others),
	    TEST(test_request_round_trip), TEST(test_request_refused),
	    TEST(test_failure_message),	   TEST(test_image_parse_grootfs),
	    TEST(test_image_parse_mounts), TEST(test_image_parse_refused),
	    TEST(test_stats_and_capacity),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
