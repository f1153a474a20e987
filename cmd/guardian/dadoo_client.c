#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "lib/depot.h"
#include "lib/fs.h"
#include "lib/ipc.h"
#include "lib/path.h"
#include "lib/proc.h"
#include "lib/util.h"
#include "cmd/guardian/dadoo_client.h"

char *gd_process_dir(const char *container_dir, const char *id)
{
	_cleanup_free_ char *procs = gdn_path_join(container_dir, GDN_DEPOT_PROCESSES);
	return procs ? gdn_path_join(procs, id) : NULL;
}

int gd_dadoo_connect(const char *process_dir, int flags, struct gdn_err **err)
{
	_cleanup_free_ char *path = gdn_path_join(process_dir, GDN_PROC_DADOO_SOCK);
	int fd;

	if (!path)
		return gdn_err_set(err, ENOMEM, "connect to the shim");
	fd = gdn_ipc_connect(path, SOCK_SEQPACKET, flags, err);
	return fd;
}

json_t *gd_dadoo_request_new(const char *op)
{
	return gdn_ipc_request_new(op, GD_DADOO_PROTO_VERSION);
}

/* The dadoo's error as guardian passes it on: Garden-typed errors as they came (their Type,
 * message and status reach the client), plain ones with "shim: " in front. */
static int shim_error(struct gdn_err **err)
{
	if (err && *err && (*err)->kind == GDN_ERR_GENERIC)
		return gdn_err_wrap(err, "shim");
	return gdn_err_code(err ? *err : NULL);
}

static int check_version(int v, struct gdn_err **err)
{
	if (v < GD_DADOO_PROTO_MIN)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EPROTONOSUPPORT,
				    "shim speaks protocol version %d; guardian speaks versions %d "
				    "to %d",
				    v, GD_DADOO_PROTO_MIN, GD_DADOO_PROTO_VERSION);
	return 0;
}

int gd_dadoo_reply(const json_t *reply, int *ret_v, struct gdn_err **err)
{
	int v = 0, r;

	if (ret_v)
		*ret_v = 0;
	r = gdn_ipc_reply_parse(reply, &v, err);
	if (ret_v)
		*ret_v = v;
	if (r < 0)
		return shim_error(err);
	return check_version(v, err);
}

int gd_dadoo_start_result(const json_t *result, pid_t *ret_pid, int *ret_v, struct gdn_err **err)
{
	const json_t *pid = json_object_get(result, "pid");
	int r;

	*ret_pid = 0;
	if (ret_v)
		*ret_v = 0;
	if (!json_is_object(result))
		return gdn_err_set(err, 0, "dadoo exited without starting the process");
	/* version 0 answered a bare {"pid":N} */
	if (!json_object_get(result, "ok") && !json_object_get(result, "error") &&
	    !json_object_get(result, "v") && json_is_integer(pid)) {
		*ret_pid = (pid_t)json_integer_value(pid);
		return 0;
	}
	r = gdn_ipc_reply_parse(result, ret_v, err);
	if (r < 0) {
		/* its message is the runtime's; nothing in front, as before */
		if (err && *err && !*gdn_err_str(*err))
			return gdn_err_wrap(err, "dadoo failed to start the process");
		return r;
	}
	if ((r = check_version(ret_v ? *ret_v : 0, err)) < 0)
		return r;
	if (!json_is_integer(pid) || json_integer_value(pid) <= 0)
		return gdn_err_set(err, 0, "dadoo's start result has no pid");
	*ret_pid = (pid_t)json_integer_value(pid);
	return 0;
}

int gd_dadoo_request(int sock, json_t *req, const int *fds, size_t nfds, json_t **ret_reply,
		     struct gdn_err **err)
{
	json_auto_t *reply = NULL;
	int r;

	r = gdn_ipc_call(sock, req, fds, nfds, GD_DADOO_TIMEOUT_MS, &reply, err);
	if (r < 0)
		return shim_error(err);
	if ((r = gd_dadoo_reply(reply, NULL, err)) < 0)
		return r;
	if (ret_reply)
		*ret_reply = gdn_steal_ptr(&reply);
	return 0;
}

/* --- asynchronous requests ------------------------------------------------------------------ */

static void call_release(struct gdn_defer *d)
{
	struct gd_call *call = (struct gd_call *)((char *)d - offsetof(struct gd_call, defer));

	if (call->free_data)
		call->free_data(call->data);
	free(call->process_id);
	free(call);
}

static void call_free(struct gd_server *s, struct gd_call *call)
{
	for (struct gd_call **p = &s->calls; *p; p = &(*p)->next) {
		if (*p == call) {
			*p = call->next;
			break;
		}
	}
	gdn_loop_close(&s->loop, &call->w);
	gdn_loop_timer_cancel(&s->loop, &call->deadline);
	gdn_loop_defer_free(&s->loop, &call->defer);
}

/* Runs done() once and frees the call. */
static void call_finish(struct gd_server *s, struct gd_call *call, json_t *reply,
			struct gdn_err **err)
{
	gd_call_done_fn done = call->done;

	call->done = NULL;
	if (done)
		done(s, call, reply, err);
	call_free(s, call);
}

static void on_reply(struct gdn_loop *l, struct gdn_watch *w, uint32_t events)
{
	struct gd_call *call = w->data;
	_cleanup_err_ struct gdn_err *e = NULL;
	json_auto_t *reply = NULL;
	int r = gdn_ipc_recv(call->fd, &reply, NULL, NULL, &e);

	(void)events;
	if (r == -EAGAIN)
		return; /* a spurious wake-up */
	if (r == 0)
		(void)gdn_err_kind(&e, GDN_ERR_GENERIC, ECONNRESET,
				   "the shim of process '%s' hung up without a reply",
				   call->process_id);
	else if (r > 0)
		r = gd_dadoo_reply(reply, NULL, &e);
	else
		(void)shim_error(&e);
	call_finish(gd_server_of(l), call, r < 0 ? NULL : reply, &e);
}

/* A dadoo that does not answer in time costs only its own client. */
static void on_deadline(struct gdn_loop *l, struct gdn_timer *t)
{
	struct gd_call *call = t->data;
	_cleanup_err_ struct gdn_err *e = NULL;

	(void)gdn_err_kind(&e, GDN_ERR_GENERIC, ETIMEDOUT,
			   "the shim of process '%s' did not answer within %d ms", call->process_id,
			   GD_DADOO_TIMEOUT_MS);
	call_finish(gd_server_of(l), call, NULL, &e);
}

int gd_call_start(struct gd_server *s, struct gd_conn *conn, int fd, const char *process_id,
		  void *data, void (*free_data)(void *), gd_call_done_fn done, struct gdn_err **err)
{
	struct gd_call *call = calloc(1, sizeof(*call));
	int r;

	if (!call || !(call->process_id = strdup(process_id ? process_id : ""))) {
		free(call);
		(void)close(fd);
		if (free_data)
			free_data(data);
		return gdn_err_set(err, ENOMEM, "dadoo call");
	}
	gdn_watch_init(&call->w, fd, on_reply, call);
	gdn_timer_init(&call->deadline, on_deadline, call);
	call->defer.release = call_release;
	call->conn = conn;
	call->data = data;
	call->free_data = free_data;
	call->done = done;
	call->next = s->calls;
	s->calls = call;
	r = gdn_fd_set_nonblock(fd, true);
	if (r >= 0)
		r = gdn_loop_watch(&s->loop, &call->w, EPOLLIN);
	if (r >= 0)
		r = gdn_loop_timer_in(&s->loop, &call->deadline, GD_DADOO_TIMEOUT_MS);
	if (r < 0) {
		r = gdn_err_set(err, -r, "watch the shim");
		call->done = NULL;
		call_free(s, call);
		return r;
	}
	return 0;
}

void gd_call_forget_conn(struct gd_server *s, const struct gd_conn *conn)
{
	for (struct gd_call *c = s->calls; c; c = c->next)
		if (c->conn == conn)
			c->conn = NULL;
}

void gd_call_free_all(struct gd_server *s)
{
	while (s->calls) {
		s->calls->done = NULL;
		call_free(s, s->calls);
	}
}

/* A pidfd for the dadoo serving `procdir`, or -1: the process in its dadoo.pid, pinned, if its
 * argv[0] ends in "dadoo" and its working directory is the process dir (dadoo chdirs there). */
static int dadoo_pidfd(const char *procdir)
{
	_cleanup_free_ char *pidfile = gdn_path_join(procdir, GDN_PROC_DADOO_PID);
	_cleanup_free_ char *cmdline = NULL;
	_cleanup_close_ int pidfd = -1;
	char path[64], cwd[PATH_MAX];
	pid_t pid = 0;
	size_t len, n;
	ssize_t cwd_len;

	pidfd = pidfile ? gdn_pidfd_from_pidfile(pidfile, &pid) : -1;
	if (pidfd < 0)
		return -1;
	(void)snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (gdn_fs_read_file(path, 65536, &cmdline, &len, NULL) < 0)
		return -1;
	n = strlen(cmdline); /* argv[0]: the file holds NUL-separated arguments */
	if (n < 5 || strcmp(cmdline + n - 5, "dadoo") != 0)
		return -1;
	(void)snprintf(path, sizeof(path), "/proc/%d/cwd", (int)pid);
	cwd_len = readlink(path, cwd, sizeof(cwd) - 1);
	if (cwd_len <= 0)
		return -1;
	cwd[cwd_len] = '\0';
	return strcmp(cwd, procdir) == 0 ? gdn_steal_fd(&pidfd) : -1;
}

void gd_dadoo_kill(const char *procdir, bool wait, struct gdn_log *log)
{
	_cleanup_close_ int pidfd = dadoo_pidfd(procdir);
	const char *id = strrchr(procdir, '/');
	struct pollfd pfd = {.fd = pidfd, .events = POLLIN};

	if (pidfd < 0)
		return;
	id = id ? id + 1 : procdir;
	gdn_log_debug(log, "killing-dadoo", "process", id, NULL);
	(void)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	if (wait && poll(&pfd, 1, 5000) != 1)
		gdn_log_info(log, "dadoo-survived-sigkill", "process", id, NULL);
}

void gd_dadoo_kill_all(const char *container_dir, struct gdn_log *log)
{
	_cleanup_free_ char *procs = gdn_path_join(container_dir, GDN_DEPOT_PROCESSES);
	_cleanup_closedir_ DIR *d = procs ? opendir(procs) : NULL;
	struct dirent *de;

	while (d && (de = readdir(d))) {
		_cleanup_free_ char *procdir = NULL;

		if (de->d_name[0] == '.')
			continue;
		procdir = gdn_path_join(procs, de->d_name);
		if (procdir)
			gd_dadoo_kill(procdir, true, log);
	}
}
