#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lib/ipc.h"
#include "lib/listener.h"

int gdn_listener_open(struct gdn_loop *loop, struct gdn_listener *l, const char *path,
		      unsigned mode, struct gdn_err **err)
{
	struct stat st;
	int fd = gdn_ipc_listen(path, SOCK_SEQPACKET, mode, GDN_IPC_NONBLOCK, err);

	if (fd < 0)
		return fd;
	l->watch.fd = fd;
	l->path = path;
	if (lstat(path, &st) < 0)
		return gdn_err_set(err, errno, "stat '%s'", path);
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	int r = gdn_loop_watch(loop, &l->watch, EPOLLIN);
	return r < 0 ? gdn_err_set(err, -r, "epoll_ctl") : 0;
}

void gdn_listener_close(struct gdn_loop *loop, struct gdn_listener *l)
{
	struct stat st;

	if (l->watch.fd < 0)
		return;
	gdn_loop_close(loop, &l->watch);
	if (lstat(l->path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino)
		(void)unlink(l->path);
}
