/* link: cmd/guardian/spec.c */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "test/unit/tap.h"
#include "lib/duration.h"
#include "cmd/guardian/spec.h"

static struct gd_config cfg_with_rootfs(void)
{
	struct gd_config cfg = {.default_rootfs = tap_tmp, .default_grace_ns = 7};
	return cfg;
}

static int parse(const struct gd_config *cfg, const char *body, struct gd_create_spec *s,
		 uint64_t *grace, struct gdn_err **err)
{
	return gd_spec_parse(cfg, body, strlen(body), s, grace, err);
}

static void expect_error(const struct gd_config *cfg, const char *body, const char *needle)
{
	struct gdn_err *err = NULL;
	struct gd_create_spec s = {0};
	uint64_t grace = 0;
	int r = parse(cfg, body, &s, &grace, &err);

	if (r >= 0)
		tap_fail_(__FILE__, __LINE__, "'%s' parsed, wanted an error with '%s'", body,
			  needle);
	if (!strstr(gdn_err_str(err), needle))
		tap_fail_(__FILE__, __LINE__, "'%s': error '%s' lacks '%s'", body, gdn_err_str(err),
			  needle);
	CHECK(s.handle == NULL);
	gdn_err_free(err);
}

static void test_empty_spec_uses_defaults(void)
{
	struct gd_config cfg = cfg_with_rootfs();
	struct gdn_err *err = NULL;
	struct gd_create_spec s = {0};
	char real[4096];
	uint64_t grace = 0;

	CHECK_OK(parse(&cfg, "{}\n", &s, &grace, &err), err);
	CHECK_INTEQ(strlen(s.handle), 36);
	CHECK(realpath(tap_tmp, real));
	CHECK_STREQ(s.rootfs, real);
	CHECK(!s.privileged);
	CHECK_INTEQ(grace, 7);
	CHECK_STREQ(json_string_value(json_object_get(s.properties, "garden.grace-time")), "7");
	CHECK(s.env && !s.env[0]);
	gd_spec_free(&s);
}

static void test_go_client_body(void)
{
	struct gd_config cfg = cfg_with_rootfs();
	struct gdn_err *err = NULL;
	struct gd_create_spec s = {0};
	uint64_t grace = 0;
	char body[1024];

	snprintf(
	    body, sizeof(body),
	    "{\"handle\":\"web-1\",\"grace_time\":300000000000,\"image\":{\"uri\":\"raw://%s\"},"
	    "\"properties\":{\"app\":\"demo\"},\"env\":[\"A=1\",\"B=x=y\"],\"privileged\":true,"
	    "\"limits\":{\"bandwidth_limits\":{},\"cpu_limits\":{\"weight\":0,"
	    "\"limit_in_shares\":512},\"disk_limits\":{},\"memory_limits\":{\"limit_in_bytes\":"
	    "268435456},\"pid_limits\":{\"max\":100}}}\n",
	    tap_tmp);
	CHECK_OK(parse(&cfg, body, &s, &grace, &err), err);
	CHECK_STREQ(s.handle, "web-1");
	CHECK(s.privileged);
	CHECK_INTEQ(grace, 300000000000LL);
	CHECK_STREQ(s.env[0], "A=1");
	CHECK_STREQ(s.env[1], "B=x=y");
	CHECK(s.env[2] == NULL);
	CHECK_INTEQ(s.limits.memory_bytes, 268435456);
	CHECK_INTEQ(s.limits.cpu_shares, 512);
	CHECK_INTEQ(s.limits.pids_max, 100);
	CHECK_STREQ(json_string_value(json_object_get(s.properties, "app")), "demo");
	CHECK_STREQ(json_string_value(json_object_get(s.properties, "garden.grace-time")),
		    "300000000000");
	gd_spec_free(&s);
}

static void test_keys_are_case_insensitive_and_null_is_absent(void)
{
	struct gd_config cfg = cfg_with_rootfs();
	struct gdn_err *err = NULL;
	struct gd_create_spec s = {0};
	uint64_t grace = 0;

	cfg.default_grace_ns = 0;
	CHECK_OK(parse(&cfg,
		       "{\"Handle\":\"h1\",\"Privileged\":true,\"env\":null,\"limits\":"
		       "{\"cpu_limits\":{\"weight\":9,\"limit_in_shares\":3}},\"extra\":[1]}",
		       &s, &grace, &err),
		 err);
	CHECK_STREQ(s.handle, "h1");
	CHECK(s.privileged);
	CHECK_INTEQ(s.limits.cpu_shares, 9);
	CHECK(json_object_get(s.properties, "garden.grace-time") == NULL);
	gd_spec_free(&s);
}

/* limit_in_bytes and the other uint64 limits take every value a Go uint64 holds. */
static void test_big_limits(void)
{
	struct gd_config cfg = cfg_with_rootfs();
	struct gdn_err *err = NULL;
	struct gd_create_spec s = {0};
	uint64_t grace = 0;

	CHECK_OK(parse(&cfg,
		       "{\"limits\":{\"memory_limits\":{\"limit_in_bytes\":9223372036854775808},"
		       "\"cpu_limits\":{\"limit_in_shares\":18446744073709551615},"
		       "\"disk_limits\":{\"byte_hard\":18446744073709551615}}}",
		       &s, &grace, &err),
		 err);
	CHECK(s.limits.memory_bytes == (uint64_t)INT64_MAX + 1);
	CHECK(s.limits.cpu_shares == UINT64_MAX);
	CHECK(s.limits.disk_byte_hard == UINT64_MAX);
	gd_spec_free(&s);
	expect_error(&cfg,
		     "{\"limits\":{\"memory_limits\":{\"limit_in_bytes\":"
		     "18446744073709551616}}}",
		     "json: cannot unmarshal number 18446744073709551616 into Go struct field "
		     "MemoryLimits.limit_in_bytes of type uint64");
}

static void test_bad_json(void)
{
	struct gd_config cfg = cfg_with_rootfs();

	expect_error(&cfg, "", "EOF");
	expect_error(&cfg, "  \n", "EOF");
	expect_error(&cfg, "{\"handle\":", "invalid JSON");
	expect_error(&cfg, "[1,2]",
		     "cannot unmarshal array into Go value of type garden.ContainerSpec");
}

static void test_wrong_types(void)
{
	struct gd_config cfg = cfg_with_rootfs();

	expect_error(
	    &cfg, "{\"privileged\":\"yes\"}",
	    "json: cannot unmarshal string into Go struct field ContainerSpec.privileged of "
	    "type bool");
	expect_error(&cfg, "{\"env\":\"x\"}", "ContainerSpec.env of type []string");
	expect_error(&cfg, "{\"env\":[1]}", "cannot unmarshal number");
	expect_error(&cfg, "{\"handle\":5}", "ContainerSpec.handle of type string");
	expect_error(
	    &cfg, "{\"grace_time\":1.5}",
	    "json: cannot unmarshal number 1.5 into Go struct field ContainerSpec.grace_time "
	    "of type time.Duration");
	expect_error(&cfg, "{\"limits\":{\"pid_limits\":{\"max\":-2}}}",
		     "json: cannot unmarshal number -2 into Go struct field");
	expect_error(&cfg, "{\"properties\":{\"a\":1}}", "cannot unmarshal number");
	expect_error(&cfg, "{\"limits\":{\"memory_limits\":{\"limit_in_bytes\":-1}}}", "uint64");
	expect_error(&cfg, "{\"limits\":[]}", "garden.Limits");
}

static void test_bad_values(void)
{
	struct gd_config cfg = cfg_with_rootfs();

	expect_error(&cfg, "{\"handle\":\"a/b\"}", "a/b");
	expect_error(&cfg, "{\"handle\":\"..\"}", "..");
	expect_error(&cfg, "{\"env\":[\"NOEQUALS\"]}", "invalid env entry 'NOEQUALS'");
	expect_error(&cfg, "{\"rootfs\":\"/does/not/exist\"}",
		     "rootfs '/does/not/exist' does not exist");
	expect_error(&cfg, "{\"rootfs\":\"/etc/hostname\"}", "is not a directory");
	expect_error(&cfg, "{\"rootfs\":\"relative\"}", "must be an absolute path");
	expect_error(&cfg, "{\"rootfs\":\"/tmp\",\"image\":{\"uri\":\"/tmp\"}}",
		     "Cannot provide both Image.URI and RootFSPath");
	expect_error(&cfg, "{\"image\":{\"uri\":\"docker:///busybox\"}}", "only local directories");
	expect_error(
	    &cfg, "{\"netin\":[{\"host_port\":-1}]}",
	    "json: cannot unmarshal number -1 into Go struct field NetIn.host_port of type "
	    "uint32");
	expect_error(&cfg, "{\"netin\":{}}", "ContainerSpec.netin of type []garden.NetIn");
	expect_error(&cfg, "{\"netout_rules\":3}", "of type []garden.NetOutRule");
	expect_error(&cfg, "{\"bind_mounts\":[{\"src_path\":\"rel\",\"dst_path\":\"/x\"}]}",
		     "must be absolute");
	expect_error(&cfg, "{\"bind_mounts\":[{\"src_path\":\"/tmp\",\"dst_path\":\"/a/../b\"}]}",
		     "'..'");
	expect_error(&cfg, "{\"bind_mounts\":[{\"src_path\":\"/nope-x\",\"dst_path\":\"/x\"}]}",
		     "does not exist");
	expect_error(&cfg, "{\"grace_time\":-1}", "negative");
}

static void test_network_fields(void)
{
	struct gd_config cfg = cfg_with_rootfs();
	struct gd_create_spec s;
	uint64_t grace;
	_cleanup_err_ struct gdn_err *e = NULL;
	const char *body = "{\"network\":\"10.254.8.0/29\",\"netin\":[{\"host_port\":0,"
			   "\"container_port\":8080},{\"host_port\":61999}],\"netout_rules\":"
			   "[{\"protocol\":1,\"ports\":[{\"start\":80,\"end\":80}]}]}";

	CHECK(gd_spec_parse(&cfg, body, strlen(body), &s, &grace, &e) == 0);
	CHECK(strcmp(s.net.network, "10.254.8.0/29") == 0);
	_cleanup_free_ char *netin = json_dumps(s.net.netin, JSON_COMPACT);
	CHECK(strcmp(netin, "[{\"host_port\":0,\"container_port\":8080},"
			    "{\"host_port\":61999,\"container_port\":0}]") == 0);
	_cleanup_free_ char *netout = json_dumps(s.net.netout, JSON_COMPACT);
	CHECK(strcmp(netout, "[{\"protocol\":1,\"ports\":[{\"start\":80,\"end\":80}]}]") == 0);
	gd_spec_free(&s);

	CHECK(gd_spec_parse(&cfg, "{}", 2, &s, &grace, &e) == 0);
	CHECK(strcmp(s.net.network, "") == 0 && !s.net.netin && !s.net.netout);
	gd_spec_free(&s);
}

static void test_no_default_rootfs(void)
{
	struct gd_config cfg = {0};

	expect_error(&cfg, "{}", "no --default-rootfs");
}

static void test_privileged_disabled(void)
{
	struct gd_config cfg = cfg_with_rootfs();

	cfg.disable_privileged = true;
	expect_error(&cfg, "{\"privileged\":true}", "privileged container creation is disabled");
}

static void test_bind_mounts(void)
{
	struct gd_config cfg = cfg_with_rootfs();
	struct gdn_err *err = NULL;
	struct gd_create_spec s = {0};
	uint64_t grace = 0;

	CHECK_OK(parse(&cfg,
		       "{\"bind_mounts\":[{\"src_path\":\"/tmp\",\"dst_path\":\"/a\"},"
		       "{\"src_path\":\"/etc\",\"dst_path\":\"/b\",\"mode\":1}]}",
		       &s, &grace, &err),
		 err);
	CHECK_INTEQ(s.n_bind_mounts, 2);
	CHECK_STREQ(s.bind_mounts[0].dst, "/a");
	CHECK(!s.bind_mounts[0].rw);
	CHECK(s.bind_mounts[1].rw);
	gd_spec_free(&s);
}

static void test_pea_spec(void)
{
	struct gd_config cfg = cfg_with_rootfs();
	struct gdn_err *err = NULL;
	struct gd_create_spec s = {0};
	bool own = true;
	char body[512];

	snprintf(body, sizeof(body),
		 "{\"path\":\"x\",\"image\":{\"uri\":\"%s\",\"username\":\"u\"},"
		 "\"bind_mounts\":[{\"src_path\":\"/tmp\",\"dst_path\":\"/m\"}]}",
		 tap_tmp);
	CHECK_OK(gd_pea_spec_parse(&cfg, body, strlen(body), false, "p1", &s, &own, &err), err);
	CHECK_STREQ(s.handle, "p1");
	CHECK(!own && !s.privileged && s.n_bind_mounts == 1 && s.rootfs);
	CHECK_STREQ(s.image_username, "u");
	gd_spec_free(&s);

	/* limits present, even empty: a cgroup of its own; only cpu and memory are read */
	snprintf(body, sizeof(body),
		 "{\"image\":{\"uri\":\"%s\"},\"limits\":{\"memory_limits\":"
		 "{\"limit_in_bytes\":1024},\"cpu_limits\":{\"weight\":5},"
		 "\"pid_limits\":{\"max\":9}}}",
		 tap_tmp);
	CHECK_OK(gd_pea_spec_parse(&cfg, body, strlen(body), true, "p2", &s, &own, &err), err);
	CHECK(own && s.privileged);
	CHECK_INTEQ(s.limits.memory_bytes, 1024);
	CHECK_INTEQ(s.limits.cpu_shares, 5);
	CHECK_INTEQ(s.limits.pids_max, 0);
	gd_spec_free(&s);
	snprintf(body, sizeof(body), "{\"image\":{\"uri\":\"%s\"},\"limits\":{}}", tap_tmp);
	CHECK_OK(gd_pea_spec_parse(&cfg, body, strlen(body), false, "p3", &s, &own, &err), err);
	CHECK(own);
	gd_spec_free(&s);

	/* Go's messages name ProcessSpec's types */
	snprintf(body, sizeof(body), "{\"image\":{\"uri\":\"%s\"},\"limits\":[]}", tap_tmp);
	CHECK(gd_pea_spec_parse(&cfg, body, strlen(body), false, "p4", &s, &own, &err) < 0);
	CHECK(strstr(gdn_err_str(err), "garden.ProcessLimits") != NULL);
	err = gdn_err_free(err);
	snprintf(body, sizeof(body), "{\"image\":{\"uri\":\"/no/such/dir\"}}");
	CHECK(gd_pea_spec_parse(&cfg, body, strlen(body), false, "p5", &s, &own, &err) < 0);
	CHECK_STREQ(gdn_err_str(err), "rootfs '/no/such/dir' does not exist");
	CHECK(s.handle == NULL);
	gdn_err_free(err);
}

static void test_durations(void)
{
	int64_t ns;

	CHECK_OK(gdn_parse_duration("0", &ns), NULL);
	CHECK_INTEQ(ns, 0);
	CHECK_OK(gdn_parse_duration("1h30m", &ns), NULL);
	CHECK_INTEQ(ns, 5400000000000LL);
	CHECK_OK(gdn_parse_duration("500ms", &ns), NULL);
	CHECK_INTEQ(ns, 500000000LL);
	CHECK_OK(gdn_parse_duration("1.5s", &ns), NULL);
	CHECK_INTEQ(ns, 1500000000LL);
	CHECK_OK(gdn_parse_duration("-2us", &ns), NULL);
	CHECK_INTEQ(ns, -2000);
	CHECK_OK(gdn_parse_duration("3m4s5ns", &ns), NULL);
	CHECK_INTEQ(ns, 184000000005LL);
	CHECK_INTEQ(gdn_parse_duration("30", &ns), -EINVAL);
	CHECK_INTEQ(gdn_parse_duration("", &ns), -EINVAL);
	CHECK_INTEQ(gdn_parse_duration("5x", &ns), -EINVAL);
	CHECK_INTEQ(gdn_parse_duration(".s", &ns), -EINVAL);
	CHECK_INTEQ(gdn_parse_duration("9999999999h", &ns), -ERANGE);
	/* the fraction pushed the whole units past 2^64, which wrapped to ~25 minutes */
	CHECK_INTEQ(gdn_parse_duration("5124095.9999h", &ns), -ERANGE);
	CHECK_INTEQ(gdn_parse_duration("18446744073709.9999999ms", &ns), -ERANGE);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_empty_spec_uses_defaults),
	    TEST(test_go_client_body),
	    TEST(test_keys_are_case_insensitive_and_null_is_absent),
	    TEST(test_bad_json),
	    TEST(test_big_limits),
	    TEST(test_wrong_types),
	    TEST(test_bad_values),
	    TEST(test_network_fields),
	    TEST(test_no_default_rootfs),
	    TEST(test_privileged_disabled),
	    TEST(test_bind_mounts),
	    TEST(test_pea_spec),
	    TEST(test_durations),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
