/* The end: once the process has exited and its output is drained, `exitcode` is written and
 * the attachments get the exit status. dadoo then stays until the status has been delivered and
 * the attachments are done, or until DD_RETENTION_NS passed with nobody asking. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include "lib/fs.h"
#include "lib/path.h"
#include "cmd/dadoo/dadoo.h"

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
	path = gdn_path_join(s->dir, "exitcode");
	if (!path)
		(void)gdn_err_set(&err, ENOMEM, "write exitcode");
	else
		(void)gdn_fs_write_atomic(path, code, (size_t)n, 0600, &err);
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
	(void)unlinkat(s->dirfd, "dadoo.sock", 0);
	(void)unlinkat(s->dirfd, "dadoo.pid", 0);
}
