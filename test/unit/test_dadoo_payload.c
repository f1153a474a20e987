/* link: cmd/dadoo/payload.c cmd/guardian/dadoo_client.c */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/util.h"
#include "test/unit/tap.h"
#include "cmd/dadoo/dadoo.h"
#include "cmd/guardian/dadoo_client.h"

static void feed(struct gdn_lines *r, const char *s, size_t len)
{
	CHECK_INTEQ(gdn_buf_append(&r->buf, s, len), 0);
}

static void test_next_splits_lines_and_keeps_nul(void)
{
	static const char in[] =
	    "{\"source\":0,\"data\":\"a\\u0000b\"}\n\n  \r\n{\"signal\":1}\n{\"sig";
	struct gdn_lines r = {0};
	struct gdn_err *err = NULL;
	json_t *m = NULL;

	feed(&r, in, sizeof(in) - 1);
	CHECK_INTEQ(dd_payload_next(&r, &m, &err), 1);
	CHECK_INTEQ(json_string_length(json_object_get(m, "data")), 3);
	CHECK(memcmp(json_string_value(json_object_get(m, "data")), "a\0b", 3) == 0);
	json_decref(m);
	CHECK_INTEQ(dd_payload_next(&r, &m, &err), 1);
	CHECK_INTEQ(json_integer_value(json_object_get(m, "signal")), 1);
	json_decref(m);
	/* an incomplete line waits for more */
	CHECK_INTEQ(dd_payload_next(&r, &m, &err), 0);
	CHECK(m == NULL);
	feed(&r, "nal\":0}", 7);
	CHECK_INTEQ(dd_payload_next(&r, &m, &err), 0);
	/* ... or for EOF */
	r.eof = true;
	CHECK_INTEQ(dd_payload_next(&r, &m, &err), 1);
	CHECK_INTEQ(json_integer_value(json_object_get(m, "signal")), 0);
	json_decref(m);
	CHECK_INTEQ(dd_payload_next(&r, &m, &err), 0);
	gdn_lines_free(&r);
}

static void test_next_rejects_garbage(void)
{
	struct gdn_lines r = {0};
	struct gdn_err *err = NULL;
	json_t *m = NULL;

	feed(&r, "not json\n[1]\n{\"a\":1,\"a\":2}\n", 28);
	CHECK(dd_payload_next(&r, &m, &err) < 0);
	CHECK(strstr(gdn_err_str(err), "invalid payload") != NULL);
	err = gdn_err_free(err);
	CHECK(dd_payload_next(&r, &m, &err) < 0);
	err = gdn_err_free(err);
	/* duplicate keys: the last wins, as with Go */
	CHECK_INTEQ(dd_payload_next(&r, &m, &err), 1);
	CHECK_INTEQ(json_integer_value(json_object_get(m, "a")), 2);
	json_decref(m);
	gdn_lines_free(&r);
}

/* Parsed values stay alive until release() (a payload's data borrows from its value). */
static json_t *kept[32];
static size_t n_kept;

static void release(void)
{
	while (n_kept > 0)
		json_decref(kept[--n_kept]);
}

static json_t *keep(const char *text)
{
	json_t *v = json_loads(text, JSON_ALLOW_NUL, NULL);

	CHECK(v != NULL && n_kept < GDN_ARRAY_SIZE(kept));
	kept[n_kept++] = v;
	return v;
}

static struct dd_payload parse(const char *text)
{
	struct dd_payload p;

	dd_payload_parse(keep(text), &p);
	return p;
}

static void test_parse_kinds(void)
{
	struct dd_payload p = parse("{\"process_id\":\"p\",\"source\":0,\"data\":\"hi\\n\"}");

	CHECK_INTEQ(p.kind, DD_P_STDIN);
	CHECK_INTEQ(p.len, 3);
	CHECK(memcmp(p.data, "hi\n", 3) == 0);
	CHECK_INTEQ(parse("{\"source\":0}").kind, DD_P_STDIN_EOF);
	CHECK_INTEQ(parse("{\"source\":0,\"data\":null}").kind, DD_P_STDIN_EOF);
	CHECK_INTEQ(parse("{\"Source\":0}").kind, DD_P_STDIN_EOF); /* Go matches keys loosely */
	CHECK_INTEQ(parse("{\"source\":0,\"data\":\"\"}").kind, DD_P_STDIN);
	p = parse("{\"signal\":0}");
	CHECK_INTEQ(p.kind, DD_P_SIGNAL);
	CHECK_INTEQ(p.signal, SIGTERM);
	CHECK_INTEQ(parse("{\"signal\":1}").signal, SIGKILL);
	p = parse("{\"signal\":7}");
	CHECK_INTEQ(p.kind, DD_P_SIGNAL);
	CHECK_INTEQ(p.signal, 0);
	CHECK_INTEQ(parse("{\"process_id\":\"p\"}").kind, DD_P_OTHER);
	CHECK_INTEQ(parse("{\"source\":null,\"signal\":null}").kind, DD_P_OTHER);
	release();
}

static void test_parse_tty(void)
{
	struct dd_payload p = parse("{\"tty\":{\"window_size\":{\"columns\":120,\"rows\":40}}}");

	CHECK_INTEQ(p.kind, DD_P_RESIZE);
	CHECK_INTEQ(p.columns, 120);
	CHECK_INTEQ(p.rows, 40);
	p = parse("{\"tty\":{\"window_size\":{\"columns\":0}}}");
	CHECK_INTEQ(p.columns, 80);
	CHECK_INTEQ(p.rows, 24);
	/* a tty without a window size changes nothing, and wins over source (guardian's order) */
	CHECK_INTEQ(parse("{\"tty\":{},\"source\":0}").kind, DD_P_OTHER);
	CHECK_INTEQ(parse("{\"tty\":{\"window_size\":{}},\"signal\":1}").kind, DD_P_RESIZE);
	CHECK_INTEQ(parse("{\"source\":0,\"signal\":1}").kind, DD_P_STDIN_EOF);
	release();
}

static void test_encode(void)
{
	_cleanup_buf_ struct gdn_buf b = {0};

	CHECK_INTEQ(dd_payload_first(&b, "p1", "7"), 0);
	CHECK_INTEQ(dd_payload_exit(&b, "p1", 137), 0);
	CHECK_STREQ(b.data, "{\"process_id\":\"p1\",\"stream_id\":\"7\"}\n"
			    "{\"process_id\":\"p1\",\"exit_status\":137}\n");
}

static int request(const char *text, struct dd_request *r, struct gdn_err **err)
{
	return dd_request_parse(keep(text), r, err);
}

static void test_requests(void)
{
	struct dd_request r;
	struct gdn_err *err = NULL;

	CHECK_OK(request("{\"op\":\"attach\",\"stream_id\":\"3\",\"pending\":\"ab\"}", &r, &err),
		 err);
	CHECK_INTEQ(r.op, DD_OP_ATTACH);
	CHECK_INTEQ(r.status, 200);
	CHECK_STREQ(r.stream_id, "3");
	CHECK(r.process_id == NULL);
	CHECK_INTEQ(r.pending_len, 2);
	CHECK_OK(
	    request("{\"op\":\"attach\",\"status\":201,\"process_id\":\"p\",\"stream_id\":\"4\"}",
		    &r, &err),
	    err);
	CHECK_INTEQ(r.status, 201);
	CHECK_STREQ(r.process_id, "p");
	CHECK_OK(request("{\"op\":\"stream\",\"stream_id\":\"4\",\"source\":2}", &r, &err), err);
	CHECK_INTEQ(r.op, DD_OP_STREAM);
	CHECK_INTEQ(r.source, 2);
	CHECK_OK(request("{\"op\":\"signal\",\"signal\":15}", &r, &err), err);
	CHECK_INTEQ(r.signal, 15);
	CHECK_OK(request("{\"op\":\"state\"}", &r, &err), err);
	CHECK_INTEQ(r.op, DD_OP_STATE);

	static const char *const bad[] = {
	    "{}",
	    "{\"op\":\"dance\"}",
	    "{\"op\":\"attach\"}",
	    "{\"op\":\"attach\",\"stream_id\":\"1\",\"status\":500}",
	    "{\"op\":\"stream\",\"stream_id\":\"1\",\"source\":0}",
	    "{\"op\":\"stream\",\"source\":1}",
	    "{\"op\":\"signal\",\"signal\":0}",
	    "{\"op\":\"signal\",\"signal\":\"TERM\"}",
	};
	for (size_t i = 0; i < GDN_ARRAY_SIZE(bad); i++) {
		CHECK(request(bad[i], &r, &err) < 0);
		err = gdn_err_free(err);
	}
	CHECK(request("{\"op\":\"dance\"}", &r, &err) < 0);
	CHECK_STREQ(gdn_err_str(err), "unknown op 'dance'");
	gdn_err_free(err);
	release();
}

/* dadoo: requests carry "v"; none is version 0 (guardian before versioning); newer ones are
 * refused with both versions named */
static void test_request_versions(void)
{
	struct dd_request r;
	struct gdn_err *err = NULL;

	CHECK_OK(request("{\"op\":\"state\"}", &r, &err), err);
	CHECK_INTEQ(r.v, 0);
	CHECK_OK(request("{\"op\":\"state\",\"v\":1}", &r, &err), err);
	CHECK_INTEQ(r.v, 1);
	CHECK_OK(request("{\"op\":\"signal\",\"v\":1,\"signal\":9}", &r, &err), err);
	CHECK_INTEQ(r.signal, 9);
	CHECK(request("{\"op\":\"state\",\"v\":2}", &r, &err) == -EPROTONOSUPPORT);
	CHECK_INTEQ(r.v, 2);
	CHECK_STREQ(gdn_err_str(err),
		    "request 'state' is of protocol version 2; this dadoo speaks versions 0 to 1");
	err = gdn_err_free(err);
	CHECK(request("{\"op\":\"state\",\"v\":\"one\"}", &r, &err) == -EBADMSG);
	err = gdn_err_free(err);
	CHECK(request("{\"v\":1}", &r, &err) == -EBADMSG);
	CHECK_STREQ(gdn_err_str(err), "request without an op");
	err = gdn_err_free(err);
	CHECK_INTEQ(DD_PROTO_VERSION, GD_DADOO_PROTO_VERSION);
	release();
}

static json_t *js(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	CHECK(j != NULL);
	return j;
}

/* guardian: the replies of a dadoo started by guardian before versioning (no "v", errors as
 * plain strings) are version 0 and understood */
static void test_guardian_reads_version0_dadoo(void)
{
	_cleanup_err_ struct gdn_err *e1 = NULL, *e2 = NULL, *e3 = NULL;
	json_auto_t *ok = js("{\"ok\":true}");
	json_auto_t *state = js("{\"ok\":true,\"pid\":7,\"exited\":true,\"exit_status\":3}");
	json_auto_t *err = js("{\"error\":\"attach: no control connection\"}");
	json_auto_t *bad = js("{\"ok\":false}");
	int v = -1;

	CHECK_OK(gd_dadoo_reply(ok, &v, &e1), e1);
	CHECK_INTEQ(v, 0);
	CHECK_OK(gd_dadoo_reply(state, &v, &e1), e1);
	CHECK(gd_dadoo_reply(err, &v, &e2) < 0);
	CHECK_INTEQ(e2->kind, GDN_ERR_GENERIC);
	CHECK_STREQ(gdn_err_str(e2), "shim: attach: no control connection");
	CHECK(gd_dadoo_reply(bad, &v, &e3) < 0);
}

static void test_guardian_reads_version1_dadoo(void)
{
	_cleanup_err_ struct gdn_err *e1 = NULL, *e2 = NULL, *e3 = NULL;
	json_auto_t *ok = js("{\"ok\":true,\"v\":1}");
	json_auto_t *typed = js("{\"error\":{\"type\":\"ProcessNotFoundError\",\"message\":"
				"\"unknown process: p\",\"process_id\":\"p\"},\"v\":1}");
	json_auto_t *plain =
	    js("{\"error\":{\"type\":\"\",\"message\":\"x\",\"errno\":22},\"v\":1}");
	json_auto_t *refused =
	    js("{\"error\":{\"type\":\"\",\"message\":\"request 'attach' is of protocol version 2; "
	       "this dadoo speaks versions 0 to 1\",\"errno\":93},\"v\":1}");
	json_auto_t *badv = js("{\"ok\":true,\"v\":\"1\"}");
	int v = -1;

	CHECK_OK(gd_dadoo_reply(ok, &v, &e1), e1);
	CHECK_INTEQ(v, 1);
	/* a Garden-typed error passes unchanged: the client gets its Type and status */
	CHECK_INTEQ(gd_dadoo_reply(typed, &v, &e1), -EIO);
	CHECK_INTEQ(e1->kind, GDN_ERR_PROCESS_NOT_FOUND);
	CHECK_STREQ(gdn_err_str(e1), "unknown process: p");
	CHECK_STREQ(e1->process_id, "p");
	CHECK_INTEQ(gd_dadoo_reply(plain, &v, &e2), -EINVAL);
	CHECK_STREQ(gdn_err_str(e2), "shim: x");
	e2 = gdn_err_free(e2);
	CHECK_INTEQ(gd_dadoo_reply(refused, &v, &e2), -EPROTONOSUPPORT);
	CHECK(strstr(gdn_err_str(e2), "version 2") && strstr(gdn_err_str(e2), "0 to 1"));
	CHECK_INTEQ(gd_dadoo_reply(badv, &v, &e3), -EPROTO);
}

static void test_guardian_reads_start_results(void)
{
	pid_t pid = 0;
	int v = -1;

	{
		_cleanup_err_ struct gdn_err *e = NULL;
		json_auto_t *r0 = js("{\"pid\":1234}"); /* version 0 */
		json_auto_t *r1 = js("{\"ok\":true,\"v\":1,\"pid\":99}");

		CHECK_OK(gd_dadoo_start_result(r0, &pid, &v, &e), e);
		CHECK_INTEQ(pid, 1234);
		CHECK_INTEQ(v, 0);
		CHECK_OK(gd_dadoo_start_result(r1, &pid, &v, &e), e);
		CHECK_INTEQ(pid, 99);
		CHECK_INTEQ(v, 1);
	}
	{
		_cleanup_err_ struct gdn_err *e0 = NULL, *e1 = NULL, *en = NULL, *ep = NULL;
		json_auto_t *f0 = js("{\"error\":{\"type\":\"ExecutableNotFoundError\","
				     "\"message\":\"runc exec: exit status 1: not found\"}}");
		json_auto_t *f1 =
		    js("{\"error\":{\"type\":\"\",\"message\":\"runc exec: exit status "
		       "1: boom\",\"errno\":5},\"v\":1}");
		json_auto_t *nopid = js("{\"ok\":true,\"v\":1}");

		CHECK(gd_dadoo_start_result(f0, &pid, &v, &e0) < 0);
		CHECK_INTEQ(e0->kind, GDN_ERR_EXECUTABLE_NOT_FOUND);
		CHECK_STREQ(gdn_err_str(e0), "runc exec: exit status 1: not found");
		CHECK_INTEQ(gd_dadoo_start_result(f1, &pid, &v, &e1), -EIO);
		CHECK_STREQ(gdn_err_str(e1), "runc exec: exit status 1: boom");
		CHECK(gd_dadoo_start_result(NULL, &pid, &v, &en) < 0);
		CHECK_STREQ(gdn_err_str(en), "dadoo exited without starting the process");
		CHECK(gd_dadoo_start_result(nopid, &pid, &v, &ep) < 0);
	}
}

/* guardian's asynchronous dadoo requests: the reply, a dadoo's error, a hang-up and the deadline
 * each end a call exactly once, in the loop */
static struct {
	int calls;
	bool had_reply;
	int errnum;
	enum gdn_err_kind kind;
	char msg[256];
	const struct gd_conn *conn;
} seen;

static void call_done(struct gd_server *s, struct gd_call *call, json_t *reply,
		      struct gdn_err **err)
{
	(void)s;
	seen.calls++;
	seen.had_reply = reply != NULL;
	seen.errnum = *err ? (*err)->errnum : 0;
	seen.kind = *err ? (*err)->kind : GDN_ERR_GENERIC;
	(void)snprintf(seen.msg, sizeof(seen.msg), "%s", *err ? gdn_err_str(*err) : "");
	seen.conn = call->conn;
}

/* Starts a call on one end of a fresh socketpair; returns the dadoo's end. */
static int start_call(struct gd_server *s, const struct gd_conn *conn)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK_OK(gd_call_start(s, (struct gd_conn *)conn, sv[0], "p1", NULL, NULL, call_done, &err),
		 err);
	memset(&seen, 0, sizeof(seen));
	return sv[1];
}

/* One round of the loop: waits (at most 2 s) for the call's event and dispatches it. */
static void loop_once(struct gd_server *s)
{
	CHECK_INTEQ(gdn_loop_run_once(&s->loop, 2000, NULL), 1);
}

static void test_guardian_calls_in_the_loop(void)
{
	struct gd_server s;
	int conn_token = 0;
	const struct gd_conn *conn = (const struct gd_conn *)&conn_token;
	int peer;

	memset(&s, 0, sizeof(s));
	CHECK(gdn_loop_init(&s.loop, NULL) == 0);
	CHECK_INTEQ(s.loop.n_timers, 0);

	/* an ok reply */
	peer = start_call(&s, conn);
	CHECK_INTEQ(s.loop.n_timers, 1);
	CHECK(s.calls->deadline.at_ns >
	      gdn_now_mono_ns() + (GD_DADOO_TIMEOUT_MS - 1000) * 1000000ULL);
	CHECK_INTEQ(send(peer, "{\"ok\":true,\"v\":1}\n", 18, 0), 18);
	loop_once(&s);
	CHECK_INTEQ(seen.calls, 1);
	CHECK(seen.had_reply);
	CHECK_INTEQ(seen.errnum, 0);
	CHECK(seen.conn == conn);
	CHECK(s.calls == NULL);
	CHECK_INTEQ(s.loop.n_timers, 0);
	close(peer);

	/* a dadoo's typed error */
	peer = start_call(&s, conn);
	{
		static const char r[] = "{\"error\":{\"type\":\"ProcessNotFoundError\",\"message\":"
					"\"unknown process: p1\",\"process_id\":\"p1\"},\"v\":1}\n";
		CHECK_INTEQ(send(peer, r, sizeof(r) - 1, 0), (ssize_t)sizeof(r) - 1);
	}
	loop_once(&s);
	CHECK_INTEQ(seen.calls, 1);
	CHECK(!seen.had_reply);
	CHECK_INTEQ(seen.kind, GDN_ERR_PROCESS_NOT_FOUND);
	CHECK_STREQ(seen.msg, "unknown process: p1");
	close(peer);

	/* a hang-up, after the client left */
	peer = start_call(&s, conn);
	gd_call_forget_conn(&s, conn);
	close(peer);
	loop_once(&s);
	CHECK_INTEQ(seen.calls, 1);
	CHECK(seen.conn == NULL);
	CHECK_INTEQ(seen.errnum, ECONNRESET);
	CHECK_STREQ(seen.msg, "the shim of process 'p1' hung up without a reply");

	/* no reply: the deadline ends it, and only it */
	peer = start_call(&s, conn);
	CHECK(s.calls != NULL);
	CHECK_INTEQ(gdn_loop_run_once(&s.loop, 0, NULL), 0);
	CHECK_INTEQ(seen.calls, 0); /* not yet */
	CHECK(gdn_loop_timer_at(&s.loop, &s.calls->deadline, gdn_now_mono_ns() - 1) == 0);
	CHECK_INTEQ(gdn_loop_run_once(&s.loop, 0, NULL), 0);
	CHECK_INTEQ(seen.calls, 1);
	CHECK_INTEQ(seen.errnum, ETIMEDOUT);
	CHECK_STREQ(seen.msg, "the shim of process 'p1' did not answer within 5000 ms");
	CHECK(s.calls == NULL);
	CHECK_INTEQ(s.loop.n_timers, 0);
	close(peer);

	/* freeing the server runs no done() */
	peer = start_call(&s, conn);
	gd_call_free_all(&s);
	CHECK_INTEQ(seen.calls, 0);
	CHECK(s.calls == NULL);
	close(peer);
	gdn_loop_free(&s.loop);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_next_splits_lines_and_keeps_nul),
	    TEST(test_next_rejects_garbage),
	    TEST(test_parse_kinds),
	    TEST(test_parse_tty),
	    TEST(test_encode),
	    TEST(test_requests),
	    TEST(test_request_versions),
	    TEST(test_guardian_reads_version0_dadoo),
	    TEST(test_guardian_reads_version1_dadoo),
	    TEST(test_guardian_reads_start_results),
	    TEST(test_guardian_calls_in_the_loop),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
