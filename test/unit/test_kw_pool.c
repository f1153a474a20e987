/* link: cmd/kawasaki/pool.c */
#include <string.h>

#include "test/unit/tap.h"
#include "cmd/kawasaki/pool.h"

static struct kw_pool *pool_new(const char *cidr, uint16_t port_start, uint32_t port_size)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_cidr c;
	struct kw_pool *p = NULL;

	CHECK_OK(gdn_net_parse_cidr(cidr, &c, &err), err);
	CHECK_OK(kw_pool_new(&c, port_start, port_size, &p, &err), err);
	return p;
}

static struct gdn_cidr cidr(const char *s)
{
	struct gdn_cidr c;

	CHECK(gdn_net_parse_cidr(s, &c, NULL) == 0);
	return c;
}

static uint32_t ipv4(const char *s)
{
	uint32_t ip;

	CHECK(gdn_net_parse_ipv4(s, &ip) == 0);
	return ip;
}

/* Acquires `spec` and checks the subnet and IP it got. */
#define ACQUIRE_OK(p, spec, want_subnet, want_ip)                                                  \
	do {                                                                                       \
		_cleanup_err_ struct gdn_err *acq_err = NULL;                                      \
		struct gdn_cidr acq_sub;                                                           \
		char acq_sbuf[GDN_NET_CIDR_STRLEN], acq_ibuf[GDN_NET_IPV4_STRLEN];                 \
		uint32_t acq_ip = 0;                                                               \
		CHECK_OK(kw_pool_acquire(p, spec, &acq_sub, &acq_ip, &acq_err), acq_err);          \
		CHECK_STREQ(gdn_net_cidr_str(&acq_sub, acq_sbuf), want_subnet);                    \
		CHECK_STREQ(gdn_net_ipv4_str(acq_ip, acq_ibuf), want_ip);                          \
		CHECK(acq_sub.ip == acq_sub.network);                                              \
	} while (0)

/* Acquires `spec` and checks that it fails with this code and message. */
#define ACQUIRE_FAILS(p, spec, code, msg)                                                          \
	do {                                                                                       \
		_cleanup_err_ struct gdn_err *acq_err = NULL;                                      \
		struct gdn_cidr acq_sub;                                                           \
		uint32_t acq_ip;                                                                   \
		CHECK_INTEQ(kw_pool_acquire(p, spec, &acq_sub, &acq_ip, &acq_err), code);          \
		CHECK_STREQ(gdn_err_str(acq_err), msg);                                            \
		CHECK(acq_err->kind == GDN_ERR_GENERIC);                                           \
	} while (0)

static void release(struct kw_pool *p, const char *subnet, const char *ip)
{
	struct gdn_cidr c = cidr(subnet);

	kw_pool_release(p, &c, ipv4(ip));
}

static unsigned users(struct kw_pool *p, const char *subnet)
{
	struct gdn_cidr c = cidr(subnet);

	return kw_pool_subnet_users(p, &c);
}

static void test_dynamic_sequence(void)
{
	struct kw_pool *p = pool_new("10.254.0.0/22", 61001, 4534);

	CHECK_INTEQ(kw_pool_capacity(p), 256);
	ACQUIRE_OK(p, "", "10.254.0.0/30", "10.254.0.2");
	ACQUIRE_OK(p, NULL, "10.254.0.4/30", "10.254.0.6");
	ACQUIRE_OK(p, "", "10.254.0.8/30", "10.254.0.10");
	CHECK_INTEQ(users(p, "10.254.0.4/30"), 1);
	CHECK_INTEQ(users(p, "10.254.0.12/30"), 0);
	CHECK_INTEQ(users(p, "10.254.0.0/22"), 0);
	CHECK_INTEQ(kw_pool_capacity(p), 256); /* capacity is the size, not what is left */
	kw_pool_free(p);
}

static void test_capacity(void)
{
	static const struct {
		const char *pool;
		uint64_t cap;
	} cases[] = {
	    {"10.0.0.0/16", 16384}, {"10.0.0.0/30", 1},	     {"10.0.0.0/31", 0},
	    {"10.0.0.0/32", 0},	    {"10.0.0.0/8", 1 << 22},
	};

	for (size_t i = 0; i < GDN_ARRAY_SIZE(cases); i++) {
		struct kw_pool *p = pool_new(cases[i].pool, 1000, 10);

		CHECK_INTEQ(kw_pool_capacity(p), cases[i].cap);
		if (cases[i].cap == 0)
			ACQUIRE_FAILS(p, "", -ENOSPC, "insufficient subnets remaining in the pool");
		kw_pool_free(p);
	}
}

static void test_pool_base_with_host_bits(void)
{
	struct kw_pool *p = pool_new("10.2.3.9/29", 1000, 10);

	ACQUIRE_OK(p, "", "10.2.3.8/30", "10.2.3.10");
	ACQUIRE_FAILS(p, "10.2.3.12/30", -EINVAL,
		      "the requested subnet (10.2.3.12/30) overlaps the dynamic allocation range "
		      "(10.2.3.8/29)");
	kw_pool_free(p);
}

static void test_exhaustion(void)
{
	struct kw_pool *p = pool_new("10.254.0.0/28", 61001, 10);

	CHECK_INTEQ(kw_pool_capacity(p), 4);
	ACQUIRE_OK(p, "", "10.254.0.0/30", "10.254.0.2");
	ACQUIRE_OK(p, "", "10.254.0.4/30", "10.254.0.6");
	ACQUIRE_OK(p, "", "10.254.0.8/30", "10.254.0.10");
	ACQUIRE_OK(p, "", "10.254.0.12/30", "10.254.0.14");
	ACQUIRE_FAILS(p, "", -ENOSPC, "insufficient subnets remaining in the pool");
	ACQUIRE_FAILS(p, "", -ENOSPC, "insufficient subnets remaining in the pool");
	/* Static subnets outside the range still work. */
	ACQUIRE_OK(p, "10.9.0.0/24", "10.9.0.0/24", "10.9.0.2");
	kw_pool_free(p);
}

static void test_release_and_reuse(void)
{
	struct kw_pool *p = pool_new("10.254.0.0/28", 61001, 10);

	ACQUIRE_OK(p, "", "10.254.0.0/30", "10.254.0.2");
	ACQUIRE_OK(p, "", "10.254.0.4/30", "10.254.0.6");
	ACQUIRE_OK(p, "", "10.254.0.8/30", "10.254.0.10");
	ACQUIRE_OK(p, "", "10.254.0.12/30", "10.254.0.14");
	release(p, "10.254.0.8/30", "10.254.0.10");
	CHECK_INTEQ(users(p, "10.254.0.8/30"), 0);
	ACQUIRE_OK(p, "", "10.254.0.8/30", "10.254.0.10");
	release(p, "10.254.0.12/30", "10.254.0.14");
	release(p, "10.254.0.4/30", "10.254.0.6");
	ACQUIRE_OK(p, "", "10.254.0.4/30", "10.254.0.6"); /* the first free one */
	ACQUIRE_OK(p, "", "10.254.0.12/30", "10.254.0.14");
	ACQUIRE_FAILS(p, "", -ENOSPC, "insufficient subnets remaining in the pool");

	/* Unknown releases are no-ops: wrong IP, unknown subnet, twice. */
	release(p, "10.254.0.4/30", "10.254.0.5");
	release(p, "10.254.0.4/29", "10.254.0.6");
	release(p, "10.99.0.0/30", "10.99.0.2");
	CHECK_INTEQ(users(p, "10.254.0.4/30"), 1);
	release(p, "10.254.0.4/30", "10.254.0.6");
	release(p, "10.254.0.4/30", "10.254.0.6");
	CHECK_INTEQ(users(p, "10.254.0.4/30"), 0);
	ACQUIRE_OK(p, "", "10.254.0.4/30", "10.254.0.6");
	/* A release names the subnet by any address in it, as the daemon reads it back. */
	release(p, "10.254.0.5/30", "10.254.0.6");
	CHECK_INTEQ(users(p, "10.254.0.4/30"), 0);
	kw_pool_free(p);
}

static void test_static_overlaps_dynamic(void)
{
	struct kw_pool *p = pool_new("10.2.3.0/29", 1000, 10);

	ACQUIRE_FAILS(p, "10.2.3.4/30", -EINVAL,
		      "the requested subnet (10.2.3.4/30) overlaps the dynamic allocation range "
		      "(10.2.3.0/29)");
	ACQUIRE_FAILS(p, "10.2.3.6", -EINVAL,
		      "the requested subnet (10.2.3.4/30) overlaps the dynamic allocation range "
		      "(10.2.3.0/29)");
	ACQUIRE_FAILS(p, "10.2.0.0/16", -EINVAL,
		      "the requested subnet (10.2.0.0/16) overlaps the dynamic allocation range "
		      "(10.2.3.0/29)");
	ACQUIRE_OK(p, "10.2.3.8/30", "10.2.3.8/30", "10.2.3.10"); /* just past it */
	kw_pool_free(p);

	p = pool_new("10.2.3.4/30", 1000, 10);
	ACQUIRE_FAILS(p, "10.2.3.0/24", -EINVAL,
		      "the requested subnet (10.2.3.0/24) overlaps the dynamic allocation range "
		      "(10.2.3.4/30)");
	ACQUIRE_FAILS(p, "0.0.0.0/0", -EINVAL,
		      "the requested subnet (0.0.0.0/0) overlaps the dynamic allocation range "
		      "(10.2.3.4/30)");
	kw_pool_free(p);
}

static void test_static_overlaps_existing(void)
{
	struct kw_pool *p = pool_new("10.2.3.0/29", 1000, 10);

	/* A larger subnet starting on the same address. */
	ACQUIRE_OK(p, "10.9.3.0/30", "10.9.3.0/30", "10.9.3.2");
	ACQUIRE_FAILS(
	    p, "10.9.3.0/29", -EEXIST,
	    "the requested subnet (10.9.3.0/29) overlaps an existing subnet (10.9.3.0/30)");
	release(p, "10.9.3.0/30", "10.9.3.2");
	/* A larger subnet holding an existing one further in. */
	ACQUIRE_OK(p, "10.9.3.4/30", "10.9.3.4/30", "10.9.3.6");
	ACQUIRE_FAILS(
	    p, "10.9.3.0/29", -EEXIST,
	    "the requested subnet (10.9.3.0/29) overlaps an existing subnet (10.9.3.4/30)");
	ACQUIRE_FAILS(
	    p, "10.9.0.0/16", -EEXIST,
	    "the requested subnet (10.9.0.0/16) overlaps an existing subnet (10.9.3.4/30)");
	release(p, "10.9.3.4/30", "10.9.3.6");
	ACQUIRE_OK(p, "10.9.3.0/29", "10.9.3.0/29", "10.9.3.2"); /* free again */

	/* A smaller subnet inside an existing one, at its start and further in. */
	ACQUIRE_FAILS(
	    p, "10.9.3.0/30", -EEXIST,
	    "the requested subnet (10.9.3.0/30) overlaps an existing subnet (10.9.3.0/29)");
	ACQUIRE_FAILS(
	    p, "10.9.3.5", -EEXIST,
	    "the requested subnet (10.9.3.4/30) overlaps an existing subnet (10.9.3.0/29)");
	ACQUIRE_FAILS(
	    p, "10.9.3.7/32", -EEXIST,
	    "the requested subnet (10.9.3.7/32) overlaps an existing subnet (10.9.3.0/29)");
	/* Neighbours do not overlap. */
	ACQUIRE_OK(p, "10.9.3.8/30", "10.9.3.8/30", "10.9.3.10");
	ACQUIRE_OK(p, "10.9.2.252/30", "10.9.2.252/30", "10.9.2.254");
	/* Nothing was allocated by the failures. */
	CHECK_INTEQ(users(p, "10.9.3.0/29"), 1);
	CHECK_INTEQ(users(p, "10.9.3.0/30"), 0);
	CHECK_INTEQ(users(p, "10.9.3.4/30"), 0);
	CHECK_INTEQ(users(p, "10.9.0.0/16"), 0);
	kw_pool_free(p);
}

static void test_static_shared_subnet(void)
{
	struct kw_pool *p = pool_new("10.2.3.0/29", 1000, 10);

	ACQUIRE_OK(p, "11.0.0.3/24", "11.0.0.0/24", "11.0.0.3");
	ACQUIRE_OK(p, "11.0.0.0/24", "11.0.0.0/24", "11.0.0.2"); /* network: the first free */
	ACQUIRE_OK(p, "11.0.0.0/24", "11.0.0.0/24", "11.0.0.4"); /* skips the static .3 */
	ACQUIRE_OK(p, "11.0.0.9/24", "11.0.0.0/24", "11.0.0.9");
	CHECK_INTEQ(users(p, "11.0.0.0/24"), 4);
	CHECK_INTEQ(users(p, "11.0.0.77/24"), 4);
	ACQUIRE_FAILS(p, "11.0.0.9/24", -EEXIST, "the requested IP is already allocated");
	ACQUIRE_FAILS(p, "11.0.0.2/24", -EEXIST, "the requested IP is already allocated");
	CHECK_INTEQ(users(p, "11.0.0.0/24"), 4);
	release(p, "11.0.0.0/24", "11.0.0.3");
	ACQUIRE_OK(p, "11.0.0.0/24", "11.0.0.0/24", "11.0.0.3"); /* the released one */
	ACQUIRE_OK(p, "11.0.0.0/24", "11.0.0.0/24", "11.0.0.5");
	/* The bridge goes with the last user. */
	release(p, "11.0.0.0/24", "11.0.0.2");
	release(p, "11.0.0.0/24", "11.0.0.3");
	release(p, "11.0.0.0/24", "11.0.0.4");
	release(p, "11.0.0.0/24", "11.0.0.9");
	CHECK_INTEQ(users(p, "11.0.0.0/24"), 1);
	release(p, "11.0.0.0/24", "11.0.0.5");
	CHECK_INTEQ(users(p, "11.0.0.0/24"), 0);
	/* Now a different shape may take its place. */
	ACQUIRE_OK(p, "11.0.0.0/25", "11.0.0.0/25", "11.0.0.2");
	kw_pool_free(p);
}

static void test_static_ip_rules(void)
{
	struct kw_pool *p = pool_new("10.2.3.0/29", 1000, 10);

	ACQUIRE_FAILS(p, "11.0.0.1/24", -EINVAL, "a container IP must not equal the gateway IP");
	ACQUIRE_FAILS(p, "11.0.0.255/24", -EINVAL,
		      "a container IP must not equal the broadcast IP");
	ACQUIRE_FAILS(p, "11.0.0.5", -EINVAL, "a container IP must not equal the gateway IP");
	ACQUIRE_FAILS(p, "11.0.0.7", -EINVAL, "a container IP must not equal the broadcast IP");
	/* /31: .1 is both gateway and broadcast; Go checks the broadcast first. */
	ACQUIRE_FAILS(p, "12.0.0.1/31", -EINVAL, "a container IP must not equal the broadcast IP");
	CHECK_INTEQ(users(p, "11.0.0.0/24"), 0);
	CHECK_INTEQ(users(p, "11.0.0.4/30"), 0);
	/* The network address asks for the first free IP. */
	ACQUIRE_OK(p, "11.0.0.4", "11.0.0.4/30", "11.0.0.6");
	ACQUIRE_FAILS(p, "11.0.0.4", -ENOSPC, "insufficient IPs remaining in the pool");
	ACQUIRE_FAILS(p, "11.0.0.6", -EEXIST, "the requested IP is already allocated");
	/* Subnets with no address for a container. */
	ACQUIRE_FAILS(p, "12.0.0.0/31", -ENOSPC, "insufficient IPs remaining in the pool");
	ACQUIRE_FAILS(p, "12.0.0.8/32", -ENOSPC, "insufficient IPs remaining in the pool");
	/* A /32 at an odd address is its own network and broadcast. */
	ACQUIRE_FAILS(p, "12.0.0.9/32", -ENOSPC, "insufficient IPs remaining in the pool");
	ACQUIRE_FAILS(p, "255.255.255.255/32", -ENOSPC, "insufficient IPs remaining in the pool");
	ACQUIRE_OK(p, "255.255.255.252/30", "255.255.255.252/30", "255.255.255.254");
	kw_pool_free(p);
}

static void test_static_dynamic_ips_fill(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct kw_pool *p = pool_new("10.2.3.0/29", 1000, 10);
	struct gdn_cidr s;
	uint32_t ip, prev = 0;
	int n = 0;

	/* A /23 holds 512 - network - gateway - broadcast = 509 containers. */
	while (kw_pool_acquire(p, "11.0.0.0/23", &s, &ip, &err) == 0) {
		CHECK(n == 0 || ip == prev + 1);
		prev = ip;
		n++;
	}
	CHECK_INTEQ(n, 509);
	CHECK_STREQ(gdn_err_str(err), "insufficient IPs remaining in the pool");
	CHECK(ip == ipv4("11.0.1.254"));
	CHECK_INTEQ(users(p, "11.0.0.0/23"), 509);
	/* Holes are filled lowest first. */
	release(p, "11.0.0.0/23", "11.0.1.0");
	release(p, "11.0.0.0/23", "11.0.0.200");
	release(p, "11.0.0.0/23", "11.0.0.2");
	ACQUIRE_OK(p, "11.0.0.0/23", "11.0.0.0/23", "11.0.0.2");
	ACQUIRE_OK(p, "11.0.0.0/23", "11.0.0.0/23", "11.0.0.200");
	ACQUIRE_OK(p, "11.0.0.0/23", "11.0.0.0/23", "11.0.1.0");
	ACQUIRE_FAILS(p, "11.0.0.0/23", -ENOSPC, "insufficient IPs remaining in the pool");
	kw_pool_free(p);
}

static void test_invalid_spec(void)
{
	static const struct {
		const char *spec, *msg;
	} cases[] = {
	    {"foo", "invalid CIDR address: foo/30"},
	    {"10.0.0.1/33", "invalid CIDR address: 10.0.0.1/33"},
	    {"10.0.0.1/", "invalid CIDR address: 10.0.0.1/"},
	    {"10.0.0/24", "invalid CIDR address: 10.0.0/24"},
	    {"256.0.0.1", "invalid CIDR address: 256.0.0.1/30"},
	    {" 10.0.0.1", "invalid CIDR address:  10.0.0.1/30"},
	    {"10.0.0.1/30/", "invalid CIDR address: 10.0.0.1/30/"},
	    {"01.0.0.1", "invalid CIDR address: 01.0.0.1/30"},
	    {"1234567890123456789012345678901234567890123456789012345678901234567890",
	     "invalid CIDR address: "
	     "1234567890123456789012345678901234567890123456789012345678901234567890/30"},
	};
	struct kw_pool *p = pool_new("10.254.0.0/22", 1000, 10);

	for (size_t i = 0; i < GDN_ARRAY_SIZE(cases); i++)
		ACQUIRE_FAILS(p, cases[i].spec, -EINVAL, cases[i].msg);
	/* Nothing was taken: the dynamic sequence starts at the base. */
	ACQUIRE_OK(p, "", "10.254.0.0/30", "10.254.0.2");
	kw_pool_free(p);
}

static void test_mark_replay(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct kw_pool *p = pool_new("10.254.0.0/28", 1000, 10);
	struct gdn_cidr s = cidr("10.254.0.0/30"), st = cidr("11.0.0.0/24");

	CHECK_OK(kw_pool_mark(p, &s, ipv4("10.254.0.2"), &err), err);
	s = cidr("10.254.0.8/30");
	CHECK_OK(kw_pool_mark(p, &s, ipv4("10.254.0.10"), &err), err);
	CHECK_OK(kw_pool_mark(p, &st, ipv4("11.0.0.2"), &err), err);
	CHECK_OK(kw_pool_mark(p, &st, ipv4("11.0.0.9"), &err), err);
	CHECK_INTEQ(users(p, "11.0.0.0/24"), 2);

	/* The same IP twice: Garden's words (subnets.Pool.Remove). */
	CHECK_INTEQ(kw_pool_mark(p, &st, ipv4("11.0.0.9"), &err), -EEXIST);
	CHECK_STREQ(gdn_err_str(err), "subnet overlaps an existing subnet");
	err = gdn_err_free(err);
	s = cidr("10.254.0.0/30");
	CHECK_INTEQ(kw_pool_mark(p, &s, ipv4("10.254.0.2"), &err), -EEXIST);
	err = gdn_err_free(err);
	CHECK_INTEQ(users(p, "11.0.0.0/24"), 2);
	CHECK_INTEQ(users(p, "10.254.0.0/30"), 1);

	/* Acquisitions go around what was replayed. */
	ACQUIRE_OK(p, "", "10.254.0.4/30", "10.254.0.6");
	ACQUIRE_OK(p, "", "10.254.0.12/30", "10.254.0.14");
	ACQUIRE_FAILS(p, "", -ENOSPC, "insufficient subnets remaining in the pool");
	ACQUIRE_OK(p, "11.0.0.0/24", "11.0.0.0/24", "11.0.0.3");
	ACQUIRE_FAILS(p, "11.0.0.9/24", -EEXIST, "the requested IP is already allocated");
	ACQUIRE_FAILS(
	    p, "11.0.0.0/16", -EEXIST,
	    "the requested subnet (11.0.0.0/16) overlaps an existing subnet (11.0.0.0/24)");

	/* Replay takes no other rule (Garden's Remove checks none): a subnet that no longer fits
	 * the pool (started with another --network-pool) is kept as it was. */
	s = cidr("10.254.0.0/29");
	CHECK_OK(kw_pool_mark(p, &s, ipv4("10.254.0.3"), &err), err);
	CHECK_INTEQ(users(p, "10.254.0.0/29"), 1);
	s = cidr("10.254.0.5/30"); /* host bits: the subnet is its network */
	CHECK_OK(kw_pool_mark(p, &s, ipv4("10.254.0.5"), &err), err);
	CHECK_INTEQ(users(p, "10.254.0.4/30"), 2);
	release(p, "10.254.0.4/30", "10.254.0.6");
	ACQUIRE_FAILS(p, "", -ENOSPC, "insufficient subnets remaining in the pool");
	release(p, "10.254.0.4/30", "10.254.0.5");
	ACQUIRE_OK(p, "", "10.254.0.4/30", "10.254.0.6");

	s.prefix = 33;
	CHECK_INTEQ(kw_pool_mark(p, &s, 1, &err), -EINVAL);
	kw_pool_free(p);
}

static void test_new_refuses(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_cidr c = cidr("10.254.0.0/22");
	struct kw_pool *p = NULL;

	/* ports.NewPool: start + size must not pass 65535. */
	CHECK_INTEQ(kw_pool_new(&c, 61001, 5000, &p, &err), -EINVAL);
	CHECK_STREQ(gdn_err_str(err),
		    "port_pool: New: invalid port range: startL 61001, size: 5000");
	CHECK(p == NULL);
	err = gdn_err_free(err);
	CHECK_INTEQ(kw_pool_new(&c, 61001, 4535, &p, &err), -EINVAL);
	err = gdn_err_free(err);
	CHECK_INTEQ(kw_pool_new(&c, 1, 65535, &p, &err), -EINVAL);
	err = gdn_err_free(err);
	CHECK_OK(kw_pool_new(&c, 61001, 4534, &p, &err), err); /* Garden's defaults */
	kw_pool_free(p);
	CHECK_OK(kw_pool_new(&c, 0, 65535, &p, &err), err);
	kw_pool_free(p);
	c.prefix = 33;
	CHECK_INTEQ(kw_pool_new(&c, 1000, 10, &p, &err), -EINVAL);
	kw_pool_free(NULL);
}

static uint16_t port_acquire(struct kw_pool *p)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	uint16_t port = 0;

	CHECK_OK(kw_pool_port_acquire(p, &port, &err), err);
	return port;
}

static void check_exhausted(struct kw_pool *p)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	uint16_t port = 1;

	CHECK_INTEQ(kw_pool_port_acquire(p, &port, &err), -ENOSPC);
	CHECK_STREQ(gdn_err_str(err), "port pool is exhausted");
	CHECK(port == 1);
}

static void test_ports_acquire_rotate_exhaust(void)
{
	struct kw_pool *p = pool_new("10.254.0.0/22", 10000, 5);

	CHECK_INTEQ(kw_pool_port_cursor(p), 0);
	CHECK_INTEQ(port_acquire(p), 10000);
	CHECK_INTEQ(port_acquire(p), 10001);
	CHECK_INTEQ(kw_pool_port_cursor(p), 2);
	/* A port just released comes back last. */
	kw_pool_port_release(p, 10000);
	CHECK_INTEQ(port_acquire(p), 10002);
	CHECK_INTEQ(port_acquire(p), 10003);
	CHECK_INTEQ(port_acquire(p), 10004);
	CHECK_INTEQ(kw_pool_port_cursor(p), 0); /* wrapped: 10000 is next */
	CHECK_INTEQ(port_acquire(p), 10000);
	check_exhausted(p);
	CHECK_INTEQ(kw_pool_port_cursor(p), 0); /* Garden's offset of an empty pool */
	kw_pool_port_release(p, 10003);
	CHECK_INTEQ(kw_pool_port_cursor(p), 3);
	CHECK_INTEQ(port_acquire(p), 10003);
	check_exhausted(p);
	/* Releases outside the pool or of free ports are ignored. */
	kw_pool_port_release(p, 9999);
	kw_pool_port_release(p, 10005);
	check_exhausted(p);
	kw_pool_port_release(p, 10001);
	kw_pool_port_release(p, 10001);
	CHECK_INTEQ(port_acquire(p), 10001);
	check_exhausted(p);
	kw_pool_free(p);

	p = pool_new("10.254.0.0/22", 10000, 0);
	check_exhausted(p);
	CHECK_INTEQ(kw_pool_port_cursor(p), 0);
	kw_pool_free(p);
}

static void test_ports_take(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct kw_pool *p = pool_new("10.254.0.0/22", 10000, 4);

	CHECK_OK(kw_pool_port_take(p, 10001, &err), err);
	CHECK_INTEQ(kw_pool_port_take(p, 10001, &err), -EEXIST);
	CHECK_STREQ(gdn_err_str(err), "port already acquired: 10001");
	err = gdn_err_free(err);
	/* Outside the pool: not tracked, any number of times. */
	CHECK_OK(kw_pool_port_take(p, 8080, &err), err);
	CHECK_OK(kw_pool_port_take(p, 8080, &err), err);
	CHECK_OK(kw_pool_port_take(p, 10004, &err), err);
	CHECK_OK(kw_pool_port_take(p, 9999, &err), err);
	CHECK_INTEQ(port_acquire(p), 10000);
	CHECK_INTEQ(port_acquire(p), 10002); /* skips the taken one */
	CHECK_INTEQ(port_acquire(p), 10003);
	check_exhausted(p);
	CHECK_INTEQ(kw_pool_port_take(p, 10002, &err), -EEXIST); /* handed out: taken too */
	err = gdn_err_free(err);
	kw_pool_port_release(p, 10001);
	CHECK_OK(kw_pool_port_take(p, 10001, &err), err);
	check_exhausted(p);
	kw_pool_free(p);
}

static void test_ports_cursor(void)
{
	struct kw_pool *p = pool_new("10.254.0.0/22", 10000, 5);

	/* Garden's "acquired already used ports": offset 4 gives 10004, then 10000.. */
	kw_pool_port_set_cursor(p, 4);
	CHECK_INTEQ(kw_pool_port_cursor(p), 4);
	CHECK_INTEQ(port_acquire(p), 10004);
	CHECK_INTEQ(port_acquire(p), 10000);
	CHECK_INTEQ(port_acquire(p), 10001);
	kw_pool_free(p);

	p = pool_new("10.254.0.0/22", 10000, 5);
	kw_pool_port_set_cursor(p, 5); /* past the pool: from the start */
	CHECK_INTEQ(kw_pool_port_cursor(p), 0);
	CHECK_INTEQ(port_acquire(p), 10000);
	kw_pool_port_set_cursor(p, 65535);
	CHECK_INTEQ(port_acquire(p), 10001);
	/* The cursor names the next free port, skipping taken ones. */
	kw_pool_port_set_cursor(p, 1);
	CHECK_INTEQ(kw_pool_port_cursor(p), 2);
	kw_pool_free(p);

	/* The top of the port space. */
	p = pool_new("10.254.0.0/22", 65530, 5);
	kw_pool_port_set_cursor(p, 4);
	CHECK_INTEQ(port_acquire(p), 65534);
	CHECK_INTEQ(port_acquire(p), 65530);
	kw_pool_free(p);
}

/* A small deterministic generator (xorshift64*). */
static uint64_t rng_state = 0x2545f4914f6cdd1dULL;
static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32) % n;
}

/* 16384 dynamic acquisitions from a /16, then random releases and acquisitions checked against
 * a plain array: every acquire must return the lowest free /30. */
static void test_stress_dynamic(void)
{
	enum { N = 16384 };
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ bool *used = calloc(N, sizeof(bool));
	struct kw_pool *p = pool_new("10.100.0.0/16", 1000, 10);
	uint32_t base = ipv4("10.100.0.0");
	struct gdn_cidr s;
	uint32_t ip;
	unsigned n_used = 0;

	CHECK(used);
	CHECK_INTEQ(kw_pool_capacity(p), N);
	for (uint32_t i = 0; i < N; i++) {
		CHECK_OK(kw_pool_acquire(p, "", &s, &ip, &err), err);
		CHECK(s.network == base + 4 * i && s.prefix == 30 && ip == s.network + 2);
		used[i] = true;
	}
	n_used = N;
	CHECK_INTEQ(kw_pool_acquire(p, "", &s, &ip, &err), -ENOSPC);
	err = gdn_err_free(err);

	for (int round = 0; round < 200000; round++) {
		uint32_t i = rnd(N);

		if (rnd(2) == 0) {
			struct gdn_cidr c = {
			    .ip = base + 4 * i, .network = base + 4 * i, .prefix = 30};

			kw_pool_release(p, &c, base + 4 * i + 2);
			n_used -= used[i];
			used[i] = false;
			CHECK_INTEQ(kw_pool_subnet_users(p, &c), 0);
		} else {
			uint32_t want = 0;
			int r;

			while (want < N && used[want])
				want++;
			r = kw_pool_acquire(p, "", &s, &ip, &err);
			if (want == N) {
				CHECK_INTEQ(r, -ENOSPC);
				err = gdn_err_free(err);
				continue;
			}
			CHECK_OK(r, err);
			CHECK(s.network == base + 4 * want && ip == s.network + 2);
			used[want] = true;
			n_used++;
		}
	}
	/* The pool agrees with the model on every subnet. */
	for (uint32_t i = 0; i < N; i++) {
		struct gdn_cidr c = {.ip = base + 4 * i, .network = base + 4 * i, .prefix = 30};

		CHECK_INTEQ(kw_pool_subnet_users(p, &c), used[i]);
	}
	for (; n_used < N; n_used++)
		CHECK_OK(kw_pool_acquire(p, "", &s, &ip, &err), err);
	CHECK_INTEQ(kw_pool_acquire(p, "", &s, &ip, &err), -ENOSPC);
	kw_pool_free(p);
}

/* Static subnets by the thousand (each its own /30, plus a shared /24 and a few larger ones):
 * random acquisitions and releases against a model, through the table's growth and deletes. */
static void test_stress_static(void)
{
	enum { N = 4096 };
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ unsigned char *used = calloc(N, 1);
	struct kw_pool *p = pool_new("10.254.0.0/22", 1000, 10);
	uint32_t base = ipv4("20.0.0.0");
	char spec[GDN_NET_CIDR_STRLEN];
	struct gdn_cidr s;
	uint32_t ip;

	CHECK(used);
	for (int round = 0; round < 100000; round++) {
		uint32_t i = rnd(N), net = base + 4 * i;
		struct gdn_cidr c = {.ip = net, .network = net, .prefix = 30};
		uint32_t want = net + 2;

		if (rnd(3) == 0) {
			kw_pool_release(p, &c, want);
			used[i] = 0;
		} else {
			gdn_net_ipv4_str(want, spec);
			if (used[i]) {
				CHECK_INTEQ(kw_pool_acquire(p, spec, &s, &ip, &err), -EEXIST);
				CHECK_STREQ(gdn_err_str(err),
					    "the requested IP is already allocated");
				err = gdn_err_free(err);
			} else {
				CHECK_OK(kw_pool_acquire(p, spec, &s, &ip, &err), err);
				CHECK(s.network == net && s.prefix == 30 && ip == want);
				used[i] = 1;
			}
		}
		CHECK_INTEQ(kw_pool_subnet_users(p, &c), used[i]);
		if (round % 1000 == 0) {
			/* A larger subnet over the /30s overlaps iff one of them is in use. */
			uint32_t blk = rnd(N / 64) * 64;
			char addr[GDN_NET_IPV4_STRLEN];
			bool any = false;

			for (uint32_t j = blk; j < blk + 64; j++)
				any = any || used[j];
			snprintf(spec, sizeof(spec), "%s/24",
				 gdn_net_ipv4_str(base + 4 * blk, addr));
			if (any) {
				CHECK_INTEQ(kw_pool_acquire(p, spec, &s, &ip, &err), -EEXIST);
				err = gdn_err_free(err);
			} else {
				CHECK_OK(kw_pool_acquire(p, spec, &s, &ip, &err), err);
				kw_pool_release(p, &s, ip);
			}
		}
	}
	for (uint32_t i = 0; i < N; i++) {
		struct gdn_cidr c = {.ip = base + 4 * i, .network = base + 4 * i, .prefix = 30};

		CHECK_INTEQ(kw_pool_subnet_users(p, &c), used[i]);
	}
	kw_pool_free(p);
}

/* Ports against a model: acquire returns the first free port at or after the cursor. */
static void test_stress_ports(void)
{
	enum { START = 61001, SIZE = 4534 };
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ bool *used = calloc(SIZE, sizeof(bool));
	struct kw_pool *p = pool_new("10.254.0.0/22", START, SIZE);
	uint32_t cursor = 0;

	CHECK(used);
	for (int round = 0; round < 100000; round++) {
		uint32_t i = rnd(SIZE);
		unsigned op = rnd(8);

		if (op < 3) {
			kw_pool_port_release(p, (uint16_t)(START + i));
			used[i] = false;
		} else if (op == 3) {
			int r = kw_pool_port_take(p, (uint16_t)(START + i), &err);

			CHECK_INTEQ(r, used[i] ? -EEXIST : 0);
			err = gdn_err_free(err);
			used[i] = true;
		} else {
			uint32_t k, want = SIZE;
			uint16_t port;
			int r;

			for (k = 0; k < SIZE; k++)
				if (!used[(cursor + k) % SIZE]) {
					want = (cursor + k) % SIZE;
					break;
				}
			CHECK_INTEQ(kw_pool_port_cursor(p), want == SIZE ? 0 : want);
			r = kw_pool_port_acquire(p, &port, &err);
			if (want == SIZE) {
				CHECK_INTEQ(r, -ENOSPC);
				err = gdn_err_free(err);
				continue;
			}
			CHECK_OK(r, err);
			CHECK_INTEQ(port, START + want);
			used[want] = true;
			cursor = (want + 1) % SIZE;
		}
	}
	kw_pool_free(p);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_dynamic_sequence),
	    TEST(test_capacity),
	    TEST(test_pool_base_with_host_bits),
	    TEST(test_exhaustion),
	    TEST(test_release_and_reuse),
	    TEST(test_static_overlaps_dynamic),
	    TEST(test_static_overlaps_existing),
	    TEST(test_static_shared_subnet),
	    TEST(test_static_ip_rules),
	    TEST(test_static_dynamic_ips_fill),
	    TEST(test_invalid_spec),
	    TEST(test_mark_replay),
	    TEST(test_new_refuses),
	    TEST(test_ports_acquire_rotate_exhaust),
	    TEST(test_ports_take),
	    TEST(test_ports_cursor),
	    TEST(test_stress_dynamic),
	    TEST(test_stress_static),
	    TEST(test_stress_ports),
	};

	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
