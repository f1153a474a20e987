/* guardian: the Garden API server. `guardian server [flags]`, `guardian setup [flags]` (cgroups
 * and a store with project quotas), `guardian teardown-store`; see guardian(8). */
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <bsd/string.h>

#include "lib/cli.h"
#include "lib/config.h"
#include "lib/duration.h"
#include "lib/fs.h"
#include "lib/log.h"
#include "lib/net.h"
#include "lib/path.h"
#include "lib/proc.h"
#include "lib/util.h"
#include "cmd/guardian/cgroup.h"
#include "cmd/guardian/cgroup_setup.h"
#include "cmd/guardian/container.h"
#include "cmd/guardian/dadoo_launch.h"
#include "cmd/guardian/host_setup.h"
#include "cmd/guardian/layers.h"
#include "cmd/guardian/container_flags.h"
#include "cmd/guardian/debug_flags.h"
#include "cmd/guardian/imageplugin_flags.h"
#include "cmd/guardian/imageplugin_proc.h"
#include "cmd/guardian/network_flags.h"
#include "cmd/guardian/prepare.h"
#include "cmd/guardian/server.h"
#include "cmd/guardian/unpack.h"
#include "cmd/guardian/store_setup.h"
#include "cmd/guardian/volumizer.h"

enum {
	OPT_BIND_SOCKET = 256,
	OPT_SOCKET_MODE,
	OPT_BIND_IP,
	OPT_BIND_PORT,
	OPT_DEPOT,
	OPT_STORE,
	OPT_DEFAULT_ROOTFS,
	OPT_DEFAULT_GRACE,
	OPT_MAX_CONTAINERS,
	OPT_DESTROY_ON_STARTUP,
	OPT_DISABLE_PRIVILEGED,
	OPT_UID_MAP_START,
	OPT_UID_MAP_LENGTH,
	OPT_GID_MAP_START,
	OPT_GID_MAP_LENGTH,
	OPT_RUNTIME,
	OPT_RUNTIME_EXTRA_ARG,
	OPT_RUNTIME_ROOT,
	OPT_RUNTIME_TIMEOUT,
	OPT_INIT_BIN,
	OPT_DADOO_BIN,
	OPT_NSTAR_BIN,
	OPT_NETWORK_POOL,
	OPT_SKIP_SETUP,
	OPT_CLEANUP_PROCESS_DIRS,
	OPT_READ_HEADER_TIMEOUT,
	OPT_STORE_SIZE,
};

static const struct option options[] = {
    {"bind-socket", required_argument, NULL, OPT_BIND_SOCKET},
    {"socket-mode", required_argument, NULL, OPT_SOCKET_MODE},
    {"bind-ip", required_argument, NULL, OPT_BIND_IP},
    {"bind-port", required_argument, NULL, OPT_BIND_PORT},
    {"depot", required_argument, NULL, OPT_DEPOT},
    {"store", required_argument, NULL, OPT_STORE},
    {"default-rootfs", required_argument, NULL, OPT_DEFAULT_ROOTFS},
    {"default-grace-time", required_argument, NULL, OPT_DEFAULT_GRACE},
    {"max-containers", required_argument, NULL, OPT_MAX_CONTAINERS},
    {"destroy-containers-on-startup", no_argument, NULL, OPT_DESTROY_ON_STARTUP},
    {"disable-privileged-containers", no_argument, NULL, OPT_DISABLE_PRIVILEGED},
    {"uid-map-start", required_argument, NULL, OPT_UID_MAP_START},
    {"uid-map-length", required_argument, NULL, OPT_UID_MAP_LENGTH},
    {"gid-map-start", required_argument, NULL, OPT_GID_MAP_START},
    {"gid-map-length", required_argument, NULL, OPT_GID_MAP_LENGTH},
    {"runtime-plugin", required_argument, NULL, OPT_RUNTIME},
    {"runtime-plugin-extra-arg", required_argument, NULL, OPT_RUNTIME_EXTRA_ARG},
    {"runtime-root", required_argument, NULL, OPT_RUNTIME_ROOT},
    {"runtime-timeout", required_argument, NULL, OPT_RUNTIME_TIMEOUT},
    {"init-bin", required_argument, NULL, OPT_INIT_BIN},
    {"dadoo-bin", required_argument, NULL, OPT_DADOO_BIN},
    {"nstar-bin", required_argument, NULL, OPT_NSTAR_BIN},
    {"network-pool", required_argument, NULL, OPT_NETWORK_POOL},
    {"log-level", required_argument, NULL, GDN_CLI_OPT_LOG_LEVEL},
    {"skip-setup", no_argument, NULL, OPT_SKIP_SETUP},
    {"store-size-bytes", required_argument, NULL, OPT_STORE_SIZE},
    {"cleanup-process-dirs-on-wait", no_argument, NULL, OPT_CLEANUP_PROCESS_DIRS},
    {"read-header-timeout", required_argument, NULL, OPT_READ_HEADER_TIMEOUT},
    {"help", no_argument, NULL, GDN_CLI_OPT_HELP},
    {"version", no_argument, NULL, GDN_CLI_OPT_VERSION},
    GD_NETWORK_OPTIONS,
    GD_IMAGEPLUGIN_OPTIONS,
    GD_CONTAINER_OPTIONS,
    GD_DEBUG_OPTIONS,
    {NULL, 0, NULL, 0},
};

/* keys a config file may not hold: what is not configuration */
static const char *const refused_in_config[] = {"help", "version", "config", NULL};

static const char usage[] =
    "Usage: guardian [--config FILE] server [OPTIONS]\n"
    "       guardian [--config FILE] cleanup [OPTIONS]\n"
    "       guardian gc [--store DIR] [--depot DIR]\n"
    "       guardian [--config FILE] setup [OPTIONS]\n"
    "       guardian teardown-store [--store DIR] [--log-level LEVEL]\n"
    "       guardian --help | --version\n"
    "\n"
    "Serves the Garden HTTP API and runs OCI containers with a runc-compatible runtime.\n"
    "'setup' prepares the host for a 'server --skip-setup' (server's options): cgroup\n"
    "hierarchies, the store as a loop-backed XFS file system with project quotas (for\n"
    "disk limits) unless it already is one, IPv4 forwarding, kernel.pid_max and\n"
    "dmesg_restrict, and kawasaki's global chains (when guardian starts kawasaki).\n"
    "'teardown-store' unmounts such a store and removes its backing file.\n"
    "'cleanup' destroys every container of the depot (with its network and peas), as\n"
    "'server --destroy-containers-on-startup' would, and exits (server's options).\n"
    "\n"
    "Options of 'server' (and 'setup', 'cleanup'):\n"
    "  --config FILE                 gdn's INI file: its [server] section's keys are these\n"
    "                                flags' names (repeated for lists; true/false for\n"
    "                                switches); flags given here override it (also before\n"
    "                                'server', as gdn takes it)\n"
    "  --bind-socket PATH            UNIX socket to listen on (default /tmp/garden.sock;\n"
    "                                not used when only --bind-ip is given)\n"
    "  --socket-mode OCTAL           mode of the UNIX socket (default 0600)\n"
    "  --bind-ip IP                  also listen on TCP IP:PORT\n"
    "  --bind-port PORT              TCP port (default 7777)\n"
    "  --depot DIR                   container directories (default /var/run/gdn/depot)\n"
    "  --store DIR                   container volumes and the volumizer cache (default\n"
    "                                /var/lib/gdn/store; also for setup, teardown-store)\n"
    "  --default-rootfs PATH         rootfs for creates that name none\n"
    "  --default-grace-time DURATION default grace time, Go syntax (default 0: never)\n"
    "  --max-containers N            limit on containers (default 0: no limit)\n"
    "  --destroy-containers-on-startup  destroy every container found at start-up\n"
    "  --disable-privileged-containers  reject privileged creates\n"
    "  --uid-map-start N             first host uid for container uids >= 1 (default 1)\n"
    "  --uid-map-length N            length of that mapping (default 4294967293)\n"
    "  --gid-map-start N             as --uid-map-start, for gids\n"
    "  --gid-map-length N            as --uid-map-length, for gids\n"
    "  --runtime-plugin PATH         OCI runtime binary (default runc; crun works)\n"
    "  --runtime-plugin-extra-arg ARG  global argument for the runtime (repeatable)\n"
    "  --runtime-root DIR            the runtime's --root (default: its own default)\n"
    "  --runtime-timeout DURATION    deadline of each runtime invocation (default 60s)\n"
    "  --init-bin PATH               pid 1 of containers (default: garden-init beside\n"
    "                                guardian or in ../libexec/garden-c/)\n"
    "  --dadoo-bin PATH              the per-process shim (default: dadoo beside "
    "guardian)\n"
    "  --nstar-bin PATH              StreamIn/StreamOut's helper (default: nstar beside\n"
    "                                guardian)\n"
    "  --log-level LEVEL             debug, info, error or fatal (default info)\n"
    "  --skip-setup                  leave the host's cgroup hierarchies as they are\n"
    "                                ('setup' prepared them)\n"
    "  --store-size-bytes N          size of the sparse backing file of a store 'setup'\n"
    "                                makes (default 10737418240: 10 GiB)\n"
    "  --cleanup-process-dirs-on-wait  remove a process's dir once a client got its\n"
    "                                exit status\n"
    "  --read-header-timeout DURATION  close a connection that sends no whole request\n"
    "                                head (or no request when idle) this long (default\n"
    "                                0: never)\n"
    "  --help                        show this help\n"
    "  --version                     print the version\n" GD_NETWORK_USAGE GD_IMAGEPLUGIN_USAGE
	GD_CONTAINER_USAGE GD_DEBUG_USAGE;

/* Go's net.ParseCIDR, as guardian's CIDRFlag uses it; like Garden, the pool is the network
 * (host bits cleared). It must hold at least one /30, the subnet of one container. */
static int parse_network_pool(const char *v, const char **ret, struct gdn_err **err)
{
	static char normal[GDN_NET_CIDR_STRLEN];
	struct gdn_cidr pool;

	if (gdn_net_parse_cidr(v, &pool, err) < 0)
		return gdn_err_wrap(err, "--network-pool");
	if (pool.prefix > 30)
		return gdn_err_kind(
		    err, GDN_ERR_GENERIC, EINVAL,
		    "--network-pool: '%s' holds no /30 subnet (the prefix must be at "
		    "most 30)",
		    v);
	*ret = gdn_net_cidr_str(&pool, normal);
	return 0;
}

/* `name` beside the guardian binary, else in ../libexec/garden-c/ (where make install puts
 * garden-init). Returns a static buffer per call site's `buf`. */
static const char *find_beside(const char *name, char *buf, size_t size)
{
	const char *subdirs[] = {"", "../libexec/garden-c/"};
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return NULL;
	self[n] = '\0';
	for (size_t i = 0; i < GDN_ARRAY_SIZE(subdirs); i++) {
		char dir[PATH_MAX];
		strlcpy(dir, self, sizeof(dir));
		(void)snprintf(buf, size, "%s/%s%s", dirname(dir), subdirs[i], name);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

static int parse_flags(int argc, char **argv, struct gd_config *cfg, const char ***extra,
		       struct gdn_err **err)
{
	size_t n_extra = 0;
	bool socket_given = false;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		int64_t ns;
		uint64_t u;
		uint32_t u32;
		const char **grown;
		int r = 0;

		switch (opt) {
		case OPT_BIND_SOCKET:
			cfg->bind_socket = optarg;
			socket_given = true;
			break;
		case OPT_SOCKET_MODE: {
			char *end;
			unsigned long m = strtoul(optarg, &end, 8);
			if (!*optarg || *end || m > 07777)
				return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
						    "--socket-mode: '%s' is not octal", optarg);
			cfg->socket_mode = (unsigned)m;
			break;
		}
		case OPT_BIND_IP: {
			unsigned char addr[16];
			int family;
			if (gdn_net_parse_ip(optarg, &family, addr) < 0)
				return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
						    "--bind-ip: '%s' is not an IP address", optarg);
			cfg->bind_ip = optarg;
			break;
		}
		case OPT_BIND_PORT:
			if (gdn_parse_u32(optarg, &u32) < 0 || u32 > 65535)
				return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
						    "--bind-port: '%s' is not a port", optarg);
			cfg->bind_port = (uint16_t)u32;
			break;
		case OPT_DEPOT:
			cfg->depot = optarg;
			break;
		case OPT_STORE:
			cfg->store = optarg;
			break;
		case OPT_DEFAULT_ROOTFS:
			cfg->default_rootfs = optarg;
			break;
		case OPT_RUNTIME_TIMEOUT:
			if (gdn_parse_duration(optarg, &ns) < 0 || ns <= 0)
				return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
						    "--runtime-timeout: '%s' is not a positive "
						    "duration (e.g. 30s, 2m)",
						    optarg);
			cfg->runtime_timeout_ns = (uint64_t)ns;
			break;
		case OPT_DEFAULT_GRACE:
			if (gdn_parse_duration(optarg, &ns) < 0 || ns < 0)
				return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
						    "--default-grace-time: '%s' is not a duration "
						    "(e.g. 30s, 5m, 1h)",
						    optarg);
			cfg->default_grace_ns = (uint64_t)ns;
			break;
		case OPT_READ_HEADER_TIMEOUT:
			if (gdn_parse_duration(optarg, &ns) < 0 || ns < 0)
				return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
						    "--read-header-timeout: '%s' is not a duration "
						    "(e.g. 30s, 5m, 1h)",
						    optarg);
			cfg->read_header_timeout_ns = (uint64_t)ns;
			cfg->idle_timeout_ns = (uint64_t)ns;
			break;
		case OPT_MAX_CONTAINERS:
			if (gdn_parse_u64(optarg, &u) < 0)
				return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
						    "--max-containers: '%s' is not a "
						    "number",
						    optarg);
			cfg->max_containers = u;
			break;
		case OPT_DESTROY_ON_STARTUP:
			cfg->destroy_on_startup = true;
			break;
		case OPT_DISABLE_PRIVILEGED:
			cfg->disable_privileged = true;
			break;
		case OPT_UID_MAP_START:
			r = gdn_cli_u32("uid-map-start", optarg, UINT32_MAX, &cfg->uid_map_start,
					err);
			break;
		case OPT_UID_MAP_LENGTH:
			r = gdn_cli_u32("uid-map-length", optarg, UINT32_MAX, &cfg->uid_map_length,
					err);
			break;
		case OPT_GID_MAP_START:
			r = gdn_cli_u32("gid-map-start", optarg, UINT32_MAX, &cfg->gid_map_start,
					err);
			break;
		case OPT_GID_MAP_LENGTH:
			r = gdn_cli_u32("gid-map-length", optarg, UINT32_MAX, &cfg->gid_map_length,
					err);
			break;
		case OPT_RUNTIME:
			cfg->runtime = optarg;
			break;
		case OPT_RUNTIME_EXTRA_ARG:
			grown = realloc(*extra, (n_extra + 2) * sizeof(**extra));
			if (!grown)
				return gdn_err_set(err, ENOMEM, "flags");
			*extra = grown;
			grown[n_extra++] = optarg;
			grown[n_extra] = NULL;
			break;
		case OPT_RUNTIME_ROOT:
			cfg->runtime_root = optarg;
			break;
		case OPT_INIT_BIN:
			cfg->init_bin = optarg;
			break;
		case OPT_DADOO_BIN:
			cfg->dadoo_bin = optarg;
			break;
		case OPT_NSTAR_BIN:
			cfg->nstar_bin = optarg;
			break;
		case OPT_NETWORK_POOL:
			r = parse_network_pool(optarg, &cfg->network_pool, err);
			break;
		case GDN_CLI_OPT_LOG_LEVEL:
			r = gdn_cli_log_level(optarg, &cfg->log_level, err);
			break;
		case OPT_SKIP_SETUP:
			cfg->skip_setup = true;
			break;
		case OPT_STORE_SIZE:
			if (gdn_parse_u64(optarg, &cfg->store_size) < 0)
				return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
						    "--store-size-bytes: '%s' is not a number",
						    optarg);
			break;
		case OPT_CLEANUP_PROCESS_DIRS:
			cfg->cleanup_process_dirs = true;
			break;
		case GDN_CLI_OPT_HELP:
			exit(gdn_cli_help(usage));
		case GDN_CLI_OPT_VERSION:
			exit(gdn_cli_version("guardian"));
		default:
			if (opt >= GD_OPT_NET_FIRST && opt < GD_OPT_NET_LAST) {
				r = gd_network_flag(opt, optarg, cfg, err);
				break;
			}
			if (opt >= GD_OPT_IMG_FIRST && opt < GD_OPT_IMG_LAST) {
				r = gd_imageplugin_flag(opt, optarg, cfg, err);
				break;
			}
			if (opt >= GD_OPT_CTR_FIRST && opt < GD_OPT_CTR_LAST) {
				r = gd_container_flag(opt, optarg, cfg, err);
				break;
			}
			if (opt >= GD_OPT_DEBUG_FIRST && opt < GD_OPT_DEBUG_LAST) {
				r = gd_debug_flag(opt, optarg, cfg, err);
				break;
			}
			/* getopt_long has said what was wrong */
			exit(gdn_cli_usage_error("guardian", NULL));
		}
		if (r < 0)
			return r;
	}
	if (optind < argc)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "unexpected argument '%s'",
				    argv[optind]);
	if (cfg->bind_ip && !socket_given)
		cfg->bind_socket = NULL;
	cfg->runtime_extra_args = *extra;
	return 0;
}

/* `prepare`: also make the depot and the store and put garden-init there (not for setup,
 * whose store may yet become a file system of its own). */
static int check_config(struct gd_config *cfg, bool prepare, struct gdn_err **err)
{
	int r;

	if (cfg->uid_map_length == 0 || cfg->gid_map_length == 0)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "uid/gid map lengths must be > 0");
	if ((uint64_t)cfg->uid_map_start + cfg->uid_map_length > cfg->maxid ||
	    (uint64_t)cfg->gid_map_start + cfg->gid_map_length > cfg->maxid)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "uid/gid maps must end below %u, the host id of container root",
				    cfg->maxid);
	static char init_bin[PATH_MAX], dadoo_bin[PATH_MAX], kawasaki_bin[PATH_MAX];
	static char nstar_bin[PATH_MAX];
	static char shim_bin[PATH_MAX];
	static char *runtime;
	size_t n_extra;

	if (!cfg->init_bin)
		cfg->init_bin = find_beside("garden-init", init_bin, sizeof(init_bin));
	if (!cfg->dadoo_bin)
		cfg->dadoo_bin = find_beside("dadoo", dadoo_bin, sizeof(dadoo_bin));
	else if (realpath(cfg->dadoo_bin, dadoo_bin))
		cfg->dadoo_bin = dadoo_bin;
	if (!cfg->kawasaki_bin)
		cfg->kawasaki_bin = find_beside("kawasaki", kawasaki_bin, sizeof(kawasaki_bin));
	/* else found in PATH when a stream runs */
	if (!cfg->nstar_bin &&
	    !(cfg->nstar_bin = find_beside("nstar", nstar_bin, sizeof(nstar_bin))))
		cfg->nstar_bin = "nstar";
	if (!cfg->image_plugin_shim_bin)
		cfg->image_plugin_shim_bin =
		    find_beside("image-plugin-shim", shim_bin, sizeof(shim_bin));
	if ((r = gd_network_flags_finish(cfg, err)) < 0 ||
	    (r = gd_imageplugin_flags_finish(cfg, err)) < 0 ||
	    (r = gd_container_flags_finish(cfg, err)) < 0)
		return r;
	n_extra = 0;
	for (const char **x = cfg->runtime_extra_args; x && *x; x++)
		n_extra++;
	if (n_extra > GDN_RUNTIME_EXTRA_ARGS_MAX)
		return gdn_err_kind(err, GDN_ERR_GENERIC, E2BIG,
				    "at most %d --runtime-plugin-extra-arg",
				    GDN_RUNTIME_EXTRA_ARGS_MAX);
	/* Looked up once: dadoo then execs it without searching PATH on every Run. */
	if (!runtime && (r = gdn_which(cfg->runtime, &runtime, err)) < 0)
		return gdn_err_wrap(err, "--runtime-plugin");
	cfg->runtime = runtime;
	if (prepare && (r = gd_prepare_paths(cfg, err)) < 0)
		return r;
	return gd_caps_bounding(&cfg->cap_bounding, err);
}

/* One guardian per depot: two would destroy each other's containers at start-up. One per store
 * too: what its collectors keep is what its own depot's containers use. */
static int lock_dir(const char *what, const char *dir, struct gdn_err **err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return gdn_err_set(err, errno, "open %s '%s'", what, dir);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int r = gdn_err_set(err, errno == EWOULDBLOCK ? EBUSY : errno,
				    "%s '%s' is in use by another guardian", what, dir);
		(void)close(fd);
		return r;
	}
	return fd;
}

/* Layers no container uses any more, from before a restart or a crash (also `guardian gc`). */
static int collect_layers(const struct gd_config *cfg)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	unsigned n = 0;
	char count[16];

	if (gd_layers_collect(cfg, &n, gdn_log_root(), &e) < 0) {
		gdn_log_error(gdn_log_root(), "collect-layers-failed", e, NULL);
		return 1;
	}
	(void)snprintf(count, sizeof(count), "%u", n);
	gdn_log_info(gdn_log_root(), "collected-layers", "removed", count, NULL);
	return 0;
}

/* `cleanup`: gdn's: everything start-up does with --destroy-containers-on-startup (every
 * container, its network and its peas destroyed), and exit instead of serving. */
static int serve(struct gd_config *cfg, bool cleanup_only, struct gdn_err **err)
{
	struct gd_server s;
	_cleanup_close_ int lock = -1;
	_cleanup_close_ int store_lock = -1;
	int r;

	if (!cfg->skip_setup)
		gd_cgroup_setup(gdn_log_root());
	/* before check_config makes the depot and store: a refused start-up leaves nothing */
	if (cfg->blockio_weight && (r = gd_cgroup_check_io_weight(err)) < 0)
		return gdn_err_wrap(err, "--default-container-blockio-weight");
	if ((r = check_config(cfg, true, err)) < 0)
		return r;
	lock = lock_dir("depot", cfg->depot, err);
	if (lock < 0)
		return lock;
	store_lock = cfg->store ? lock_dir("store", cfg->store, err) : -1;
	if (cfg->store && store_lock < 0)
		return store_lock;
	r = gd_server_init(&s, cfg, err);
	s.lock_fd = lock;
	if (r >= 0)
		r = gd_kawasaki_start(&s, err);
	/* before the restore: the destroys it starts delete their images */
	if (r >= 0)
		r = gd_imageplugin_start(&s, cfg, err);
	if (r >= 0)
		r = gd_server_restore(&s, err);
	/* after restore, which finishes interrupted destroys */
	if (r >= 0)
		gd_volume_sweep(cfg, gdn_log_root());
	if (r >= 0)
		collect_layers(cfg);
	if (r >= 0)
		gd_network_cleanup(&s);
	if (r >= 0 && cleanup_only) {
		/* a container whose destroy failed is registered again, to be destroyed later */
		size_t left = s.reg.count;
		if (left > 0)
			r = gdn_err_set(
			    err, 0, "%zu container(s) could not be destroyed (see the log)", left);
		else
			gdn_log_info(gdn_log_root(), "cleaned-up", "depot", cfg->depot, NULL);
	} else if (r >= 0) {
		gd_dadoo_standby_refill(&s);
		gdn_log_info(gdn_log_root(), "listening", "socket",
			     cfg->bind_socket ? cfg->bind_socket : "", "ip",
			     cfg->bind_ip ? cfg->bind_ip : "", "depot", cfg->depot, NULL);
		r = gd_server_run(&s, err);
	}
	gd_kawasaki_stop(&s);
	gd_imageplugin_stop(&s);
	gd_server_free(&s);
	return r;
}

/* `guardian gc`: the collection a server runs at start-up, for a store whose guardian is not
 * running (it holds the store's lock while it runs). */
static int gc_store(const struct gd_config *cfg)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	_cleanup_close_ int lock = lock_dir("store", cfg->store, &e);

	if (lock < 0) {
		gdn_log_fatal(gdn_log_root(), "failed", e, NULL);
		return 1;
	}
	return collect_layers(cfg);
}

static const struct option teardown_options[] = {
    {"store", required_argument, NULL, OPT_STORE},
    {"log-level", required_argument, NULL, GDN_CLI_OPT_LOG_LEVEL},
    {"help", no_argument, NULL, GDN_CLI_OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* `guardian teardown-store`: undoes the store `setup` made. */
static int teardown_store_main(int argc, char **argv)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	const char *store = "/var/lib/gdn/store";
	enum gdn_log_level level = GDN_LOG_INFO;
	int opt, r = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", teardown_options, NULL)) != -1) {
		switch (opt) {
		case OPT_STORE:
			store = optarg;
			break;
		case GDN_CLI_OPT_LOG_LEVEL:
			r = gdn_cli_log_level(optarg, &level, &err);
			if (r < 0)
				return gdn_cli_usage_error("guardian", "%s", gdn_err_str(err));
			break;
		case GDN_CLI_OPT_HELP:
			return gdn_cli_help(usage);
		default:
			return gdn_cli_usage_error("guardian", NULL);
		}
	}
	if (optind < argc)
		return gdn_cli_usage_error("guardian", "unexpected argument '%s'", argv[optind]);
	gdn_log_init("guardian", level, STDERR_FILENO);
	struct gdn_log *log = gdn_log_session(gdn_log_root(), "teardown-store", NULL);
	r = gd_store_teardown(store, log, &err);
	if (r < 0)
		gdn_log_fatal(log, "failed", err, NULL);
	else
		gdn_log_info(log, "finished", NULL);
	gdn_log_free(log);
	return r < 0 ? 1 : 0;
}

/* `guardian setup` (gdn's: what needs root once per boot, before a `server --skip-setup`): the
 * server's configuration, checked as the server checks it, then gd_host_setup. */
static int setup_host(struct gd_config *cfg)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_log *log = gdn_log_session(gdn_log_root(), "setup", NULL);
	int r = check_config(cfg, false, &err);

	if (r >= 0)
		r = gd_host_setup(cfg, log, &err);
	if (r < 0)
		gdn_log_fatal(log, "failed", err, NULL);
	else
		gdn_log_info(log, "finished", NULL);
	gdn_log_free(log);
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	static char server_argv0[] = "guardian server";
	static char gc_argv0[] = "guardian gc";
	static char cleanup_argv0[] = "guardian cleanup";
	static char setup_argv0[] = "guardian setup";
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ const char **extra = NULL;
	const char *config = NULL;
	int r;
	struct gd_config cfg = {
	    .bind_socket = "/tmp/garden.sock",
	    .socket_mode = 0600,
	    .bind_port = 7777,
	    .debug_bind_port = GD_DEBUG_PORT_DEFAULT,
	    .depot = "/var/run/gdn/depot",
	    .store = "/var/lib/gdn/store",
	    .uid_map_start = 1,
	    .uid_map_length = 4294967293U,
	    .gid_map_start = 1,
	    .gid_map_length = 4294967293U,
	    .maxid = 4294967294U,
	    .runtime = "runc",
	    .network_pool = "10.254.0.0/22",
	    .port_pool_start = 61001,
	    .port_pool_size = 4534,
	    .log_level = GDN_LOG_INFO,
	    .store_size = GD_STORE_SIZE_DEFAULT,
	};

	gdn_log_init("guardian", GDN_LOG_INFO, STDERR_FILENO);
	/* gdn's order: guardian --config FILE server [FLAGS] */
	if (argc >= 3 && strcmp(argv[1], "--config") == 0) {
		config = argv[2];
		argv[2] = argv[0];
		argv += 2;
		argc -= 2;
	} else if (argc >= 2 && strncmp(argv[1], "--config=", 9) == 0) {
		config = argv[1] + 9;
		argv[1] = argv[0];
		argv++;
		argc--;
	}
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return gdn_cli_help(usage);
	if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-v") == 0))
		return gdn_cli_version("guardian");
	if (argc < 2)
		return gdn_cli_usage_error("guardian",
					   "missing command: guardian server [OPTIONS]");
	if (strcmp(argv[1], "unpack-layer") == 0)
		return gd_unpack_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "teardown-store") == 0) {
		static char teardown_argv0[] = "guardian teardown-store";
		argv[1] = teardown_argv0;
		return teardown_store_main(argc - 1, argv + 1);
	}
	bool gc = strcmp(argv[1], "gc") == 0, cleanup = strcmp(argv[1], "cleanup") == 0;
	bool setup = strcmp(argv[1], "setup") == 0;
	if (!gc && !cleanup && !setup && strcmp(argv[1], "server") != 0)
		return gdn_cli_usage_error("guardian", "unknown command '%s'", argv[1]);
	/* getopt_long's messages say "guardian server: " */
	argv[1] = gc ? gc_argv0 : cleanup ? cleanup_argv0 : setup ? setup_argv0 : server_argv0;
	/* --config FILE before the subcommand (gdn's order) or among its flags: the file's keys
	 * become flags in front of the command line's, which override them (lib/config.h) */
	int sub_argc = argc - 1;
	char **sub_argv = argv + 1;
	if ((r = gdn_config_apply(config, "server", options, refused_in_config, &sub_argc,
				  &sub_argv, &err)) < 0)
		return gdn_cli_usage_error("guardian", "%s", gdn_err_str(err));
	if (parse_flags(sub_argc, sub_argv, &cfg, &extra, &err) < 0)
		return gdn_cli_usage_error("guardian", "%s", gdn_err_str(err));
	gdn_log_init("guardian", cfg.log_level, STDERR_FILENO);
	if (gc)
		return gc_store(&cfg);
	if (setup)
		return setup_host(&cfg);
	if (cleanup)
		cfg.destroy_on_startup = true;
	if (serve(&cfg, cleanup, &err) < 0) {
		gdn_log_fatal(gdn_log_root(), "failed", err, NULL);
		return 1;
	}
	return 0;
}
