/* The OCI runtime binary, run as a child through lib/runtime.h under guardian's
 * --runtime-timeout. One-shot commands (state, delete) get pipes for stdout and stderr, read
 * while they run, so that stdout stays clean JSON. `run --detach` never gets a pipe, because the
 * container's init inherits the runtime's stdio and would hold it open forever: stdin and stdout
 * are /dev/null, stderr a memfd (read only when the runtime fails). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "lib/depot.h"
#include "lib/fs.h"
#include "lib/path.h"
#include "lib/runtime.h"
#include "lib/util.h"
#include "cmd/guardian/runtime.h"

static struct gdn_runtime runtime_of(const struct gd_config *cfg, struct gdn_log *log)
{
	return (struct gdn_runtime){
	    .path = cfg->runtime ? cfg->runtime : "runc",
	    .root = cfg->runtime_root,
	    .extra_args = (const char *const *)cfg->runtime_extra_args,
	    .timeout_ns = cfg->runtime_timeout_ns,
	    .log = log,
	};
}

const char *gd_runtime_name(const struct gd_config *cfg)
{
	struct gdn_runtime rt = runtime_of(cfg, NULL);

	return gdn_runtime_name(&rt);
}

static bool is_not_found(const char *text)
{
	return text && (strstr(text, "does not exist") || strstr(text, "not found") ||
			strstr(text, "No such file or directory"));
}

/* Whether `pid` is alive (not a zombie) and in the cgroup garden/<handle> of some hierarchy
 * (`needle` is "/garden/<handle>\n"; at the hierarchy's root or under ours, as runc and crun
 * resolve the relative cgroupsPath differently). */
static bool in_container_cgroup(unsigned pid, const char *needle)
{
	_cleanup_free_ char *cg = NULL;
	_cleanup_free_ char *stat = NULL;
	const char *paren;
	char path[64];
	size_t len = 0;

	(void)snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	if (gdn_fs_read_file(path, 4096, &stat, &len, NULL) < 0)
		return false;
	paren = strrchr(stat, ')');
	if (!paren || paren[1] != ' ' || paren[2] == 'Z' || paren[2] == 'X')
		return false;
	(void)snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	return gdn_fs_read_file(path, 65536, &cg, &len, NULL) >= 0 && strstr(cg, needle);
}

/* After a `run` that missed its deadline: what the runtime had put in the container's cgroup is
 * stuck like it (runc's init or crun's container process opening a FIFO at /etc/passwd), and
 * crun starts it in a session of its own, out of reach of the runtime's process group. The
 * container never started, so everything in its cgroup is the runtime's: SIGKILL it, until none
 * is left (at most ~5 s). */
static void kill_cgroup_leftovers(const char *handle, struct gdn_log *log)
{
	char needle[GDN_HANDLE_MAX + 16];

	(void)snprintf(needle, sizeof(needle), "/garden/%s\n", handle);
	for (int round = 0; round < 50; round++) {
		_cleanup_closedir_ DIR *d = opendir("/proc");
		const struct timespec tick = {0, 100 * 1000000};
		struct dirent *e;
		unsigned n = 0;

		if (!d)
			return;
		while ((e = readdir(d))) {
			uint32_t pid = 0;

			if (gdn_parse_u32(e->d_name, &pid) < 0 || !in_container_cgroup(pid, needle))
				continue;
			if (kill((pid_t)pid, SIGKILL) == 0)
				n++;
		}
		if (n == 0)
			return;
		if (round == 0) {
			char count[16];

			(void)snprintf(count, sizeof(count), "%u", n);
			gdn_log_info(log, "killed-runtime-leftovers", "count", count, NULL);
		}
		(void)nanosleep(&tick, NULL);
	}
	gdn_log_info(log, "runtime-leftovers-survived-sigkill", NULL);
}

int gd_runtime_run(const struct gd_config *cfg, const char *handle, const char *bundle_dir,
		   struct gdn_log *log, struct gdn_err **err)
{
	_cleanup_free_ char *log_path = gdn_path_join(bundle_dir, GDN_DEPOT_CREATE_LOG);
	_cleanup_free_ char *pidfile = gdn_path_join(bundle_dir, GDN_DEPOT_PIDFILE);
	_cleanup_run_result_ struct gdn_run_result res = {0};
	struct gdn_runtime rt = runtime_of(cfg, log);
	struct gdn_runtime_argv a;
	int r;

	if (!log_path || !pidfile)
		return gdn_err_set(err, ENOMEM, "cannot start the container");
	/* --log is relative to the runtime's cwd, the bundle dir */
	gdn_runtime_argv_init(&a, &rt, GDN_DEPOT_CREATE_LOG);
	gdn_runtime_argv_add(&a, "run");
	gdn_runtime_argv_add(&a, "--detach");
	gdn_runtime_argv_add(&a, "--no-new-keyring");
	gdn_runtime_argv_add(&a, "--bundle");
	gdn_runtime_argv_add(&a, bundle_dir);
	gdn_runtime_argv_add(&a, "--pid-file");
	gdn_runtime_argv_add(&a, pidfile);
	gdn_runtime_argv_add(&a, handle);
	r = gdn_runtime_argv_check(&a, &rt, "run", err);
	if (r < 0)
		return r;
	r = gdn_runtime_call(&rt, "run", &a, bundle_dir, false, &res, err);
	if (r == -ETIMEDOUT)
		kill_cgroup_leftovers(handle, log);
	if (r < 0)
		return r;
	if (res.status == 0)
		return 0;
	return gdn_runtime_failed(&rt, "run", res.status, log_path, res.err, err);
}

int gd_runtime_delete(const struct gd_config *cfg, const char *handle, bool force,
		      struct gdn_log *log, struct gdn_err **err)
{
	_cleanup_run_result_ struct gdn_run_result res = {0};
	struct gdn_runtime rt = runtime_of(cfg, log);
	struct gdn_runtime_argv a;
	int r;

	gdn_runtime_argv_init(&a, &rt, NULL);
	gdn_runtime_argv_add(&a, "delete");
	if (force)
		gdn_runtime_argv_add(&a, "--force");
	gdn_runtime_argv_add(&a, handle);
	r = gdn_runtime_argv_check(&a, &rt, "delete", err);
	if (r < 0)
		return r;
	r = gdn_runtime_call(&rt, "delete", &a, NULL, true, &res, err);
	if (r < 0)
		return r;
	if (res.status == 0 || is_not_found(res.err) || is_not_found(res.out))
		return 0;
	return gdn_runtime_failed(&rt, "delete", res.status, NULL, res.err, err);
}

/* `state <handle>`'s JSON (*ret). */
static int state_json(const struct gd_config *cfg, const char *handle, json_t **ret,
		      struct gdn_log *log, struct gdn_err **err)
{
	_cleanup_run_result_ struct gdn_run_result res = {0};
	struct gdn_runtime rt = runtime_of(cfg, log);
	struct gdn_runtime_argv a;
	int r;

	gdn_runtime_argv_init(&a, &rt, NULL);
	gdn_runtime_argv_add(&a, "state");
	gdn_runtime_argv_add(&a, handle);
	r = gdn_runtime_argv_check(&a, &rt, "state", err);
	if (r < 0)
		return r;
	r = gdn_runtime_call(&rt, "state", &a, NULL, true, &res, err);
	if (r < 0)
		return r;
	if (res.status != 0) {
		_cleanup_err_ struct gdn_err *e = NULL;
		int errnum = is_not_found(res.err) || is_not_found(res.out) ? ENOENT : EIO;

		(void)gdn_runtime_failed(&rt, "state", res.status, NULL, res.err, &e);
		gdn_err_kind(err, GDN_ERR_GENERIC, errnum, "%s", gdn_err_str(e));
		return -errnum;
	}
	*ret = json_loads(res.out, 0, NULL);
	if (!json_is_string(json_object_get(*ret, "status"))) {
		json_decref(*ret);
		*ret = NULL;
		return gdn_err_set(err, EIO, "%s state: cannot parse the output",
				   gdn_runtime_name(&rt));
	}
	return 0;
}

int gd_runtime_state(const struct gd_config *cfg, const char *handle, pid_t *ret_pid,
		     char **ret_status, struct gdn_log *log, struct gdn_err **err)
{
	json_auto_t *st = NULL;
	int r = state_json(cfg, handle, &st, log, err);

	if (r < 0)
		return r;
	if (ret_pid)
		*ret_pid = (pid_t)json_integer_value(json_object_get(st, "pid"));
	if (ret_status) {
		*ret_status = strdup(json_string_value(json_object_get(st, "status")));
		if (!*ret_status)
			return gdn_err_set(err, ENOMEM, "%s state", gd_runtime_name(cfg));
	}
	return 0;
}

int gd_runtime_bundle(const struct gd_config *cfg, const char *id, char **ret, struct gdn_log *log,
		      struct gdn_err **err)
{
	json_auto_t *st = NULL;
	int r = state_json(cfg, id, &st, log, err);
	const char *b;

	if (r < 0)
		return r;
	b = json_string_value(json_object_get(st, "bundle"));
	*ret = strdup(b ? b : "");
	return *ret ? 0 : gdn_err_set(err, ENOMEM, "%s state", gd_runtime_name(cfg));
}
