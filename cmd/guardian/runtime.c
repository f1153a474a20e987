/* The OCI runtime binary, run as a child through gdn_spawn. One-shot commands (state, delete)
 * get memfds for stdout and stderr so that stdout stays clean JSON and nothing can block on a
 * full pipe. `run --detach` never gets a pipe, because the container's init inherits the
 * runtime's stdio and would hold it open forever: stdin and stdout are /dev/null, stderr a
 * memfd (read only when the runtime fails). */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <jansson.h>
#include "lib/buf.h"
#include "lib/fs.h"
#include "lib/path.h"
#include "lib/proc.h"
#include "lib/runtime_log.h"
#include "cmd/guardian/runtime.h"

#define OUTPUT_MAX (256 << 10)
#define ARGV_MAX 64

struct argv {
	const char *v[ARGV_MAX + 1];
	size_t n;
};

static int argv_add(struct argv *a, const char *s)
{
	if (a->n >= ARGV_MAX)
		return -E2BIG;
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
	return 0;
}

const char *gd_runtime_name(const struct gd_config *cfg)
{
	const char *rt = cfg->runtime ? cfg->runtime : "runc";
	const char *slash = strrchr(rt, '/');
	return slash ? slash + 1 : rt;
}

static int argv_start(struct argv *a, const struct gd_config *cfg)
{
	a->n = 0;
	int r = argv_add(a, cfg->runtime ? cfg->runtime : "runc");
	if (r >= 0 && cfg->runtime_root) {
		r = argv_add(a, "--root");
		if (r >= 0)
			r = argv_add(a, cfg->runtime_root);
	}
	return r;
}

/* Reads the whole content of a memfd (from offset 0), NUL-terminated. */
static char *memfd_slurp(int fd)
{
	_cleanup_buf_ struct gdn_buf b = {0};
	char chunk[4096];
	off_t off = 0;
	for (;;) {
		ssize_t n = pread(fd, chunk, sizeof(chunk), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (b.len < OUTPUT_MAX && gdn_buf_append(&b, chunk, (size_t)n) < 0)
			return NULL;
		off += n;
	}
	size_t len = 0;
	char *data = gdn_buf_steal(&b, &len);
	return data ? data : strdup("");
}

/* Runs argv to completion with stdout and stderr captured separately. */
static int run_capture(const struct argv *a, int *ret_status, char **ret_out, char **ret_errout,
		       struct gdn_err **err)
{
	_cleanup_close_ int out = memfd_create("runtime-stdout", MFD_CLOEXEC);
	_cleanup_close_ int errout = memfd_create("runtime-stderr", MFD_CLOEXEC);
	if (out < 0 || errout < 0)
		return gdn_err_set(err, errno, "memfd_create");

	struct gdn_spawn_opts o = {
	    .path = a->v[0],
	    .argv = (char *const *)a->v,
	    .stdin_fd = -1,
	    .stdout_fd = out,
	    .stderr_fd = errout,
	};
	pid_t pid = 0;
	int pidfd = -1;
	int r = gdn_spawn(&o, &pid, &pidfd, err);
	if (r < 0)
		return r;
	_cleanup_close_ int pidfd_owned = pidfd;
	r = gdn_proc_wait(pid, pidfd_owned, ret_status, err);
	if (r < 0)
		return r;
	*ret_out = memfd_slurp(out);
	*ret_errout = memfd_slurp(errout);
	if (!*ret_out || !*ret_errout) {
		free(*ret_out);
		free(*ret_errout);
		*ret_out = *ret_errout = NULL;
		return gdn_err_set(err, ENOMEM, "cannot read the output of '%s'", a->v[0]);
	}
	return 0;
}

static bool is_not_found(const char *text)
{
	return strstr(text, "does not exist") || strstr(text, "not found") ||
	       strstr(text, "No such file or directory");
}

int gd_runtime_run(const struct gd_config *cfg, const char *handle, const char *bundle_dir,
		   struct gdn_err **err)
{
	_cleanup_free_ char *log_path = gdn_path_join(bundle_dir, "create.log");
	_cleanup_free_ char *pidfile = gdn_path_join(bundle_dir, "pidfile");
	if (!log_path || !pidfile)
		return gdn_err_set(err, ENOMEM, "cannot start the container");

	struct argv a;
	int r = argv_start(&a, cfg);
	/* --log is relative to the runtime's cwd (the bundle dir): crun reads "<driver>:<path>"
	 * and would take a ':' in the depot path or handle for a log driver name. */
	const char *const tail[] = {"--log", "create.log", "--log-format", "json"};
	for (size_t i = 0; r >= 0 && i < GDN_ARRAY_SIZE(tail); i++)
		r = argv_add(&a, tail[i]);
	for (const char **x = cfg->runtime_extra_args; r >= 0 && x && *x; x++)
		r = argv_add(&a, *x);
	const char *const run[] = {"run",      "--detach", "--no-new-keyring",
				   "--bundle", bundle_dir, "--pid-file",
				   pidfile,    handle};
	for (size_t i = 0; r >= 0 && i < GDN_ARRAY_SIZE(run); i++)
		r = argv_add(&a, run[i]);
	if (r < 0)
		return gdn_err_set(err, -r, "too many runtime arguments");

	/* stderr goes to a memfd, not a pipe: the container's init inherits it (garden-init
	 * points its stdio at /dev/null at once) and nothing can block on it. crun reports early
	 * failures only there, before its log file is set up. */
	_cleanup_close_ int errout = memfd_create("runtime-run-stderr", MFD_CLOEXEC);
	if (errout < 0)
		return gdn_err_set(err, errno, "memfd_create");
	struct gdn_spawn_opts o = {
	    .path = a.v[0],
	    .argv = (char *const *)a.v,
	    .stdin_fd = -1,
	    .stdout_fd = -1,
	    .stderr_fd = errout,
	    .cwd = bundle_dir,
	};
	pid_t pid = 0;
	int pidfd = -1;
	r = gdn_spawn(&o, &pid, &pidfd, err);
	if (r < 0)
		return gdn_err_wrap(err, "%s run", gd_runtime_name(cfg));
	_cleanup_close_ int pidfd_owned = pidfd;
	int status = 0;
	r = gdn_proc_wait(pid, pidfd_owned, &status, err);
	if (r < 0)
		return gdn_err_wrap(err, "%s run", gd_runtime_name(cfg));
	if (status == 0)
		return 0;

	_cleanup_free_ char *log_text = NULL;
	_cleanup_free_ char *msg = NULL;
	_cleanup_free_ char *stderr_text = memfd_slurp(errout);
	_cleanup_err_ struct gdn_err *log_err = NULL;
	size_t len = 0;
	if (gdn_fs_read_file(log_path, 4 << 20, &log_text, &len, &log_err) >= 0)
		msg = gdn_runtime_log_error(log_text);
	if (!msg && stderr_text)
		msg = gdn_runtime_log_error(stderr_text);
	if (msg)
		return gdn_err_set(err, 0, "%s run: exit status %d: %s", gd_runtime_name(cfg),
				   status, msg);
	return gdn_err_set(err, 0, "%s run: exit status %d", gd_runtime_name(cfg), status);
}

int gd_runtime_delete(const struct gd_config *cfg, const char *handle, bool force,
		      struct gdn_err **err)
{
	struct argv a;
	int r = argv_start(&a, cfg);
	if (r >= 0)
		r = argv_add(&a, "delete");
	if (r >= 0 && force)
		r = argv_add(&a, "--force");
	if (r >= 0)
		r = argv_add(&a, handle);
	if (r < 0)
		return gdn_err_set(err, -r, "too many runtime arguments");

	_cleanup_free_ char *out = NULL;
	_cleanup_free_ char *errout = NULL;
	int status = 0;
	r = run_capture(&a, &status, &out, &errout, err);
	if (r < 0)
		return gdn_err_wrap(err, "%s delete", gd_runtime_name(cfg));
	if (status == 0 || is_not_found(errout) || is_not_found(out))
		return 0;
	_cleanup_free_ char *msg = gdn_runtime_log_error(errout);
	return gdn_err_set(err, 0, "%s delete: exit status %d%s%s", gd_runtime_name(cfg), status,
			   msg ? ": " : "", msg ? msg : "");
}

int gd_runtime_state(const struct gd_config *cfg, const char *handle, pid_t *ret_pid,
		     char **ret_status, struct gdn_err **err)
{
	struct argv a;
	int r = argv_start(&a, cfg);
	if (r >= 0)
		r = argv_add(&a, "state");
	if (r >= 0)
		r = argv_add(&a, handle);
	if (r < 0)
		return gdn_err_set(err, -r, "too many runtime arguments");

	_cleanup_free_ char *out = NULL;
	_cleanup_free_ char *errout = NULL;
	int status = 0;
	r = run_capture(&a, &status, &out, &errout, err);
	if (r < 0)
		return gdn_err_wrap(err, "%s state", gd_runtime_name(cfg));
	if (status != 0) {
		_cleanup_free_ char *msg = gdn_runtime_log_error(errout);
		int errnum = is_not_found(errout) || is_not_found(out) ? ENOENT : EIO;
		gdn_err_kind(err, GDN_ERR_GENERIC, errnum, "%s state: exit status %d%s%s",
			     gd_runtime_name(cfg), status, msg ? ": " : "", msg ? msg : "");
		return -errnum;
	}

	json_error_t jerr;
	json_auto_t *st = json_loads(out, 0, &jerr);
	json_int_t pid = json_integer_value(json_object_get(st, "pid"));
	const char *s = json_string_value(json_object_get(st, "status"));
	if (!st || !s)
		return gdn_err_set(err, EIO, "%s state: cannot parse the output",
				   gd_runtime_name(cfg));
	if (ret_pid)
		*ret_pid = (pid_t)pid;
	if (ret_status) {
		*ret_status = strdup(s);
		if (!*ret_status)
			return gdn_err_set(err, ENOMEM, "%s state", gd_runtime_name(cfg));
	}
	return 0;
}
