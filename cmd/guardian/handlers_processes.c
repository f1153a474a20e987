/* Process routes (protocol §5): Run, Attach and the stdout/stderr stream connections. guardian
 * only brokers: Run hands the process to a dadoo; then every hijacked connection is handed to the
 * process's dadoo over its socket (docs/PROCESSES.md), which streams to the client directly and
 * outlives guardian. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "lib/depot.h"
#include "lib/fs.h"
#include "lib/http.h"
#include "lib/path.h"
#include "lib/proc.h"
#include "lib/util.h"
#include "cmd/guardian/bundle.h"
#include "cmd/guardian/container.h"
#include "cmd/guardian/dadoo_launch.h"
#include "cmd/guardian/dadoo_client.h"
#include "cmd/guardian/image.h"
#include "cmd/guardian/pea.h"
#include "cmd/guardian/process_spec.h"
#include "cmd/guardian/spec.h"
#include "cmd/guardian/routes.h"
#include "cmd/guardian/volumizer.h"

/* --- starting a process ------------------------------------------------------------------------
 * In the loop, without a worker: the process dir takes a few small reads and writes (the
 * container's passwd and group are read non-blocking and must be regular files), and the dadoo
 * that starts the process is usually waiting already (dadoo_launch.h). Its start result arrives
 * on the job socket, watched like a worker's. */

/* How much longer than the runtime's deadline guardian waits for dadoo's start result: dadoo's
 * own set-up and its report. */
#define GD_START_MARGIN_NS (5 * 1000000000ULL)

struct run_job {
	char *handle;
	char *procdir;
	struct gd_process_spec spec;
	uid_t uid; /* the user's host ids */
	gid_t gid;
	/* a pea (pea.h): its rootfs, bind mounts and limits; the sandbox's init */
	struct gd_create_spec image;
	bool own_limits;
	pid_t init_pid;
	bool init_leaf;	  /* Runs join the container's cgroup v2 leaf */
	uint64_t started; /* gdn_log_clock() when the Run came (its duration in the log) */
};

static void run_job_free(void *p)
{
	struct run_job *j = p;
	if (!j)
		return;
	free(j->handle);
	free(j->procdir);
	gd_process_spec_free(&j->spec);
	gd_spec_free(&j->image);
	free(j);
}

static void run_job_freep(struct run_job **j)
{
	if (*j)
		run_job_free(*j);
}

/* The OCI process for the spec, resolving the user and creating the working directory. What the
 * container gives every process (init pid, privileged flag, config.json's process) comes from
 * the registry, read once at create or restore. */
static int build_process(const struct gd_config *cfg, const struct gd_ctr *ctr, struct run_job *j,
			 json_t **ret, struct gdn_err **err)
{
	const struct gd_process_spec *spec = &j->spec;
	_cleanup_free_ char *passwd = NULL, *group = NULL;
	struct gd_user user;
	const char *cwd;
	uid_t huid;
	gid_t hgid;
	int r;

	if (!ctr->run_base || ctr->init_pid <= 0)
		return gdn_err_set(err, 0, "container '%s' has no init process on record",
				   ctr->handle);
	/* an image's User and WorkingDir stand in for what the process spec leaves empty */
	const json_t *ann = json_object_get(ctr->run_base, "annotations");
	const char *img_user = json_string_value(json_object_get(ann, GD_ANNOTATION_IMAGE_USER));
	const char *img_dir = json_string_value(json_object_get(ann, GD_ANNOTATION_IMAGE_WORKDIR));
	const char *who = *spec->user ? spec->user : img_user ? img_user : "";

	(void)gd_container_read_file(ctr->init_pid, "/etc/passwd", &passwd, NULL);
	(void)gd_container_read_file(ctr->init_pid, "/etc/group", &group, NULL);
	if ((r = gd_user_lookup(passwd, group, who, &user, err)) < 0)
		return r;
	cwd = *spec->dir ? spec->dir : img_dir ? img_dir : user.home;
	huid = user.uid;
	hgid = user.gid;
	if (!ctr->privileged) {
		huid = gd_idmap_host(cfg->maxid, cfg->uid_map_start, cfg->uid_map_length, user.uid);
		hgid = gd_idmap_host(cfg->maxid, cfg->gid_map_start, cfg->gid_map_length, user.gid);
	}
	/* Garden creates the working directory, owned by the user, and fails the Run (500) when
	 * it cannot (rundmc: create-workdir-failed). */
	if ((r = gd_container_mkdir_p(ctr->init_pid, cwd, huid, hgid, err)) < 0)
		return gdn_err_wrap(err, "create working directory '%s'", cwd);
	j->uid = huid;
	j->gid = hgid;
	*ret = gd_process_oci(ctr->run_base, spec, &user, cwd);
	return *ret ? 0 : gdn_err_set(err, ENOMEM, "process config");
}

/* Makes j->procdir with its process.json. On failure nothing of it is left. */
static int prepare(const struct gd_config *cfg, const struct gd_ctr *ctr, struct run_job *j,
		   struct gdn_err **err)
{
	_cleanup_free_ char *dir = gd_container_dir(cfg, j->handle);
	_cleanup_free_ char *procs = NULL, *pjson = NULL, *text = NULL;
	json_auto_t *process = NULL;
	size_t len;
	int r;

	procs = dir ? gdn_path_join(dir, GDN_DEPOT_PROCESSES) : NULL;
	j->procdir = dir ? gd_process_dir(dir, j->spec.id) : NULL;
	pjson = j->procdir ? gdn_path_join(j->procdir, GDN_PROC_SPEC) : NULL;
	if (!pjson)
		return gdn_err_set(err, ENOMEM, "run");
	if ((r = build_process(cfg, ctr, j, &process, err)) < 0)
		return r;
	if (mkdir(procs, 0700) < 0 && errno != EEXIST)
		return gdn_err_set(err, errno, "mkdir '%s'", procs);
	if (mkdir(j->procdir, 0700) < 0) {
		if (errno == EEXIST)
			return gdn_err_kind(err, GDN_ERR_GENERIC, EEXIST,
					    "process ID '%s' already in use", j->spec.id);
		return gdn_err_set(err, errno, "mkdir '%s'", j->procdir);
	}
	text = gdn_json_line(process, &len);
	r = text ? gdn_fs_write_atomic(pjson, text, len, 0600, err)
		 : gdn_err_set(err, ENOMEM, GDN_PROC_SPEC);
	if (r < 0)
		(void)gdn_fs_rm_rf(j->procdir, NULL);
	return r;
}

/* Nothing of a process that never started stays behind: a pea's rootfs and bundle go in a
 * worker (unmounts, the image plugin), an ordinary process dir at once; then the client (c, may
 * be NULL) hears `reply` (taken). */
static void discard(struct gd_server *s, struct gd_conn *c, const struct run_job *j,
		    struct gdn_err *reply)
{
	if (j->spec.pea) {
		gd_pea_cleanup(s, c, j->handle, j->procdir, true, reply);
		return;
	}
	if (gdn_fs_rm_rf(j->procdir, NULL) < 0)
		gdn_log_info(s->log, "cleanup-failed", "dir", j->procdir, NULL);
	if (c)
		gd_reply_error(s, c, reply);
	gdn_err_free(reply);
}

/* Hands the prepared process to a dadoo; returns the socket its start result comes on. On
 * failure the caller discards the process dir. */
static int launch(struct gd_server *s, const struct run_job *j, struct gdn_err **err)
{
	_cleanup_free_ char *logpath = gdn_path_join(j->procdir, GDN_PROC_DADOO_LOG);
	_cleanup_close_ int logfd = -1;
	int r;

	if (!logpath)
		r = gdn_err_set(err, ENOMEM, "dadoo");
	else if ((logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0)
		r = gdn_err_set(err, errno, "open '%s'", logpath);
	else
		r = gd_dadoo_launch(
		    s,
		    &(struct gd_dadoo_job){.procdir = j->procdir,
					   .handle = j->handle,
					   .tty = j->spec.tty,
					   .uid = j->uid,
					   .gid = j->gid,
					   .cgroup = j->init_leaf ? GDN_CGROUP_INIT_LEAF : NULL},
		    logfd, err);
	return r;
}

/* --- handing connections to dadoo ---------------------------------------------------------------
 */

static char *next_stream_id(struct gd_server *s)
{
	char buf[24];
	(void)snprintf(buf, sizeof(buf), "%llu", (unsigned long long)++s->next_stream_id);
	return strdup(buf);
}

static char *procdir_of(struct gd_server *s, const char *handle, const char *id)
{
	_cleanup_free_ char *dir = gd_container_dir(s->cfg, handle);
	return dir ? gd_process_dir(dir, id) : NULL;
}

struct attach_call {
	char *id;
	bool run; /* a Run's own attach: its errors say the process started */
};

static void attach_call_free(void *p)
{
	struct attach_call *a = p;

	free(a->id);
	free(a);
}

/* dadoo's reply to an attach: it has the connection now, or the client gets the error. */
static void attach_replied(struct gd_server *s, struct gd_call *call, json_t *reply,
			   struct gdn_err **err)
{
	struct attach_call *a = call->data;

	(void)reply;
	if (!call->conn)
		return; /* the client left */
	if (!*err) {
		gd_conn_close(s, call->conn);
		return;
	}
	if (a->run && (*err)->kind == GDN_ERR_GENERIC)
		gdn_err_wrap(err, "process '%s' started, but", a->id);
	gd_reply_error(s, call->conn, *err);
}

/* Hands a Run/Attach control connection to the process's dadoo, over sock (a Run's job socket,
 * taken) or else a new connection to its dadoo.sock, without waiting: dadoo's reply, watched by
 * the loop (gd_call_start), answers the client. 0 once the request is on its way; on failure
 * nothing was sent and c is not answered. */
static int hand_attach(struct gd_server *s, struct gd_conn *c, struct gd_ctr *ctr, const char *id,
		       int status, int job_sock, struct gdn_err **err)
{
	_cleanup_free_ char *procdir = procdir_of(s, ctr->handle, id);
	_cleanup_free_ char *stream = next_stream_id(s);
	_cleanup_close_ int sock = job_sock, lease = -1;
	json_auto_t *req = NULL;
	struct attach_call *a = NULL;
	int fds[2];
	int r;

	if (!procdir || !stream)
		return gdn_err_set(err, ENOMEM, "attach");
	if (sock >= 0 && gdn_fd_set_nonblock(sock, true) < 0)
		return gdn_err_set(err, errno, "attach");
	if (sock < 0)
		sock = gd_dadoo_connect(procdir, GDN_IPC_NONBLOCK, err);
	if (sock < 0)
		return sock;
	req = gd_dadoo_request_new("attach");
	if (req &&
	    json_object_update_new(req, json_pack("{s:i, s:s, s:s, s:s%}", "status", status,
						  "process_id", id, "stream_id", stream, "pending",
						  c->in.data ? c->in.data : "", c->in.len)) < 0)
		req = (json_decref(req), NULL);
	if (!req)
		return gdn_err_set(err, EINVAL, "the client sent invalid UTF-8 after its request");
	a = calloc(1, sizeof(*a));
	if (!a || !(a->id = strdup(id))) {
		free(a);
		return gdn_err_set(err, ENOMEM, "attach");
	}
	a->run = job_sock >= 0;
	lease = gd_lease_new(s, ctr, err);
	if (lease < 0) {
		attach_call_free(a);
		return lease;
	}
	fds[0] = c->fd;
	fds[1] = lease;
	/* a packet this small fits an idle socket's buffer: the send does not wait */
	if ((r = gdn_ipc_send(sock, req, fds, 2, err)) < 0) {
		attach_call_free(a);
		return gdn_err_wrap(err, "shim");
	}
	return gd_call_start(s, c, gdn_steal_fd(&sock), id, a, attach_call_free, attach_replied,
			     err);
}

static bool shim_gone(const struct gdn_err *e)
{
	return e && (e->errnum == ECONNREFUSED || e->errnum == ENOENT);
}

/* The shim was killed (or crashed): its dadoo.pid names a pid that is gone, a zombie, or exiting
 * (PF_EXITING: a dadoo's fds, and so its lease, close before it becomes a zombie). (A dadoo that
 * exits on its own writes exitcode first and removes dadoo.pid; one that is still starting has
 * no dadoo.sock yet but is alive.) */
static bool shim_lost(const char *procdir, pid_t *ret_pid)
{
	_cleanup_free_ char *path = gdn_path_join(procdir, GDN_PROC_DADOO_PID);
	_cleanup_close_ int fd = -1;
	struct gdn_proc_stat st;
	pid_t pid = 0;

	if (!path || gdn_pidfile_read(path, &pid, NULL) < 0)
		return false;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0 && errno != ESRCH)
		return false;
	if (fd >= 0) {
		if (gdn_proc_stat_read(pid, &st) < 0)
			return false;
		if (st.state != 'Z' && st.state != 'X' && !(st.flags & 0x4 /* PF_EXITING */))
			return false;
	}
	*ret_pid = pid;
	return true;
}

/* The process of a lost shim can no longer be attached to or waited for, so it is killed — its
 * host pid (the pidfile) trusted only if it is in the container's cgroup, as destroy does for the
 * init — and the loss is recorded. Returns the message (malloc'd) or NULL. */
static char *handle_lost_shim(struct gd_server *s, const char *handle, const char *procdir,
			      const char *id, pid_t dadoo)
{
	_cleanup_free_ char *pidfile = gdn_path_join(procdir, GDN_PROC_PIDFILE);
	_cleanup_free_ char *record = gdn_path_join(procdir, GDN_PROC_SHIM_LOST);
	_cleanup_err_ struct gdn_err *e = NULL;
	_cleanup_close_ int pidfd = -1;
	char *msg = NULL;
	pid_t pid = 0;
	int n;

	if (!pidfile || !record)
		return NULL;
	pidfd = gd_container_pidfd(pidfile, handle, &pid);
	if (pidfd >= 0 && syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) == 0)
		n = asprintf(&msg,
			     "process '%s' lost its dadoo (pid %d was killed or crashed); the "
			     "process (pid %d) was killed: its exit status is unknown",
			     id, (int)dadoo, (int)pid);
	else
		n = asprintf(&msg,
			     "process '%s' lost its dadoo (pid %d was killed or crashed); its exit "
			     "status is unknown",
			     id, (int)dadoo);
	if (n < 0)
		return NULL;
	gdn_log_info(s->log, "process.shim-lost", "handle", handle, "process", id, "message", msg,
		     NULL);
	if (gdn_fs_write_atomic(record, msg, strlen(msg), 0600, &e) < 0)
		gdn_log_error(s->log, "process.shim-lost-record-failed", e, "handle", handle, NULL);
	return msg;
}

/* The error answered for a process whose dadoo is gone and which left no exit status (malloc'd):
 * the recorded loss of its shim, a loss found now, or no exitcode file. */
static char *no_exit_status(struct gd_server *s, const char *handle, const char *procdir,
			    const char *id)
{
	_cleanup_free_ char *record = gdn_path_join(procdir, GDN_PROC_SHIM_LOST);
	char *text = NULL;
	size_t len;
	pid_t dadoo = 0;

	if (record && gdn_fs_read_file(record, 4096, &text, &len, NULL) >= 0)
		return text;
	if (shim_lost(procdir, &dadoo) && (text = handle_lost_shim(s, handle, procdir, id, dadoo)))
		return text;
	return strdup("could not find the exitcode file for the process");
}

void gd_processes_check_shims(struct gd_server *s, const char *handle)
{
	_cleanup_free_ char *dir = gd_container_dir(s->cfg, handle);
	_cleanup_free_ char *procs = dir ? gdn_path_join(dir, GDN_DEPOT_PROCESSES) : NULL;
	_cleanup_closedir_ DIR *d = procs ? opendir(procs) : NULL;
	struct dirent *de;

	while (d && (de = readdir(d))) {
		_cleanup_free_ char *procdir = NULL, *exitcode = NULL, *record = NULL, *msg = NULL;
		pid_t dadoo = 0;

		if (de->d_name[0] == '.' || gdn_name_validate("process ID", de->d_name, NULL) < 0)
			continue;
		procdir = gdn_path_join(procs, de->d_name);
		exitcode = procdir ? gdn_path_join(procdir, GDN_PROC_EXITCODE) : NULL;
		record = procdir ? gdn_path_join(procdir, GDN_PROC_SHIM_LOST) : NULL;
		if (!exitcode || !record || access(exitcode, F_OK) == 0 ||
		    access(record, F_OK) == 0 || !shim_lost(procdir, &dadoo))
			continue;
		msg = handle_lost_shim(s, handle, procdir, de->d_name, dadoo);
	}
}

/* The process's dadoo is gone: answer from the exitcode file (the process exited), or with the
 * reason there is none. */
static void attach_finished(struct gd_server *s, struct gd_conn *c, const char *handle,
			    const char *procdir, const char *id)
{
	_cleanup_free_ char *path = gdn_path_join(procdir, GDN_PROC_EXITCODE);
	_cleanup_free_ char *text = NULL, *stream = next_stream_id(s), *why = NULL;
	_cleanup_free_ char *first = NULL, *last = NULL;
	struct gdn_buf out = {0};
	json_auto_t *fp = NULL, *lp = NULL;
	uint32_t code;
	size_t len;

	fp = json_pack("{s:s, s:s}", "process_id", id, "stream_id", stream ? stream : "0");
	if (path && gdn_fs_read_file(path, 64, &text, &len, NULL) >= 0 &&
	    gdn_parse_u32(text, &code) == 0)
		lp = json_pack("{s:s, s:i}", "process_id", id, "exit_status", (int)code);
	else if (text)
		lp = json_pack("{s:s, s:s}", "process_id", id, "error",
			       "the exitcode file is invalid");
	else
		lp = json_pack("{s:s, s:s}", "process_id", id, "error",
			       (why = no_exit_status(s, handle, procdir, id))
				   ? why
				   : "could not find the exitcode file for the process");
	first = gdn_json_line(fp, NULL);
	last = gdn_json_line(lp, NULL);
	(void)gdn_http_write_hijack_head(&out, 200, "application/json");
	(void)gdn_buf_puts(&out, first ? first : "");
	(void)gdn_buf_puts(&out, last ? last : "");
	gd_reply_raw(s, c, out.data, out.len);
	gdn_buf_free(&out);
}

/* err: only when dadoo gave no start result in time (its runtime has --runtime-timeout, so
 * dadoo itself is stuck); then it is killed, lest the process start after the Run failed. */
static void run_done(struct gd_server *s, struct gd_worker *w, struct gdn_err *err)
{
	struct run_job *j = w->data;
	_cleanup_err_ struct gdn_err *e = NULL;
	struct gd_ctr *ctr = gd_registry_find(&s->reg, w->handle);
	pid_t pid = 0;
	int r;

	if (err) {
		gd_dadoo_kill(j->procdir, false, s->log);
		r = gdn_err_kind(&e, GDN_ERR_GENERIC, ETIMEDOUT,
				 "dadoo did not report the start of process '%s': %s", j->spec.id,
				 gdn_err_str(err));
	} else {
		r = gd_dadoo_start_result(w->result, &pid, NULL, &e);
	}
	if (r < 0) {
		discard(s, w->conn, j, gdn_steal_ptr(&e));
	} else {
		/* the pea's mount namespace holds its overlay now (gd_volume_detach); what it
		 * runs on goes when it exits */
		if (j->spec.pea && !j->image.image_uri)
			gd_volume_detach(j->procdir, s->log);
		if (j->spec.pea)
			gd_pea_watch(s, j->handle, j->procdir, pid);
		char d[GDN_LOG_DURATION_MAX];

		gdn_log_info(w->conn && w->conn->log ? w->conn->log : s->log, "started", "handle",
			     j->handle, "process", j->spec.id, GDN_LOG_DURATION,
			     gdn_log_duration(j->started, d), NULL);
		if (!w->conn) {
			/* the client left; the process runs on and can be attached to */
		} else if (!ctr) {
			gdn_err_not_found(&e, w->handle);
			gd_reply_error(s, w->conn, e);
		} else if (hand_attach(s, w->conn, ctr, j->spec.id, 201,
				       gdn_steal_fd(&w->result_fd), &e) < 0) {
			gdn_err_wrap(&e, "process '%s' started, but", j->spec.id);
			gd_reply_error(s, w->conn, e);
		}
		/* else dadoo's reply answers the client (attach_replied) */
	}
	/* the next Run should find a dadoo waiting; it is started once the loop is idle */
	s->standby_wanted = s->standby_fd < 0;
}

/* Hands a started-or-failed Run's job socket to run_done (through the loop). */
static void watch_start(struct gd_server *s, struct gd_conn *c, const char *handle, int sock,
			struct run_job *j)
{
	_cleanup_err_ struct gdn_err *e = NULL;

	if (gd_worker_watch(s, c, handle, sock, s->cfg->runtime_timeout_ns + GD_START_MARGIN_NS, j,
			    run_job_free, run_done, &e) < 0 &&
	    c)
		gd_reply_error(s, c, e); /* the process may still start: Attach finds it */
}

/* --- peas ---------------------------------------------------------------------------------------
 * A worker makes the rootfs and the bundle (pea.h); then the pea goes to a dadoo as any process. */

static int pea_prepare_run(const struct gd_config *cfg, void *arg, struct gdn_log *log,
			   struct gdn_err **err)
{
	struct run_job *j = arg;
	uid_t uid = 0;
	gid_t gid = 0;
	int r = gd_pea_prepare(cfg, j->handle, j->init_pid, &j->spec, &j->image, j->own_limits,
			       j->procdir, &uid, &gid, log, err);

	if (r >= 0)
		gd_worker_set_result(
		    json_pack("{s:I, s:I}", "uid", (json_int_t)uid, "gid", (json_int_t)gid));
	return r;
}

static void pea_prepared(struct gd_server *s, struct gd_worker *w, struct gdn_err *err)
{
	struct run_job *j = w->data;
	_cleanup_err_ struct gdn_err *e = NULL;
	int sock;

	if (err) {
		if (w->conn)
			gd_reply_error(s, w->conn, err);
		return;
	}
	j->uid = (uid_t)json_integer_value(json_object_get(w->result, "uid"));
	j->gid = (gid_t)json_integer_value(json_object_get(w->result, "gid"));
	sock = launch(s, j, &e);
	if (sock < 0) {
		discard(s, w->conn, j, gdn_steal_ptr(&e));
		return;
	}
	/* the job goes on with the start's watch */
	w->data = NULL;
	watch_start(s, w->conn, j->handle, sock, j);
}

static void start_pea(struct gd_server *s, struct gd_conn *c, struct gd_ctr *ctr, struct run_job *j)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	_cleanup_free_ char *dir = gd_container_dir(s->cfg, ctr->handle);

	j->init_pid = ctr->init_pid;
	j->procdir = dir ? gd_process_dir(dir, j->spec.id) : NULL;
	if (!j->procdir)
		gdn_err_set(&e, ENOMEM, "run");
	else if (ctr->init_pid <= 0)
		gdn_err_set(&e, 0, "container '%s' has no init process on record", ctr->handle);
	if (e || gd_pea_spec_parse(s->cfg, c->body.data, c->body.len, ctr->privileged, j->spec.id,
				   &j->image, &j->own_limits, &e) < 0) {
		gd_reply_error(s, c, e);
		run_job_free(j);
		return;
	}
	if (gd_worker_start(s, c, ctr->handle, pea_prepare_run, j, run_job_free, pea_prepared, &e) <
	    0)
		gd_reply_error(s, c, e);
}

void gd_h_run(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	_cleanup_(run_job_freep) struct run_job *j = calloc(1, sizeof(*j));
	struct gd_ctr *ctr;
	int sock = -1;

	if (!j) {
		gdn_err_set(&e, ENOMEM, "run");
		gd_reply_error(s, c, e);
		return;
	}
	j->started = gdn_log_started(c->log);
	if (gd_process_spec_parse(c->body.data, c->body.len, &j->spec, &e) < 0) {
		gd_reply_error(s, c, e);
		return;
	}
	ctr = gd_lookup_active(s, c, p->handle);
	if (!ctr)
		return; /* answered */
	/* loaded at create or restore; a load that failed then is retried here */
	if (!ctr->run_base && gd_ctr_load(s->cfg, ctr, &e) < 0) {
		gd_reply_error(s, c, e);
		return;
	}
	j->handle = strdup(ctr->handle);
	if (!j->handle)
		gdn_err_set(&e, ENOMEM, "run");
	if (j->handle && j->spec.pea) {
		start_pea(s, c, ctr, gdn_steal_ptr(&j));
		return;
	}
	j->init_leaf = ctr->init_leaf;
	if (!j->handle || prepare(s->cfg, ctr, j, &e) < 0) {
		gd_reply_error(s, c, e);
		return;
	}
	if ((sock = launch(s, j, &e)) < 0) {
		discard(s, c, j, gdn_steal_ptr(&e));
		return;
	}
	watch_start(s, c, ctr->handle, sock, gdn_steal_ptr(&j));
}

void gd_h_attach(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	_cleanup_free_ char *procdir = NULL;
	struct gd_ctr *ctr = gd_lookup(s, c, p->handle);
	struct stat st;

	if (!ctr)
		return;
	if (gdn_name_validate("process ID", p->second, NULL) < 0 ||
	    !(procdir = procdir_of(s, ctr->handle, p->second)) || stat(procdir, &st) < 0) {
		gdn_err_process_not_found(&e, p->second ? p->second : "");
		gd_reply_error(s, c, e);
		return;
	}
	if (hand_attach(s, c, ctr, p->second, 200, -1, &e) < 0) {
		if (shim_gone(e))
			attach_finished(s, c, ctr->handle, procdir, p->second);
		else
			gd_reply_error(s, c, e);
	}
	/* else dadoo's reply answers the client (attach_replied) */
}

/* Unknown stream or finished process: the head and an immediate end (protocol §5.4). */
static void stream_end(struct gd_server *s, struct gd_conn *c)
{
	struct gdn_buf head = {0};

	(void)gdn_http_write_hijack_head(&head, 200, "text/plain; charset=utf-8");
	gd_reply_raw(s, c, head.data, head.len);
	gdn_buf_free(&head);
}

static void stream_replied(struct gd_server *s, struct gd_call *call, json_t *reply,
			   struct gdn_err **err)
{
	(void)reply;
	if (!call->conn)
		return;
	if (*err) {
		gdn_log_info(call->conn->log ? call->conn->log : s->log, "stream-not-handed-over",
			     "error", gdn_err_str(*err), NULL);
		stream_end(s, call->conn);
	} else {
		gd_conn_close(s, call->conn);
	}
}

static void stream(struct gd_server *s, struct gd_conn *c, struct gd_params *p, int source)
{
	_cleanup_free_ char *procdir = NULL;
	_cleanup_close_ int sock = -1;
	json_auto_t *req = NULL;

	/* Streams do not touch grace timers (protocol §10), so no gd_lookup here. */
	if (p->handle && p->second && gdn_name_validate("handle", p->handle, NULL) == 0 &&
	    gdn_name_validate("process ID", p->second, NULL) == 0)
		procdir = procdir_of(s, p->handle, p->second);
	if (procdir)
		sock = gd_dadoo_connect(procdir, GDN_IPC_NONBLOCK, NULL);
	req = gd_dadoo_request_new("stream");
	if (req &&
	    json_object_update_new(req, json_pack("{s:s, s:i}", "stream_id",
						  p->third ? p->third : "", "source", source)) < 0)
		req = (json_decref(req), NULL);
	/* dadoo's reply, watched by the loop, hands the connection over (stream_replied) */
	if (sock >= 0 && req && gdn_ipc_send(sock, req, &c->fd, 1, NULL) == 0 &&
	    gd_call_start(s, c, gdn_steal_fd(&sock), p->second, NULL, NULL, stream_replied, NULL) ==
		0)
		return;
	stream_end(s, c);
}

void gd_h_stdout(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	stream(s, c, p, 1);
}

void gd_h_stderr(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	stream(s, c, p, 2);
}
