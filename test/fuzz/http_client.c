/* max_len: 70000 */
/* libFuzzer target: gaol's HTTP response parsing (lib/http_client.c). It has no parse function
 * without a socket, so the input is the server's side of a socketpair: written into one end
 * (at most what the socket buffer takes), then EOF. The first byte picks a plain request or a
 * hijack. */
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/http_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void request(int fd, bool hijack)
{
	struct gdn_err *err = NULL;

	if (hijack) {
		struct gdn_buf leftover = {0};
		char *error_body = NULL;
		int status;

		(void)gdn_http_hijack(fd, "POST", "/containers/h/processes", "application/json",
				      "{}", 2, &status, &leftover, &error_body, &err);
		gdn_buf_free(&leftover);
		free(error_body);
	} else {
		struct gdn_http_resp resp = {0};

		if (gdn_http_request(fd, "GET", "/containers", NULL, NULL, 0, &resp, &err) == 0)
			gdn_http_resp_free(&resp);
	}
	gdn_err_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	size_t off = 1;

	if (size < 1)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	while (off < size) {
		ssize_t n = write(sv[1], data + off, size - off);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	(void)shutdown(sv[1], SHUT_WR);
	if (fcntl(sv[0], F_SETFL, 0) < 0)
		abort();
	request(sv[0], data[0] & 1);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
