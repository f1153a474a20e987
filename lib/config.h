/* gdn's --config FILE (internals §1.1), for every binary that takes one: an INI file whose
 * section names the subcommand ([server]) and whose keys are its long flag names, one value a
 * line ("key = value"; a repeated key for a repeatable flag; "true"/"false" for a flag without
 * a value), lines starting with ';' or '#' ignored, a value in double quotes taken as it is
 * inside them. The file becomes flags in front of the command line's, without those the
 * command line gives, so that a flag overrides the file (a list given as flags replaces the
 * file's). */
#pragma once

#include <getopt.h>
#include <stddef.h>
#include "lib/err.h"

/* The flags of `section` in the INI text (its name `path`, for messages): "--key=value" or
 * "--key" each, malloc'd, in *ret (NULL-terminated, *ret_n of them). A key that is not a long
 * option of `opts`, or is one of `refused` (NULL-terminated, may be NULL: e.g. "help"), a
 * line that is neither, a section other than `section` and a bad boolean are errors naming
 * the file and the line. */
int gdn_config_parse(const char *path, const char *text, const char *section,
		     const struct option *opts, const char *const *refused, char ***ret,
		     size_t *ret_n, struct gdn_err **err);

/* gdn_config_parse of the file at `path` (at most 1 MiB). */
int gdn_config_read(const char *path, const char *section, const struct option *opts,
		    const char *const *refused, char ***ret, size_t *ret_n, struct gdn_err **err);

/* The argv to parse: argv[0], the file's flags (`file`, n of them) but those whose option the
 * command line (argv[1..argc-1], read with `opts` so that a flag's value is not taken for a
 * flag) names, then argv[1..]. *ret (malloc'd array, NULL-terminated; its strings are
 * borrowed from file and argv) and *ret_argc. */
int gdn_config_merge(char *const *file, size_t n, int argc, char **argv, const struct option *opts,
		     char ***ret, int *ret_argc, struct gdn_err **err);

/* A command's --config: the last `--config FILE` or `--config=FILE` among (*argv)[1..] (before a
 * "--"; taken out of them), else `config` (may be NULL: none), read as `section` and merged
 * in front of the remaining flags as gdn_config_merge does. (*argv)[0] stays. Without a file
 * *argc and *argv are left as they are. The new array and the file's strings live as long as
 * the process (the parsed configuration points into them). */
int gdn_config_apply(const char *config, const char *section, const struct option *opts,
		     const char *const *refused, int *argc, char ***argv, struct gdn_err **err);

/* Frees gdn_config_parse's result. */
void gdn_config_free(char **args);
