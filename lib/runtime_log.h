/* The OCI runtimes' JSON logs (--log FILE --log-format json): what went wrong, in one line. */
#pragma once

/* How many extra global arguments a runtime gets (guardian's --runtime-plugin-extra-arg, which
 * it hands on as dadoo's --runtime-arg): one bound for both. */
#define GDN_RUNTIME_EXTRA_ARGS_MAX 16

/* The message of the last "level":"error" JSON line of a runtime log (runc: {"level","msg",
 * "time"}; crun: {"msg","level","time"}), followed by the first "level":"fatal" message in
 * parentheses if there is one; else the last non-empty line; NULL if there is none.
 * The result is malloc'd. */
char *gdn_runtime_log_error(const char *log_text);
