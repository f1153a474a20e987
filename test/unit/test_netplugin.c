/* link: cmd/guardian/netplugin.c */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <jansson.h>

#include "test/unit/tap.h"
#include "lib/buf.h"
#include "lib/fs.h"
#include "lib/path.h"
#include "lib/util.h"
#include "cmd/guardian/netplugin.h"

/* A plugin that records its arguments (one per line) and stdin next to itself, writes the
 * file "reply" (if any) to stdout and a line to stderr, and exits with the number in "status"
 * (default 0). */
static const char recorder[] = "#!/bin/sh\n"
			       "d=$(dirname \"$0\")\n"
			       "printf '%s\\n' \"$@\" >\"$d/argv\"\n"
			       "cat >\"$d/stdin\"\n"
			       "[ -f \"$d/reply\" ] && cat \"$d/reply\"\n"
			       "echo 'plugin says hello' >&2\n"
			       "exit $(cat \"$d/status\" 2>/dev/null || echo 0)\n";

static char *at(const char *name)
{
	char *p = gdn_path_join(tap_tmp, name);

	CHECK(p != NULL);
	return p;
}

static void put(const char *name, const char *text, mode_t mode)
{
	_cleanup_free_ char *p = at(name);
	_cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	CHECK(fd >= 0);
	CHECK(gdn_fd_write_all(fd, text, strlen(text)) == (ssize_t)strlen(text));
}

static char *get(const char *name)
{
	_cleanup_free_ char *p = at(name);
	struct gdn_err *err = NULL;
	char *data = NULL;
	size_t len = 0;

	CHECK_OK(gdn_fs_read_file(p, 1 << 20, &data, &len, &err), err);
	return data;
}

static const char *extra[] = {"--configFile", "/etc/my config.json", NULL};

/* The recorder as the plugin, with a reply. */
static struct gd_netplugin plugin(const char *reply)
{
	static char path[128];

	(void)snprintf(path, sizeof(path), "%s/plugin", tap_tmp);
	put("plugin", recorder, 0755);
	if (reply)
		put("reply", reply, 0644);
	return (struct gd_netplugin){
	    .path = path, .extra_args = extra, .timeout_ns = 20ULL * 1000000000ULL};
}

static json_t *j(const char *text)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);

	CHECK(v != NULL);
	return v;
}

static void check_json(const json_t *got, const char *want)
{
	_cleanup_free_ char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	json_auto_t *w = j(want);
	_cleanup_free_ char *ws = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

	CHECK_STREQ(g, ws);
}

static void test_up_argv_and_stdin(void)
{
	struct gd_netplugin p = plugin("{}");
	json_auto_t *props = j("{\"network.app_id\":\"abc\",\"network.policy_group_id\":\"g1\","
			       "\"log_config\":\"{\\\"guid\\\":\\\"x\\\"}\",\"garden.grace-time\":"
			       "\"0\",\"other\":\"no\",\"network.\":\"empty key\","
			       "\"network.html\":\"<a href='x'>&</a>\"}");
	json_auto_t *netin = j("[{\"host_port\":0,\"container_port\":8080}]");
	json_auto_t *netout = j("[{\"protocol\":1,\"ports\":[{\"start\":443,\"end\":443}]}]");
	json_auto_t *out = NULL;
	struct gdn_err *err = NULL;
	_cleanup_free_ char *argv = NULL, *in = NULL;

	CHECK_OK(gd_netplugin_up(&p, "h1", 12345, props, netin, netout, &out, NULL, &err), err);
	argv = get("argv");
	CHECK_STREQ(argv, "--configFile\n/etc/my config.json\n--action\nup\n--handle\nh1\n");
	in = get("stdin");
	/* the struct's order, the map's keys sorted, Go's HTML escaping */
	CHECK_STREQ(in,
		    "{\"Pid\":12345,\"Properties\":{\"\":\"empty key\",\"app_id\":\"abc\","
		    "\"html\":\"\\u003ca href='x'\\u003e\\u0026\\u003c/a\\u003e\","
		    "\"log_config\":\"{\\\"guid\\\":\\\"x\\\"}\",\"policy_group_id\":\"g1\"},"
		    "\"netout_rules\":[{\"protocol\":1,\"ports\":[{\"start\":443,\"end\":443}]}],"
		    "\"netin\":[{\"host_port\":0,\"container_port\":8080}]}");
}

static void test_up_empty_inputs_are_omitted(void)
{
	struct gd_netplugin p = plugin(NULL);
	json_auto_t *props = j("{\"garden.x\":\"y\"}"), *none = j("[]");
	json_auto_t *out = NULL, *out2 = NULL;
	struct gdn_err *err = NULL;
	_cleanup_free_ char *a = NULL, *b = NULL;

	CHECK_OK(gd_netplugin_up(&p, "h", 7, NULL, NULL, NULL, &out, NULL, &err), err);
	a = get("stdin");
	CHECK_STREQ(a, "{\"Pid\":7,\"Properties\":{}}");
	/* no output at all: no properties, no DNS */
	check_json(out, "{}");
	CHECK_OK(gd_netplugin_up(&p, "h", 7, props, none, none, &out2, NULL, &err), err);
	b = get("stdin");
	CHECK_STREQ(b, "{\"Pid\":7,\"Properties\":{}}");
}

static void test_up_log_config_beats_network_log_config(void)
{
	struct gd_netplugin p = plugin(NULL);
	json_auto_t *props = j("{\"network.log_config\":\"n\",\"log_config\":\"top\"}");
	json_auto_t *out = NULL;
	struct gdn_err *err = NULL;
	_cleanup_free_ char *a = NULL;

	CHECK_OK(gd_netplugin_up(&p, "h", 1, props, NULL, NULL, &out, NULL, &err), err);
	a = get("stdin");
	CHECK_STREQ(a, "{\"Pid\":1,\"Properties\":{\"log_config\":\"top\"}}");
}

static void test_up_output_normalised(void)
{
	struct gdn_err *err = NULL;
	struct {
		const char *reply, *want;
	} cases[] = {
	    /* names ignoring case; a null map value is "" */
	    {"{\"PROPERTIES\":{\"garden.network.container-ip\":\"10.255.1.5\",\"k\":null},"
	     "\"DNS_Servers\":[\"169.254.0.2\"],\"search_domains\":null,\"unknown\":5}\n",
	     "{\"properties\":{\"garden.network.container-ip\":\"10.255.1.5\",\"k\":\"\"},"
	     "\"dns_servers\":[\"169.254.0.2\"]}"},
	    /* an empty list is kept: it means "no nameservers" */
	    {"{\"dns_servers\":[],\"search_domains\":[\"garden.test\"]}",
	     "{\"dns_servers\":[],\"search_domains\":[\"garden.test\"]}"},
	    /* a later member wins; a second map is merged into the first; null resets */
	    {"{\"properties\":{\"a\":\"1\"},\"Properties\":{\"b\":\"2\"},\"dns_servers\":[\"x\"],"
	     "\"dns_servers\":null,\"search_domains\":[\"a\"],\"search_domains\":[\"b\"]}",
	     "{\"properties\":{\"a\":\"1\",\"b\":\"2\"},\"search_domains\":[\"b\"]}"},
	    {"null", "{}"},
	    {"", "{}"},
	};

	for (size_t i = 0; i < GDN_ARRAY_SIZE(cases); i++) {
		struct gd_netplugin p = plugin(cases[i].reply);
		json_auto_t *out = NULL;

		CHECK_OK(gd_netplugin_up(&p, "h", 1, NULL, NULL, NULL, &out, NULL, &err), err);
		check_json(out, cases[i].want);
	}
}

static void test_up_unparsable_output(void)
{
	static const char *cases[][2] = {
	    {"not json", "invalid character 'o' in literal null (expecting 'u')"},
	    {"\n", "unexpected end of JSON input"},
	    {"{\"properties\":", "unexpected end of JSON input"},
	    {"{} x", "invalid character 'x' after top-level value"},
	    {"0123", "invalid character '1' after top-level value"},
	    {"{}{}", "invalid character '{' after top-level value"},
	    {"[1]", "json: cannot unmarshal array into Go value of type netplugin.UpOutputs"},
	    {"{\"dns_servers\":[\"a\",1]}",
	     "json: cannot unmarshal number into Go struct field UpOutputs.dns_servers of type "
	     "string"},
	    {"{\"dns_servers\":\"a\"}",
	     "json: cannot unmarshal string into Go struct field UpOutputs.dns_servers of type "
	     "[]string"},
	    /* the first in the document's order */
	    {"{\"search_domains\":5,\"properties\":{\"a\":true}}",
	     "json: cannot unmarshal number into Go struct field UpOutputs.search_domains of type "
	     "[]string"},
	    {"{\"properties\":{\"a\":true}}", "json: cannot unmarshal bool into Go struct field "
					      "UpOutputs.Properties of type string"},
	    {"{\"properties\":[]}", "json: cannot unmarshal array into Go struct field "
				    "UpOutputs.Properties of type map[string]string"},
	};

	for (size_t i = 0; i < GDN_ARRAY_SIZE(cases); i++) {
		struct gd_netplugin p = plugin(cases[i][0]);
		json_auto_t *out = NULL;
		struct gdn_err *err = NULL;
		_cleanup_free_ char *want = NULL;

		CHECK(gd_netplugin_up(&p, "h", 1, NULL, NULL, NULL, &out, NULL, &err) < 0);
		CHECK(out == NULL);
		CHECK(asprintf(&want, "unmarshaling result from external networker: %s",
			       cases[i][1]) > 0);
		CHECK_STREQ(gdn_err_str(err), want);
		gdn_err_free(err);
	}
}

static void test_down(void)
{
	struct gd_netplugin p = plugin("whatever it says is ignored");
	struct gdn_err *err = NULL;
	_cleanup_free_ char *argv = NULL, *in = NULL;

	p.extra_args = NULL;
	CHECK_OK(gd_netplugin_down(&p, "h2", NULL, &err), err);
	argv = get("argv");
	CHECK_STREQ(argv, "--action\ndown\n--handle\nh2\n");
	in = get("stdin");
	CHECK_STREQ(in, "null");
}

static void test_net_in(void)
{
	struct gdn_err *err = NULL;
	uint32_t h = 1, c = 1;

	{
		struct gd_netplugin p = plugin("{\"Host_Port\":61001,\"container_port\":8080}");
		_cleanup_free_ char *in = NULL, *argv = NULL;

		CHECK_OK(gd_netplugin_net_in(&p, "h", "1.2.3.4", "10.255.1.5", 0, 8080, &h, &c,
					     NULL, &err),
			 err);
		CHECK_INTEQ(h, 61001);
		CHECK_INTEQ(c, 8080);
		in = get("stdin");
		CHECK_STREQ(in, "{\"HostIP\":\"1.2.3.4\",\"HostPort\":0,\"ContainerIP\":"
				"\"10.255.1.5\",\"ContainerPort\":8080}");
		argv = get("argv");
		CHECK(strstr(argv, "--action\nnet-in\n--handle\nh\n") != NULL);
	}
	{
		/* no output: zeros */
		struct gd_netplugin p = plugin("");

		CHECK_OK(
		    gd_netplugin_net_in(&p, "h", "1.2.3.4", "10.255.1.5", 5, 6, &h, &c, NULL, &err),
		    err);
		CHECK_INTEQ(h, 0);
		CHECK_INTEQ(c, 0);
	}
	{
		struct gd_netplugin p = plugin("{\"host_port\":4294967296}");

		CHECK(gd_netplugin_net_in(&p, "h", "1.2.3.4", "10.0.0.2", 0, 1, &h, &c, NULL,
					  &err) < 0);
		CHECK_STREQ(gdn_err_str(err), "unmarshaling result from external networker: json: "
					      "cannot unmarshal number 4294967296 into Go struct "
					      "field NetInOutputs.host_port of type uint32");
		err = gdn_err_free(err);
	}
}

static void test_net_out_and_bulk_net_out(void)
{
	struct gd_netplugin p = plugin("not json, ignored");
	json_auto_t *rule = j("{\"protocol\":1}"),
		    *rules = j("[{\"protocol\":1},{\"protocol\":2}]");
	struct gdn_err *err = NULL;
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *argv = NULL;

	CHECK_OK(gd_netplugin_net_out(&p, "h", "10.255.1.5", rule, NULL, &err), err);
	a = get("stdin");
	CHECK_STREQ(a, "{\"container_ip\":\"10.255.1.5\",\"netout_rule\":{\"protocol\":1}}");
	argv = get("argv");
	CHECK(strstr(argv, "--action\nnet-out\n") != NULL);
	CHECK_OK(gd_netplugin_net_out(&p, "h", "10.255.1.5", NULL, NULL, &err), err);
	b = get("stdin");
	CHECK_STREQ(b, "{\"container_ip\":\"10.255.1.5\",\"netout_rule\":{}}");
	CHECK_OK(gd_netplugin_bulk_net_out(&p, "h", "10.255.1.5", rules, NULL, &err), err);
	c = get("stdin");
	CHECK_STREQ(c, "{\"container_ip\":\"10.255.1.5\",\"netout_rules\":[{\"protocol\":1},"
		       "{\"protocol\":2}]}");
	free(argv);
	argv = get("argv");
	CHECK(strstr(argv, "--action\nbulk-net-out\n") != NULL);
	CHECK_OK(gd_netplugin_bulk_net_out(&p, "h", "10.255.1.5", NULL, NULL, &err), err);
	d = get("stdin");
	CHECK_STREQ(d, "{\"container_ip\":\"10.255.1.5\",\"netout_rules\":null}");
}

static void test_exit_status_is_an_error(void)
{
	static const char *actions[] = {"up", "down", "net-in", "net-out", "bulk-net-out"};

	put("status", "3\n", 0644);
	for (size_t i = 0; i < GDN_ARRAY_SIZE(actions); i++) {
		struct gd_netplugin p = plugin("{}");
		json_auto_t *out = NULL;
		struct gdn_err *err = NULL;
		_cleanup_free_ char *want = NULL;
		uint32_t h, c;
		int r;

		switch (i) {
		case 0:
			r = gd_netplugin_up(&p, "h", 1, NULL, NULL, NULL, &out, NULL, &err);
			break;
		case 1:
			r = gd_netplugin_down(&p, "h", NULL, &err);
			break;
		case 2:
			r = gd_netplugin_net_in(&p, "h", "1.2.3.4", "10.0.0.2", 0, 1, &h, &c, NULL,
						&err);
			break;
		case 3:
			r = gd_netplugin_net_out(&p, "h", "10.0.0.2", NULL, NULL, &err);
			break;
		default:
			r = gd_netplugin_bulk_net_out(&p, "h", "10.0.0.2", NULL, NULL, &err);
			break;
		}
		CHECK(r < 0);
		CHECK(asprintf(&want,
			       "external networker encountered an error running '%s' action: exit "
			       "status 3",
			       actions[i]) > 0);
		CHECK_STREQ(gdn_err_str(err), want);
		gdn_err_free(err);
	}
}

static void test_missing_plugin(void)
{
	struct gd_netplugin p = {.path = "/nonexistent/plugin"};
	struct gdn_err *err = NULL;

	CHECK(gd_netplugin_down(&p, "h", NULL, &err) < 0);
	CHECK(strncmp(gdn_err_str(err),
		      "external networker encountered an error running 'down' action: ",
		      strlen("external networker encountered an error running 'down' action: ")) ==
	      0);
	gdn_err_free(err);
}

static void test_timeout(void)
{
	struct gd_netplugin p = {.path = "/bin/sh", .timeout_ns = 200ULL * 1000000ULL};
	static const char *args[] = {"-c", "sleep 30 & sleep 30", "sh", NULL};
	struct gdn_err *err = NULL;
	uint64_t start = gdn_now_mono_ns();

	p.extra_args = args;
	CHECK(gd_netplugin_down(&p, "h", NULL, &err) == -ETIMEDOUT);
	CHECK(gdn_now_mono_ns() - start < 5ULL * 1000000000ULL);
	CHECK_STREQ(gdn_err_str(err), "external networker encountered an error running 'down' "
				      "action: '/bin/sh' did not exit within 200 ms: killed");
	gdn_err_free(err);
	CHECK(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
}

/* stderr is re-logged; a failure logs the whole exchange */
static void test_stderr_relogged(void)
{
	int fd = memfd_create("log", MFD_CLOEXEC);
	struct gd_netplugin p;
	struct gdn_log *l;
	struct gdn_err *err = NULL;
	_cleanup_buf_ struct gdn_buf b = {0};
	char chunk[4096];
	ssize_t n;
	off_t off = 0;

	CHECK(fd >= 0);
	gdn_log_init("test", GDN_LOG_DEBUG, fd);
	l = gdn_log_session(NULL, "network", "handle", "h", NULL);
	p = plugin(NULL);
	put("status", "1", 0644);
	CHECK(gd_netplugin_down(&p, "h", l, &err) < 0);
	while ((n = pread(fd, chunk, sizeof(chunk), off)) > 0) {
		CHECK(gdn_buf_append(&b, chunk, (size_t)n) == 0);
		off += n;
	}
	CHECK(b.data != NULL);
	CHECK(strstr(b.data, "\"message\":\"test.network.error\"") != NULL);
	CHECK(strstr(b.data, "\"output\":\"plugin says hello\"") != NULL);
	CHECK(strstr(b.data, "\"message\":\"test.network.external-networker-result\"") != NULL);
	CHECK(strstr(b.data, "\"stdin\":\"null\"") != NULL);
	gdn_err_free(err);
	gdn_log_free(l);
	close(fd);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_up_argv_and_stdin),
	    TEST(test_up_empty_inputs_are_omitted),
	    TEST(test_up_log_config_beats_network_log_config),
	    TEST(test_up_output_normalised),
	    TEST(test_up_unparsable_output),
	    TEST(test_down),
	    TEST(test_net_in),
	    TEST(test_net_out_and_bulk_net_out),
	    TEST(test_exit_status_is_an_error),
	    TEST(test_missing_plugin),
	    TEST(test_timeout),
	    TEST(test_stderr_relogged),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
