/* link: cmd/guardian/bundle.c cmd/guardian/caps.c cmd/guardian/seccomp.c */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "test/unit/tap.h"
#include "cmd/guardian/bundle.h"
#include "cmd/guardian/caps.h"

#define MAXID 4294967294u
#define CAP_BIT(n) (UINT64_C(1) << (n))
#define CAP_SYS_ADMIN_NR 21
#define CAP_SYS_RESOURCE_NR 24

static const struct gd_bundle_host v1_swap = {.cgroup_v1 = true, .swap_limit = true};

static struct gd_config test_cfg(void)
{
	struct gd_config cfg = {
	    .depot = "/depot",
	    .init_bin = "/opt/gdn/garden-init",
	    .maxid = MAXID,
	    .uid_map_start = 1,
	    .uid_map_length = MAXID - 1,
	    .gid_map_start = 100,
	    .gid_map_length = 65536,
	    /* like this machine: everything but CAP_SYS_RESOURCE */
	    .cap_bounding = gd_caps_all() & ~CAP_BIT(CAP_SYS_RESOURCE_NR),
	};
	return cfg;
}

static struct gd_create_spec test_spec(const char *handle, bool privileged)
{
	struct gd_create_spec s = {
	    .handle = (char *)handle,
	    .rootfs = (char *)"/rootfs",
	    .privileged = privileged,
	};
	return s;
}

static json_t *build(const struct gd_config *cfg, const struct gd_create_spec *s,
		     const struct gd_bundle_host *host)
{
	struct gdn_err *err = NULL;
	json_t *c = gd_bundle_config(cfg, s, "/depot/h", host, &err);
	if (!c)
		tap_fail_(__FILE__, __LINE__, "gd_bundle_config: %s", gdn_err_str(err));
	return c;
}

static bool has_string(const json_t *arr, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach (arr, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	}
	return false;
}

static bool has_namespace(const json_t *config, const char *type)
{
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(json_object_get(config, "linux"), "namespaces"), i, v) {
		if (strcmp(json_string_value(json_object_get(v, "type")), type) == 0)
			return true;
	}
	return false;
}

static const json_t *find_mount(const json_t *config, const char *dst)
{
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(config, "mounts"), i, v) {
		if (strcmp(json_string_value(json_object_get(v, "destination")), dst) == 0)
			return v;
	}
	return NULL;
}

static const json_t *caps_of(const json_t *config, const char *set)
{
	return json_object_get(json_object_get(json_object_get(config, "process"), "capabilities"),
			       set);
}

static json_int_t mapping(const json_t *config, const char *which, size_t i, const char *key)
{
	return json_integer_value(json_object_get(
	    json_array_get(json_object_get(json_object_get(config, "linux"), which), i), key));
}

static void test_unprivileged_has_user_namespace_and_mappings(void)
{
	struct gd_config cfg = test_cfg();
	struct gd_create_spec s = test_spec("h", false);
	json_auto_t *c = build(&cfg, &s, &v1_swap);

	CHECK_STREQ(json_string_value(json_object_get(c, "ociVersion")), "1.0.2");
	const char *const ns[] = {"pid", "ipc", "uts", "mount", "network", "user"};
	for (size_t i = 0; i < GDN_ARRAY_SIZE(ns); i++)
		CHECK(has_namespace(c, ns[i]));
	CHECK_INTEQ(json_array_size(json_object_get(json_object_get(c, "linux"), "namespaces")), 6);

	CHECK_INTEQ(json_array_size(json_object_get(json_object_get(c, "linux"), "uidMappings")),
		    2);
	CHECK_INTEQ(mapping(c, "uidMappings", 0, "containerID"), 0);
	CHECK_INTEQ(mapping(c, "uidMappings", 0, "hostID"), MAXID);
	CHECK_INTEQ(mapping(c, "uidMappings", 0, "size"), 1);
	CHECK_INTEQ(mapping(c, "uidMappings", 1, "containerID"), 1);
	CHECK_INTEQ(mapping(c, "uidMappings", 1, "hostID"), 1);
	CHECK_INTEQ(mapping(c, "uidMappings", 1, "size"), MAXID - 1);
	CHECK_INTEQ(mapping(c, "gidMappings", 0, "hostID"), MAXID);
	CHECK_INTEQ(mapping(c, "gidMappings", 1, "hostID"), 100);
	CHECK_INTEQ(mapping(c, "gidMappings", 1, "size"), 65536);

	const json_t *lx = json_object_get(c, "linux");
	CHECK(has_string(json_object_get(lx, "maskedPaths"), "/proc/kcore"));
	CHECK(has_string(json_object_get(lx, "readonlyPaths"), "/proc/sys"));
	CHECK_STREQ(json_string_value(json_object_get(lx, "cgroupsPath")), "garden/h");
	CHECK_STREQ(json_string_value(json_object_get(json_object_get(c, "root"), "path")),
		    "/depot/h/rootfs");
	CHECK(!gd_bundle_privileged(c));
}

static void test_privileged_has_no_user_namespace(void)
{
	struct gd_config cfg = test_cfg();
	struct gd_create_spec s = test_spec("h", true);
	json_auto_t *c = build(&cfg, &s, &v1_swap);
	const json_t *lx = json_object_get(c, "linux");

	CHECK(!has_namespace(c, "user"));
	CHECK(has_namespace(c, "network"));
	CHECK(!json_object_get(lx, "uidMappings"));
	CHECK(!json_object_get(lx, "gidMappings"));
	CHECK(!json_object_get(lx, "maskedPaths"));
	CHECK_STREQ(json_string_value(json_object_get(lx, "cgroupsPath")), "garden/h");
	CHECK(gd_bundle_privileged(c));
}

static void test_unprivileged_caps_are_gardens_list(void)
{
	struct gd_config cfg = test_cfg();
	struct gd_create_spec s = test_spec("h", false);
	json_auto_t *c = build(&cfg, &s, &v1_swap);
	const char *const sets[] = {"bounding", "effective", "inheritable", "permitted"};

	for (size_t i = 0; i < GDN_ARRAY_SIZE(sets); i++) {
		const json_t *caps = caps_of(c, sets[i]);
		CHECK_INTEQ(json_array_size(caps), 14);
		CHECK(has_string(caps, "CAP_CHOWN"));
		CHECK(has_string(caps, "CAP_AUDIT_WRITE"));
		CHECK(has_string(caps, "CAP_NET_BIND_SERVICE"));
		CHECK(!has_string(caps, "CAP_SYS_ADMIN"));
	}
}

static void test_privileged_caps_are_intersected_with_bounding_set(void)
{
	struct gd_config cfg = test_cfg();
	struct gd_create_spec s = test_spec("h", true);
	json_auto_t *c = build(&cfg, &s, &v1_swap);
	const json_t *caps = caps_of(c, "bounding");

	CHECK_INTEQ(json_array_size(caps), GD_CAP_LAST); /* all 41 but CAP_SYS_RESOURCE */
	CHECK(has_string(caps, "CAP_SYS_ADMIN"));
	CHECK(has_string(caps, "CAP_CHECKPOINT_RESTORE"));
	CHECK(!has_string(caps, "CAP_SYS_RESOURCE"));
	CHECK(json_equal(caps, caps_of(c, "permitted")));

	cfg.cap_bounding = CAP_BIT(CAP_SYS_ADMIN_NR) | CAP_BIT(0);
	json_auto_t *c2 = build(&cfg, &s, &v1_swap);
	CHECK_INTEQ(json_array_size(caps_of(c2, "effective")), 2);
	CHECK(has_string(caps_of(c2, "effective"), "CAP_CHOWN"));
}

static void test_hostname_keeps_last_49_chars(void)
{
	struct gd_config cfg = test_cfg();
	const char *longh = "0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTU";
	struct gd_create_spec s = test_spec(longh, false);
	json_auto_t *c = build(&cfg, &s, &v1_swap);
	const char *hn = json_string_value(json_object_get(c, "hostname"));

	CHECK_INTEQ(strlen(hn), 49);
	CHECK_STREQ(hn, longh + strlen(longh) - 49);

	struct gd_create_spec s2 = test_spec("short", false);
	json_auto_t *c2 = build(&cfg, &s2, &v1_swap);
	CHECK_STREQ(json_string_value(json_object_get(c2, "hostname")), "short");
}

static void test_limits_become_resources(void)
{
	struct gd_config cfg = test_cfg();
	struct gd_create_spec s = test_spec("h", false);
	s.limits = (struct gd_limits){
	    .memory_bytes = 64 << 20, .cpu_shares = 512, .pids_max = 100, .disk_byte_hard = 12345};
	json_auto_t *c = build(&cfg, &s, &v1_swap);
	const json_t *res = json_object_get(json_object_get(c, "linux"), "resources");

	CHECK_INTEQ(json_integer_value(json_object_get(json_object_get(res, "memory"), "limit")),
		    64 << 20);
	CHECK_INTEQ(json_integer_value(json_object_get(json_object_get(res, "memory"), "swap")),
		    64 << 20);
	CHECK_INTEQ(json_integer_value(json_object_get(json_object_get(res, "cpu"), "shares")),
		    512);
	CHECK_INTEQ(json_integer_value(json_object_get(json_object_get(res, "pids"), "limit")),
		    100);

	struct gd_limits back;
	gd_bundle_limits(c, &back);
	CHECK_INTEQ(back.memory_bytes, 64 << 20);
	CHECK_INTEQ(back.cpu_shares, 512);
	CHECK_INTEQ(back.pids_max, 100);
	CHECK_INTEQ(back.disk_byte_hard, 12345);

	/* no swap accounting: no swap limit */
	const struct gd_bundle_host noswap = {.cgroup_v1 = true};
	json_auto_t *c2 = build(&cfg, &s, &noswap);
	res = json_object_get(json_object_get(c2, "linux"), "resources");
	CHECK(!json_object_get(json_object_get(res, "memory"), "swap"));

	/* huge values are capped at INT64_MAX */
	s.limits.memory_bytes = UINT64_MAX;
	json_auto_t *c3 = build(&cfg, &s, &v1_swap);
	res = json_object_get(json_object_get(c3, "linux"), "resources");
	CHECK_INTEQ(json_integer_value(json_object_get(json_object_get(res, "memory"), "limit")),
		    INT64_MAX);
}

static const json_t *find_rule(const json_t *devices, const char *type, int major, int minor)
{
	size_t i;
	json_t *d;
	json_array_foreach (devices, i, d) {
		if (json_is_true(json_object_get(d, "allow")) &&
		    strcmp(json_string_value(json_object_get(d, "type")) ?: "", type) == 0 &&
		    json_integer_value(json_object_get(d, "major")) == major &&
		    json_integer_value(json_object_get(d, "minor")) == minor)
			return d;
	}
	return NULL;
}

static void test_seccomp_for_unprivileged_only(void)
{
	struct gd_config cfg = test_cfg();
	struct gd_create_spec s = test_spec("h", false);
	json_auto_t *c = build(&cfg, &s, &v1_swap);
	const json_t *sc = json_object_get(json_object_get(c, "linux"), "seccomp");

	CHECK_STREQ(json_string_value(json_object_get(sc, "defaultAction")), "SCMP_ACT_ERRNO");
	const json_t *calls = json_object_get(sc, "syscalls");
	const json_t *allow = json_array_get(calls, 0);
	CHECK_STREQ(json_string_value(json_object_get(allow, "action")), "SCMP_ACT_ALLOW");
	const json_t *names = json_object_get(allow, "names");
	const char *const recent[] = {"statx", "openat2", "preadv2", "pwritev2", "read"};
	for (size_t i = 0; i < GDN_ARRAY_SIZE(recent); i++)
		CHECK(has_string(names, recent[i]));
	CHECK(!has_string(names, "unshare"));
	CHECK(!has_string(names, "mount"));
	CHECK(!has_string(names, "clone"));
	bool clone3_enosys = false, clone_masked = false;
	size_t i;
	json_t *r;
	json_array_foreach (calls, i, r) {
		const json_t *n = json_object_get(r, "names");
		if (has_string(n, "clone3"))
			clone3_enosys =
			    json_integer_value(json_object_get(r, "errnoRet")) == ENOSYS;
		if (has_string(n, "clone"))
			clone_masked =
			    strcmp(json_string_value(json_object_get(
				       json_array_get(json_object_get(r, "args"), 0), "op")),
				   "SCMP_CMP_MASKED_EQ") == 0;
	}
	CHECK(clone3_enosys);
	CHECK(clone_masked);

	struct gd_create_spec p = test_spec("h", true);
	json_auto_t *cp = build(&cfg, &p, &v1_swap);
	CHECK(!json_object_get(json_object_get(cp, "linux"), "seccomp"));
}

static void test_security_flags(void)
{
	static const struct gd_device_rule rules[] = {{'c', 1, 11, "rw"}, {'b', -1, -1, "m"}};
	struct gd_config cfg = test_cfg();
	cfg.no_new_privileges = true;
	cfg.apparmor_profile = "garden-default";
	cfg.device_rules = rules;
	cfg.n_device_rules = GDN_ARRAY_SIZE(rules);
	struct gd_create_spec u = test_spec("h", false), p = test_spec("h", true);
	json_auto_t *cu = build(&cfg, &u, &v1_swap), *cp = build(&cfg, &p, &v1_swap);
	const json_t *pu = json_object_get(cu, "process"), *pp = json_object_get(cp, "process");

	CHECK(json_is_true(json_object_get(pu, "noNewPrivileges")));
	CHECK_STREQ(json_string_value(json_object_get(pu, "apparmorProfile")), "garden-default");
	CHECK_STREQ(json_string_value(
			json_object_get(json_object_get(json_object_get(cu, "linux"), "sysctl"),
					"net.ipv4.ping_group_range")),
		    "1 65535");
	CHECK(json_is_false(json_object_get(pp, "noNewPrivileges")));
	CHECK(!json_object_get(pp, "apparmorProfile"));
	CHECK(!json_object_get(json_object_get(cp, "linux"), "sysctl"));

	/* devices: tun for both; fuse, its node and the flag's rules for privileged only */
	const json_t *du =
	    json_object_get(json_object_get(json_object_get(cu, "linux"), "resources"), "devices");
	const json_t *dp =
	    json_object_get(json_object_get(json_object_get(cp, "linux"), "resources"), "devices");
	CHECK(find_rule(du, "c", 10, 200) && find_rule(dp, "c", 10, 200));
	CHECK(!find_rule(du, "c", 10, 229) && find_rule(dp, "c", 10, 229));
	CHECK(!find_rule(du, "c", 1, 11));
	const json_t *kmsg = find_rule(dp, "c", 1, 11);
	CHECK(kmsg && strcmp(json_string_value(json_object_get(kmsg, "access")), "rw") == 0);
	size_t i;
	json_t *d;
	bool any_block = false;
	json_array_foreach (dp, i, d) {
		any_block |=
		    json_is_true(json_object_get(d, "allow")) &&
		    strcmp(json_string_value(json_object_get(d, "type")) ?: "", "b") == 0 &&
		    !json_object_get(d, "major") && !json_object_get(d, "minor");
	}
	CHECK(any_block);
	const json_t *node =
	    json_array_get(json_object_get(json_object_get(cp, "linux"), "devices"), 0);
	CHECK_STREQ(json_string_value(json_object_get(node, "path")), "/dev/fuse");
	CHECK_INTEQ(json_integer_value(json_object_get(node, "fileMode")), 0666);
	CHECK(!json_object_get(json_object_get(cu, "linux"), "devices"));
}

static void test_cpu_quota_and_swap_flags(void)
{
	struct gd_config cfg = test_cfg();
	cfg.cpu_quota_per_share = 20;
	cfg.disable_swap_limit = true;
	struct gd_create_spec s = test_spec("h", false);
	s.limits = (struct gd_limits){.memory_bytes = 64 << 20, .cpu_shares = 500};
	json_auto_t *c = build(&cfg, &s, &v1_swap);
	const json_t *res = json_object_get(json_object_get(c, "linux"), "resources");
	const json_t *cpu = json_object_get(res, "cpu");

	CHECK_INTEQ(json_integer_value(json_object_get(cpu, "period")), 100000);
	CHECK_INTEQ(json_integer_value(json_object_get(cpu, "quota")), 10000);
	CHECK(!json_object_get(json_object_get(res, "memory"), "swap"));
	CHECK(!json_object_get(res, "blockIO"));

	s.limits.cpu_shares = 10; /* 200 us: raised to Garden's 1 ms floor */
	json_auto_t *c2 = build(&cfg, &s, &v1_swap);
	cpu = json_object_get(json_object_get(json_object_get(c2, "linux"), "resources"), "cpu");
	CHECK_INTEQ(json_integer_value(json_object_get(cpu, "quota")), 1000);

	s.limits.cpu_shares = UINT64_MAX; /* saturates instead of wrapping */
	json_auto_t *c3 = build(&cfg, &s, &v1_swap);
	cpu = json_object_get(json_object_get(json_object_get(c3, "linux"), "resources"), "cpu");
	CHECK_INTEQ(json_integer_value(json_object_get(cpu, "quota")), INT64_MAX);

	cfg.cpu_quota_per_share = 0;
	s.limits.cpu_shares = 500;
	json_auto_t *c4 = build(&cfg, &s, &v1_swap);
	cpu = json_object_get(json_object_get(json_object_get(c4, "linux"), "resources"), "cpu");
	CHECK(!json_object_get(cpu, "quota") && !json_object_get(cpu, "period"));
}

static void test_no_limits_no_resources(void)
{
	struct gd_config cfg = test_cfg();
	struct gd_create_spec s = test_spec("h", false);
	json_auto_t *c = build(&cfg, &s, &v1_swap);
	const json_t *res = json_object_get(json_object_get(c, "linux"), "resources");

	CHECK(!json_object_get(res, "memory"));
	CHECK(!json_object_get(res, "cpu"));
	CHECK(!json_object_get(res, "pids"));
	/* deny all first, then the allow list */
	const json_t *dev = json_object_get(res, "devices");
	CHECK(json_array_size(dev) > 5);
	CHECK(json_is_false(json_object_get(json_array_get(dev, 0), "allow")));
	CHECK(json_is_true(json_object_get(json_array_get(dev, 1), "allow")));

	struct gd_limits back;
	gd_bundle_limits(c, &back);
	CHECK_INTEQ(back.memory_bytes, 0);
	CHECK_INTEQ(back.cpu_shares, 0);
	CHECK_INTEQ(back.pids_max, 0);
	CHECK_INTEQ(back.disk_byte_hard, 0);
}

static void test_mounts_in_gardens_order_with_init_read_only(void)
{
	struct gd_config cfg = test_cfg();
	struct gd_bind_mount binds[] = {{(char *)"/host/a", (char *)"/a", false},
					{(char *)"/host/b", (char *)"/b", true}};
	struct gd_create_spec s = test_spec("h", false);
	s.bind_mounts = binds;
	s.n_bind_mounts = 2;
	json_auto_t *c = build(&cfg, &s, &v1_swap);
	const char *const order[] = {"/proc",
				     "/dev",
				     "/dev/pts",
				     "/dev/shm",
				     "/dev/mqueue",
				     "/sys",
				     "/sys/fs/cgroup",
				     "/tmp/garden-init",
				     "/etc/hosts",
				     "/etc/resolv.conf",
				     "/a",
				     "/b"};
	const json_t *mounts = json_object_get(c, "mounts");

	CHECK_INTEQ(json_array_size(mounts), GDN_ARRAY_SIZE(order));
	for (size_t i = 0; i < GDN_ARRAY_SIZE(order); i++)
		CHECK_STREQ(
		    json_string_value(json_object_get(json_array_get(mounts, i), "destination")),
		    order[i]);

	const json_t *init = find_mount(c, "/tmp/garden-init");
	CHECK_STREQ(json_string_value(json_object_get(init, "source")), "/opt/gdn/garden-init");
	CHECK_STREQ(json_string_value(json_object_get(init, "type")), "bind");
	CHECK(has_string(json_object_get(init, "options"), "bind"));
	CHECK(has_string(json_object_get(init, "options"), "ro"));
	CHECK(!has_string(json_object_get(init, "options"), "rw"));

	const json_t *hosts = find_mount(c, "/etc/hosts");
	CHECK_STREQ(json_string_value(json_object_get(hosts, "source")), "/depot/h/hosts");
	CHECK(has_string(json_object_get(hosts, "options"), "rw"));
	CHECK_STREQ(json_string_value(json_object_get(find_mount(c, "/etc/resolv.conf"), "source")),
		    "/depot/h/resolv.conf");

	const json_t *a = find_mount(c, "/a");
	CHECK_STREQ(json_string_value(json_object_get(a, "source")), "/host/a");
	CHECK(has_string(json_object_get(a, "options"), "rbind"));
	CHECK(has_string(json_object_get(a, "options"), "ro"));
	CHECK(has_string(json_object_get(find_mount(c, "/b"), "options"), "rw"));

	CHECK(has_string(json_object_get(find_mount(c, "/sys"), "options"), "ro"));
	CHECK(has_string(json_object_get(find_mount(c, "/dev/pts"), "options"), "gid=5"));
}

static void test_cgroup_mount_and_tty_gid_depend_on_host_and_mapping(void)
{
	struct gd_config cfg = test_cfg();
	struct gd_create_spec priv = test_spec("h", true);
	struct gd_create_spec unpriv = test_spec("h", false);
	const struct gd_bundle_host v2 = {.cgroup_v1 = false};

	json_auto_t *p = build(&cfg, &priv, &v1_swap);
	CHECK(!find_mount(p, "/sys/fs/cgroup"));
	CHECK(has_string(json_object_get(find_mount(p, "/dev/pts"), "options"), "gid=5"));

	json_auto_t *u2 = build(&cfg, &unpriv, &v2);
	CHECK(!find_mount(u2, "/sys/fs/cgroup"));
	CHECK_STREQ(json_string_value(json_object_get(json_object_get(u2, "linux"), "cgroupsPath")),
		    "/garden/h");

	cfg.gid_map_length = 3; /* container gid 5 is not mapped */
	json_auto_t *u = build(&cfg, &unpriv, &v1_swap);
	CHECK(!has_string(json_object_get(find_mount(u, "/dev/pts"), "options"), "gid=5"));
	CHECK(has_string(json_object_get(find_mount(u, "/dev/pts"), "options"), "newinstance"));
}

static void test_process(void)
{
	struct gd_config cfg = test_cfg();
	struct gd_create_spec s = test_spec("h", false);
	char *env[] = {(char *)"A=1", (char *)"B=2", NULL};
	s.env = env;
	json_auto_t *c = build(&cfg, &s, &v1_swap);
	const json_t *p = json_object_get(c, "process");
	const json_t *e = json_object_get(p, "env");

	CHECK_STREQ(json_string_value(json_array_get(json_object_get(p, "args"), 0)),
		    "/tmp/garden-init");
	CHECK_INTEQ(json_array_size(json_object_get(p, "args")), 1);
	CHECK_STREQ(json_string_value(json_object_get(p, "cwd")), "/");
	CHECK_INTEQ(json_integer_value(json_object_get(json_object_get(p, "user"), "uid")), 0);
	CHECK(json_is_false(json_object_get(p, "terminal")));
	CHECK(json_is_false(json_object_get(p, "noNewPrivileges")));
	CHECK_INTEQ(json_array_size(e), 3);
	CHECK_STREQ(json_string_value(json_array_get(e, 0)),
		    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	CHECK_STREQ(json_string_value(json_array_get(e, 2)), "B=2");

	char *env2[] = {(char *)"PATH=/x", NULL};
	s.env = env2;
	json_auto_t *c2 = build(&cfg, &s, &v1_swap);
	e = json_object_get(json_object_get(c2, "process"), "env");
	CHECK_INTEQ(json_array_size(e), 1);
	CHECK_STREQ(json_string_value(json_array_get(e, 0)), "PATH=/x");
}

static void test_write_and_read_back(void)
{
	struct gd_config cfg = test_cfg();
	struct gd_create_spec s = test_spec("h", false);
	s.limits.pids_max = 7;
	json_auto_t *c = build(&cfg, &s, &v1_swap);
	struct gdn_err *err = NULL;

	CHECK_OK(gd_bundle_write(tap_tmp, c, &err), err);
	char path[128];
	snprintf(path, sizeof(path), "%s/config.json", tap_tmp);
	struct stat st;
	CHECK(stat(path, &st) == 0);
	CHECK_INTEQ(st.st_mode & 07777, 0600);

	json_auto_t *back = NULL;
	CHECK_OK(gd_bundle_read(tap_tmp, &back, &err), err);
	CHECK(json_equal(c, back));
	struct gd_limits l;
	gd_bundle_limits(back, &l);
	CHECK_INTEQ(l.pids_max, 7);
}

static void test_missing_init_bin_is_an_error(void)
{
	struct gd_config cfg = test_cfg();
	cfg.init_bin = NULL;
	struct gd_create_spec s = test_spec("h", false);
	struct gdn_err *err = NULL;
	CHECK(gd_bundle_config(&cfg, &s, "/depot/h", &v1_swap, &err) == NULL);
	CHECK(strstr(gdn_err_str(err), "init") != NULL);
	gdn_err_free(err);
}

static void test_cap_names(void)
{
	CHECK_STREQ(gd_cap_name(0), "CAP_CHOWN");
	CHECK_STREQ(gd_cap_name(CAP_SYS_ADMIN_NR), "CAP_SYS_ADMIN");
	CHECK_STREQ(gd_cap_name(CAP_SYS_RESOURCE_NR), "CAP_SYS_RESOURCE");
	CHECK_STREQ(gd_cap_name(GD_CAP_LAST), "CAP_CHECKPOINT_RESTORE");
	CHECK(gd_cap_name(GD_CAP_LAST + 1) == NULL);
	CHECK_INTEQ(gd_cap_from_name("sys_admin"), CAP_SYS_ADMIN_NR);
	CHECK_INTEQ(gd_cap_from_name("CAP_KILL"), 5);
	CHECK_INTEQ(gd_cap_from_name("CAP_NOPE"), -EINVAL);
	CHECK_INTEQ(__builtin_popcountll(gd_caps_unprivileged()), 14);
	CHECK((gd_caps_unprivileged() & ~gd_caps_all()) == 0);
}

static void test_caps_bounding_reads_proc(void)
{
	uint64_t b = 0;
	struct gdn_err *err = NULL;
	CHECK_OK(gd_caps_bounding(&b, &err), err);
	/* root in the initial namespace (how unit tests run here) keeps CAP_CHOWN */
	if (geteuid() == 0)
		CHECK(b & CAP_BIT(0));
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_unprivileged_has_user_namespace_and_mappings),
	    TEST(test_privileged_has_no_user_namespace),
	    TEST(test_unprivileged_caps_are_gardens_list),
	    TEST(test_privileged_caps_are_intersected_with_bounding_set),
	    TEST(test_hostname_keeps_last_49_chars),
	    TEST(test_limits_become_resources),
	    TEST(test_no_limits_no_resources),
	    TEST(test_seccomp_for_unprivileged_only),
	    TEST(test_security_flags),
	    TEST(test_cpu_quota_and_swap_flags),
	    TEST(test_mounts_in_gardens_order_with_init_read_only),
	    TEST(test_cgroup_mount_and_tty_gid_depend_on_host_and_mapping),
	    TEST(test_process),
	    TEST(test_write_and_read_back),
	    TEST(test_missing_init_bin_is_an_error),
	    TEST(test_cap_names),
	    TEST(test_caps_bounding_reads_proc),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
