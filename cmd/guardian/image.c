/* Reading local OCI image layouts and docker-save archives (image.h).
 *
 * OCI (image-spec v1): <layout>/index.json lists manifests; with a tag the one whose
 * org.opencontainers.image.ref.name is the tag, else the only one. A nested image index is
 * followed to its linux/amd64 manifest (or its only one). Blobs are <layout>/blobs/<alg>/<hex>,
 * and a digest is checked to be sha256:<64 hex> before it becomes a path. The manifest's layers
 * pair with the config's rootfs.diff_ids.
 * docker save: manifest.json ([{"Config":…,"RepoTags":[…],"Layers":[…]}], one image) and the
 * config member it names, read with libarchive without unpacking anything. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <archive.h>
#include <archive_entry.h>
#include "lib/fs.h"
#include "lib/path.h"
#include "lib/util.h"
#include "cmd/guardian/image.h"

#define JSON_MAX (4 << 20) /* index, manifest or config */
#define REF_NAME "org.opencontainers.image.ref.name"

static int code_of(struct gdn_err **err)
{
	return err && *err ? gdn_err_code(*err) : -EINVAL;
}

void gd_layout_free(struct gd_layout *img)
{
	for (size_t i = 0; i < img->n_layers; i++) {
		free(img->layers[i].diff_id);
		free(img->layers[i].blob);
		free(img->layers[i].member);
	}
	free(img->layers);
	free(img->archive);
	free(img->user);
	free(img->workdir);
	json_decref(img->env);
	*img = (struct gd_layout){0};
}

static bool is_digest(const char *d)
{
	return d && strncmp(d, "sha256:", 7) == 0 && strlen(d) == 71 &&
	       strspn(d + 7, "0123456789abcdef") == 64;
}

static json_t *load_json(const char *path, struct gdn_err **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	json_error_t je;

	if (gdn_fs_read_file(path, JSON_MAX, &text, &len, err) < 0)
		return NULL;
	json_t *v = json_loadb(text, len, 0, &je);
	if (!v || !json_is_object(v)) {
		json_decref(v);
		(void)gdn_err_set(err, EINVAL, "'%s' is not a JSON object%s%s", path, v ? "" : ": ",
				  v ? "" : je.text);
	}
	return v;
}

static char *blob_path(const char *layout, const char *digest, struct gdn_err **err)
{
	char *p = NULL;
	if (!is_digest(digest)) {
		(void)gdn_err_set(err, EINVAL, "the OCI layout '%s' names a bad digest '%s'",
				  layout, digest ? digest : "");
		return NULL;
	}
	if (asprintf(&p, "%s/blobs/sha256/%s", layout, digest + 7) < 0) {
		(void)gdn_err_set(err, ENOMEM, "read the image");
		return NULL;
	}
	return p;
}

static json_t *load_blob(const char *layout, const json_t *desc, struct gdn_err **err)
{
	_cleanup_free_ char *p =
	    blob_path(layout, json_string_value(json_object_get(desc, "digest")), err);
	return p ? load_json(p, err) : NULL;
}

static bool is_index(const json_t *desc)
{
	const char *mt = json_string_value(json_object_get(desc, "mediaType"));
	return mt && (strcmp(mt, "application/vnd.oci.image.index.v1+json") == 0 ||
		      strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json") == 0);
}

/* The descriptor of index `idx` to use: by tag, else linux/amd64, else the only one. */
static const json_t *pick(const json_t *idx, const char *tag, const char *where,
			  struct gdn_err **err)
{
	const json_t *ms = json_object_get(idx, "manifests"), *m, *found = NULL;
	size_t i, n = json_array_size(ms);

	json_array_foreach (ms, i, m) {
		const json_t *ann = json_object_get(m, "annotations");
		const char *ref = json_string_value(json_object_get(ann, REF_NAME));
		const json_t *plat = json_object_get(m, "platform");
		const char *os = json_string_value(json_object_get(plat, "os"));
		const char *arch = json_string_value(json_object_get(plat, "architecture"));
		if (tag ? (ref && strcmp(ref, tag) == 0)
			: (os && arch && strcmp(os, "linux") == 0 && strcmp(arch, "amd64") == 0)) {
			found = m;
			break;
		}
	}
	if (!found && !tag && n == 1)
		found = json_array_get(ms, 0);
	if (!found) {
		if (tag)
			(void)gdn_err_set(err, ENOENT,
					  "the OCI layout '%s' has no image tagged '%s'", where,
					  tag);
		else
			(void)gdn_err_set(err, ENOENT,
					  "the OCI layout '%s' holds %zu images: name one with "
					  "oci://%s:TAG",
					  where, n, where);
	}
	return found;
}

/* Env, User, WorkingDir and the diff_ids of config `cfg`, paired with `n` layers. */
static int take_config(const json_t *cfg, size_t n, const char *where, struct gd_layout *img,
		       struct gdn_err **err)
{
	const json_t *c = json_object_get(cfg, "config");
	const json_t *ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	const json_t *env = json_object_get(c, "Env"), *v;
	const char *user = json_string_value(json_object_get(c, "User"));
	const char *wd = json_string_value(json_object_get(c, "WorkingDir"));
	size_t i;

	if (json_array_size(ids) != n)
		return gdn_err_set(err, EINVAL,
				   "the image '%s' has %zu layers but its config %zu diff_ids",
				   where, n, json_array_size(ids));
	json_array_foreach (env, i, v)
		if (!json_is_string(v))
			return gdn_err_set(err, EINVAL, "the image '%s' has a bad Env", where);
	img->layers = calloc(n ? n : 1, sizeof(*img->layers));
	if (!img->layers)
		return gdn_err_set(err, ENOMEM, "read the image");
	img->n_layers = n;
	for (i = 0; i < n; i++) {
		const char *id = json_string_value(json_array_get(ids, i));
		if (!is_digest(id))
			return gdn_err_set(err, EINVAL, "the image '%s' has a bad diff_id '%s'",
					   where, id ? id : "");
		if (!(img->layers[i].diff_id = strdup(id)))
			return gdn_err_set(err, ENOMEM, "read the image");
	}
	if (json_is_array(env))
		img->env = json_incref((json_t *)env);
	if ((user && *user && !(img->user = strdup(user))) ||
	    (wd && *wd && !(img->workdir = strdup(wd))))
		return gdn_err_set(err, ENOMEM, "read the image");
	return 0;
}

static int read_oci(const char *spec, struct gd_layout *img, struct gdn_err **err)
{
	_cleanup_free_ char *layout = strdup(spec);
	if (!layout)
		return gdn_err_set(err, ENOMEM, "read the image");
	/* oci:///path:tag — a tag is what follows a ':' after the last '/' */
	char *slash = strrchr(layout, '/');
	char *colon = strchr(slash ? slash : layout, ':');
	const char *tag = NULL;
	if (colon) {
		*colon = '\0';
		tag = colon + 1;
		if (!*tag)
			return gdn_err_set(err, EINVAL, "the image URI 'oci://%s' has an empty tag",
					   spec);
	}
	if (layout[0] != '/')
		return gdn_err_set(err, EINVAL, "the image URI 'oci://%s' is not an absolute path",
				   spec);
	_cleanup_free_ char *index_path = gdn_path_join(layout, "index.json");
	if (!index_path)
		return gdn_err_set(err, ENOMEM, "read the image");
	json_auto_t *index = load_json(index_path, err);
	if (!index)
		return gdn_err_wrap(err, "read the OCI layout '%s'", layout);
	const json_t *desc = pick(index, tag, layout, err);
	json_auto_t *manifest = desc ? load_blob(layout, desc, err) : NULL;
	for (int depth = 0; manifest && is_index(desc) && depth < 4; depth++) {
		json_t *inner = manifest;
		desc = pick(inner, NULL, layout, err);
		manifest = desc ? load_blob(layout, desc, err) : NULL;
		json_decref(inner);
	}
	if (!manifest)
		return code_of(err);
	json_auto_t *config = load_blob(layout, json_object_get(manifest, "config"), err);
	if (!config)
		return gdn_err_wrap(err, "read the config of '%s'", layout);
	const json_t *layers = json_object_get(manifest, "layers"), *l;
	size_t i;
	int r = take_config(config, json_array_size(layers), layout, img, err);
	json_array_foreach (layers, i, l) {
		if (r < 0)
			break;
		const char *mt = json_string_value(json_object_get(l, "mediaType"));
		if (mt && strstr(mt, "+encrypted"))
			return gdn_err_set(err, ENOTSUP, "the image '%s' has an encrypted layer",
					   layout);
		img->layers[i].blob =
		    blob_path(layout, json_string_value(json_object_get(l, "digest")), err);
		if (!img->layers[i].blob)
			r = code_of(err);
	}
	return r;
}

static void archive_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

/* The text of `member` of the tar at `path` (a few MiB at most). */
static json_t *archive_json(const char *path, const char *member, struct gdn_err **err)
{
	_cleanup_(archive_freep) struct archive *a = archive_read_new();
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct archive_entry *e;
	int r;

	if (fd < 0) {
		(void)gdn_err_set(err, errno, "open the archive '%s'", path);
		return NULL;
	}
	if (!a) {
		(void)gdn_err_set(err, ENOMEM, "read the image");
		return NULL;
	}
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK) {
		(void)gdn_err_set(err, EINVAL, "the archive '%s': %s", path,
				  archive_error_string(a));
		return NULL;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		if (strncmp(name, "./", 2) == 0)
			name += 2;
		if (strcmp(name, member) != 0)
			continue;
		la_int64_t size = archive_entry_size(e);
		if (size < 0 || size > JSON_MAX) {
			(void)gdn_err_set(err, EFBIG, "'%s' in '%s' is too big", member, path);
			return NULL;
		}
		_cleanup_free_ char *text = malloc((size_t)size + 1);
		if (!text) {
			(void)gdn_err_set(err, ENOMEM, "read the image");
			return NULL;
		}
		la_ssize_t got = archive_read_data(a, text, (size_t)size);
		json_error_t je;
		json_t *v = got == size ? json_loadb(text, (size_t)size, 0, &je) : NULL;
		if (!v)
			(void)gdn_err_set(err, EINVAL, "'%s' in the archive '%s' is not JSON",
					  member, path);
		return v;
	}
	if (r == ARCHIVE_EOF)
		(void)gdn_err_set(err, ENOENT, "the archive '%s' has no '%s'", path, member);
	else
		(void)gdn_err_set(err, EINVAL, "the archive '%s': %s", path,
				  archive_error_string(a));
	return NULL;
}

static int read_docker(const char *path, struct gd_layout *img, struct gdn_err **err)
{
	if (path[0] != '/')
		return gdn_err_set(err, EINVAL,
				   "the image URI 'docker-archive://%s' is not an absolute path",
				   path);
	json_auto_t *manifest = archive_json(path, "manifest.json", err);
	if (!manifest)
		return code_of(err);
	if (json_array_size(manifest) != 1)
		return gdn_err_set(err, EINVAL,
				   "the archive '%s' must hold exactly one image (it holds %zu)",
				   path, json_array_size(manifest));
	const json_t *m = json_array_get(manifest, 0);
	const char *cfg_name = json_string_value(json_object_get(m, "Config"));
	const json_t *layers = json_object_get(m, "Layers"), *l;
	if (!cfg_name || !json_is_array(layers))
		return gdn_err_set(err, EINVAL, "the archive '%s' has a bad manifest.json", path);
	json_auto_t *config = archive_json(path, cfg_name, err);
	if (!config)
		return code_of(err);
	size_t i;
	int r = take_config(config, json_array_size(layers), path, img, err);
	if (r >= 0 && !(img->archive = strdup(path)))
		r = gdn_err_set(err, ENOMEM, "read the image");
	json_array_foreach (layers, i, l) {
		const char *name = json_string_value(l);
		if (r < 0)
			break;
		if (!name || !*name)
			return gdn_err_set(err, EINVAL, "the archive '%s' names a bad layer", path);
		if (!(img->layers[i].member = strdup(name)))
			r = gdn_err_set(err, ENOMEM, "read the image");
	}
	return r;
}

int gd_layout_read(const char *uri, struct gd_layout *ret, struct gdn_err **err)
{
	struct gd_layout img = {0};
	int r;

	if (strncmp(uri, "oci://", 6) == 0)
		r = read_oci(uri + 6, &img, err);
	else if (strncmp(uri, "docker-archive://", 17) == 0)
		r = read_docker(uri + 17, &img, err);
	else
		r = gdn_err_set(err, EINVAL, "'%s' is not an image URI", uri);
	if (r >= 0 && img.n_layers == 0)
		r = gdn_err_set(err, EINVAL, "the image '%s' has no layers", uri);
	if (r < 0) {
		gd_layout_free(&img);
		return r;
	}
	*ret = img;
	return 0;
}
