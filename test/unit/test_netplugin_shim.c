/* link: cmd/netplugin-shim/request.c cmd/netplugin-shim/upinputs.c */
#include <string.h>
#include <jansson.h>

#include "test/unit/tap.h"
#include "cmd/netplugin-shim/nps.h"

static void rewrite_ok(const char *in, long long want_pid, const char *want)
{
	struct gdn_err *err = NULL;
	_cleanup_free_ char *out = NULL;
	int64_t pid = -99;
	size_t len = 0;

	CHECK_OK(nps_upinputs_rewrite(in, strlen(in), &pid, &out, &len, &err), err);
	CHECK_INTEQ(pid, want_pid);
	CHECK_STREQ(out, want);
	CHECK_INTEQ(len, strlen(want));
}

static void rewrite_err(const char *in, const char *want)
{
	struct gdn_err *err = NULL;
	char *out = NULL;
	int64_t pid = 0;
	size_t len = 0;

	CHECK(nps_upinputs_rewrite(in, strlen(in), &pid, &out, &len, &err) < 0);
	CHECK(out == NULL);
	CHECK_STREQ(gdn_err_str(err), want);
	gdn_err_free(err);
}

static void test_pid_rewritten_everything_else_kept(void)
{
	rewrite_ok(
	    "{\"Pid\":12345,\"Properties\":{\"app_id\":\"a\"},\"netin\":[{\"host_port\":0}]}",
	    12345, "{\"Pid\":0,\"Properties\":{\"app_id\":\"a\"},\"netin\":[{\"host_port\":0}]}");
	/* names ignoring case, the last non-null wins; every one becomes 0; white space, numbers
	 * past uint64 and the rest are kept */
	rewrite_ok(" { \"pid\" : 42 , \"x\":18446744073709551616, \"Pid\":null, \"PID\": 7 }\n", 7,
		   " { \"pid\" : 0 , \"x\":18446744073709551616, \"Pid\":null, \"PID\": 0 }\n");
	/* an escaped name is the same name; a string that looks like a member is not one */
	rewrite_ok("{\"P\\u0069d\":5,\"s\":\"a\\\"Pid\\\":9\"}", 5,
		   "{\"P\\u0069d\":0,\"s\":\"a\\\"Pid\\\":9\"}");
	/* only top-level members */
	rewrite_ok("{\"Properties\":{\"Pid\":\"3\"},\"Pid\":1}", 1,
		   "{\"Properties\":{\"Pid\":\"3\"},\"Pid\":0}");
	rewrite_ok("{\"a\":1e5,\"Pid\":2,\"b\":-0.5E-3,\"c\":[true,false,null,{}]}", 2,
		   "{\"a\":1e5,\"Pid\":0,\"b\":-0.5E-3,\"c\":[true,false,null,{}]}");
	/* what follows the value is not Go's decoder's business, nor ours */
	rewrite_ok("{\"Pid\":3} trailing", 3, "{\"Pid\":0} trailing");
}

static void test_no_pid(void)
{
	rewrite_ok("{\"Properties\":{}}", 0, "{\"Properties\":{}}");
	rewrite_ok("{}", 0, "{}");
	rewrite_ok("null", 0, "null");
	rewrite_ok("{\"Pid\":0}", 0, "{\"Pid\":0}");
}

static void test_bad_up_inputs(void)
{
	rewrite_err("[1]", "json: cannot unmarshal array into Go value of type netplugin.UpInputs");
	rewrite_err("{\"Pid\":\"5\"}",
		    "json: cannot unmarshal string into Go struct field UpInputs.Pid of type int");
	rewrite_err("{\"Pid\":1.5}", "json: cannot unmarshal number 1.5 into Go struct field "
				     "UpInputs.Pid of type int");
	rewrite_err("{\"Pid\":", "UpInputs on stdin: invalid JSON: unexpected EOF");
	rewrite_err("", "UpInputs on stdin: EOF");
}

static void test_actions(void)
{
	static const char *ok[] = {"up", "down", "net-in", "net-out", "bulk-net-out"};
	static const char *bad[] = {"", "UP", "up ", "netin", "bulk_net_out", NULL};

	for (size_t i = 0; i < GDN_ARRAY_SIZE(ok); i++)
		CHECK(nps_action_valid(ok[i]));
	for (size_t i = 0; i < GDN_ARRAY_SIZE(bad); i++)
		CHECK(!nps_action_valid(bad[i]));
}

static void parse_err(const char *msg_text, size_t nfds, const char *want)
{
	json_auto_t *msg = json_loads(msg_text, 0, NULL);
	struct gdn_err *err = NULL;
	struct nps_request req;

	CHECK(msg != NULL);
	CHECK(nps_request_parse(msg, nfds, &req, &err) < 0);
	CHECK_STREQ(gdn_err_str(err), want);
	gdn_err_free(err);
}

static void test_request_round_trip(void)
{
	static const char in[] = "{\"Pid\":0}\n\0after NUL";
	json_auto_t *msg = nps_request_new("up", "h-1", in, sizeof(in) - 1);
	struct gdn_err *err = NULL;
	struct nps_request req;

	CHECK(msg != NULL);
	CHECK_STREQ(json_string_value(json_object_get(msg, "op")), "run");
	CHECK_INTEQ(json_integer_value(json_object_get(msg, "v")), NPS_PROTO_VERSION);
	CHECK_OK(nps_request_parse(msg, 1, &req, &err), err);
	CHECK_STREQ(req.action, "up");
	CHECK_STREQ(req.handle, "h-1");
	CHECK_INTEQ(req.stdin_len, sizeof(in) - 1);
	CHECK(memcmp(req.stdin_text, in, sizeof(in) - 1) == 0);
	CHECK_INTEQ(req.v, NPS_PROTO_VERSION);
	/* stdin is JSON text: bytes that are not UTF-8 cannot be sent */
	CHECK(nps_request_new("up", "h", "\xff", 1) == NULL);
}

static void test_request_refused(void)
{
	struct gdn_err *err = NULL;
	struct nps_request req;
	json_auto_t *no_stdin =
	    json_loads("{\"op\":\"run\",\"v\":1,\"action\":\"down\",\"handle\":\"h\"}", 0, NULL);

	CHECK_OK(nps_request_parse(no_stdin, 0, &req, &err), err);
	CHECK_INTEQ(req.stdin_len, 0);
	CHECK_STREQ(req.stdin_text, "");
	parse_err("{\"op\":\"exec\",\"v\":1}", 0, "unknown op 'exec'");
	parse_err("{\"op\":\"run\",\"v\":2,\"action\":\"up\",\"handle\":\"h\"}", 0,
		  "request 'run' is of protocol version 2; this netplugin-shim speaks versions 0 "
		  "to 1");
	parse_err("{\"op\":\"run\",\"v\":1,\"action\":\"rm\",\"handle\":\"h\",\"stdin\":\"\"}", 0,
		  "unknown action 'rm'");
	parse_err("{\"op\":\"run\",\"v\":1,\"action\":\"up\",\"handle\":\"../etc\",\"stdin\":\"\"}",
		  0, "invalid handle '../etc': may contain only letters, digits and . _ + -");
	parse_err("{\"op\":\"run\",\"v\":1,\"action\":\"up\",\"handle\":\"h\",\"stdin\":5}", 0,
		  "request 'run': action and handle must be strings, and stdin a string if given");
	parse_err("{\"op\":\"run\",\"v\":1,\"action\":\"up\",\"handle\":\"h\",\"stdin\":\"\"}", 2,
		  "request 'run': 2 fds (at most one: a network namespace)");
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_pid_rewritten_everything_else_kept),
	    TEST(test_no_pid),
	    TEST(test_bad_up_inputs),
	    TEST(test_actions),
	    TEST(test_request_round_trip),
	    TEST(test_request_refused),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
