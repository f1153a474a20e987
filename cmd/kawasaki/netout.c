/* Garden's NetOutRule to kw_rules, as guardian does it: encoding/json decodes the rule
 * (garden/net_out_rule.go), kawasaki/iptables/rule_translator.go validates it and makes one rule
 * per (port range x network range), rules.go turns each into iptables flags, and iptables-legacy
 * refuses some of those flags; kw_ipt builds entries instead, so those refusals are made here.
 *
 * The decoder walks the members in order as Go's does: each member goes to the field its name
 * matches (ignoring case, with Go's folding of U+017F and U+212A), a later one overwriting an
 * earlier one; a type error is kept and decoding goes on, the first one kept is reported; an
 * invalid IP string (net.IP's UnmarshalText) stops decoding at once and is reported instead. A
 * null leaves a number or bool as it was and resets a slice or pointer; an array decodes into
 * the elements a previous array of the same field left (Go reuses the slice), as does an object
 * into a previous "icmps". What a json_t no longer holds cannot be followed: of members with
 * the very same name jansson keeps the last, at the first one's place (Go decodes each in
 * turn), and numbers are read from jansson: an integer as Go reads it; a real is never an
 * integer to Go, and is named as jansson prints it ("1.0"; Go would print the literal as sent,
 * e.g. "1e0"; "-0" is an integer 0 to jansson, an error to Go). */
#include <inttypes.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "cmd/kawasaki/netout.h"
#include "lib/net.h"
#include "lib/util.h"

enum { GO_ALL = 0, GO_TCP = 1, GO_UDP = 2, GO_ICMP = 3 };

struct go_ip {
	bool set; /* a nil net.IP is absent */
	int family;
	unsigned char b[16];
};

struct go_iprange {
	struct go_ip start, end;
};

struct go_portrange {
	uint16_t start, end;
};

/* A slice as Go's decoder sees it: elements up to cap survive a shorter array. */
struct go_slice {
	void *v;
	size_t n, cap, size;
};

struct go_rule {
	uint8_t protocol;
	struct go_slice networks, ports;
	bool icmps_set;
	uint8_t icmp_type;
	bool code_set;
	uint8_t icmp_code;
	bool log;
};

/* The decoder's errors: the first type error, kept while decoding goes on. */
struct dec {
	struct gdn_err *saved;
};

/* Go's field matching: ASCII case folded, and the two non-ASCII runes whose simple folding is
 * ASCII (U+017F LATIN SMALL LETTER LONG S -> s, U+212A KELVIN SIGN -> k). */
static bool key_is(const char *key, const char *field)
{
	const unsigned char *k = (const unsigned char *)key;

	for (const char *f = field; *f; f++) {
		if (*f == 's' && k[0] == 0xc5 && k[1] == 0xbf)
			k += 2;
		else if (*f == 'k' && k[0] == 0xe2 && k[1] == 0x84 && k[2] == 0xaa)
			k += 3;
		else if (*k < 0x80 && (*k | 0x20) == *f && ((*f >= 'a' && *f <= 'z') || *k == *f))
			k++;
		else
			return false;
	}
	return *k == '\0';
}

static const char *kind(const json_t *v)
{
	uint64_t u;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return gdn_json_u64_value(v, &u) == 0 ? "number" : "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "bool";
	case JSON_NULL:
		return "null";
	}
	return "null";
}

static bool is_number(const json_t *v)
{
	return strcmp(kind(v), "number") == 0;
}

/* The number as Go's "number <literal>" names it. */
static void number_text(const json_t *v, char *out, size_t n)
{
	uint64_t u;

	if (json_is_integer(v)) {
		(void)snprintf(out, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else if (gdn_json_u64_value(v, &u) == 0) {
		(void)snprintf(out, n, "%" PRIu64, u);
	} else {
		char *s = json_dumps(v, JSON_ENCODE_ANY);

		(void)snprintf(out, n, "%s", s ? s : "?");
		free(s);
	}
}

/* Go's UnmarshalTypeError: Struct is the innermost struct, Field the path of JSON names from the
 * top (Go >= 1.20), and a number is named with its literal only when the field is numeric. */
static void type_error(struct dec *d, const char *owner, const char *path, const json_t *v,
		       const char *gotype, bool numeric)
{
	char what[96];

	if (d->saved)
		return;
	if (numeric && is_number(v)) {
		char lit[64];

		number_text(v, lit, sizeof(lit));
		(void)snprintf(what, sizeof(what), "number %s", lit);
	} else {
		(void)snprintf(what, sizeof(what), "%s", kind(v));
	}
	(void)gdn_err_kind(&d->saved, GDN_ERR_GENERIC, EINVAL,
			   "json: cannot unmarshal %s into Go struct field %s.%s of type %s", what,
			   owner, path, gotype);
}

static void get_uint(struct dec *d, const json_t *v, uint64_t max, const char *owner,
		     const char *path, const char *gotype, uint64_t *out)
{
	if (json_is_null(v))
		return;
	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    (uint64_t)json_integer_value(v) <= max)
		*out = (uint64_t)json_integer_value(v);
	else
		type_error(d, owner, path, v, gotype, true);
}

static void get_u8(struct dec *d, const json_t *v, const char *owner, const char *path,
		   const char *gotype, uint8_t *out)
{
	uint64_t u = *out;

	get_uint(d, v, UINT8_MAX, owner, path, gotype, &u);
	*out = (uint8_t)u;
}

static void get_u16(struct dec *d, const json_t *v, const char *owner, const char *path,
		    uint16_t *out)
{
	uint64_t u = *out;

	get_uint(d, v, UINT16_MAX, owner, path, "uint16", &u);
	*out = (uint16_t)u;
}

/* net.IP's UnmarshalText: "" is nil, anything net.ParseIP refuses stops the decoding. */
static int get_ip(struct dec *d, const json_t *v, const char *path, struct go_ip *ip,
		  struct gdn_err **err)
{
	const char *s;

	if (json_is_null(v)) {
		ip->set = false;
		return 0;
	}
	if (!json_is_string(v)) {
		type_error(d, "IPRange", path, v, "net.IP", false);
		return 0;
	}
	s = json_string_value(v);
	if (!s[0]) {
		ip->set = false;
		return 0;
	}
	if (gdn_net_parse_ip(s, &ip->family, ip->b) < 0)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "invalid IP address: %s", s);
	ip->set = true;
	return 0;
}

/* Go's slice decoding: elements past the old capacity start zeroed, the others are decoded into
 * as they are; an empty array leaves an empty slice (no capacity), null a nil one. */
static int slice_elem(struct go_slice *s, size_t i, void **ret, struct gdn_err **err)
{
	if (i >= s->cap) {
		void *p = reallocarray(s->v, i + 1, s->size);

		if (!p)
			return gdn_err_set(err, ENOMEM, "decoding a NetOutRule");
		s->v = p;
		memset((char *)p + i * s->size, 0, s->size);
		s->cap = i + 1;
	}
	*ret = (char *)s->v + i * s->size;
	return 0;
}

static int get_iprange(struct dec *d, const json_t *v, struct go_iprange *r, struct gdn_err **err)
{
	const char *k;
	json_t *m;
	int ret;

	if (json_is_null(v))
		return 0;
	if (!json_is_object(v) || is_number(v)) {
		type_error(d, "NetOutRule", "networks", v, "garden.IPRange", false);
		return 0;
	}
	json_object_foreach ((json_t *)v, k, m) {
		if (key_is(k, "start"))
			ret = get_ip(d, m, "networks.start", &r->start, err);
		else if (key_is(k, "end"))
			ret = get_ip(d, m, "networks.end", &r->end, err);
		else
			ret = 0;
		if (ret < 0)
			return ret;
	}
	return 0;
}

static void get_portrange(struct dec *d, const json_t *v, struct go_portrange *p)
{
	const char *k;
	json_t *m;

	if (json_is_null(v))
		return;
	if (!json_is_object(v) || is_number(v)) {
		type_error(d, "NetOutRule", "ports", v, "garden.PortRange", false);
		return;
	}
	json_object_foreach ((json_t *)v, k, m) {
		if (key_is(k, "start"))
			get_u16(d, m, "PortRange", "ports.start", &p->start);
		else if (key_is(k, "end"))
			get_u16(d, m, "PortRange", "ports.end", &p->end);
	}
}

static int get_slice(struct dec *d, const json_t *v, struct go_slice *s, bool networks,
		     struct gdn_err **err)
{
	size_t i;
	json_t *item;
	int r;

	if (json_is_null(v)) {
		s->n = s->cap = 0;
		return 0;
	}
	if (!json_is_array(v)) {
		type_error(d, "NetOutRule", networks ? "networks" : "ports", v,
			   networks ? "[]garden.IPRange" : "[]garden.PortRange", false);
		return 0;
	}
	json_array_foreach (v, i, item) {
		void *e = NULL;

		if ((r = slice_elem(s, i, &e, err)) < 0)
			return r;
		if (networks && (r = get_iprange(d, item, e, err)) < 0)
			return r;
		if (!networks)
			get_portrange(d, item, e);
	}
	s->n = json_array_size(v);
	if (s->n == 0)
		s->cap = 0;
	return 0;
}

static void get_icmps(struct dec *d, const json_t *v, struct go_rule *g)
{
	const char *k;
	json_t *m;

	if (json_is_null(v)) {
		g->icmps_set = false;
		return;
	}
	if (!g->icmps_set) {
		g->icmps_set = true;
		g->icmp_type = 0;
		g->code_set = false;
		g->icmp_code = 0;
	}
	if (!json_is_object(v) || is_number(v)) {
		type_error(d, "NetOutRule", "icmps", v, "garden.ICMPControl", false);
		return;
	}
	json_object_foreach ((json_t *)v, k, m) {
		if (key_is(k, "type")) {
			get_u8(d, m, "ICMPControl", "icmps.type", "garden.ICMPType", &g->icmp_type);
		} else if (key_is(k, "code")) {
			if (json_is_null(m)) {
				g->code_set = false;
				continue;
			}
			if (!g->code_set)
				g->icmp_code = 0;
			g->code_set = true;
			get_u8(d, m, "ICMPControl", "icmps.code", "garden.ICMPCode", &g->icmp_code);
		}
	}
}

static void get_bool(struct dec *d, const json_t *v, bool *out)
{
	if (json_is_boolean(v))
		*out = json_is_true(v);
	else if (!json_is_null(v))
		type_error(d, "NetOutRule", "log", v, "bool", false);
}

static int decode(const json_t *rule, struct go_rule *g, struct gdn_err **err)
{
	struct dec d = {0};
	const char *k;
	json_t *v;
	int r = 0;

	g->networks.size = sizeof(struct go_iprange);
	g->ports.size = sizeof(struct go_portrange);
	if (!rule || json_is_null(rule))
		return 0;
	if (!json_is_object(rule) || is_number(rule))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "json: cannot unmarshal %s into Go value of type "
				    "garden.NetOutRule",
				    kind(rule));
	json_object_foreach ((json_t *)rule, k, v) {
		if (key_is(k, "protocol"))
			get_u8(&d, v, "NetOutRule", "protocol", "garden.Protocol", &g->protocol);
		else if (key_is(k, "networks"))
			r = get_slice(&d, v, &g->networks, true, err);
		else if (key_is(k, "ports"))
			r = get_slice(&d, v, &g->ports, false, err);
		else if (key_is(k, "icmps"))
			get_icmps(&d, v, g);
		else if (key_is(k, "log"))
			get_bool(&d, v, &g->log);
		if (r < 0) {
			gdn_err_free(d.saved);
			return r;
		}
	}
	if (!d.saved)
		return 0;
	r = gdn_err_code(d.saved);
	if (err && !*err)
		*err = d.saved;
	else
		gdn_err_free(d.saved);
	return r;
}

static bool ip_v4(const struct go_ip *ip, uint32_t *ret)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	const unsigned char *b = ip->b;

	if (ip->family == AF_INET6) {
		if (memcmp(b, mapped, sizeof(mapped)) != 0)
			return false;
		b += 12;
	}
	*ret = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	return true;
}

/* net.IP's String() of an address that is not IPv4: RFC 5952 as Go's netip prints it (the
 * longest run of two or more zero groups, the first of equal runs, becomes "::"; no embedded
 * IPv4 form). */
static const char *ip6_str(const unsigned char b[16], char out[40])
{
	int best = -1, best_len = 0;
	size_t n = 0;

	for (int i = 0; i < 8;) {
		int j = i;

		while (j < 8 && b[2 * j] == 0 && b[2 * j + 1] == 0)
			j++;
		if (j - i > best_len && j - i >= 2)
			best = i, best_len = j - i;
		i = j > i ? j : i + 1;
	}
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			n += (size_t)snprintf(out + n, 40 - n, "::");
			i += best_len - 1;
			continue;
		}
		n += (size_t)snprintf(out + n, 40 - n, "%s%x", n && out[n - 1] != ':' ? ":" : "",
				      (unsigned)(b[2 * i] << 8 | b[2 * i + 1]));
	}
	out[n] = '\0';
	return out;
}

static const char *go_ip_str(const struct go_ip *ip, char out[40])
{
	uint32_t v4;

	if (ip_v4(ip, &v4))
		return gdn_net_ipv4_str(v4, out);
	return ip6_str(ip->b, out);
}

/* One rule's flags as rules.go writes them and iptables reads them, in iptables' order of
 * parsing: --dst-range and --destination-port and --icmp-type while it reads the options,
 * --destination once all are read. What iptables refuses is refused in its words (without its
 * "iptables v1.8.9 (legacy): "), with EDOM. */
static int one(const struct go_rule *g, const struct go_iprange *net,
	       const struct go_portrange *ports, struct kw_rule *r, struct gdn_err **err)
{
	static const uint8_t protos[] = {
	    [GO_ALL] = 0, [GO_TCP] = IPPROTO_TCP, [GO_UDP] = IPPROTO_UDP, [GO_ICMP] = IPPROTO_ICMP};
	const struct go_ip *dst = NULL;
	char s[40];

	r->proto = protos[g->protocol];
	if (net && net->start.set && net->end.set) {
		if (!ip_v4(&net->start, &r->dst_range_lo))
			return gdn_err_kind(err, GDN_ERR_GENERIC, EDOM,
					    "iprange: Bad value for \"--dst-range\" option: \"%s\"",
					    go_ip_str(&net->start, s));
		if (!ip_v4(&net->end, &r->dst_range_hi))
			return gdn_err_kind(err, GDN_ERR_GENERIC, EDOM,
					    "iprange: Bad value for \"--dst-range\" option: \"%s\"",
					    go_ip_str(&net->end, s));
		r->dst_range = true;
	} else if (net) {
		dst = net->start.set ? &net->start : net->end.set ? &net->end : NULL;
	}
	if (ports) {
		if (g->protocol == GO_TCP && ports->start > ports->end)
			return gdn_err_kind(err, GDN_ERR_GENERIC, EDOM,
					    "invalid portrange (min > max)");
		r->dport = true;
		r->dport_lo = ports->start;
		r->dport_hi = ports->end;
	}
	if (g->icmps_set) {
		if (g->protocol != GO_ICMP)
			return gdn_err_kind(err, GDN_ERR_GENERIC, EDOM,
					    "unknown option \"--icmp-type\"");
		r->icmp = true;
		r->icmp_type = g->icmp_type;
		r->icmp_code = g->icmp_code;
		r->icmp_any_code = !g->code_set;
	}
	if (dst) {
		if (!ip_v4(dst, &r->dst))
			return gdn_err_kind(err, GDN_ERR_GENERIC, EDOM,
					    "host/network `%s' not found", go_ip_str(dst, s));
		r->dst_mask = 0xffffffff;
	}
	return 0;
}

static const char *proto_upper(uint8_t p)
{
	switch (p) {
	case GO_ALL:
		return "ALL";
	case GO_TCP:
		return "TCP";
	case GO_UDP:
		return "UDP";
	case GO_ICMP:
		return "ICMP";
	default:
		return ""; /* protocols[p] of a Go map without p */
	}
}

static const struct go_iprange *net_at(const struct go_rule *g, size_t j)
{
	return g->networks.n ? (const struct go_iprange *)g->networks.v + j : NULL;
}

static const struct go_portrange *ports_at(const struct go_rule *g, size_t i)
{
	return g->ports.n ? (const struct go_portrange *)g->ports.v + i : NULL;
}

static int rules_of(const struct go_rule *g, const char *handle, const char *log_chain,
		    struct kw_netout *out, struct gdn_err **err)
{
	size_t np = g->ports.n ? g->ports.n : 1, nn = g->networks.n ? g->networks.n : 1, total;
	struct kw_rule *rules, k;
	int r;

	if (g->ports.n > 0 && g->protocol != GO_TCP && g->protocol != GO_UDP)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "Ports cannot be specified for Protocol %s",
				    proto_upper(g->protocol));
	if (g->protocol > GO_ICMP)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "invalid protocol: %u",
				    g->protocol);
	/* ports outer, networks inner, as rule_translator.go loops; every rule is checked before
	 * any is appended */
	for (size_t i = 0; i < np; i++)
		for (size_t j = 0; j < nn; j++)
			if ((r = one(g, net_at(g, j), ports_at(g, i), &(struct kw_rule){0}, err)) <
			    0)
				return r;
	if (nn > (SIZE_MAX - out->n) / np)
		return gdn_err_set(err, ENOMEM, "translating a NetOutRule");
	total = out->n + np * nn;
	rules = reallocarray(out->rules, total, sizeof(*rules));
	if (!rules)
		return gdn_err_set(err, ENOMEM, "translating a NetOutRule");
	out->rules = rules;
	for (size_t i = 0; i < np; i++)
		for (size_t j = 0; j < nn; j++) {
			k = (struct kw_rule){.comment = handle,
					     .target = g->log ? KW_T_GOTO : KW_T_RETURN,
					     .chain = g->log ? log_chain : NULL};
			(void)one(g, net_at(g, j), ports_at(g, i), &k, NULL);
			rules[out->n + i * nn + j] = k;
		}
	out->n = total;
	return 0;
}

int kw_netout_translate(const json_t *rule, const char *handle, const char *log_chain,
			struct kw_netout *out, struct gdn_err **err)
{
	struct go_rule g = {0};
	int r = decode(rule, &g, err);

	if (r >= 0)
		r = rules_of(&g, handle, log_chain, out, err);
	free(g.networks.v);
	free(g.ports.v);
	return r;
}

int kw_netout_decode_check(const json_t *rule, struct gdn_err **err)
{
	struct go_rule g = {0};
	int r = decode(rule, &g, err);

	free(g.networks.v);
	free(g.ports.v);
	return r;
}

void kw_netout_free(struct kw_netout *out)
{
	free(out->rules);
	out->rules = NULL;
	out->n = 0;
}
