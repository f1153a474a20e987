/* kawasaki's allocations (pool.h), as guardian's kawasaki/subnets and kawasaki/ports keep them.
 *
 * Garden keys its allocations by the subnet's string ("network/prefix") and keeps the IPs of
 * each; a subnet exists while it has an IP. We keep the same model in three structures:
 * - every subnet in use, in a hash table keyed by (network, prefix): lookups in O(1);
 * - for the /30s of the dynamic range, one bit each (set: in use) and a hint below which all
 *   are in use, so "the first free /30 from the base up" is a short word scan;
 * - every other subnet in use (static ones; replayed ones of another shape), sorted by
 *   (network, prefix), so a static request's overlap check is a few lookups, not a walk over
 *   every container.
 * Host ports are a bitmap with a rotating cursor. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cmd/kawasaki/pool.h"

/* Garden's words (kawasaki/subnets/errors.go, kawasaki/ports/pool.go). */
#define MSG_NO_SUBNETS "insufficient subnets remaining in the pool"
#define MSG_NO_IPS "insufficient IPs remaining in the pool"
#define MSG_IP_TAKEN "the requested IP is already allocated"
#define MSG_IP_GATEWAY "a container IP must not equal the gateway IP"
#define MSG_IP_BROADCAST "a container IP must not equal the broadcast IP"
#define MSG_OVERLAPS_EXISTING "subnet overlaps an existing subnet"
#define MSG_PORTS_EXHAUSTED "port pool is exhausted"

struct subnet {
	uint32_t network;
	uint32_t prefix;
	uint32_t n;   /* IPs allocated in it (> 0 while the subnet exists) */
	uint32_t cap; /* 1: the IP is ips.one; more: ips.many */
	union {
		uint32_t one;
		uint32_t *many;
	} ips; /* sorted ascending */
};

struct kw_pool {
	/* The dynamic range and its /30s. */
	uint32_t dyn_base;
	unsigned dyn_prefix;
	uint64_t dyn_count;
	uint64_t *dyn_used;
	uint64_t dyn_hint; /* every /30 below it is in use */

	/* Every subnet in use: open addressing, linear probing, at most half full. */
	struct subnet **slots;
	size_t slots_cap; /* a power of two */
	size_t n_subnets;

	/* The subnets that are not a /30 of the dynamic range, sorted by (network, prefix). */
	struct subnet **others;
	size_t n_others, others_cap;

	/* Host ports [port_start, port_start + port_size): bit set = handed out. */
	uint32_t port_start, port_size, port_free, port_cursor;
	uint64_t *port_used;
};

/* --- bitmaps -------------------------------------------------------------------------------- */

static bool bit_get(const uint64_t *bm, uint64_t i)
{
	return bm[i / 64] >> (i % 64) & 1;
}

static void bit_set(uint64_t *bm, uint64_t i, bool on)
{
	if (on)
		bm[i / 64] |= 1ULL << (i % 64);
	else
		bm[i / 64] &= ~(1ULL << (i % 64));
}

/* The first clear bit in [from, to), or `to`. */
static uint64_t bit_find_clear(const uint64_t *bm, uint64_t from, uint64_t to)
{
	for (uint64_t i = from; i < to;) {
		uint64_t w = ~bm[i / 64] & (~0ULL << (i % 64));

		if (w) {
			uint64_t r = (i & ~63ULL) + (uint64_t)__builtin_ctzll(w);

			return r < to ? r : to;
		}
		i = (i & ~63ULL) + 64;
	}
	return to;
}

static uint64_t *bitmap_new(uint64_t bits)
{
	return calloc(bits / 64 + 1, sizeof(uint64_t));
}

/* --- subnets -------------------------------------------------------------------------------- */

static uint32_t *ips_of(struct subnet *s)
{
	return s->cap > 1 ? s->ips.many : &s->ips.one;
}

/* The index of the first IP >= ip. */
static uint32_t ips_lower_bound(struct subnet *s, uint32_t ip)
{
	const uint32_t *a = ips_of(s);
	uint32_t lo = 0, hi = s->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (a[mid] < ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool ips_has(struct subnet *s, uint32_t ip)
{
	uint32_t i = ips_lower_bound(s, ip);

	return i < s->n && ips_of(s)[i] == ip;
}

static void subnet_free(struct subnet *s)
{
	if (s && s->cap > 1)
		free(s->ips.many);
	free(s);
}

static uint64_t broadcast_of(uint32_t network, unsigned prefix)
{
	return network | ~gdn_net_mask(prefix);
}

/* Two CIDRs overlap iff they agree on the shorter of the two prefixes (Go's overlaps(): one
 * contains the other's network). */
static bool cidrs_overlap(uint32_t a, unsigned ap, uint32_t b, unsigned bp)
{
	uint32_t m = gdn_net_mask(ap < bp ? ap : bp);

	return (a & m) == (b & m);
}

/* The /30 index of a subnet in the dynamic range; false if it is not one of its /30s. */
static bool dyn_index(const struct kw_pool *p, uint32_t network, unsigned prefix, uint64_t *ret)
{
	if (prefix != 30 || p->dyn_count == 0 ||
	    (network & gdn_net_mask(p->dyn_prefix)) != p->dyn_base)
		return false;
	*ret = (network - p->dyn_base) >> 2;
	return true;
}

static size_t slot_home(const struct kw_pool *p, uint32_t network, uint32_t prefix)
{
	uint64_t k = (uint64_t)network << 6 | prefix; /* splitmix64's finaliser */

	k = (k ^ k >> 30) * 0xbf58476d1ce4e5b9ULL;
	k = (k ^ k >> 27) * 0x94d049bb133111ebULL;
	return (size_t)(k ^ k >> 31) & (p->slots_cap - 1);
}

static struct subnet **slot_find(const struct kw_pool *p, uint32_t network, uint32_t prefix)
{
	for (size_t i = slot_home(p, network, prefix);; i = (i + 1) & (p->slots_cap - 1)) {
		struct subnet *s = p->slots[i];

		if (!s || (s->network == network && s->prefix == prefix))
			return &p->slots[i];
	}
}

static struct subnet *subnet_find(const struct kw_pool *p, uint32_t network, uint32_t prefix)
{
	return *slot_find(p, network, prefix);
}

/* Room for one more subnet in the table; -ENOMEM. */
static int slots_reserve(struct kw_pool *p)
{
	struct subnet **old = p->slots;
	size_t old_cap = p->slots_cap;

	if ((p->n_subnets + 1) * 2 <= p->slots_cap)
		return 0;
	p->slots = calloc(old_cap * 2, sizeof(*p->slots));
	if (!p->slots) {
		p->slots = old;
		return -ENOMEM;
	}
	p->slots_cap = old_cap * 2;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i])
			*slot_find(p, old[i]->network, old[i]->prefix) = old[i];
	free(old);
	return 0;
}

/* Deletes slot i, moving later members of its probe run back (no tombstones). */
static void slot_delete(struct kw_pool *p, size_t i)
{
	size_t mask = p->slots_cap - 1;

	for (size_t j = i;;) {
		p->slots[i] = NULL;
		for (;;) {
			size_t k;

			j = (j + 1) & mask;
			if (!p->slots[j])
				return;
			k = slot_home(p, p->slots[j]->network, p->slots[j]->prefix);
			/* j stays if its home lies cyclically in (i, j]. */
			if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			break;
		}
		p->slots[i] = p->slots[j];
		i = j;
	}
}

static int cmp_key(const struct subnet *s, uint32_t network, uint32_t prefix)
{
	if (s->network != network)
		return s->network < network ? -1 : 1;
	if (s->prefix != prefix)
		return s->prefix < prefix ? -1 : 1;
	return 0;
}

static size_t others_lower_bound(const struct kw_pool *p, uint32_t network, uint32_t prefix)
{
	size_t lo = 0, hi = p->n_others;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_key(p->others[mid], network, prefix) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int others_reserve(struct kw_pool *p)
{
	size_t cap = p->others_cap ? p->others_cap * 2 : 8;
	struct subnet **n;

	if (p->n_others < p->others_cap)
		return 0;
	n = reallocarray(p->others, cap, sizeof(*n));
	if (!n)
		return -ENOMEM;
	p->others = n;
	p->others_cap = cap;
	return 0;
}

/* Room for one more IP in s; -ENOMEM. */
static int ips_reserve(struct subnet *s)
{
	uint32_t cap = s->cap * 2;
	uint32_t *n;

	if (s->n < s->cap)
		return 0;
	n = reallocarray(s->cap > 1 ? s->ips.many : NULL, cap, sizeof(*n));
	if (!n)
		return -ENOMEM;
	if (s->cap == 1)
		n[0] = s->ips.one;
	s->ips.many = n;
	s->cap = cap;
	return 0;
}

/* Records ip in the subnet (network, prefix), creating the subnet if s is NULL. Only -ENOMEM
 * can fail it, and then nothing has changed. */
static int subnet_add(struct kw_pool *p, struct subnet *s, uint32_t network, uint32_t prefix,
		      uint32_t ip, struct gdn_err **err)
{
	uint64_t idx;
	bool dyn = dyn_index(p, network, prefix, &idx);
	uint32_t *a, at;

	if (!s) {
		if (slots_reserve(p) < 0 || (!dyn && others_reserve(p) < 0))
			return gdn_err_set(err, ENOMEM, "subnet pool");
		s = calloc(1, sizeof(*s));
		if (!s)
			return gdn_err_set(err, ENOMEM, "subnet pool");
		s->network = network;
		s->prefix = prefix;
		s->cap = 1;
		*slot_find(p, network, prefix) = s;
		p->n_subnets++;
		if (dyn) {
			bit_set(p->dyn_used, idx, true);
		} else {
			size_t i = others_lower_bound(p, network, prefix);

			memmove(&p->others[i + 1], &p->others[i],
				(p->n_others - i) * sizeof(*p->others));
			p->others[i] = s;
			p->n_others++;
		}
	} else if (ips_reserve(s) < 0) {
		return gdn_err_set(err, ENOMEM, "subnet pool");
	}
	at = ips_lower_bound(s, ip);
	a = ips_of(s);
	memmove(&a[at + 1], &a[at], (s->n - at) * sizeof(*a));
	a[at] = ip;
	s->n++;
	return 0;
}

static void subnet_remove(struct kw_pool *p, struct subnet *s)
{
	uint64_t idx;

	if (dyn_index(p, s->network, s->prefix, &idx)) {
		bit_set(p->dyn_used, idx, false);
		if (idx < p->dyn_hint)
			p->dyn_hint = idx;
	} else {
		size_t i = others_lower_bound(p, s->network, s->prefix);

		memmove(&p->others[i], &p->others[i + 1],
			(p->n_others - i - 1) * sizeof(*p->others));
		p->n_others--;
	}
	slot_delete(p, (size_t)(slot_find(p, s->network, s->prefix) - p->slots));
	p->n_subnets--;
	subnet_free(s);
}

static void cidr_of(uint32_t network, unsigned prefix, struct gdn_cidr *ret)
{
	*ret = (struct gdn_cidr){.ip = network, .network = network, .prefix = prefix};
}

/* StaticSubnetSelector: not overlapping the dynamic range, nor any subnet in use unless equal
 * to it. Only "other" subnets can overlap here: every dynamic /30 is inside the range. */
static int check_static_subnet(const struct kw_pool *p, uint32_t network, unsigned prefix,
			       struct gdn_err **err)
{
	char req[GDN_NET_CIDR_STRLEN], other[GDN_NET_CIDR_STRLEN];
	const struct subnet *hit = NULL;
	struct gdn_cidr c;

	cidr_of(network, prefix, &c);
	gdn_net_cidr_str(&c, req);
	if (cidrs_overlap(network, prefix, p->dyn_base, p->dyn_prefix)) {
		cidr_of(p->dyn_base, p->dyn_prefix, &c);
		return gdn_err_kind(
		    err, GDN_ERR_GENERIC, EINVAL,
		    "the requested subnet (%s) overlaps the dynamic allocation range (%s)", req,
		    gdn_net_cidr_str(&c, other));
	}
	/* A larger subnet holding this one: one lookup per shorter prefix. */
	for (unsigned q = 0; q < prefix && !hit; q++)
		hit = subnet_find(p, network & gdn_net_mask(q), q);
	/* A subnet starting inside this one: it overlaps unless it is this very subnet, so the
	 * walk stops at the first or second. */
	for (size_t i = others_lower_bound(p, network, 0);
	     !hit && i < p->n_others && p->others[i]->network <= broadcast_of(network, prefix); i++)
		if (cmp_key(p->others[i], network, prefix) != 0)
			hit = p->others[i];
	if (hit) {
		cidr_of(hit->network, hit->prefix, &c);
		return gdn_err_kind(err, GDN_ERR_GENERIC, EEXIST,
				    "the requested subnet (%s) overlaps an existing subnet (%s)",
				    req, gdn_net_cidr_str(&c, other));
	}
	return 0;
}

/* StaticIPSelector. Go also refuses an IP outside the subnet ("the requested IP is not within
 * the subnet"), which a parsed spec cannot produce: its IP and subnet come from one CIDR. */
static int check_static_ip(struct subnet *s, uint32_t network, unsigned prefix, uint32_t ip,
			   struct gdn_err **err)
{
	if (ip == broadcast_of(network, prefix))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, MSG_IP_BROADCAST);
	if ((uint64_t)ip == (uint64_t)network + 1)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, MSG_IP_GATEWAY);
	if (ip == network || (s && ips_has(s, ip)))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EEXIST, MSG_IP_TAKEN);
	return 0;
}

/* DynamicIPSelector: the lowest address of the subnet that is not the network, the gateway
 * (network + 1), the broadcast or in use. */
static int select_dynamic_ip(struct subnet *s, uint32_t network, unsigned prefix, uint32_t *ret,
			     struct gdn_err **err)
{
	uint64_t lo = (uint64_t)network + 2, hi = broadcast_of(network, prefix); /* [lo, hi) */
	uint64_t k = 0;

	if (s) {
		/* The IPs from lo up are distinct and sorted, so a[i0 + k] - (lo + k) never
		 * decreases: the first gap is found by bisection. */
		const uint32_t *a = ips_of(s);
		uint32_t i0 = lo > UINT32_MAX ? s->n : ips_lower_bound(s, (uint32_t)lo);
		uint64_t l = 0, h = s->n - i0;

		while (l < h) {
			uint64_t mid = l + (h - l) / 2;

			if (a[i0 + mid] == lo + mid)
				l = mid + 1;
			else
				h = mid;
		}
		k = l;
	}
	if (lo + k >= hi)
		return gdn_err_kind(err, GDN_ERR_GENERIC, ENOSPC, MSG_NO_IPS);
	*ret = (uint32_t)(lo + k);
	return 0;
}

/* "a.b.c.d" is "a.b.c.d/30" (spec_parser.go); Go's error names the string it parsed. */
static int parse_spec(const char *network, struct gdn_cidr *ret, struct gdn_err **err)
{
	char buf[64];

	if (strchr(network, '/'))
		return gdn_net_parse_cidr(network, ret, err);
	if ((size_t)snprintf(buf, sizeof(buf), "%s/30", network) < sizeof(buf))
		return gdn_net_parse_cidr(buf, ret, err);
	return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "invalid CIDR address: %s/30", network);
}

int kw_pool_acquire(struct kw_pool *p, const char *network, struct gdn_cidr *ret_subnet,
		    uint32_t *ret_ip, struct gdn_err **err)
{
	struct gdn_cidr c;
	struct subnet *s = NULL;
	bool dynamic = !network || !*network;
	uint64_t i = 0;
	uint32_t ip;
	int r;

	if (dynamic) {
		i = bit_find_clear(p->dyn_used, p->dyn_hint, p->dyn_count);
		if (i >= p->dyn_count)
			return gdn_err_kind(err, GDN_ERR_GENERIC, ENOSPC, MSG_NO_SUBNETS);
		cidr_of(p->dyn_base + (uint32_t)(i << 2), 30, &c);
		ip = c.network + 2; /* DynamicIPSelector on an empty /30 */
	} else {
		bool fixed;

		r = parse_spec(network, &c, err);
		if (r < 0)
			return r;
		fixed = c.ip != c.network;
		r = check_static_subnet(p, c.network, c.prefix, err);
		if (r < 0)
			return r;
		s = subnet_find(p, c.network, c.prefix);
		ip = c.ip;
		r = fixed ? check_static_ip(s, c.network, c.prefix, ip, err)
			  : select_dynamic_ip(s, c.network, c.prefix, &ip, err);
		if (r < 0)
			return r;
	}
	r = subnet_add(p, s, c.network, c.prefix, ip, err);
	if (r < 0)
		return r;
	if (dynamic)
		p->dyn_hint = i + 1;
	cidr_of(c.network, c.prefix, ret_subnet);
	*ret_ip = ip;
	return 0;
}

void kw_pool_release(struct kw_pool *p, const struct gdn_cidr *subnet, uint32_t ip)
{
	struct subnet *s;
	uint32_t *a, i;

	if (subnet->prefix > 32)
		return;
	s = subnet_find(p, gdn_net_cidr_network(subnet), subnet->prefix);
	if (!s || !ips_has(s, ip))
		return;
	if (s->n == 1) {
		subnet_remove(p, s);
		return;
	}
	i = ips_lower_bound(s, ip);
	a = ips_of(s);
	memmove(&a[i], &a[i + 1], (s->n - i - 1) * sizeof(*a));
	s->n--;
}

/* Garden's Remove(): no rule but "not twice", and its words for that. */
int kw_pool_mark(struct kw_pool *p, const struct gdn_cidr *subnet, uint32_t ip,
		 struct gdn_err **err)
{
	uint32_t network;
	struct subnet *s;

	if (subnet->prefix > 32)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "invalid subnet prefix: %u",
				    subnet->prefix);
	network = gdn_net_cidr_network(subnet);
	s = subnet_find(p, network, subnet->prefix);
	if (s && ips_has(s, ip))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EEXIST, MSG_OVERLAPS_EXISTING);
	return subnet_add(p, s, network, subnet->prefix, ip, err);
}

unsigned kw_pool_subnet_users(const struct kw_pool *p, const struct gdn_cidr *subnet)
{
	const struct subnet *s;

	if (subnet->prefix > 32)
		return 0;
	s = subnet_find(p, gdn_net_cidr_network(subnet), subnet->prefix);
	return s ? s->n : 0;
}

uint64_t kw_pool_capacity(const struct kw_pool *p)
{
	return p->dyn_count;
}

/* --- ports ---------------------------------------------------------------------------------- */

int kw_pool_port_acquire(struct kw_pool *p, uint16_t *ret_port, struct gdn_err **err)
{
	uint64_t i;

	if (p->port_free == 0)
		return gdn_err_kind(err, GDN_ERR_GENERIC, ENOSPC, MSG_PORTS_EXHAUSTED);
	i = bit_find_clear(p->port_used, p->port_cursor, p->port_size);
	if (i >= p->port_size)
		i = bit_find_clear(p->port_used, 0, p->port_cursor);
	bit_set(p->port_used, i, true);
	p->port_free--;
	p->port_cursor = i + 1 < p->port_size ? (uint32_t)i + 1 : 0;
	*ret_port = (uint16_t)(p->port_start + i);
	return 0;
}

static bool port_offset(const struct kw_pool *p, uint16_t port, uint32_t *ret)
{
	if (port < p->port_start || port - p->port_start >= p->port_size)
		return false;
	*ret = port - p->port_start;
	return true;
}

int kw_pool_port_take(struct kw_pool *p, uint16_t port, struct gdn_err **err)
{
	uint32_t i;

	if (!port_offset(p, port, &i))
		return 0;
	if (bit_get(p->port_used, i))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EEXIST, "port already acquired: %u",
				    (unsigned)port);
	bit_set(p->port_used, i, true);
	p->port_free--;
	return 0;
}

void kw_pool_port_release(struct kw_pool *p, uint16_t port)
{
	uint32_t i;

	if (!port_offset(p, port, &i) || !bit_get(p->port_used, i))
		return;
	bit_set(p->port_used, i, false);
	p->port_free++;
}

/* Garden's persisted offset (ports.State, RefreshState): that of the port the next acquire
 * hands out, 0 when none is free. */
uint16_t kw_pool_port_cursor(const struct kw_pool *p)
{
	uint64_t i;

	if (p->port_free == 0)
		return 0;
	i = bit_find_clear(p->port_used, p->port_cursor, p->port_size);
	if (i >= p->port_size)
		i = bit_find_clear(p->port_used, 0, p->port_cursor);
	return (uint16_t)i;
}

/* An offset past the pool restarts at its first port, as ports.NewPool does. */
void kw_pool_port_set_cursor(struct kw_pool *p, uint16_t cursor)
{
	p->port_cursor = cursor < p->port_size ? cursor : 0;
}

/* --- life ----------------------------------------------------------------------------------- */

int kw_pool_new(const struct gdn_cidr *pool, uint16_t port_start, uint32_t port_size,
		struct kw_pool **ret, struct gdn_err **err)
{
	struct kw_pool *p;

	/* ports.NewPool's check and words (65535 itself is never in the pool). */
	if ((uint64_t)port_start + port_size > 65535)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "port_pool: New: invalid port range: startL %u, size: %u",
				    (unsigned)port_start, port_size);
	if (pool->prefix > 32)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "invalid network pool prefix: %u",
				    pool->prefix);
	p = calloc(1, sizeof(*p));
	if (!p)
		return gdn_err_set(err, ENOMEM, "subnet pool");
	p->dyn_base = gdn_net_cidr_network(pool);
	p->dyn_prefix = pool->prefix;
	/* Capacity(): 2^(32 - prefix) / 4, so none for a /31 or /32. */
	p->dyn_count = pool->prefix <= 30 ? 1ULL << (30 - pool->prefix) : 0;
	p->slots_cap = 16;
	p->port_start = port_start;
	p->port_size = port_size;
	p->port_free = port_size;
	p->dyn_used = bitmap_new(p->dyn_count);
	p->slots = calloc(p->slots_cap, sizeof(*p->slots));
	p->port_used = bitmap_new(port_size);
	if (!p->dyn_used || !p->slots || !p->port_used) {
		kw_pool_free(p);
		return gdn_err_set(err, ENOMEM, "subnet pool");
	}
	*ret = p;
	return 0;
}

void kw_pool_free(struct kw_pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; p->slots && i < p->slots_cap; i++)
		subnet_free(p->slots[i]);
	free(p->slots);
	free(p->others);
	free(p->dyn_used);
	free(p->port_used);
	free(p);
}
