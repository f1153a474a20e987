/* The TTY side: a console socket (lib/ipc) in a short temporary directory, over which the
 * runtime sends the pty master, received with lib/ipc's one SCM_RIGHTS parser, and the
 * master's settings. */
#include <errno.h>
#include <string.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include "lib/fs.h"
#include "lib/gojson.h"
#include "lib/path.h"
#include "lib/util.h"
#include "cmd/dadoo/dadoo.h"

#define CONSOLE_DIR_TEMPLATE "/tmp/dadoo-XXXXXX"
#define CONSOLE_MAX_FDS 4
#define PROCESS_JSON_MAX (4 << 20)
#define DEFAULT_COLUMNS 80
#define DEFAULT_ROWS 24

void dd_console_remove(const char *dir)
{
	_cleanup_free_ char *path = NULL;

	if (!dir)
		return;
	path = gdn_path_join(dir, "tty.sock");
	if (path)
		(void)unlink(path);
	(void)rmdir(dir);
}

int dd_console_listen(char **ret_dir, char **ret_path, struct gdn_err **err)
{
	_cleanup_free_ char *dir = strdup(CONSOLE_DIR_TEMPLATE);
	_cleanup_free_ char *path = NULL;
	int fd;

	if (!dir)
		return gdn_err_set(err, ENOMEM, "console socket");
	if (!mkdtemp(dir))
		return gdn_err_set(err, errno, "mkdtemp '%s'", CONSOLE_DIR_TEMPLATE);
	path = gdn_path_join(dir, "tty.sock");
	fd = path ? gdn_ipc_listen(path, SOCK_STREAM, 0600, GDN_IPC_NONBLOCK, err)
		  : gdn_err_set(err, ENOMEM, "console socket");
	if (fd < 0) {
		dd_console_remove(dir);
		return fd;
	}
	*ret_dir = gdn_steal_ptr(&dir);
	*ret_path = gdn_steal_ptr(&path);
	return fd;
}

int dd_console_receive(int lfd, struct gdn_err **err)
{
	_cleanup_close_ int conn = -1;
	char name[4096]; /* runc sends the pty's name with it, crun a byte */
	int fds[CONSOLE_MAX_FDS];
	size_t nfds = 0;
	ssize_t n;

	conn = gdn_ipc_accept(lfd, 0, err);
	if (conn < 0)
		return conn == -EAGAIN ? -EAGAIN : gdn_err_wrap(err, "the console socket");
	n = gdn_ipc_recv_fds(conn, name, sizeof(name), fds, CONSOLE_MAX_FDS, &nfds, err);
	if (n == -EAGAIN)
		return gdn_err_set(err, EAGAIN, "receive from the console socket");
	if (n < 0)
		return gdn_err_wrap(err, "receive from the console socket");
	for (size_t i = 1; i < nfds; i++)
		(void)close(fds[i]);
	if (nfds == 0)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EPROTO, "the runtime sent no pty master");
	return fds[0];
}

int dd_tty_resize(int master, unsigned columns, unsigned rows)
{
	struct winsize ws = {.ws_row = (unsigned short)(rows ? rows : DEFAULT_ROWS),
			     .ws_col = (unsigned short)(columns ? columns : DEFAULT_COLUMNS)};

	return ioctl(master, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
}

int dd_tty_setup(int master, unsigned columns, unsigned rows, unsigned char *ret_veof,
		 struct gdn_err **err)
{
	struct termios t;
	int r;

	if (tcgetattr(master, &t) < 0)
		return gdn_err_set(err, errno, "tcgetattr on the pty master");
	t.c_oflag |= OPOST | ONLCR;
	if (tcsetattr(master, TCSANOW, &t) < 0)
		return gdn_err_set(err, errno, "tcsetattr on the pty master");
	*ret_veof = t.c_cc[VEOF] ? t.c_cc[VEOF] : 4; /* ^D */
	r = dd_tty_resize(master, columns, rows);
	if (r < 0)
		return gdn_err_set(err, -r, "set the window size");
	return 0;
}

void dd_console_size(const char *process_json, unsigned *ret_columns, unsigned *ret_rows)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *text = NULL;
	_cleanup_gojson_ struct gdn_gojson *spec = NULL;
	const struct gdn_gojson *size;
	uint64_t w = 0, h = 0;
	size_t len = 0;

	*ret_columns = DEFAULT_COLUMNS;
	*ret_rows = DEFAULT_ROWS;
	/* lib/gojson: rlimits above INT64_MAX, which jansson refuses, may be in the file */
	if (gdn_fs_read_file(process_json, PROCESS_JSON_MAX, &text, &len, &err) < 0 ||
	    gdn_gojson_decode(text, len, &spec, &err) < 0)
		return;
	size = gdn_gojson_member(spec, "consoleSize");
	(void)gdn_gojson_u64(gdn_gojson_member(size, "width"), &w);
	(void)gdn_gojson_u64(gdn_gojson_member(size, "height"), &h);
	if (w > 0 && w <= 65535)
		*ret_columns = (unsigned)w;
	if (h > 0 && h <= 65535)
		*ret_rows = (unsigned)h;
}
