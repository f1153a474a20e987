/* In-house TAP harness for unit tests (STYLE.md 3.9). Each case runs in a forked child, so a
 * crash or sanitizer abort fails only that case. Usage:
 *
 *     static void test_x(void) { CHECK(1 + 1 == 2); }
 *     int main(void)
 *     {
 *             static const struct tap_test tests[] = {TEST(test_x)};
 *             return tap_run(tests, GDN_ARRAY_SIZE(tests));
 *     }
 *
 * A failed CHECK prints a diagnostic and ends its case. tap_tmp is a fresh directory per case,
 * created and removed (even after a crash) by the parent. */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "lib/err.h"

struct tap_test {
	const char *name;
	void (*fn)(void);
};

#define TEST(fn)                                                                                   \
	{                                                                                          \
#fn, fn                                                                            \
	}

static char tap_tmp[64];     /* per-case scratch directory */
static int tap_skip_fd = -1; /* child -> parent: the skip reason */

static inline _Noreturn void tap_fail_(const char *file, int line, const char *fmt, ...)
    GDN_PRINTF(3, 4);
static inline _Noreturn void tap_fail_(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "#   %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stdout);
	fflush(stderr);
	_exit(1);
}

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			tap_fail_(__FILE__, __LINE__, "CHECK(%s) failed", #c);                     \
	} while (0)
#define CHECK_STREQ(a, b)                                                                          \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (!a_ || !b_ || strcmp(a_, b_) != 0)                                             \
			tap_fail_(__FILE__, __LINE__, "%s == %s: '%s' != '%s'", #a, #b,            \
				  a_ ? a_ : "(null)", b_ ? b_ : "(null)");                         \
	} while (0)
#define CHECK_INTEQ(a, b)                                                                          \
	do {                                                                                       \
		long long a_ = (long long)(a), b_ = (long long)(b);                                \
		if (a_ != b_)                                                                      \
			tap_fail_(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_);   \
	} while (0)
#define CHECK_OK(r, err)                                                                           \
	do {                                                                                       \
		long long r_ = (long long)(r);                                                     \
		if (r_ < 0)                                                                        \
			tap_fail_(__FILE__, __LINE__, "%s = %lld: %s", #r, r_, gdn_err_str(err));  \
	} while (0)
#define SKIP(why) tap_skip_(why)

static inline _Noreturn void tap_skip_(const char *why)
{
	if (tap_skip_fd >= 0 && why) {
		size_t n = strlen(why);

		(void)!write(tap_skip_fd, why, n < 200 ? n : 200);
	}
	fflush(stdout);
	fflush(stderr);
	_exit(77);
}

static inline int tap_rm_(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	(void)remove(p);
	return 0;
}

static inline int tap_run(const struct tap_test *tests, size_t n)
{
	int failed = 0;

	printf("1..%zu\n", n);
	for (size_t i = 0; i < n; i++) {
		char why[256] = "";
		int p[2], status = 0;
		ssize_t got;
		pid_t pid;

		snprintf(tap_tmp, sizeof(tap_tmp), "/tmp/gdn-unit-XXXXXX");
		if (!mkdtemp(tap_tmp) || pipe2(p, O_CLOEXEC) < 0) {
			printf("Bail out! cannot create a temp dir: %s\n", strerror(errno));
			return 1;
		}
		fflush(stdout);
		fflush(stderr);
		pid = fork();
		if (pid == 0) {
			close(p[0]);
			tap_skip_fd = p[1];
			alarm(60);
			tests[i].fn();
			exit(0);
		}
		close(p[1]);
		while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		got = read(p[0], why, sizeof(why) - 1);
		why[got > 0 ? got : 0] = '\0';
		close(p[0]);
		(void)nftw(tap_tmp, tap_rm_, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
		if (pid < 0) {
			printf("not ok %zu - %s # fork: %s\n", i + 1, tests[i].name,
			       strerror(errno));
			failed++;
		} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			printf("ok %zu - %s\n", i + 1, tests[i].name);
		} else if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
			printf("ok %zu - %s # SKIP %s\n", i + 1, tests[i].name, why);
		} else if (WIFSIGNALED(status)) {
			const char *sig = sigabbrev_np(WTERMSIG(status));

			printf("not ok %zu - %s # killed by SIG%s\n", i + 1, tests[i].name,
			       sig ? sig : "?");
			failed++;
		} else {
			printf("not ok %zu - %s # exit %d\n", i + 1, tests[i].name,
			       WEXITSTATUS(status));
			failed++;
		}
		fflush(stdout);
	}
	return failed ? 1 : 0;
}
