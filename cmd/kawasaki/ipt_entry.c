/* Building struct ipt_entry blobs as iptables-legacy 1.8.9 builds them, and comparing them.
 *
 * Layout (checked against the entries iptables-legacy makes on this kernel, see
 * test/unit/test_kw_ipt.c): struct ipt_entry, then the matches in the order iptables loads them
 * for guardian's command lines (conntrack, iprange, tcp/udp/icmp, comment), then the target; every
 * part XT_ALIGNed, every byte not set below zero (iptables callocs its entries). */
/* libiptc first: its net/if.h must come before the first linux/ header (libc-compat.h) */
#include "cmd/kawasaki/ipt_entry.h"
#include <arpa/inet.h>
#include <string.h>
#include <bsd/string.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_iprange.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <linux/netfilter_ipv4/ipt_LOG.h>
#include <linux/netfilter_ipv4/ipt_REJECT.h>

/* iptables' limits: the LOG prefix field is 30 bytes, a chain name must fit a target name. */
#define LOG_PREFIX_MAX (sizeof(((struct ipt_log_info *)0)->prefix) - 1)
#define CHAIN_NAME_MAX (XT_EXTENSION_MAXNAMELEN - 1)
#define LOG_LEVEL_WARNING 4 /* LOG's default --log-level (syslog's LOG_WARNING) */

static size_t match_size(size_t data)
{
	return XT_ALIGN(sizeof(struct xt_entry_match)) + XT_ALIGN(data);
}

static size_t target_size(size_t data)
{
	return XT_ALIGN(sizeof(struct xt_entry_target)) + XT_ALIGN(data);
}

const char *kw_ipt_rule_target(const struct kw_rule *r)
{
	switch (r->target) {
	case KW_T_ACCEPT:
		return "ACCEPT";
	case KW_T_DROP:
		return "DROP";
	case KW_T_RETURN:
		return "RETURN";
	case KW_T_REJECT:
		return "REJECT";
	case KW_T_JUMP:
	case KW_T_GOTO:
		return r->chain ? r->chain : "";
	case KW_T_LOG:
		return "LOG";
	case KW_T_MASQUERADE:
		return "MASQUERADE";
	case KW_T_DNAT:
		return "DNAT";
	}
	return "";
}

bool kw_ipt_rule_target_is_module(const struct kw_rule *r)
{
	return r->target == KW_T_REJECT || r->target == KW_T_LOG || r->target == KW_T_MASQUERADE ||
	       r->target == KW_T_DNAT;
}

/* The bytes a target's data takes, before alignment (0 for a standard target: see below). */
static size_t target_data_size(const struct kw_rule *r)
{
	switch (r->target) {
	case KW_T_REJECT:
		return sizeof(struct ipt_reject_info);
	case KW_T_LOG:
		return sizeof(struct ipt_log_info);
	case KW_T_MASQUERADE:
		return sizeof(struct nf_nat_ipv4_multi_range_compat);
	case KW_T_DNAT:
		return sizeof(struct nf_nat_range2);
	default:
		return 0;
	}
}

/* As xtables_parse_interface: the name as given ('+' kept), the mask over its bytes and the NUL,
 * or, for a "prefix+" wildcard, over the prefix only. */
static int set_iface(const char *name, char via[IFNAMSIZ], unsigned char mask[IFNAMSIZ],
		     struct gdn_err **err)
{
	size_t n;

	if (!name)
		return 0;
	n = strlen(name);
	if (n + 1 > IFNAMSIZ)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "interface name `%s' must be shorter than IFNAMSIZ (%d)", name,
				    IFNAMSIZ - 1);
	memcpy(via, name, n);
	if (n == 0)
		return 0;
	memset(mask, 0xff, name[n - 1] == '+' ? n - 1 : n + 1);
	return 0;
}

static int check_rule(const struct kw_rule *r, struct gdn_err **err)
{
	if (r->dport && r->proto != IPPROTO_TCP && r->proto != IPPROTO_UDP)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "unknown option \"--destination-port\"");
	if (r->icmp && r->proto != IPPROTO_ICMP)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "unknown option \"--icmp-type\"");
	if ((r->target == KW_T_JUMP || r->target == KW_T_GOTO) && (!r->chain || !r->chain[0]))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "a jump needs a chain");
	if ((r->target == KW_T_JUMP || r->target == KW_T_GOTO) && strlen(r->chain) > CHAIN_NAME_MAX)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "chain name `%s' too long (must be under %u chars)", r->chain,
				    (unsigned)XT_EXTENSION_MAXNAMELEN);
	if (r->target == KW_T_LOG && r->log_prefix && strlen(r->log_prefix) > LOG_PREFIX_MAX)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "Maximum prefix length %zu for --log-prefix", LOG_PREFIX_MAX);
	if (r->target == KW_T_LOG && r->log_prefix && strchr(r->log_prefix, '\n'))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "Newlines not allowed in --log-prefix");
	if (r->target == KW_T_DNAT && r->dnat_port && r->proto != IPPROTO_TCP &&
	    r->proto != IPPROTO_UDP)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "Need TCP, UDP, SCTP or DCCP with port specification");
	return 0;
}

static void *add_match(char *base, size_t *off, const char *name, uint8_t rev, size_t data)
{
	struct xt_entry_match *m = (void *)(base + *off);

	m->u.user.match_size = (uint16_t)match_size(data);
	(void)strlcpy(m->u.user.name, name, sizeof(m->u.user.name));
	m->u.user.revision = rev;
	*off += m->u.user.match_size;
	return m->data;
}

static uint32_t ct_states(unsigned s)
{
	uint32_t m = 0;

	if (s & KW_CT_NEW)
		m |= XT_CONNTRACK_STATE_BIT(IP_CT_NEW);
	if (s & KW_CT_ESTABLISHED)
		m |= XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED);
	if (s & KW_CT_RELATED)
		m |= XT_CONNTRACK_STATE_BIT(IP_CT_RELATED);
	if (s & KW_CT_UNTRACKED)
		m |= XT_CONNTRACK_STATE_UNTRACKED;
	if (s & KW_CT_INVALID)
		m |= XT_CONNTRACK_STATE_INVALID;
	return m;
}

static void fill_ip(const struct kw_rule *r, struct ipt_ip *ip)
{
	/* iptables keeps only the network part of an address with a mask */
	ip->src.s_addr = htonl(r->src & r->src_mask);
	ip->smsk.s_addr = htonl(r->src_mask);
	ip->dst.s_addr = htonl(r->dst & r->dst_mask);
	ip->dmsk.s_addr = htonl(r->dst_mask);
	if (r->src_neg)
		ip->invflags |= IPT_INV_SRCIP;
	if (r->dst_neg)
		ip->invflags |= IPT_INV_DSTIP;
	ip->proto = r->proto;
	if (r->target == KW_T_GOTO)
		ip->flags |= IPT_F_GOTO;
}

static void fill_matches(const struct kw_rule *r, char *base, size_t *off)
{
	if (r->ctstate) {
		struct xt_conntrack_mtinfo3 *ct =
		    add_match(base, off, "conntrack", 3, sizeof(struct xt_conntrack_mtinfo3));

		ct->match_flags = XT_CONNTRACK_STATE;
		ct->state_mask = (uint16_t)ct_states(r->ctstate);
	}
	if (r->dst_range) {
		struct xt_iprange_mtinfo *ir =
		    add_match(base, off, "iprange", 1, sizeof(struct xt_iprange_mtinfo));

		ir->flags = IPRANGE_DST;
		ir->dst_min.ip = htonl(r->dst_range_lo);
		ir->dst_max.ip = htonl(r->dst_range_hi);
	}
	if (r->dport && r->proto == IPPROTO_TCP) {
		struct xt_tcp *tcp = add_match(base, off, "tcp", 0, sizeof(struct xt_tcp));

		tcp->spts[1] = 0xffff;
		tcp->dpts[0] = r->dport_lo;
		tcp->dpts[1] = r->dport_hi;
	} else if (r->dport) {
		struct xt_udp *udp = add_match(base, off, "udp", 0, sizeof(struct xt_udp));

		udp->spts[1] = 0xffff;
		udp->dpts[0] = r->dport_lo;
		udp->dpts[1] = r->dport_hi;
	}
	if (r->icmp) {
		struct ipt_icmp *icmp = add_match(base, off, "icmp", 0, sizeof(struct ipt_icmp));

		icmp->type = r->icmp_type;
		icmp->code[0] = r->icmp_any_code ? 0 : r->icmp_code;
		icmp->code[1] = r->icmp_any_code ? 0xff : r->icmp_code;
	}
	if (r->comment) {
		struct xt_comment_info *c =
		    add_match(base, off, "comment", 0, sizeof(struct xt_comment_info));

		/* iptables cuts a longer comment silently */
		(void)strlcpy(c->comment, r->comment, sizeof(c->comment));
	}
}

static void fill_target(const struct kw_rule *r, struct xt_entry_target *t)
{
	(void)strlcpy(t->u.user.name, kw_ipt_rule_target(r), sizeof(t->u.user.name));
	switch (r->target) {
	case KW_T_REJECT: {
		struct ipt_reject_info *ri = (void *)t->data;

		ri->with = r->reject_with == KW_REJECT_HOST_PROHIBITED ? IPT_ICMP_HOST_PROHIBITED
								       : IPT_ICMP_PORT_UNREACHABLE;
		break;
	}
	case KW_T_LOG: {
		struct ipt_log_info *li = (void *)t->data;

		li->level = LOG_LEVEL_WARNING;
		if (r->log_prefix)
			(void)strlcpy(li->prefix, r->log_prefix, sizeof(li->prefix));
		break;
	}
	case KW_T_MASQUERADE: {
		struct nf_nat_ipv4_multi_range_compat *mr = (void *)t->data;

		mr->rangesize = 1;
		break;
	}
	case KW_T_DNAT: {
		struct nf_nat_range2 *nr = (void *)t->data;

		t->u.user.revision = 2;
		nr->flags = NF_NAT_RANGE_MAP_IPS;
		nr->min_addr.ip = htonl(r->dnat_ip);
		nr->max_addr.ip = htonl(r->dnat_ip);
		if (r->dnat_port) {
			nr->flags |= NF_NAT_RANGE_PROTO_SPECIFIED;
			nr->min_proto.tcp.port = htons(r->dnat_port);
			nr->max_proto.tcp.port = htons(r->dnat_port);
		}
		break;
	}
	default:
		break;
	}
}

int kw_ipt_entry_build(const struct kw_rule *r, struct ipt_entry **ret, struct gdn_err **err)
{
	size_t off = XT_ALIGN(sizeof(struct ipt_entry)), tsize, total = off;
	_cleanup_free_ char *base = NULL;
	struct ipt_entry *e;
	int ret_code;

	*ret = NULL;
	if ((ret_code = check_rule(r, err)) < 0)
		return ret_code;
	if (r->ctstate)
		total += match_size(sizeof(struct xt_conntrack_mtinfo3));
	if (r->dst_range)
		total += match_size(sizeof(struct xt_iprange_mtinfo));
	if (r->dport)
		total += match_size(sizeof(struct xt_tcp)); /* xt_udp has the same aligned size */
	if (r->icmp)
		total += match_size(sizeof(struct ipt_icmp));
	if (r->comment)
		total += match_size(sizeof(struct xt_comment_info));
	tsize = kw_ipt_rule_target_is_module(r) ? target_size(target_data_size(r))
						: XT_ALIGN(sizeof(struct xt_standard_target));
	total += tsize;

	base = calloc(1, total);
	if (!base)
		return gdn_err_set(err, ENOMEM, "building an iptables entry");
	e = (void *)base;
	fill_ip(r, &e->ip);
	if ((ret_code = set_iface(r->in_if, e->ip.iniface, e->ip.iniface_mask, err)) < 0 ||
	    (ret_code = set_iface(r->out_if, e->ip.outiface, e->ip.outiface_mask, err)) < 0)
		return ret_code;
	fill_matches(r, base, &off);
	e->target_offset = (uint16_t)off;
	e->next_offset = (uint16_t)(off + tsize);
	((struct xt_entry_target *)(void *)(base + off))->u.user.target_size = (uint16_t)tsize;
	fill_target(r, (void *)(base + off));
	*ret = gdn_steal_ptr(&base);
	return 0;
}

static bool iface_same(const char *a, const unsigned char *am, const char *b,
		       const unsigned char *bm)
{
	for (size_t i = 0; i < IFNAMSIZ; i++)
		if (am[i] != bm[i] || (a[i] & am[i]) != (b[i] & bm[i]))
			return false;
	return true;
}

static bool ip_same(const struct ipt_ip *a, const struct ipt_ip *b)
{
	return a->src.s_addr == b->src.s_addr && a->dst.s_addr == b->dst.s_addr &&
	       a->smsk.s_addr == b->smsk.s_addr && a->dmsk.s_addr == b->dmsk.s_addr &&
	       a->proto == b->proto && a->flags == b->flags && a->invflags == b->invflags &&
	       iface_same(a->iniface, a->iniface_mask, b->iniface, b->iniface_mask) &&
	       iface_same(a->outiface, a->outiface_mask, b->outiface, b->outiface_mask);
}

bool kw_ipt_entry_same(const struct ipt_entry *want, const struct kw_rule *r,
		       const struct ipt_entry *e, const struct kw_ipt_entry_target *et)
{
	const struct xt_entry_target *wt, *t;
	const char *wb = (const void *)want, *b = (const void *)e;
	size_t off;

	if (!ip_same(&want->ip, &e->ip) || want->target_offset != e->target_offset ||
	    want->next_offset != e->next_offset)
		return false;
	/* same offsets: the matches line up, so they compare as one run of bytes once their
	 * headers (whose name bytes past the NUL are zero on both sides) do */
	for (off = sizeof(struct ipt_entry); off < want->target_offset;) {
		const struct xt_entry_match *wm = (const void *)(wb + off),
					    *m = (const void *)(b + off);

		if (wm->u.user.match_size != m->u.user.match_size ||
		    strncmp(wm->u.user.name, m->u.user.name, sizeof(wm->u.user.name)) != 0 ||
		    wm->u.user.revision != m->u.user.revision ||
		    memcmp(wm->data, m->data, wm->u.user.match_size - sizeof(*wm)) != 0)
			return false;
		off += wm->u.user.match_size;
	}
	wt = (const void *)(wb + want->target_offset);
	t = (const void *)(b + e->target_offset);
	if (kw_ipt_rule_target_is_module(r) != et->module ||
	    strcmp(kw_ipt_rule_target(r), et->label) != 0 ||
	    wt->u.user.target_size != t->u.user.target_size)
		return false;
	if (!et->module)
		return true;
	return wt->u.user.revision == t->u.user.revision &&
	       memcmp(wt->data, t->data, wt->u.user.target_size - sizeof(*wt)) == 0;
}

const char *kw_ipt_entry_comment(const struct ipt_entry *e, char buf[256])
{
	const char *b = (const void *)e;

	for (size_t off = sizeof(struct ipt_entry); off < e->target_offset;) {
		const struct xt_entry_match *m = (const void *)(b + off);

		if (m->u.user.match_size < sizeof(*m))
			break; /* a corrupt entry: nothing past it can be trusted */
		if (strcmp(m->u.user.name, "comment") == 0 &&
		    m->u.user.match_size >= match_size(sizeof(struct xt_comment_info))) {
			const struct xt_comment_info *c = (const void *)m->data;

			memcpy(buf, c->comment, XT_MAX_COMMENT_LEN - 1);
			buf[XT_MAX_COMMENT_LEN - 1] = '\0';
			return buf;
		}
		off += m->u.user.match_size;
	}
	return NULL;
}
