/* The admin commands: one request to a running shim, its answer on stdout. What guardian
 * asks a shim, an operator (or a test) can ask too: `ping`, `stats`, `capacity`, and `create`
 * and `delete` for a handle no guardian manages. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "lib/fs.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/run.h"
#include "lib/util.h"
#include "cmd/image-plugin-shim/ips.h"

int ips_client(const struct ips_client_opts *o, const struct gdn_imageplugin_request *req)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_close_ int sock = -1;
	json_auto_t *msg = gdn_imageplugin_request_new(req), *reply = NULL;
	uint64_t ms = o->timeout_ns / IPS_NS_PER_MS;
	const char *out;
	int r;

	if (!msg) {
		(void)fprintf(stderr, "image-plugin-shim: a request argument is not UTF-8\n");
		return 1;
	}
	sock = gdn_ipc_connect(o->socket_path, SOCK_SEQPACKET, 0, &err);
	r = sock < 0 ? sock
		     : gdn_ipc_call(sock, msg, NULL, 0, ms > INT32_MAX ? INT32_MAX : (int)ms,
				    &reply, &err);
	if (r < 0) {
		(void)fprintf(stderr, "image-plugin-shim: %s\n", gdn_err_str(err));
		return 1;
	}
	if (req->op == GDN_IMAGEPLUGIN_PING) {
		_cleanup_free_ char *line = gdn_json_line(reply, NULL);

		(void)fputs(line ? line : "{}\n", stdout);
		return 0;
	}
	/* the plugin's own lines, as ours (the relogger's form) */
	out = json_string_value(json_object_get(reply, "stderr"));
	for (const char *p = out; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);

		gdn_run_relog_line(gdn_log_root(), p, n);
		p += n;
	}
	out = json_string_value(json_object_get(reply, "stdout"));
	if (out && gdn_fd_write_all(STDOUT_FILENO, out, strlen(out)) < 0) {
		(void)fprintf(stderr, "image-plugin-shim: write stdout: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
