#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <bsd/string.h>

#include "lib/fs.h"
#include "lib/path.h"
#include "cmd/guardian/prepare.h"

#define INIT_MAX (64 * 1024 * 1024)

/* Every directory from `path` up to / must let "others" search it. */
static int check_reachable(const char *what, const char *path, struct gdn_err **err)
{
	char dir[PATH_MAX];

	if (strlcpy(dir, path, sizeof(dir)) >= sizeof(dir))
		return gdn_err_set(err, ENAMETOOLONG, "%s '%s'", what, path);
	for (;;) {
		struct stat st;
		char *slash;

		if (stat(dir, &st) < 0)
			return gdn_err_set(err, errno, "%s: stat '%s'", what, dir);
		if (!(st.st_mode & S_IXOTH))
			return gdn_err_kind(err, GDN_ERR_GENERIC, EACCES,
					    "%s '%s' is not reachable by unprivileged containers: "
					    "'%s' lacks o+x (chmod o+x '%s')",
					    what, path, dir, dir);
		slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			return 0;
		*slash = '\0';
	}
}

static int resolve(const char *what, const char *path, char *out, struct gdn_err **err)
{
	if (!realpath(path, out))
		return gdn_err_set(err, errno, "%s '%s'", what, path);
	return 0;
}

/* Copies the init binary into the store unless an identical copy is there already. */
static int install_init(const char *src, const char *store, char *out, struct gdn_err **err)
{
	_cleanup_free_ char *bin = gdn_path_join(store, "bin");
	_cleanup_free_ char *have = NULL, *want = NULL;
	size_t have_len = 0, want_len = 0;
	int r;

	if (!bin)
		return gdn_err_set(err, ENOMEM, "install init");
	(void)snprintf(out, PATH_MAX, "%s/garden-init", bin);
	if ((r = gdn_fs_read_file(src, INIT_MAX, &want, &want_len, err)) < 0)
		return gdn_err_wrap(err, "--init-bin");
	if (gdn_fs_read_file(out, INIT_MAX, &have, &have_len, NULL) >= 0 && have_len == want_len &&
	    memcmp(have, want, want_len) == 0)
		return 0;
	if ((r = gdn_fs_mkdir_p(bin, 0755, err)) < 0)
		return r;
	return gdn_fs_write_atomic(out, want, want_len, 0755, err);
}

int gd_prepare_paths(struct gd_config *cfg, struct gdn_err **err)
{
	static char depot[PATH_MAX], store[PATH_MAX], rootfs[PATH_MAX], init_bin[PATH_MAX];
	int r;

	if ((r = gdn_fs_mkdir_p(cfg->depot, 0755, err)) < 0 ||
	    (r = gdn_fs_mkdir_p(cfg->store, 0755, err)) < 0 ||
	    (r = resolve("--depot", cfg->depot, depot, err)) < 0 ||
	    (r = resolve("--store", cfg->store, store, err)) < 0)
		return r;
	cfg->depot = depot;
	cfg->store = store;
	if ((r = check_reachable("--depot", depot, err)) < 0 ||
	    (r = check_reachable("--store", store, err)) < 0)
		return r;
	/* with image plugins it may be any URI the plugin takes, not a local directory */
	if (cfg->default_rootfs &&
	    !(cfg->image_plugins_used && strstr(cfg->default_rootfs, "://"))) {
		if ((r = resolve("--default-rootfs", cfg->default_rootfs, rootfs, err)) < 0)
			return r;
		cfg->default_rootfs = rootfs;
	}
	if (!cfg->init_bin || access(cfg->init_bin, X_OK) < 0)
		return gdn_err_kind(err, GDN_ERR_GENERIC, ENOENT,
				    "--init-bin '%s': no executable garden-init",
				    cfg->init_bin ? cfg->init_bin : "(not found)");
	if ((r = install_init(cfg->init_bin, store, init_bin, err)) < 0)
		return r;
	cfg->init_bin = init_bin;
	return 0;
}
