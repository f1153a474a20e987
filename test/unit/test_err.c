#include <errno.h>
#include <string.h>
#include "lib/err.h"
#include "lib/errwire.h"
#include "lib/util.h"
#include "test/unit/tap.h"

static void test_set_formats_and_returns(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	int r = gdn_err_set(&err, ENOENT, "open '%s'", "/x");

	CHECK_INTEQ(r, -ENOENT);
	CHECK(err != NULL);
	CHECK_STREQ(gdn_err_str(err), "open '/x': No such file or directory");
	CHECK_INTEQ(err->errnum, ENOENT);
	CHECK_INTEQ(err->kind, GDN_ERR_GENERIC);
	CHECK_INTEQ(err->http_status, 0);
	CHECK_INTEQ(gdn_err_code(err), -ENOENT);
}

static void test_set_zero_is_eio_without_strerror(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;

	CHECK_INTEQ(gdn_err_set(&err, 0, "bad %d", 7), -EIO);
	CHECK_STREQ(gdn_err_str(err), "bad 7");
	CHECK_INTEQ(gdn_err_code(err), -EIO);
}

static void test_set_keeps_first(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;

	gdn_err_set(&err, EPERM, "first");
	CHECK_INTEQ(gdn_err_set(&err, ENOENT, "second"), -ENOENT);
	CHECK_STREQ(gdn_err_str(err), "first: Operation not permitted");
	CHECK_INTEQ(err->errnum, EPERM);
}

static void test_set_null_err(void)
{
	CHECK_INTEQ(gdn_err_set(NULL, EINVAL, "x"), -EINVAL);
	CHECK_INTEQ(gdn_err_kind(NULL, GDN_ERR_GENERIC, 0, "x"), -EIO);
	CHECK_INTEQ(gdn_err_wrap(NULL, "ctx"), -EIO);
}

static void test_wrap(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_err *none = NULL;

	gdn_err_set(&err, EACCES, "open 'f'");
	CHECK_INTEQ(gdn_err_wrap(&err, "load %s", "cfg"), -EACCES);
	CHECK_STREQ(gdn_err_str(err), "load cfg: open 'f': Permission denied");
	CHECK_INTEQ(gdn_err_wrap(&none, "ctx"), -EIO);
	CHECK(none == NULL);
}

static void test_kind_not_found(void)
{
	_cleanup_err_ struct gdn_err *a = NULL, *b = NULL, *c = NULL;

	CHECK_INTEQ(gdn_err_kind(&a, GDN_ERR_EXECUTABLE_NOT_FOUND, ENOENT, "no %s", "ls"), -ENOENT);
	CHECK_STREQ(gdn_err_str(a), "no ls");
	CHECK_INTEQ(a->kind, GDN_ERR_EXECUTABLE_NOT_FOUND);
	CHECK_INTEQ(gdn_err_not_found(&b, "h1"), -ENOENT);
	CHECK_STREQ(gdn_err_str(b), "unknown handle: h1");
	CHECK_STREQ(b->handle, "h1");
	CHECK_INTEQ(b->kind, GDN_ERR_CONTAINER_NOT_FOUND);
	CHECK_INTEQ(gdn_err_process_not_found(&c, "p9"), -ENOENT);
	CHECK_STREQ(gdn_err_str(c), "unknown process: p9");
	CHECK_STREQ(c->process_id, "p9");
	CHECK_INTEQ(c->kind, GDN_ERR_PROCESS_NOT_FOUND);
}

static void test_str_and_free_null(void)
{
	CHECK_STREQ(gdn_err_str(NULL), "unknown error");
	CHECK(gdn_err_free(NULL) == NULL);
	CHECK_INTEQ(gdn_err_code(NULL), -EIO);
}

static void test_negative_errnum_normalised(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;

	CHECK_INTEQ(gdn_err_set(&err, -EBUSY, "x"), -EBUSY);
	CHECK_INTEQ(err->errnum, EBUSY);
}

static const enum gdn_err_kind all_kinds[] = {
    GDN_ERR_GENERIC,
    GDN_ERR_CONTAINER_NOT_FOUND,
    GDN_ERR_PROCESS_NOT_FOUND,
    GDN_ERR_EXECUTABLE_NOT_FOUND,
    GDN_ERR_SERVICE_UNAVAILABLE,
    GDN_ERR_UNRECOVERABLE,
};

static void test_type_names(void)
{
	static const char *const names[] = {"",
					    "ContainerNotFoundError",
					    "ProcessNotFoundError",
					    "ExecutableNotFoundError",
					    "ServiceUnavailableError",
					    "UnrecoverableError"};

	for (size_t i = 0; i < GDN_ARRAY_SIZE(all_kinds); i++) {
		CHECK_STREQ(gdn_err_type_name(all_kinds[i]), names[i]);
		CHECK_INTEQ(gdn_err_type_parse(names[i]), all_kinds[i]);
	}
	CHECK_INTEQ(gdn_err_type_parse("NoSuchError"), GDN_ERR_GENERIC);
	CHECK_INTEQ(gdn_err_type_parse(NULL), GDN_ERR_GENERIC);
}

/* every Type survives the IPC form with its message, handle, process id, status and errno */
static void test_ipc_round_trip_every_type(void)
{
	for (size_t i = 0; i < GDN_ARRAY_SIZE(all_kinds); i++) {
		_cleanup_err_ struct gdn_err *e = NULL, *back = NULL;
		json_auto_t *j = NULL;
		_cleanup_free_ char *line = NULL;

		CHECK_INTEQ(gdn_err_kind(&e, all_kinds[i], EIO, "boom %zu", i), -EIO);
		e->handle = strdup("h1");
		e->process_id = strdup("p1");
		e->http_status = i == 3 ? 503 : 0;
		j = gdn_err_to_json(e);
		CHECK(j != NULL);
		line = gdn_json_line(j, NULL);
		/* round trip through the encoded text, as on the wire */
		json_decref(j);
		j = json_loads(line, 0, NULL);
		CHECK_INTEQ(gdn_err_from_json(j, &back), -EIO);
		CHECK_INTEQ(back->kind, all_kinds[i]);
		CHECK_INTEQ(back->errnum, EIO);
		CHECK_STREQ(back->msg, e->msg);
		CHECK_STREQ(back->handle, "h1");
		CHECK_STREQ(back->process_id, "p1");
		CHECK_INTEQ(back->http_status, e->http_status);
		CHECK_INTEQ(gdn_err_http_status(back), gdn_err_http_status(e));
	}
}

static void test_ipc_form_is_minimal(void)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	_cleanup_free_ char *line = NULL;
	json_auto_t *j = NULL;

	gdn_err_kind(&e, GDN_ERR_EXECUTABLE_NOT_FOUND, 0, "exec: \"x\": not found");
	j = gdn_err_to_json(e);
	line = gdn_json_line(j, NULL);
	CHECK_STREQ(line, "{\"type\":\"ExecutableNotFoundError\",\"message\":\"exec: "
			  "\\\"x\\\": not found\"}\n");
}

static void test_from_json_version0_and_malformed(void)
{
	_cleanup_err_ struct gdn_err *a = NULL, *b = NULL, *c = NULL;
	json_auto_t *s = json_string("attach: no control connection");
	json_auto_t *n = json_integer(3);
	json_auto_t *o = json_pack("{s:s}", "type", "ProcessNotFoundError");

	CHECK_INTEQ(gdn_err_from_json(s, &a), -EIO);
	CHECK_INTEQ(a->kind, GDN_ERR_GENERIC);
	CHECK_STREQ(a->msg, "attach: no control connection");
	CHECK_INTEQ(gdn_err_from_json(n, &b), -EBADMSG);
	CHECK_STREQ(b->msg, "malformed error");
	CHECK_INTEQ(gdn_err_from_json(o, &c), -EBADMSG);
}

static void test_http_status(void)
{
	_cleanup_err_ struct gdn_err *nf = NULL, *pnf = NULL, *plain = NULL, *big = NULL;

	gdn_err_not_found(&nf, "h");
	gdn_err_process_not_found(&pnf, "p");
	gdn_err_set(&plain, EINVAL, "x");
	gdn_err_set(&big, EFBIG, "x");
	big->http_status = 413;
	CHECK_INTEQ(gdn_err_http_status(nf), 404);
	CHECK_INTEQ(gdn_err_http_status(pnf), 404);
	CHECK_INTEQ(gdn_err_http_status(plain), 500);
	CHECK_INTEQ(gdn_err_http_status(big), 413);
	CHECK_INTEQ(gdn_err_http_status(NULL), 500);
}

/* the HTTP body is exactly what guardian sent before the conversion moved to lib */
static void test_garden_body_bytes(void)
{
	_cleanup_err_ struct gdn_err *nf = NULL, *pnf = NULL, *ex = NULL;
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
	json_auto_t *ja = NULL, *jb = NULL, *jc = NULL, *jd = NULL;

	gdn_err_not_found(&nf, "web-1");
	gdn_err_process_not_found(&pnf, "p9");
	gdn_err_kind(&ex, GDN_ERR_EXECUTABLE_NOT_FOUND, EIO, "runc exec: exit status 1: nope");
	ja = gdn_err_to_garden_json(nf);
	jb = gdn_err_to_garden_json(pnf);
	jc = gdn_err_to_garden_json(ex);
	jd = gdn_err_to_garden_json(NULL);
	a = gdn_json_line(ja, NULL);
	b = gdn_json_line(jb, NULL);
	c = gdn_json_line(jc, NULL);
	d = gdn_json_line(jd, NULL);
	CHECK_STREQ(a, "{\"Type\":\"ContainerNotFoundError\",\"Message\":\"unknown handle: "
		       "web-1\",\"Handle\":\"web-1\",\"ProcessID\":\"\",\"Binary\":\"\"}\n");
	CHECK_STREQ(b, "{\"Type\":\"ProcessNotFoundError\",\"Message\":\"unknown process: "
		       "p9\",\"Handle\":\"\",\"ProcessID\":\"p9\",\"Binary\":\"\"}\n");
	CHECK_STREQ(c, "{\"Type\":\"ExecutableNotFoundError\",\"Message\":\"runc exec: exit "
		       "status 1: nope\",\"Handle\":\"\",\"ProcessID\":\"\",\"Binary\":\"\"}\n");
	CHECK_STREQ(d, "{\"Type\":\"\",\"Message\":\"unknown error\",\"Handle\":\"\","
		       "\"ProcessID\":\"\",\"Binary\":\"\"}\n");
}

/* every Type survives a Garden body as Go's client reads it */
static void test_garden_round_trip_every_type(void)
{
	for (size_t i = 0; i < GDN_ARRAY_SIZE(all_kinds); i++) {
		_cleanup_err_ struct gdn_err *e = NULL, *back = NULL;
		json_auto_t *j = NULL;

		if (all_kinds[i] == GDN_ERR_CONTAINER_NOT_FOUND)
			gdn_err_not_found(&e, "h2");
		else if (all_kinds[i] == GDN_ERR_PROCESS_NOT_FOUND)
			gdn_err_process_not_found(&e, "p2");
		else
			gdn_err_kind(&e, all_kinds[i], 0, "m%zu", i);
		j = gdn_err_to_garden_json(e);
		CHECK(gdn_err_from_garden_json(j, &back) < 0);
		CHECK_INTEQ(back->kind, all_kinds[i]);
		CHECK_STREQ(back->msg, e->msg);
		CHECK_INTEQ(gdn_err_http_status(back), gdn_err_http_status(e));
	}
}

static void test_garden_body_edge_cases(void)
{
	_cleanup_err_ struct gdn_err *a = NULL, *b = NULL;
	json_auto_t *nf_no_handle = json_pack("{s:s, s:s, s:s}", "Type", "ContainerNotFoundError",
					      "Message", "gone", "Handle", "");
	json_auto_t *no_msg = json_pack("{s:s}", "Type", "");

	/* a NotFound type without its field is a plain error */
	CHECK_INTEQ(gdn_err_from_garden_json(nf_no_handle, &a), -EIO);
	CHECK_INTEQ(a->kind, GDN_ERR_GENERIC);
	CHECK_STREQ(a->msg, "gone");
	CHECK_INTEQ(gdn_err_from_garden_json(no_msg, &b), -EBADMSG);
	CHECK(b == NULL);
	CHECK_INTEQ(gdn_err_from_garden_json(NULL, &b), -EBADMSG);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_set_formats_and_returns),
	    TEST(test_set_zero_is_eio_without_strerror),
	    TEST(test_set_keeps_first),
	    TEST(test_set_null_err),
	    TEST(test_wrap),
	    TEST(test_kind_not_found),
	    TEST(test_str_and_free_null),
	    TEST(test_negative_errnum_normalised),
	    TEST(test_type_names),
	    TEST(test_ipc_round_trip_every_type),
	    TEST(test_ipc_form_is_minimal),
	    TEST(test_from_json_version0_and_malformed),
	    TEST(test_http_status),
	    TEST(test_garden_body_bytes),
	    TEST(test_garden_round_trip_every_type),
	    TEST(test_garden_body_edge_cases),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
