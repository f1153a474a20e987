/* BulkMetrics' body on two cores: the worker forks a helper for the second half of the
 * (sorted) handles, and the two halves, each already encoded, are joined as text, so nothing is
 * parsed again. What the helper learnt of image sizes comes back on a second line. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "lib/buf.h"
#include "lib/fs.h"
#include "lib/util.h"
#include "cmd/guardian/metrics.h"
#include "cmd/guardian/volume_store.h"

/* Below this many containers one process is as quick (the fork costs ~0.5 ms). */
#define SPLIT_MIN 32

/* `"handle":{...}` for targets [from, to), comma-separated, into out. A handle given twice
 * is answered once (Go's map keeps one). */
static int append_entries(const struct gd_config *cfg, const struct gd_metrics_job *j, size_t from,
			  size_t to, struct gdn_log *log, struct gdn_buf *out)
{
	bool first = true;
	for (size_t i = from; i < to; i++) {
		const struct gd_metrics_target *t = &j->targets[i];
		if (i > 0 && strcmp(t->handle, j->targets[i - 1].handle) == 0)
			continue;
		json_auto_t *key = json_string(t->handle);
		json_auto_t *entry = gd_metrics_entry(cfg, t, j->image_sizes, log);
		_cleanup_free_ char *k = key ? json_dumps(key, JSON_ENCODE_ANY) : NULL;
		size_t vlen = 0;
		_cleanup_free_ char *v = entry ? gdn_json_line(entry, &vlen) : NULL;
		if (!k || !v || (!first && gdn_buf_append(out, ",", 1) < 0) ||
		    gdn_buf_append(out, k, strlen(k)) < 0 || gdn_buf_append(out, ":", 1) < 0 ||
		    gdn_buf_append(out, v, vlen - 1) < 0)
			return -ENOMEM;
		first = false;
	}
	return 0;
}

/* In the helper: its half, a newline, the image sizes, a newline. Never returns. */
static void __attribute__((noreturn))
helper(const struct gd_config *cfg, const struct gd_metrics_job *j, size_t from, int fd,
       struct gdn_log *log)
{
	struct gdn_buf out = {0};
	size_t slen = 0;
	_cleanup_free_ char *sizes = NULL;

	if (append_entries(cfg, j, from, j->n, log, &out) < 0 || gdn_buf_append(&out, "\n", 1) < 0)
		_exit(1);
	sizes = j->image_sizes ? gdn_json_line(j->image_sizes, &slen) : NULL;
	if ((sizes && gdn_buf_append(&out, sizes, slen) < 0) ||
	    gdn_fd_write_all(fd, out.data, out.len) < 0)
		_exit(1);
	_exit(0);
}

/* The helper's output, whole (malloc'd buffer), and whether it exited 0. */
static bool collect(pid_t pid, int fd, struct gdn_buf *in)
{
	char chunk[65536];
	int status = 0;
	ssize_t n;

	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || gdn_buf_append(in, chunk, (size_t)n) < 0)
			break;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return n == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Adds the image sizes the helper measured (its second line) to the job's. */
static void merge_sizes(struct gd_metrics_job *j, const char *line)
{
	json_auto_t *theirs = json_loads(line, 0, NULL);
	const char *k;
	json_t *v;

	if (!j->image_sizes || !json_is_object(theirs))
		return;
	json_object_foreach (theirs, k, v)
		if (json_object_size(j->image_sizes) < GD_IMAGE_SIZES_MAX)
			json_object_set(j->image_sizes, k, v);
}

int gd_metrics_bulk_body(const struct gd_config *cfg, struct gd_metrics_job *j, struct gdn_log *log,
			 struct gdn_buf *ret)
{
	size_t from = j->n;
	struct gdn_buf theirs = {0};
	pid_t pid = -1;
	int p[2] = {-1, -1};
	int r;

	if (j->n >= SPLIT_MIN && sysconf(_SC_NPROCESSORS_ONLN) > 1 && pipe2(p, O_CLOEXEC) == 0) {
		from = j->n / 2;
		pid = fork();
		if (pid == 0) {
			(void)close(p[0]);
			if (j->sock >= 0)
				(void)close(j->sock);
			helper(cfg, j, from, p[1], log);
		}
		(void)close(p[1]);
		if (pid < 0) {
			(void)close(p[0]);
			from = j->n;
		}
	}
	r = gdn_buf_append(ret, "{", 1);
	if (r >= 0)
		r = append_entries(cfg, j, 0, from, log, ret);
	if (pid > 0) {
		bool ok = collect(pid, p[0], &theirs) && theirs.data;
		char *nl = ok ? memchr(theirs.data, '\n', theirs.len) : NULL;
		(void)close(p[0]);
		if (nl) {
			*nl = '\0';
			merge_sizes(j, nl + 1);
			if (r >= 0 && nl > theirs.data && ret->len > 1)
				r = gdn_buf_append(ret, ",", 1);
			if (r >= 0)
				r = gdn_buf_append(ret, theirs.data, (size_t)(nl - theirs.data));
		} else if (r >= 0) {
			/* the helper failed: its half here, after all */
			struct gdn_buf rest = {0};
			r = append_entries(cfg, j, from, j->n, log, &rest);
			if (r >= 0 && rest.len && ret->len > 1)
				r = gdn_buf_append(ret, ",", 1);
			if (r >= 0)
				r = gdn_buf_append(ret, rest.data, rest.len);
			gdn_buf_free(&rest);
		}
		gdn_buf_free(&theirs);
	}
	if (r >= 0)
		r = gdn_buf_append(ret, "}\n", 2);
	return r < 0 ? -ENOMEM : 0;
}
