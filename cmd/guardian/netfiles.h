/* A container's /etc/hosts and /etc/resolv.conf (internals §11.4), written into the depot files
 * that are bind-mounted there. They are rewritten in place (truncate and write, same inode,
 * owner and mode kept), never replaced: a rename would leave the container's mount on the old
 * file. */
#pragma once

#include <stdbool.h>
#include <jansson.h>
#include "lib/err.h"

struct gd_dns_config {
	const char **dns_servers;	      /* --dns-server..., NULL-terminated (may be NULL) */
	const char **additional_dns_servers;  /* --additional-dns-server... */
	const char **additional_host_entries; /* --additional-host-entry... (hosts lines) */
	const char *host_resolv_conf;	      /* the host's resolv.conf, default /etc/resolv.conf */
};

/* hosts: "127.0.0.1 localhost\n<container_ip> <hostname>\n" + each additional host entry.
 * hostname is the handle's last 49 characters. */
int gd_netfiles_write_hosts(const char *dir, const char *handle, const char *container_ip,
			    const struct gd_dns_config *dns, struct gdn_err **err);

/* resolv.conf by Garden's rules, in order: plugin_dns (a JSON array, even empty) => exactly
 * those nameservers; else --dns-server given => those + additional; else from the host's file:
 * a single "nameserver 127.0.0.x" line => "nameserver <local_resolver>" (kawasaki: the gateway
 * IP; plugin mode: the container IP), otherwise every line but 127.0.0.0/8 nameservers,
 * then the additional servers. plugin_search (array) => host "search" lines dropped and
 * "search d1 d2..." appended. */
int gd_netfiles_write_resolv(const char *dir, const char *local_resolver,
			     const struct gd_dns_config *dns, const json_t *plugin_dns,
			     const json_t *plugin_search, struct gdn_err **err);
