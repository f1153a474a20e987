/* link: cmd/guardian/routes.c */
/* The route table on its own: every handler, gd_reply_text, gd_reply_json and gd_lookup are
 * stand-ins defined here that record what the router called them with. */
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>

#include "test/unit/tap.h"
#include "lib/fs.h"
#include "cmd/guardian/routes.h"

static struct {
	const char *handler; /* the stand-in called, or NULL */
	char *handle, *second, *third;
	bool had_log; /* c->log was set before the handler ran */
	int status;   /* gd_reply_text */
	char *text, *header;
	int calls;
} got;

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void record(const char *name, struct gd_conn *c, const struct gd_params *p)
{
	got.handler = name;
	got.handle = dup_or_null(p->handle);
	got.second = dup_or_null(p->second);
	got.third = dup_or_null(p->third);
	got.had_log = c->log != NULL;
	got.calls++;
}

#define STAND_IN(fn)                                                                               \
	void fn(struct gd_server *s, struct gd_conn *c, struct gd_params *p)                       \
	{                                                                                          \
		(void)s;                                                                           \
		record(#fn, c, p);                                                                 \
	}

STAND_IN(gd_h_create)
STAND_IN(gd_h_destroy)
STAND_IN(gd_h_stop)
STAND_IN(gd_h_net_in)
STAND_IN(gd_h_net_out)
STAND_IN(gd_h_bulk_net_out)
STAND_IN(gd_h_list)
STAND_IN(gd_h_info)
STAND_IN(gd_h_bulk_info)
STAND_IN(gd_h_run)
STAND_IN(gd_h_stream_in)
STAND_IN(gd_h_stream_out)
STAND_IN(gd_h_attach)
STAND_IN(gd_h_stdout)
STAND_IN(gd_h_stderr)
STAND_IN(gd_h_ping)
STAND_IN(gd_h_capacity)
STAND_IN(gd_h_properties)
STAND_IN(gd_h_property_get)
STAND_IN(gd_h_property_set)
STAND_IN(gd_h_property_remove)
STAND_IN(gd_h_grace_time)
STAND_IN(gd_h_limits_memory)
STAND_IN(gd_h_limits_cpu)
STAND_IN(gd_h_limits_empty)
STAND_IN(gd_h_metrics)
STAND_IN(gd_h_bulk_metrics)

/* The debug server's connections go to it whatever the request (debug_server.c). */
void gd_debug_serve(struct gd_server *s, struct gd_conn *c)
{
	(void)s, (void)c;
	got.handler = "gd_debug_serve";
	got.calls++;
}

/* The error answers of a capture holding NUL (%00). */
static json_t *json_reply;

struct gd_ctr *gd_lookup(struct gd_server *s, struct gd_conn *c, const char *handle)
{
	static struct gd_ctr found;

	(void)s, (void)c, (void)handle;
	return &found;
}

json_t *gd_error_json(const struct gdn_err *e)
{
	return json_pack("{s:s, s:s}", "Type",
			 e->kind == GDN_ERR_CONTAINER_NOT_FOUND ? "ContainerNotFoundError"
								: "ProcessNotFoundError",
			 "Message", gdn_err_str(e));
}

void gd_reply_json(struct gd_server *s, struct gd_conn *c, int status, json_t *body)
{
	(void)s, (void)c;
	got.status = status;
	json_decref(json_reply);
	json_reply = json_incref(body);
	got.calls++;
}

void gd_reply_error(struct gd_server *s, struct gd_conn *c, const struct gdn_err *e)
{
	(void)s, (void)c;
	got.status = 500;
	got.text = dup_or_null(gdn_err_str(e));
	got.calls++;
}

void gd_reply_text(struct gd_server *s, struct gd_conn *c, int status, const char *text,
		   const char *extra_header)
{
	(void)s, (void)c;
	got.status = status;
	got.text = dup_or_null(text);
	got.header = dup_or_null(extra_header);
	got.calls++;
}

static void reset(void)
{
	free(got.handle);
	free(got.second);
	free(got.third);
	free(got.text);
	free(got.header);
	memset(&got, 0, sizeof(got));
}

static int log_fd = -1;

static bool route_debug; /* route() on a connection of the debug listener */

/* Routes METHOD PATH through gd_route with a fresh connection. */
static void route(const char *method, const char *path)
{
	struct gd_server s = {.log = NULL};
	struct gd_conn c = {.fd = -1};

	if (log_fd < 0) {
		log_fd = memfd_create("log", MFD_CLOEXEC);
		CHECK(log_fd >= 0);
		gdn_log_init("guardian", GDN_LOG_DEBUG, log_fd);
	}
	s.log = gdn_log_root();
	reset();
	c.req.method = (char *)method;
	c.req.path = (char *)path;
	c.debug = route_debug;
	gd_route(&s, &c);
	if (got.calls != 1)
		tap_fail_(__FILE__, __LINE__, "%s %s: %d calls", method, path, got.calls);
	gdn_log_free(c.log);
}

/* The log written so far (for the session lines the router starts). */
static char *log_text(void)
{
	char *text = NULL;
	size_t len = 0;
	char path[64];
	struct gdn_err *err = NULL;

	(void)snprintf(path, sizeof(path), "/proc/self/fd/%d", log_fd);
	if (gdn_fs_read_file(path, 1 << 20, &text, &len, &err) < 0)
		tap_fail_(__FILE__, __LINE__, "read log: %s", gdn_err_str(err));
	return text;
}

/* METHOD PATH reaches `handler` with the captures h, k, id (NULL: none). */
static void expect(const char *method, const char *path, const char *handler, const char *h,
		   const char *second, const char *third)
{
	route(method, path);
	if (!got.handler || strcmp(got.handler, handler) != 0)
		tap_fail_(__FILE__, __LINE__, "%s %s: handler %s, wanted %s", method, path,
			  got.handler ? got.handler : (got.status ? "(a text reply)" : "(none)"),
			  handler);
	if ((h == NULL) != (got.handle == NULL) || (h && strcmp(h, got.handle) != 0) ||
	    (second == NULL) != (got.second == NULL) || (second && strcmp(second, got.second)) ||
	    (third == NULL) != (got.third == NULL) || (third && strcmp(third, got.third)))
		tap_fail_(__FILE__, __LINE__, "%s %s: params '%s' '%s' '%s'", method, path,
			  got.handle ? got.handle : "(null)", got.second ? got.second : "(null)",
			  got.third ? got.third : "(null)");
	CHECK(got.had_log);
}

static void expect_404(const char *method, const char *path)
{
	route(method, path);
	if (got.handler || got.status != 404)
		tap_fail_(__FILE__, __LINE__, "%s %s: %s %d, wanted 404", method, path,
			  got.handler ? got.handler : "-", got.status);
	CHECK_STREQ(got.text, "404 page not found\n");
	CHECK(got.header == NULL);
}

static void expect_400(const char *method, const char *path)
{
	route(method, path);
	if (got.handler || got.status != 400)
		tap_fail_(__FILE__, __LINE__, "%s %s: %s %d, wanted 400", method, path,
			  got.handler ? got.handler : "-", got.status);
	CHECK_STREQ(got.text, "400 Bad Request");
}

static void expect_405(const char *method, const char *path, const char *allow)
{
	char want[80];

	route(method, path);
	if (got.handler || got.status != 405)
		tap_fail_(__FILE__, __LINE__, "%s %s: %s %d, wanted 405", method, path,
			  got.handler ? got.handler : "-", got.status);
	CHECK_STREQ(got.text, "Method Not Allowed\n");
	(void)snprintf(want, sizeof(want), "Allow: %s", allow);
	CHECK_STREQ(got.header, want);
}

/* Protocol §3, in its order. */
static void test_every_route(void)
{
	const char *P = "/containers/h/processes/p";

	expect("GET", "/ping", "gd_h_ping", NULL, NULL, NULL);
	expect("GET", "/capacity", "gd_h_capacity", NULL, NULL, NULL);
	expect("GET", "/containers", "gd_h_list", NULL, NULL, NULL);
	expect("POST", "/containers", "gd_h_create", NULL, NULL, NULL);
	expect("GET", "/containers/h/info", "gd_h_info", "h", NULL, NULL);
	expect("GET", "/containers/bulk_info", "gd_h_bulk_info", NULL, NULL, NULL);
	expect("GET", "/containers/bulk_metrics", "gd_h_bulk_metrics", NULL, NULL, NULL);
	expect("DELETE", "/containers/h", "gd_h_destroy", "h", NULL, NULL);
	expect("PUT", "/containers/h/stop", "gd_h_stop", "h", NULL, NULL);
	expect("PUT", "/containers/h/files", "gd_h_stream_in", "h", NULL, NULL);
	expect("GET", "/containers/h/files", "gd_h_stream_out", "h", NULL, NULL);
	expect("GET", "/containers/h/limits/bandwidth", "gd_h_limits_empty", "h", NULL, NULL);
	expect("GET", "/containers/h/limits/cpu", "gd_h_limits_cpu", "h", NULL, NULL);
	expect("GET", "/containers/h/limits/disk", "gd_h_limits_empty", "h", NULL, NULL);
	expect("GET", "/containers/h/limits/memory", "gd_h_limits_memory", "h", NULL, NULL);
	expect("POST", "/containers/h/net/in", "gd_h_net_in", "h", NULL, NULL);
	expect("POST", "/containers/h/net/out", "gd_h_net_out", "h", NULL, NULL);
	expect("POST", "/containers/h/net/out/bulk", "gd_h_bulk_net_out", "h", NULL, NULL);
	expect("GET", "/containers/h/processes/p/attaches/7/stdout", "gd_h_stdout", "h", "p", "7");
	expect("GET", "/containers/h/processes/p/attaches/7/stderr", "gd_h_stderr", "h", "p", "7");
	expect("POST", "/containers/h/processes", "gd_h_run", "h", NULL, NULL);
	expect("GET", P, "gd_h_attach", "h", "p", NULL);
	expect("PUT", "/containers/h/grace_time", "gd_h_grace_time", "h", NULL, NULL);
	expect("GET", "/containers/h/properties", "gd_h_properties", "h", NULL, NULL);
	expect("GET", "/containers/h/properties/k", "gd_h_property_get", "h", "k", NULL);
	expect("PUT", "/containers/h/properties/k", "gd_h_property_set", "h", "k", NULL);
	expect("DELETE", "/containers/h/properties/k", "gd_h_property_remove", "h", "k", NULL);
	expect("GET", "/containers/h/metrics", "gd_h_metrics", "h", NULL, NULL);
	reset();
}

static void test_fixed_paths_win_in_table_order(void)
{
	/* bulk_info is a fixed route; as a handle it still reaches the per-handle routes */
	expect("GET", "/containers/bulk_info/info", "gd_h_info", "bulk_info", NULL, NULL);
	expect("DELETE", "/containers/bulk_info", "gd_h_destroy", "bulk_info", NULL, NULL);
	/* "processes" as a process id */
	expect("GET", "/containers/h/processes/processes", "gd_h_attach", "h", "processes", NULL);
	/* "bulk" as a handle, "out" as a key */
	expect("POST", "/containers/bulk/net/out", "gd_h_net_out", "bulk", NULL, NULL);
	expect("GET", "/containers/h/properties/out", "gd_h_property_get", "h", "out", NULL);
	reset();
}

static void test_unescaping(void)
{
	/* captures are query-unescaped (pat does url.QueryUnescape): %XX and '+' */
	expect("GET", "/containers/a%2Fb/info", "gd_h_info", "a/b", NULL, NULL);
	expect("GET", "/containers/my+handle/info", "gd_h_info", "my handle", NULL, NULL);
	expect("GET", "/containers/%41%62c/info", "gd_h_info", "Abc", NULL, NULL);
	expect("GET", "/containers/h%20x/properties/key%3Dv%2B", "gd_h_property_get", "h x",
	       "key=v+", NULL);
	expect("DELETE", "/containers/%e2%98%83", "gd_h_destroy", "\xe2\x98\x83", NULL, NULL);
	expect("GET", "/containers/h/processes/p%2F1/attaches/s%2B/stdout", "gd_h_stdout", "h",
	       "p/1", "s+");
	/* the fixed parts are not unescaped: %70ing is not ping */
	expect_404("GET", "/%70ing");
	/* a bad escape or a truncated one: Go's net/http refuses the request line (400) */
	expect_400("GET", "/containers/a%zz/info");
	expect_400("GET", "/containers/a%4/info");
	expect_400("GET", "/containers/a%/info");
	/* %00: nothing by that name can exist; the error names it, NUL and all */
	route("GET", "/containers/a%00b/info");
	CHECK(got.handler == NULL);
	CHECK_INTEQ(got.status, 404);
	CHECK_STREQ(json_string_value(json_object_get(json_reply, "Type")),
		    "ContainerNotFoundError");
	CHECK_INTEQ(json_string_length(json_object_get(json_reply, "Handle")), 3);
	CHECK(memcmp(json_string_value(json_object_get(json_reply, "Handle")), "a\0b", 3) == 0);
	route("GET", "/containers/h/processes/p%00/attaches/1/stdout");
	CHECK_INTEQ(got.status, 404);
	CHECK_STREQ(json_string_value(json_object_get(json_reply, "Type")), "ProcessNotFoundError");
	route("PUT", "/containers/h/properties/k%00");
	CHECK_INTEQ(got.status, 500);
	CHECK(strstr(got.text, "NUL"));
	reset();
}

static void test_unknown_paths(void)
{
	expect_404("GET", "/");
	expect_404("GET", "");
	expect_404("GET", "/nope");
	expect_404("GET", "/ping/");
	expect_404("GET", "/pingx");
	expect_404("GET", "/Ping");
	expect_404("GET", "/containers/");
	expect_404("GET", "/containers//info");
	expect_404("GET", "/containers/h/info/");
	expect_404("GET", "/containers/h/unknown");
	expect_404("GET", "/containers/h/processes/p/attaches/7/stdin");
	expect_404("GET", "/containers/h/processes/p/attaches//stdout");
	expect_404("GET", "/containers/h/properties/k/v");
	expect_404("GET", "//containers");
	/* an unknown method on an unknown path is still 404 */
	expect_404("BREW", "/coffee");
	reset();
}

/* A debug connection never reaches a Garden handler, but a bad escape is Go's 400 first. */
static void test_debug_listener(void)
{
	static const char *const paths[] = {"/debug/vars", "/ping", "/containers", "/nope", ""};

	route_debug = true;
	for (size_t i = 0; i < GDN_ARRAY_SIZE(paths); i++) {
		route("GET", paths[i]);
		CHECK_STREQ(got.handler, "gd_debug_serve");
	}
	route("POST", "/containers");
	CHECK_STREQ(got.handler, "gd_debug_serve");
	route("GET", "/debug/%zz");
	CHECK(!got.handler);
	CHECK_INTEQ(got.status, 400);
	reset();
}

static void test_wrong_method(void)
{
	expect_405("PUT", "/ping", "GET");
	expect_405("POST", "/capacity", "GET");
	expect_405("DELETE", "/containers", "GET, POST");
	expect_405("GET", "/containers/h", "DELETE");
	expect_405("POST", "/containers/h/stop", "PUT");
	expect_405("DELETE", "/containers/h/files", "PUT, GET");
	expect_405("GET", "/containers/h/processes", "POST");
	expect_405("POST", "/containers/h/processes/p", "GET");
	expect_405("GET", "/containers/h/grace_time", "PUT");
	expect_405("POST", "/containers/h/properties/k", "GET, PUT, DELETE");
	expect_405("PUT", "/containers/h/properties", "GET");
	/* setting limits was removed from the API (protocol §3): 405 */
	expect_405("PUT", "/containers/h/limits/memory", "GET");
	expect_405("PUT", "/containers/h/limits/cpu", "GET");
	/* bulk_info also matches DELETE /containers/:handle */
	expect_405("POST", "/containers/bulk_info", "GET, DELETE");
	/* methods are case-sensitive */
	expect_405("get", "/ping", "GET");
	reset();
}

static void test_session_log(void)
{
	_cleanup_free_ char *text = NULL;

	/* the handler runs under a session named after the route, with the handle in its data */
	expect("PUT", "/containers/a%2Fb/properties/k", "gd_h_property_set", "a/b", "k", NULL);
	expect("GET", "/ping", "gd_h_ping", NULL, NULL, NULL);
	text = log_text();
	CHECK(strstr(text, "\"message\":\"guardian.set-property.started\""));
	CHECK(strstr(text, "\"handle\":\"a/b\""));
	CHECK(strstr(text, "\"message\":\"guardian.ping.started\""));
	CHECK(strstr(text, "\"handle\":\"\""));
	/* a 404 starts no session */
	free(text);
	expect_404("GET", "/nope");
	text = log_text();
	CHECK(!strstr(text, "nope"));
	reset();
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_every_route),    TEST(test_fixed_paths_win_in_table_order),
	    TEST(test_unescaping),     TEST(test_unknown_paths),
	    TEST(test_wrong_method),   TEST(test_session_log),
	    TEST(test_debug_listener),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
