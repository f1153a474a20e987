/* Running a child to completion: see run.h. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <jansson.h>
#include "lib/buf.h"
#include "lib/fs.h"
#include "lib/run.h"
#include "lib/util.h"

/* A stderr line longer than this is re-logged in pieces. */
#define RELOG_LINE_MAX (64 * 1024)

/* --- the owned child ------------------------------------------------------------------------- */

static int status_of(const siginfo_t *si)
{
	if (si->si_code == CLD_EXITED)
		return si->si_status;
	return 128 + si->si_status;
}

void gdn_child_kill(struct gdn_child *c)
{
	int saved = errno;

	if (c->pid > 0) {
		/* before the reap: the group's id stays the leader's until then */
		if (c->group)
			(void)kill(-c->pid, SIGKILL);
		if (c->pidfd < 0 || pidfd_send_signal(c->pidfd, SIGKILL, NULL, 0) < 0)
			(void)kill(c->pid, SIGKILL);
		(void)gdn_proc_wait(c->pid, c->pidfd, NULL, NULL);
	}
	if (c->pidfd >= 0)
		(void)close(c->pidfd);
	c->pid = 0;
	c->pidfd = -1;
	c->group = false;
	errno = saved;
}

int gdn_child_spawn(struct gdn_child *c, const struct gdn_spawn_opts *o, struct gdn_err **err)
{
	pid_t pid = 0;
	int pidfd = -1;
	int r;

	if (o->detach)
		return gdn_err_set(err, EINVAL, "run '%s': a detached child cannot be owned",
				   o->path ? o->path : "");
	r = gdn_spawn(o, &pid, &pidfd, err);
	if (r < 0)
		return r;
	c->pid = pid;
	c->pidfd = pidfd;
	c->group = o->setsid;
	return 0;
}

/* Milliseconds until the deadline for poll(2): -1 for none, 0 once passed. */
static int poll_timeout(uint64_t deadline_ns)
{
	uint64_t now, ms;

	if (deadline_ns == 0)
		return -1;
	now = gdn_now_mono_ns();
	if (now >= deadline_ns)
		return 0;
	/* rounded up, so that poll does not wake just before the deadline */
	ms = (deadline_ns - now + 999999) / 1000000;
	return ms > 3600000 ? 3600000 : (int)ms;
}

/* 1 when the child has exited (status set, *c reset), 0 when not yet, -errno. */
static int try_reap(struct gdn_child *c, int *ret_status, struct gdn_err **err)
{
	siginfo_t si;

	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PIDFD, (id_t)c->pidfd, &si, WEXITED | WNOHANG) == 0)
			break;
		if (errno != EINTR)
			return gdn_err_set(err, errno, "wait for process %d", (int)c->pid);
	}
	if (si.si_pid == 0)
		return 0;
	*ret_status = status_of(&si);
	(void)close(c->pidfd);
	c->pid = 0;
	c->pidfd = -1;
	c->group = false;
	return 1;
}

int gdn_child_wait(struct gdn_child *c, uint64_t deadline_ns, int *ret_status, struct gdn_err **err)
{
	int status = 0;

	if (c->pid <= 0 || c->pidfd < 0)
		return gdn_err_set(err, ECHILD, "wait: no child");
	for (;;) {
		struct pollfd p = {.fd = c->pidfd, .events = POLLIN};
		int timeout = poll_timeout(deadline_ns);
		int r;

		if (timeout == 0) {
			/* one last look: it may have exited right at the deadline */
			r = try_reap(c, &status, err);
			if (r < 0)
				return r;
			if (r == 0)
				return -ETIMEDOUT;
			break;
		}
		r = poll(&p, 1, timeout);
		if (r < 0 && errno != EINTR)
			return gdn_err_set(err, errno, "wait for process %d: poll", (int)c->pid);
		if (r <= 0)
			continue;
		r = try_reap(c, &status, err);
		if (r < 0)
			return r;
		if (r > 0)
			break;
	}
	if (ret_status)
		*ret_status = status;
	return 0;
}

/* --- re-logging stderr ------------------------------------------------------------------------ */

/* "2006-01-02T15:04:05[.999999999](Z|+07:00)" (Go's time.RFC3339Nano as time.Parse takes it) into
 * seconds and nanoseconds since the epoch. */
static int parse_rfc3339(const char *s, int64_t *ret_sec, long *ret_nsec)
{
	struct tm tm;
	const char *p;
	long nsec = 0;
	int off = 0, digits = 0;
	int n = 0;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
	    n != 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't'))
		return -EINVAL;
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59)
		return -EINVAL;
	p = s + 19;
	if (*p == '.' || *p == ',') {
		for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
			if (digits < 9)
				nsec = nsec * 10 + (*p - '0');
		}
		if (digits == 0)
			return -EINVAL;
		for (int i = digits; i < 9; i++)
			nsec *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' &&
		   p[2] <= '9' && p[3] == ':' && p[4] >= '0' && p[4] <= '9' && p[5] >= '0' &&
		   p[5] <= '9') {
		off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 +
		      ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
		if (*p == '-')
			off = -off;
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*ret_sec = (int64_t)timegm(&tm) - off;
	*ret_nsec = nsec;
	return 0;
}

/* chug's toTimestamp: a decimal number of seconds since the epoch (lager's "epoch" format), else
 * RFC3339. */
static int parse_timestamp(const char *s, int64_t *ret_sec, long *ret_nsec)
{
	char *end = NULL;
	double f;

	if (!*s)
		return -EINVAL;
	errno = 0;
	f = strtod(s, &end);
	if (end && !*end && errno == 0 && isfinite(f)) {
		double ns = f * 1e9;

		if (ns > 9.2e18 || ns < -9.2e18)
			return -ERANGE;
		int64_t total = (int64_t)ns;
		*ret_sec = total / 1000000000;
		*ret_nsec = (long)(total % 1000000000);
		if (*ret_nsec < 0) {
			*ret_nsec += 1000000000;
			*ret_sec -= 1;
		}
		return 0;
	}
	return parse_rfc3339(s, ret_sec, ret_nsec);
}

/* Go's time.Time JSON form (RFC3339Nano: trailing zeros of the fraction dropped), in UTC. */
static void format_timestamp(int64_t sec, long nsec, char *out, size_t size)
{
	time_t t = (time_t)sec;
	struct tm tm;
	char base[40], frac[24] = "";

	if (!gmtime_r(&t, &tm) || strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		(void)snprintf(out, size, "1970-01-01T00:00:00Z");
		return;
	}
	if (nsec > 0) {
		size_t n;

		(void)snprintf(frac, sizeof(frac), ".%09ld", nsec);
		n = strlen(frac);
		while (n > 1 && frac[n - 1] == '0')
			frac[--n] = '\0';
	}
	(void)snprintf(out, size, "%s%sZ", base, frac);
}

/* A member that must be a string when present (Go's decoder refuses anything else; null is as
 * absent). Returns 0 with *ret (NULL if absent), -EINVAL. */
static int string_member(const json_t *obj, const char *key, const char **ret)
{
	json_t *v = gdn_json_get(obj, key);

	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -EINVAL;
	*ret = json_string_value(v);
	return 0;
}

/* chug's check of data.trace, data.session and data.error: the map's key, exactly, and when
 * present (even as null) a string. 0 or -EINVAL. */
static int data_string_check(const json_t *data, const char *key)
{
	json_t *v = json_object_get(data, key);

	return !v || json_is_string(v) ? 0 : -EINVAL;
}

static int level_from_name(const char *s, enum gdn_log_level *ret)
{
	return gdn_log_parse_level(s, ret);
}

/* The line as lager would have it: level, message and data (new reference). NULL if not lager.
 * *ret_known is false for a lager line of a level the relogger has no case for. */
static json_t *lager_entry(const char *line, size_t len, enum gdn_log_level *ret_level,
			   const char **ret_message, bool *ret_known, json_t **ret_holder)
{
	const char *brace = memchr(line, '{', len);
	json_auto_t *obj = NULL;
	json_t *data, *ll;
	const char *ts = NULL, *level = NULL, *message = NULL, *source = NULL;
	json_int_t lvl = 0;
	int64_t sec = 0;
	long nsec = 0;
	char stamp[64];

	*ret_known = true;
	if (!brace)
		return NULL;
	obj = json_loadb(brace, len - (size_t)(brace - line), JSON_DISABLE_EOF_CHECK, NULL);
	if (!json_is_object(obj))
		return NULL;
	if (string_member(obj, "timestamp", &ts) < 0 || string_member(obj, "level", &level) < 0 ||
	    string_member(obj, "message", &message) < 0 ||
	    string_member(obj, "source", &source) < 0)
		return NULL;
	ll = gdn_json_get(obj, "log_level");
	if (ll && !json_is_null(ll)) {
		if (!json_is_integer(ll))
			return NULL;
		lvl = json_integer_value(ll);
	}
	data = gdn_json_get(obj, "data");
	if (data && !json_is_null(data) && !json_is_object(data))
		return NULL;
	data = json_is_object(data) ? json_deep_copy(data) : json_object();
	if (!data)
		return NULL;
	{
		json_auto_t *owned = data;

		if (data_string_check(data, "trace") < 0 || data_string_check(data, "session") < 0)
			return NULL;
		(void)json_object_del(data, "trace");
		(void)json_object_del(data, "session");
		if (level && *level) {
			if (level_from_name(level, ret_level) < 0)
				return NULL;
		} else if (lvl >= GDN_LOG_DEBUG && lvl <= GDN_LOG_FATAL) {
			*ret_level = (enum gdn_log_level)lvl;
		} else {
			*ret_known = false; /* the relogger's switch has no case for it */
		}
		if ((*ret_level == GDN_LOG_ERROR || *ret_level == GDN_LOG_FATAL) &&
		    data_string_check(data, "error") < 0)
			return NULL;
		if (!ts || parse_timestamp(ts, &sec, &nsec) < 0)
			return NULL;
		format_timestamp(sec, nsec, stamp, sizeof(stamp));
		if (json_object_set_new(data, "original_timestamp", json_string(stamp)) < 0)
			return NULL;
		*ret_message = message ? message : "";
		*ret_holder = gdn_steal_ptr(&obj); /* the message's storage */
		return gdn_steal_ptr(&owned);
	}
}

void gdn_run_relog_line(struct gdn_log *l, const char *line, size_t len)
{
	json_auto_t *holder = NULL;
	json_auto_t *data = NULL;
	enum gdn_log_level level = GDN_LOG_DEBUG;
	const char *message = NULL;
	bool known = true;

	while (len > 0 && line[len - 1] == '\n')
		len--;
	if (len == 0)
		return;
	data = lager_entry(line, len, &level, &message, &known, &holder);
	if (data) {
		if (known)
			gdn_log_json(l, level == GDN_LOG_FATAL ? GDN_LOG_ERROR : level, message,
				     data);
		return;
	}
	data = json_pack("{s:s%}", "output", line, len);
	if (!data) /* not UTF-8: keep what can be told */
		data = json_pack("{s:s}", "output", "(a line that is not UTF-8)");
	gdn_log_json(l, GDN_LOG_ERROR, "error", data);
}

/* --- gdn_run --------------------------------------------------------------------------------- */

struct stream {
	int fd;		    /* our read end, -1 once closed */
	struct gdn_buf cap; /* what is kept */
	bool capture, truncated;
	struct gdn_buf line; /* relog: the line so far */
	struct gdn_log *relog;
};

static void stream_relog(struct stream *s, bool flush)
{
	for (;;) {
		char *nl = s->line.len ? memchr(s->line.data, '\n', s->line.len) : NULL;
		size_t n;

		if (nl)
			n = (size_t)(nl - s->line.data) + 1;
		else if (s->line.len >= RELOG_LINE_MAX || (flush && s->line.len))
			n = s->line.len;
		else
			return;
		gdn_run_relog_line(s->relog, s->line.data, n);
		gdn_buf_consume(&s->line, n);
	}
}

static void stream_take(struct stream *s, const char *data, size_t n, size_t max)
{
	if (s->capture) {
		size_t room = max > s->cap.len ? max - s->cap.len : 0;

		if (n > room)
			s->truncated = true;
		if (room && gdn_buf_append(&s->cap, data, n < room ? n : room) < 0)
			s->truncated = true;
	}
	if (s->relog) {
		if (gdn_buf_append(&s->line, data, n) < 0) {
			gdn_buf_reset(&s->line);
			return;
		}
		stream_relog(s, false);
	}
}

/* Reads what is there; closes the stream at EOF or on an error. */
static void stream_read(struct stream *s, size_t max)
{
	char chunk[16384];

	while (s->fd >= 0) {
		ssize_t n = read(s->fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			(void)close(gdn_steal_fd(&s->fd));
			break;
		}
		stream_take(s, chunk, (size_t)n, max);
	}
	if (s->relog)
		stream_relog(s, true);
}

static void stream_free(struct stream *s)
{
	if (s->fd >= 0)
		(void)close(s->fd);
	gdn_buf_free(&s->cap);
	gdn_buf_free(&s->line);
}

/* write(2) on a pipe whose reader may be gone, without SIGPIPE (no threads: the mask is ours). */
static ssize_t write_no_sigpipe(int fd, const void *data, size_t len)
{
	sigset_t pipe_set, old, pending;
	bool was_pending;
	ssize_t w;
	int e;

	(void)sigemptyset(&pipe_set);
	(void)sigaddset(&pipe_set, SIGPIPE);
	(void)sigprocmask(SIG_BLOCK, &pipe_set, &old);
	(void)sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE) == 1;
	do
		w = write(fd, data, len);
	while (w < 0 && errno == EINTR);
	e = errno;
	if (w < 0 && e == EPIPE && !was_pending) {
		const struct timespec zero = {0, 0};

		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return w;
}

static int open_pipe(int *ret_r, int *ret_w, struct gdn_err **err)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return gdn_err_set(err, errno, "pipe");
	*ret_r = p[0];
	*ret_w = p[1];
	return 0;
}

static int steal_result(struct stream *s, char **ret, size_t *ret_len)
{
	if (!s->capture)
		return 0;
	if (!s->cap.data && gdn_buf_append(&s->cap, "", 0) < 0)
		return -ENOMEM;
	*ret = gdn_buf_steal(&s->cap, ret_len);
	return 0;
}

static void streams_free(struct stream (*s)[2])
{
	stream_free(&(*s)[0]);
	stream_free(&(*s)[1]);
}

/* The parts of gdn_run after the spawn; c is the child, killed by the caller if still owned. */
static int run_child(const struct gdn_run_opts *o, struct gdn_child *c, int *in_fd,
		     struct stream *s, struct gdn_run_result *ret, struct gdn_err **err)
{
	size_t max = o->output_max ? o->output_max : GDN_RUN_OUTPUT_MAX;
	uint64_t deadline = o->timeout_ns ? gdn_now_mono_ns() + o->timeout_ns : 0;
	size_t fed = 0;
	bool exited = false;
	int status = 0, r;

	for (int i = 0; i < 2; i++)
		if (s[i].fd >= 0 && gdn_fd_set_nonblock(s[i].fd, true) < 0)
			return gdn_err_set(err, errno, "run '%s': set O_NONBLOCK", o->spawn->path);
	if (*in_fd >= 0 && gdn_fd_set_nonblock(*in_fd, true) < 0)
		return gdn_err_set(err, errno, "run '%s': set O_NONBLOCK", o->spawn->path);

	while (!exited) {
		struct pollfd p[4];
		nfds_t n = 0;
		int timeout = poll_timeout(deadline), in_at = -1, s_at[2] = {-1, -1};

		if (timeout == 0) {
			r = try_reap(c, &status, err);
			if (r < 0)
				return r;
			if (r > 0)
				break;
			gdn_child_kill(c);
			stream_read(&s[0], max);
			stream_read(&s[1], max);
			ret->status = 137;
			(void)steal_result(&s[0], &ret->out, &ret->out_len);
			(void)steal_result(&s[1], &ret->err, &ret->err_len);
			ret->out_truncated = s[0].truncated;
			ret->err_truncated = s[1].truncated;
			return gdn_err_kind(err, GDN_ERR_GENERIC, ETIMEDOUT,
					    "'%s' did not exit within %llu ms: killed",
					    o->spawn->path,
					    (unsigned long long)(o->timeout_ns / 1000000));
		}
		p[n++] = (struct pollfd){.fd = c->pidfd, .events = POLLIN};
		if (*in_fd >= 0) {
			in_at = (int)n;
			p[n++] = (struct pollfd){.fd = *in_fd, .events = POLLOUT};
		}
		for (int i = 0; i < 2; i++) {
			if (s[i].fd >= 0) {
				s_at[i] = (int)n;
				p[n++] = (struct pollfd){.fd = s[i].fd, .events = POLLIN};
			}
		}
		r = poll(p, n, timeout);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return gdn_err_set(err, errno, "run '%s': poll", o->spawn->path);
		if (in_at >= 0 && p[in_at].revents) {
			ssize_t w =
			    write_no_sigpipe(*in_fd, o->stdin_data + fed, o->stdin_len - fed);

			if (w > 0)
				fed += (size_t)w;
			/* done, or the child stopped reading (EPIPE): it gets EOF either way */
			if ((w < 0 && errno != EAGAIN) || fed == o->stdin_len)
				(void)close(gdn_steal_fd(in_fd));
		}
		for (int i = 0; i < 2; i++)
			if (s_at[i] >= 0 && p[s_at[i]].revents)
				stream_read(&s[i], max);
		if (p[0].revents) {
			r = try_reap(c, &status, err);
			if (r < 0)
				return r;
			exited = r > 0;
		}
	}
	if (*in_fd >= 0)
		(void)close(gdn_steal_fd(in_fd));
	/* what it wrote before it exited is in the pipes; a grandchild holding them is not waited
	 * for */
	for (int i = 0; i < 2; i++) {
		stream_read(&s[i], max);
		if (s[i].relog)
			stream_relog(&s[i], true);
	}
	ret->status = status;
	if (steal_result(&s[0], &ret->out, &ret->out_len) < 0 ||
	    steal_result(&s[1], &ret->err, &ret->err_len) < 0)
		return gdn_err_set(err, ENOMEM, "run '%s'", o->spawn->path);
	ret->out_truncated = s[0].truncated;
	ret->err_truncated = s[1].truncated;
	return 0;
}

int gdn_run(const struct gdn_run_opts *o, struct gdn_run_result *ret, struct gdn_err **err)
{
	_cleanup_child_ struct gdn_child c = GDN_CHILD_INIT;
	_cleanup_(streams_free) struct stream s[2] = {{.fd = -1}, {.fd = -1}};
	_cleanup_close_ int in_r = -1, in_w = -1, out_w = -1, err_w = -1;
	struct gdn_spawn_opts so;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (!o || !o->spawn || !o->spawn->path)
		return gdn_err_set(err, EINVAL, "run: no options");
	if (o->merge_stderr && (!o->capture_stdout || o->capture_stderr || o->relog))
		return gdn_err_set(err, EINVAL, "run '%s': merge_stderr needs capture_stdout alone",
				   o->spawn->path);
	so = *o->spawn;
	if (o->stdin_data) {
		r = open_pipe(&in_r, &in_w, err);
		if (r < 0)
			return gdn_err_wrap(err, "run '%s'", so.path);
		so.stdin_fd = in_r;
	}
	if (o->capture_stdout) {
		r = open_pipe(&s[0].fd, &out_w, err);
		if (r < 0)
			return gdn_err_wrap(err, "run '%s'", so.path);
		s[0].capture = true;
		so.stdout_fd = out_w;
		if (o->merge_stderr)
			so.stderr_fd = out_w;
	}
	if (o->capture_stderr || o->relog) {
		r = open_pipe(&s[1].fd, &err_w, err);
		if (r < 0)
			return gdn_err_wrap(err, "run '%s'", so.path);
		s[1].capture = o->capture_stderr;
		s[1].relog = o->relog;
		so.stderr_fd = err_w;
	}
	r = gdn_child_spawn(&c, &so, err);
	if (r < 0)
		return r;
	/* the child has its copies: EOF comes when it (and whatever inherited them) is done */
	if (in_r >= 0)
		(void)close(gdn_steal_fd(&in_r));
	if (out_w >= 0)
		(void)close(gdn_steal_fd(&out_w));
	if (err_w >= 0)
		(void)close(gdn_steal_fd(&err_w));
	r = run_child(o, &c, &in_w, s, ret, err);
	if (r < 0 && r != -ETIMEDOUT)
		gdn_run_result_free(ret);
	return r;
}

void gdn_run_result_free(struct gdn_run_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
	r->out_len = r->err_len = 0;
}
