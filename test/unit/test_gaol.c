/* gaol's testable parts: the ContainerSpec of create, option value parsers, path escaping,
 * UTF-8 repair, target selection, and the decoding of Garden errors from a fake server. */
/* link: cmd/gaol/spec.c cmd/gaol/client.c */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "cmd/gaol/gaol.h"
#include "test/unit/tap.h"

static void check_spec(const struct gl_create_opts *o, const char *want)
{
	json_auto_t *spec = gl_create_spec(o);
	_cleanup_free_ char *got = NULL;

	CHECK(spec != NULL);
	got = json_dumps(spec, JSON_COMPACT);
	CHECK_STREQ(got, want);
}

static void test_spec_minimal(void)
{
	struct gl_create_opts o = {0};

	/* Go never omits a struct: image and limits (and its five members) are always there. */
	check_spec(&o, "{\"image\":{},\"limits\":{\"bandwidth_limits\":{},\"cpu_limits\":{},"
		       "\"disk_limits\":{},\"memory_limits\":{},\"pid_limits\":{}}}");
}

static void test_spec_full(void)
{
	const char *env[] = {"A=1", "B=x y"};
	struct gl_kv props[] = {{"zeta", "1"}, {"alpha", "2"}, {"zeta", "3"}};
	struct gl_mount mounts[] = {{"/src", "/dst", false}, {"/a", "/b", true}};
	struct gl_create_opts o = {
	    .handle = "web-1",
	    .rootfs = "/var/rootfs",
	    .grace_ns = 90000000000,
	    .privileged = true,
	    .env = env,
	    .n_env = 2,
	    .props = props,
	    .n_props = 3,
	    .mounts = mounts,
	    .n_mounts = 2,
	    .memory_bytes = 268435456,
	    .cpu_shares = 512,
	    .pids = 64,
	};

	check_spec(
	    &o, "{\"handle\":\"web-1\",\"grace_time\":90000000000,\"rootfs\":\"/var/rootfs\","
		"\"image\":{},\"bind_mounts\":[{\"src_path\":\"/src\",\"dst_path\":\"/dst\"},"
		"{\"src_path\":\"/a\",\"dst_path\":\"/b\",\"mode\":1}],"
		"\"properties\":{\"alpha\":\"2\",\"zeta\":\"3\"},\"env\":[\"A=1\",\"B=x y\"],"
		"\"privileged\":true,\"limits\":{\"bandwidth_limits\":{},"
		"\"cpu_limits\":{\"limit_in_shares\":512},\"disk_limits\":{},"
		"\"memory_limits\":{\"limit_in_bytes\":268435456},\"pid_limits\":{\"max\":64}}}");
}

static void test_spec_empty_strings_omitted(void)
{
	struct gl_create_opts o = {.handle = "", .rootfs = ""};

	check_spec(&o, "{\"image\":{},\"limits\":{\"bandwidth_limits\":{},\"cpu_limits\":{},"
		       "\"disk_limits\":{},\"memory_limits\":{},\"pid_limits\":{}}}");
}

static void test_parse_mount(void)
{
	static const struct {
		const char *in, *src, *dst;
		bool rw;
	} good[] = {
	    {"/a:/b", "/a", "/b", false},
	    {"/a:/b:ro", "/a", "/b", false},
	    {"/a:/b:rw", "/a", "/b", true},
	    {"rel:/b", "rel", "/b", false},
	};
	static const char *const bad[] = {"/a",		"/a:",	  ":/b", "/a:/b:xx",
					  "/a:/b:rw:x", "/a:/b:", ""};

	for (size_t i = 0; i < GDN_ARRAY_SIZE(good); i++) {
		_cleanup_free_ char *copy = NULL;
		struct gl_mount m;

		CHECK_INTEQ(gl_parse_mount(good[i].in, &m, &copy), 0);
		CHECK_STREQ(m.src, good[i].src);
		CHECK_STREQ(m.dst, good[i].dst);
		CHECK(m.rw == good[i].rw);
	}
	for (size_t i = 0; i < GDN_ARRAY_SIZE(bad); i++) {
		char *copy = NULL;
		struct gl_mount m;

		CHECK_INTEQ(gl_parse_mount(bad[i], &m, &copy), -EINVAL);
		CHECK(copy == NULL);
	}
}

static void test_parse_bytes(void)
{
	uint64_t v = 0;

	CHECK_INTEQ(gl_parse_bytes("0", &v), 0);
	CHECK(v == 0);
	CHECK_INTEQ(gl_parse_bytes("268435456", &v), 0);
	CHECK(v == 268435456);
	CHECK_INTEQ(gl_parse_bytes("256M", &v), 0);
	CHECK(v == 268435456);
	CHECK_INTEQ(gl_parse_bytes("1k", &v), 0);
	CHECK(v == 1024);
	CHECK_INTEQ(gl_parse_bytes("2G", &v), 0);
	CHECK(v == 2147483648ULL);
	CHECK_INTEQ(gl_parse_bytes("1t", &v), 0);
	CHECK(v == 1099511627776ULL);
	CHECK_INTEQ(gl_parse_bytes("9223372036854775807", &v), 0);
	CHECK_INTEQ(gl_parse_bytes("9223372036854775808", &v), -ERANGE);
	CHECK_INTEQ(gl_parse_bytes("8388608T", &v), -ERANGE);
	CHECK_INTEQ(gl_parse_bytes("", &v), -EINVAL);
	CHECK_INTEQ(gl_parse_bytes("M", &v), -EINVAL);
	CHECK_INTEQ(gl_parse_bytes("1MB", &v), -EINVAL);
	CHECK_INTEQ(gl_parse_bytes("1 M", &v), -EINVAL);
	CHECK_INTEQ(gl_parse_bytes("-1", &v), -EINVAL);
	CHECK_INTEQ(gl_parse_bytes("1.5G", &v), -EINVAL);
}

static void test_json_string_repairs_utf8(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"plain", "plain"},
	    {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82",
	     "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82"},
	    {"a\xff"
	     "b",
	     "a\xef\xbf\xbd"
	     "b"},
	    {"\xc0\x80", "\xef\xbf\xbd\xef\xbf\xbd"},		      /* overlong NUL */
	    {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
	    {"\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd"},		      /* truncated */
	    {"", ""},
	};

	for (size_t i = 0; i < GDN_ARRAY_SIZE(cases); i++) {
		json_auto_t *s = gl_json_string(cases[i].in);

		CHECK(s != NULL);
		CHECK_STREQ(json_string_value(s), cases[i].out);
	}
}

static void test_container_path(void)
{
	_cleanup_free_ char *a = gl_container_path("web-1", "/info");
	_cleanup_free_ char *b = gl_container_path("a b/c+d", NULL);

	CHECK_STREQ(a, "/containers/web-1/info");
	CHECK_STREQ(b, "/containers/a%20b%2Fc%2Bd");
}

static void test_target(void)
{
	arg_target = NULL;
	CHECK(unsetenv("GAOL_TARGET") == 0);
	CHECK_STREQ(gl_target(), "127.0.0.1:7777");
	CHECK(setenv("GAOL_TARGET", "", 1) == 0);
	CHECK_STREQ(gl_target(), "127.0.0.1:7777");
	CHECK(setenv("GAOL_TARGET", "/run/garden.sock", 1) == 0);
	CHECK_STREQ(gl_target(), "/run/garden.sock");
	arg_target = "10.0.0.1:7777";
	CHECK_STREQ(gl_target(), "10.0.0.1:7777");
}

/* A fake server on a UNIX socket in tap_tmp: answers each connection with the next canned
 * response, after reading the request head. */
static pid_t fake_server(const char *const *answers)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int lfd;
	pid_t pid;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/fake.sock", tap_tmp);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(lfd >= 0);
	CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(listen(lfd, 8) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		for (const char *const *a = answers; *a; a++) {
			int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			char buf[8192];
			size_t len = 0;

			if (c < 0)
				_exit(3);
			while (len < sizeof(buf) - 1) {
				ssize_t n = read(c, buf + len, sizeof(buf) - 1 - len);

				if (n <= 0)
					break;
				len += (size_t)n;
				buf[len] = '\0';
				if (strstr(buf, "\r\n\r\n"))
					break;
			}
			if (write(c, *a, strlen(*a)) < 0)
				_exit(3);
			close(c);
		}
		_exit(0);
	}
	close(lfd);
	arg_target = strdup(sa.sun_path);
	return pid;
}

static void test_errors_from_server(void)
{
	static const char *const answers[] = {
	    "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\r\n"
	    "{\"Type\":\"ContainerNotFoundError\",\"Message\":\"whatever\",\"Handle\":\"web-1\","
	    "\"ProcessID\":\"\",\"Binary\":\"\"}\n",
	    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 93\r\n\r\n"
	    "{\"Type\":\"\",\"Message\":\"Handle 'web-1' already in use\",\"Handle\":\"\","
	    "\"ProcessID\":\"\",\"Binary\":\"\"}\n",
	    "HTTP/1.1 500 Internal Server Error\r\n\r\n"
	    "{\"Type\":\"UnrecoverableError\",\"Message\":\"broken\"}\n",
	    "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\n404 page not found\n",
	    "HTTP/1.1 405 Method Not Allowed\r\n\r\n",
	    "HTTP/1.1 200 OK\r\n\r\n{\"Handles\":[\"a\",\"b\"]}\n",
	    "HTTP/1.1 200 OK\r\n\r\nnot json\n",
	    NULL,
	};
	pid_t pid = fake_server(answers);
	json_auto_t *ret = NULL;
	int status;

	{
		_cleanup_err_ struct gdn_err *err = NULL;

		CHECK_INTEQ(gl_call("GET", "/containers/web-1/info", NULL, NULL, &err), -ENOENT);
		CHECK(err->kind == GDN_ERR_CONTAINER_NOT_FOUND);
		CHECK_STREQ(gdn_err_str(err), "unknown handle: web-1");
	}
	{
		_cleanup_err_ struct gdn_err *err = NULL;

		CHECK(gl_call("POST", "/containers", NULL, NULL, &err) < 0);
		CHECK(err->kind == GDN_ERR_GENERIC);
		CHECK_STREQ(gdn_err_str(err), "Handle 'web-1' already in use");
	}
	{
		_cleanup_err_ struct gdn_err *err = NULL;

		CHECK(gl_call("GET", "/ping", NULL, NULL, &err) < 0);
		CHECK(err->kind == GDN_ERR_UNRECOVERABLE);
		CHECK_STREQ(gdn_err_str(err), "broken");
	}
	{
		_cleanup_err_ struct gdn_err *err = NULL;

		CHECK(gl_call("GET", "/nope", NULL, NULL, &err) < 0);
		CHECK_STREQ(gdn_err_str(err), "bad response (HTTP 404): 404 page not found");
	}
	{
		_cleanup_err_ struct gdn_err *err = NULL;

		CHECK(gl_call("PUT", "/containers", NULL, NULL, &err) < 0);
		CHECK_STREQ(gdn_err_str(err), "bad response (HTTP 405): empty body");
	}
	{
		_cleanup_err_ struct gdn_err *err = NULL;

		CHECK_OK(gl_call("GET", "/containers", NULL, &ret, &err), err);
		CHECK(json_array_size(json_object_get(ret, "Handles")) == 2);
	}
	{
		_cleanup_err_ struct gdn_err *err = NULL;
		json_auto_t *bad = NULL;

		CHECK(gl_call("GET", "/capacity", NULL, &bad, &err) < 0);
		CHECK(bad == NULL);
		CHECK_STREQ(gdn_err_str(err), "bad response (HTTP 200): not json");
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	free((char *)arg_target);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_spec_minimal),
	    TEST(test_spec_full),
	    TEST(test_spec_empty_strings_omitted),
	    TEST(test_parse_mount),
	    TEST(test_parse_bytes),
	    TEST(test_json_string_repairs_utf8),
	    TEST(test_container_path),
	    TEST(test_target),
	    TEST(test_errors_from_server),
	};

	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
