/* kawasaki's links on libnl-route-3 (internals §11.3): the bridge of a subnet, the veth pair of
 * a container, its end moved into the container's network namespace and configured there
 * (through a netlink socket opened inside that namespace: no child process, no `ip`). */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include "lib/err.h"

struct kw_nl; /* the host's rtnetlink socket and link cache */

int kw_nl_open(struct kw_nl **ret, struct gdn_err **err);
void kw_nl_close(struct kw_nl *nl); /* NULL-safe */

struct kw_link_config {
	const char *bridge;	  /* w<tag>brdg-<8 hex of the subnet address> */
	const char *host_if;	  /* w<tag><id>-0 */
	const char *container_if; /* w<tag><id>-1, keeps this name inside the container */
	uint32_t gateway;	  /* host order; the bridge's address */
	uint32_t container_ip;	  /* host order */
	unsigned prefix;	  /* of the subnet */
	unsigned mtu;
	int netns_fd; /* the container's network namespace (borrowed) */
};

/* Host side: the bridge (created if absent: random locally-administered MAC, multicast
 * snooping off, address gateway/prefix, up), the veth pair (host end txqueuelen 1, MTU,
 * enslaved to the bridge, up), the container end moved into netns_fd. Container side: address
 * container_ip/prefix, MTU, up, lo up, default route via the gateway. On failure it removes
 * the veth it made (a bridge it made stays: other containers may share it; kw_bridge_delete). */
int kw_links_up(struct kw_nl *nl, const struct kw_link_config *c, struct gdn_err **err);

/* Deletes a link by name (its veth peer goes with it); a missing link is 0. */
int kw_link_delete(struct kw_nl *nl, const char *name, struct gdn_err **err);
bool kw_link_exists(struct kw_nl *nl, const char *name);
/* Calls fn for every host link whose name starts with prefix. */
int kw_links_each(struct kw_nl *nl, const char *prefix, void (*fn)(const char *name, void *arg),
		  void *arg, struct gdn_err **err);

/* The host's default IPv4 route: its interface name, the address it sends from (the route's
 * preferred source, else the interface's first IPv4 address) and the interface's MTU.
 * -ENOENT when there is no default route. */
int kw_default_route(struct kw_nl *nl, char ifname[IF_NAMESIZE], uint32_t *ret_src,
		     unsigned *ret_mtu, struct gdn_err **err);
/* The MTU of the interface holding IPv4 address ip (host order); -ENOENT when none does. */
int kw_mtu_of_address(struct kw_nl *nl, uint32_t ip, unsigned *ret_mtu, struct gdn_err **err);
