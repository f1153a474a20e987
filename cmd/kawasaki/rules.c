/* A container's iptables rules (internals §11.7-11.9). Each request opens a table once, makes
 * all its changes and commits once: create is one nat and one filter commit whatever the number
 * of NetIn and NetOut rules in the spec, BulkNetOut one filter commit.
 *
 *   nat     w--instance-<id>       NetIn DNATs                  } made with the first NetIn
 *           w--prerouting          -j w--instance-<id>          }
 *           w--postrouting         -s <subnet> ! -d <subnet> MASQUERADE (one per subnet; unlike
 *                                  Garden's, removed with the subnet's last container)
 *   filter  w--instance-<id>       NetOut rules (inserted first); -s <subnet> -d <subnet> ACCEPT;
 *                                  -g w--default
 *           w--instance-<id>-log   NEW,UNTRACKED,INVALID LOG; RETURN (made with the first NetOut
 *                                  rule that logs)
 *           w--forward (at 2)      -i <bridge> -s <ip> -g w--instance-<id>
 * Every rule carries the handle as its comment.
 *
 * Garden makes the nat instance chain and the -log chain for every container. They are made
 * here only once they have work to do: a legacy table is replaced whole at every commit and the
 * kernel checks every entry again (xt_find_match per match, alloc_counters, copy-out), about
 * 3 us per entry on our machines, so the 7 entries a container without NetIn or logging rules
 * would carry for nothing made every later create pay for every earlier one (13 entries per
 * container become 6). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/buf.h"
#include "cmd/kawasaki/kawasaki.h"

#define LOG_PREFIX_HANDLE 28

static struct kw_rule commented(const struct kw_alloc *a, enum kw_target target)
{
	return (struct kw_rule){.comment = a->handle, .target = target};
}

void kw_dnat_rule(const struct kw_daemon *d, const struct kw_alloc *a, const struct kw_port *p,
		  struct kw_rule *r)
{
	*r = commented(a, KW_T_DNAT);
	r->dst = d->external_ip;
	r->dst_mask = 0xffffffff;
	r->proto = 6; /* IPPROTO_TCP: NetIn is TCP only, as in Garden */
	r->dport = true;
	r->dport_lo = r->dport_hi = p->host;
	r->dnat_ip = a->ip;
	r->dnat_port = p->container;
}

/* The nat instance chain and its w--prerouting jump, unless they are there. */
static int nat_chain_ensure(struct kw_daemon *d, struct kw_ipt *t, const struct kw_alloc *a,
			    const char *chain, struct gdn_err **err)
{
	struct kw_rule jump = commented(a, KW_T_JUMP);

	if (kw_ipt_chain_exists(t, chain))
		return 0;
	jump.chain = chain;
	int r = kw_ipt_chain_create(t, chain, err);
	return r < 0 ? r : kw_ipt_append(t, d->names.prerouting, &jump, err);
}

static int nat_create(struct kw_daemon *d, struct kw_ipt *t, const struct kw_alloc *a,
		      struct gdn_err **err)
{
	char chain[32];
	struct kw_rule masq = commented(a, KW_T_MASQUERADE);
	uint32_t mask = gdn_net_mask(a->subnet.prefix);
	int r = 0;

	kw_instance_chain(&d->names, a->id, chain);
	masq.src = masq.dst = a->subnet.network;
	masq.src_mask = masq.dst_mask = mask;
	masq.dst_neg = true;
	/* the subnet's first container makes its MASQUERADE rule; the others share it */
	if (a->masq && strcmp(a->masq, a->handle) == 0)
		r = kw_ipt_append(t, d->names.postrouting, &masq, err);
	if (r >= 0 && a->n_ports > 0)
		r = nat_chain_ensure(d, t, a, chain, err);
	for (size_t i = 0; r >= 0 && i < a->n_ports; i++) {
		struct kw_rule dnat;
		kw_dnat_rule(d, a, &a->ports[i], &dnat);
		r = kw_ipt_append(t, chain, &dnat, err);
	}
	return r;
}

/* The -log chain, unless it is there or none of `out`'s rules goes to it. */
static int log_chain_ensure(struct kw_ipt *t, const struct kw_alloc *a, const char *log_chain,
			    const struct kw_netout *out, struct gdn_err **err)
{
	char prefix[LOG_PREFIX_HANDLE + 2];
	struct kw_rule log = commented(a, KW_T_LOG);
	struct kw_rule ret = commented(a, KW_T_RETURN);
	bool wanted = false;

	for (size_t i = 0; out && i < out->n && !wanted; i++)
		wanted = out->rules[i].target == KW_T_GOTO && out->rules[i].chain &&
			 strcmp(out->rules[i].chain, log_chain) == 0;
	if (!wanted || kw_ipt_chain_exists(t, log_chain))
		return 0;
	log.ctstate = KW_CT_NEW | KW_CT_UNTRACKED | KW_CT_INVALID;
	(void)snprintf(prefix, sizeof(prefix), "%.*s ", LOG_PREFIX_HANDLE, a->handle);
	log.log_prefix = prefix;
	int r = kw_ipt_chain_create(t, log_chain, err);
	if (r >= 0)
		r = kw_ipt_append(t, log_chain, &log, err);
	if (r >= 0)
		r = kw_ipt_append(t, log_chain, &ret, err);
	return r;
}

/* NetOut rules go in at position 1 one after the other, so a later rule wins (as with
 * Garden's `iptables -I <chain> 1` per rule). */
static int insert_netout(struct kw_ipt *t, const char *chain, const struct kw_netout *out,
			 struct gdn_err **err)
{
	int r = 0;
	for (size_t i = 0; r >= 0 && out && i < out->n; i++)
		r = kw_ipt_insert(t, chain, 0, &out->rules[i], err);
	return r;
}

/* For each --dns-server, `-I w--input 1 -d <dns> -j ACCEPT` unless present (BulkOpen). */
static int dns_accepts(struct kw_daemon *d, struct kw_ipt *t, struct gdn_err **err)
{
	int r = 0;
	for (size_t i = 0; r >= 0 && i < d->cfg->n_dns; i++) {
		struct kw_rule acc = {
		    .dst = d->cfg->dns[i], .dst_mask = 0xffffffff, .target = KW_T_ACCEPT};
		if (!kw_ipt_has_rule(t, d->names.input, &acc))
			r = kw_ipt_insert(t, d->names.input, 0, &acc, err);
	}
	return r;
}

static int filter_create(struct kw_daemon *d, struct kw_ipt *t, const struct kw_alloc *a,
			 const struct kw_netout *out, struct gdn_err **err)
{
	char chain[32], log_chain[32];
	uint32_t mask = gdn_net_mask(a->subnet.prefix);
	struct kw_rule same_subnet = commented(a, KW_T_ACCEPT);
	struct kw_rule to_default = commented(a, KW_T_GOTO);
	struct kw_rule from_bridge = commented(a, KW_T_GOTO);

	kw_instance_chain(&d->names, a->id, chain);
	kw_log_chain(&d->names, a->id, log_chain);
	same_subnet.src = same_subnet.dst = a->subnet.network;
	same_subnet.src_mask = same_subnet.dst_mask = mask;
	to_default.chain = d->names.dflt;
	from_bridge.in_if = a->bridge;
	from_bridge.src = a->ip;
	from_bridge.src_mask = 0xffffffff;
	from_bridge.chain = chain;

	int r = kw_ipt_chain_create(t, chain, err);
	if (r >= 0)
		r = kw_ipt_append(t, chain, &same_subnet, err);
	if (r >= 0)
		r = kw_ipt_append(t, chain, &to_default, err);
	/* position 2 of w--forward: after the default interface's ACCEPT, before the DROP */
	if (r >= 0)
		r = kw_ipt_insert(t, d->names.forward, d->default_if[0] ? 1 : 0, &from_bridge, err);
	if (r >= 0)
		r = log_chain_ensure(t, a, log_chain, out, err);
	if (r >= 0)
		r = insert_netout(t, chain, out, err);
	if (r >= 0)
		r = dns_accepts(d, t, err);
	return r;
}

static int in_table(struct kw_daemon *d, const char *table,
		    int (*fn)(struct kw_daemon *, struct kw_ipt *, const void *, struct gdn_err **),
		    const void *arg, struct gdn_err **err)
{
	struct kw_ipt *t = NULL;
	int r = kw_ipt_begin(table, KW_IPT_LOCK_TIMEOUT_MS, &t, err);

	if (r < 0)
		return r;
	r = fn(d, t, arg, err);
	if (r < 0) {
		kw_ipt_abort(t);
		return r;
	}
	return kw_ipt_commit(t, err);
}

struct create_arg {
	const struct kw_alloc *a;
	const struct kw_netout *out;
};

static int nat_create_fn(struct kw_daemon *d, struct kw_ipt *t, const void *arg,
			 struct gdn_err **err)
{
	return nat_create(d, t, ((const struct create_arg *)arg)->a, err);
}

static int filter_create_fn(struct kw_daemon *d, struct kw_ipt *t, const void *arg,
			    struct gdn_err **err)
{
	const struct create_arg *c = arg;
	return filter_create(d, t, c->a, c->out, err);
}

int kw_rules_create(struct kw_daemon *d, const struct kw_alloc *a, const struct kw_netout *out,
		    struct gdn_err **err)
{
	struct create_arg c = {a, out};
	bool masq_owner = a->masq && strcmp(a->masq, a->handle) == 0;
	/* reading a table costs as much as replacing it: nat only when it has work */
	int r = masq_owner || a->n_ports > 0 ? in_table(d, "nat", nat_create_fn, &c, err) : 0;

	if (r >= 0)
		r = in_table(d, "filter", filter_create_fn, &c, err);
	return r;
}

struct destroy_arg {
	const struct kw_alloc *a;
	bool last;
};

static int nat_destroy_fn(struct kw_daemon *d, struct kw_ipt *t, const void *arg,
			  struct gdn_err **err)
{
	const struct destroy_arg *x = arg;
	char chain[32];

	kw_instance_chain(&d->names, x->a->id, chain);
	int r = kw_ipt_delete_jumps(t, d->names.prerouting, chain, err);
	if (r >= 0)
		r = kw_ipt_chain_delete(t, chain, err);
	if (r >= 0 && x->last && x->a->masq)
		r = kw_ipt_delete_commented(t, d->names.postrouting, x->a->masq, KW_T_MASQUERADE,
					    err);
	return r;
}

static int filter_destroy_fn(struct kw_daemon *d, struct kw_ipt *t, const void *arg,
			     struct gdn_err **err)
{
	const struct destroy_arg *x = arg;
	char chain[32], log_chain[32];

	kw_instance_chain(&d->names, x->a->id, chain);
	kw_log_chain(&d->names, x->a->id, log_chain);
	int r = kw_ipt_delete_jumps(t, d->names.forward, chain, err);
	if (r >= 0)
		r = kw_ipt_chain_flush(t, chain, err);
	if (r >= 0)
		r = kw_ipt_chain_delete(t, chain, err);
	if (r >= 0)
		r = kw_ipt_chain_delete(t, log_chain, err);
	return r;
}

int kw_rules_destroy(struct kw_daemon *d, const struct kw_alloc *a, bool last_of_subnet,
		     struct gdn_err **err)
{
	struct destroy_arg x = {a, last_of_subnet};
	int r = in_table(d, "nat", nat_destroy_fn, &x, err);

	if (r >= 0)
		r = in_table(d, "filter", filter_destroy_fn, &x, err);
	return r;
}

struct net_in_arg {
	const struct kw_alloc *a;
	const struct kw_port *p;
};

static int net_in_fn(struct kw_daemon *d, struct kw_ipt *t, const void *arg, struct gdn_err **err)
{
	const struct net_in_arg *x = arg;
	char chain[32];
	struct kw_rule dnat;

	kw_instance_chain(&d->names, x->a->id, chain);
	kw_dnat_rule(d, x->a, x->p, &dnat);
	int r = nat_chain_ensure(d, t, x->a, chain, err);
	return r < 0 ? r : kw_ipt_append(t, chain, &dnat, err);
}

int kw_rules_net_in(struct kw_daemon *d, const struct kw_alloc *a, const struct kw_port *p,
		    struct gdn_err **err)
{
	struct net_in_arg x = {a, p};
	return in_table(d, "nat", net_in_fn, &x, err);
}

struct net_out_arg {
	const struct kw_alloc *a;
	const struct kw_netout *out;
	bool dns;
};

static int net_out_fn(struct kw_daemon *d, struct kw_ipt *t, const void *arg, struct gdn_err **err)
{
	const struct net_out_arg *x = arg;
	char chain[32], log_chain[32];

	kw_instance_chain(&d->names, x->a->id, chain);
	kw_log_chain(&d->names, x->a->id, log_chain);
	if (!kw_ipt_chain_exists(t, chain))
		return gdn_err_set(err, ENOENT, "the chain '%s' of '%s' is missing", chain,
				   x->a->handle);
	int r = log_chain_ensure(t, x->a, log_chain, x->out, err);
	if (r >= 0)
		r = insert_netout(t, chain, x->out, err);
	if (r >= 0 && x->dns)
		r = dns_accepts(d, t, err);
	return r;
}

int kw_rules_net_out(struct kw_daemon *d, const struct kw_alloc *a, const struct kw_netout *out,
		     bool dns, struct gdn_err **err)
{
	struct net_out_arg x = {a, out, dns};
	return in_table(d, "filter", net_out_fn, &x, err);
}

/* Lines of a global chain's text that belong to the container. */
static void append_matching(struct gdn_buf *out, const char *text, const char *needle)
{
	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) + 1 : strlen(line);
		if (memmem(line, len, needle, strlen(needle)))
			(void)gdn_buf_append(out, line, len);
		line += len;
	}
}

static int format_table(struct kw_daemon *d, const char *table, const struct kw_alloc *a,
			const char *const *globals, json_t *out, struct gdn_err **err)
{
	struct kw_ipt *t = NULL;
	struct gdn_buf text = {0}, global = {0};
	char chain[32], log_chain[32], needle[64];
	int r = kw_ipt_begin(table, KW_IPT_LOCK_TIMEOUT_MS, &t, err);

	if (r < 0)
		return r;
	kw_instance_chain(&d->names, a->id, chain);
	kw_log_chain(&d->names, a->id, log_chain);
	(void)snprintf(needle, sizeof(needle), " %s", chain);
	for (size_t i = 0; r >= 0 && globals[i]; i++) {
		global.len = 0;
		r = kw_ipt_format_chain(t, globals[i], &global, err);
		if (r >= 0 && gdn_buf_append(&global, "", 1) >= 0) {
			append_matching(&text, global.data, needle);
			if (a->masq && strcmp(globals[i], d->names.postrouting) == 0) {
				char m[300];
				(void)snprintf(m, sizeof(m), "--comment %s ", a->masq);
				append_matching(&text, global.data, m);
			}
		}
	}
	if (r >= 0)
		r = kw_ipt_format_chain(t, chain, &text, err);
	if (r >= 0 && strcmp(table, "filter") == 0)
		r = kw_ipt_format_chain(t, log_chain, &text, err);
	kw_ipt_abort(t);
	if (r >= 0)
		json_object_set_new(out, table, json_stringn(text.data ? text.data : "", text.len));
	gdn_buf_free(&text);
	gdn_buf_free(&global);
	return r;
}

int kw_rules_format(struct kw_daemon *d, const struct kw_alloc *a, json_t *out,
		    struct gdn_err **err)
{
	const char *filter[] = {d->names.forward, NULL};
	const char *nat[] = {d->names.prerouting, d->names.postrouting, NULL};
	int r = format_table(d, "filter", a, filter, out, err);

	if (r >= 0)
		r = format_table(d, "nat", a, nat, out, err);
	return r;
}

/* cleanup: instance chains of no allocation (containers whose create or destroy was cut short
 * before kawasaki kept a record, or whose record was removed by hand). */
struct orphan_walk {
	struct kw_daemon *d;
	struct kw_name_list list;
};

static void collect_orphan(const char *chain, void *arg)
{
	struct orphan_walk *w = arg;
	const char *id = chain + strlen(w->d->names.instance_prefix);

	if (strlen(id) < KW_INSTANCE_ID_LEN)
		return;
	for (struct kw_alloc *a = w->d->allocs; a; a = a->next)
		if (strncmp(a->id, id, KW_INSTANCE_ID_LEN) == 0)
			return;
	kw_name_list_add(&w->list, chain);
}

struct orphans_arg {
	const char *jumps_from; /* the global chain that jumps to instance chains */
	json_t *removed;
};

static int orphans_fn(struct kw_daemon *d, struct kw_ipt *t, const void *arg, struct gdn_err **err)
{
	const struct orphans_arg *x = arg;
	struct orphan_walk w = {.d = d};
	struct kw_name_list *l = &w.list;
	int r = 0;

	kw_ipt_chains(t, d->names.instance_prefix, collect_orphan, &w);
	if (l->oom)
		r = gdn_err_set(err, ENOMEM, "list the instance chains");
	for (size_t i = 0; r >= 0 && i < l->n; i++) {
		r = kw_ipt_delete_jumps(t, x->jumps_from, l->names[i], err);
		if (r >= 0)
			r = kw_ipt_chain_flush(t, l->names[i], err);
	}
	for (size_t i = 0; r >= 0 && i < l->n; i++) {
		r = kw_ipt_chain_delete(t, l->names[i], err);
		json_array_append_new(x->removed, json_string(l->names[i]));
	}
	kw_name_list_free(l);
	return r;
}

int kw_rules_orphans(struct kw_daemon *d, json_t *removed, struct gdn_err **err)
{
	struct orphans_arg nat = {d->names.prerouting, removed};
	struct orphans_arg filter = {d->names.forward, removed};
	int r = in_table(d, "nat", orphans_fn, &nat, err);

	if (r >= 0)
		r = in_table(d, "filter", orphans_fn, &filter, err);
	return r;
}
