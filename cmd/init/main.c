/* garden-init: pid 1 of every container, bind-mounted read-only at /tmp/garden-init.
 *
 * It only reaps: every signal is blocked and taken synchronously with sigwaitinfo. SIGCHLD
 * drains waitpid(-1, WNOHANG); every other signal (SIGTERM and SIGINT included) is ignored,
 * because Stop must leave init running so that the container stays usable. SIGKILL from
 * outside the pid namespace (the runtime's delete) still ends it.
 *
 * Its stdin, stdout and stderr are pointed at /dev/null first, so that it does not keep the
 * runtime's stdio (guardian reads `run` failures from it) alive for the container's lifetime.
 *
 * Built static and without libgdn: it runs on any rootfs. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
#include "lib/version.h"

/* The runtime's stdio was inherited: let go of it (nothing here ever writes). */
static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	for (int i = 0; i < 3; i++)
		(void)dup2(fd, i);
	if (fd > 2)
		(void)close(fd);
}

static void reap(void)
{
	for (;;) {
		pid_t pid = waitpid(-1, NULL, WNOHANG);
		if (pid > 0)
			continue;
		if (pid < 0 && errno == EINTR)
			continue;
		return;
	}
}

int main(int argc, char **argv)
{
	static const char help[] =
	    "Usage: garden-init\n"
	    "       garden-init --help | --version\n"
	    "pid 1 of a garden-c container: reaps zombies and waits; see garden-init(8).\n";
	static const char version[] = "garden-init " GDN_VERSION "\n";
	/* the suite's usage-error wording (lib/cli.h), without its library */
	static const char usage_error[] = "garden-init: takes no arguments\n"
					  "Try 'garden-init --help'.\n";
	sigset_t all;

	if (argc > 1) {
		if (strcmp(argv[1], "--help") == 0)
			return write(1, help, sizeof(help) - 1) < 0;
		if (strcmp(argv[1], "--version") == 0)
			return write(1, version, sizeof(version) - 1) < 0;
		(void)!write(2, usage_error, sizeof(usage_error) - 1);
		return 2;
	}
	detach_stdio();
	if (sigfillset(&all) < 0 || sigprocmask(SIG_BLOCK, &all, NULL) < 0)
		return 1;
	reap(); /* children that exited before the mask was set */
	for (;;) {
		siginfo_t info;
		int sig = sigwaitinfo(&all, &info);
		if (sig == SIGCHLD)
			reap();
	}
}
