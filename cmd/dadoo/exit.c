/* The end: once the process has exited and its output is drained, `exitcode` is written and
 * the attachments get the exit status. dadoo then stays until the status has been delivered and
 * the attachments are done, or until DD_RETENTION_NS passed with nobody asking. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include "lib/depot.h"
#include "lib/fs.h"
#include "lib/path.h"
#include "cmd/dadoo/dadoo.h"

void dd_exit_prepare(struct dd_state *s)
{
	/* An unnamed file now, linked as GDN_PROC_EXITCODE once written: the status still appears
	 * whole or not at all, and making the inode is not on the way from exit to status. */
	s->exitcode_fd = openat(s->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
}

/* Writes and links the file dd_exit_prepare made; -1 if there is none or that fails. */
static int publish_prepared(struct dd_state *s, const char *code, size_t len)
{
	char self[32];
	int r;

	if (s->exitcode_fd < 0)
		return -1;
	(void)snprintf(self, sizeof(self), "/proc/self/fd/%d", s->exitcode_fd);
	r = gdn_fd_write_all(s->exitcode_fd, code, len);
	if (r >= 0)
		r = linkat(AT_FDCWD, self, s->dirfd, GDN_PROC_EXITCODE, AT_SYMLINK_FOLLOW);
	(void)close(gdn_steal_fd(&s->exitcode_fd));
	return r < 0 ? -1 : 0;
}

void dd_exit_check(struct dd_state *s, uint64_t now)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *path = NULL;
	char code[16];
	int n;

	if (s->finished || !s->reaped)
		return;
	for (int i = 0; i < DD_NSRC; i++)
		if (!s->src[i].eof)
			return;
	n = snprintf(code, sizeof(code), "%d", s->status);
	if (publish_prepared(s, code, (size_t)n) < 0) {
		path = gdn_path_join(s->dir, GDN_PROC_EXITCODE);
		if (!path)
			(void)gdn_err_set(&err, ENOMEM, "write exitcode");
		else
			(void)gdn_fs_write_atomic(path, code, (size_t)n, 0600, &err);
	}
	if (err)
		gdn_log_error(s->log, "exitcode-failed", err, NULL);
	s->finished = true;
	s->finished_at = now;
	gdn_log_info(s->log, "finished", "exit_status", code, NULL);
	dd_attach_finish_all(s);
}

bool dd_exit_should_quit(const struct dd_state *s, uint64_t now)
{
	return s->finished && !s->attaches &&
	       (s->delivered || now >= s->finished_at + DD_RETENTION_NS);
}

uint64_t dd_exit_deadline(const struct dd_state *s)
{
	if (!s->finished || s->delivered)
		return UINT64_MAX;
	return s->finished_at + DD_RETENTION_NS;
}

void dd_exit_remove_files(struct dd_state *s)
{
	if (s->dirfd < 0)
		return;
	(void)unlinkat(s->dirfd, GDN_PROC_DADOO_SOCK, 0);
	(void)unlinkat(s->dirfd, GDN_PROC_DADOO_PID, 0);
}

void dd_exit_remove_dir(struct dd_state *s)
{
	_cleanup_err_ struct gdn_err *err = NULL;

	if (gdn_fs_rm_rf(s->dir, &err) < 0)
		gdn_log_error(s->log, "remove-process-dir-failed", err, NULL);
}
