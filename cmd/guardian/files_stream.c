/* The worker of a StreamIn or StreamOut. It holds a duplicate of the client's connection (the
 * loop leaves the connection alone meanwhile), runs nstar (nstar(8)) on the container and copies:
 * the request body (decoded from chunked, or Content-Length bytes) into nstar's stdin, or
 * nstar's stdout into a chunked 200 response. nstar's stderr (lager lines) goes to a memfd: no
 * pipe to drain while the body flows, and its error lines become the "Output" of Garden's
 * message.
 *
 * Which way into the container: its init, pinned by a pidfd that is checked to be in the
 * container's cgroup, is joined (nstar --pidfd); an init that is gone means the container's mount
 * namespace is gone too, and nstar mounts the volume in a private namespace of its own
 * (--volume). An flock on the container's depot dir keeps the two apart: shared while an init is
 * joined, exclusive while the volume is mounted, so that two streams never mount one upperdir
 * twice, and none mounts it while another still holds the dead init's namespace. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <jansson.h>

#include "lib/depot.h"
#include "lib/fs.h"
#include "lib/path.h"
#include "lib/run.h"
#include "lib/util.h"
#include "cmd/guardian/container.h"
#include "cmd/guardian/files.h"
#include "cmd/guardian/server.h"

#define IO_BLOCK (256 * 1024)
#define PIPE_SIZE (1024 * 1024)
#define OUTPUT_MAX (64 * 1024)
#define CHUNK_HEAD 16 /* room for "<hex>\r\n" before a chunk's data */

void gd_files_job_free(void *p)
{
	struct gd_files_job *j = p;

	if (!j)
		return;
	free(j->handle);
	free(j->user);
	free(j->path);
	if (j->sock >= 0)
		(void)close(j->sock);
	gdn_buf_free(&j->pending);
	free(j);
}

/* Waits until fd (non-blocking) is ready for `events`; -errno. */
static int wait_fd(int fd, short events)
{
	struct pollfd p = {.fd = fd, .events = events};

	for (;;) {
		int n = poll(&p, 1, -1);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static ssize_t sock_read(int fd, void *buf, size_t len)
{
	for (;;) {
		ssize_t n = read(fd, buf, len);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		int r = wait_fd(fd, POLLIN);
		if (r < 0)
			return r;
	}
}

/* What nstar said: the messages of its error lines (Garden's Output is tar's stderr), each line
 * also re-logged under ours. */
static char *nstar_output(int memfd, struct gdn_log *log)
{
	struct gdn_buf out = {0};
	struct stat st;
	char *text;

	if (fstat(memfd, &st) < 0 || st.st_size <= 0)
		return strdup("");
	size_t len = st.st_size > OUTPUT_MAX ? OUTPUT_MAX : (size_t)st.st_size;
	text = malloc(len + 1);
	if (!text || pread(memfd, text, len, 0) != (ssize_t)len) {
		free(text);
		return strdup("");
	}
	text[len] = '\0';
	for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		json_auto_t *j = json_loadb(line, n, 0, NULL);
		json_t *data = j ? json_object_get(j, "data") : NULL;
		const char *msg = json_string_value(json_object_get(data, "error"));

		gdn_run_relog_line(log, line, n);
		if (j && !msg)
			continue;
		if (out.len)
			(void)gdn_buf_puts(&out, "\n");
		if (msg)
			(void)gdn_buf_puts(&out, msg);
		else
			(void)gdn_buf_append(&out, line, n);
	}
	free(text);
	if (!out.data)
		return strdup("");
	return gdn_buf_steal(&out, NULL);
}

/* Garden's shape: "stream-in: nstar: error streaming in: exit status 2. Output: ..." */
static int nstar_failed(const struct gd_files_job *j, int status, int memfd, struct gdn_log *log,
			struct gdn_err **err)
{
	_cleanup_free_ char *output = nstar_output(memfd, log);
	const char *dir = j->in ? "in" : "out";

	if (status > 128)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EIO,
				    "stream-%s: nstar: error streaming %s: signal: %s. Output: %s",
				    dir, dir, strsignal(status - 128), output ? output : "");
	return gdn_err_kind(err, GDN_ERR_GENERIC, EIO,
			    "stream-%s: nstar: error streaming %s: exit status %d. Output: %s", dir,
			    dir, status, output ? output : "");
}

/* nstar's argv; the init's pidfd (if any) becomes its fd 3. */
static int nstar_argv(const struct gd_config *cfg, const struct gd_files_job *j, const char *dir,
		      bool running, char **argv, char bufs[6][64])
{
	size_t n = 0;

	argv[n++] = (char *)"nstar";
	argv[n++] = (char *)(j->in ? "stream-in" : "stream-out");
	argv[n++] = (char *)"--user";
	argv[n++] = j->user;
	argv[n++] = (char *)"--path";
	argv[n++] = j->path;
	argv[n++] = (char *)"--log-level";
	argv[n++] = (char *)gdn_log_level_name(cfg->log_level);
	if (j->privileged)
		argv[n++] = (char *)"--privileged";
	if (running) {
		argv[n++] = (char *)"--pidfd";
		argv[n++] = (char *)"3";
		if (!j->privileged)
			argv[n++] = (char *)"--userns";
	} else {
		argv[n++] = (char *)"--volume";
		argv[n++] = (char *)dir;
		if (!j->privileged) {
			(void)snprintf(bufs[0], 64, "0:%u:1", cfg->maxid);
			(void)snprintf(bufs[1], 64, "1:%u:%u", cfg->uid_map_start,
				       cfg->uid_map_length);
			(void)snprintf(bufs[2], 64, "0:%u:1", cfg->maxid);
			(void)snprintf(bufs[3], 64, "1:%u:%u", cfg->gid_map_start,
				       cfg->gid_map_length);
			const char *flags[] = {"--uid-map", "--uid-map", "--gid-map", "--gid-map"};
			for (size_t i = 0; i < 4; i++) {
				argv[n++] = (char *)flags[i];
				argv[n++] = bufs[i];
			}
		}
	}
	argv[n] = NULL;
	return 0;
}

/* Feeds the body bytes in raw (consuming them) to nstar; true once the body has ended. A write
 * that fails (nstar is gone) does not stop the reading: the whole body is consumed before the
 * answer. */
static int feed(struct gd_files_job *j, struct gdn_buf *raw, struct gdn_buf *body,
		struct gdn_chunked *chunked, uint64_t *left, int to_nstar, bool *nstar_gone,
		struct gdn_err **err)
{
	const char *data = raw->data;
	size_t len;

	if (j->chunked) {
		ssize_t used = gdn_chunked_feed(chunked, raw->data, raw->len, body, err);
		if (used < 0)
			return (int)used;
		gdn_buf_consume(raw, (size_t)used);
		data = body->data;
		len = body->len;
	} else {
		len = raw->len < *left ? raw->len : (size_t)*left;
		*left -= len;
	}
	if (len > 0 && !*nstar_gone && gdn_fd_write_all(to_nstar, data, len) < 0)
		*nstar_gone = true;
	if (j->chunked)
		gdn_buf_reset(body);
	else
		gdn_buf_consume(raw, len);
	return j->chunked ? chunked->done : *left == 0;
}

/* The body into nstar's stdin. -errno when the connection failed or the framing was bad. */
static int pump_body(struct gd_files_job *j, int to_nstar, struct gdn_err **err)
{
	_cleanup_free_ char *buf = malloc(IO_BLOCK);
	struct gdn_buf raw = {0}, body = {0};
	struct gdn_chunked chunked = {0};
	uint64_t left = j->length;
	bool nstar_gone = false;
	int r;

	if (!buf || gdn_buf_append(&raw, j->pending.data, j->pending.len) < 0) {
		gdn_buf_free(&raw);
		return gdn_err_set(err, ENOMEM, "stream-in");
	}
	while ((r = feed(j, &raw, &body, &chunked, &left, to_nstar, &nstar_gone, err)) == 0) {
		ssize_t n = sock_read(j->sock, buf, IO_BLOCK);
		if (n <= 0) {
			r = gdn_err_set(err, n < 0 ? (int)-n : EPIPE,
					"stream-in: the client hung up before the end of the body");
			break;
		}
		if (gdn_buf_append(&raw, buf, (size_t)n) < 0) {
			r = gdn_err_set(err, ENOMEM, "stream-in");
			break;
		}
	}
	gdn_buf_free(&raw);
	gdn_buf_free(&body);
	return r < 0 ? r : 0;
}

/* nstar's stdout as the chunked body of a 200: the head only once the first bytes are there (an
 * nstar that fails before any is a normal error response); an nstar that fails later leaves the
 * body without its last chunk, which the client sees as a truncated stream. */
static int pump_out(struct gd_files_job *j, int from_nstar, struct gdn_child *child, int memfd,
		    struct gdn_log *log, struct gdn_err **err)
{
	_cleanup_free_ char *buf = malloc(CHUNK_HEAD + IO_BLOCK + 2);
	bool started = false;
	int status = 0, r;

	if (!buf)
		return gdn_err_set(err, ENOMEM, "stream-out");
	for (;;) {
		ssize_t n = read(from_nstar, buf + CHUNK_HEAD, IO_BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (!started) {
			struct gdn_buf head = {0};
			r = gdn_http_write_chunked_head(&head, 200, "application/octet-stream",
							false);
			if (r >= 0)
				r = (int)gdn_fd_write_all(j->sock, head.data, head.len);
			gdn_buf_free(&head);
			if (r < 0)
				return gdn_err_set(err, -r, "stream-out: write the response");
			started = true;
			json_t *res = json_pack("{s:b}", "streamed", 1);
			gd_worker_set_result(res);
		}
		char hex[CHUNK_HEAD];
		int h = snprintf(hex, sizeof(hex), "%zx\r\n", (size_t)n);
		memcpy(buf + CHUNK_HEAD - h, hex, (size_t)h);
		memcpy(buf + CHUNK_HEAD + n, "\r\n", 2);
		r = (int)gdn_fd_write_all(j->sock, buf + CHUNK_HEAD - h, (size_t)h + (size_t)n + 2);
		if (r < 0) {
			/* the client went away: nothing left to answer */
			gdn_log_info(log, "client-gone", "error", strerror(-r), NULL);
			return 0;
		}
	}
	if (gdn_child_wait(child, 0, &status, err) < 0)
		return gdn_err_code(*err);
	if (status != 0) {
		r = nstar_failed(j, status, memfd, log, err);
		if (!started)
			return r;
		gdn_log_error(log, "truncated", *err, NULL);
		gdn_err_free(*err);
		*err = NULL;
		return 0;
	}
	_cleanup_free_ char *quiet = nstar_output(memfd, log); /* re-logs its lines */
	if (!started)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EIO,
				    "stream-out: nstar: error streaming out: no output");
	if ((r = (int)gdn_fd_write_all(j->sock, "0\r\n\r\n", 5)) < 0)
		gdn_log_info(log, "client-gone", "error", strerror(-r), NULL);
	return 0;
}

static bool exited(int pidfd)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};

	return poll(&p, 1, 0) == 1;
}

/* The container dir, locked: shared while its init is joined, exclusive while its volume is
 * mounted; *ret_pidfd gets a pidfd of its init if it runs, else -1. The kind of lock follows
 * from the init's state, taken at once (a shared lock upgraded would deadlock two streams that
 * both hold it), and the state is checked again once the lock is held. */
static int lock_container(const char *dir, const char *handle, int *ret_pidfd, struct gdn_err **err)
{
	_cleanup_free_ char *pidfile = gdn_path_join(dir, GDN_DEPOT_PIDFILE);
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? gdn_err_not_found(err, handle)
				       : gdn_err_set(err, errno, "open %s", dir);
	for (;;) {
		_cleanup_close_ int pidfd = gd_container_pidfd(pidfile, handle, NULL);
		bool running = pidfd >= 0 && !exited(pidfd);

		if (flock(fd, running ? LOCK_SH : LOCK_EX) < 0)
			return gdn_err_set(err, errno, "flock %s", dir);
		if (running && exited(pidfd)) {
			/* it died meanwhile: its volume needs the exclusive lock */
			(void)flock(fd, LOCK_UN);
			continue;
		}
		*ret_pidfd = running ? gdn_steal_fd(&pidfd) : -1;
		return gdn_steal_fd(&fd);
	}
}

int gd_files_run(const struct gd_config *cfg, void *arg, struct gdn_log *log, struct gdn_err **err)
{
	struct gd_files_job *j = arg;
	_cleanup_free_ char *dir = gd_container_dir(cfg, j->handle);
	_cleanup_close_ int lock = -1, pidfd = -1, memfd = -1, mine = -1, theirs = -1;
	_cleanup_child_ struct gdn_child child = GDN_CHILD_INIT;
	char *argv[40], bufs[6][64];
	int p[2], status = 0, r;

	(void)signal(SIGPIPE, SIG_IGN); /* a write to a gone nstar or client must fail, not kill */
	if (!dir)
		return gdn_err_set(err, ENOMEM, "stream");
	if ((lock = lock_container(dir, j->handle, &pidfd, err)) < 0)
		return lock;
	gdn_log_info(log, "started", "running", pidfd >= 0 ? "true" : "false", NULL);
	memfd = memfd_create("nstar-stderr", MFD_CLOEXEC);
	if (memfd < 0 || pipe2(p, O_CLOEXEC) < 0)
		return gdn_err_set(err, errno, "stream: pipes");
	mine = j->in ? p[1] : p[0];
	theirs = j->in ? p[0] : p[1];
	(void)fcntl(mine, F_SETPIPE_SZ, PIPE_SIZE);
	nstar_argv(cfg, j, dir, pidfd >= 0, argv, bufs);
	struct gdn_spawn_opts o = {
	    .path = cfg->nstar_bin,
	    .argv = argv,
	    .stdin_fd = j->in ? theirs : -1,
	    .stdout_fd = j->in ? memfd : theirs,
	    .stderr_fd = memfd,
	    .extra_fds = pidfd >= 0 ? &pidfd : NULL,
	    .n_extra_fds = pidfd >= 0 ? 1 : 0,
	    .pdeathsig = SIGKILL,
	};
	if ((r = gdn_child_spawn(&child, &o, err)) < 0)
		return gdn_err_wrap(err, "stream-%s: nstar", j->in ? "in" : "out");
	(void)close(theirs);
	theirs = -1;
	if (!j->in)
		return pump_out(j, mine, &child, memfd, log, err);
	r = pump_body(j, mine, err);
	(void)close(mine);
	mine = -1;
	if (r < 0)
		return r; /* the child is killed and reaped on the way out */
	if (gdn_child_wait(&child, 0, &status, err) < 0)
		return gdn_err_code(*err);
	if (status != 0)
		return nstar_failed(j, status, memfd, log, err);
	_cleanup_free_ char *quiet = nstar_output(memfd, log);
	return 0;
}
