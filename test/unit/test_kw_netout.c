/* Garden NetOutRules to kw_rules (guardian's rule_translator.go and rules.go), each rule shown as
 * iptables-legacy-save prints the entry kw_ipt builds for it. */
/* link: cmd/kawasaki/netout.c cmd/kawasaki/ipt_entry.c cmd/kawasaki/ipt_format.c */
/* pkgs: jansson libbsd libnl-route-3.0 libiptc */
#include "cmd/kawasaki/ipt_entry.h" /* libiptc first: see ipt_entry.c */
#include <string.h>
#include <jansson.h>

#include "test/unit/tap.h"
#include "cmd/kawasaki/netout.h"
#include "lib/buf.h"

#define LOG_CHAIN "w--instance-abc-log"

static json_t *parse(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);

	if (!v)
		tap_fail_(__FILE__, __LINE__, "bad test JSON %s: %s", text, je.text);
	return v;
}

/* The rules, one iptables-save line each (without "-A <chain>"), or the error. */
static char *translate(const char *text, int *ret)
{
	json_t *v = parse(text);
	struct kw_netout out = {0};
	struct gdn_err *err = NULL;
	struct gdn_buf b = {0};

	*ret = kw_netout_translate(v, "h1", LOG_CHAIN, &out, &err);
	json_decref(v);
	if (*ret < 0) {
		CHECK(out.n == 0);
		kw_netout_free(&out);
		CHECK(gdn_buf_puts(&b, gdn_err_str(err)) == 0);
		gdn_err_free(err);
		return gdn_buf_steal(&b, NULL);
	}
	CHECK(err == NULL);
	for (size_t i = 0; i < out.n; i++) {
		const struct kw_rule *r = &out.rules[i];
		struct kw_ipt_entry_target et = {.label = kw_ipt_rule_target(r),
						 .module = kw_ipt_rule_target_is_module(r)};
		struct ipt_entry *e = NULL;

		CHECK_OK(kw_ipt_entry_build(r, &e, &err), err);
		CHECK(kw_ipt_entry_format(e, &et, &b) == 0);
		CHECK(gdn_buf_puts(&b, "\n") == 0);
		free(e);
	}
	kw_netout_free(&out);
	CHECK(out.rules == NULL && out.n == 0);
	if (!b.data)
		CHECK(gdn_buf_puts(&b, "") == 0);
	return gdn_buf_steal(&b, NULL);
}

struct tcase {
	const char *json;
	const char *want; /* rules, or the error message */
};

static void run_cases(const struct tcase *c, size_t n, int want_code)
{
	for (size_t i = 0; i < n; i++) {
		int r;
		_cleanup_free_ char *got = translate(c[i].json, &r);

		if ((want_code == 0 && r != 0) || (want_code != 0 && r != want_code) ||
		    strcmp(got, c[i].want) != 0)
			tap_fail_(__FILE__, __LINE__, "%s: returned %d (want %d):\n%s\nwanted:\n%s",
				  c[i].json, r, want_code, got, c[i].want);
	}
}

#define RET " -m comment --comment h1 -j RETURN\n"
#define LOG " -m comment --comment h1 -g " LOG_CHAIN "\n"

static void test_translations(void)
{
	static const struct tcase cases[] = {
	    {"{}", RET},
	    {"null", RET},
	    {"{\"log\":false}", RET},
	    {"{\"log\":true}", LOG},
	    {"{\"protocol\":1,\"networks\":[{\"start\":\"10.0.0.1\",\"end\":\"10.0.0.9\"}],"
	     "\"ports\":[{\"start\":80,\"end\":90}]}",
	     " -p tcp -m iprange --dst-range 10.0.0.1-10.0.0.9 -m tcp --dport 80:90" RET},
	    {"{\"protocol\":2,\"networks\":[{\"start\":\"8.8.8.8\",\"end\":\"8.8.8.8\"}],"
	     "\"ports\":[{\"start\":53,\"end\":53}],\"log\":true}",
	     " -p udp -m iprange --dst-range 8.8.8.8-8.8.8.8 -m udp --dport 53" LOG},
	    {"{\"protocol\":2,\"networks\":[{\"start\":\"8.8.8.8\"}],\"ports\":[{\"start\":53,"
	     "\"end\":53}]}",
	     " -d 8.8.8.8/32 -p udp -m udp --dport 53" RET},
	    {"{\"networks\":[{\"end\":\"8.8.4.4\"}]}", " -d 8.8.4.4/32" RET},
	    {"{\"networks\":[{}]}", RET},
	    {"{\"networks\":[null]}", RET},
	    {"{\"networks\":[]}", RET},
	    {"{\"networks\":[{\"start\":\"\",\"end\":\"1.2.3.4\"}]}", " -d 1.2.3.4/32" RET},
	    {"{\"networks\":[{\"start\":\"::ffff:10.0.0.1\",\"end\":\"::ffff:a00:9\"}]}",
	     " -m iprange --dst-range 10.0.0.1-10.0.0.9" RET},
	    {"{\"networks\":[{\"start\":\"10.0.0.9\",\"end\":\"10.0.0.1\"}]}",
	     " -m iprange --dst-range 10.0.0.9-10.0.0.1" RET},
	    /* ICMP: the code is optional, a type of 0 is as good as none (omitempty) */
	    {"{\"protocol\":3,\"icmps\":{\"type\":8,\"code\":0}}",
	     " -p icmp -m icmp --icmp-type 8/0" RET},
	    {"{\"protocol\":3,\"icmps\":{\"type\":8}}", " -p icmp -m icmp --icmp-type 8" RET},
	    {"{\"protocol\":3,\"icmps\":{\"type\":8,\"code\":null}}",
	     " -p icmp -m icmp --icmp-type 8" RET},
	    {"{\"protocol\":3,\"icmps\":{}}", " -p icmp -m icmp --icmp-type 0" RET},
	    {"{\"protocol\":3,\"icmps\":{\"code\":3}}", " -p icmp -m icmp --icmp-type 0/3" RET},
	    {"{\"protocol\":3,\"icmps\":{\"type\":255,\"code\":3}}",
	     " -p icmp -m icmp --icmp-type any" RET},
	    {"{\"protocol\":3}", " -p icmp" RET},
	    {"{\"protocol\":3,\"icmps\":null}", " -p icmp" RET},
	    /* ports: start == end is one port, else a range (even 0:65535, which prints nothing) */
	    {"{\"protocol\":1,\"ports\":[{}]}", " -p tcp -m tcp --dport 0" RET},
	    {"{\"protocol\":1,\"ports\":[{\"end\":100}]}", " -p tcp -m tcp --dport 0:100" RET},
	    {"{\"protocol\":1,\"ports\":[{\"start\":0,\"end\":65535}]}", " -p tcp -m tcp" RET},
	    {"{\"protocol\":2,\"ports\":[{\"start\":90,\"end\":80}]}",
	     " -p udp -m udp --dport 90:80" RET},
	    {"{\"protocol\":1,\"ports\":[]}", " -p tcp" RET},
	    /* one rule per (port range x network range), ports outer */
	    {"{\"protocol\":1,\"ports\":[{\"start\":1,\"end\":1},{\"start\":2,\"end\":3}],"
	     "\"networks\":[{\"start\":\"1.1.1.1\"},{\"start\":\"2.2.2.2\",\"end\":\"2.2.2.3\"},{}]"
	     "}",
	     " -d 1.1.1.1/32 -p tcp -m tcp --dport 1" RET
	     " -p tcp -m iprange --dst-range 2.2.2.2-2.2.2.3 -m tcp --dport 1" RET
	     " -p tcp -m tcp --dport 1" RET " -d 1.1.1.1/32 -p tcp -m tcp --dport 2:3" RET
	     " -p tcp -m iprange --dst-range 2.2.2.2-2.2.2.3 -m tcp --dport 2:3" RET
	     " -p tcp -m tcp --dport 2:3" RET},
	    /* decoded as Go decodes: names ignore case (and Go folds U+017F and U+212A), unknown
	     * members are ignored, the last member wins */
	    {"{\"PROTOCOL\":1,\"Ports\":[{\"STart\":5,\"END\":5}],\"foo\":[1]}",
	     " -p tcp -m tcp --dport 5" RET},
	    {"{\"protocol\":1,\"port\\u017f\":[{\"start\":5,\"end\":5}],"
	     "\"networ\\u212as\":[{\"\\u017ftart\":\"1.1.1.1\"}]}",
	     " -d 1.1.1.1/32 -p tcp -m tcp --dport 5" RET},
	    {"{\"protocol\":1,\"protocol\":2}", " -p udp" RET},
	    {"{\"protocol\":1,\"Protocol\":null}", " -p tcp" RET},
	    {"{\"log\":true,\"LOG\":null}", LOG},
	    {"{\"networks\":[{\"start\":\"1.1.1.1\"}],\"networks\":null}", RET},
	    /* a later array decodes into the elements an earlier one left, as Go reuses a slice */
	    {"{\"networks\":[{\"start\":\"1.1.1.1\"}],\"Networks\":[{\"end\":\"2.2.2.2\"}]}",
	     " -m iprange --dst-range 1.1.1.1-2.2.2.2" RET},
	    {"{\"protocol\":1,\"ports\":[{\"start\":1},{\"start\":2,\"end\":3}],"
	     "\"PORTS\":[{\"end\":5}],\"Ports\":[{},null]}",
	     " -p tcp -m tcp --dport 1:5" RET " -p tcp -m tcp --dport 2:3" RET},
	    {"{\"protocol\":1,\"ports\":[{\"start\":1},{\"start\":2}],\"Ports\":[],"
	     "\"PORTS\":[{},{}]}",
	     " -p tcp -m tcp --dport 0" RET " -p tcp -m tcp --dport 0" RET},
	    {"{\"protocol\":3,\"icmps\":{\"type\":8},\"ICMPS\":{\"code\":1}}",
	     " -p icmp -m icmp --icmp-type 8/1" RET},
	};

	run_cases(cases, GDN_ARRAY_SIZE(cases), 0);
}

static void test_decode_errors(void)
{
	static const struct tcase cases[] = {
	    {"{\"protocol\":256}", "json: cannot unmarshal number 256 into Go struct field "
				   "NetOutRule.protocol of type garden.Protocol"},
	    {"{\"protocol\":-1}", "json: cannot unmarshal number -1 into Go struct field "
				  "NetOutRule.protocol of type garden.Protocol"},
	    {"{\"protocol\":1.5}", "json: cannot unmarshal number 1.5 into Go struct field "
				   "NetOutRule.protocol of type garden.Protocol"},
	    {"{\"protocol\":1.0}", "json: cannot unmarshal number 1.0 into Go struct field "
				   "NetOutRule.protocol of type garden.Protocol"},
	    {"{\"protocol\":\"1\"}", "json: cannot unmarshal string into Go struct field "
				     "NetOutRule.protocol of type garden.Protocol"},
	    {"{\"protocol\":true}", "json: cannot unmarshal bool into Go struct field "
				    "NetOutRule.protocol of type garden.Protocol"},
	    {"{\"protocol\":[]}", "json: cannot unmarshal array into Go struct field "
				  "NetOutRule.protocol of type garden.Protocol"},
	    {"{\"protocol\":{}}", "json: cannot unmarshal object into Go struct field "
				  "NetOutRule.protocol of type garden.Protocol"},
	    {"{\"networks\":\"x\"}", "json: cannot unmarshal string into Go struct field "
				     "NetOutRule.networks of type []garden.IPRange"},
	    {"{\"networks\":{}}", "json: cannot unmarshal object into Go struct field "
				  "NetOutRule.networks of type []garden.IPRange"},
	    {"{\"networks\":[1]}", "json: cannot unmarshal number into Go struct field "
				   "NetOutRule.networks of type garden.IPRange"},
	    {"{\"networks\":[[]]}", "json: cannot unmarshal array into Go struct field "
				    "NetOutRule.networks of type garden.IPRange"},
	    {"{\"networks\":[{\"start\":1}]}", "json: cannot unmarshal number into Go struct field "
					       "IPRange.networks.start of type net.IP"},
	    {"{\"networks\":[{\"end\":true}]}", "json: cannot unmarshal bool into Go struct field "
						"IPRange.networks.end of type net.IP"},
	    {"{\"networks\":[{\"end\":{}}]}", "json: cannot unmarshal object into Go struct field "
					      "IPRange.networks.end of type net.IP"},
	    {"{\"ports\":1}", "json: cannot unmarshal number into Go struct field NetOutRule.ports "
			      "of type []garden.PortRange"},
	    {"{\"ports\":[\"x\"]}", "json: cannot unmarshal string into Go struct field "
				    "NetOutRule.ports of type garden.PortRange"},
	    {"{\"ports\":[{\"start\":65536}]}",
	     "json: cannot unmarshal number 65536 into Go struct "
	     "field PortRange.ports.start of type uint16"},
	    {"{\"ports\":[{\"end\":\"1\"}]}", "json: cannot unmarshal string into Go struct field "
					      "PortRange.ports.end of type uint16"},
	    {"{\"icmps\":\"x\"}", "json: cannot unmarshal string into Go struct field "
				  "NetOutRule.icmps of type garden.ICMPControl"},
	    {"{\"icmps\":[]}", "json: cannot unmarshal array into Go struct field "
			       "NetOutRule.icmps of type garden.ICMPControl"},
	    {"{\"icmps\":{\"type\":256}}", "json: cannot unmarshal number 256 into Go struct field "
					   "ICMPControl.icmps.type of type garden.ICMPType"},
	    {"{\"icmps\":{\"code\":-1}}", "json: cannot unmarshal number -1 into Go struct field "
					  "ICMPControl.icmps.code of type garden.ICMPCode"},
	    {"{\"icmps\":{\"code\":false}}", "json: cannot unmarshal bool into Go struct field "
					     "ICMPControl.icmps.code of type garden.ICMPCode"},
	    {"{\"log\":1}", "json: cannot unmarshal number into Go struct field NetOutRule.log of "
			    "type bool"},
	    {"{\"log\":\"true\"}", "json: cannot unmarshal string into Go struct field "
				   "NetOutRule.log of type bool"},
	    {"[]", "json: cannot unmarshal array into Go value of type garden.NetOutRule"},
	    {"1", "json: cannot unmarshal number into Go value of type garden.NetOutRule"},
	    {"\"x\"", "json: cannot unmarshal string into Go value of type garden.NetOutRule"},
	    /* the first type error is reported, decoding goes on past it... */
	    {"{\"log\":1,\"protocol\":256}", "json: cannot unmarshal number into Go struct field "
					     "NetOutRule.log of type bool"},
	    {"{\"protocol\":\"x\",\"Protocol\":1}", "json: cannot unmarshal string into Go struct "
						    "field NetOutRule.protocol of type "
						    "garden.Protocol"},
	    /* ...and before any check of the values */
	    {"{\"protocol\":4,\"log\":1}", "json: cannot unmarshal number into Go struct field "
					   "NetOutRule.log of type bool"},
	    /* an IP net.ParseIP refuses stops the decoding and wins over a type error */
	    {"{\"networks\":[{\"start\":\"1.2.3\"}]}", "invalid IP address: 1.2.3"},
	    {"{\"networks\":[{\"start\":\"01.2.3.4\"}]}", "invalid IP address: 01.2.3.4"},
	    {"{\"protocol\":256,\"networks\":[{\"end\":\"fe80::1%eth0\"}]}",
	     "invalid IP address: fe80::1%eth0"},
	};

	run_cases(cases, GDN_ARRAY_SIZE(cases), -EINVAL);
}

static void test_garden_errors(void)
{
	static const struct tcase cases[] = {
	    {"{\"ports\":[{\"start\":1,\"end\":1}]}", "Ports cannot be specified for Protocol ALL"},
	    {"{\"protocol\":0,\"ports\":[{}]}", "Ports cannot be specified for Protocol ALL"},
	    {"{\"protocol\":3,\"ports\":[{\"start\":1,\"end\":1}]}",
	     "Ports cannot be specified for Protocol ICMP"},
	    /* guardian's map has no name for 4: strings.ToUpper("") */
	    {"{\"protocol\":4,\"ports\":[{\"start\":1,\"end\":1}]}",
	     "Ports cannot be specified for Protocol "},
	    {"{\"protocol\":4}", "invalid protocol: 4"},
	    {"{\"protocol\":255,\"networks\":[{\"start\":\"1.1.1.1\"}]}", "invalid protocol: 255"},
	};

	run_cases(cases, GDN_ARRAY_SIZE(cases), -EINVAL);
}

/* What iptables itself refuses of guardian's flags, in iptables' words, for the first rule (in
 * guardian's order) that has it, and in the order iptables parses a rule's options. */
static void test_iptables_refusals(void)
{
	static const struct tcase cases[] = {
	    {"{\"networks\":[{\"start\":\"2001:0db8::0001\"}]}",
	     "host/network `2001:db8::1' not found"},
	    {"{\"networks\":[{\"end\":\"::\"}]}", "host/network `::' not found"},
	    {"{\"networks\":[{\"end\":\"1:0:0:2:0:0:0:3\"}]}",
	     "host/network `1:0:0:2::3' not found"},
	    {"{\"networks\":[{\"end\":\"0:0:1:0:0:2:0:0\"}]}",
	     "host/network `::1:0:0:2:0:0' not found"},
	    {"{\"networks\":[{\"end\":\"1:0:2:0:3:0:4:0\"}]}",
	     "host/network `1:0:2:0:3:0:4:0' not found"},
	    {"{\"networks\":[{\"end\":\"1:2:3:4:5:6:7::\"}]}",
	     "host/network `1:2:3:4:5:6:7:0' not found"},
	    {"{\"networks\":[{\"start\":\"10.0.0.1\",\"end\":\"::1.2.3.4\"}]}",
	     "iprange: Bad value for \"--dst-range\" option: \"::102:304\""},
	    {"{\"networks\":[{\"start\":\"::1\",\"end\":\"::2\"}]}",
	     "iprange: Bad value for \"--dst-range\" option: \"::1\""},
	    {"{\"protocol\":1,\"ports\":[{\"start\":90,\"end\":80}]}",
	     "invalid portrange (min > max)"},
	    {"{\"protocol\":1,\"ports\":[{\"start\":80}]}", "invalid portrange (min > max)"},
	    {"{\"protocol\":1,\"icmps\":{\"type\":8}}", "unknown option \"--icmp-type\""},
	    {"{\"icmps\":{}}", "unknown option \"--icmp-type\""},
	    {"{\"protocol\":2,\"icmps\":{\"type\":0}}", "unknown option \"--icmp-type\""},
	    /* rule 2 of 2 fails: nothing is translated */
	    {"{\"networks\":[{\"start\":\"1.1.1.1\"},{\"start\":\"::1\"}]}",
	     "host/network `::1' not found"},
	    /* --dst-range is read before --destination-port, which is read before the address of
	     * --destination */
	    {"{\"protocol\":1,\"ports\":[{\"start\":2,\"end\":1}],\"networks\":[{\"start\":\"::1\","
	     "\"end\":\"::2\"}]}",
	     "iprange: Bad value for \"--dst-range\" option: \"::1\""},
	    {"{\"protocol\":1,\"ports\":[{\"start\":2,\"end\":1}],\"networks\":[{\"start\":\"::1\""
	     "}]}",
	     "invalid portrange (min > max)"},
	    {"{\"protocol\":2,\"icmps\":{},\"networks\":[{\"start\":\"::1\"}]}",
	     "unknown option \"--icmp-type\""},
	};

	run_cases(cases, GDN_ARRAY_SIZE(cases), -EDOM);
}

/* Calls append; rules borrow the handle and chain; a failed call leaves what is there. */
static void test_appends_and_borrows(void)
{
	json_t *a = parse("{\"protocol\":1,\"ports\":[{\"start\":1,\"end\":1},{\"start\":2,"
			  "\"end\":2}],\"log\":true}"),
	       *b = parse("{\"protocol\":2}"), *bad = parse("{\"protocol\":4}");
	struct kw_netout out = {0};
	struct gdn_err *err = NULL;
	char handle[] = "handle-1", chain[] = "w--instance-x-log";

	CHECK_OK(kw_netout_translate(a, handle, chain, &out, &err), err);
	CHECK_OK(kw_netout_translate(b, "other", chain, &out, &err), err);
	CHECK(kw_netout_translate(bad, handle, chain, &out, &err) == -EINVAL);
	CHECK_STREQ(gdn_err_str(err), "invalid protocol: 4");
	err = gdn_err_free(err);
	CHECK_INTEQ(out.n, 3);
	CHECK(out.rules[0].comment == handle && out.rules[1].comment == handle);
	CHECK(out.rules[0].chain == chain && out.rules[0].target == KW_T_GOTO);
	CHECK(out.rules[0].dport_lo == 1 && out.rules[1].dport_lo == 2);
	CHECK_STREQ(out.rules[2].comment, "other");
	CHECK(out.rules[2].target == KW_T_RETURN && out.rules[2].chain == NULL);
	CHECK(out.rules[2].proto == IPPROTO_UDP && !out.rules[2].dport);
	/* NULL is JSON null: the zero rule */
	CHECK_OK(kw_netout_translate(NULL, handle, chain, &out, &err), err);
	CHECK_INTEQ(out.n, 4);
	CHECK(out.rules[3].proto == 0 && out.rules[3].target == KW_T_RETURN);
	kw_netout_free(&out);
	/* with no place for the error */
	CHECK(kw_netout_translate(bad, handle, chain, &out, NULL) == -EINVAL);
	json_decref(a);
	json_decref(b);
	json_decref(bad);
}

/* BulkNetOut's first pass: decoding errors only. */
static void test_decode_check(void)
{
	json_t *ok = parse("{\"protocol\":4,\"ports\":[{\"start\":1}]}"),
	       *bad = parse("{\"protocol\":256}"),
	       *ip = parse("{\"networks\":[{\"start\":\"x\"}]}");
	struct gdn_err *err = NULL;

	CHECK_OK(kw_netout_decode_check(ok, &err), err);
	CHECK_OK(kw_netout_decode_check(NULL, &err), err);
	CHECK(kw_netout_decode_check(bad, &err) == -EINVAL);
	CHECK_STREQ(gdn_err_str(err), "json: cannot unmarshal number 256 into Go struct field "
				      "NetOutRule.protocol of type garden.Protocol");
	err = gdn_err_free(err);
	CHECK(kw_netout_decode_check(ip, &err) == -EINVAL);
	CHECK_STREQ(gdn_err_str(err), "invalid IP address: x");
	err = gdn_err_free(err);
	json_decref(ok);
	json_decref(bad);
	json_decref(ip);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_translations),	  TEST(test_decode_errors),	  TEST(test_garden_errors),
	    TEST(test_iptables_refusals), TEST(test_appends_and_borrows), TEST(test_decode_check),
	};

	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
