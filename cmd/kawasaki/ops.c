/* kawasaki's requests (kawasaki(8)): prepare, up, down, net-in, net-out, bulk-net-out, and the
 * admin requests list, rules, cleanup, capacity.
 *
 * Order of every change: allocate in memory, record (the state file), then the kernel (one
 * commit per table, then the links); undo in the reverse order. So a crash leaves at most a record
 * whose kernel objects are partly made, which down and cleanup remove, and never kernel objects or
 * pool entries without a record. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "lib/buf.h"
#include "lib/path.h"
#include "lib/util.h"
#include "cmd/kawasaki/kawasaki.h"
#include "cmd/kawasaki/netout.h"

static const char *str_member(const json_t *req, const char *key)
{
	const char *s = json_string_value(json_object_get(req, key));
	return s ? s : "";
}

static int req_handle(const json_t *req, const char **ret, struct gdn_err **err)
{
	*ret = str_member(req, "handle");
	return gdn_name_validate("handle", *ret, err);
}

static int lookup(struct kw_daemon *d, const json_t *req, struct kw_alloc **ret,
		  struct gdn_err **err)
{
	const char *handle;
	int r = req_handle(req, &handle, err);

	if (r < 0)
		return r;
	*ret = kw_alloc_find(d, handle);
	if (!*ret)
		return gdn_err_set(err, ENOENT, "no network is set up for '%s'", handle);
	return 0;
}

char *kw_mapped_ports_json(const struct kw_alloc *a)
{
	json_auto_t *list = json_array();

	for (size_t i = 0; list && i < a->n_ports; i++)
		json_array_append_new(list, json_pack("{s:i,s:i}", "HostPort", a->ports[i].host,
						      "ContainerPort", a->ports[i].container));
	return list ? json_dumps(list, JSON_COMPACT) : NULL;
}

json_t *kw_alloc_properties(const struct kw_daemon *d, const struct kw_alloc *a)
{
	char ip[GDN_NET_IPV4_STRLEN], gw[GDN_NET_IPV4_STRLEN], ext[GDN_NET_IPV4_STRLEN];
	char subnet[GDN_NET_CIDR_STRLEN], mtu[16], prefix[32];
	struct gdn_buf dns = {0};
	_cleanup_free_ char *ports = kw_mapped_ports_json(a);
	/* the chain prefix w-<tag>- is the instance prefix without "instance-" */
	size_t n = strlen(d->names.instance_prefix) - strlen("instance-");

	(void)snprintf(prefix, sizeof(prefix), "%.*s", (int)n, d->names.instance_prefix);
	for (size_t i = 0; i < d->cfg->n_dns; i++) {
		char s[GDN_NET_IPV4_STRLEN];
		(void)gdn_buf_printf(&dns, "%s%s", i ? ", " : "",
				     gdn_net_ipv4_str(d->cfg->dns[i], s));
	}
	(void)snprintf(mtu, sizeof(mtu), "%u", a->mtu);
	json_t *p = json_pack(
	    "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s#}", "garden.network.container-ip",
	    gdn_net_ipv4_str(a->ip, ip), "garden.network.host-ip",
	    gdn_net_ipv4_str(a->subnet.network + 1, gw), "garden.network.external-ip",
	    gdn_net_ipv4_str(d->external_ip, ext), "kawasaki.host-interface", a->host_if,
	    "kawasaki.container-interface", a->container_if, "kawasaki.bridge-interface", a->bridge,
	    "kawasaki.subnet", gdn_net_cidr_str(&a->subnet, subnet), "kawasaki.iptable-prefix",
	    prefix, "kawasaki.iptable-inst", a->id, "kawasaki.mtu", mtu, "kawasaki.dns-servers",
	    dns.data ? dns.data : "", dns.len);
	gdn_buf_free(&dns);
	if (p && a->n_ports && ports)
		json_object_set_new(p, "garden.network.mapped-ports", json_string(ports));
	return p;
}

/* ---- up ------------------------------------------------------------------------------------ */

static int parse_port(const json_t *v, const char *what, uint16_t *ret, struct gdn_err **err)
{
	json_int_t n = v ? json_integer_value(v) : 0;

	if ((v && !json_is_integer(v)) || n < 0 || n > 65535)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "invalid %s: %s", what,
				    v ? "must be a port number from 0 to 65535" : "");
	*ret = (uint16_t)n;
	return 0;
}

/* Chooses the ports of one NetIn (internals §11.8): host 0 takes the pool's next port,
 * container 0 is the host port. */
static int choose_ports(struct kw_daemon *d, uint16_t host, uint16_t container, struct kw_port *ret,
			struct gdn_err **err)
{
	int r;
	bool pooled = false;

	if (host == 0) {
		r = kw_pool_port_acquire(d->pool, &host, err);
		pooled = true;
	} else {
		r = kw_pool_port_take(d->pool, host, err);
		pooled = r > 0;
	}
	if (r < 0)
		return r;
	*ret = (struct kw_port){host, container ? container : host, pooled};
	return 0;
}

static void release_ports(struct kw_daemon *d, struct kw_alloc *a)
{
	for (size_t i = 0; i < a->n_ports; i++)
		if (a->ports[i].pooled)
			kw_pool_port_release(d->pool, a->ports[i].host);
}

static int add_ports(struct kw_daemon *d, struct kw_alloc *a, const json_t *netin,
		     struct gdn_err **err)
{
	size_t n = json_array_size(netin);

	if (netin && !json_is_array(netin))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "invalid netin: not a list");
	if (n > KW_MAX_PORTS)
		return gdn_err_kind(err, GDN_ERR_GENERIC, E2BIG, "at most %d NetIn mappings",
				    KW_MAX_PORTS);
	if (n == 0)
		return 0;
	a->ports = calloc(n, sizeof(*a->ports));
	if (!a->ports)
		return gdn_err_set(err, ENOMEM, "netin");
	for (size_t i = 0; i < n; i++) {
		const json_t *m = json_array_get(netin, i);
		uint16_t host = 0, container = 0;
		int r = parse_port(json_object_get(m, "host_port"), "host_port", &host, err);
		if (r >= 0)
			r = parse_port(json_object_get(m, "container_port"), "container_port",
				       &container, err);
		if (r >= 0)
			r = choose_ports(d, host, container, &a->ports[a->n_ports], err);
		if (r < 0)
			return r;
		a->n_ports++;
	}
	return 0;
}

static bool has_pooled_port(const struct kw_alloc *a)
{
	for (size_t i = 0; i < a->n_ports; i++)
		if (a->ports[i].pooled)
			return true;
	return false;
}

static int translate_all(const json_t *rules, const char *handle, const char *log_chain,
			 struct kw_netout *out, struct gdn_err **err)
{
	if (rules && !json_is_array(rules))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "invalid netout rules: not a list");
	for (size_t i = 0; i < json_array_size(rules); i++) {
		int r = kw_netout_translate(json_array_get(rules, i), handle, log_chain, out, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool id_in_use(struct kw_daemon *d, const char *id)
{
	for (struct kw_alloc *a = d->allocs; a; a = a->next)
		if (strcmp(a->id, id) == 0)
			return true;
	return false;
}

static struct kw_alloc *subnet_peer(struct kw_daemon *d, const struct kw_alloc *self)
{
	for (struct kw_alloc *a = d->allocs; a; a = a->next)
		if (a != self && a->subnet.network == self->subnet.network &&
		    a->subnet.prefix == self->subnet.prefix)
			return a;
	return NULL;
}

/* Removes what the allocation names from the kernel (whatever part of it exists). */
static int teardown(struct kw_daemon *d, struct kw_alloc *a, struct gdn_err **err)
{
	bool last = !subnet_peer(d, a);
	int r = kw_rules_destroy(d, a, last, err);

	if (r >= 0)
		r = kw_link_delete(d->nl, a->host_if, err);
	if (r >= 0 && last)
		r = kw_link_delete(d->nl, a->bridge, err);
	return r;
}

/* Forgets a torn-down allocation: pools, record, list. */
static int forget(struct kw_daemon *d, struct kw_alloc *a, struct gdn_err **err)
{
	int r = kw_store_remove(d, a->handle, err);
	if (r < 0)
		return r;
	kw_pool_release(d->pool, &a->subnet, a->ip);
	release_ports(d, a);
	kw_alloc_unlink(d, a);
	kw_alloc_free(a);
	return 0;
}

static void log_timing(struct kw_daemon *d, const char *what, const char *handle, uint64_t t0)
{
	char us[24];

	(void)snprintf(us, sizeof(us), "%llu", (unsigned long long)(gdn_now_mono_ns() - t0) / 1000);
	gdn_log_debug(d->log, "up.timing", "handle", handle, what, us, NULL);
}

static int links_up(struct kw_daemon *d, struct kw_alloc *a, int netns_fd, struct gdn_err **err)
{
	struct kw_link_config lc = {
	    .bridge = a->bridge,
	    .host_if = a->host_if,
	    .container_if = a->container_if,
	    .gateway = a->subnet.network + 1,
	    .container_ip = a->ip,
	    .prefix = a->subnet.prefix,
	    .mtu = a->mtu,
	    .netns_fd = netns_fd,
	};
	uint64_t t0 = gdn_now_mono_ns();
	int r = kw_links_up(d->nl, &lc, err);

	log_timing(d, "links_us", a->handle, t0);
	return r;
}

static void undo(struct kw_daemon *d, struct kw_alloc *a, const char *what, struct gdn_err **err)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	_cleanup_free_ char *handle = strdup(a->handle);

	gdn_log_error(d->log, what, err ? *err : NULL, "handle", handle ? handle : "", NULL);
	if (teardown(d, a, &e) < 0 || forget(d, a, &e) < 0)
		gdn_log_error(d->log, "up.undo-failed", e, "handle", handle ? handle : "", NULL);
}

/* Whether the namespace at `fd` is kawasaki's own: a container's end would then be moved into
 * the host's namespace and given its default route (as a client that opened /proc/PID/ns/net
 * before PID had unshared would ask). */
static bool own_netns(int fd)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && stat("/proc/self/ns/net", &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

/* Allocates (subnet, IP, ports, names), records it, and commits its rules; no links yet.
 * Nothing of it needs the container's namespace, so guardian asks for it while the runtime
 * is still creating the container: the table commits, whose cost grows with the number of
 * containers, then run beside the runtime instead of after it. */
static int prepare(struct kw_daemon *d, const json_t *req, const char *handle,
		   struct kw_alloc **ret, struct gdn_err **err)
{
	struct kw_netout out = {0};
	char id[KW_INSTANCE_ID_LEN + 1], log_chain[32];
	struct kw_alloc *a = NULL;
	int r;

	if (kw_alloc_find(d, handle))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EEXIST,
				    "the network of '%s' is already set up", handle);
	do
		kw_instance_id(++d->next_id, id);
	while (id_in_use(d, id));
	kw_log_chain(&d->names, id, log_chain);

	a = calloc(1, sizeof(*a));
	if (!a || !(a->handle = strdup(handle))) {
		free(a);
		return gdn_err_set(err, ENOMEM, "up '%s'", handle);
	}
	/* everything that can be refused is checked before anything is allocated */
	r = translate_all(json_object_get(req, "netout_rules"), a->handle, log_chain, &out, err);
	if (r >= 0)
		r = kw_pool_acquire(d->pool, str_member(req, "network"), &a->subnet, &a->ip, err);
	if (r < 0) {
		kw_netout_free(&out);
		kw_alloc_free(a);
		return r;
	}
	kw_alloc_names(&d->names, a, id);
	a->mtu = d->mtu;
	struct kw_alloc *peer = subnet_peer(d, a);
	a->masq = strdup(peer && peer->masq ? peer->masq : handle);
	r = a->masq ? add_ports(d, a, json_object_get(req, "netin"), err)
		    : gdn_err_set(err, ENOMEM, "up");
	if (r < 0) {
		kw_pool_release(d->pool, &a->subnet, a->ip);
		release_ports(d, a);
		kw_netout_free(&out);
		kw_alloc_free(a);
		return r;
	}
	a->next = d->allocs;
	d->allocs = a;
	d->n_allocs++;

	r = kw_store_save(d, a, err);
	/* the rotation moved only if a port came from the pool */
	if (r >= 0 && has_pooled_port(a))
		r = kw_store_save_cursor(d, err);
	uint64_t t0 = gdn_now_mono_ns();
	if (r >= 0)
		r = kw_rules_create(d, a, &out, err);
	log_timing(d, "rules_us", handle, t0);
	kw_netout_free(&out);
	if (r < 0) {
		undo(d, a, "up.failed-undoing", err);
		return r;
	}
	*ret = a;
	return 0;
}

/* The rules of a record replayed at start-up whose links were never made: a prepare that the
 * previous kawasaki may not have finished. Its tables are made again from the record (subnet,
 * ports) and the request (NetOut), whatever part of them exists. */
static int recommit_rules(struct kw_daemon *d, struct kw_alloc *a, const json_t *req,
			  struct gdn_err **err)
{
	struct kw_netout out = {0};
	char log_chain[32];

	kw_log_chain(&d->names, a->id, log_chain);
	int r =
	    translate_all(json_object_get(req, "netout_rules"), a->handle, log_chain, &out, err);
	if (r >= 0)
		r = kw_rules_destroy(d, a, !subnet_peer(d, a), err);
	if (r >= 0)
		r = kw_rules_create(d, a, &out, err);
	kw_netout_free(&out);
	if (r < 0)
		undo(d, a, "up.failed-undoing", err);
	return r;
}

int kw_op_prepare(struct kw_daemon *d, const json_t *req, json_t *reply, struct gdn_err **err)
{
	const char *handle;
	struct kw_alloc *a = NULL;
	int r = req_handle(req, &handle, err);

	if (r >= 0)
		r = prepare(d, req, handle, &a, err);
	if (r < 0)
		return r;
	a->awaiting_links = true;
	json_object_set_new(reply, "properties", kw_alloc_properties(d, a));
	gdn_log_info(d->log, "prepared", "handle", handle, NULL);
	return 0;
}

/* The links into the namespace passed: of the allocation this process's prepare made, of one
 * replayed from its record, or of a new one, made here as prepare makes it. */
int kw_op_up(struct kw_daemon *d, const json_t *req, int netns_fd, json_t *reply,
	     struct gdn_err **err)
{
	const char *handle;
	int r = req_handle(req, &handle, err);

	if (r < 0)
		return r;
	if (netns_fd < 0)
		return gdn_err_set(err, EINVAL, "up '%s': no network namespace was passed", handle);
	if (own_netns(netns_fd))
		return gdn_err_set(err, EINVAL,
				   "up '%s': the network namespace passed is kawasaki's own, not a "
				   "container's",
				   handle);
	struct kw_alloc *a = kw_alloc_find(d, handle);
	if (a && !a->awaiting_links && kw_link_exists(d->nl, a->host_if))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EEXIST,
				    "the network of '%s' is already set up", handle);
	if (!a)
		r = prepare(d, req, handle, &a, err);
	else if (!a->awaiting_links)
		r = recommit_rules(d, a, req, err);
	if (r < 0)
		return r;
	r = links_up(d, a, netns_fd, err);
	if (r < 0) {
		undo(d, a, "up.failed-undoing", err);
		return r;
	}
	a->awaiting_links = false;
	json_object_set_new(reply, "properties", kw_alloc_properties(d, a));
	gdn_log_info(d->log, "up", "handle", handle, "host_if", a->host_if, NULL);
	return 0;
}

/* ---- down, net-in, net-out ------------------------------------------------------------------ */

int kw_op_down(struct kw_daemon *d, const json_t *req, json_t *reply, struct gdn_err **err)
{
	const char *handle;
	int r = req_handle(req, &handle, err);

	(void)reply;
	if (r < 0)
		return r;
	struct kw_alloc *a = kw_alloc_find(d, handle);
	if (!a)
		return 0; /* as Garden: a container without a network is torn down already */
	r = teardown(d, a, err);
	if (r >= 0)
		r = forget(d, a, err);
	if (r < 0)
		return gdn_err_wrap(err, "down '%s'", handle);
	gdn_log_info(d->log, "down", "handle", handle, NULL);
	return 0;
}

int kw_op_net_in(struct kw_daemon *d, const json_t *req, json_t *reply, struct gdn_err **err)
{
	struct kw_alloc *a;
	uint16_t host = 0, container = 0;
	struct kw_port p;
	int r = lookup(d, req, &a, err);

	if (r >= 0)
		r = parse_port(json_object_get(req, "host_port"), "host_port", &host, err);
	if (r >= 0)
		r = parse_port(json_object_get(req, "container_port"), "container_port", &container,
			       err);
	if (r >= 0 && a->n_ports >= KW_MAX_PORTS)
		r = gdn_err_kind(err, GDN_ERR_GENERIC, E2BIG, "at most %d NetIn mappings",
				 KW_MAX_PORTS);
	if (r >= 0)
		r = choose_ports(d, host, container, &p, err);
	if (r < 0)
		return r;
	struct kw_port *ports = reallocarray(a->ports, a->n_ports + 1, sizeof(*ports));
	if (!ports) {
		if (p.pooled)
			kw_pool_port_release(d->pool, p.host);
		return gdn_err_set(err, ENOMEM, "net-in");
	}
	a->ports = ports;
	a->ports[a->n_ports++] = p;
	r = kw_store_save(d, a, err);
	if (r >= 0 && p.pooled)
		r = kw_store_save_cursor(d, err);
	if (r >= 0)
		r = kw_rules_net_in(d, a, &p, err);
	if (r < 0) {
		a->n_ports--;
		if (p.pooled)
			kw_pool_port_release(d->pool, p.host);
		(void)kw_store_save(d, a, NULL);
		return r;
	}
	_cleanup_free_ char *mapped = kw_mapped_ports_json(a);
	json_object_set_new(reply, "host_port", json_integer(p.host));
	json_object_set_new(reply, "container_port", json_integer(p.container));
	if (mapped)
		json_object_set_new(reply, "mapped_ports", json_string(mapped));
	return 0;
}

static int net_out(struct kw_daemon *d, const json_t *req, const json_t *rules, bool bulk,
		   struct gdn_err **err)
{
	struct kw_alloc *a;
	struct kw_netout out = {0};
	char log_chain[32];
	int r = lookup(d, req, &a, err);

	if (r < 0)
		return r;
	kw_log_chain(&d->names, a->id, log_chain);
	if (bulk)
		r = translate_all(rules, a->handle, log_chain, &out, err);
	else
		r = kw_netout_translate(rules, a->handle, log_chain, &out, err);
	if (r >= 0)
		r = kw_rules_net_out(d, a, &out, bulk, err);
	kw_netout_free(&out);
	return r;
}

int kw_op_net_out(struct kw_daemon *d, const json_t *req, json_t *reply, struct gdn_err **err)
{
	const json_t *rule = json_object_get(req, "rule");
	(void)reply;
	if (!json_is_object(rule))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "net-out: no rule given");
	return net_out(d, req, rule, false, err);
}

int kw_op_bulk_net_out(struct kw_daemon *d, const json_t *req, json_t *reply, struct gdn_err **err)
{
	(void)reply;
	return net_out(d, req, json_object_get(req, "rules"), true, err);
}

/* ---- admin ---------------------------------------------------------------------------------- */

int kw_op_list(struct kw_daemon *d, const json_t *req, json_t *reply, struct gdn_err **err)
{
	json_t *list = json_array();

	(void)req;
	if (!list)
		return gdn_err_set(err, ENOMEM, "list");
	for (struct kw_alloc *a = d->allocs; a; a = a->next)
		json_array_append_new(list, kw_alloc_to_json(a));
	json_object_set_new(reply, "containers", list);
	return 0;
}

int kw_op_rules(struct kw_daemon *d, const json_t *req, json_t *reply, struct gdn_err **err)
{
	struct kw_alloc *a;
	int r = lookup(d, req, &a, err);
	return r < 0 ? r : kw_rules_format(d, a, reply, err);
}

int kw_op_capacity(struct kw_daemon *d, const json_t *req, json_t *reply, struct gdn_err **err)
{
	(void)req;
	(void)err;
	json_object_set_new(reply, "max_containers",
			    json_integer((json_int_t)kw_pool_capacity(d->pool)));
	json_object_set_new(reply, "allocated", json_integer((json_int_t)d->n_allocs));
	return 0;
}

static bool kept(const json_t *keep, const char *handle)
{
	size_t i;
	json_t *v;
	json_array_foreach (keep, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), handle) == 0)
			return true;
	}
	return false;
}

struct link_sweep {
	struct kw_daemon *d;
	json_t *removed;
	int r;
	struct gdn_err **err;
};

static void sweep_link(const char *name, void *arg)
{
	struct link_sweep *s = arg;
	bool bridge;

	if (s->r < 0 || !kw_link_is_ours(&s->d->names, name, &bridge))
		return;
	for (struct kw_alloc *a = s->d->allocs; a; a = a->next)
		if (strcmp(bridge ? a->bridge : a->host_if, name) == 0)
			return;
	s->r = kw_link_delete(s->d->nl, name, s->err);
	if (s->r >= 0)
		json_array_append_new(s->removed, json_string(name));
}

/* Removes the allocations of containers that are gone: those not in "keep" when it is given,
 * else those whose host veth no longer exists (the container's network namespace is gone);
 * then instance chains and links that belong to no allocation. */
int kw_op_cleanup(struct kw_daemon *d, const json_t *req, json_t *reply, struct gdn_err **err)
{
	const json_t *keep = json_object_get(req, "keep");
	json_t *containers = json_array(), *chains = json_array(), *links = json_array();
	int r = 0;

	json_object_set_new(reply, "containers", containers);
	json_object_set_new(reply, "chains", chains);
	json_object_set_new(reply, "links", links);
	if (!containers || !chains || !links)
		return gdn_err_set(err, ENOMEM, "cleanup");
	for (struct kw_alloc *a = d->allocs, *next; r >= 0 && a; a = next) {
		next = a->next;
		bool gone = keep ? !kept(keep, a->handle) : !kw_link_exists(d->nl, a->host_if);
		if (!gone)
			continue;
		json_array_append_new(containers, json_string(a->handle));
		r = teardown(d, a, err);
		if (r >= 0)
			r = forget(d, a, err);
	}
	if (r >= 0)
		r = kw_rules_orphans(d, chains, err);
	if (r >= 0) {
		struct link_sweep s = {d, links, 0, err};
		r = kw_links_each(d->nl, d->names.if_prefix, sweep_link, &s, err);
		if (r >= 0)
			r = s.r;
	}
	if (r >= 0)
		gdn_log_info(d->log, "cleanup", "containers",
			     json_array_size(containers) ? "removed" : "none", NULL);
	return r;
}
