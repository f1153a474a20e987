/* IPv4 addresses and CIDRs as Go's net.ParseIP / net.ParseCIDR read them, and the arithmetic of
 * a subnet pool (guardian's --network-pool, which kawasaki carves into one /30 per container).
 * Addresses are host-order uint32_t (10.0.0.1 = 0x0a000001). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "lib/err.h"

#define GDN_NET_IPV4_STRLEN 16 /* "255.255.255.255" + NUL */
#define GDN_NET_CIDR_STRLEN 19 /* + "/32" */

struct gdn_cidr {
	uint32_t ip;	  /* the address as written (may have host bits set) */
	uint32_t network; /* ip with the host bits cleared (Go's IPNet.IP) */
	unsigned prefix;  /* 0..32 */
};

/* Dotted-decimal IPv4 as Go reads it: exactly four decimal fields of 0..255, no leading zeros
 * ("01.2.3.4" is refused since Go 1.17), no signs, no spaces. 0 or -EINVAL. */
int gdn_net_parse_ipv4(const char *s, uint32_t *ret);

/* What net.ParseIP accepts: IPv4 as above, or IPv6 (including IPv4-mapped ::ffff:a.b.c.d).
 * *ret_family is AF_INET or AF_INET6; out gets 4 or 16 bytes in network order. 0 or -EINVAL. */
int gdn_net_parse_ip(const char *s, int *ret_family, unsigned char out[16]);

/* "a.b.c.d/n" as net.ParseCIDR reads an IPv4 CIDR: the address as above, a decimal prefix of
 * 0..32 (leading zeros allowed, as Go's dtoi allows them). Host bits may be set: ->network
 * has them cleared. On error: "invalid CIDR address: <s>" (Go's words), -EINVAL. */
int gdn_net_parse_cidr(const char *s, struct gdn_cidr *ret, struct gdn_err **err);

/* The netmask of a prefix (0 -> 0, 24 -> 0xffffff00, 32 -> 0xffffffff). */
uint32_t gdn_net_mask(unsigned prefix);
uint32_t gdn_net_cidr_network(const struct gdn_cidr *c);
/* The last address of the CIDR (all host bits set). */
uint32_t gdn_net_cidr_broadcast(const struct gdn_cidr *c);
/* Number of addresses: 2^(32-prefix), so 2^32 for /0. */
uint64_t gdn_net_cidr_size(const struct gdn_cidr *c);
bool gdn_net_cidr_contains(const struct gdn_cidr *c, uint32_t ip);
/* Number of /prefix subnets in c (0 when prefix < c->prefix or prefix > 32). */
uint64_t gdn_net_cidr_subnets(const struct gdn_cidr *c, unsigned prefix);
/* The n-th (from 0) subnet of length `prefix` inside c, in address order: for a pool and
 * prefix 30, the container subnets. 0, or -ERANGE when n is past the end or prefix is out of
 * c->prefix..32. */
int gdn_net_cidr_subnet(const struct gdn_cidr *c, unsigned prefix, uint64_t n,
			struct gdn_cidr *ret);

/* Formatting; out must hold GDN_NET_IPV4_STRLEN / GDN_NET_CIDR_STRLEN bytes. The CIDR prints
 * its network. Both return out. */
char *gdn_net_ipv4_str(uint32_t ip, char *out);
char *gdn_net_cidr_str(const struct gdn_cidr *c, char *out);
