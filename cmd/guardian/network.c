/* guardian's networker front: kawasaki's requests or the external plugin's actions, and the
 * container files both leave to guardian (hosts, resolv.conf). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/buf.h"
#include "lib/net.h"
#include "lib/ipc.h"
#include "lib/util.h"
#include "cmd/guardian/kawasaki_client.h"
#include "cmd/guardian/netfiles.h"
#include "cmd/guardian/netplugin.h"
#include "cmd/guardian/network.h"

uint64_t gd_network_capacity(const struct gd_config *cfg)
{
	struct gdn_cidr pool;

	if (cfg->network_plugin || cfg->no_networking)
		return UINT64_MAX;
	if (gdn_net_parse_cidr(cfg->network_pool, &pool, NULL) < 0)
		return 0;
	return gdn_net_cidr_subnets(&pool, 30);
}

static struct gd_netplugin plugin_of(const struct gd_config *cfg)
{
	return (struct gd_netplugin){
	    .path = cfg->network_plugin,
	    .extra_args = cfg->network_plugin_extra_args,
	    .timeout_ns =
		cfg->network_timeout_ns ? cfg->network_timeout_ns : cfg->runtime_timeout_ns,
	};
}

static struct gd_dns_config dns_of(const struct gd_config *cfg)
{
	return (struct gd_dns_config){
	    .dns_servers = cfg->dns_servers,
	    .additional_dns_servers = cfg->additional_dns_servers,
	    .additional_host_entries = cfg->additional_host_entries,
	    .host_resolv_conf = cfg->resolv_conf,
	};
}

static const char *prop(const json_t *props, const char *key)
{
	return json_string_value(json_object_get(props, key));
}

/* The source address of the default route (/proc/net/route, then the interface's first IPv4
 * address), for plugin mode's garden.network.external-ip when --external-ip is not given. */
static void default_route_address(char out[GDN_NET_IPV4_STRLEN])
{
	FILE *f = fopen("/proc/net/route", "re");
	char line[256], ifname[64] = "";
	struct ifaddrs *ifs = NULL;

	(void)snprintf(out, GDN_NET_IPV4_STRLEN, "127.0.0.1");
	while (f && fgets(line, sizeof(line), f)) {
		char name[64];
		unsigned long dst, mask;
		if (sscanf(line, "%63s %lx %*x %*x %*d %*d %*d %lx", name, &dst, &mask) == 3 &&
		    dst == 0 && mask == 0) {
			(void)snprintf(ifname, sizeof(ifname), "%s", name);
			break;
		}
	}
	if (f)
		(void)fclose(f);
	if (!*ifname || getifaddrs(&ifs) < 0)
		return;
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    strcmp(i->ifa_name, ifname) == 0) {
			(void)inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr,
					out, GDN_NET_IPV4_STRLEN);
			break;
		}
	freeifaddrs(ifs);
}

static int write_files(const struct gd_config *cfg, const char *dir, const char *handle,
		       const json_t *props, const char *local_resolver, const json_t *dns,
		       const json_t *search, struct gdn_err **err)
{
	struct gd_dns_config d = dns_of(cfg);
	const char *ip = prop(props, "garden.network.container-ip");

	if (!ip)
		return 0; /* as Garden: no container IP, no files */
	int r = gd_netfiles_write_hosts(dir, handle, ip, &d, err);
	if (r >= 0)
		r = gd_netfiles_write_resolv(dir, local_resolver ? local_resolver : ip, &d, dns,
					     search, err);
	return r;
}

static char *joined(const char **v, const char *sep)
{
	struct gdn_buf b = {0};

	for (const char **p = v; p && *p; p++)
		(void)gdn_buf_printf(&b, "%s%s", p == v ? "" : sep, *p);
	(void)gdn_buf_append(&b, "", 1);
	return gdn_buf_steal(&b, NULL);
}

static int spec_request(const char *op, const char *handle, const struct gd_net_spec *ns,
			json_t **ret)
{
	json_auto_t *req = gdn_ipc_request_new(op, GD_KAWASAKI_VERSION);

	if (!req || json_object_set_new(req, "handle", json_string(handle)) < 0 ||
	    json_object_set_new(req, "network", json_string(ns->network ? ns->network : "")) < 0 ||
	    (ns->netin && json_object_set(req, "netin", ns->netin) < 0) ||
	    (ns->netout && json_object_set(req, "netout_rules", ns->netout) < 0))
		return -ENOMEM;
	*ret = gdn_steal_ptr(&req);
	return 0;
}

int gd_network_prepare(const struct gd_config *cfg, const char *handle,
		       const struct gd_net_spec *ns, struct gd_net_pending *p, struct gdn_err **err)
{
	json_auto_t *req = NULL;

	p->sock = -1;
	if (cfg->no_networking || cfg->network_plugin)
		return 0;
	if (spec_request("prepare", handle, ns, &req) < 0)
		return gdn_err_set(err, ENOMEM, "network prepare");
	return gd_kawasaki_send(cfg, -1, req, -1, &p->sock, err);
}

void gd_net_pending_settle(struct gd_net_pending *p)
{
	json_auto_t *reply = NULL;

	if (p->sock < 0)
		return;
	/* the reply, whatever it says: kawasaki has then done all it will for this request, so
	 * the down of an undo that follows cannot overtake the prepare */
	(void)gdn_ipc_await(p->sock, GD_KAWASAKI_CONNECT_WAIT_MS, &reply, NULL);
	(void)close(gdn_steal_fd(&p->sock));
}

/* The prepare's reply, then the up of the prepared network on the same connection. */
static int prepared_up(const struct gd_config *cfg, int sock, const char *handle, int netns,
		       json_t **ret_reply, struct gdn_err **err)
{
	json_auto_t *req = gdn_ipc_request_new("up", GD_KAWASAKI_VERSION);
	int r = gd_kawasaki_reply(cfg, sock, NULL, err);

	if (r < 0)
		return r;
	if (!req || json_object_set_new(req, "handle", json_string(handle)) < 0)
		return gdn_err_set(err, ENOMEM, "network up");
	r = gd_kawasaki_send(cfg, sock, req, netns, &sock, err);
	return r < 0 ? r : gd_kawasaki_reply(cfg, sock, ret_reply, err);
}

static int up_kawasaki(const struct gd_config *cfg, const char *dir, const char *handle, pid_t pid,
		       const struct gd_net_spec *ns, struct gd_net_pending *p, json_t **ret_props,
		       struct gdn_err **err)
{
	char path[64];
	json_auto_t *req = NULL;
	json_auto_t *reply = NULL;
	int r;

	(void)snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	_cleanup_close_ int netns = open(path, O_RDONLY | O_CLOEXEC);
	if (netns < 0)
		return gdn_err_set(err, errno, "open the network namespace '%s'", path);
	_cleanup_close_ int sock = p ? gdn_steal_fd(&p->sock) : -1;
	/* after a prepare, up needs only the handle: kawasaki has the rest */
	if (sock >= 0) {
		_cleanup_err_ struct gdn_err *e = NULL;

		r = prepared_up(cfg, sock, handle, netns, &reply, &e);
		if (r < 0 && r != -ECONNRESET && r != -EPIPE) {
			if (err && !*err)
				*err = gdn_steal_ptr(&e);
			return r;
		}
		/* else kawasaki went away: the whole up, from the spec, of the one restarted */
		(void)close(gdn_steal_fd(&sock));
	}
	if (!reply) {
		if (spec_request("up", handle, ns, &req) < 0)
			return gdn_err_set(err, ENOMEM, "network up");
		r = gd_kawasaki_send(cfg, -1, req, netns, &sock, err);
		if (r >= 0)
			r = gd_kawasaki_reply(cfg, sock, &reply, err);
		if (r < 0)
			return r;
	}
	json_t *props = json_object_get(reply, "properties");
	if (!json_is_object(props))
		return gdn_err_set(err, EPROTO, "kawasaki's reply to up holds no properties");
	_cleanup_free_ char *entries = joined(cfg->additional_host_entries, ", ");
	json_object_set_new(props, "kawasaki.host-entries", json_string(entries ? entries : ""));
	/* kawasaki's resolver for a host that uses a local one (127.0.0.x): the gateway */
	r = write_files(cfg, dir, handle, props, prop(props, "garden.network.host-ip"), NULL, NULL,
			err);
	if (r < 0)
		return r;
	*ret_props = json_incref(props);
	return 0;
}

static int up_plugin(const struct gd_config *cfg, const char *dir, const char *handle, pid_t pid,
		     const json_t *props, const struct gd_net_spec *ns, json_t **ret_props,
		     struct gdn_log *log, struct gdn_err **err)
{
	struct gd_netplugin p = plugin_of(cfg);
	json_auto_t *out = NULL;
	char ext[GDN_NET_IPV4_STRLEN];

	if (cfg->external_ip)
		(void)snprintf(ext, sizeof(ext), "%s", cfg->external_ip);
	else
		default_route_address(ext);
	int r = gd_netplugin_up(&p, handle, pid, props, ns->netin, ns->netout, &out, log, err);
	if (r < 0)
		return r;
	json_t *got = json_object_get(out, "properties");
	json_auto_t *stored = json_object();
	if (!stored)
		return gdn_err_set(err, ENOMEM, "network up");
	/* Garden sets the external IP before calling up; what the plugin returns wins */
	json_object_set_new(stored, "garden.network.external-ip", json_string(ext));
	if (json_is_object(got))
		json_object_update(stored, got);
	r = write_files(cfg, dir, handle, stored, NULL, json_object_get(out, "dns_servers"),
			json_object_get(out, "search_domains"), err);
	if (r < 0)
		return r;
	*ret_props = json_incref(stored);
	return 0;
}

int gd_network_up(const struct gd_config *cfg, const char *dir, const char *handle, pid_t pid,
		  const json_t *props, const struct gd_net_spec *ns, struct gd_net_pending *p,
		  json_t **ret_props, struct gdn_log *log, struct gdn_err **err)
{
	if (cfg->no_networking) {
		*ret_props = json_object();
		return *ret_props ? 0 : gdn_err_set(err, ENOMEM, "network");
	}
	gdn_log_info(log, "network-up", NULL);
	int r = cfg->network_plugin
		    ? up_plugin(cfg, dir, handle, pid, props, ns, ret_props, log, err)
		    : up_kawasaki(cfg, dir, handle, pid, ns, p, ret_props, err);
	return r < 0 ? r : 0;
}

int gd_network_down(const struct gd_config *cfg, const char *handle, struct gdn_log *log,
		    struct gdn_err **err)
{
	if (cfg->no_networking)
		return 0;
	if (cfg->network_plugin) {
		struct gd_netplugin p = plugin_of(cfg);
		return gd_netplugin_down(&p, handle, log, err);
	}
	json_auto_t *req = gdn_ipc_request_new("down", GD_KAWASAKI_VERSION);
	if (!req || json_object_set_new(req, "handle", json_string(handle)) < 0)
		return gdn_err_set(err, ENOMEM, "network down");
	return gd_kawasaki_call(cfg, req, -1, NULL, err);
}

/* garden.network.mapped-ports with one more mapping (plugin mode; kawasaki keeps its own). */
static json_t *mapped_ports_with(const json_t *props, uint32_t host, uint32_t container)
{
	const char *now = prop(props, "garden.network.mapped-ports");
	json_auto_t *list = now ? json_loads(now, 0, NULL) : NULL;

	if (!json_is_array(list)) {
		json_decref(list);
		list = json_array();
	}
	json_array_append_new(list, json_pack("{s:I,s:I}", "HostPort", (json_int_t)host,
					      "ContainerPort", (json_int_t)container));
	_cleanup_free_ char *text = json_dumps(list, JSON_COMPACT);
	return text ? json_pack("{s:s}", "garden.network.mapped-ports", text) : NULL;
}

static int disabled(struct gdn_err **err)
{
	return gdn_err_kind(err, GDN_ERR_GENERIC, ENOTSUP,
			    "this guardian networks no containers (--no-networking)");
}

static int need_container_ip(const json_t *props, const char *handle, const char **ret,
			     struct gdn_err **err)
{
	*ret = prop(props, "garden.network.container-ip");
	if (!*ret)
		return gdn_err_kind(err, GDN_ERR_GENERIC, ENOENT, "cannot find container [%s]",
				    handle);
	return 0;
}

int gd_network_net_in(const struct gd_config *cfg, const char *handle, const json_t *props,
		      uint32_t host_port, uint32_t container_port, uint32_t *ret_host,
		      uint32_t *ret_container, json_t **ret_props, struct gdn_log *log,
		      struct gdn_err **err)
{
	if (cfg->no_networking)
		return disabled(err);
	if (cfg->network_plugin) {
		struct gd_netplugin p = plugin_of(cfg);
		const char *ip;
		const char *ext = prop(props, "garden.network.external-ip");
		int r = need_container_ip(props, handle, &ip, err);
		if (r >= 0)
			r = gd_netplugin_net_in(&p, handle, ext ? ext : "", ip, host_port,
						container_port, ret_host, ret_container, log, err);
		if (r < 0)
			return r;
		*ret_props = mapped_ports_with(props, *ret_host, *ret_container);
		return *ret_props ? 0 : gdn_err_set(err, ENOMEM, "net-in");
	}
	json_auto_t *req = gdn_ipc_request_new("net-in", GD_KAWASAKI_VERSION);
	json_auto_t *reply = NULL;
	if (!req || json_object_set_new(req, "handle", json_string(handle)) < 0 ||
	    json_object_set_new(req, "host_port", json_integer(host_port)) < 0 ||
	    json_object_set_new(req, "container_port", json_integer(container_port)) < 0)
		return gdn_err_set(err, ENOMEM, "net-in");
	int r = gd_kawasaki_call(cfg, req, -1, &reply, err);
	if (r < 0)
		return r;
	*ret_host = (uint32_t)json_integer_value(json_object_get(reply, "host_port"));
	*ret_container = (uint32_t)json_integer_value(json_object_get(reply, "container_port"));
	const char *mapped = json_string_value(json_object_get(reply, "mapped_ports"));
	*ret_props = json_pack("{s:s}", "garden.network.mapped-ports", mapped ? mapped : "[]");
	return *ret_props ? 0 : gdn_err_set(err, ENOMEM, "net-in");
}

int gd_network_net_out(const struct gd_config *cfg, const char *handle, const json_t *props,
		       const json_t *rules, bool bulk, struct gdn_log *log, struct gdn_err **err)
{
	if (cfg->no_networking)
		return disabled(err);
	if (cfg->network_plugin) {
		struct gd_netplugin p = plugin_of(cfg);
		const char *ip;
		int r = need_container_ip(props, handle, &ip, err);
		if (r < 0)
			return r;
		return bulk ? gd_netplugin_bulk_net_out(&p, handle, ip, rules, log, err)
			    : gd_netplugin_net_out(&p, handle, ip, rules, log, err);
	}
	json_auto_t *req =
	    gdn_ipc_request_new(bulk ? "bulk-net-out" : "net-out", GD_KAWASAKI_VERSION);
	if (!req || json_object_set_new(req, "handle", json_string(handle)) < 0 ||
	    json_object_set(req, bulk ? "rules" : "rule", (json_t *)rules) < 0)
		return gdn_err_set(err, ENOMEM, "net-out");
	return gd_kawasaki_call(cfg, req, -1, NULL, err);
}
