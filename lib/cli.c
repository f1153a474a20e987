/* The command-line conventions of the suite: see cli.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/cli.h"
#include "lib/duration.h"
#include "lib/util.h"

int gdn_cli_version(const char *prog)
{
	printf("%s %s\n", prog, GDN_VERSION);
	return GDN_CLI_EXIT_OK;
}

int gdn_cli_help(const char *text)
{
	fputs(text, stdout);
	return GDN_CLI_EXIT_OK;
}

int gdn_cli_log_level(const char *value, enum gdn_log_level *ret, struct gdn_err **err)
{
	if (gdn_log_parse_level(value, ret) < 0)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "--log-level: '%s' is not one of debug, info, error, fatal",
				    value ? value : "");
	return 0;
}

int gdn_cli_u32(const char *flag, const char *value, uint32_t max, uint32_t *ret,
		struct gdn_err **err)
{
	if (gdn_parse_u32(value, ret) == 0 && *ret <= max)
		return 0;
	if (max == UINT32_MAX)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "--%s: '%s' is not a number",
				    flag, value);
	return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "--%s: '%s' is not a number from 0 to %u",
			    flag, value, (unsigned)max);
}

int gdn_cli_mode(const char *flag, const char *value, unsigned *ret, struct gdn_err **err)
{
	char *end = NULL;
	unsigned long m;

	errno = 0;
	m = value ? strtoul(value, &end, 8) : 0;
	if (!value || errno || !*value || *end || m > 0777)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "--%s: '%s' is not an octal mode",
				    flag, value ? value : "");
	*ret = (unsigned)m;
	return 0;
}

int gdn_cli_duration(const char *flag, const char *value, uint64_t *ret_ns, struct gdn_err **err)
{
	int64_t ns = 0;

	if (!value || gdn_parse_duration(value, &ns) < 0 || ns <= 0)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "--%s: '%s' is not a positive duration", flag,
				    value ? value : "");
	*ret_ns = (uint64_t)ns;
	return 0;
}

int gdn_cli_usage_error(const char *prog, const char *fmt, ...)
{
	va_list ap;

	if (fmt) {
		fprintf(stderr, "%s: ", prog);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fprintf(stderr, "Try '%s --help'.\n", prog);
	return GDN_CLI_EXIT_USAGE;
}
