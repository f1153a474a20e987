/* `image-plugin-shim serve`: the socket (SOCK_SEQPACKET, peers root or our euid) on one loop
 * (lib/loop), and a forked child per connection that serves that connection's requests one at
 * a time, each plugin run a grandchild through gdn_run (a deadline, its process group killed at
 * it, stdout and stderr captured). A slow create thus holds up only its own connection, and the
 * loop never waits for a plugin. guardian connects once per request. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/ipc.h"
#include "lib/listener.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "lib/run.h"
#include "lib/util.h"
#include "cmd/image-plugin-shim/ips.h"

/* Connections served at once; past it the socket is not accepted from until one closes. */
#define MAX_CONNS 256
/* How long a connection may sit idle between requests before its child closes it. */
#define IDLE_S 60

struct ips_server {
	const struct ips_serve_opts *opts;
	struct gdn_loop loop;
	struct gdn_listener listen;
	size_t n_children;
	bool stopping;
	struct gdn_log *log;
};

static void listen_watch(struct ips_server *s)
{
	uint32_t events = !s->stopping && s->n_children < MAX_CONNS ? EPOLLIN : 0;

	if (s->listen.watch.fd >= 0 && s->listen.watch.events != events)
		(void)gdn_loop_watch(&s->loop, &s->listen.watch, events);
}

/* ---- the connection's child ------------------------------------------------------------------ */

static json_t *ping_result(const struct ips_serve_opts *o)
{
	json_auto_t *plugins = json_array();

	for (int p = GDN_IMAGEPLUGIN_UNPRIVILEGED; plugins && p <= GDN_IMAGEPLUGIN_PRIVILEGED; p++)
		if (o->plugins[p].path &&
		    json_array_append_new(plugins, json_string(gdn_imageplugin_name(p))) < 0)
			return NULL;
	return plugins ? json_pack("{s:O}", "plugins", plugins) : NULL;
}

/* A stream of the plugin as a JSON string: bytes that are not UTF-8 become '?'. */
static json_t *text_json(char *text, size_t len)
{
	json_t *j;

	if (!text)
		return json_string("");
	j = json_stringn(text, len);
	if (j)
		return j;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)text[i] >= 0x80 || text[i] == '\0')
			text[i] = '?';
	return json_stringn(text, len);
}

static void send_reply(struct gdn_log *log, int fd, int v, json_t *result, const struct gdn_err *e,
		       json_t *stderr_text)
{
	_cleanup_err_ struct gdn_err *send_err = NULL;
	json_auto_t *msg = e ? gdn_ipc_error_new(e, v) : gdn_ipc_ok_new(v);

	if (!msg) {
		gdn_log_error(log, "reply-failed", NULL, NULL);
		return;
	}
	if (!e && result)
		(void)json_object_update_missing(msg, result);
	/* the plugin's stderr, for the client to re-log under its own request */
	if (stderr_text)
		(void)json_object_set(msg, "stderr", stderr_text);
	if (gdn_ipc_send(fd, msg, NULL, 0, &send_err) < 0)
		gdn_log_error(log, "reply-failed", send_err, NULL);
}

/* Runs the plugin for one request and answers it. */
static void run_request(const struct ips_serve_opts *o, struct gdn_log *parent, int fd,
			const struct gdn_imageplugin_request *req)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	_cleanup_free_ char **argv = NULL;
	_cleanup_run_result_ struct gdn_run_result res = {0};
	json_auto_t *result = NULL, *err_text = NULL;
	struct gdn_log *log = gdn_log_session(parent, gdn_imageplugin_op_name(req->op), "plugin",
					      gdn_imageplugin_name(req->plugin), "handle",
					      req->handle ? req->handle : "", NULL);
	char how[160], code[16];
	int r;

	if (gdn_imageplugin_argv(&o->plugins[req->plugin], req, &argv, &e) < 0) {
		gdn_log_error(log, "refused", e, NULL);
		send_reply(log, fd, req->v, NULL, e, NULL);
		gdn_log_free(log);
		return;
	}
	{
		const struct gdn_spawn_opts so = {
		    .path = argv[0],
		    .argv = argv,
		    .stdin_fd = -1,
		    .stdout_fd = -1,
		    .stderr_fd = -1,
		    .setsid = true,
		};
		const struct gdn_run_opts ro = {
		    .spawn = &so,
		    .capture_stdout = true,
		    .capture_stderr = true,
		    .output_max = GDN_IMAGEPLUGIN_OUTPUT_MAX,
		    .timeout_ns = o->timeout_ns,
		};

		gdn_log_info(log, "starting", NULL);
		r = gdn_run(&ro, &res, &e);
	}
	err_text = text_json(res.err, res.err_len);
	if (r == -ETIMEDOUT) {
		_cleanup_err_ struct gdn_err *t = gdn_steal_ptr(&e);

		(void)snprintf(how, sizeof(how), "timed out after %s: killed", o->timeout_text);
		(void)gdn_imageplugin_failure(&e, ETIMEDOUT, req->op, res.out, res.out_len, res.err,
					      res.err_len, how);
	} else if (r < 0) {
		_cleanup_err_ struct gdn_err *t = gdn_steal_ptr(&e);

		(void)gdn_imageplugin_failure(&e, -gdn_err_code(t), req->op, NULL, 0, NULL, 0,
					      gdn_err_str(t));
	} else if (res.status != 0) {
		(void)snprintf(how, sizeof(how), "exit status %d", res.status);
		(void)gdn_imageplugin_failure(&e, 0, req->op, res.out, res.out_len, res.err,
					      res.err_len, how);
	} else if (res.out_truncated) {
		(void)snprintf(how, sizeof(how), "its stdout exceeds %d bytes",
			       GDN_IMAGEPLUGIN_OUTPUT_MAX);
		(void)gdn_imageplugin_failure(&e, EMSGSIZE, req->op, NULL, 0, NULL, 0, how);
	} else {
		result = json_pack("{s:o}", "stdout", text_json(res.out, res.out_len));
	}
	(void)snprintf(code, sizeof(code), "%d", r == -ETIMEDOUT ? 137 : r < 0 ? -1 : res.status);
	if (e)
		gdn_log_error(log, "failed", e, "exit_status", code, NULL);
	else
		gdn_log_info(log, "finished", "exit_status", code, NULL);
	send_reply(log, fd, req->v, result, e, err_text);
	gdn_log_free(log);
}

static void __attribute__((noreturn)) conn_child(struct ips_server *s, int fd, struct gdn_log *log)
{
	struct timeval idle = {.tv_sec = IDLE_S};
	sigset_t none;

	/* the loop's fds are the parent's; the signals it takes reach us as default actions */
	(void)close(s->loop.epfd);
	(void)close(s->loop.sig.fd);
	(void)close(s->listen.watch.fd);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof(idle));
	for (;;) {
		_cleanup_err_ struct gdn_err *e = NULL;
		json_auto_t *msg = NULL, *pong = NULL;
		struct gdn_imageplugin_request req;
		int r = gdn_ipc_recv(fd, &msg, NULL, NULL, &e);

		if (r == -EBADMSG || r == -EMSGSIZE) {
			/* a bad packet: the next one may be fine */
			gdn_log_error(log, "request-refused", e, NULL);
			send_reply(log, fd, GDN_IMAGEPLUGIN_VERSION, NULL, e, NULL);
			continue;
		}
		if (r <= 0) {
			if (r < 0 && r != -EAGAIN && r != -ECONNRESET)
				gdn_log_error(log, "receive-failed", e, NULL);
			break;
		}
		if (gdn_imageplugin_request_parse(msg, &req, &e) < 0) {
			gdn_log_error(log, "request-refused", e, NULL);
			send_reply(log, fd, GDN_IMAGEPLUGIN_VERSION, NULL, e, NULL);
			continue;
		}
		if (req.op == GDN_IMAGEPLUGIN_PING) {
			pong = ping_result(s->opts);
			send_reply(log, fd, req.v, pong, NULL, NULL);
			continue;
		}
		run_request(s->opts, log, fd, &req);
	}
	gdn_log_free(log);
	_exit(0);
}

/* ---- the loop -------------------------------------------------------------------------------- */

static void start_child(struct ips_server *s, int fd)
{
	/* made here, so that every connection's session is a new one */
	struct gdn_log *log = gdn_log_session(s->log, "conn", NULL);
	pid_t pid = fork();

	if (pid < 0) {
		_cleanup_err_ struct gdn_err *e = NULL;

		(void)gdn_err_set(&e, errno, "fork");
		gdn_log_error(s->log, "accept-failed", e, NULL);
		gdn_log_free(log);
		return;
	}
	if (pid == 0)
		conn_child(s, fd, log);
	gdn_log_free(log);
	s->n_children++;
}

static void on_listen(struct gdn_loop *l, struct gdn_watch *w, uint32_t events)
{
	struct ips_server *s = w->data;

	(void)l;
	(void)events;
	while (s->listen.watch.fd >= 0 && s->n_children < MAX_CONNS) {
		_cleanup_err_ struct gdn_err *e = NULL;
		int fd = gdn_ipc_accept(s->listen.watch.fd, 0, &e);

		if (fd == -EAGAIN)
			break;
		if (fd == -EACCES) {
			gdn_log_info(s->log, "peer-refused", "error", gdn_err_str(e), NULL);
			continue;
		}
		if (fd < 0) {
			gdn_log_error(s->log, "accept-failed", e, NULL);
			break;
		}
		start_child(s, fd);
		(void)close(fd);
	}
	listen_watch(s);
}

static void reap_children(struct ips_server *s)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid <= 0)
			break;
		if (s->n_children > 0)
			s->n_children--;
	}
	listen_watch(s);
}

static void on_signal(struct gdn_loop *l, const struct signalfd_siginfo *si, void *data)
{
	struct ips_server *s = data;
	char sig[16];

	(void)l;
	if (si->ssi_signo == SIGCHLD) {
		reap_children(s);
		return;
	}
	(void)snprintf(sig, sizeof(sig), "%u", si->ssi_signo);
	gdn_log_info(s->log, "stopping", "signal", sig, NULL);
	s->stopping = true;
	/* no new connection; those open finish the request they are serving */
	gdn_listener_close(&s->loop, &s->listen);
}

static void prepare(struct gdn_loop *l, void *data)
{
	struct ips_server *s = data;

	/* SIGCHLDs coalesce: a round that starts with a child gone is reaped here too */
	reap_children(s);
	if (s->stopping && s->n_children == 0)
		gdn_loop_stop(l);
}

int ips_serve(const struct ips_serve_opts *o, struct gdn_err **err)
{
	static const int signals[] = {SIGTERM, SIGINT, SIGCHLD};
	struct ips_server s = {.opts = o};
	char mode[8];
	int r;

	s.loop.epfd = s.loop.sig.fd = -1;
	gdn_watch_init(&s.listen.watch, -1, on_listen, &s);
	s.log = gdn_log_session(gdn_log_root(), "serve", NULL);
	/* SIGPIPE: a client that hangs up must cost us a write error, not our life */
	(void)signal(SIGPIPE, SIG_IGN);
	r = gdn_loop_init(&s.loop, err);
	if (r >= 0)
		r = gdn_loop_signals(&s.loop, signals, GDN_ARRAY_SIZE(signals), on_signal, &s, err);
	if (r >= 0)
		r = gdn_listener_open(&s.loop, &s.listen, o->socket_path, o->socket_mode, err);
	if (r >= 0) {
		(void)snprintf(mode, sizeof(mode), "%04o", o->socket_mode);
		gdn_log_info(s.log, "listening", "socket", o->socket_path, "mode", mode,
			     "image_plugin", o->plugins[GDN_IMAGEPLUGIN_UNPRIVILEGED].path ?: "",
			     "privileged_image_plugin",
			     o->plugins[GDN_IMAGEPLUGIN_PRIVILEGED].path ?: "", "timeout",
			     o->timeout_text, NULL);
		s.loop.prepare = prepare;
		s.loop.prepare_data = &s;
		r = gdn_loop_run(&s.loop, err);
		if (r >= 0)
			gdn_log_info(s.log, "stopped", NULL);
	}
	gdn_listener_close(&s.loop, &s.listen);
	gdn_loop_free(&s.loop);
	gdn_log_free(s.log);
	return r < 0 ? r : 0;
}
