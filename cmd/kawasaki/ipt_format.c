/* An entry as iptables-legacy-save 1.8.9 prints it (print_rule4 and the save functions of the
 * extensions kawasaki writes). The quirks are iptables' own: an address always gets its prefix
 * ("/32"), ICMP type 255 prints as "any" whatever its codes, strings are quoted only when they
 * hold a character outside [A-Za-z0-9_-]. */
/* libiptc first: its net/if.h must come before the first linux/ header (libc-compat.h) */
#include "cmd/kawasaki/ipt_entry.h"
#include <arpa/inet.h>
#include <netdb.h>
#include <string.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_iprange.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <linux/netfilter_ipv4/ipt_LOG.h>
#include <linux/netfilter_ipv4/ipt_REJECT.h>

#include "lib/net.h"

#define LOG_LEVEL_WARNING 4

/* inet_ntop of a network-order address */
static const char *ip_str(uint32_t be, char out[GDN_NET_IPV4_STRLEN])
{
	return gdn_net_ipv4_str(ntohl(be), out);
}

/* -1 for a mask that is not a prefix (xtables_ipmask_to_cidr) */
static int mask_prefix(uint32_t be)
{
	uint32_t m = ntohl(be);
	int bits = 0;

	while (bits < 32 && (m & (0x80000000u >> bits)))
		bits++;
	return (bits == 32 || (m << bits) == 0) ? bits : -1;
}

static int put_addr(struct gdn_buf *out, char letter, uint32_t addr, uint32_t mask, bool inv)
{
	char a[GDN_NET_IPV4_STRLEN], m[GDN_NET_IPV4_STRLEN];
	int prefix;

	if (!mask && !inv && !addr)
		return 0;
	prefix = mask_prefix(mask);
	if (prefix >= 0)
		return gdn_buf_printf(out, "%s -%c %s/%d", inv ? " !" : "", letter, ip_str(addr, a),
				      prefix);
	return gdn_buf_printf(out, "%s -%c %s/%s", inv ? " !" : "", letter, ip_str(addr, a),
			      ip_str(mask, m));
}

/* save_iface: the bytes the mask covers, then '+' when the mask ends before the name does */
static int put_iface(struct gdn_buf *out, char letter, const char *name, const unsigned char *mask,
		     bool inv)
{
	char s[IFNAMSIZ + 2];
	size_t n = 0;

	if (mask[0] == 0)
		return 0;
	for (size_t i = 0; i < IFNAMSIZ; i++) {
		if (mask[i] == 0) {
			if (name[i - 1] != '\0')
				s[n++] = '+';
			break;
		}
		if (name[i] != '\0')
			s[n++] = name[i];
	}
	s[n] = '\0';
	return gdn_buf_printf(out, "%s -%c %s", inv ? " !" : "", letter, s);
}

static int put_proto(struct gdn_buf *out, uint16_t proto, bool inv)
{
	struct protoent pe, *res = NULL;
	char buf[1024];

	if (!proto)
		return 0;
	switch (proto) {
	case IPPROTO_TCP:
		return gdn_buf_printf(out, "%s -p tcp", inv ? " !" : "");
	case IPPROTO_UDP:
		return gdn_buf_printf(out, "%s -p udp", inv ? " !" : "");
	case IPPROTO_ICMP:
		return gdn_buf_printf(out, "%s -p icmp", inv ? " !" : "");
	default:
		/* iptables names the others from /etc/protocols, as getprotobynumber does */
		if (getprotobynumber_r(proto, &pe, buf, sizeof(buf), &res) == 0 && res)
			return gdn_buf_printf(out, "%s -p %s", inv ? " !" : "", res->p_name);
		return gdn_buf_printf(out, "%s -p %u", inv ? " !" : "", (unsigned)proto);
	}
}

/* xtables_save_string */
static int put_string(struct gdn_buf *out, const char *s)
{
	static const char plain[] =
	    "_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	size_t n = strspn(s, plain);
	int r;

	if (n > 0 && s[n] == '\0')
		return gdn_buf_printf(out, " %s", s);
	if ((r = gdn_buf_puts(out, " \"")) < 0)
		return r;
	for (; *s; s++) {
		if ((*s == '"' || *s == '\\' || *s == '\'') && (r = gdn_buf_puts(out, "\\")) < 0)
			return r;
		if ((r = gdn_buf_append(out, s, 1)) < 0)
			return r;
	}
	return gdn_buf_puts(out, "\"");
}

static int put_ports(struct gdn_buf *out, const char *opt, const uint16_t pts[2], bool inv)
{
	if (pts[0] == 0 && pts[1] == 0xffff)
		return 0;
	if (pts[0] != pts[1])
		return gdn_buf_printf(out, "%s --%s %u:%u", inv ? " !" : "", opt, pts[0], pts[1]);
	return gdn_buf_printf(out, "%s --%s %u", inv ? " !" : "", opt, pts[0]);
}

static int put_tcp_flags(struct gdn_buf *out, uint8_t flags)
{
	static const struct {
		const char *name;
		uint8_t flag;
	} names[] = {{"FIN", 0x01}, {"SYN", 0x02}, {"RST", 0x04}, {"PSH", 0x08},
		     {"ACK", 0x10}, {"URG", 0x20}, {"ALL", 0x3f}};
	bool any = false;
	int r;

	while (flags) {
		size_t i = 0;

		while (i + 1 < GDN_ARRAY_SIZE(names) && !(flags & names[i].flag))
			i++;
		if ((r = gdn_buf_printf(out, "%s%s", any ? "," : "", names[i].name)) < 0)
			return r;
		any = true;
		flags &= (uint8_t)~names[i].flag;
	}
	return any ? 0 : gdn_buf_puts(out, "NONE");
}

static int put_tcp(struct gdn_buf *out, const struct xt_tcp *t)
{
	int r;

	if ((r = put_ports(out, "sport", t->spts, t->invflags & XT_TCP_INV_SRCPT)) < 0 ||
	    (r = put_ports(out, "dport", t->dpts, t->invflags & XT_TCP_INV_DSTPT)) < 0)
		return r;
	if ((t->option || (t->invflags & XT_TCP_INV_OPTION)) &&
	    (r = gdn_buf_printf(out, "%s --tcp-option %u",
				(t->invflags & XT_TCP_INV_OPTION) ? " !" : "", t->option)) < 0)
		return r;
	if (t->flg_mask || (t->invflags & XT_TCP_INV_FLAGS)) {
		if ((r = gdn_buf_printf(out, "%s --tcp-flags ",
					(t->invflags & XT_TCP_INV_FLAGS) ? " !" : "")) < 0 ||
		    (r = put_tcp_flags(out, t->flg_mask)) < 0 || (r = gdn_buf_puts(out, " ")) < 0 ||
		    (r = put_tcp_flags(out, t->flg_cmp)) < 0)
			return r;
	}
	return 0;
}

static int put_udp(struct gdn_buf *out, const struct xt_udp *u)
{
	int r = put_ports(out, "sport", u->spts, u->invflags & XT_UDP_INV_SRCPT);

	return r < 0 ? r : put_ports(out, "dport", u->dpts, u->invflags & XT_UDP_INV_DSTPT);
}

static int put_icmp(struct gdn_buf *out, const struct ipt_icmp *i)
{
	const char *inv = (i->invflags & IPT_ICMP_INV) ? " !" : "";

	/* 1.8.9's "special hack for 'any' case" looks at the type alone */
	if (i->type == 0xff)
		return gdn_buf_printf(out, "%s --icmp-type any", inv);
	if (i->code[0] != 0 || i->code[1] != 0xff)
		return gdn_buf_printf(out, "%s --icmp-type %u/%u", inv, i->type, i->code[0]);
	return gdn_buf_printf(out, "%s --icmp-type %u", inv, i->type);
}

static int put_ctstate(struct gdn_buf *out, const struct xt_conntrack_mtinfo3 *ct)
{
	static const struct {
		uint16_t bit;
		const char *name;
	} names[] = {
	    {XT_CONNTRACK_STATE_INVALID, "INVALID"},
	    {XT_CONNTRACK_STATE_BIT(IP_CT_NEW), "NEW"},
	    {XT_CONNTRACK_STATE_BIT(IP_CT_RELATED), "RELATED"},
	    {XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED), "ESTABLISHED"},
	    {XT_CONNTRACK_STATE_UNTRACKED, "UNTRACKED"},
	    {XT_CONNTRACK_STATE_SNAT, "SNAT"},
	    {XT_CONNTRACK_STATE_DNAT, "DNAT"},
	};
	const char *sep = " ";
	int r;

	if (!(ct->match_flags & XT_CONNTRACK_STATE))
		return 0;
	if ((r = gdn_buf_printf(out, "%s --ctstate",
				(ct->invert_flags & XT_CONNTRACK_STATE) ? " !" : "")) < 0)
		return r;
	for (size_t i = 0; i < GDN_ARRAY_SIZE(names); i++) {
		if (!(ct->state_mask & names[i].bit))
			continue;
		if ((r = gdn_buf_printf(out, "%s%s", sep, names[i].name)) < 0)
			return r;
		sep = ",";
	}
	return 0;
}

static int put_iprange(struct gdn_buf *out, const struct xt_iprange_mtinfo *ir)
{
	char lo[GDN_NET_IPV4_STRLEN], hi[GDN_NET_IPV4_STRLEN];
	int r;

	if ((ir->flags & IPRANGE_SRC) &&
	    (r = gdn_buf_printf(out, "%s --src-range %s-%s",
				(ir->flags & IPRANGE_SRC_INV) ? " !" : "",
				ip_str(ir->src_min.ip, lo), ip_str(ir->src_max.ip, hi))) < 0)
		return r;
	if (ir->flags & IPRANGE_DST)
		return gdn_buf_printf(out, "%s --dst-range %s-%s",
				      (ir->flags & IPRANGE_DST_INV) ? " !" : "",
				      ip_str(ir->dst_min.ip, lo), ip_str(ir->dst_max.ip, hi));
	return 0;
}

static bool is(const char *name, uint8_t rev, size_t size, const char *want_name, uint8_t want_rev,
	       size_t want_data)
{
	return strcmp(name, want_name) == 0 && rev == want_rev && size >= XT_ALIGN(want_data);
}

static int put_match(struct gdn_buf *out, const struct xt_entry_match *m)
{
	const char *name = m->u.user.name;
	uint8_t rev = m->u.user.revision;
	size_t size = m->u.user.match_size - sizeof(*m);
	int r;

	if ((r = gdn_buf_printf(out, " -m %s", name)) < 0)
		return r;
	if (is(name, rev, size, "conntrack", 3, sizeof(struct xt_conntrack_mtinfo3)))
		return put_ctstate(out, (const void *)m->data);
	if (is(name, rev, size, "iprange", 1, sizeof(struct xt_iprange_mtinfo)))
		return put_iprange(out, (const void *)m->data);
	if (is(name, rev, size, "tcp", 0, sizeof(struct xt_tcp)))
		return put_tcp(out, (const void *)m->data);
	if (is(name, rev, size, "udp", 0, sizeof(struct xt_udp)))
		return put_udp(out, (const void *)m->data);
	if (is(name, rev, size, "icmp", 0, sizeof(struct ipt_icmp)))
		return put_icmp(out, (const void *)m->data);
	if (is(name, rev, size, "comment", 0, sizeof(struct xt_comment_info))) {
		char c[XT_MAX_COMMENT_LEN];

		memcpy(c, ((const struct xt_comment_info *)(const void *)m->data)->comment,
		       sizeof(c) - 1);
		c[sizeof(c) - 1] = '\0';
		if ((r = gdn_buf_puts(out, " --comment")) < 0)
			return r;
		return put_string(out, c);
	}
	return 0;
}

static int put_reject(struct gdn_buf *out, const struct ipt_reject_info *ri)
{
	static const char *const names[] = {
	    [IPT_ICMP_NET_UNREACHABLE] = "icmp-net-unreachable",
	    [IPT_ICMP_HOST_UNREACHABLE] = "icmp-host-unreachable",
	    [IPT_ICMP_PROT_UNREACHABLE] = "icmp-proto-unreachable",
	    [IPT_ICMP_PORT_UNREACHABLE] = "icmp-port-unreachable",
	    [IPT_ICMP_NET_PROHIBITED] = "icmp-net-prohibited",
	    [IPT_ICMP_HOST_PROHIBITED] = "icmp-host-prohibited",
	    [IPT_TCP_RESET] = "tcp-reset",
	    [IPT_ICMP_ADMIN_PROHIBITED] = "icmp-admin-prohibited",
	};

	if ((size_t)ri->with < GDN_ARRAY_SIZE(names) && names[ri->with])
		return gdn_buf_printf(out, " --reject-with %s", names[ri->with]);
	return 0;
}

static int put_log(struct gdn_buf *out, const struct ipt_log_info *li)
{
	static const struct {
		unsigned char flag;
		const char *opt;
	} flags[] = {{IPT_LOG_TCPSEQ, "--log-tcp-sequence"},
		     {IPT_LOG_TCPOPT, "--log-tcp-options"},
		     {IPT_LOG_IPOPT, "--log-ip-options"},
		     {IPT_LOG_UID, "--log-uid"},
		     {IPT_LOG_MACDECODE, "--log-macdecode"}};
	char prefix[sizeof(li->prefix) + 1];
	int r;

	memcpy(prefix, li->prefix, sizeof(li->prefix));
	prefix[sizeof(li->prefix)] = '\0';
	if (prefix[0] &&
	    ((r = gdn_buf_puts(out, " --log-prefix")) < 0 || (r = put_string(out, prefix)) < 0))
		return r;
	if (li->level != LOG_LEVEL_WARNING &&
	    (r = gdn_buf_printf(out, " --log-level %d", li->level)) < 0)
		return r;
	for (size_t i = 0; i < GDN_ARRAY_SIZE(flags); i++)
		if ((li->logflags & flags[i].flag) &&
		    (r = gdn_buf_printf(out, " %s", flags[i].opt)) < 0)
			return r;
	return 0;
}

static int put_masquerade(struct gdn_buf *out, const struct nf_nat_ipv4_multi_range_compat *mr)
{
	const struct nf_nat_ipv4_range *nr = &mr->range[0];
	int r;

	if (nr->flags & NF_NAT_RANGE_PROTO_SPECIFIED) {
		if ((r = gdn_buf_printf(out, " --to-ports %u", ntohs(nr->min.tcp.port))) < 0)
			return r;
		if (nr->max.tcp.port != nr->min.tcp.port &&
		    (r = gdn_buf_printf(out, "-%u", ntohs(nr->max.tcp.port))) < 0)
			return r;
	}
	if ((nr->flags & NF_NAT_RANGE_PROTO_RANDOM) && (r = gdn_buf_puts(out, " --random")) < 0)
		return r;
	if (nr->flags & NF_NAT_RANGE_PROTO_RANDOM_FULLY)
		return gdn_buf_puts(out, " --random-fully");
	return 0;
}

/* libxt_NAT's sprint_range and __NAT_print for an IPv4 DNAT */
static int put_dnat(struct gdn_buf *out, const struct nf_nat_range2 *nr)
{
	char a[GDN_NET_IPV4_STRLEN], b[GDN_NET_IPV4_STRLEN];
	struct gdn_buf range = {0};
	int r = 0;

	if (nr->flags & NF_NAT_RANGE_MAP_IPS) {
		r = gdn_buf_puts(&range, ip_str(nr->min_addr.ip, a));
		if (r >= 0 && memcmp(&nr->min_addr, &nr->max_addr, sizeof(nr->min_addr)) != 0)
			r = gdn_buf_printf(&range, "-%s", ip_str(nr->max_addr.ip, b));
	}
	if (r >= 0 && (nr->flags & NF_NAT_RANGE_PROTO_SPECIFIED)) {
		r = gdn_buf_printf(&range, ":%u", ntohs(nr->min_proto.tcp.port));
		if (r >= 0 && nr->max_proto.tcp.port != nr->min_proto.tcp.port)
			r = gdn_buf_printf(&range, "-%u", ntohs(nr->max_proto.tcp.port));
		if (r >= 0 && (nr->flags & NF_NAT_RANGE_PROTO_OFFSET))
			r = gdn_buf_printf(&range, "/%u", ntohs(nr->base_proto.tcp.port));
	}
	if (r >= 0 && range.len)
		r = gdn_buf_printf(out, " --to-destination %s", range.data);
	gdn_buf_free(&range);
	if (r >= 0 && (nr->flags & NF_NAT_RANGE_PROTO_RANDOM))
		r = gdn_buf_puts(out, " --random");
	if (r >= 0 && (nr->flags & NF_NAT_RANGE_PERSISTENT))
		r = gdn_buf_puts(out, " --persistent");
	if (r >= 0 && (nr->flags & NF_NAT_RANGE_PROTO_RANDOM_FULLY))
		r = gdn_buf_puts(out, " --random-fully");
	return r;
}

static int put_target(struct gdn_buf *out, const struct ipt_entry *e,
		      const struct kw_ipt_entry_target *et)
{
	const struct xt_entry_target *t = (const void *)((const char *)e + e->target_offset);
	const char *name = t->u.user.name;
	uint8_t rev = t->u.user.revision;
	size_t size = t->u.user.target_size - sizeof(*t);
	int r;

	if (!et->module) {
		if (!et->label || !et->label[0])
			return 0; /* no target: the rule only counts */
		return gdn_buf_printf(out, " -%c %s", (e->ip.flags & IPT_F_GOTO) ? 'g' : 'j',
				      et->label);
	}
	if ((r = gdn_buf_printf(out, " -j %s", name)) < 0)
		return r;
	if (is(name, rev, size, "REJECT", 0, sizeof(struct ipt_reject_info)))
		return put_reject(out, (const void *)t->data);
	if (is(name, rev, size, "LOG", 0, sizeof(struct ipt_log_info)))
		return put_log(out, (const void *)t->data);
	if (is(name, rev, size, "MASQUERADE", 0, sizeof(struct nf_nat_ipv4_multi_range_compat)))
		return put_masquerade(out, (const void *)t->data);
	if (is(name, rev, size, "DNAT", 2, sizeof(struct nf_nat_range2)))
		return put_dnat(out, (const void *)t->data);
	return 0;
}

int kw_ipt_entry_format(const struct ipt_entry *e, const struct kw_ipt_entry_target *et,
			struct gdn_buf *out)
{
	const struct ipt_ip *ip = &e->ip;
	const char *b = (const void *)e;
	int r;

	if ((r = put_addr(out, 's', ip->src.s_addr, ip->smsk.s_addr,
			  ip->invflags & IPT_INV_SRCIP)) < 0 ||
	    (r = put_addr(out, 'd', ip->dst.s_addr, ip->dmsk.s_addr,
			  ip->invflags & IPT_INV_DSTIP)) < 0 ||
	    (r = put_iface(out, 'i', ip->iniface, ip->iniface_mask,
			   ip->invflags & IPT_INV_VIA_IN)) < 0 ||
	    (r = put_iface(out, 'o', ip->outiface, ip->outiface_mask,
			   ip->invflags & IPT_INV_VIA_OUT)) < 0 ||
	    (r = put_proto(out, ip->proto, ip->invflags & XT_INV_PROTO)) < 0)
		return r;
	if ((ip->flags & IPT_F_FRAG) &&
	    (r = gdn_buf_printf(out, "%s -f", (ip->invflags & IPT_INV_FRAG) ? " !" : "")) < 0)
		return r;
	for (size_t off = sizeof(struct ipt_entry); off < e->target_offset;) {
		const struct xt_entry_match *m = (const void *)(b + off);

		if (m->u.user.match_size < sizeof(*m))
			break; /* corrupt: stop rather than loop */
		if ((r = put_match(out, m)) < 0)
			return r;
		off += m->u.user.match_size;
	}
	return put_target(out, e, et);
}
