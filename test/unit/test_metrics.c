/* clang-format off */
/* link: cmd/guardian/metrics.c cmd/guardian/cgroup_stats.c cmd/guardian/cgroup.c cmd/guardian/mountinfo.c cmd/guardian/container.c cmd/guardian/bundle.c cmd/guardian/seccomp.c cmd/guardian/caps.c cmd/guardian/dadoo_client.c cmd/guardian/runtime.c cmd/guardian/volumizer.c cmd/guardian/volume_store.c cmd/guardian/quota.c cmd/guardian/disk_usage.c cmd/guardian/network.c cmd/guardian/kawasaki_client.c cmd/guardian/netfiles.c cmd/guardian/netplugin.c cmd/guardian/image.c cmd/guardian/layers.c cmd/guardian/imageplugin.c cmd/guardian/registry.c cmd/guardian/events.c cmd/guardian/container_flags.c cmd/guardian/pea.c cmd/guardian/process_spec.c cmd/guardian/users.c */
/* pkgs: jansson libbsd libarchive libmd */
/* clang-format on */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test/unit/tap.h"
#include "lib/util.h"
#include "cmd/guardian/cgroup.h"
#include "cmd/guardian/cgroup_stats.h"
#include "cmd/guardian/container_flags.h"
#include "cmd/guardian/metrics.h"

static uint64_t mem(const uint64_t m[GD_MEM_N], const char *key)
{
	for (size_t i = 0; i < GD_MEM_N; i++)
		if (strcmp(gd_memstat_keys[i], key) == 0)
			return m[i];
	tap_fail_(__FILE__, __LINE__, "no key %s", key);
}

static void test_memstat_v1(void)
{
	static const char text[] = "cache 9764864\nrss 4624384\nrss_huge 0\nmapped_file 8122368\n"
				   "swap 0\nswapcached 7\npgfault 25965\ninactive_file 8192\n"
				   "hierarchical_memory_limit 9223372036854771712\n"
				   "total_cache 551788544\ntotal_rss 33910784\ntotal_swap 4096\n"
				   "total_inactive_file 296706048\ntotal_active_file 1\n"
				   "bogus 18446744073709551616\nrss2 5\n";
	uint64_t m[GD_MEM_N] = {0};

	gd_memstat_parse(text, m);
	CHECK(mem(m, "cache") == 9764864);
	CHECK(mem(m, "rss") == 4624384);
	CHECK(mem(m, "mapped_file") == 8122368);
	CHECK(mem(m, "swapcached") == 7);
	CHECK(mem(m, "pgfault") == 25965);
	CHECK(mem(m, "hierarchical_memory_limit") == 9223372036854771712ULL);
	CHECK(mem(m, "total_active_file") == 1);
	CHECK(mem(m, "anon") == 0 && mem(m, "file") == 0);
	CHECK(gd_memstat_usage_toward_limit(m, false) ==
	      551788544ULL + 33910784 + 4096 - 296706048);
	/* inactive beyond the total: 0, not a wrapped value */
	static const char big_inactive[] = "total_rss 1\ntotal_inactive_file 5\n";
	uint64_t m2[GD_MEM_N] = {0};
	gd_memstat_parse(big_inactive, m2);
	CHECK(gd_memstat_usage_toward_limit(m2, false) == 0);
}

static void test_memstat_v2(void)
{
	static const char text[] = "anon 1150976\nfile 135168\nkernel 4096\nsock 0\nshmem 0\n"
				   "file_mapped 0\nactive_anon 10\ninactive_anon 1150976\n"
				   "active_file 135168\ninactive_file 4096\nunevictable 0\n"
				   "swapcached 2\npgfault 811\npgmajfault 3\n";
	uint64_t m[GD_MEM_N] = {0};

	gd_memstat_parse(text, m);
	CHECK(mem(m, "anon") == 1150976 && mem(m, "file") == 135168);
	CHECK(mem(m, "active_anon") == 10 && mem(m, "inactive_file") == 4096);
	CHECK(mem(m, "pgmajfault") == 3 && mem(m, "mapped_file") == 0);
	CHECK(gd_memstat_usage_toward_limit(m, true) == 1150976 + 135168 + 2 - 4096);
	CHECK_STREQ(gd_memstat_keys[GD_MEM_TOTAL_USAGE_TOWARD_LIMIT], "TotalUsageTowardLimit");
}

static void test_cpu(void)
{
	uint64_t u = 0, us = 0, sy = 0;

	gd_cpuacct_stat_parse("user 19103\nsystem 6931\n", 100, &us, &sy);
	CHECK(us == 191030000000ULL && sy == 69310000000ULL);
	gd_cpu_stat_parse("usage_usec 52844\nuser_usec 31000\nsystem_usec 21000\nnr_periods 0\n",
			  &u, &us, &sy);
	CHECK(u == 52844000 && us == 31000000 && sy == 21000000);
}

static void test_entitlement(void)
{
	/* Garden: shares x (per share / 100) x age */
	CHECK(gd_cpu_entitlement(1024, 0.5, 1000000000ULL) == 5120000000ULL);
	CHECK(gd_cpu_entitlement(0, 0.5, 1000000000ULL) == 0);
	CHECK(gd_cpu_entitlement(UINT32_MAX, 1e6, UINT64_MAX / 2) == UINT64_MAX);
	/* 2 cores and 24 GiB: 200 / 24576 */
	double d = gd_cpu_entitlement_default(2, 24ULL << 30);
	CHECK(d > 0.00813 && d < 0.00814);
}

static void test_net_dev(void)
{
	static const char text[] =
	    "Inter-|   Receive                                                |  Transmit\n"
	    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets "
	    "errs drop fifo colls carrier compressed\n"
	    "    lo:     100       1    0    0    0     0          0         0      200       2    "
	    "0    0    0     0       0          0\n"
	    "w--1-1: 5000 7 0 0 0 0 0 0 6000 8 0 0 0 0 0 0\n";
	uint64_t rx = 0, tx = 0;

	CHECK_OK(gd_net_dev_parse(text, "lo", &rx, &tx), NULL);
	CHECK(rx == 100 && tx == 200);
	CHECK_OK(gd_net_dev_parse(text, "w--1-1", &rx, &tx), NULL);
	CHECK(rx == 5000 && tx == 6000);
	CHECK_INTEQ(gd_net_dev_parse(text, "w--1", &rx, &tx), -ENOENT);
	CHECK_INTEQ(gd_net_dev_parse(text, "eth0", &rx, &tx), -ENOENT);
}

static void test_json(void)
{
	struct gd_metrics_figures f = {0};
	f.cg.mem[0] = 1;
	f.cg.mem[GD_MEM_TOTAL_USAGE_TOWARD_LIMIT] = 42;
	f.cg.cpu_usage = 3;
	f.cg.pids_current = 2;
	f.age_ns = 9;
	f.cpu_entitlement = 10;
	json_auto_t *j = gd_metrics_json(&f);
	_cleanup_free_ char *s = json_dumps(j, JSON_COMPACT);

	CHECK(s != NULL);
	/* Garden's field order, every MemoryStat key present, NetworkStat null without a figure */
	static const char head[] = "{\"MemoryStat\":{\"active_anon\":1,\"active_file\":0,";
	CHECK(strncmp(s, head, strlen(head)) == 0);
	CHECK(strstr(s,
		     "\"TotalUsageTowardLimit\":42,\"anon\":0,\"file\":0,\"swapcached\":0},"
		     "\"CPUStat\":{\"Usage\":3,\"User\":0,\"System\":0},\"DiskStat\":{"
		     "\"TotalBytesUsed\":0,\"TotalInodesUsed\":0,\"ExclusiveBytesUsed\":0,"
		     "\"ExclusiveInodesUsed\":0},\"NetworkStat\":null,\"PidStat\":{\"Current\":2,"
		     "\"Max\":0},\"Age\":9,\"CPUEntitlement\":10}") != NULL);
	CHECK_INTEQ(json_object_size(json_object_get(j, "MemoryStat")), 32);
	f.have_net = true;
	f.rx_bytes = 5;
	json_auto_t *n = gd_metrics_json(&f);
	CHECK(json_integer_value(json_object_get(json_object_get(n, "NetworkStat"), "RxBytes")) ==
	      5);
}

/* The figures of this test's own cgroups: whatever the host mounts (v1, hybrid or v2). */
static void test_read_self(void)
{
	struct gd_mounts mounts = {0};
	struct gd_cgroup_dirs d = {0};
	struct gd_cgroup_stats st;
	struct gdn_err *err = NULL;

	CHECK_OK(gd_mountinfo_read(NULL, &mounts, &err), err);
	CHECK_OK(gd_cgroup_dirs_of(&mounts, getpid(), &d, &err), err);
	if (!d.memory)
		SKIP("no memory cgroup mounted");
	int r = gd_cgroup_stats_read(&d, &st, &err);
	if (r == -ENOENT)
		SKIP("this process sits in a root cgroup, which has no pids.current");
	CHECK_OK(r, err);
	CHECK(st.cpu_usage > 0 || !d.cpu);
	CHECK(st.pids_current >= 1 || !d.pids);
	gd_cgroup_dirs_free(&d);
	CHECK_INTEQ(gd_cgroup_dirs_of(&mounts, 0x3fffffff, &d, &err), -ESRCH);
	gdn_err_free(err);
	gd_cgroup_dirs_free(&d);
	gd_mounts_free(&mounts);
}

/* On cgroup v2 a container's init is in garden/<h>/@init: its cgroup is the leaf's parent. */
static void test_dir_of_init_leaf(void)
{
	struct gd_mount m = {.root = (char *)"/",
			     .target = (char *)"/sys/fs/cgroup",
			     .fstype = (char *)"cgroup2",
			     .source = (char *)"cgroup2",
			     .super_opts = (char *)"rw"};
	struct gd_mounts mounts = {.v = &m, .n = 1};
	static const char *const cases[][2] = {
	    {"0::/garden/h1/@init\n", "/sys/fs/cgroup/garden/h1"},
	    {"0::/system.slice/x/garden/h1/@init\n", "/sys/fs/cgroup/system.slice/x/garden/h1"},
	    {"0::/garden/h1/p1\n", "/sys/fs/cgroup/garden/h1/p1"},
	    {"0::/garden/h1\n", "/sys/fs/cgroup/garden/h1"},
	    {"0::/other/@init\n", "/sys/fs/cgroup/other/@init"},
	    {"0::/garden/@init\n", "/sys/fs/cgroup/garden/@init"},
	};
	for (size_t i = 0; i < GDN_ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *dir = gd_cgroup_dir_in(&mounts, cases[i][0], "", NULL);
		CHECK_STREQ(dir, cases[i][1]);
	}
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_memstat_v1),  TEST(test_memstat_v2),	 TEST(test_cpu),
	    TEST(test_entitlement), TEST(test_net_dev),		 TEST(test_json),
	    TEST(test_read_self),   TEST(test_dir_of_init_leaf),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
