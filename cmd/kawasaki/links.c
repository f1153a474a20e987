/* kawasaki's links on libnl-route-3 (links.h, internals §11.3). Each step is one netlink request
 * that sets everything it can at once (the bridge is created with its MAC, multicast snooping off
 * and up; the veth pair with the host end's MTU, txqueuelen, master and up, and the peer's name
 * and MTU inside the container's namespace), so a container costs about ten round trips. The
 * container side talks through a socket opened inside the container's namespace: a netlink
 * socket stays bound to the namespace it was created in, so after setns() back it still
 * configures the container. */
#include "cmd/kawasaki/links.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <bsd/string.h>
#include <netlink/netlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/cache.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>
#include <linux/if_link.h>
#include "lib/net.h"

struct kw_nl {
	struct nl_sock *sk;
	/* What the kernel said when it last refused a request (set by on_nlerr; reset by req()):
	 * its errno, which libnl folds into fewer codes, and its extended-ack text. */
	int syserr;
	char ext[160];
};

/* --- libnl plumbing ----------------------------------------------------------------------- */

static void link_putp(struct rtnl_link **p)
{
	if (*p)
		rtnl_link_put(*p);
}

static void addr_putp(struct rtnl_addr **p)
{
	if (*p)
		rtnl_addr_put(*p);
}

static void route_putp(struct rtnl_route **p)
{
	if (*p)
		rtnl_route_put(*p);
}

static void nladdr_putp(struct nl_addr **p)
{
	if (*p)
		nl_addr_put(*p);
}

static void cache_freep(struct nl_cache **p)
{
	if (*p)
		nl_cache_free(*p);
}

#define _cleanup_link_ _cleanup_(link_putp)
#define _cleanup_addr_ _cleanup_(addr_putp)
#define _cleanup_route_ _cleanup_(route_putp)
#define _cleanup_nladdr_ _cleanup_(nladdr_putp)
#define _cleanup_cache_ _cleanup_(cache_freep)

/* Records the kernel's errno and extended-ack message, then lets libnl fail the request as it
 * would. With NETLINK_CAP_ACK the attributes follow the nlmsgerr directly. */
static int on_nlerr(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	const struct nlmsghdr *h = (const void *)((const char *)e - NLMSG_HDRLEN);
	struct kw_nl *nl = arg;
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	size_t head = NLMSG_HDRLEN + sizeof(*e);

	(void)who;
	nl->syserr = -e->error;
	if ((h->nlmsg_flags & NLM_F_ACK_TLVS) && (h->nlmsg_flags & NLM_F_CAPPED) &&
	    h->nlmsg_len > head &&
	    nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)(e + 1), (int)(h->nlmsg_len - head),
		      NULL) == 0 &&
	    tb[NLMSGERR_ATTR_MSG])
		nla_strlcpy(nl->ext, tb[NLMSGERR_ATTR_MSG], sizeof(nl->ext));
	return NL_STOP;
}

/* The socket, with the last refusal forgotten: every request goes through it. */
static struct nl_sock *req(struct kw_nl *nl)
{
	nl->syserr = 0;
	nl->ext[0] = '\0';
	return nl->sk;
}

static int nle_errno(int nlerr)
{
	switch (-nlerr) {
	case NLE_NOMEM:
		return ENOMEM;
	case NLE_EXIST:
		return EEXIST;
	case NLE_OBJ_NOTFOUND:
		return ENOENT;
	case NLE_NODEV:
		return ENODEV;
	case NLE_INVAL:
		return EINVAL;
	case NLE_RANGE:
		return ERANGE;
	case NLE_MSGSIZE:
		return EMSGSIZE;
	case NLE_PERM:
		return EPERM;
	case NLE_NOACCESS:
		return EACCES;
	case NLE_BUSY:
		return EBUSY;
	case NLE_AGAIN:
		return EAGAIN;
	case NLE_INTR:
		return EINTR;
	case NLE_BAD_SOCK:
		return EBADF;
	case NLE_OPNOTSUPP:
		return EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:
		return EAFNOSUPPORT;
	default:
		return EIO;
	}
}

/* "<what>: <nl_geterror>" (strerror where libnl could only say "Unspecific failure"), plus the
 * kernel's own words when it gave some. Returns -errno, the kernel's when known. */
static int nl_fail(const struct kw_nl *nl, int nlerr, struct gdn_err **err, const char *fmt, ...)
    GDN_PRINTF(4, 5);
static int nl_fail(const struct kw_nl *nl, int nlerr, struct gdn_err **err, const char *fmt, ...)
{
	int code = nl->syserr > 0 ? nl->syserr : nle_errno(nlerr);
	const char *why = nl_geterror(nlerr);
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (nl->syserr > 0 && nl_syserr2nlerr(nl->syserr) == NLE_FAILURE)
		why = strerror(nl->syserr);
	if (nl->ext[0])
		return gdn_err_kind(err, GDN_ERR_GENERIC, code, "%s: %s (%s)", what, why, nl->ext);
	return gdn_err_kind(err, GDN_ERR_GENERIC, code, "%s: %s", what, why);
}

static int sock_open(struct kw_nl *nl, struct gdn_err **err)
{
	int one = 1, r, fd;

	nl->sk = nl_socket_alloc();
	if (!nl->sk)
		return gdn_err_set(err, ENOMEM, "allocate a netlink socket");
	r = nl_connect(nl->sk, NETLINK_ROUTE); /* SOCK_CLOEXEC: libnl >= 3.2.26 */
	if (r < 0) {
		r = nl_fail(nl, r, err, "connect a rtnetlink socket");
		nl_socket_free(gdn_steal_ptr(&nl->sk));
		return r;
	}
	fd = nl_socket_get_fd(nl->sk);
	/* the kernel's reason with every refusal, without our request echoed back */
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	nl_socket_modify_err_cb(nl->sk, NL_CB_CUSTOM, on_nlerr, nl);
	return 0;
}

static void sock_closep(struct kw_nl *nl)
{
	if (nl->sk)
		nl_socket_free(gdn_steal_ptr(&nl->sk));
}

int kw_nl_open(struct kw_nl **ret, struct gdn_err **err)
{
	struct kw_nl *nl = calloc(1, sizeof(*nl));
	int r;

	if (!nl)
		return gdn_err_set(err, ENOMEM, "allocate the netlink state");
	r = sock_open(nl, err);
	if (r < 0) {
		free(nl);
		return r;
	}
	*ret = nl;
	return 0;
}

void kw_nl_close(struct kw_nl *nl)
{
	if (!nl)
		return;
	sock_closep(nl);
	free(nl);
}

/* Opens a socket inside the network namespace netns_fd and comes back, whatever happened: the
 * daemon must never stay in a container's namespace (every socket it opens next, the next
 * container's or libiptc's, would work on that namespace instead of the host's). */
static int ns_sock_open(struct kw_nl *nl, int netns_fd, struct gdn_err **err)
{
	_cleanup_close_ int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int r;

	if (home < 0)
		return gdn_err_set(err, errno, "open /proc/thread-self/ns/net");
	if (setns(netns_fd, CLONE_NEWNET) < 0)
		return gdn_err_set(err, errno, "enter the container's network namespace");
	r = sock_open(nl, err);
	if (setns(home, CLONE_NEWNET) < 0) {
		/* cannot happen with a valid fd of our own namespace; going on would configure
		 * the host's links and rules in a container */
		fprintf(stderr, "kawasaki: cannot return to the host network namespace: %s\n",
			strerror(errno));
		abort();
	}
	return r;
}

/* An IPv4 address (host order) with a prefix length; NULL when out of memory. */
static struct nl_addr *ip4(uint32_t ip, unsigned prefix)
{
	uint32_t be = htonl(ip);
	struct nl_addr *a = nl_addr_build(AF_INET, &be, sizeof(be));

	if (a)
		nl_addr_set_prefixlen(a, (int)prefix);
	return a;
}

static int check_name(const char *name, struct gdn_err **err)
{
	if (!name || !*name || strlen(name) >= IFNAMSIZ)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "invalid interface name '%s'",
				    name ? name : "");
	return 0;
}

/* The link called name: 0 with *ret set, or 0 with *ret NULL when there is none. */
static int link_get(struct kw_nl *nl, const char *name, struct rtnl_link **ret,
		    struct gdn_err **err)
{
	int r = rtnl_link_get_kernel(req(nl), 0, name, ret);

	if (r == -NLE_NODEV || r == -NLE_OBJ_NOTFOUND) {
		*ret = NULL;
		return 0;
	}
	if (r < 0)
		return nl_fail(nl, r, err, "look up link '%s'", name);
	return 0;
}

/* role and the wording are those of guardian's LinkUpError ("bring host link X up"). */
static int link_set_up(struct kw_nl *nl, struct rtnl_link *orig, const char *role,
		       struct gdn_err **err)
{
	_cleanup_link_ struct rtnl_link *changes = rtnl_link_alloc();
	int r;

	if (!changes)
		return gdn_err_set(err, ENOMEM, "bring %s link up", role);
	rtnl_link_set_flags(changes, IFF_UP);
	r = rtnl_link_change(req(nl), orig, changes, 0);
	if (r < 0)
		return nl_fail(nl, r, err, "bring %s link '%s' up", role, rtnl_link_get_name(orig));
	return 0;
}

/* ip/prefix on the link, with the subnet's broadcast as `ip addr add ... brd +` and Go's
 * netlink.AddrAdd set it (none for /31 and /32). */
static int addr_add(struct kw_nl *nl, int ifindex, const char *name, uint32_t ip, unsigned prefix,
		    bool exist_ok, struct gdn_err **err)
{
	_cleanup_addr_ struct rtnl_addr *a = rtnl_addr_alloc();
	_cleanup_nladdr_ struct nl_addr *local = ip4(ip, prefix);
	_cleanup_nladdr_ struct nl_addr *brd =
	    prefix < 31 ? ip4(ip | ~gdn_net_mask(prefix), 32) : NULL;
	char s[GDN_NET_IPV4_STRLEN];
	int r;

	gdn_net_ipv4_str(ip, s);
	if (!a || !local || (prefix < 31 && !brd))
		return gdn_err_set(err, ENOMEM, "add address %s/%u to '%s'", s, prefix, name);
	rtnl_addr_set_ifindex(a, ifindex);
	r = rtnl_addr_set_local(a, local);
	if (r >= 0 && brd)
		r = rtnl_addr_set_broadcast(a, brd);
	if (r >= 0) {
		rtnl_addr_set_prefixlen(a, (int)prefix);
		r = rtnl_addr_add(req(nl), a, 0);
	}
	if (r == -NLE_EXIST && exist_ok)
		return 0;
	if (r < 0)
		return nl_fail(nl, r, err, "add address %s/%u to '%s'", s, prefix, name);
	return 0;
}

/* --- host side ---------------------------------------------------------------------------- */

/* A random unicast, locally administered MAC, as guardian's randMacAddr. Set at creation, it
 * also keeps the bridge from taking the address of whichever port it gets first. */
static int random_mac(uint8_t mac[6], struct gdn_err **err)
{
	if (getrandom(mac, 6, 0) != 6)
		return gdn_err_set(err, errno ? errno : EIO, "random MAC address");
	mac[0] = (uint8_t)((mac[0] & ~0x01) | 0x02);
	return 0;
}

/* One RTM_NEWLINK: name, MAC, kind bridge with IFLA_BR_MCAST_SNOOPING 0, up. Built by hand:
 * libnl 3.7 has no setter for the bridge's IFLA_INFO_DATA. A bridge created meanwhile by
 * someone else (EEXIST) is fine. */
static int bridge_create(struct kw_nl *nl, const char *name, struct gdn_err **err)
{
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_flags = IFF_UP, .ifi_change = IFF_UP};
	struct nlattr *info = NULL, *data = NULL;
	struct nl_msg *msg;
	uint8_t mac[6];
	int r = random_mac(mac, err);

	if (r < 0)
		return r;
	msg = nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	if (!msg)
		return gdn_err_set(err, ENOMEM, "create bridge '%s'", name);
	if (nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
	    nla_put_string(msg, IFLA_IFNAME, name) < 0 || nla_put(msg, IFLA_ADDRESS, 6, mac) < 0 ||
	    !(info = nla_nest_start(msg, IFLA_LINKINFO)) ||
	    nla_put_string(msg, IFLA_INFO_KIND, "bridge") < 0 ||
	    !(data = nla_nest_start(msg, IFLA_INFO_DATA)) ||
	    nla_put_u8(msg, IFLA_BR_MCAST_SNOOPING, 0) < 0) {
		nlmsg_free(msg);
		return gdn_err_set(err, EMSGSIZE, "create bridge '%s'", name);
	}
	nla_nest_end(msg, data);
	nla_nest_end(msg, info);
	r = nl_send_sync(req(nl), msg); /* frees msg */
	if (r < 0 && r != -NLE_EXIST)
		return nl_fail(nl, r, err, "create bridge '%s'", name);
	return 0;
}

/* The subnet's bridge, made or reused (another container of the subnet, or one a crash left
 * behind without its address or down): its ifindex. */
static int bridge_ensure(struct kw_nl *nl, const struct kw_link_config *c, int *ret_ifindex,
			 struct gdn_err **err)
{
	_cleanup_link_ struct rtnl_link *br = NULL;
	const char *kind;
	int r = link_get(nl, c->bridge, &br, err);

	if (r >= 0 && !br) {
		r = bridge_create(nl, c->bridge, err);
		if (r >= 0)
			r = link_get(nl, c->bridge, &br, err);
		if (r >= 0 && !br)
			r = gdn_err_kind(err, GDN_ERR_GENERIC, ENODEV,
					 "look up created bridge '%s': it is gone", c->bridge);
	}
	if (r < 0)
		return r;
	kind = rtnl_link_get_type(br);
	if (!kind || strcmp(kind, "bridge") != 0)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EEXIST,
				    "link '%s' exists and is not a bridge (%s)", c->bridge,
				    kind ? kind : "no kind");
	if (!(rtnl_link_get_flags(br) & IFF_UP)) {
		r = link_set_up(nl, br, "bridge", err);
		if (r < 0)
			return r;
	}
	r = addr_add(nl, rtnl_link_get_ifindex(br), c->bridge, c->gateway, c->prefix, true, err);
	if (r < 0)
		return r;
	*ret_ifindex = rtnl_link_get_ifindex(br);
	return 0;
}

/* One RTM_NEWLINK: the host end (MTU, txqueuelen 1, enslaved, up) and its peer, named and
 * sized, created directly inside the container's namespace. The kernel undoes it all if any
 * part fails. */
static int veth_create(struct kw_nl *nl, const struct kw_link_config *c, int bridge_ifindex,
		       struct gdn_err **err)
{
	_cleanup_link_ struct rtnl_link *host = rtnl_link_veth_alloc();
	_cleanup_link_ struct rtnl_link *peer = host ? rtnl_link_veth_get_peer(host) : NULL;
	int r;

	if (!host || !peer)
		return gdn_err_set(err, ENOMEM, "create veth '%s'", c->host_if);
	rtnl_link_set_name(host, c->host_if);
	rtnl_link_set_mtu(host, c->mtu);
	rtnl_link_set_txqlen(host, 1);
	rtnl_link_set_master(host, bridge_ifindex);
	rtnl_link_set_flags(host, IFF_UP);
	rtnl_link_set_name(peer, c->container_if);
	rtnl_link_set_mtu(peer, c->mtu);
	rtnl_link_set_ns_fd(peer, c->netns_fd);
	r = rtnl_link_add(req(nl), host, NLM_F_CREATE | NLM_F_EXCL);
	if (r < 0)
		return nl_fail(nl, r, err, "create veth '%s'", c->host_if);
	return 0;
}

/* --- container side (through a socket opened in its namespace) --------------------------- */

static int default_route_add(struct kw_nl *nl, int ifindex, const char *name, uint32_t gateway,
			     struct gdn_err **err)
{
	_cleanup_route_ struct rtnl_route *rt = rtnl_route_alloc();
	_cleanup_nladdr_ struct nl_addr *dst = ip4(0, 0);
	_cleanup_nladdr_ struct nl_addr *via = ip4(gateway, 32);
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	char s[GDN_NET_IPV4_STRLEN];
	int r;

	gdn_net_ipv4_str(gateway, s);
	if (!rt || !dst || !via || !nh) {
		if (nh)
			rtnl_route_nh_free(nh);
		return gdn_err_set(err, ENOMEM, "add default route via %s", s);
	}
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_nh_set_gateway(nh, via);
	rtnl_route_add_nexthop(rt, nh); /* rt owns nh now */
	rtnl_route_set_family(rt, AF_INET);
	rtnl_route_set_table(rt, RT_TABLE_MAIN);
	rtnl_route_set_scope(rt, RT_SCOPE_UNIVERSE);
	rtnl_route_set_protocol(rt, RTPROT_BOOT); /* as `ip route add` and Go's netlink */
	rtnl_route_set_type(rt, RTN_UNICAST);
	r = rtnl_route_set_dst(rt, dst);
	if (r >= 0)
		r = rtnl_route_add(req(nl), rt, NLM_F_EXCL);
	if (r < 0)
		return nl_fail(nl, r, err, "add default route via %s dev '%s'", s, name);
	return 0;
}

/* In guardian's order: address, up, default route (the MTU came with the peer). lo too:
 * runc normally brought it up already. */
static int container_side(struct kw_nl *cn, const struct kw_link_config *c, struct gdn_err **err)
{
	_cleanup_link_ struct rtnl_link *l = NULL;
	_cleanup_link_ struct rtnl_link *lo = NULL;
	int r = link_get(cn, c->container_if, &l, err);

	if (r >= 0 && !l)
		r = gdn_err_kind(err, GDN_ERR_GENERIC, ENODEV, "interface `%s` was not found",
				 c->container_if);
	if (r >= 0)
		r = addr_add(cn, rtnl_link_get_ifindex(l), c->container_if, c->container_ip,
			     c->prefix, false, err);
	if (r >= 0)
		r = link_set_up(cn, l, "container", err);
	if (r >= 0)
		r = link_get(cn, "lo", &lo, err);
	if (r >= 0 && lo && !(rtnl_link_get_flags(lo) & IFF_UP))
		r = link_set_up(cn, lo, "loopback", err);
	if (r >= 0)
		r = default_route_add(cn, rtnl_link_get_ifindex(l), c->container_if, c->gateway,
				      err);
	return r;
}

int kw_links_up(struct kw_nl *nl, const struct kw_link_config *c, struct gdn_err **err)
{
	_cleanup_(sock_closep) struct kw_nl cn = {.sk = NULL};
	int bridge_ifindex = 0, r;

	if ((r = check_name(c->bridge, err)) < 0 || (r = check_name(c->host_if, err)) < 0 ||
	    (r = check_name(c->container_if, err)) < 0)
		return r;
	if (c->prefix > 32 || c->netns_fd < 0)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "links for '%s': invalid prefix %u or netns fd %d", c->host_if,
				    c->prefix, c->netns_fd);
	r = bridge_ensure(nl, c, &bridge_ifindex, err);
	if (r < 0)
		return r;
	r = veth_create(nl, c, bridge_ifindex, err);
	if (r < 0)
		return r;
	r = ns_sock_open(&cn, c->netns_fd, err);
	if (r >= 0)
		r = container_side(&cn, c, err);
	if (r < 0)
		(void)kw_link_delete(nl, c->host_if, NULL); /* its peer goes with it */
	return r;
}

/* --- lookups and removal ------------------------------------------------------------------ */

int kw_link_delete(struct kw_nl *nl, const char *name, struct gdn_err **err)
{
	_cleanup_link_ struct rtnl_link *l = NULL;
	int r = check_name(name, err);

	if (r < 0)
		return r;
	l = rtnl_link_alloc();
	if (!l)
		return gdn_err_set(err, ENOMEM, "delete link '%s'", name);
	rtnl_link_set_name(l, name);
	r = rtnl_link_delete(req(nl), l);
	if (r == -NLE_NODEV || r == -NLE_OBJ_NOTFOUND)
		return 0;
	if (r < 0)
		return nl_fail(nl, r, err, "delete link '%s'", name);
	return 0;
}

bool kw_link_exists(struct kw_nl *nl, const char *name)
{
	_cleanup_link_ struct rtnl_link *l = NULL;

	return check_name(name, NULL) >= 0 && link_get(nl, name, &l, NULL) >= 0 && l;
}

int kw_links_each(struct kw_nl *nl, const char *prefix, void (*fn)(const char *name, void *arg),
		  void *arg, struct gdn_err **err)
{
	_cleanup_cache_ struct nl_cache *cache = NULL;
	size_t n = prefix ? strlen(prefix) : 0;
	int r = rtnl_link_alloc_cache(req(nl), AF_UNSPEC, &cache); /* a fresh dump each time */

	if (r < 0)
		return nl_fail(nl, r, err, "list links");
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		const char *name = rtnl_link_get_name((struct rtnl_link *)o);

		if (name && (n == 0 || strncmp(name, prefix, n) == 0))
			fn(name, arg);
	}
	return 0;
}

static uint32_t addr_ip(struct nl_addr *a)
{
	uint32_t be = 0;

	if (a && nl_addr_get_family(a) == AF_INET && nl_addr_get_len(a) == sizeof(be))
		memcpy(&be, nl_addr_get_binary_addr(a), sizeof(be));
	return ntohl(be);
}

static int link_mtu(struct kw_nl *nl, int ifindex, char *ret_name, size_t name_size,
		    unsigned *ret_mtu, struct gdn_err **err)
{
	_cleanup_link_ struct rtnl_link *l = NULL;
	int r = rtnl_link_get_kernel(req(nl), ifindex, NULL, &l);

	if (r < 0 || !l)
		return r < 0 ? nl_fail(nl, r, err, "look up link %d", ifindex)
			     : gdn_err_kind(err, GDN_ERR_GENERIC, ENODEV, "no link %d", ifindex);
	if (ret_name)
		strlcpy(ret_name, rtnl_link_get_name(l) ? rtnl_link_get_name(l) : "", name_size);
	*ret_mtu = rtnl_link_get_mtu(l);
	return 0;
}

/* The address the kernel would send from through ifindex towards gateway, as inet_select_addr
 * picks it: the first IPv4 address of the link whose subnet holds the gateway, else its first. */
static int link_source(struct kw_nl *nl, int ifindex, uint32_t gateway, uint32_t *ret,
		       struct gdn_err **err)
{
	_cleanup_cache_ struct nl_cache *cache = NULL;
	bool found = false;
	int r = rtnl_addr_alloc_cache(req(nl), &cache);

	if (r < 0)
		return nl_fail(nl, r, err, "list addresses");
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		uint32_t ip = addr_ip(rtnl_addr_get_local(a));
		uint32_t mask = gdn_net_mask((unsigned)rtnl_addr_get_prefixlen(a));

		if (rtnl_addr_get_family(a) != AF_INET || rtnl_addr_get_ifindex(a) != ifindex)
			continue;
		if (!found)
			*ret = ip;
		found = true;
		if (gateway && (ip & mask) == (gateway & mask)) {
			*ret = ip;
			break;
		}
	}
	if (!found)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EADDRNOTAVAIL,
				    "the default route's interface %d has no IPv4 address",
				    ifindex);
	return 0;
}

int kw_default_route(struct kw_nl *nl, char ifname[IF_NAMESIZE], uint32_t *ret_src,
		     unsigned *ret_mtu, struct gdn_err **err)
{
	_cleanup_cache_ struct nl_cache *cache = NULL;
	struct rtnl_route *best = NULL;
	struct rtnl_nexthop *nh;
	uint32_t gateway;
	int ifindex, r = rtnl_route_alloc_cache(req(nl), AF_INET, 0, &cache);

	if (r < 0)
		return nl_fail(nl, r, err, "list routes");
	/* the main table's 0.0.0.0/0 with the lowest metric: the first `ip route show` lists */
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *rt = (struct rtnl_route *)o;
		struct nl_addr *dst = rtnl_route_get_dst(rt);

		if (rtnl_route_get_family(rt) != AF_INET ||
		    rtnl_route_get_table(rt) != RT_TABLE_MAIN ||
		    rtnl_route_get_type(rt) != RTN_UNICAST ||
		    (dst && nl_addr_get_prefixlen(dst) != 0) || rtnl_route_get_nnexthops(rt) < 1 ||
		    rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(rt, 0)) <= 0)
			continue;
		if (!best || rtnl_route_get_priority(rt) < rtnl_route_get_priority(best))
			best = rt;
	}
	if (!best)
		return gdn_err_kind(err, GDN_ERR_GENERIC, ENOENT, "no IPv4 default route");
	nh = rtnl_route_nexthop_n(best, 0);
	ifindex = rtnl_route_nh_get_ifindex(nh);
	gateway = addr_ip(rtnl_route_nh_get_gateway(nh));
	r = link_mtu(nl, ifindex, ifname, IF_NAMESIZE, ret_mtu, err);
	if (r < 0)
		return r;
	*ret_src = addr_ip(rtnl_route_get_pref_src(best));
	if (*ret_src)
		return 0;
	return link_source(nl, ifindex, gateway, ret_src, err);
}

int kw_mtu_of_address(struct kw_nl *nl, uint32_t ip, unsigned *ret_mtu, struct gdn_err **err)
{
	_cleanup_cache_ struct nl_cache *cache = NULL;
	char s[GDN_NET_IPV4_STRLEN];
	int r = rtnl_addr_alloc_cache(req(nl), &cache);

	if (r < 0)
		return nl_fail(nl, r, err, "list addresses");
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;

		if (rtnl_addr_get_family(a) == AF_INET && addr_ip(rtnl_addr_get_local(a)) == ip)
			return link_mtu(nl, rtnl_addr_get_ifindex(a), NULL, 0, ret_mtu, err);
	}
	/* guardian's kawasaki/mtu words */
	return gdn_err_kind(err, GDN_ERR_GENERIC, ENOENT, "no interface found for address %s",
			    gdn_net_ipv4_str(ip, s));
}
