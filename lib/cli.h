/* What every executable of the suite does the same way on its command line: --help,
 * --version, --log-level, and usage errors. Each binary keeps its own option table and flag
 * names, maps --help, --version and --log-level to the GDN_CLI_OPT_* codes and hands them to
 * these functions.
 *
 *   --help       the binary's usage text on stdout, exit 0
 *   --version    "<prog> <GDN_VERSION>" on stdout, exit 0
 *   --log-level  debug, info, error or fatal; anything else is a usage error
 *   a usage error: "<prog>: <message>" and "Try '<prog> --help'." on stderr, exit 2 */
#pragma once

#include <getopt.h>
#include <stdint.h>
#include "lib/err.h"
#include "lib/log.h"
#include "lib/version.h"

#define GDN_CLI_EXIT_OK 0
#define GDN_CLI_EXIT_USAGE 2

/* getopt_long codes of the common options (outside the range of short options). */
enum {
	GDN_CLI_OPT_HELP = 'h',
	GDN_CLI_OPT_VERSION = 0x7f00,
	GDN_CLI_OPT_LOG_LEVEL,
};

/* The usage lines of the common options, for a binary's --help text. */
#define GDN_CLI_HELP_LOG_LEVEL "  --log-level LEVEL    debug, info, error or fatal (default info)\n"
#define GDN_CLI_HELP_HELP_VERSION                                                                  \
	"  --help               show this help\n"                                                  \
	"  --version            print the version\n"

/* "<prog> <GDN_VERSION>\n" on stdout. Returns GDN_CLI_EXIT_OK. */
int gdn_cli_version(const char *prog);

/* The text on stdout. Returns GDN_CLI_EXIT_OK. */
int gdn_cli_help(const char *text);

/* --log-level's value. On error: "--log-level: '<v>' is not one of debug, info, error, fatal",
 * -EINVAL. */
int gdn_cli_log_level(const char *value, enum gdn_log_level *ret, struct gdn_err **err);

/* A numeric flag's value, at most max: "--<flag>: '<v>' is not a number" (max UINT32_MAX) or
 * "... is not a number from 0 to <max>", -EINVAL. */
int gdn_cli_u32(const char *flag, const char *value, uint32_t max, uint32_t *ret,
		struct gdn_err **err);
/* A socket mode flag's octal value (at most 0777): "--<flag>: '<v>' is not an octal mode". */
int gdn_cli_mode(const char *flag, const char *value, unsigned *ret, struct gdn_err **err);
/* A Go duration flag's value, positive: "--<flag>: '<v>' is not a positive duration". */
int gdn_cli_duration(const char *flag, const char *value, uint64_t *ret_ns, struct gdn_err **err);
/* "<prog>: <message>\nTry '<prog> --help'.\n" on stderr. Returns GDN_CLI_EXIT_USAGE. A NULL
 * fmt prints only the hint (getopt_long has already said what was wrong). */
int gdn_cli_usage_error(const char *prog, const char *fmt, ...) GDN_PRINTF(2, 3);
