/* The OCI runtime binary, run as a child through lib/runtime.h under guardian's
 * --runtime-timeout. One-shot commands (state, delete) get pipes for stdout and stderr, read
 * while they run, so that stdout stays clean JSON. `run --detach` never gets a pipe, because the
 * container's init inherits the runtime's stdio and would hold it open forever: stdin and stdout
 * are /dev/null, stderr a memfd (read only when the runtime fails). */
#include <errno.h>
#include <string.h>
#include <jansson.h>
#include "lib/path.h"
#include "lib/runtime.h"
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

int gd_runtime_run(const struct gd_config *cfg, const char *handle, const char *bundle_dir,
		   struct gdn_log *log, struct gdn_err **err)
{
	_cleanup_free_ char *log_path = gdn_path_join(bundle_dir, "create.log");
	_cleanup_free_ char *pidfile = gdn_path_join(bundle_dir, "pidfile");
	_cleanup_run_result_ struct gdn_run_result res = {0};
	struct gdn_runtime rt = runtime_of(cfg, log);
	struct gdn_runtime_argv a;
	int r;

	if (!log_path || !pidfile)
		return gdn_err_set(err, ENOMEM, "cannot start the container");
	/* --log is relative to the runtime's cwd, the bundle dir */
	gdn_runtime_argv_init(&a, &rt, "create.log");
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

int gd_runtime_state(const struct gd_config *cfg, const char *handle, pid_t *ret_pid,
		     char **ret_status, struct gdn_log *log, struct gdn_err **err)
{
	_cleanup_run_result_ struct gdn_run_result res = {0};
	struct gdn_runtime rt = runtime_of(cfg, log);
	struct gdn_runtime_argv a;
	json_auto_t *st = NULL;
	const char *s;
	json_int_t pid;
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
	st = json_loads(res.out, 0, NULL);
	pid = json_integer_value(json_object_get(st, "pid"));
	s = json_string_value(json_object_get(st, "status"));
	if (!st || !s)
		return gdn_err_set(err, EIO, "%s state: cannot parse the output",
				   gdn_runtime_name(&rt));
	if (ret_pid)
		*ret_pid = (pid_t)pid;
	if (ret_status) {
		*ret_status = strdup(s);
		if (!*ret_status)
			return gdn_err_set(err, ENOMEM, "%s state", gdn_runtime_name(&rt));
	}
	return 0;
}
