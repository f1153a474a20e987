#include <arpa/inet.h>
#include <string.h>

#include "test/unit/tap.h"
#include "lib/net.h"

static void test_ipv4_accepted_as_go(void)
{
	static const struct {
		const char *s;
		uint32_t ip;
	} ok[] = {
	    {"0.0.0.0", 0},
	    {"10.254.0.1", 0x0afe0001},
	    {"255.255.255.255", 0xffffffff},
	    {"127.0.0.1", 0x7f000001},
	    {"1.0.10.100", 0x01000a64},
	};

	for (size_t i = 0; i < GDN_ARRAY_SIZE(ok); i++) {
		uint32_t ip = 1;
		CHECK(gdn_net_parse_ipv4(ok[i].s, &ip) == 0);
		CHECK(ip == ok[i].ip);
	}
}

static void test_ipv4_refused_as_go(void)
{
	static const char *const bad[] = {
	    "",		"1.2.3",      "1.2.3.4.5", "256.0.0.1", "1.2.3.-1", "01.2.3.4",
	    "1.2.3.04", "1..3.4",     " 1.2.3.4",  "1.2.3.4 ",	"1.2.3.4/", "0x1.2.3.4",
	    "+1.2.3.4", "1.2.3.1000", "a.b.c.d",   "1.2.3.",	".1.2.3",
	};
	uint32_t ip;

	for (size_t i = 0; i < GDN_ARRAY_SIZE(bad); i++)
		if (gdn_net_parse_ipv4(bad[i], &ip) != -EINVAL)
			tap_fail_(__FILE__, __LINE__, "'%s' was accepted", bad[i]);
	CHECK(gdn_net_parse_ipv4(NULL, &ip) == -EINVAL);
}

static void test_parse_ip_families(void)
{
	unsigned char a[16];
	int fam = 0;

	CHECK(gdn_net_parse_ip("10.0.0.1", &fam, a) == 0 && fam == AF_INET);
	CHECK(a[0] == 10 && a[3] == 1);
	CHECK(gdn_net_parse_ip("::1", &fam, a) == 0 && fam == AF_INET6);
	CHECK(a[15] == 1);
	CHECK(gdn_net_parse_ip("::ffff:10.0.0.1", &fam, a) == 0 && fam == AF_INET6);
	CHECK(gdn_net_parse_ip("fe80::1%eth0", &fam, a) == -EINVAL);
	CHECK(gdn_net_parse_ip("localhost", &fam, a) == -EINVAL);
	CHECK(gdn_net_parse_ip("010.0.0.1", &fam, a) == -EINVAL);
}

static void test_cidr(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_cidr c;
	char buf[GDN_NET_CIDR_STRLEN];

	CHECK_OK(gdn_net_parse_cidr("10.254.0.0/22", &c, &err), err);
	CHECK(c.network == 0x0afe0000 && c.prefix == 22);
	CHECK_STREQ(gdn_net_cidr_str(&c, buf), "10.254.0.0/22");
	/* host bits set: the network is what Go's IPNet holds */
	CHECK_OK(gdn_net_parse_cidr("10.254.1.77/22", &c, &err), err);
	CHECK(c.ip == 0x0afe014d && c.network == 0x0afe0000);
	CHECK_STREQ(gdn_net_cidr_str(&c, buf), "10.254.0.0/22");
	/* prefix bounds and Go's dtoi (leading zeros allowed) */
	CHECK_OK(gdn_net_parse_cidr("0.0.0.0/0", &c, &err), err);
	CHECK(gdn_net_cidr_size(&c) == 1ULL << 32);
	CHECK_OK(gdn_net_parse_cidr("1.2.3.4/32", &c, &err), err);
	CHECK(gdn_net_cidr_size(&c) == 1);
	CHECK_OK(gdn_net_parse_cidr("10.0.0.0/024", &c, &err), err);
	CHECK(c.prefix == 24);
}

static void test_cidr_refused(void)
{
	static const char *const bad[] = {
	    "10.0.0.0",	   "10.0.0.0/",	     "10.0.0.0/33", "10.0.0.0/-1",
	    "10.0.0/8",	   "10.0.0.0/8x",    "10.0.0.0/+8", "/8",
	    "010.0.0.0/8", "10.0.0.0/8/8",   "::1/128",	    "",
	    "10.0.0.0/ 8", "10.0.0.0/99999", "300.0.0.0/8",
	};

	for (size_t i = 0; i < GDN_ARRAY_SIZE(bad); i++) {
		_cleanup_err_ struct gdn_err *err = NULL;
		char want[64];
		struct gdn_cidr c;

		if (gdn_net_parse_cidr(bad[i], &c, &err) != -EINVAL)
			tap_fail_(__FILE__, __LINE__, "'%s' was accepted", bad[i]);
		snprintf(want, sizeof(want), "invalid CIDR address: %s", bad[i]);
		CHECK_STREQ(gdn_err_str(err), want);
	}
}

static void test_pool_arithmetic(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_cidr pool, sub;
	char buf[GDN_NET_CIDR_STRLEN], ip[GDN_NET_IPV4_STRLEN];

	CHECK_OK(gdn_net_parse_cidr("10.254.0.0/22", &pool, &err), err);
	CHECK_STREQ(gdn_net_ipv4_str(gdn_net_cidr_network(&pool), ip), "10.254.0.0");
	CHECK_STREQ(gdn_net_ipv4_str(gdn_net_cidr_broadcast(&pool), ip), "10.254.3.255");
	CHECK(gdn_net_cidr_size(&pool) == 1024);
	CHECK(gdn_net_cidr_subnets(&pool, 30) == 256);
	CHECK(gdn_net_cidr_subnets(&pool, 21) == 0);
	CHECK(gdn_net_cidr_contains(&pool, 0x0afe03ff));
	CHECK(!gdn_net_cidr_contains(&pool, 0x0afe0400));
	CHECK(!gdn_net_cidr_contains(&pool, 0x0afdffff));

	CHECK(gdn_net_cidr_subnet(&pool, 30, 0, &sub) == 0);
	CHECK_STREQ(gdn_net_cidr_str(&sub, buf), "10.254.0.0/30");
	CHECK(gdn_net_cidr_subnet(&pool, 30, 1, &sub) == 0);
	CHECK_STREQ(gdn_net_cidr_str(&sub, buf), "10.254.0.4/30");
	CHECK_STREQ(gdn_net_ipv4_str(gdn_net_cidr_broadcast(&sub), ip), "10.254.0.7");
	CHECK(gdn_net_cidr_subnet(&pool, 30, 255, &sub) == 0);
	CHECK_STREQ(gdn_net_cidr_str(&sub, buf), "10.254.3.252/30");
	CHECK(gdn_net_cidr_subnet(&pool, 30, 256, &sub) == -ERANGE);
	CHECK(gdn_net_cidr_subnet(&pool, 33, 0, &sub) == -ERANGE);
	CHECK(gdn_net_cidr_subnet(&pool, 20, 0, &sub) == -ERANGE);
	/* a pool whose address has host bits set carves from its network */
	CHECK_OK(gdn_net_parse_cidr("10.254.2.9/22", &pool, &err), err);
	CHECK(gdn_net_cidr_subnet(&pool, 30, 2, &sub) == 0);
	CHECK_STREQ(gdn_net_cidr_str(&sub, buf), "10.254.0.8/30");
	/* the whole space */
	CHECK_OK(gdn_net_parse_cidr("0.0.0.0/0", &pool, &err), err);
	CHECK(gdn_net_cidr_subnets(&pool, 32) == 1ULL << 32);
	CHECK(gdn_net_cidr_subnet(&pool, 32, UINT32_MAX, &sub) == 0);
	CHECK_STREQ(gdn_net_cidr_str(&sub, buf), "255.255.255.255/32");
	CHECK(gdn_net_mask(0) == 0 && gdn_net_mask(32) == UINT32_MAX);
	CHECK(gdn_net_mask(24) == 0xffffff00);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_ipv4_accepted_as_go), TEST(test_ipv4_refused_as_go),
	    TEST(test_parse_ip_families),   TEST(test_cidr),
	    TEST(test_cidr_refused),	    TEST(test_pool_arithmetic),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
