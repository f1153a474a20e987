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

static int timeout_ms(const struct gd_config *cfg)
{
	uint64_t ns =
	    cfg->network_timeout_ns ? cfg->network_timeout_ns : 60ULL * 1000 * 1000 * 1000;
	return (int)(ns / 1000000);
}

int gd_kawasaki_send(const struct gd_config *cfg, int sock, json_t *req, int fd, int *ret_sock,
		     struct gdn_err **err)
{
	_cleanup_close_ int own = sock < 0 ? connect_waiting(cfg->kawasaki_listen, err) : -1;

	if (sock < 0 && own < 0)
		return own;
	int r =
	    gdn_ipc_send(sock < 0 ? own : sock, req, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0, err);
	if (r < 0)
		return r;
	*ret_sock = sock < 0 ? gdn_steal_fd(&own) : sock;
	return 0;
}

int gd_kawasaki_reply(const struct gd_config *cfg, int sock, json_t **ret_reply,
		      struct gdn_err **err)
{
	json_auto_t *reply = NULL;
	int r = gdn_ipc_await(sock, timeout_ms(cfg), &reply, err);

	if (r >= 0)
		r = gdn_ipc_reply_parse(reply, NULL, err);
	if (r >= 0 && ret_reply)
		*ret_reply = gdn_steal_ptr(&reply);
	return r < 0 ? r : 0;
}

int gd_kawasaki_call(const struct gd_config *cfg, json_t *req, int fd, json_t **ret_reply,
		     struct gdn_err **err)
{
	_cleanup_close_ int sock = -1;
	int r = gd_kawasaki_send(cfg, -1, req, fd, &sock, err);

	if (ret_reply)
		*ret_reply = NULL;
	return r < 0 ? r : gd_kawasaki_reply(cfg, sock, ret_reply, err);
}
