#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "lib/fs.h"
#include "lib/ipc.h"
#include "lib/path.h"
#include "lib/proc.h"
#include "lib/util.h"
#include "cmd/guardian/dadoo_client.h"

char *gd_process_dir(const char *container_dir, const char *id)
{
	_cleanup_free_ char *procs = gdn_path_join(container_dir, "processes");
	return procs ? gdn_path_join(procs, id) : NULL;
}

int gd_dadoo_connect(const char *process_dir, struct gdn_err **err)
{
	_cleanup_close_ int dir = open(process_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int fd = -1;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (dir < 0)
		return gdn_err_set(err, errno, "open '%s'", process_dir);
	(void)snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/dadoo.sock", dir);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return gdn_err_set(err, errno, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return gdn_err_set(err, errno, "connect to the shim of '%s'", process_dir);
	return gdn_steal_fd(&fd);
}

int gd_dadoo_request(int sock, json_t *req, const int *fds, size_t nfds, json_t **ret_reply,
		     struct gdn_err **err)
{
	struct timeval tv = {.tv_sec = 5};
	json_t *reply = NULL, *error;
	int r;

	(void)setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if ((r = gdn_ipc_send(sock, req, fds, nfds, err)) < 0)
		return gdn_err_wrap(err, "send to the shim");
	r = gdn_ipc_recv(sock, &reply, NULL, NULL, err);
	if (r < 0)
		return gdn_err_wrap(err, "receive from the shim");
	if (r == 0)
		return gdn_err_set(err, ECONNRESET, "the shim closed the connection");
	error = json_object_get(reply, "error");
	if (error || !json_is_true(json_object_get(reply, "ok"))) {
		r = gdn_err_set(err, 0, "shim: %s",
				json_is_string(error) ? json_string_value(error) : "bad reply");
		json_decref(reply);
		return r;
	}
	if (ret_reply)
		*ret_reply = reply;
	else
		json_decref(reply);
	return 0;
}

/* A pidfd for the dadoo serving `procdir`, or -1: the process in its dadoo.pid, pinned, if its
 * argv[0] ends in "dadoo" and its working directory is the process dir (dadoo chdirs there). */
static int dadoo_pidfd(const char *procdir)
{
	_cleanup_free_ char *pidfile = gdn_path_join(procdir, "dadoo.pid");
	_cleanup_free_ char *cmdline = NULL;
	_cleanup_close_ int pidfd = -1;
	char path[64], cwd[PATH_MAX];
	pid_t pid = 0;
	size_t len, n;
	ssize_t cwd_len;

	pidfd = pidfile ? gdn_pidfd_from_pidfile(pidfile, &pid) : -1;
	if (pidfd < 0)
		return -1;
	(void)snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (gdn_fs_read_file(path, 65536, &cmdline, &len, NULL) < 0)
		return -1;
	n = strlen(cmdline); /* argv[0]: the file holds NUL-separated arguments */
	if (n < 5 || strcmp(cmdline + n - 5, "dadoo") != 0)
		return -1;
	(void)snprintf(path, sizeof(path), "/proc/%d/cwd", (int)pid);
	cwd_len = readlink(path, cwd, sizeof(cwd) - 1);
	if (cwd_len <= 0)
		return -1;
	cwd[cwd_len] = '\0';
	return strcmp(cwd, procdir) == 0 ? gdn_steal_fd(&pidfd) : -1;
}

void gd_dadoo_kill_all(const char *container_dir, struct gdn_log *log)
{
	_cleanup_free_ char *procs = gdn_path_join(container_dir, "processes");
	_cleanup_closedir_ DIR *d = procs ? opendir(procs) : NULL;
	struct dirent *de;

	while (d && (de = readdir(d))) {
		_cleanup_free_ char *procdir = NULL;
		_cleanup_close_ int pidfd = -1;
		struct pollfd pfd;

		if (de->d_name[0] == '.')
			continue;
		procdir = gdn_path_join(procs, de->d_name);
		pidfd = procdir ? dadoo_pidfd(procdir) : -1;
		if (pidfd < 0)
			continue;
		gdn_log_debug(log, "killing-dadoo", "process", de->d_name, NULL);
		(void)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
		pfd = (struct pollfd){.fd = pidfd, .events = POLLIN};
		if (poll(&pfd, 1, 5000) != 1)
			gdn_log_info(log, "dadoo-survived-sigkill", "process", de->d_name, NULL);
	}
}
