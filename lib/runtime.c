/* Invoking the OCI runtime: see runtime.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <jansson.h>
#include "lib/buf.h"
#include "lib/fs.h"
#include "lib/macro.h"
#include "lib/runtime.h"

#define LOG_MAX (4 << 20)
#define STDERR_MAX (256 << 10)

const char *gdn_runtime_name(const struct gdn_runtime *rt)
{
	const char *path = rt && rt->path ? rt->path : "runc";
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

uint64_t gdn_runtime_timeout_ns(const struct gdn_runtime *rt)
{
	return rt && rt->timeout_ns ? rt->timeout_ns : GDN_RUNTIME_TIMEOUT_DEFAULT_NS;
}

void gdn_runtime_argv_add(struct gdn_runtime_argv *a, const char *arg)
{
	if (a->n >= GDN_RUNTIME_ARGV_MAX || !arg) {
		a->overflow = true;
		return;
	}
	a->v[a->n++] = arg;
	a->v[a->n] = NULL;
}

void gdn_runtime_argv_init(struct gdn_runtime_argv *a, const struct gdn_runtime *rt,
			   const char *log)
{
	a->n = 0;
	a->overflow = false;
	a->v[0] = NULL;
	gdn_runtime_argv_add(a, rt->path ? rt->path : "runc");
	if (rt->root) {
		gdn_runtime_argv_add(a, "--root");
		gdn_runtime_argv_add(a, rt->root);
	}
	if (log) {
		gdn_runtime_argv_add(a, "--log");
		gdn_runtime_argv_add(a, log);
		gdn_runtime_argv_add(a, "--log-format");
		gdn_runtime_argv_add(a, "json");
	}
	for (const char *const *x = rt->extra_args; x && *x; x++)
		gdn_runtime_argv_add(a, *x);
}

int gdn_runtime_argv_check(const struct gdn_runtime_argv *a, const struct gdn_runtime *rt,
			   const char *op, struct gdn_err **err)
{
	_cleanup_buf_ struct gdn_buf line = {0};

	if (a->overflow)
		return gdn_err_kind(err, GDN_ERR_GENERIC, E2BIG, "%s %s: more than %d arguments",
				    gdn_runtime_name(rt), op, GDN_RUNTIME_ARGV_MAX);
	if (!rt->log)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if ((i && gdn_buf_puts(&line, " ") < 0) || gdn_buf_puts(&line, a->v[i]) < 0)
			return 0; /* only the debug line is lost */
	gdn_log_debug(rt->log, "runtime-args", "op", op, "args", line.data ? line.data : "", NULL);
	return 0;
}

/* The last non-empty line of `text` (malloc'd), NULL if none. */
static char *last_line(const char *text)
{
	const char *end = text + strlen(text);
	const char *start;

	while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		end--;
	start = end;
	while (start > text && start[-1] != '\n')
		start--;
	return end > start ? strndup(start, (size_t)(end - start)) : NULL;
}

char *gdn_runtime_log_error(const char *text)
{
	_cleanup_free_ char *error = NULL;
	_cleanup_free_ char *fatal = NULL;
	char *both = NULL;

	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		json_auto_t *line = json_loadb(p, len, 0, NULL);
		const char *level = json_string_value(json_object_get(line, "level"));
		const char *msg = json_string_value(json_object_get(line, "msg"));

		if (level && msg && strcmp(level, "error") == 0) {
			free(error);
			error = strdup(msg);
		} else if (level && msg && strcmp(level, "fatal") == 0 && !fatal) {
			fatal = strdup(msg);
		}
		p = nl ? nl + 1 : NULL;
	}
	if (!error && !fatal)
		return text ? last_line(text) : NULL;
	if (!error || !fatal)
		return gdn_steal_ptr(error ? &error : &fatal);
	/* runc reports the cause of a failed container init (e.g. a missing bind-mount source)
	 * as a "fatal" line of nsexec, and then a generic error: keep both. */
	return asprintf(&both, "%s (%s)", error, fatal) < 0 ? NULL : both;
}

bool gdn_runtime_not_found(const char *msg)
{
	const char *p;

	if (!msg)
		return false;
	/* runc: exec: "x": executable file not found in $PATH
	 *       exec: "/x": stat /x: no such file or directory */
	for (p = strstr(msg, "exec: \""); p; p = strstr(p + 1, "exec: \"")) {
		const char *q = strstr(p + 7, "\": ");

		if (!q)
			break;
		q += 3;
		if (strncmp(q, "executable file not found", 25) == 0)
			return true;
		if (strncmp(q, "stat ", 5) == 0 && strstr(q, ": no such file or directory"))
			return true;
	}
	/* crun: executable file `x` not found in $PATH: No such file or directory */
	p = strstr(msg, "executable file `");
	if (p && strstr(p, "` not found"))
		return true;
	/* crun: exec container process (missing dynamic library?) `/x`: No such file or directory
	 */
	p = strstr(msg, "exec container process");
	return p && strstr(p, ": No such file or directory");
}

int gdn_runtime_failed(const struct gdn_runtime *rt, const char *op, int status,
		       const char *log_path, const char *stderr_text, struct gdn_err **err)
{
	_cleanup_free_ char *log_text = NULL;
	_cleanup_free_ char *msg = NULL;
	size_t len = 0;
	enum gdn_err_kind kind = GDN_ERR_GENERIC;

	if (log_path && gdn_fs_read_file(log_path, LOG_MAX, &log_text, &len, NULL) >= 0)
		msg = gdn_runtime_log_error(log_text);
	if (!msg && stderr_text)
		msg = gdn_runtime_log_error(stderr_text);
	if (!msg)
		return gdn_err_kind(err, kind, EIO, "%s %s: exit status %d", gdn_runtime_name(rt),
				    op, status);
	if (strcmp(op, "exec") == 0 && gdn_runtime_not_found(msg))
		kind = GDN_ERR_EXECUTABLE_NOT_FOUND;
	return gdn_err_kind(err, kind, EIO, "%s %s: exit status %d: %s", gdn_runtime_name(rt), op,
			    status, msg);
}

int gdn_runtime_timed_out(const struct gdn_runtime *rt, const char *op, struct gdn_err **err)
{
	uint64_t ns = gdn_runtime_timeout_ns(rt);
	char deadline[32];

	if (ns % 1000000000ULL == 0)
		(void)snprintf(deadline, sizeof(deadline), "%llus",
			       (unsigned long long)(ns / 1000000000ULL));
	else
		(void)snprintf(deadline, sizeof(deadline), "%llums",
			       (unsigned long long)((ns + 999999) / 1000000));
	return gdn_err_kind(err, GDN_ERR_GENERIC, ETIMEDOUT,
			    "%s %s: timed out after %s: the runtime was killed",
			    gdn_runtime_name(rt), op, deadline);
}

char *gdn_runtime_stderr_text(int fd, size_t *ret_len)
{
	_cleanup_buf_ struct gdn_buf b = {0};
	char chunk[4096];
	off_t off = 0;
	bool seekable = lseek(fd, 0, SEEK_CUR) >= 0;

	while (b.len < STDERR_MAX) {
		ssize_t n = seekable ? pread(fd, chunk, sizeof(chunk), off)
				     : read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (gdn_buf_append(&b, chunk, (size_t)n) < 0)
			return NULL;
		off += n;
	}
	if (!b.data && gdn_buf_append(&b, "", 0) < 0)
		return NULL;
	return gdn_buf_steal(&b, ret_len);
}

int gdn_runtime_call(const struct gdn_runtime *rt, const char *op, const struct gdn_runtime_argv *a,
		     const char *cwd, bool pipes, struct gdn_run_result *ret, struct gdn_err **err)
{
	_cleanup_close_ int errout = -1;
	struct gdn_spawn_opts so = {
	    .path = a->v[0],
	    .argv = (char *const *)a->v,
	    .stdin_fd = -1,
	    .stdout_fd = -1,
	    .stderr_fd = -1,
	    .cwd = cwd,
	    /* its own process group: at the deadline, what it forked (crun's container process
	     * to be, stuck like it) is killed with it */
	    .setsid = true,
	};
	struct gdn_run_opts ro = {
	    .spawn = &so,
	    .capture_stdout = pipes,
	    .capture_stderr = pipes,
	    .output_max = STDERR_MAX,
	    .timeout_ns = gdn_runtime_timeout_ns(rt),
	};
	int r;

	if (a->overflow || a->n == 0)
		return gdn_runtime_argv_check(a, rt, op, err);
	if (!pipes) {
		/* the container's init inherits it (garden-init points its stdio at /dev/null at
		 * once) and nothing can block on it; crun reports early failures only there */
		errout = memfd_create("runtime-stderr", MFD_CLOEXEC);
		if (errout < 0)
			return gdn_err_set(err, errno, "%s %s: memfd_create", gdn_runtime_name(rt),
					   op);
		so.stderr_fd = errout;
	}
	r = gdn_run(&ro, ret, err);
	if (r == -ETIMEDOUT) {
		gdn_run_result_free(ret);
		if (err && *err)
			*err = gdn_err_free(*err);
		return gdn_runtime_timed_out(rt, op, err);
	}
	if (r < 0)
		return gdn_err_wrap(err, "%s %s", gdn_runtime_name(rt), op);
	if (!pipes) {
		ret->err = gdn_runtime_stderr_text(errout, &ret->err_len);
		if (!ret->err)
			return gdn_err_set(err, ENOMEM, "%s %s", gdn_runtime_name(rt), op);
	}
	return 0;
}
