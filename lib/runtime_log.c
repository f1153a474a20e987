/* The last error of an OCI runtime's JSON log: see runtime_log.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "lib/macro.h"
#include "lib/runtime_log.h"

/* The last non-empty line of `text` (malloc'd), NULL if none. */
static char *last_line(const char *text)
{
	const char *end = text + strlen(text);
	while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		end--;
	const char *start = end;
	while (start > text && start[-1] != '\n')
		start--;
	return end > start ? strndup(start, (size_t)(end - start)) : NULL;
}

char *gdn_runtime_log_error(const char *text)
{
	_cleanup_free_ char *error = NULL;
	_cleanup_free_ char *fatal = NULL;
	const char *p = text;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		json_auto_t *line = json_loadb(p, len, 0, NULL);
		const char *level = json_string_value(json_object_get(line, "level"));
		const char *msg = json_string_value(json_object_get(line, "msg"));
		if (level && msg && strcmp(level, "error") == 0) {
			free(error);
			error = strdup(msg);
		} else if (level && msg && strcmp(level, "fatal") == 0 && !fatal) {
			fatal = strdup(msg);
		}
		p = nl ? nl + 1 : NULL;
	}
	if (!error && !fatal)
		return last_line(text);
	if (!error || !fatal)
		return gdn_steal_ptr(error ? &error : &fatal);
	/* runc reports the cause of a failed container init (e.g. a missing bind-mount source)
	 * as a "fatal" line of nsexec, and then a generic error: keep both. */
	char *both = NULL;
	return asprintf(&both, "%s (%s)", error, fatal) < 0 ? NULL : both;
}
