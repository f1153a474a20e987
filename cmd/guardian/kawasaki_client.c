/* Requests to kawasaki over its SEQPACKET socket (lib/ipc's envelope). */
#include <errno.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "lib/ipc.h"
#include "lib/util.h"
#include "cmd/guardian/kawasaki_client.h"

#define RETRY_NS (50 * 1000 * 1000L)

static int connect_waiting(const char *path, struct gdn_err **err)
{
	uint64_t until = gdn_now_mono_ns() + (uint64_t)GD_KAWASAKI_CONNECT_WAIT_MS * 1000000;

	for (;;) {
		_cleanup_err_ struct gdn_err *e = NULL;
		int fd = gdn_ipc_connect(path, SOCK_SEQPACKET, 0, &e);
		if (fd >= 0)
			return fd;
		bool restarting = fd == -ENOENT || fd == -ECONNREFUSED || fd == -EAGAIN;
		if (!restarting || gdn_now_mono_ns() >= until) {
			(void)gdn_err_set(err, -fd, "kawasaki is not answering on '%s'", path);
			return fd;
		}
		struct timespec ts = {0, RETRY_NS};
		(void)nanosleep(&ts, NULL);
	}
}

int gd_kawasaki_call(const struct gd_config *cfg, json_t *req, int fd, json_t **ret_reply,
		     struct gdn_err **err)
{
	uint64_t timeout_ns =
	    cfg->network_timeout_ns ? cfg->network_timeout_ns : 60ULL * 1000 * 1000 * 1000;
	_cleanup_close_ int sock = connect_waiting(cfg->kawasaki_listen, err);

	if (sock < 0)
		return sock;
	return gdn_ipc_call(sock, req, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0,
			    (int)(timeout_ns / 1000000), ret_reply, err);
}
