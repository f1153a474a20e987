/* IPv4 addresses, CIDRs and subnet pools: see net.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/net.h"

int gdn_net_parse_ipv4(const char *s, uint32_t *ret)
{
	uint32_t ip = 0;

	if (!s)
		return -EINVAL;
	for (int field = 0; field < 4; field++) {
		unsigned v = 0;
		int digits = 0;

		if (field > 0 && *s++ != '.')
			return -EINVAL;
		if (*s == '0' && s[1] >= '0' && s[1] <= '9')
			return -EINVAL; /* leading zero */
		while (*s >= '0' && *s <= '9') {
			v = v * 10 + (unsigned)(*s++ - '0');
			if (++digits > 3 || v > 255)
				return -EINVAL;
		}
		if (digits == 0)
			return -EINVAL;
		ip = ip << 8 | v;
	}
	if (*s)
		return -EINVAL;
	*ret = ip;
	return 0;
}

int gdn_net_parse_ip(const char *s, int *ret_family, unsigned char out[16])
{
	uint32_t ip;

	if (!s)
		return -EINVAL;
	if (gdn_net_parse_ipv4(s, &ip) == 0) {
		uint32_t be = htonl(ip);
		memcpy(out, &be, 4);
		*ret_family = AF_INET;
		return 0;
	}
	/* An IPv6 address has a ':'; glibc's parser then reads what Go's does, including an
	 * embedded IPv4 tail. A zone ("fe80::1%eth0") is refused by both. */
	if (strchr(s, ':') && inet_pton(AF_INET6, s, out) == 1) {
		*ret_family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

uint32_t gdn_net_mask(unsigned prefix)
{
	if (prefix == 0)
		return 0;
	if (prefix >= 32)
		return UINT32_MAX;
	return UINT32_MAX << (32 - prefix);
}

static bool cidr_parts(const char *s, uint32_t *ret_ip, unsigned *ret_prefix)
{
	char addr[GDN_NET_IPV4_STRLEN];
	const char *slash = s ? strchr(s, '/') : NULL;
	unsigned prefix = 0;
	const char *p;

	if (!slash || (size_t)(slash - s) >= sizeof(addr))
		return false;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	if (gdn_net_parse_ipv4(addr, ret_ip) < 0)
		return false;
	for (p = slash + 1; *p >= '0' && *p <= '9'; p++) {
		prefix = prefix * 10 + (unsigned)(*p - '0');
		if (prefix > 32)
			return false;
	}
	if (p == slash + 1 || *p)
		return false;
	*ret_prefix = prefix;
	return true;
}

int gdn_net_parse_cidr(const char *s, struct gdn_cidr *ret, struct gdn_err **err)
{
	uint32_t ip;
	unsigned prefix;

	if (!cidr_parts(s, &ip, &prefix))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "invalid CIDR address: %s",
				    s ? s : "");
	ret->ip = ip;
	ret->prefix = prefix;
	ret->network = ip & gdn_net_mask(prefix);
	return 0;
}

uint32_t gdn_net_cidr_network(const struct gdn_cidr *c)
{
	return c->ip & gdn_net_mask(c->prefix);
}

uint32_t gdn_net_cidr_broadcast(const struct gdn_cidr *c)
{
	return gdn_net_cidr_network(c) | ~gdn_net_mask(c->prefix);
}

uint64_t gdn_net_cidr_size(const struct gdn_cidr *c)
{
	return 1ULL << (32 - (c->prefix > 32 ? 32 : c->prefix));
}

bool gdn_net_cidr_contains(const struct gdn_cidr *c, uint32_t ip)
{
	return (ip & gdn_net_mask(c->prefix)) == gdn_net_cidr_network(c);
}

uint64_t gdn_net_cidr_subnets(const struct gdn_cidr *c, unsigned prefix)
{
	if (prefix < c->prefix || prefix > 32)
		return 0;
	return 1ULL << (prefix - c->prefix);
}

int gdn_net_cidr_subnet(const struct gdn_cidr *c, unsigned prefix, uint64_t n, struct gdn_cidr *ret)
{
	if (n >= gdn_net_cidr_subnets(c, prefix))
		return -ERANGE;
	ret->prefix = prefix;
	ret->network = gdn_net_cidr_network(c) + (uint32_t)(n << (32 - prefix));
	ret->ip = ret->network;
	return 0;
}

char *gdn_net_ipv4_str(uint32_t ip, char *out)
{
	(void)snprintf(out, GDN_NET_IPV4_STRLEN, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff,
		       (ip >> 8) & 0xff, ip & 0xff);
	return out;
}

char *gdn_net_cidr_str(const struct gdn_cidr *c, char *out)
{
	char ip[GDN_NET_IPV4_STRLEN];

	(void)snprintf(out, GDN_NET_CIDR_STRLEN, "%s/%u",
		       gdn_net_ipv4_str(gdn_net_cidr_network(c), ip), c->prefix);
	return out;
}
