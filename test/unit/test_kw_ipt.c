/* kawasaki's iptables layer against the kernel and iptables-legacy 1.8.9, each case in a network
 * namespace of its own (legacy tables are per netns): nothing on the host changes. */
/* link: cmd/kawasaki/ipt.c cmd/kawasaki/ipt_entry.c cmd/kawasaki/ipt_format.c */
/* pkgs: jansson libbsd libnl-route-3.0 libiptc */
#include "cmd/kawasaki/ipt_entry.h" /* libiptc first: see ipt_entry.c */
#include <sched.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>

#include "test/unit/tap.h"
#include "cmd/kawasaki/ipt.h"
#include "lib/buf.h"
#include "lib/run.h"
#include "lib/util.h"

#define IPTABLES "/usr/sbin/iptables-legacy"
#define IPTABLES_SAVE "/usr/sbin/iptables-legacy-save"
#define TIMEOUT_MS 5000

static void enter_netns(void)
{
	if (geteuid() != 0)
		SKIP("needs root (a network namespace of its own)");
	if (unshare(CLONE_NEWNET) < 0)
		SKIP("unshare(CLONE_NEWNET) failed");
	if (access(IPTABLES, X_OK) < 0 || access(IPTABLES_SAVE, X_OK) < 0)
		SKIP("iptables-legacy is not installed");
}

/* Runs argv (argv[0] is the path), returns its stdout; fails the case unless it exits 0. */
static char *run(const char *const *argv)
{
	struct gdn_spawn_opts so = {.path = argv[0], .argv = (char *const *)argv};
	struct gdn_run_opts o = {
	    .spawn = &so, .capture_stdout = true, .capture_stderr = true, .output_max = 1 << 20};
	struct gdn_run_result res = {0};
	struct gdn_err *err = NULL;
	char *out;

	CHECK_OK(gdn_run(&o, &res, &err), err);
	if (res.status != 0)
		tap_fail_(__FILE__, __LINE__, "%s %s exited %d: %s", argv[0], argv[1], res.status,
			  res.err);
	out = gdn_steal_ptr(&res.out);
	gdn_run_result_free(&res);
	return out;
}

/* The "-A" lines iptables-legacy-save prints for `table`. */
static char *save_rules(const char *table)
{
	const char *argv[] = {IPTABLES_SAVE, "-t", table, NULL};
	_cleanup_free_ char *out = run(argv);
	struct gdn_buf b = {0};

	for (char *line = out, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (strncmp(line, "-A ", 3) == 0)
			CHECK(gdn_buf_append(&b, line,
					     nl ? (size_t)(nl - line + 1) : strlen(line)) == 0);
	}
	if (!b.data)
		CHECK(gdn_buf_puts(&b, "") == 0);
	return gdn_buf_steal(&b, NULL);
}

/* iptables-legacy -w -t table <cmd>, cmd split at spaces with "..." quoting and \ escapes. */
static void iptables(const char *table, const char *cmd)
{
	const char *argv[32] = {IPTABLES, "-w", "-t", table};
	_cleanup_free_ char *copy = strdup(cmd);
	size_t n = 4;
	char *p = copy;

	CHECK(copy != NULL);
	while (*p) {
		char *w = p, *o = p;
		bool quoted = false;

		for (; *p && (quoted || *p != ' '); p++) {
			if (*p == '\\' && p[1])
				*o++ = *++p;
			else if (*p == '"')
				quoted = !quoted;
			else
				*o++ = *p;
		}
		if (*p)
			p++;
		*o = '\0';
		CHECK(n + 1 < GDN_ARRAY_SIZE(argv));
		argv[n++] = w;
	}
	argv[n] = NULL;
	free(run(argv));
}

static struct kw_ipt *begin(const char *table)
{
	struct gdn_err *err = NULL;
	struct kw_ipt *t = NULL;

	CHECK_OK(kw_ipt_begin(table, TIMEOUT_MS, &t, &err), err);
	return t;
}

static void commit(struct kw_ipt *t)
{
	struct gdn_err *err = NULL;

	CHECK_OK(kw_ipt_commit(t, &err), err);
}

/* Every rule shape kawasaki writes (internals §11.6-11.8): as a kw_rule, as guardian's iptables
 * command line, and as iptables-legacy-save prints it. */
struct shape {
	const char *table, *chain;
	int pos; /* -1: append */
	struct kw_rule r;
	const char *cmd;
};

#define NET(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((c) << 8) | (d))

static const char *const filter_chains[] = {"w--input", "w--forward", "w--default",
					    "w--instance-abc", "w--instance-abc-log"};
static const char *const nat_chains[] = {"w--prerouting", "w--postrouting", "w--instance-abc"};

static const struct shape shapes[] = {
    /* global filter chains */
    {"filter",
     "w--input",
     -1,
     {.in_if = "eth0", .target = KW_T_ACCEPT},
     "-A w--input -i eth0 -j ACCEPT"},
    {"filter",
     "w--input",
     -1,
     {.ctstate = KW_CT_ESTABLISHED | KW_CT_RELATED, .target = KW_T_ACCEPT},
     "-A w--input -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"},
    {"filter",
     "w--input",
     -1,
     {.target = KW_T_REJECT, .reject_with = KW_REJECT_HOST_PROHIBITED},
     "-A w--input -j REJECT --reject-with icmp-host-prohibited"},
    {"filter",
     "INPUT",
     -1,
     {.in_if = "w+", .target = KW_T_JUMP, .chain = "w--input"},
     "-A INPUT -i w+ -j w--input"},
    {"filter",
     "w--forward",
     -1,
     {.in_if = "eth0", .target = KW_T_ACCEPT},
     "-A w--forward -i eth0 -j ACCEPT"},
    {"filter", "w--forward", -1, {.target = KW_T_DROP}, "-A w--forward -j DROP"},
    {"filter",
     "FORWARD",
     -1,
     {.in_if = "w+", .target = KW_T_JUMP, .chain = "w--forward"},
     "-A FORWARD -i w+ -j w--forward"},
    {"filter",
     "w--default",
     -1,
     {.ctstate = KW_CT_ESTABLISHED | KW_CT_RELATED, .target = KW_T_ACCEPT},
     "-A w--default -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"},
    {"filter",
     "w--default",
     -1,
     {.dst = NET(10, 0, 0, 0), .dst_mask = 0xff000000, .target = KW_T_REJECT},
     "-A w--default -d 10.0.0.0/8 -j REJECT"},
    /* a container */
    {"filter",
     "w--instance-abc",
     -1,
     {.src = NET(10, 254, 0, 0),
      .src_mask = 0xfffffffc,
      .dst = NET(10, 254, 0, 0),
      .dst_mask = 0xfffffffc,
      .comment = "h1",
      .target = KW_T_ACCEPT},
     "-A w--instance-abc -s 10.254.0.0/30 -d 10.254.0.0/30 -j ACCEPT -m comment --comment h1"},
    {"filter",
     "w--instance-abc",
     -1,
     {.comment = "h1", .target = KW_T_GOTO, .chain = "w--default"},
     "-A w--instance-abc -g w--default -m comment --comment h1"},
    {"filter",
     "w--forward",
     1,
     {.src = NET(10, 254, 0, 2),
      .src_mask = 0xffffffff,
      .in_if = "wbrdg-0afe0000",
      .comment = "h1",
      .target = KW_T_GOTO,
      .chain = "w--instance-abc"},
     "-I w--forward 2 -i wbrdg-0afe0000 -s 10.254.0.2 -g w--instance-abc -m comment --comment "
     "h1"},
    {"filter",
     "w--instance-abc-log",
     -1,
     {.ctstate = KW_CT_NEW | KW_CT_UNTRACKED | KW_CT_INVALID,
      .comment = "h1",
      .target = KW_T_LOG,
      .log_prefix = "h1 "},
     "-A w--instance-abc-log -m conntrack --ctstate NEW,UNTRACKED,INVALID -p all -j LOG "
     "--log-prefix \"h1 \" -m comment --comment h1"},
    {"filter",
     "w--instance-abc-log",
     -1,
     {.comment = "h1", .target = KW_T_RETURN},
     "-A w--instance-abc-log -j RETURN -m comment --comment h1"},
    /* NetOut rules, each inserted first */
    {"filter",
     "w--instance-abc",
     0,
     {.proto = IPPROTO_TCP,
      .dst_range = true,
      .dst_range_lo = NET(10, 0, 0, 1),
      .dst_range_hi = NET(10, 0, 0, 9),
      .dport = true,
      .dport_lo = 80,
      .dport_hi = 90,
      .comment = "h1",
      .target = KW_T_RETURN},
     "-I w--instance-abc 1 --protocol tcp -m iprange --dst-range 10.0.0.1-10.0.0.9 "
     "--destination-port 80:90 --jump RETURN -m comment --comment h1"},
    {"filter",
     "w--instance-abc",
     0,
     {.proto = IPPROTO_UDP,
      .dst = NET(8, 8, 8, 8),
      .dst_mask = 0xffffffff,
      .dport = true,
      .dport_lo = 53,
      .dport_hi = 53,
      .comment = "h1",
      .target = KW_T_GOTO,
      .chain = "w--instance-abc-log"},
     "-I w--instance-abc 1 --protocol udp --destination 8.8.8.8 --destination-port 53 --goto "
     "w--instance-abc-log -m comment --comment h1"},
    {"filter",
     "w--instance-abc",
     0,
     {.proto = IPPROTO_ICMP, .icmp = true, .icmp_type = 8, .comment = "h1", .target = KW_T_RETURN},
     "-I w--instance-abc 1 --protocol icmp --icmp-type 8/0 --jump RETURN -m comment --comment "
     "h1"},
    {"filter",
     "w--instance-abc",
     0,
     {.proto = IPPROTO_ICMP,
      .icmp = true,
      .icmp_type = 8,
      .icmp_any_code = true,
      .comment = "h1",
      .target = KW_T_RETURN},
     "-I w--instance-abc 1 --protocol icmp --icmp-type 8 --jump RETURN -m comment --comment h1"},
    {"filter",
     "w--instance-abc",
     0,
     {.proto = IPPROTO_TCP,
      .dport = true,
      .dport_lo = 443,
      .dport_hi = 443,
      .comment = "h1",
      .target = KW_T_GOTO,
      .chain = "w--instance-abc-log"},
     "-I w--instance-abc 1 --protocol tcp --destination-port 443 --goto w--instance-abc-log -m "
     "comment --comment h1"},
    {"filter",
     "w--instance-abc",
     0,
     {.dst = NET(10, 1, 0, 0), .dst_mask = 0xffffffff, .comment = "h1", .target = KW_T_RETURN},
     "-I w--instance-abc 1 --protocol all --destination 10.1.0.0 --jump RETURN -m comment "
     "--comment h1"},
    /* nat */
    {"nat",
     "PREROUTING",
     -1,
     {.target = KW_T_JUMP, .chain = "w--prerouting"},
     "-A PREROUTING -j w--prerouting"},
    {"nat",
     "OUTPUT",
     -1,
     {.out_if = "lo", .target = KW_T_JUMP, .chain = "w--prerouting"},
     "-A OUTPUT -o lo -j w--prerouting"},
    {"nat",
     "POSTROUTING",
     -1,
     {.target = KW_T_JUMP, .chain = "w--postrouting"},
     "-A POSTROUTING -j w--postrouting"},
    {"nat",
     "w--prerouting",
     -1,
     {.comment = "h1", .target = KW_T_JUMP, .chain = "w--instance-abc"},
     "-A w--prerouting -j w--instance-abc -m comment --comment h1"},
    {"nat",
     "w--postrouting",
     -1,
     {.src = NET(10, 254, 0, 0),
      .src_mask = 0xfffffffc,
      .dst = NET(10, 254, 0, 0),
      .dst_mask = 0xfffffffc,
      .dst_neg = true,
      .comment = "h1",
      .target = KW_T_MASQUERADE},
     "-A w--postrouting -s 10.254.0.0/30 ! -d 10.254.0.0/30 -j MASQUERADE -m comment --comment "
     "h1"},
    {"nat",
     "w--instance-abc",
     -1,
     {.proto = IPPROTO_TCP,
      .dst = NET(192, 0, 2, 2),
      .dst_mask = 0xffffffff,
      .dport = true,
      .dport_lo = 61001,
      .dport_hi = 61001,
      .comment = "h1",
      .target = KW_T_DNAT,
      .dnat_ip = NET(10, 254, 0, 2),
      .dnat_port = 8080},
     "-A w--instance-abc --protocol tcp --destination 192.0.2.2 --destination-port 61001 --jump "
     "DNAT --to-destination 10.254.0.2:8080 -m comment --comment h1"},
};

/* What iptables-legacy-save prints once every shape is in (the NetOut rules, inserted first, in
 * reverse order). */
static const char filter_save[] =
    "-A INPUT -i w+ -j w--input\n"
    "-A FORWARD -i w+ -j w--forward\n"
    "-A w--default -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
    "-A w--default -d 10.0.0.0/8 -j REJECT --reject-with icmp-port-unreachable\n"
    "-A w--forward -i eth0 -j ACCEPT\n"
    "-A w--forward -s 10.254.0.2/32 -i wbrdg-0afe0000 -m comment --comment h1 -g "
    "w--instance-abc\n"
    "-A w--forward -j DROP\n"
    "-A w--input -i eth0 -j ACCEPT\n"
    "-A w--input -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
    "-A w--input -j REJECT --reject-with icmp-host-prohibited\n"
    "-A w--instance-abc -d 10.1.0.0/32 -m comment --comment h1 -j RETURN\n"
    "-A w--instance-abc -p tcp -m tcp --dport 443 -m comment --comment h1 -g "
    "w--instance-abc-log\n"
    "-A w--instance-abc -p icmp -m icmp --icmp-type 8 -m comment --comment h1 -j RETURN\n"
    "-A w--instance-abc -p icmp -m icmp --icmp-type 8/0 -m comment --comment h1 -j RETURN\n"
    "-A w--instance-abc -d 8.8.8.8/32 -p udp -m udp --dport 53 -m comment --comment h1 -g "
    "w--instance-abc-log\n"
    "-A w--instance-abc -p tcp -m iprange --dst-range 10.0.0.1-10.0.0.9 -m tcp --dport 80:90 -m "
    "comment --comment h1 -j RETURN\n"
    "-A w--instance-abc -s 10.254.0.0/30 -d 10.254.0.0/30 -m comment --comment h1 -j ACCEPT\n"
    "-A w--instance-abc -m comment --comment h1 -g w--default\n"
    "-A w--instance-abc-log -m conntrack --ctstate INVALID,NEW,UNTRACKED -m comment --comment h1 "
    "-j LOG --log-prefix \"h1 \"\n"
    "-A w--instance-abc-log -m comment --comment h1 -j RETURN\n";

static const char nat_save[] =
    "-A PREROUTING -j w--prerouting\n"
    "-A OUTPUT -o lo -j w--prerouting\n"
    "-A POSTROUTING -j w--postrouting\n"
    "-A w--instance-abc -d 192.0.2.2/32 -p tcp -m tcp --dport 61001 -m comment --comment h1 -j "
    "DNAT --to-destination 10.254.0.2:8080\n"
    "-A w--postrouting -s 10.254.0.0/30 ! -d 10.254.0.0/30 -m comment --comment h1 -j "
    "MASQUERADE\n"
    "-A w--prerouting -m comment --comment h1 -j w--instance-abc\n";

static void chains_of(const char *table, const char *const **ret, size_t *n)
{
	bool nat = strcmp(table, "nat") == 0;

	*ret = nat ? nat_chains : filter_chains;
	*n = nat ? GDN_ARRAY_SIZE(nat_chains) : GDN_ARRAY_SIZE(filter_chains);
}

static void apply_kw(const char *table)
{
	struct kw_ipt *t = begin(table);
	struct gdn_err *err = NULL;
	const char *const *chains;
	size_t n;

	chains_of(table, &chains, &n);
	for (size_t i = 0; i < n; i++)
		CHECK_OK(kw_ipt_chain_create(t, chains[i], &err), err);
	for (size_t i = 0; i < GDN_ARRAY_SIZE(shapes); i++) {
		const struct shape *s = &shapes[i];

		if (strcmp(s->table, table) != 0)
			continue;
		if (s->pos < 0)
			CHECK_OK(kw_ipt_append(t, s->chain, &s->r, &err), err);
		else
			CHECK_OK(kw_ipt_insert(t, s->chain, (unsigned)s->pos, &s->r, &err), err);
	}
	commit(t);
}

static void apply_iptables(const char *table)
{
	const char *const *chains;
	size_t n;

	chains_of(table, &chains, &n);
	for (size_t i = 0; i < n; i++) {
		char cmd[64];

		(void)snprintf(cmd, sizeof(cmd), "-N %s", chains[i]);
		iptables(table, cmd);
	}
	for (size_t i = 0; i < GDN_ARRAY_SIZE(shapes); i++)
		if (strcmp(shapes[i].table, table) == 0)
			iptables(table, shapes[i].cmd);
}

struct names {
	char *v[16];
	size_t n;
};

static void collect(const char *c, void *arg)
{
	struct names *names = arg;

	CHECK(names->n < GDN_ARRAY_SIZE(names->v));
	names->v[names->n] = strdup(c);
	CHECK(names->v[names->n++] != NULL);
}

/* kw_ipt_format_chain over the whole table, in iptables-save's chain order. */
static char *format_table(const char *table)
{
	static const char *const filter_builtins[] = {"INPUT", "FORWARD", "OUTPUT"};
	static const char *const nat_builtins[] = {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"};
	bool nat = strcmp(table, "nat") == 0;
	const char *const *b = nat ? nat_builtins : filter_builtins;
	size_t nb = nat ? GDN_ARRAY_SIZE(nat_builtins) : GDN_ARRAY_SIZE(filter_builtins);
	struct kw_ipt *t = begin(table);
	struct gdn_err *err = NULL;
	struct gdn_buf out = {0};
	struct names user = {0};

	for (size_t i = 0; i < nb; i++)
		CHECK_OK(kw_ipt_format_chain(t, b[i], &out, &err), err);
	kw_ipt_chains(t, "", collect, &user);
	for (size_t i = 0; i < user.n; i++) {
		CHECK_OK(kw_ipt_format_chain(t, user.v[i], &out, &err), err);
		free(user.v[i]);
	}
	kw_ipt_abort(t);
	if (!out.data)
		CHECK(gdn_buf_puts(&out, "") == 0);
	return gdn_buf_steal(&out, NULL);
}

/* Every shape, written by kw_ipt, reads back from the kernel as iptables-legacy-save prints
 * guardian's rules, and kw_ipt_format_chain prints the same. */
static void test_shapes_print_as_iptables_save(void)
{
	enter_netns();
	apply_kw("filter");
	apply_kw("nat");
	{
		_cleanup_free_ char *f = save_rules("filter"), *n = save_rules("nat");
		_cleanup_free_ char *ff = format_table("filter"), *fn = format_table("nat");

		CHECK_STREQ(f, filter_save);
		CHECK_STREQ(n, nat_save);
		CHECK_STREQ(ff, filter_save);
		CHECK_STREQ(fn, nat_save);
	}
}

/* guardian's command lines, run by iptables-legacy, give the same text. */
static void test_iptables_binary_prints_the_same(void)
{
	enter_netns();
	apply_iptables("filter");
	apply_iptables("nat");
	{
		_cleanup_free_ char *f = save_rules("filter"), *n = save_rules("nat");
		_cleanup_free_ char *ff = format_table("filter"), *fn = format_table("nat");

		CHECK_STREQ(f, filter_save);
		CHECK_STREQ(n, nat_save);
		CHECK_STREQ(ff, filter_save);
		CHECK_STREQ(fn, nat_save);
	}
}

/* A table's rules as the kernel holds them: chain name and entry bytes, counters zeroed. */
struct snap {
	size_t n;
	char chain[64][32];
	unsigned char *entry[64];
	size_t len[64];
};

static void snapshot(const char *table, struct snap *s)
{
	struct xtc_handle *h = iptc_init(table);

	CHECK(h != NULL);
	memset(s, 0, sizeof(*s));
	for (const char *c = iptc_first_chain(h); c; c = iptc_next_chain(h))
		for (const struct ipt_entry *e = iptc_first_rule(c, h); e;
		     e = iptc_next_rule(e, h)) {
			struct ipt_entry *copy;

			CHECK(s->n < GDN_ARRAY_SIZE(s->entry));
			copy = malloc(e->next_offset);
			CHECK(copy != NULL);
			memcpy(copy, e, e->next_offset);
			memset(&copy->counters, 0, sizeof(copy->counters));
			(void)snprintf(s->chain[s->n], sizeof(s->chain[0]), "%s", c);
			s->entry[s->n] = (void *)copy;
			s->len[s->n++] = e->next_offset;
		}
	iptc_free(h);
}

static void snapshot_free(struct snap *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->entry[i]);
}

/* The strongest check of the layouts: the kernel holds byte for byte the same table whether
 * kw_ipt or iptables-legacy wrote it (verdict offsets included, which only agree when every
 * entry before has the same size). */
static void test_entries_are_iptables_bytes(void)
{
	static const char *const tables[] = {"filter", "nat"};

	enter_netns();
	for (size_t k = 0; k < GDN_ARRAY_SIZE(tables); k++) {
		struct snap *mine = calloc(1, sizeof(*mine)), *theirs = calloc(1, sizeof(*theirs));

		CHECK(mine && theirs);
		apply_kw(tables[k]);
		snapshot(tables[k], mine);
		CHECK(unshare(CLONE_NEWNET) == 0);
		apply_iptables(tables[k]);
		snapshot(tables[k], theirs);
		CHECK_INTEQ(mine->n, theirs->n);
		for (size_t i = 0; i < mine->n; i++) {
			CHECK_STREQ(mine->chain[i], theirs->chain[i]);
			CHECK_INTEQ(mine->len[i], theirs->len[i]);
			if (memcmp(mine->entry[i], theirs->entry[i], mine->len[i]) != 0)
				tap_fail_(__FILE__, __LINE__, "%s rule %zu of %s differs",
					  tables[k], i, mine->chain[i]);
		}
		snapshot_free(mine);
		snapshot_free(theirs);
		free(mine);
		free(theirs);
		CHECK(unshare(CLONE_NEWNET) == 0);
	}
}

/* Rules iptables-legacy made are found by kw_ipt_has_rule and deleted by kw_ipt_delete_*. */
static void test_has_rule_finds_iptables_rules(void)
{
	struct gdn_err *err = NULL;
	struct kw_ipt *t;

	enter_netns();
	apply_iptables("filter");
	apply_iptables("nat");
	for (size_t i = 0; i < GDN_ARRAY_SIZE(shapes); i++) {
		t = begin(shapes[i].table);
		if (!kw_ipt_has_rule(t, shapes[i].chain, &shapes[i].r))
			tap_fail_(__FILE__, __LINE__, "not found: %s", shapes[i].cmd);
		kw_ipt_abort(t);
	}

	t = begin("nat");
	CHECK_INTEQ(kw_ipt_delete_jumps(t, "w--prerouting", "w--instance-abc", &err), 1);
	CHECK_INTEQ(kw_ipt_delete_commented(t, "w--postrouting", "h1", KW_T_MASQUERADE, &err), 1);
	CHECK_INTEQ(kw_ipt_delete_commented(t, "w--instance-abc", "h1", KW_T_DNAT, &err), 1);
	commit(t);
	{
		_cleanup_free_ char *n = save_rules("nat");

		CHECK_STREQ(n, "-A PREROUTING -j w--prerouting\n"
			       "-A OUTPUT -o lo -j w--prerouting\n"
			       "-A POSTROUTING -j w--postrouting\n");
	}

	t = begin("filter");
	CHECK_INTEQ(kw_ipt_delete_jumps(t, "w--forward", "w--instance-abc", &err), 1);
	CHECK_INTEQ(kw_ipt_delete_commented(t, "w--instance-abc", "h1", KW_T_RETURN, &err), 4);
	CHECK_INTEQ(kw_ipt_delete_commented(t, "w--instance-abc", "h1", KW_T_GOTO, &err), 3);
	CHECK_INTEQ(kw_ipt_delete_commented(t, "w--instance-abc", "h1", KW_T_ACCEPT, &err), 1);
	CHECK_INTEQ(kw_ipt_delete_commented(t, "w--instance-abc-log", "h1", KW_T_LOG, &err), 1);
	CHECK_OK(kw_ipt_chain_delete(t, "w--instance-abc-log", &err), err);
	CHECK_OK(kw_ipt_chain_delete(t, "w--instance-abc", &err), err);
	commit(t);
	{
		_cleanup_free_ char *f = save_rules("filter");

		CHECK(strstr(f, "w--instance-abc") == NULL);
		CHECK(strstr(f, "-A w--forward -i eth0 -j ACCEPT\n-A w--forward -j DROP\n"));
	}
}

static void test_has_rule_tells_rules_apart(void)
{
	struct gdn_err *err = NULL;
	struct kw_rule r = {.proto = IPPROTO_TCP,
			    .dst = NET(8, 8, 8, 8),
			    .dst_mask = 0xffffffff,
			    .in_if = "w+",
			    .dport = true,
			    .dport_lo = 53,
			    .dport_hi = 53,
			    .comment = "h1",
			    .target = KW_T_GOTO,
			    .chain = "b"},
		       v;
	struct kw_ipt *t;

	enter_netns();
	t = begin("filter");
	CHECK_OK(kw_ipt_chain_create(t, "a", &err), err);
	CHECK_OK(kw_ipt_chain_create(t, "b", &err), err);
	CHECK(!kw_ipt_has_rule(t, "a", &r));
	CHECK_OK(kw_ipt_append(t, "a", &r, &err), err);
	/* found before the commit, in the handle, and after it, in the kernel's copy */
	CHECK(kw_ipt_has_rule(t, "a", &r));
	commit(t);
	t = begin("filter");
	CHECK(kw_ipt_has_rule(t, "a", &r));
	CHECK(!kw_ipt_has_rule(t, "b", &r));
	CHECK(!kw_ipt_has_rule(t, "nosuch", &r));
	v = r, v.dport_hi = 54;
	CHECK(!kw_ipt_has_rule(t, "a", &v));
	v = r, v.comment = "h2";
	CHECK(!kw_ipt_has_rule(t, "a", &v));
	v = r, v.comment = NULL;
	CHECK(!kw_ipt_has_rule(t, "a", &v));
	v = r, v.target = KW_T_JUMP;
	CHECK(!kw_ipt_has_rule(t, "a", &v));
	v = r, v.chain = "a";
	CHECK(!kw_ipt_has_rule(t, "a", &v));
	v = r, v.in_if = "w";
	CHECK(!kw_ipt_has_rule(t, "a", &v));
	v = r, v.in_if = "w+", v.dst_mask = 0xffffff00, v.dst = NET(8, 8, 8, 0);
	CHECK(!kw_ipt_has_rule(t, "a", &v));
	v = r, v.proto = IPPROTO_UDP;
	CHECK(!kw_ipt_has_rule(t, "a", &v));
	v = r, v.dst_neg = true;
	CHECK(!kw_ipt_has_rule(t, "a", &v));
	/* the address is kept as iptables keeps it: its network part */
	v = r, v.dst = NET(8, 8, 8, 8), v.dst_mask = 0xffffffff;
	CHECK(kw_ipt_has_rule(t, "a", &v));
	kw_ipt_abort(t);
}

static void test_chain_create_flush_delete(void)
{
	struct gdn_err *err = NULL;
	struct kw_rule accept = {.target = KW_T_ACCEPT},
		       jump = {.target = KW_T_JUMP, .chain = "w--instance-x"};
	struct kw_ipt *t;

	enter_netns();
	t = begin("filter");
	CHECK(!kw_ipt_chain_exists(t, "w--instance-x"));
	CHECK_OK(kw_ipt_chain_create(t, "w--instance-x", &err), err);
	CHECK_OK(kw_ipt_chain_create(t, "w--instance-x", &err), err);
	CHECK(kw_ipt_chain_exists(t, "w--instance-x"));
	CHECK_OK(kw_ipt_append(t, "w--instance-x", &accept, &err), err);
	CHECK_OK(kw_ipt_append(t, "w--instance-x", &accept, &err), err);
	CHECK_OK(kw_ipt_append(t, "FORWARD", &jump, &err), err);
	commit(t);
	{
		_cleanup_free_ char *f = save_rules("filter");

		CHECK_STREQ(f, "-A FORWARD -j w--instance-x\n"
			       "-A w--instance-x -j ACCEPT\n"
			       "-A w--instance-x -j ACCEPT\n");
	}

	t = begin("filter");
	CHECK_OK(kw_ipt_chain_flush(t, "w--instance-x", &err), err);
	CHECK_OK(kw_ipt_chain_flush(t, "nosuch", &err), err);
	/* still referenced: refused with libiptc's reason */
	CHECK(kw_ipt_chain_delete(t, "w--instance-x", &err) < 0);
	CHECK_STREQ(gdn_err_str(err), "iptables deleting chain `w--instance-x' in table `filter': "
				      "it is still referenced (1 references)");
	err = gdn_err_free(err);
	CHECK_INTEQ(kw_ipt_delete_jumps(t, "FORWARD", "w--instance-x", &err), 1);
	CHECK_INTEQ(kw_ipt_delete_jumps(t, "FORWARD", "w--instance-x", &err), 0);
	CHECK_INTEQ(kw_ipt_delete_jumps(t, "nosuch", "w--instance-x", &err), 0);
	CHECK_OK(kw_ipt_chain_delete(t, "w--instance-x", &err), err);
	CHECK_OK(kw_ipt_chain_delete(t, "w--instance-x", &err), err);
	CHECK(!kw_ipt_chain_exists(t, "w--instance-x"));
	commit(t);
	{
		_cleanup_free_ char *f = save_rules("filter");

		CHECK_STREQ(f, "");
	}
}

static void test_delete_jumps_and_commented(void)
{
	struct gdn_err *err = NULL;
	struct kw_ipt *t;

	enter_netns();
	t = begin("filter");
	CHECK_OK(kw_ipt_chain_create(t, "a", &err), err);
	CHECK_OK(kw_ipt_chain_create(t, "b", &err), err);
	CHECK_OK(kw_ipt_chain_create(t, "f", &err), err);
	for (int i = 0; i < 3; i++) {
		struct kw_rule ga = {.comment = "h1", .target = KW_T_GOTO, .chain = "a"},
			       jb = {.comment = "h2", .target = KW_T_JUMP, .chain = "b"},
			       ja = {.comment = "h2", .target = KW_T_JUMP, .chain = "a"},
			       acc = {.comment = "h1", .target = KW_T_ACCEPT};

		CHECK_OK(kw_ipt_append(t, "f", &ga, &err), err);
		CHECK_OK(kw_ipt_append(t, "f", &jb, &err), err);
		CHECK_OK(kw_ipt_append(t, "f", &ja, &err), err);
		CHECK_OK(kw_ipt_append(t, "f", &acc, &err), err);
	}
	/* in the handle, before any commit */
	CHECK_INTEQ(kw_ipt_delete_jumps(t, "f", "b", &err), 3);
	commit(t);
	t = begin("filter");
	/* a jump (-j a) is not a goto (-g a) */
	CHECK_INTEQ(kw_ipt_delete_commented(t, "f", "h1", KW_T_JUMP, &err), 0);
	CHECK_INTEQ(kw_ipt_delete_commented(t, "f", "h1", KW_T_GOTO, &err), 3);
	CHECK_INTEQ(kw_ipt_delete_commented(t, "f", "h1", KW_T_DROP, &err), 0);
	CHECK_INTEQ(kw_ipt_delete_commented(t, "f", "h", KW_T_ACCEPT, &err), 0);
	commit(t);
	{
		_cleanup_free_ char *f = save_rules("filter");

		CHECK_STREQ(f, "-A f -m comment --comment h2 -j a\n"
			       "-A f -m comment --comment h1 -j ACCEPT\n"
			       "-A f -m comment --comment h2 -j a\n"
			       "-A f -m comment --comment h1 -j ACCEPT\n"
			       "-A f -m comment --comment h2 -j a\n"
			       "-A f -m comment --comment h1 -j ACCEPT\n");
	}
	t = begin("filter");
	CHECK_INTEQ(kw_ipt_delete_jumps(t, "f", "a", &err), 3);
	CHECK_INTEQ(kw_ipt_delete_commented(t, "f", "h1", KW_T_ACCEPT, &err), 3);
	commit(t);
	{
		_cleanup_free_ char *f = save_rules("filter");

		CHECK_STREQ(f, "");
	}
}

static void test_insert_positions(void)
{
	struct gdn_err *err = NULL;
	struct kw_rule r[4] = {{.comment = "0", .target = KW_T_ACCEPT},
			       {.comment = "1", .target = KW_T_ACCEPT},
			       {.comment = "2", .target = KW_T_ACCEPT},
			       {.comment = "3", .target = KW_T_ACCEPT}};
	struct kw_ipt *t;

	enter_netns();
	t = begin("filter");
	CHECK_OK(kw_ipt_chain_create(t, "c", &err), err);
	CHECK_OK(kw_ipt_insert(t, "c", 5, &r[1], &err), err); /* past the end of an empty chain */
	CHECK_OK(kw_ipt_insert(t, "c", 0, &r[0], &err), err);
	CHECK_OK(kw_ipt_insert(t, "c", 9, &r[3], &err), err);
	CHECK_OK(kw_ipt_insert(t, "c", 2, &r[2], &err), err);
	commit(t);
	{
		_cleanup_free_ char *f = save_rules("filter");

		CHECK_STREQ(f, "-A c -m comment --comment 0 -j ACCEPT\n"
			       "-A c -m comment --comment 1 -j ACCEPT\n"
			       "-A c -m comment --comment 2 -j ACCEPT\n"
			       "-A c -m comment --comment 3 -j ACCEPT\n");
	}
}

static void collect_chain(const char *c, void *arg)
{
	struct gdn_buf *b = arg;

	CHECK(gdn_buf_printf(b, "%s,", c) == 0);
}

static void test_chains_listing(void)
{
	static const char *const names[] = {"w--instance-b", "w--input", "w--instance-a", "x",
					    "w--instance-a-log"};
	struct gdn_err *err = NULL;
	_cleanup_buf_ struct gdn_buf b = {0};
	struct kw_ipt *t;

	enter_netns();
	t = begin("filter");
	for (size_t i = 0; i < GDN_ARRAY_SIZE(names); i++)
		CHECK_OK(kw_ipt_chain_create(t, names[i], &err), err);
	kw_ipt_chains(t, "w--instance-", collect_chain, &b);
	CHECK_STREQ(b.data, "w--instance-a,w--instance-a-log,w--instance-b,");
	gdn_buf_reset(&b);
	kw_ipt_chains(t, "INPUT", collect_chain, &b);
	CHECK(b.len == 0);
	commit(t);
	t = begin("filter");
	kw_ipt_chains(t, "", collect_chain, &b);
	CHECK_STREQ(b.data, "w--input,w--instance-a,w--instance-a-log,w--instance-b,x,");
	kw_ipt_abort(t);
}

static void test_abort_leaves_the_table(void)
{
	struct gdn_err *err = NULL;
	struct kw_rule r = {.target = KW_T_DROP};
	struct kw_ipt *t;

	enter_netns();
	t = begin("filter");
	CHECK_OK(kw_ipt_chain_create(t, "c", &err), err);
	CHECK_OK(kw_ipt_append(t, "c", &r, &err), err);
	CHECK_OK(kw_ipt_append(t, "INPUT", &r, &err), err);
	kw_ipt_abort(t);
	kw_ipt_abort(NULL);
	t = begin("filter");
	CHECK(!kw_ipt_chain_exists(t, "c"));
	CHECK_OK(kw_ipt_commit(t, &err), err); /* nothing changed: nothing written */
	{
		_cleanup_free_ char *f = save_rules("filter");

		CHECK_STREQ(f, "");
	}
}

static void test_errors(void)
{
	struct gdn_err *err = NULL;
	struct kw_rule r = {.target = KW_T_ACCEPT};
	struct kw_ipt *t = NULL;

	enter_netns();
	CHECK(kw_ipt_begin("nosuch", TIMEOUT_MS, &t, &err) < 0);
	CHECK(t == NULL);
	CHECK(strncmp(gdn_err_str(err), "can't initialize iptables table `nosuch': ", 42) == 0);
	err = gdn_err_free(err);

	t = begin("filter");
	CHECK(kw_ipt_append(t, "nosuch", &r, &err) == -ENOENT);
	CHECK_STREQ(gdn_err_str(err), "iptables: no chain `nosuch' in table `filter'");
	err = gdn_err_free(err);
	r = (struct kw_rule){.target = KW_T_GOTO, .chain = "nosuch"};
	CHECK(kw_ipt_insert(t, "INPUT", 0, &r, &err) == -ENOENT);
	CHECK_STREQ(gdn_err_str(err), "iptables: no chain `nosuch' in table `filter' to jump to");
	err = gdn_err_free(err);
	r = (struct kw_rule){.in_if = "0123456789abcdef", .target = KW_T_ACCEPT};
	CHECK(kw_ipt_append(t, "INPUT", &r, &err) == -EINVAL);
	CHECK_STREQ(gdn_err_str(err),
		    "interface name `0123456789abcdef' must be shorter than IFNAMSIZ (15)");
	err = gdn_err_free(err);
	r = (struct kw_rule){.target = KW_T_LOG, .log_prefix = "0123456789012345678901234567890"};
	CHECK(kw_ipt_append(t, "INPUT", &r, &err) == -EINVAL);
	CHECK_STREQ(gdn_err_str(err), "Maximum prefix length 29 for --log-prefix");
	err = gdn_err_free(err);
	r = (struct kw_rule){.dport = true, .dport_lo = 1, .dport_hi = 1, .target = KW_T_ACCEPT};
	CHECK(kw_ipt_append(t, "INPUT", &r, &err) == -EINVAL);
	err = gdn_err_free(err);
	r = (struct kw_rule){.target = KW_T_JUMP, .chain = "INPUT"};
	CHECK(kw_ipt_append(t, "INPUT", &r, &err) < 0);
	err = gdn_err_free(err);
	kw_ipt_abort(t);
}

/* Rules kawasaki does not write print as iptables-save prints them, as far as kw_ipt knows the
 * extensions, and as "-m <name>" / "-j <name>" past that. */
static void test_format_other_rules(void)
{
	static const char *const cmds[] = {
	    "-A c -s 10.0.0.0/255.0.255.0 ! -i eth+ -o veth1 -p sctp -f -j DROP",
	    "-A c ! -s 1.2.3.4 ! -p tcp -j ACCEPT",
	    "-A c -p tcp -m tcp --sport 1:2 ! --dport 3 --tcp-flags SYN,ACK,FIN SYN -j RETURN",
	    "-A c -p tcp --tcp-option 5 -j RETURN",
	    "-A c -p udp -m udp ! --sport 7 -j RETURN",
	    "-A c -p icmp -m icmp ! --icmp-type 3/1 -j RETURN",
	    "-A c -p icmp -m icmp --icmp-type 255/3 -j RETURN",
	    "-A c -m conntrack ! --ctstate SNAT,DNAT -m limit --limit 1/s -j ACCEPT",
	    "-A c -m iprange ! --src-range 1.1.1.1-1.1.1.2 -m comment --comment \"a\\\"b c'\" -j "
	    "REJECT --reject-with icmp-net-prohibited",
	    "-A c -m comment --comment \"\" -j LOG --log-level 7 --log-uid --log-ip-options",
	    "-A c -j NFLOG --nflog-group 3",
	    "-A c",
	    "-A c -j c2",
	};
	static const char want[] =
	    "-A c -s 10.0.0.0/255.0.255.0 ! -i eth+ -o veth1 -p sctp -f -j DROP\n"
	    "-A c ! -s 1.2.3.4/32 ! -p tcp -j ACCEPT\n"
	    "-A c -p tcp -m tcp --sport 1:2 ! --dport 3 --tcp-flags FIN,SYN,ACK SYN -j RETURN\n"
	    "-A c -p tcp -m tcp --tcp-option 5 -j RETURN\n"
	    "-A c -p udp -m udp ! --sport 7 -j RETURN\n"
	    "-A c -p icmp -m icmp ! --icmp-type 3/1 -j RETURN\n"
	    "-A c -p icmp -m icmp --icmp-type any -j RETURN\n"
	    "-A c -m conntrack ! --ctstate SNAT,DNAT -m limit --limit 1/sec -j ACCEPT\n"
	    "-A c -m iprange ! --src-range 1.1.1.1-1.1.1.2 -m comment --comment \"a\\\"b c\\'\" -j "
	    "REJECT --reject-with icmp-net-prohibited\n"
	    "-A c -m comment --comment \"\" -j LOG --log-level 7 --log-ip-options --log-uid\n"
	    "-A c -j NFLOG --nflog-group 3\n"
	    "-A c\n"
	    "-A c -j c2\n";
	struct gdn_err *err = NULL;
	_cleanup_buf_ struct gdn_buf out = {0};
	_cleanup_free_ char *saved = NULL;
	struct kw_ipt *t;

	enter_netns();
	iptables("filter", "-N c");
	iptables("filter", "-N c2");
	for (size_t i = 0; i < GDN_ARRAY_SIZE(cmds); i++)
		iptables("filter", cmds[i]);
	saved = save_rules("filter");
	CHECK_STREQ(saved, want);
	t = begin("filter");
	CHECK_OK(kw_ipt_format_chain(t, "c", &out, &err), err);
	CHECK_OK(kw_ipt_format_chain(t, "nosuch", &out, &err), err);
	kw_ipt_abort(t);
	/* what kw_ipt does not know: limit's options, NFLOG's */
	CHECK_STREQ(out.data,
		    "-A c -s 10.0.0.0/255.0.255.0 ! -i eth+ -o veth1 -p sctp -f -j DROP\n"
		    "-A c ! -s 1.2.3.4/32 ! -p tcp -j ACCEPT\n"
		    "-A c -p tcp -m tcp --sport 1:2 ! --dport 3 --tcp-flags FIN,SYN,ACK SYN -j "
		    "RETURN\n"
		    "-A c -p tcp -m tcp --tcp-option 5 -j RETURN\n"
		    "-A c -p udp -m udp ! --sport 7 -j RETURN\n"
		    "-A c -p icmp -m icmp ! --icmp-type 3/1 -j RETURN\n"
		    "-A c -p icmp -m icmp --icmp-type any -j RETURN\n"
		    "-A c -m conntrack ! --ctstate SNAT,DNAT -m limit -j ACCEPT\n"
		    "-A c -m iprange ! --src-range 1.1.1.1-1.1.1.2 -m comment --comment "
		    "\"a\\\"b c\\'\" -j REJECT --reject-with icmp-net-prohibited\n"
		    "-A c -m comment --comment \"\" -j LOG --log-level 7 --log-ip-options "
		    "--log-uid\n"
		    "-A c -j NFLOG\n"
		    "-A c\n"
		    "-A c -j c2\n");
}

/* Two begin()s from two processes: the second waits for the first's lock, or gives up. */
static void test_lock_serialises(void)
{
	struct gdn_err *err = NULL;
	struct kw_ipt *t = NULL;
	int p[2], status;
	uint64_t t0, waited;
	char c;
	pid_t pid;

	enter_netns();
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct kw_ipt *held = begin("filter");

		(void)!write(p[1], "x", 1);
		(void)nanosleep(&(struct timespec){.tv_nsec = 400 * 1000 * 1000}, NULL);
		kw_ipt_abort(held);
		_exit(0);
	}
	close(p[1]);
	CHECK(read(p[0], &c, 1) == 1);
	t0 = gdn_now_mono_ns();
	CHECK(kw_ipt_begin("filter", 50, &t, &err) == -ETIMEDOUT);
	CHECK(t == NULL);
	waited = gdn_now_mono_ns() - t0;
	CHECK(waited >= 50 * 1000 * 1000ull && waited < 300 * 1000 * 1000ull);
	CHECK_STREQ(gdn_err_str(err), "another app is currently holding the xtables lock "
				      "(/run/xtables.lock); stopped waiting after 50 ms");
	err = gdn_err_free(err);
	CHECK_OK(kw_ipt_begin("filter", TIMEOUT_MS, &t, &err), err);
	waited = gdn_now_mono_ns() - t0;
	printf("# second begin() got the lock after %.0f ms (the first held it 400 ms)\n",
	       (double)waited / 1e6);
	CHECK(waited >= 300 * 1000 * 1000ull);
	kw_ipt_abort(t);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(p[0]);
}

/* It is iptables' own lock: iptables-legacy -w waits for kw_ipt, and gives up. */
static void test_lock_is_iptables_lock(void)
{
	const char *argv[] = {IPTABLES, "-w", "1", "-W", "10000", "-N", "x", NULL};
	struct gdn_spawn_opts so = {.path = argv[0], .argv = (char *const *)argv};
	struct gdn_run_opts o = {.spawn = &so, .capture_stdout = true, .capture_stderr = true};
	_cleanup_run_result_ struct gdn_run_result res = {0};
	struct gdn_err *err = NULL;
	struct kw_ipt *t;

	enter_netns();
	t = begin("filter");
	CHECK_OK(gdn_run(&o, &res, &err), err);
	CHECK(res.status != 0);
	CHECK(strstr(res.err, "Another app is currently holding the xtables lock") != NULL);
	kw_ipt_abort(t);
	free(run(argv));
	t = begin("filter");
	CHECK(kw_ipt_chain_exists(t, "x"));
	kw_ipt_abort(t);
}

static double ms_since(uint64_t t0)
{
	return (double)(gdn_now_mono_ns() - t0) / 1e6;
}

/* One container's filter rules (internals §11.7), container i of a /22 pool. */
static void add_container(struct kw_ipt *t, unsigned i)
{
	char inst[32], log[32], handle[32], prefix[32], bridge[16];
	uint32_t subnet = NET(10, 254, 0, 0) + 4 * i;
	struct gdn_err *err = NULL;

	(void)snprintf(inst, sizeof(inst), "w--instance-%011u", i);
	(void)snprintf(log, sizeof(log), "w--instance-%011u-log", i);
	(void)snprintf(handle, sizeof(handle), "handle-%u", i);
	(void)snprintf(prefix, sizeof(prefix), "handle-%u ", i);
	(void)snprintf(bridge, sizeof(bridge), "wbrdg-%08x", subnet);
	{
		struct kw_rule own = {.src = subnet,
				      .src_mask = 0xfffffffc,
				      .dst = subnet,
				      .dst_mask = 0xfffffffc,
				      .comment = handle,
				      .target = KW_T_ACCEPT},
			       dflt = {.comment = handle,
				       .target = KW_T_GOTO,
				       .chain = "w--default"},
			       fwd = {.src = subnet + 2,
				      .src_mask = 0xffffffff,
				      .in_if = bridge,
				      .comment = handle,
				      .target = KW_T_GOTO,
				      .chain = inst},
			       lg = {.ctstate = KW_CT_NEW | KW_CT_UNTRACKED | KW_CT_INVALID,
				     .comment = handle,
				     .target = KW_T_LOG,
				     .log_prefix = prefix},
			       ret = {.comment = handle, .target = KW_T_RETURN},
			       out = {.proto = IPPROTO_TCP,
				      .dst_range = true,
				      .dst_range_lo = NET(10, 0, 0, 0),
				      .dst_range_hi = NET(10, 0, 0, 255),
				      .dport = true,
				      .dport_lo = 443,
				      .dport_hi = 443,
				      .comment = handle,
				      .target = KW_T_RETURN};

		CHECK_OK(kw_ipt_chain_create(t, inst, &err), err);
		CHECK_OK(kw_ipt_append(t, inst, &own, &err), err);
		CHECK_OK(kw_ipt_append(t, inst, &dflt, &err), err);
		CHECK_OK(kw_ipt_insert(t, inst, 0, &out, &err), err);
		CHECK_OK(kw_ipt_insert(t, "w--forward", 1, &fwd, &err), err);
		CHECK_OK(kw_ipt_chain_create(t, log, &err), err);
		CHECK_OK(kw_ipt_append(t, log, &lg, &err), err);
		CHECK_OK(kw_ipt_append(t, log, &ret, &err), err);
	}
}

static void global_filter(void)
{
	struct kw_ipt *t = begin("filter");
	struct gdn_err *err = NULL;
	struct kw_rule acc = {.in_if = "eth0", .target = KW_T_ACCEPT}, drop = {.target = KW_T_DROP};

	CHECK_OK(kw_ipt_chain_create(t, "w--forward", &err), err);
	CHECK_OK(kw_ipt_chain_create(t, "w--default", &err), err);
	CHECK_OK(kw_ipt_append(t, "w--forward", &acc, &err), err);
	CHECK_OK(kw_ipt_append(t, "w--forward", &drop, &err), err);
	commit(t);
}

/* Timings (reported, not asserted): BulkNetOut's 3000 inserts and one commit; one container's
 * create against an empty table and against one of 200 containers (~1400 rules). */
static void test_timings(void)
{
	struct gdn_err *err = NULL;
	struct kw_rule out = {.proto = IPPROTO_TCP,
			      .dst_range = true,
			      .dport = true,
			      .comment = "handle-bulk",
			      .target = KW_T_GOTO,
			      .chain = "w--instance-00000000000-log"};
	struct kw_ipt *t;
	uint64_t t0, t1;
	double ins, all, empty, full, read_empty, read_full;

	enter_netns();
	global_filter();
	t = begin("filter");
	add_container(t, 0);
	commit(t);

	t0 = gdn_now_mono_ns();
	t = begin("filter");
	for (unsigned i = 0; i < 3000; i++) {
		out.dst_range_lo = NET(10, 0, 0, 0) + i;
		out.dst_range_hi = NET(10, 0, 0, 0) + i + 10;
		out.dport_lo = (uint16_t)(1000 + i);
		out.dport_hi = (uint16_t)(2000 + i);
		CHECK_OK(kw_ipt_insert(t, "w--instance-00000000000", 0, &out, &err), err);
	}
	t1 = gdn_now_mono_ns();
	commit(t);
	ins = (double)(t1 - t0) / 1e6;
	all = ms_since(t0);
	printf("# BulkNetOut: begin + 3000 inserts %.1f ms, + commit: %.1f ms total\n", ins, all);

	CHECK(unshare(CLONE_NEWNET) == 0);
	global_filter();
	t0 = gdn_now_mono_ns();
	t = begin("filter");
	kw_ipt_abort(t);
	read_empty = ms_since(t0);
	t0 = gdn_now_mono_ns();
	t = begin("filter");
	add_container(t, 0);
	commit(t);
	empty = ms_since(t0);
	t = begin("filter");
	CHECK(kw_ipt_chain_exists(t, "w--instance-00000000000-log")); /* it was written */
	kw_ipt_abort(t);

	CHECK(unshare(CLONE_NEWNET) == 0);
	global_filter();
	t = begin("filter");
	for (unsigned i = 0; i < 200; i++)
		add_container(t, i);
	commit(t);
	t0 = gdn_now_mono_ns();
	t = begin("filter");
	kw_ipt_abort(t);
	read_full = ms_since(t0);
	t0 = gdn_now_mono_ns();
	t = begin("filter");
	add_container(t, 200);
	commit(t);
	full = ms_since(t0);
	printf("# filter table, begin+abort: empty %.2f ms, 200 containers (1402 rules) %.2f ms\n",
	       read_empty, read_full);
	printf("# one container's filter rules, begin+commit: empty table %.2f ms, 200 containers "
	       "%.2f ms\n",
	       empty, full);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_shapes_print_as_iptables_save),
	    TEST(test_iptables_binary_prints_the_same),
	    TEST(test_entries_are_iptables_bytes),
	    TEST(test_has_rule_finds_iptables_rules),
	    TEST(test_has_rule_tells_rules_apart),
	    TEST(test_chain_create_flush_delete),
	    TEST(test_delete_jumps_and_commented),
	    TEST(test_insert_positions),
	    TEST(test_chains_listing),
	    TEST(test_abort_leaves_the_table),
	    TEST(test_errors),
	    TEST(test_format_other_rules),
	    TEST(test_lock_serialises),
	    TEST(test_lock_is_iptables_lock),
	    TEST(test_timings),
	};

	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
