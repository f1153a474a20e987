/* The client: what guardian runs as its network plugin. It reads the plugin's stdin, for `up`
 * opens the container's network namespace (/proc/<Pid>/ns/net, while guardian's view of that
 * pid is still the container's init) and sets Pid to 0, sends one request and writes the reply:
 * the plugin's stdout to stdout (exit 0), or the error's message to stderr (exit 1). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <sys/socket.h>

#include "lib/buf.h"
#include "lib/fs.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/util.h"
#include "cmd/netplugin-shim/nps.h"

static int read_stdin(struct gdn_buf *b, struct gdn_err **err)
{
	char chunk[16384];

	for (;;) {
		ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return gdn_err_set(err, errno, "read stdin");
		if (n == 0)
			return 0;
		if (b->len + (size_t)n > NPS_STDIN_MAX)
			return gdn_err_kind(err, GDN_ERR_GENERIC, EMSGSIZE,
					    "stdin exceeds %d bytes", NPS_STDIN_MAX);
		if (gdn_buf_append(b, chunk, (size_t)n) < 0)
			return gdn_err_set(err, ENOMEM, "read stdin");
	}
}

/* `up`: the namespace of UpInputs' Pid (none for Pid 0), and the text with Pid 0. */
static int up_inputs(struct gdn_buf *in, int *ret_ns, struct gdn_err **err)
{
	_cleanup_free_ char *text = NULL;
	char path[64];
	int64_t pid = 0;
	size_t len = 0;
	int r = nps_upinputs_rewrite(in->data ? in->data : "", in->len, &pid, &text, &len, err);

	if (r < 0)
		return r;
	if (pid != 0) {
		(void)snprintf(path, sizeof(path), "/proc/%" PRId64 "/ns/net", pid);
		*ret_ns = open(path, O_RDONLY | O_CLOEXEC);
		if (*ret_ns < 0)
			return gdn_err_set(err, errno, "open %s", path);
	}
	gdn_buf_reset(in);
	if (gdn_buf_append(in, text, len) < 0)
		return gdn_err_set(err, ENOMEM, "UpInputs");
	return 0;
}

static int hung_up(const char *path, struct gdn_err **err)
{
	return gdn_err_kind(err, GDN_ERR_GENERIC, ECONNRESET,
			    "netplugin-shim server at '%s': it hung up without a reply (is this "
			    "user allowed to use it?)",
			    path);
}

/* gdn_ipc_call's exchange, with our own words for a server that does not answer (an error
 * it does answer is the plugin's, passed on as it is). */
static int exchange(int sock, json_t *req, int ns, int timeout_ms, const char *path,
		    json_t **ret_reply, struct gdn_err **err)
{
	uint64_t deadline = gdn_now_mono_ns() + (uint64_t)timeout_ms * NPS_NS_PER_MS;
	json_auto_t *reply = NULL;
	_cleanup_err_ struct gdn_err *send_err = NULL;
	int r = gdn_ipc_send(sock, req, &ns, ns >= 0 ? 1 : 0, &send_err);

	/* a server that refused us may have closed the connection before we sent */
	if (r == -EPIPE || r == -ECONNRESET)
		return hung_up(path, err);
	if (r < 0) {
		if (err && !*err)
			*err = gdn_steal_ptr(&send_err);
		return gdn_err_wrap(err, "netplugin-shim server at '%s'", path);
	}
	for (;;) {
		struct pollfd p = {.fd = sock, .events = POLLIN};
		uint64_t now = gdn_now_mono_ns();
		int left = now >= deadline
			       ? 0
			       : (int)((deadline - now + NPS_NS_PER_MS - 1) / NPS_NS_PER_MS);

		r = left > 0 ? poll(&p, 1, left) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return gdn_err_set(err, errno, "poll");
		if (r == 0)
			return gdn_err_kind(err, GDN_ERR_GENERIC, ETIMEDOUT,
					    "netplugin-shim server at '%s': no reply within %d ms",
					    path, timeout_ms);
		{
			_cleanup_err_ struct gdn_err *e = NULL;

			r = gdn_ipc_recv(sock, &reply, NULL, NULL, &e);
			if (r == -EAGAIN)
				continue;
			/* a server that refused us closed the connection with our request
			 * unread: a reset */
			if (r == 0 || r == -ECONNRESET)
				return hung_up(path, err);
			if (r < 0) {
				if (err && !*err)
					*err = gdn_steal_ptr(&e);
				return gdn_err_wrap(err, "netplugin-shim server at '%s'", path);
			}
		}
		break;
	}
	r = gdn_ipc_reply_parse(reply, NULL, err);
	if (r < 0)
		return r;
	*ret_reply = gdn_steal_ptr(&reply);
	return 0;
}

static int call(const struct nps_client_opts *o, json_t **ret_reply, struct gdn_err **err)
{
	_cleanup_buf_ struct gdn_buf in = {0};
	_cleanup_close_ int ns = -1, sock = -1;
	json_auto_t *req = NULL;
	uint64_t ms = o->timeout_ns / NPS_NS_PER_MS;
	int r;

	if ((r = nps_check_args(o->action, o->handle, err)) < 0 || (r = read_stdin(&in, err)) < 0)
		return r;
	if (strcmp(o->action, "up") == 0 && (r = up_inputs(&in, &ns, err)) < 0)
		return r;
	req = nps_request_new(o->action, o->handle, in.data, in.len);
	if (!req)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "stdin is not UTF-8 (or out of memory)");
	sock = gdn_ipc_connect(o->socket_path, SOCK_SEQPACKET, 0, err);
	if (sock < 0)
		return gdn_err_wrap(err, "netplugin-shim server at '%s'", o->socket_path);
	gdn_log_debug(gdn_log_root(), "request", "socket", o->socket_path, "action", o->action,
		      "handle", o->handle, "netns", ns >= 0 ? "sent" : "none", NULL);
	return exchange(sock, req, ns, ms > INT32_MAX ? INT32_MAX : (int)ms, o->socket_path,
			ret_reply, err);
}

int nps_client(const struct nps_client_opts *o)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	json_auto_t *reply = NULL;
	json_t *out;

	if (call(o, &reply, &err) < 0) {
		/* the plugin contract: guardian logs our stderr and reports the exit status */
		(void)fprintf(stderr, "%s\n", gdn_err_str(err));
		return 1;
	}
	out = json_object_get(reply, "stdout");
	if (out && !json_is_string(out)) {
		(void)fprintf(stderr, "netplugin-shim: the server's reply has no stdout string\n");
		return 1;
	}
	if (out) {
		ssize_t w = gdn_fd_write_all(STDOUT_FILENO, json_string_value(out),
					     json_string_length(out));

		if (w < 0) {
			(void)fprintf(stderr, "netplugin-shim: write stdout: %s\n",
				      strerror((int)-w));
			return 1;
		}
	}
	return 0;
}
