/* kawasaki's links (cmd/kawasaki/links.c) against the kernel. Every case first moves into a
 * private network namespace of its own (the "host": nothing on the real host changes, and it
 * all goes when the case exits); "containers" are children that unshare a namespace of their
 * own and wait. Links are checked with `ip -j` run in the right namespace. Needs root. */
/* link: cmd/kawasaki/links.c */
/* pkgs: libnl-route-3.0 libiptc jansson libbsd */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <bsd/string.h>
#include <jansson.h>

#include "test/unit/tap.h"
#include "cmd/kawasaki/links.h"
#include "lib/net.h"
#include "lib/run.h"

/* --- scaffolding -------------------------------------------------------------------------- */

/* jansson's own json_decrefp */
#define _cleanup_json_ _cleanup_(json_decrefp)

static void nl_closep(struct kw_nl **nl)
{
	kw_nl_close(*nl);
}

static ino_t netns_ino(void)
{
	struct stat st;

	CHECK(stat("/proc/thread-self/ns/net", &st) == 0);
	return st.st_ino;
}

/* Runs `sh -c <cmd>`; its status, and its stdout in *ret_out (may be NULL). */
static int sh_status(char **ret_out, const char *fmt, ...) GDN_PRINTF(2, 3);
static int sh_status(char **ret_out, const char *fmt, ...)
{
	_cleanup_run_result_ struct gdn_run_result res = {0};
	_cleanup_free_ char *cmd = NULL;
	struct gdn_err *err = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	CHECK(n >= 0);
	char *const argv[] = {(char *)"sh", (char *)"-c", cmd, NULL};
	struct gdn_spawn_opts so = {.path = "/bin/sh", .argv = argv};
	struct gdn_run_opts o = {.spawn = &so, .capture_stdout = true, .capture_stderr = true};

	CHECK_OK(gdn_run(&o, &res, &err), err);
	if (res.status != 0)
		fprintf(stderr, "#   '%s': exit %d: %s", cmd, res.status, res.err);
	if (ret_out)
		*ret_out = gdn_steal_ptr(&res.out);
	return res.status;
}

/* `ip -j ...` output (a JSON array), in the namespace of pid (0: ours). */
#define IP_JSON(pid, ...) ip_json_(__FILE__, __LINE__, pid, __VA_ARGS__)
static json_t *ip_json_(const char *file, int line, pid_t pid, const char *fmt, ...)
    GDN_PRINTF(4, 5);
static json_t *ip_json_(const char *file, int line, pid_t pid, const char *fmt, ...)
{
	_cleanup_free_ char *args = NULL, *out = NULL;
	char ns[64] = "";
	json_t *j;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&args, fmt, ap);
	va_end(ap);
	CHECK(n >= 0);
	if (pid > 0)
		snprintf(ns, sizeof(ns), "nsenter --net=/proc/%d/ns/net ", (int)pid);
	if (sh_status(&out, "%sip -d -j %s", ns, args) != 0)
		tap_fail_(file, line, "ip %s failed", args);
	j = json_loads(out, 0, NULL);
	if (!json_is_array(j))
		tap_fail_(file, line, "ip %s: not a JSON array: %s", args, out);
	return j;
}

static bool has_flag(const json_t *link, const char *flag)
{
	size_t i;
	json_t *v;

	json_array_foreach (json_object_get(link, "flags"), i, v) {
		if (strcmp(json_string_value(v), flag) == 0)
			return true;
	}
	return false;
}

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static long long jint(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* Whether the link exists in the namespace of pid (0: ours). */
static bool link_there(pid_t pid, const char *name)
{
	_cleanup_json_ json_t *all = IP_JSON(pid, "link show");
	size_t i;
	json_t *l;

	json_array_foreach (all, i, l) {
		if (strcmp(jstr(l, "ifname"), name) == 0)
			return true;
	}
	return false;
}

/* A "container": a child in a network namespace of its own, waiting. */
struct ctr {
	pid_t pid;
	int netns_fd;
	int hold; /* its end of the pipe it waits on: closing it (or our death) ends it */
};

static void ctr_start(struct ctr *c)
{
	int ready[2], hold[2];
	char path[64], b;

	CHECK(pipe2(ready, O_CLOEXEC) == 0 && pipe2(hold, O_CLOEXEC) == 0);
	c->pid = fork();
	CHECK(c->pid >= 0);
	if (c->pid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(ready[0]);
		close(hold[1]);
		if (unshare(CLONE_NEWNET) < 0)
			_exit(1);
		(void)!write(ready[1], "r", 1);
		(void)!read(hold[0], &b, 1);
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	c->hold = hold[1];
	CHECK(read(ready[0], &b, 1) == 1);
	close(ready[0]);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)c->pid);
	c->netns_fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(c->netns_fd >= 0);
}

static void ctr_stop(struct ctr *c)
{
	int status;

	close(c->netns_fd);
	close(c->hold);
	kill(c->pid, SIGKILL);
	CHECK(waitpid(c->pid, &status, 0) == c->pid);
}

/* Root, then a private "host" namespace with lo up. */
static void private_host(void)
{
	if (geteuid() != 0)
		SKIP("needs root (network namespaces)");
	CHECK(unshare(CLONE_NEWNET) == 0);
	CHECK(sh_status(NULL, "ip link set lo up") == 0);
}

static struct kw_nl *nl_open(void)
{
	struct gdn_err *err = NULL;
	struct kw_nl *nl = NULL;

	CHECK_OK(kw_nl_open(&nl, &err), err);
	return nl;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A /30 container config: subnet 10.<n>.0.0/30, gateway .1, container .2. */
static struct kw_link_config cfg30(unsigned n, const struct ctr *c, char names[3][IFNAMSIZ])
{
	snprintf(names[0], IFNAMSIZ, "wtbrdg-0a%02x0000", n);
	snprintf(names[1], IFNAMSIZ, "wt%u-0", n);
	snprintf(names[2], IFNAMSIZ, "wt%u-1", n);
	return (struct kw_link_config){.bridge = names[0],
				       .host_if = names[1],
				       .container_if = names[2],
				       .gateway = (10u << 24) | (n << 16) | 1,
				       .container_ip = (10u << 24) | (n << 16) | 2,
				       .prefix = 30,
				       .mtu = 1400,
				       .netns_fd = c->netns_fd};
}

/* The addresses of a link (in the namespace of pid) as "a.b.c.d/n brd x" strings. */
static void check_one_addr(pid_t pid, const char *dev, const char *want_local, int want_prefix,
			   const char *want_brd)
{
	_cleanup_json_ json_t *j = IP_JSON(pid, "-4 addr show dev %s", dev);
	json_t *ai = json_object_get(json_array_get(j, 0), "addr_info");

	CHECK_INTEQ(json_array_size(ai), 1);
	CHECK_STREQ(jstr(json_array_get(ai, 0), "local"), want_local);
	CHECK_INTEQ(jint(json_array_get(ai, 0), "prefixlen"), want_prefix);
	CHECK_STREQ(jstr(json_array_get(ai, 0), "broadcast"), want_brd);
}

/* --- cases -------------------------------------------------------------------------------- */

static void test_links_up_makes_bridge_veth_and_container_side(void)
{
	_cleanup_(nl_closep) struct kw_nl *nl = NULL;
	struct gdn_err *err = NULL;
	char names[3][IFNAMSIZ];
	struct ctr c;
	ino_t home;
	double t0;

	private_host();
	home = netns_ino();
	nl = nl_open();
	ctr_start(&c);
	struct kw_link_config cfg = cfg30(1, &c, names);

	t0 = now_ms();
	CHECK_OK(kw_links_up(nl, &cfg, &err), err);
	printf("# kw_links_up (new bridge): %.3f ms\n", now_ms() - t0);
	CHECK(netns_ino() == home); /* back in our namespace */

	/* the bridge */
	{
		_cleanup_json_ json_t *j = IP_JSON(0, "link show dev wtbrdg-0a010000");
		json_t *br = json_array_get(j, 0);
		json_t *info = json_object_get(br, "linkinfo");
		unsigned first = 0;

		CHECK(has_flag(br, "UP"));
		CHECK_STREQ(jstr(info, "info_kind"), "bridge");
		CHECK_INTEQ(jint(json_object_get(info, "info_data"), "mcast_snooping"), 0);
		CHECK(sscanf(jstr(br, "address"), "%x:", &first) == 1);
		CHECK((first & 1) == 0 && (first & 2) == 2); /* unicast, locally administered */
		check_one_addr(0, "wtbrdg-0a010000", "10.1.0.1", 30, "10.1.0.3");
	}
	/* the host end */
	{
		_cleanup_json_ json_t *j = IP_JSON(0, "link show dev wt1-0");
		json_t *h = json_array_get(j, 0);

		CHECK(has_flag(h, "UP"));
		CHECK_INTEQ(jint(h, "mtu"), 1400);
		CHECK_INTEQ(jint(h, "txqlen"), 1);
		CHECK_STREQ(jstr(h, "master"), "wtbrdg-0a010000");
		CHECK_STREQ(jstr(json_object_get(h, "linkinfo"), "info_kind"), "veth");
	}
	CHECK(!link_there(0, "wt1-1"));
	/* the container end, in the container */
	{
		_cleanup_json_ json_t *j = IP_JSON(c.pid, "link show dev wt1-1");
		_cleanup_json_ json_t *lo = IP_JSON(c.pid, "link show dev lo");
		_cleanup_json_ json_t *rt = IP_JSON(c.pid, "-4 route show default");
		json_t *l = json_array_get(j, 0);

		CHECK(has_flag(l, "UP"));
		CHECK_INTEQ(jint(l, "mtu"), 1400);
		CHECK(has_flag(json_array_get(lo, 0), "UP"));
		check_one_addr(c.pid, "wt1-1", "10.1.0.2", 30, "10.1.0.3");
		CHECK_INTEQ(json_array_size(rt), 1);
		CHECK_STREQ(jstr(json_array_get(rt, 0), "gateway"), "10.1.0.1");
		CHECK_STREQ(jstr(json_array_get(rt, 0), "dev"), "wt1-1");
	}
	/* traffic: the container reaches its gateway */
	CHECK(sh_status(NULL, "nsenter --net=/proc/%d/ns/net busybox ping -c 1 -W 3 10.1.0.1",
			(int)c.pid) == 0);
	ctr_stop(&c);
}

static void test_second_container_shares_the_bridge(void)
{
	_cleanup_(nl_closep) struct kw_nl *nl = NULL;
	struct gdn_err *err = NULL;
	struct ctr a, b;
	char mac[32];
	double t0;

	private_host();
	nl = nl_open();
	ctr_start(&a);
	ctr_start(&b);
	struct kw_link_config ca = {.bridge = "wtbrdg-0a100000",
				    .host_if = "wta-0",
				    .container_if = "wta-1",
				    .gateway = 0x0a100001,
				    .container_ip = 0x0a100002,
				    .prefix = 24,
				    .mtu = 1450,
				    .netns_fd = a.netns_fd};
	struct kw_link_config cb = ca;

	cb.host_if = "wtb-0";
	cb.container_if = "wtb-1";
	cb.container_ip = 0x0a100003;
	cb.netns_fd = b.netns_fd;
	CHECK_OK(kw_links_up(nl, &ca, &err), err);
	{
		_cleanup_json_ json_t *j = IP_JSON(0, "link show dev wtbrdg-0a100000");

		strlcpy(mac, jstr(json_array_get(j, 0), "address"), sizeof(mac));
	}
	t0 = now_ms();
	CHECK_OK(kw_links_up(nl, &cb, &err), err);
	printf("# kw_links_up (existing bridge): %.3f ms\n", now_ms() - t0);
	{
		_cleanup_json_ json_t *j = IP_JSON(0, "link show dev wtbrdg-0a100000");
		_cleanup_json_ json_t *hb = IP_JSON(0, "link show dev wtb-0");

		CHECK_STREQ(jstr(json_array_get(j, 0), "address"), mac); /* kept its MAC */
		CHECK_STREQ(jstr(json_array_get(hb, 0), "master"), "wtbrdg-0a100000");
	}
	check_one_addr(0, "wtbrdg-0a100000", "10.16.0.1", 24, "10.16.0.255");
	check_one_addr(b.pid, "wtb-1", "10.16.0.3", 24, "10.16.0.255");
	/* b reaches the gateway and a, through the bridge */
	CHECK(sh_status(NULL, "nsenter --net=/proc/%d/ns/net busybox ping -c 1 -W 3 10.16.0.1",
			(int)b.pid) == 0);
	CHECK(sh_status(NULL, "nsenter --net=/proc/%d/ns/net busybox ping -c 1 -W 3 10.16.0.2",
			(int)b.pid) == 0);
	ctr_stop(&a);
	ctr_stop(&b);
}

static void test_existing_bridge_gets_its_address_and_is_set_up(void)
{
	_cleanup_(nl_closep) struct kw_nl *nl = NULL;
	struct gdn_err *err = NULL;
	char names[3][IFNAMSIZ];
	struct ctr c;

	private_host();
	nl = nl_open();
	ctr_start(&c);
	struct kw_link_config cfg = cfg30(2, &c, names);

	CHECK(sh_status(NULL, "ip link add wtbrdg-0a020000 type bridge") == 0);
	CHECK_OK(kw_links_up(nl, &cfg, &err), err);
	{
		_cleanup_json_ json_t *j = IP_JSON(0, "link show dev wtbrdg-0a020000");

		CHECK(has_flag(json_array_get(j, 0), "UP"));
	}
	check_one_addr(0, "wtbrdg-0a020000", "10.2.0.1", 30, "10.2.0.3");
	ctr_stop(&c);
}

static void test_a_non_bridge_of_the_bridge_name_is_refused(void)
{
	_cleanup_(nl_closep) struct kw_nl *nl = NULL;
	_cleanup_err_ struct gdn_err *err = NULL;
	char names[3][IFNAMSIZ];
	struct ctr c;

	private_host();
	nl = nl_open();
	ctr_start(&c);
	struct kw_link_config cfg = cfg30(3, &c, names);

	CHECK(sh_status(NULL, "ip link add wtbrdg-0a030000 type veth peer name wtpeer") == 0);
	CHECK_INTEQ(kw_links_up(nl, &cfg, &err), -EEXIST);
	CHECK_STREQ(gdn_err_str(err), "link 'wtbrdg-0a030000' exists and is not a bridge (veth)");
	CHECK(!link_there(0, "wt3-0"));
	ctr_stop(&c);
}

static void test_host_if_taken_fails_and_leaves_nothing(void)
{
	_cleanup_(nl_closep) struct kw_nl *nl = NULL;
	_cleanup_err_ struct gdn_err *err = NULL;
	char names[3][IFNAMSIZ];
	struct ctr c;

	private_host();
	nl = nl_open();
	ctr_start(&c);
	struct kw_link_config cfg = cfg30(4, &c, names);

	CHECK(sh_status(NULL, "ip link add wt4-0 type bridge") == 0);
	CHECK_INTEQ(kw_links_up(nl, &cfg, &err), -EEXIST);
	CHECK_STREQ(gdn_err_str(err), "create veth 'wt4-0': Object exists");
	{
		/* someone else's link is left alone */
		_cleanup_json_ json_t *j = IP_JSON(0, "link show dev wt4-0");

		CHECK_STREQ(jstr(json_object_get(json_array_get(j, 0), "linkinfo"), "info_kind"),
			    "bridge");
	}
	CHECK(!link_there(c.pid, "wt4-1"));
	ctr_stop(&c);
}

static void test_container_side_failure_removes_the_veth(void)
{
	_cleanup_(nl_closep) struct kw_nl *nl = NULL;
	_cleanup_err_ struct gdn_err *err = NULL;
	char names[3][IFNAMSIZ];
	struct ctr c;
	ino_t home;

	private_host();
	home = netns_ino();
	nl = nl_open();
	ctr_start(&c);
	struct kw_link_config cfg = cfg30(5, &c, names);

	/* a default route already there: ours cannot be added */
	CHECK(sh_status(NULL, "nsenter --net=/proc/%d/ns/net ip route add blackhole default",
			(int)c.pid) == 0);
	CHECK_INTEQ(kw_links_up(nl, &cfg, &err), -EEXIST);
	CHECK(strncmp(gdn_err_str(err), "add default route via 10.5.0.1 dev 'wt5-1': Object exists",
		      57) == 0);
	printf("# %s\n", gdn_err_str(err));
	CHECK(netns_ino() == home);
	CHECK(!link_there(0, "wt5-0"));
	CHECK(!link_there(c.pid, "wt5-1"));
	ctr_stop(&c);
}

static void test_bad_names_and_netns_are_refused(void)
{
	_cleanup_(nl_closep) struct kw_nl *nl = NULL;
	_cleanup_err_ struct gdn_err *err = NULL, *err2 = NULL, *err3 = NULL;
	char names[3][IFNAMSIZ];
	struct ctr c;

	private_host();
	nl = nl_open();
	ctr_start(&c);
	struct kw_link_config cfg = cfg30(6, &c, names);

	cfg.host_if = "wt-much-too-long-0";
	CHECK_INTEQ(kw_links_up(nl, &cfg, &err), -EINVAL);
	CHECK_STREQ(gdn_err_str(err), "invalid interface name 'wt-much-too-long-0'");
	cfg.host_if = names[1];
	/* the kernel's own words come with its refusal: a gateway outside the container's
	 * subnet, and the veth made for it is removed */
	cfg.container_ip = 0x0a4d0002;
	CHECK_INTEQ(kw_links_up(nl, &cfg, &err3), -ENETUNREACH);
	printf("# %s\n", gdn_err_str(err3));
	CHECK_STREQ(gdn_err_str(err3), "add default route via 10.6.0.1 dev 'wt6-1': Network is "
				       "unreachable (Nexthop has invalid gateway)");
	CHECK(!link_there(0, "wt6-0"));
	CHECK(!link_there(c.pid, "wt6-1"));
	cfg.container_ip = 0x0a060002;
	/* an fd that is no namespace: the kernel refuses the veth */
	cfg.netns_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK(kw_links_up(nl, &cfg, &err2) < 0);
	printf("# %s\n", gdn_err_str(err2));
	CHECK(strncmp(gdn_err_str(err2), "create veth 'wt6-0': ", 21) == 0);
	CHECK(!link_there(0, "wt6-0"));
	close(cfg.netns_fd);
	ctr_stop(&c);
}

static void test_delete_and_exists(void)
{
	_cleanup_(nl_closep) struct kw_nl *nl = NULL;
	struct gdn_err *err = NULL;
	char names[3][IFNAMSIZ];
	struct ctr c;
	double t0;

	private_host();
	nl = nl_open();
	ctr_start(&c);
	struct kw_link_config cfg = cfg30(7, &c, names);

	CHECK_OK(kw_links_up(nl, &cfg, &err), err);
	CHECK(kw_link_exists(nl, "wt7-0"));
	CHECK(kw_link_exists(nl, "wtbrdg-0a070000"));
	CHECK(!kw_link_exists(nl, "wt7-1")); /* not on the host */
	CHECK(!kw_link_exists(nl, "wt-much-too-long-0"));
	t0 = now_ms();
	CHECK_OK(kw_link_delete(nl, "wt7-0", &err), err);
	printf("# kw_link_delete (veth): %.3f ms\n", now_ms() - t0);
	CHECK(!kw_link_exists(nl, "wt7-0"));
	CHECK(!link_there(0, "wt7-0"));
	CHECK(!link_there(c.pid, "wt7-1"));		  /* the peer went with it */
	CHECK_OK(kw_link_delete(nl, "wt7-0", &err), err); /* already gone: fine */
	t0 = now_ms();
	CHECK_OK(kw_link_delete(nl, "wtbrdg-0a070000", &err), err);
	printf("# kw_link_delete (bridge): %.3f ms\n", now_ms() - t0);
	CHECK(!kw_link_exists(nl, "wtbrdg-0a070000"));
	ctr_stop(&c);
}

struct names {
	char v[8][IFNAMSIZ];
	size_t n;
};

static void collect(const char *name, void *arg)
{
	struct names *ns = arg;

	if (ns->n < GDN_ARRAY_SIZE(ns->v))
		strlcpy(ns->v[ns->n++], name, IFNAMSIZ);
}

static bool has_name(const struct names *ns, const char *name)
{
	for (size_t i = 0; i < ns->n; i++)
		if (strcmp(ns->v[i], name) == 0)
			return true;
	return false;
}

static void test_links_each_by_prefix(void)
{
	_cleanup_(nl_closep) struct kw_nl *nl = NULL;
	struct gdn_err *err = NULL;
	char n8[3][IFNAMSIZ], n9[3][IFNAMSIZ];
	struct names all = {.n = 0}, one = {.n = 0}, none = {.n = 0};
	struct ctr a, b;

	private_host();
	nl = nl_open();
	ctr_start(&a);
	ctr_start(&b);
	struct kw_link_config c8 = cfg30(8, &a, n8), c9 = cfg30(9, &b, n9);

	CHECK_OK(kw_links_up(nl, &c8, &err), err);
	CHECK_OK(kw_links_up(nl, &c9, &err), err);
	CHECK_OK(kw_links_each(nl, "wt", collect, &all, &err), err);
	CHECK_INTEQ(all.n, 4);
	CHECK(has_name(&all, "wt8-0") && has_name(&all, "wt9-0"));
	CHECK(has_name(&all, "wtbrdg-0a080000") && has_name(&all, "wtbrdg-0a090000"));
	CHECK_OK(kw_links_each(nl, "wt9", collect, &one, &err), err);
	CHECK_INTEQ(one.n, 1);
	CHECK_STREQ(one.v[0], "wt9-0");
	/* a fresh look each time: a link deleted behind our back is not listed */
	CHECK(sh_status(NULL, "ip link del wt8-0") == 0);
	CHECK_OK(kw_links_each(nl, "wt8", collect, &none, &err), err);
	CHECK_INTEQ(none.n, 0);
	ctr_stop(&a);
	ctr_stop(&b);
}

static void test_default_route(void)
{
	_cleanup_(nl_closep) struct kw_nl *nl = NULL;
	_cleanup_err_ struct gdn_err *none = NULL;
	struct gdn_err *err = NULL;
	char ifname[IF_NAMESIZE] = "", s[GDN_NET_IPV4_STRLEN];
	uint32_t src = 0;
	unsigned mtu = 0;

	private_host();
	nl = nl_open();
	CHECK_INTEQ(kw_default_route(nl, ifname, &src, &mtu, &none), -ENOENT);
	CHECK_STREQ(gdn_err_str(none), "no IPv4 default route");

	/* a veth standing in for the host's NIC; its first address is not the gateway's subnet */
	CHECK(sh_status(NULL, "ip link add t0 mtu 1400 type veth peer name t1 && "
			      "ip addr add 198.51.100.5/24 dev t0 && "
			      "ip addr add 192.0.2.10/24 dev t0 && "
			      "ip link set t0 up && ip link set t1 up && "
			      "ip route add default via 192.0.2.1 dev t0 metric 100") == 0);
	CHECK_OK(kw_default_route(nl, ifname, &src, &mtu, &err), err);
	CHECK_STREQ(ifname, "t0");
	CHECK_STREQ(gdn_net_ipv4_str(src, s), "192.0.2.10");
	CHECK_INTEQ(mtu, 1400);

	/* the route's preferred source wins */
	CHECK(sh_status(NULL, "ip route replace default via 192.0.2.1 dev t0 metric 100 "
			      "src 198.51.100.5") == 0);
	CHECK_OK(kw_default_route(nl, ifname, &src, &mtu, &err), err);
	CHECK_STREQ(gdn_net_ipv4_str(src, s), "198.51.100.5");

	/* the lowest metric wins; other tables do not count */
	CHECK(sh_status(NULL, "ip link add t2 mtu 1300 type veth peer name t3 && "
			      "ip addr add 203.0.113.2/24 dev t2 && "
			      "ip link set t2 up && ip link set t3 up && "
			      "ip route add default via 203.0.113.1 dev t2 metric 50 && "
			      "ip route add default via 203.0.113.9 dev t2 table 100") == 0);
	CHECK_OK(kw_default_route(nl, ifname, &src, &mtu, &err), err);
	CHECK_STREQ(ifname, "t2");
	CHECK_STREQ(gdn_net_ipv4_str(src, s), "203.0.113.2");
	CHECK_INTEQ(mtu, 1300);
}

static void test_mtu_of_address(void)
{
	_cleanup_(nl_closep) struct kw_nl *nl = NULL;
	_cleanup_err_ struct gdn_err *none = NULL;
	struct gdn_err *err = NULL;
	unsigned mtu = 0;

	private_host();
	nl = nl_open();
	CHECK(sh_status(NULL, "ip link add t0 mtu 1420 type veth peer name t1 && "
			      "ip addr add 192.0.2.10/24 dev t0") == 0);
	CHECK_OK(kw_mtu_of_address(nl, 0xc000020a, &mtu, &err), err);
	CHECK_INTEQ(mtu, 1420);
	CHECK_OK(kw_mtu_of_address(nl, 0x7f000001, &mtu, &err), err);
	CHECK_INTEQ(mtu, 65536);
	CHECK_INTEQ(kw_mtu_of_address(nl, 0xcb007163, &mtu, &none), -ENOENT);
	CHECK_STREQ(gdn_err_str(none), "no interface found for address 203.0.113.99");
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Not asserted: what a container's links cost, printed as TAP comments. */
static void test_timings(void)
{
	enum { N = 16 };
	_cleanup_(nl_closep) struct kw_nl *nl = NULL;
	struct gdn_err *err = NULL;
	char names[N][3][IFNAMSIZ];
	double up[N], shared[N], del[N], brdel[N];
	struct ctr c[N];

	private_host();
	nl = nl_open();
	for (unsigned i = 0; i < N; i++) {
		struct kw_link_config cfg;
		double t0;

		ctr_start(&c[i]);
		cfg = cfg30(20 + i, &c[i], names[i]);
		t0 = now_ms();
		CHECK_OK(kw_links_up(nl, &cfg, &err), err);
		up[i] = now_ms() - t0;
	}
	for (unsigned i = 0; i < N; i++) {
		double t0 = now_ms();

		CHECK_OK(kw_link_delete(nl, names[i][1], &err), err);
		del[i] = now_ms() - t0;
		t0 = now_ms();
		CHECK_OK(kw_link_delete(nl, names[i][0], &err), err);
		brdel[i] = now_ms() - t0;
		ctr_stop(&c[i]);
	}
	/* containers of one subnet: the bridge is there already */
	for (unsigned i = 0; i < N; i++) {
		struct kw_link_config cfg;
		double t0;

		ctr_start(&c[i]);
		cfg = cfg30(20 + i, &c[i], names[i]);
		cfg.bridge = "wtbrdg-0a640000";
		cfg.gateway = 0x0a640001;
		cfg.container_ip = 0x0a640002 + i;
		cfg.prefix = 24;
		t0 = now_ms();
		CHECK_OK(kw_links_up(nl, &cfg, &err), err);
		shared[i] = now_ms() - t0;
	}
	for (unsigned i = 0; i < N; i++)
		ctr_stop(&c[i]);
	qsort(shared, N, sizeof(shared[0]), cmp_double);
	qsort(up, N, sizeof(up[0]), cmp_double);
	qsort(del, N, sizeof(del[0]), cmp_double);
	qsort(brdel, N, sizeof(brdel[0]), cmp_double);
	printf("# over %d containers (ms, min/median/max): kw_links_up %.3f/%.3f/%.3f "
	       "(on a shared bridge %.3f/%.3f/%.3f), kw_link_delete veth %.3f/%.3f/%.3f, "
	       "bridge %.3f/%.3f/%.3f\n",
	       N, up[0], up[N / 2], up[N - 1], shared[0], shared[N / 2], shared[N - 1], del[0],
	       del[N / 2], del[N - 1], brdel[0], brdel[N / 2], brdel[N - 1]);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_links_up_makes_bridge_veth_and_container_side),
	    TEST(test_second_container_shares_the_bridge),
	    TEST(test_existing_bridge_gets_its_address_and_is_set_up),
	    TEST(test_a_non_bridge_of_the_bridge_name_is_refused),
	    TEST(test_host_if_taken_fails_and_leaves_nothing),
	    TEST(test_container_side_failure_removes_the_veth),
	    TEST(test_bad_names_and_netns_are_refused),
	    TEST(test_delete_and_exists),
	    TEST(test_links_each_by_prefix),
	    TEST(test_default_route),
	    TEST(test_mtu_of_address),
	    TEST(test_timings),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
