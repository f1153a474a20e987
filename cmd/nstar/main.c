/* nstar: streams a tar archive into or out of a container for guardian (nstar(8)).
 *   nstar stream-in  --user USER --path DIR  TARGET   (archive on stdin)
 *   nstar stream-out --user USER --path PATH TARGET   (archive on stdout)
 *   TARGET: --pidfd FD [--userns] [--privileged]
 *         | --volume DIR [--uid-map C:H:N --gid-map C:H:N]... [--privileged] */
#include <getopt.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/cli.h"
#include "lib/util.h"
#include "cmd/nstar/nstar.h"

#define PROG "nstar"

enum {
	OPT_USER = 256,
	OPT_PATH,
	OPT_PIDFD,
	OPT_USERNS,
	OPT_VOLUME,
	OPT_UID_MAP,
	OPT_GID_MAP,
	OPT_PRIVILEGED,
};

static const struct option options[] = {
    {"user", required_argument, NULL, OPT_USER},
    {"path", required_argument, NULL, OPT_PATH},
    {"pidfd", required_argument, NULL, OPT_PIDFD},
    {"userns", no_argument, NULL, OPT_USERNS},
    {"volume", required_argument, NULL, OPT_VOLUME},
    {"uid-map", required_argument, NULL, OPT_UID_MAP},
    {"gid-map", required_argument, NULL, OPT_GID_MAP},
    {"privileged", no_argument, NULL, OPT_PRIVILEGED},
    {"log-level", required_argument, NULL, GDN_CLI_OPT_LOG_LEVEL},
    {"help", no_argument, NULL, GDN_CLI_OPT_HELP},
    {"version", no_argument, NULL, GDN_CLI_OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static const char usage[] =
    "Usage: nstar stream-in  --user USER --path DIR  TARGET [OPTIONS]\n"
    "       nstar stream-out --user USER --path PATH TARGET [OPTIONS]\n"
    "       nstar --help | --version\n"
    "\n"
    "Unpacks the tar archive on stdin into DIR of a container (created if missing), or\n"
    "writes a tar archive of PATH to stdout (PATH ending in '/': its contents), as USER\n"
    "of the container. guardian runs it for StreamIn and StreamOut. See nstar(8).\n"
    "\n"
    "TARGET, a running container:\n"
    "  --pidfd FD           a pidfd of the container's init: its mount namespace is joined\n"
    "  --userns             join its user namespace too (unprivileged container)\n"
    "TARGET, a container whose init is gone:\n"
    "  --volume DIR         its depot dir: its volume is mounted privately and entered\n"
    "  --uid-map C:H:N      a uid mapping of its user namespace (repeatable)\n"
    "  --gid-map C:H:N      a gid mapping of its user namespace (repeatable)\n"
    "Either:\n"
    "  --privileged         a privileged container (root may make device nodes)\n"
    "\n"
    "Options:\n"
    "  --user USER          the container's user (default root)\n"
    "  --path PATH          the destination or source; relative: from USER's "
    "home\n" GDN_CLI_HELP_LOG_LEVEL GDN_CLI_HELP_HELP_VERSION;

static int add_map(struct nst_idmap *maps, size_t *n, const char *s)
{
	_cleanup_err_ struct gdn_err *e = NULL;

	if (*n == NST_MAX_MAPS)
		return gdn_cli_usage_error(PROG, "at most %d mappings of each kind", NST_MAX_MAPS);
	if (nst_idmap_parse(s, &maps[*n], &e) < 0)
		return gdn_cli_usage_error(PROG, "%s", gdn_err_str(e));
	(*n)++;
	return 0;
}

/* 0 to go on, 1 to exit successfully, 2 on a usage error (already reported). */
static int parse_args(int argc, char **argv, struct nst_args *a, enum gdn_log_level *level)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	uint32_t fd;
	int c;

	a->pidfd = -1;
	if (argc > 1 && (strcmp(argv[1], "stream-in") == 0 || strcmp(argv[1], "stream-out") == 0)) {
		a->in = strcmp(argv[1], "stream-in") == 0;
		argv++;
		argc--;
	} else if (argc < 2 || argv[1][0] != '-') {
		return gdn_cli_usage_error(PROG, "expected stream-in or stream-out");
	}
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case OPT_USER:
			a->user = optarg;
			break;
		case OPT_PATH:
			a->path = optarg;
			break;
		case OPT_PIDFD:
			if (gdn_cli_u32("pidfd", optarg, 65535, &fd, &e) < 0)
				return gdn_cli_usage_error(PROG, "%s", gdn_err_str(e));
			a->pidfd = (int)fd;
			break;
		case OPT_USERNS:
			a->userns = true;
			break;
		case OPT_VOLUME:
			a->volume = optarg;
			break;
		case OPT_UID_MAP:
			if (add_map(a->uid_maps, &a->n_uid_maps, optarg))
				return GDN_CLI_EXIT_USAGE;
			break;
		case OPT_GID_MAP:
			if (add_map(a->gid_maps, &a->n_gid_maps, optarg))
				return GDN_CLI_EXIT_USAGE;
			break;
		case OPT_PRIVILEGED:
			a->privileged = true;
			break;
		case GDN_CLI_OPT_LOG_LEVEL:
			if (gdn_cli_log_level(optarg, level, &e) < 0)
				return gdn_cli_usage_error(PROG, "%s", gdn_err_str(e));
			break;
		case GDN_CLI_OPT_HELP:
			(void)gdn_cli_help(usage);
			return 1;
		case GDN_CLI_OPT_VERSION:
			(void)gdn_cli_version(PROG);
			return 1;
		default:
			return gdn_cli_usage_error(PROG, NULL);
		}
	}
	if (optind < argc)
		return gdn_cli_usage_error(PROG, "unexpected argument '%s'", argv[optind]);
	if (!a->path)
		return gdn_cli_usage_error(PROG, "--path is required");
	if ((a->pidfd >= 0) == (a->volume != NULL))
		return gdn_cli_usage_error(PROG, "exactly one of --pidfd and --volume is required");
	if (a->pidfd >= 0 && (a->n_uid_maps || a->n_gid_maps))
		return gdn_cli_usage_error(PROG, "--uid-map and --gid-map go with --volume");
	if ((a->n_uid_maps == 0) != (a->n_gid_maps == 0))
		return gdn_cli_usage_error(PROG, "--uid-map and --gid-map go together");
	return 0;
}

/* The directory to work in, made the cwd: a relative path is from the user's home (Garden's
 * nstar chdirs there first), stream-in's destination is created (mkdir -p, as root of the
 * container, new directories owned by the user). stream-out creates nothing. */
static int enter_dir(const struct nst_args *a, const struct gd_user *u, const char *dir,
		     char **ret_created, struct gdn_err **err)
{
	if (dir[0] != '/' && chdir(u->home) < 0)
		return gdn_err_set(err, errno, "chdir to user home");
	if (a->in && nst_mkdir_p_as(dir, u->uid, u->gid, ret_created, err) < 0)
		return gdn_err_code(*err);
	if (chdir(dir) < 0)
		return gdn_err_set(err, errno, "%s: Cannot open", dir);
	return 0;
}

/* Stream-in into the cwd; an archive of which nothing could be written leaves no destination
 * directory behind that this run made (as far as the user may remove them), undone along the
 * path as it was made (the same string, from the same place). */
static int unpack(const struct nst_args *a, const struct gd_user *u, const char *created,
		  struct gdn_log *log, struct gdn_err **err)
{
	bool wrote = false;
	int r = nst_unpack(0, a->privileged, &wrote, log, err);

	if (r != 0 && !wrote && created && chdir(a->path[0] == '/' ? "/" : u->home) == 0)
		nst_mkdir_undo(a->path, created);
	return r;
}

static int run(const struct nst_args *a, struct gdn_log *log, struct gdn_err **err)
{
	_cleanup_free_ char *dir = NULL, *member = NULL, *created = NULL;
	pid_t parent = getppid();
	struct gd_user u;
	int r;

	umask(NST_UMASK);
	if ((r = nst_enter(a, log, err)) < 0 || (r = nst_user_resolve(a->user, &u, err)) < 0)
		return NST_EXIT_SETUP;
	if (!a->in && nst_split_source(a->path, &dir, &member) < 0) {
		(void)gdn_err_set(err, ENOMEM, "split the source");
		return NST_EXIT_SETUP;
	}
	if (enter_dir(a, &u, a->in ? a->path : dir, &created, err) < 0 ||
	    nst_drop_to(&u, parent, err) < 0)
		return NST_EXIT_SETUP;
	gdn_log_debug(log, "entered", "user", u.name, NULL);
	if (a->in)
		return unpack(a, &u, created, log, err);
	return nst_pack(1, member, log, err) != 0 ? NST_EXIT_ARCHIVE : 0;
}

int main(int argc, char **argv)
{
	struct nst_args a = {0};
	enum gdn_log_level level = GDN_LOG_INFO;
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_log_ struct gdn_log *log = NULL;
	int r;

	if ((r = parse_args(argc, argv, &a, &level)) != 0)
		return r == 1 ? GDN_CLI_EXIT_OK : GDN_CLI_EXIT_USAGE;
	/* libarchive converts names by the locale; "C" keeps it from loading charset modules
	 * (iconv's gconv) from the container's filesystem */
	(void)setlocale(LC_ALL, "C");
	gdn_log_init(PROG, level, STDERR_FILENO);
	log = gdn_log_session(gdn_log_root(), a.in ? "stream-in" : "stream-out", "path", a.path,
			      "user", a.user ? a.user : "", NULL);
	r = run(&a, log, &err);
	if (r != 0)
		gdn_log_error(log, "failed", err, NULL);
	return r;
}
