/* gaol's local terminal for `gaol shell` and `gaol run --tty`: its size (sent in the ProcessSpec
 * and on SIGWINCH) and raw mode while the remote process owns the keyboard. */
#include <errno.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cmd/gaol/gaol.h"

#define DEFAULT_COLUMNS 80
#define DEFAULT_ROWS 24

int gl_tty_find(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (isatty(fd))
			return fd;
	return -1;
}

void gl_tty_size(int fd, unsigned *ret_columns, unsigned *ret_rows)
{
	struct winsize ws = {0};

	if (fd < 0 || ioctl(fd, TIOCGWINSZ, &ws) < 0 || ws.ws_col == 0 || ws.ws_row == 0) {
		*ret_columns = DEFAULT_COLUMNS;
		*ret_rows = DEFAULT_ROWS;
		return;
	}
	*ret_columns = ws.ws_col;
	*ret_rows = ws.ws_row;
}

/* The settings to put back (saved_fd -1: nothing to restore). Globals, because a signal that
 * kills gaol while the terminal is raw (SIGPIPE from `gaol shell h | head`) must restore them
 * too, and a handler can only reach them that way. */
static int saved_fd = -1;
static struct termios saved_termios;

static void restore_and_die(int sig)
{
	int saved_errno = errno;

	if (saved_fd >= 0)
		(void)tcsetattr(saved_fd, TCSANOW, &saved_termios); /* async-signal-safe */
	/* SA_RESETHAND made the disposition SIG_DFL again: die of the same signal. */
	(void)raise(sig);
	errno = saved_errno;
}

int gl_tty_raw(int fd)
{
	struct sigaction sa = {.sa_handler = restore_and_die, .sa_flags = SA_RESETHAND};
	struct termios old, raw;

	if (tcgetattr(fd, &old) < 0)
		return -errno;
	raw = old;
	/* What Go's term.MakeRaw (and cfmakeraw) do: no echo, no line editing, no signals from
	 * keys (^C goes to the remote process as a byte), no output processing (the remote
	 * terminal already turned "\n" into "\r\n"). */
	cfmakeraw(&raw);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	saved_termios = old;
	saved_fd = fd;
	(void)sigaction(SIGPIPE, &sa, NULL);
	if (tcsetattr(fd, TCSANOW, &raw) < 0) {
		saved_fd = -1;
		(void)signal(SIGPIPE, SIG_DFL);
		return -errno;
	}
	return 0;
}

void gl_tty_restore(void)
{
	if (saved_fd < 0)
		return;
	(void)tcsetattr(saved_fd, TCSANOW, &saved_termios);
	(void)signal(SIGPIPE, SIG_DFL);
	saved_fd = -1;
}
