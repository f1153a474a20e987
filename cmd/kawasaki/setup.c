/* The global chains (internals §11.6), written as guardian's iptables starter writes them but
 * with one libiptc commit per table instead of ~40 iptables invocations:
 *
 *   filter  w--input    -i <default-if> ACCEPT; ESTABLISHED,RELATED ACCEPT; then REJECT
 *                       (icmp-host-prohibited), or ACCEPT with --allow-host-access
 *           INPUT -i w+ -j w--input
 *           w--forward  -i <default-if> ACCEPT; (instance gotos); DROP
 *           w--default  ESTABLISHED,RELATED ACCEPT; -d <deny> REJECT for each --deny-network
 *           FORWARD -i w+ -j w--forward
 *   nat     PREROUTING -j w--prerouting; OUTPUT -o lo -j w--prerouting;
 *           POSTROUTING -j w--postrouting
 *
 * Like Garden, the set-up (which first tears down every instance chain) runs only when
 * w--input is missing: after a reboot or on a new host. w--default is rebuilt at every start,
 * so --deny-network changes reach existing containers. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cmd/kawasaki/kawasaki.h"

static void collect(const char *chain, void *arg)
{
	kw_name_list_add(arg, chain);
}

/* Flushes and deletes every chain of the table whose name starts with prefix. */
static int drop_instance_chains(struct kw_ipt *t, const char *prefix, struct gdn_err **err)
{
	struct kw_name_list l = {0};
	int r = 0;

	kw_ipt_chains(t, prefix, collect, &l);
	if (l.oom)
		r = gdn_err_set(err, ENOMEM, "list the chains '%s*'", prefix);
	for (size_t i = 0; r >= 0 && i < l.n; i++)
		r = kw_ipt_chain_flush(t, l.names[i], err);
	for (size_t i = 0; r >= 0 && i < l.n; i++)
		r = kw_ipt_chain_delete(t, l.names[i], err);
	kw_name_list_free(&l);
	return r;
}

static int teardown_filter(const struct kw_names *n, struct kw_ipt *t, struct gdn_err **err);
static int teardown_nat(const struct kw_names *n, struct kw_ipt *t, struct gdn_err **err);

static int hook(struct kw_ipt *t, const char *chain, const char *in_if, const char *out_if,
		const char *target, struct gdn_err **err)
{
	struct kw_rule r = {.in_if = in_if, .out_if = out_if, .target = KW_T_JUMP, .chain = target};

	if (kw_ipt_has_rule(t, chain, &r))
		return 0;
	return kw_ipt_append(t, chain, &r, err);
}

static int setup_filter(struct kw_daemon *d, struct kw_ipt *t, struct gdn_err **err)
{
	const struct kw_names *n = &d->names;
	char wildcard[8];
	struct kw_rule from_default = {.in_if = d->default_if, .target = KW_T_ACCEPT};
	struct kw_rule drop = {.target = KW_T_DROP};
	int r;

	(void)snprintf(wildcard, sizeof(wildcard), "%s+", n->if_prefix);
	/* what an older set-up left: every chain and hook of ours, instance chains included */
	r = teardown_filter(n, t, err);
	if (r >= 0)
		r = kw_ipt_chain_create(t, n->input, err);
	if (r >= 0)
		r = hook(t, "INPUT", wildcard, NULL, n->input, err);
	if (r >= 0)
		r = kw_ipt_chain_create(t, n->forward, err);
	if (r >= 0 && d->default_if[0])
		r = kw_ipt_append(t, n->forward, &from_default, err);
	if (r >= 0)
		r = kw_ipt_append(t, n->forward, &drop, err);
	if (r >= 0)
		r = kw_ipt_chain_create(t, n->dflt, err);
	if (r >= 0)
		r = hook(t, "FORWARD", wildcard, NULL, n->forward, err);
	return r;
}

/* w--input from the flags, at every start (Garden writes it only with the global set-up, so
 * a changed --allow-host-access or --dns-server waits for a reboot there). */
static int reset_input(struct kw_daemon *d, struct kw_ipt *t, struct gdn_err **err)
{
	const struct kw_names *n = &d->names;
	struct kw_rule established = {.ctstate = KW_CT_ESTABLISHED | KW_CT_RELATED,
				      .target = KW_T_ACCEPT};
	struct kw_rule from_default = {.in_if = d->default_if, .target = KW_T_ACCEPT};
	struct kw_rule last_input = {.target =
					 d->cfg->allow_host_access ? KW_T_ACCEPT : KW_T_REJECT,
				     .reject_with = KW_REJECT_HOST_PROHIBITED};
	int r = kw_ipt_chain_flush(t, n->input, err);

	for (size_t i = 0; r >= 0 && i < d->cfg->n_dns; i++) {
		struct kw_rule acc = {
		    .dst = d->cfg->dns[i], .dst_mask = 0xffffffff, .target = KW_T_ACCEPT};
		r = kw_ipt_append(t, n->input, &acc, err);
	}
	if (r >= 0 && d->default_if[0])
		r = kw_ipt_append(t, n->input, &from_default, err);
	if (r >= 0)
		r = kw_ipt_append(t, n->input, &established, err);
	if (r >= 0)
		r = kw_ipt_append(t, n->input, &last_input, err);
	return r;
}

static int reset_default(struct kw_daemon *d, struct kw_ipt *t, struct gdn_err **err)
{
	struct kw_rule established = {.ctstate = KW_CT_ESTABLISHED | KW_CT_RELATED,
				      .target = KW_T_ACCEPT};
	int r = kw_ipt_chain_flush(t, d->names.dflt, err);

	if (r >= 0)
		r = kw_ipt_append(t, d->names.dflt, &established, err);
	for (size_t i = 0; r >= 0 && i < d->cfg->n_deny; i++) {
		const struct gdn_cidr *c = &d->cfg->deny[i];
		struct kw_rule deny = {
		    .dst = c->network, .dst_mask = gdn_net_mask(c->prefix), .target = KW_T_REJECT};
		r = kw_ipt_append(t, d->names.dflt, &deny, err);
	}
	return r;
}

static int setup_nat(struct kw_daemon *d, struct kw_ipt *t, struct gdn_err **err)
{
	const struct kw_names *n = &d->names;
	/* like Garden's: the instance chains and the MASQUERADE rules go */
	int r = teardown_nat(n, t, err);

	if (r >= 0)
		r = kw_ipt_chain_create(t, n->prerouting, err);
	if (r >= 0)
		r = kw_ipt_chain_create(t, n->postrouting, err);
	if (r >= 0)
		r = hook(t, "PREROUTING", NULL, NULL, n->prerouting, err);
	if (r >= 0)
		r = hook(t, "OUTPUT", NULL, "lo", n->prerouting, err);
	if (r >= 0)
		r = hook(t, "POSTROUTING", NULL, NULL, n->postrouting, err);
	return r;
}

static int enable_forwarding(struct gdn_err **err)
{
	_cleanup_close_ int fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, "1\n", 2) != 2)
		return gdn_err_set(err, errno, "enable IPv4 forwarding");
	return 0;
}

/* The filter table in one commit: the global set-up when w--input is missing, then the chains
 * rebuilt from the flags at every start. */
static int setup_filter_table(struct kw_daemon *d, bool *ret_full, struct gdn_err **err)
{
	struct kw_ipt *t = NULL;
	int r = kw_ipt_begin("filter", KW_IPT_LOCK_TIMEOUT_MS, &t, err);

	if (r < 0)
		return r;
	*ret_full = !kw_ipt_chain_exists(t, d->names.input);
	if (*ret_full) {
		gdn_log_info(d->log, "setup.global-chains", "chain", d->names.input, NULL);
		r = setup_filter(d, t, err);
	}
	if (r >= 0)
		r = reset_input(d, t, err);
	if (r >= 0)
		r = reset_default(d, t, err);
	if (r < 0) {
		kw_ipt_abort(t);
		return gdn_err_wrap(err, "set up the filter table");
	}
	return kw_ipt_commit(t, err);
}

static int setup_nat_table(struct kw_daemon *d, struct gdn_err **err)
{
	struct kw_ipt *t = NULL;
	int r = kw_ipt_begin("nat", KW_IPT_LOCK_TIMEOUT_MS, &t, err);

	if (r < 0)
		return r;
	if (setup_nat(d, t, err) < 0) {
		kw_ipt_abort(t);
		return gdn_err_wrap(err, "set up the nat table");
	}
	return kw_ipt_commit(t, err);
}

int kw_setup_host(struct kw_daemon *d, struct gdn_err **err)
{
	bool full = false;
	int r = setup_filter_table(d, &full, err);

	if (r >= 0 && full)
		r = setup_nat_table(d, err);
	if (r >= 0)
		r = enable_forwarding(err);
	return r;
}

/* ---- teardown ------------------------------------------------------------------------------ */

static int teardown_filter(const struct kw_names *n, struct kw_ipt *t, struct gdn_err **err)
{
	int r = kw_ipt_chain_flush(t, n->forward, err);

	if (r >= 0)
		r = kw_ipt_chain_flush(t, n->input, err);
	if (r >= 0)
		r = kw_ipt_chain_flush(t, n->dflt, err);
	if (r >= 0)
		r = drop_instance_chains(t, n->instance_prefix, err);
	if (r >= 0)
		r = kw_ipt_delete_jumps(t, "INPUT", n->input, err);
	if (r >= 0)
		r = kw_ipt_delete_jumps(t, "FORWARD", n->forward, err);
	if (r >= 0)
		r = kw_ipt_chain_delete(t, n->input, err);
	if (r >= 0)
		r = kw_ipt_chain_delete(t, n->forward, err);
	if (r >= 0)
		r = kw_ipt_chain_delete(t, n->dflt, err);
	return r;
}

static int teardown_nat(const struct kw_names *n, struct kw_ipt *t, struct gdn_err **err)
{
	int r = kw_ipt_chain_flush(t, n->prerouting, err);

	if (r >= 0)
		r = kw_ipt_chain_flush(t, n->postrouting, err);
	if (r >= 0)
		r = drop_instance_chains(t, n->instance_prefix, err);
	if (r >= 0)
		r = kw_ipt_delete_jumps(t, "PREROUTING", n->prerouting, err);
	if (r >= 0)
		r = kw_ipt_delete_jumps(t, "OUTPUT", n->prerouting, err);
	if (r >= 0)
		r = kw_ipt_delete_jumps(t, "POSTROUTING", n->postrouting, err);
	if (r >= 0)
		r = kw_ipt_chain_delete(t, n->prerouting, err);
	if (r >= 0)
		r = kw_ipt_chain_delete(t, n->postrouting, err);
	return r;
}

struct link_walk {
	const struct kw_names *n;
	struct kw_name_list list;
};

static void collect_link(const char *name, void *arg)
{
	struct link_walk *w = arg;
	bool bridge;

	if (kw_link_is_ours(w->n, name, &bridge))
		kw_name_list_add(&w->list, name);
}

static int teardown_table(const struct kw_names *n, const char *table,
			  int (*fn)(const struct kw_names *, struct kw_ipt *, struct gdn_err **),
			  struct gdn_err **err)
{
	struct kw_ipt *t = NULL;
	int r = kw_ipt_begin(table, KW_IPT_LOCK_TIMEOUT_MS, &t, err);

	if (r < 0)
		return r;
	if (fn(n, t, err) < 0) {
		kw_ipt_abort(t);
		return gdn_err_wrap(err, "tear down the %s table", table);
	}
	return kw_ipt_commit(t, err);
}

int kw_teardown_host(const struct kw_names *n, struct kw_nl *nl, struct gdn_err **err)
{
	int r = teardown_table(n, "filter", teardown_filter, err);

	if (r >= 0)
		r = teardown_table(n, "nat", teardown_nat, err);
	if (r < 0)
		return r;
	struct link_walk w = {.n = n};
	r = kw_links_each(nl, n->if_prefix, collect_link, &w, err);
	if (r >= 0 && w.list.oom)
		r = gdn_err_set(err, ENOMEM, "list the links");
	for (size_t i = 0; r >= 0 && i < w.list.n; i++)
		r = kw_link_delete(nl, w.list.names[i], err);
	kw_name_list_free(&w.list);
	return r;
}
