/* gaol: the commands other than create; each is one HTTP call unless said otherwise. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/gaol/gaol.h"
#include "lib/buf.h"
#include "lib/duration.h"
#include "lib/util.h"

/* Parses a command without options of its own; -1 to go on, else the exit status. */
static int no_options(const struct gl_cmd *cmd, int argc, char **argv, int min, int max)
{
	int c;

	c = gl_getopt(cmd, argc, argv);
	if (c != -1)
		return gl_opt_other(cmd, c);
	if (!gl_nargs_ok(cmd, argc, argv, min, max))
		return GL_EXIT_USAGE;
	for (int i = optind; i < argc && i < optind + 2; i++)
		if (!*argv[i])
			return gl_usage_error(cmd, "empty %s", i == optind ? "handle" : "key");
	return -1;
}

static int print_json_line(const json_t *j, size_t flags)
{
	if (json_dumpf(j, stdout, flags | JSON_ENCODE_ANY) < 0)
		return GL_EXIT_FAIL;
	putchar('\n');
	return GL_EXIT_OK;
}

/* "KEY=VALUE" into obj (a later KEY replaces an earlier one). */
static int add_kv(const struct gl_cmd *cmd, json_t *obj, const char *arg, const char *what)
{
	const char *eq = strchr(arg, '=');
	_cleanup_free_ char *key = NULL;

	if (!gl_key_value_ok(cmd, what, arg))
		return GL_EXIT_USAGE;
	key = strndup(arg, (size_t)(eq - arg));
	if (!key || json_object_set_new(obj, key, gl_json_string(eq + 1)) < 0)
		return gl_usage_error(cmd, "invalid %s '%s'", what, arg);
	return 0;
}

int gl_cmd_ping(const struct gl_cmd *cmd, int argc, char **argv)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_http_resp resp = {0};
	int r = no_options(cmd, argc, argv, 0, 0);

	if (r >= 0)
		return r;
	if (gl_request("GET", "/ping", NULL, 0, &resp, &err) < 0)
		return gl_fail(err);
	gdn_http_resp_free(&resp);
	return GL_EXIT_OK;
}

int gl_cmd_capacity(const struct gl_cmd *cmd, int argc, char **argv)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_http_resp resp = {0};
	int r = no_options(cmd, argc, argv, 0, 0);

	if (r >= 0)
		return r;
	if (gl_request("GET", "/capacity", NULL, 0, &resp, &err) < 0)
		return gl_fail(err);
	if (resp.body_len > 0)
		fwrite(resp.body, 1, resp.body_len, stdout);
	if (resp.body_len == 0 || resp.body[resp.body_len - 1] != '\n')
		putchar('\n');
	gdn_http_resp_free(&resp);
	return GL_EXIT_OK;
}

int gl_cmd_destroy(const struct gl_cmd *cmd, int argc, char **argv)
{
	int status = GL_EXIT_OK;
	int c = gl_getopt(cmd, argc, argv);

	if (c != -1)
		return gl_opt_other(cmd, c);
	if (!gl_nargs_ok(cmd, argc, argv, 1, -1))
		return GL_EXIT_USAGE;
	for (int i = optind; i < argc; i++)
		if (!*argv[i])
			return gl_usage_error(cmd, "empty handle");

	for (int i = optind; i < argc; i++) {
		_cleanup_err_ struct gdn_err *err = NULL;
		_cleanup_free_ char *path = gl_container_path(argv[i], NULL);

		if (!path || gl_call("DELETE", path, NULL, NULL, &err) < 0)
			status = gl_fail(err);
	}
	return status;
}

int gl_cmd_list(const struct gl_cmd *cmd, int argc, char **argv)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	json_auto_t *filter = json_object();
	json_auto_t *resp = NULL;
	_cleanup_free_ const char **keys = NULL;
	_cleanup_buf_ struct gdn_buf path = {0};
	json_t *handles, *h;
	size_t i;
	int c, r;

	if (!filter)
		return gl_fail(NULL);
	while ((c = gl_getopt(cmd, argc, argv)) != -1) {
		if (c != 'p')
			return gl_opt_other(cmd, c);
		r = add_kv(cmd, filter, optarg, "property");
		if (r)
			return r;
	}
	if (!gl_nargs_ok(cmd, argc, argv, 0, 0))
		return GL_EXIT_USAGE;

	/* Go's url.Values.Encode(): keys sorted, QueryEscape'd. */
	keys = gl_sorted_keys(filter);
	if (!keys || gdn_buf_puts(&path, "/containers") < 0)
		return gl_fail(NULL);
	for (i = 0; keys[i]; i++) {
		_cleanup_free_ char *k = gdn_url_query_escape(keys[i]);
		_cleanup_free_ char *v =
		    gdn_url_query_escape(json_string_value(json_object_get(filter, keys[i])));

		if (!k || !v || gdn_buf_printf(&path, "%c%s=%s", i ? '&' : '?', k, v) < 0)
			return gl_fail(NULL);
	}

	if (gl_call("GET", path.data, NULL, &resp, &err) < 0)
		return gl_fail(err);
	handles = gdn_json_get(resp, "Handles");
	json_array_foreach (handles, i, h) {
		if (json_is_string(h))
			printf("%s\n", json_string_value(h));
	}
	return GL_EXIT_OK;
}

/* GET /containers/HANDLE<suffix>, printed as indented JSON in the server's member order. */
static int print_container_json(const struct gl_cmd *cmd, int argc, char **argv, const char *suffix)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *path = NULL;
	json_auto_t *resp = NULL;
	int r = no_options(cmd, argc, argv, 1, 1);

	if (r >= 0)
		return r;
	path = gl_container_path(argv[optind], suffix);
	if (!path || gl_call("GET", path, NULL, &resp, &err) < 0)
		return gl_fail(err);
	return print_json_line(resp, JSON_INDENT(2));
}

int gl_cmd_info(const struct gl_cmd *cmd, int argc, char **argv)
{
	return print_container_json(cmd, argc, argv, "/info");
}

int gl_cmd_metrics(const struct gl_cmd *cmd, int argc, char **argv)
{
	return print_container_json(cmd, argc, argv, "/metrics");
}

int gl_cmd_properties(const struct gl_cmd *cmd, int argc, char **argv)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ const char **keys = NULL;
	json_auto_t *resp = NULL;
	int r = no_options(cmd, argc, argv, 1, 1);

	if (r >= 0)
		return r;
	path = gl_container_path(argv[optind], "/properties");
	if (!path || gl_call("GET", path, NULL, &resp, &err) < 0)
		return gl_fail(err);
	if (json_is_null(resp))
		return GL_EXIT_OK;
	if (!json_is_object(resp)) {
		gdn_err_set(&err, 0, "bad response: properties are not a JSON object");
		return gl_fail(err);
	}
	keys = gl_sorted_keys(resp);
	if (!keys)
		return gl_fail(NULL);
	for (size_t i = 0; keys[i]; i++) {
		json_t *v = json_object_get(resp, keys[i]);
		_cleanup_free_ char *text = NULL;

		if (json_is_string(v)) {
			printf("%s\t%s\n", keys[i], json_string_value(v));
			continue;
		}
		text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		printf("%s\t%s\n", keys[i], text ? text : "");
	}
	return GL_EXIT_OK;
}

/* "/containers/<handle>/properties/<key>" */
static char *property_path(const char *handle, const char *key)
{
	_cleanup_free_ char *esc = gdn_url_path_escape(key);
	_cleanup_free_ char *suffix = NULL;

	if (!esc || asprintf(&suffix, "/properties/%s", esc) < 0)
		return NULL;
	return gl_container_path(handle, suffix);
}

int gl_cmd_get_property(const struct gl_cmd *cmd, int argc, char **argv)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *path = NULL;
	json_auto_t *resp = NULL;
	const char *value;
	int r = no_options(cmd, argc, argv, 2, 2);

	if (r >= 0)
		return r;
	path = property_path(argv[optind], argv[optind + 1]);
	if (!path || gl_call("GET", path, NULL, &resp, &err) < 0)
		return gl_fail(err);
	value = json_string_value(gdn_json_get(resp, "value"));
	if (!value) {
		gdn_err_set(&err, 0, "bad response: no property value");
		return gl_fail(err);
	}
	printf("%s\n", value);
	return GL_EXIT_OK;
}

int gl_cmd_set_property(const struct gl_cmd *cmd, int argc, char **argv)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *path = NULL;
	json_auto_t *body = NULL;
	int r = no_options(cmd, argc, argv, 3, 3);

	if (r >= 0)
		return r;
	path = property_path(argv[optind], argv[optind + 1]);
	body = json_pack("{s:o?}", "value", gl_json_string(argv[optind + 2]));
	if (!path || !body || gl_call("PUT", path, body, NULL, &err) < 0)
		return gl_fail(err);
	return GL_EXIT_OK;
}

int gl_cmd_remove_property(const struct gl_cmd *cmd, int argc, char **argv)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *path = NULL;
	int r = no_options(cmd, argc, argv, 2, 2);

	if (r >= 0)
		return r;
	path = property_path(argv[optind], argv[optind + 1]);
	if (!path || gl_call("DELETE", path, NULL, NULL, &err) < 0)
		return gl_fail(err);
	return GL_EXIT_OK;
}

int gl_cmd_set_grace(const struct gl_cmd *cmd, int argc, char **argv)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *path = NULL;
	struct gdn_http_resp resp = {0};
	char body[32];
	int64_t ns;
	int n, r = no_options(cmd, argc, argv, 2, 2);

	if (r >= 0)
		return r;
	if (gdn_parse_duration(argv[optind + 1], &ns) < 0)
		return gl_usage_error(cmd,
				      "invalid grace time '%s': expected a Go duration such as "
				      "30s, 5m, 1h30m or 500ms",
				      argv[optind + 1]);
	if (ns < 0)
		return gl_usage_error(cmd, "invalid grace time '%s': must not be negative",
				      argv[optind + 1]);

	/* A bare JSON integer of nanoseconds, as Go's encoder writes a time.Duration. */
	n = snprintf(body, sizeof(body), "%" PRId64 "\n", ns);
	path = gl_container_path(argv[optind], "/grace_time");
	if (!path || gl_request("PUT", path, body, (size_t)n, &resp, &err) < 0)
		return gl_fail(err);
	gdn_http_resp_free(&resp);
	return GL_EXIT_OK;
}

int gl_cmd_stop(const struct gl_cmd *cmd, int argc, char **argv)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *path = NULL;
	json_auto_t *body = NULL;
	bool kill = false;
	int c;

	while ((c = gl_getopt(cmd, argc, argv)) != -1) {
		if (c != 'k')
			return gl_opt_other(cmd, c);
		kill = true;
	}
	if (!gl_nargs_ok(cmd, argc, argv, 1, 1))
		return GL_EXIT_USAGE;
	if (!*argv[optind])
		return gl_usage_error(cmd, "empty handle");

	path = gl_container_path(argv[optind], "/stop");
	body = json_pack("{s:b}", "kill", kill);
	if (!path || !body || gl_call("PUT", path, body, NULL, &err) < 0)
		return gl_fail(err);
	return GL_EXIT_OK;
}

int gl_cmd_limits(const struct gl_cmd *cmd, int argc, char **argv)
{
	static const struct {
		const char *key;
		const char *route;
	} kinds[] = {
	    {"memory", "/limits/memory"},
	    {"cpu", "/limits/cpu"},
	    {"disk", "/limits/disk"},
	    {"bandwidth", "/limits/bandwidth"},
	};
	json_auto_t *out = json_object();
	int r = no_options(cmd, argc, argv, 1, 1);

	if (r >= 0)
		return r;
	if (!out)
		return gl_fail(NULL);
	for (size_t i = 0; i < GDN_ARRAY_SIZE(kinds); i++) {
		_cleanup_err_ struct gdn_err *err = NULL;
		_cleanup_free_ char *path = gl_container_path(argv[optind], kinds[i].route);
		json_t *resp = NULL;

		if (!path || gl_call("GET", path, NULL, &resp, &err) < 0)
			return gl_fail(err);
		if (json_object_set_new(out, kinds[i].key, resp) < 0)
			return gl_fail(NULL);
	}
	return print_json_line(out, JSON_COMPACT);
}
