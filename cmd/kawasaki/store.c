/* kawasaki's state directory. Every allocation is one file, written atomically (temp file and
 * rename) before the kernel is touched and removed only after everything it describes is gone:
 *
 *   <state-dir>/lock                  flock held by the daemon (one daemon per state dir)
 *   <state-dir>/containers/<handle>   {"handle","id","subnet","ip","bridge","host_if",
 *                                     "container_if","mtu","masq","ports":[{"host","container",
 *                                     "pooled"}]}
 *   <state-dir>/ports.json            {"cursor":N}: where the port pool's rotation stands
 *
 * A kill -9 at any moment leaves each container's file either absent (nothing of it was made
 * yet, or all of it was removed) or present (whatever it names may exist; down and cleanup
 * remove what does). At start-up the files are replayed into the pools, so nothing held is
 * handed out twice. Writing one small file per change keeps the cost independent of the number
 * of containers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lib/fs.h"
#include "lib/path.h"
#include "lib/util.h"
#include "cmd/kawasaki/kawasaki.h"

#define CONTAINERS_DIR "containers"
#define PORTS_FILE "ports.json"
#define MAX_STATE_FILE (256 * 1024)

void kw_alloc_free(struct kw_alloc *a)
{
	if (!a)
		return;
	free(a->handle);
	free(a->masq);
	free(a->ports);
	free(a);
}

struct kw_alloc *kw_alloc_find(struct kw_daemon *d, const char *handle)
{
	for (struct kw_alloc *a = d->allocs; a; a = a->next)
		if (strcmp(a->handle, handle) == 0)
			return a;
	return NULL;
}

void kw_alloc_unlink(struct kw_daemon *d, struct kw_alloc *a)
{
	for (struct kw_alloc **p = &d->allocs; *p; p = &(*p)->next)
		if (*p == a) {
			*p = a->next;
			d->n_allocs--;
			return;
		}
}

json_t *kw_alloc_to_json(const struct kw_alloc *a)
{
	char subnet[GDN_NET_CIDR_STRLEN], ip[GDN_NET_IPV4_STRLEN];
	json_t *ports = json_array();

	for (size_t i = 0; ports && i < a->n_ports; i++)
		json_array_append_new(ports, json_pack("{s:i,s:i,s:b}", "host", a->ports[i].host,
						       "container", a->ports[i].container, "pooled",
						       a->ports[i].pooled));
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:s?,s:o*}", "handle", a->handle, "id",
			 a->id, "subnet", gdn_net_cidr_str(&a->subnet, subnet), "ip",
			 gdn_net_ipv4_str(a->ip, ip), "bridge", a->bridge, "host_if", a->host_if,
			 "container_if", a->container_if, "mtu", (int)a->mtu, "masq", a->masq,
			 "ports", ports);
}

static int copy_name(char *dst, size_t size, const json_t *v)
{
	const char *s = json_string_value(v);
	if (!s || strlen(s) >= size || !*s)
		return -EINVAL;
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

static int alloc_from_json(const json_t *j, struct kw_alloc **ret)
{
	struct kw_alloc *a = calloc(1, sizeof(*a));
	const json_t *ports = json_object_get(j, "ports");
	const char *handle = json_string_value(json_object_get(j, "handle"));
	const char *subnet = json_string_value(json_object_get(j, "subnet"));
	const char *ip = json_string_value(json_object_get(j, "ip"));
	const char *masq = json_string_value(json_object_get(j, "masq"));
	json_int_t mtu = json_integer_value(json_object_get(j, "mtu"));
	int r = 0;

	if (!a)
		return -ENOMEM;
	if (!handle || !subnet || !ip || gdn_net_parse_cidr(subnet, &a->subnet, NULL) < 0 ||
	    gdn_net_parse_ipv4(ip, &a->ip) < 0 || mtu <= 0 || mtu > 65535 ||
	    copy_name(a->id, sizeof(a->id), json_object_get(j, "id")) < 0 ||
	    copy_name(a->bridge, sizeof(a->bridge), json_object_get(j, "bridge")) < 0 ||
	    copy_name(a->host_if, sizeof(a->host_if), json_object_get(j, "host_if")) < 0 ||
	    copy_name(a->container_if, sizeof(a->container_if),
		      json_object_get(j, "container_if")) < 0 ||
	    (ports && !json_is_array(ports)) || json_array_size(ports) > KW_MAX_PORTS)
		r = -EINVAL;
	a->subnet.ip = a->subnet.network;
	a->mtu = (unsigned)mtu;
	a->handle = r == 0 ? strdup(handle) : NULL;
	a->masq = r == 0 && masq ? strdup(masq) : NULL;
	if (r == 0 && (!a->handle || (masq && !a->masq)))
		r = -ENOMEM;
	if (r == 0 && json_array_size(ports)) {
		a->ports = calloc(json_array_size(ports), sizeof(*a->ports));
		if (!a->ports)
			r = -ENOMEM;
	}
	for (size_t i = 0; r == 0 && i < json_array_size(ports); i++) {
		const json_t *p = json_array_get(ports, i);
		json_int_t h = json_integer_value(json_object_get(p, "host"));
		json_int_t c = json_integer_value(json_object_get(p, "container"));
		if (h <= 0 || h > 65535 || c <= 0 || c > 65535) {
			r = -EINVAL;
			break;
		}
		a->ports[i] = (struct kw_port){(uint16_t)h, (uint16_t)c,
					       json_is_true(json_object_get(p, "pooled"))};
		a->n_ports++;
	}
	if (r < 0) {
		kw_alloc_free(a);
		return r;
	}
	*ret = a;
	return 0;
}

static char *alloc_path(struct kw_daemon *d, const char *handle)
{
	_cleanup_free_ char *dir = gdn_path_join(d->cfg->state_dir, CONTAINERS_DIR);
	return dir ? gdn_path_join(dir, handle) : NULL;
}

int kw_store_save(struct kw_daemon *d, const struct kw_alloc *a, struct gdn_err **err)
{
	json_auto_t *j = kw_alloc_to_json(a);
	_cleanup_free_ char *path = alloc_path(d, a->handle);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;

	text = j && path ? gdn_json_line(j, &len) : NULL;
	if (!text)
		return gdn_err_set(err, ENOMEM, "cannot record the network of '%s'", a->handle);
	return gdn_fs_write_atomic(path, text, len, 0600, err);
}

int kw_store_remove(struct kw_daemon *d, const char *handle, struct gdn_err **err)
{
	_cleanup_free_ char *path = alloc_path(d, handle);

	if (!path)
		return gdn_err_set(err, ENOMEM, "cannot remove the record of '%s'", handle);
	if (unlink(path) < 0 && errno != ENOENT)
		return gdn_err_set(err, errno, "remove '%s'", path);
	return 0;
}

int kw_store_save_cursor(struct kw_daemon *d, struct gdn_err **err)
{
	_cleanup_free_ char *path = gdn_path_join(d->cfg->state_dir, PORTS_FILE);
	char text[64];
	int n = snprintf(text, sizeof(text), "{\"cursor\":%u}\n",
			 (unsigned)kw_pool_port_cursor(d->pool));

	if (!path)
		return gdn_err_set(err, ENOMEM, "cannot record the port pool");
	return gdn_fs_write_atomic(path, text, (size_t)n, 0600, err);
}

static void load_cursor(struct kw_daemon *d)
{
	_cleanup_free_ char *path = gdn_path_join(d->cfg->state_dir, PORTS_FILE);
	_cleanup_free_ char *text = NULL;
	size_t len;

	if (!path || gdn_fs_read_file(path, 4096, &text, &len, NULL) < 0)
		return;
	json_auto_t *j = json_loads(text, 0, NULL);
	json_int_t c = json_integer_value(json_object_get(j, "cursor"));
	if (c > 0 && c <= 65535)
		kw_pool_port_set_cursor(d->pool, (uint16_t)c);
}

/* Replays one record into the pools; a record that cannot be replayed is kept on disk (and
 * reported) rather than dropped, so that nothing it names is handed out again by mistake
 * after an operator fixes it. */
static int replay(struct kw_daemon *d, struct kw_alloc *a, struct gdn_err **err)
{
	int r = kw_pool_mark(d->pool, &a->subnet, a->ip, err);
	if (r < 0)
		return gdn_err_wrap(err, "the network of '%s'", a->handle);
	for (size_t i = 0; i < a->n_ports; i++)
		if (a->ports[i].pooled && kw_pool_port_take(d->pool, a->ports[i].host, err) < 0)
			return gdn_err_wrap(err, "the ports of '%s'", a->handle);
	return 0;
}

static int load_one(struct kw_daemon *d, int dirfd, const char *name)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ char *path = NULL;
	struct kw_alloc *a = NULL;
	size_t len;

	if (asprintf(&path, "/proc/self/fd/%d/%s", dirfd, name) < 0) {
		path = NULL;
		return -ENOMEM;
	}
	int r = gdn_fs_read_file(path, MAX_STATE_FILE, &text, &len, &e);
	json_auto_t *j = r >= 0 ? json_loads(text, 0, NULL) : NULL;
	if (r >= 0 && j && alloc_from_json(j, &a) == 0 && strcmp(a->handle, name) != 0) {
		/* a temp file of a write that was interrupted (gdn_fs_write_atomic's
		 * <name>.tmp.<pid>.<n>): the record it was replacing is still in place */
		bool stale = strncmp(name, a->handle, strlen(a->handle)) == 0 &&
			     strncmp(name + strlen(a->handle), ".tmp.", 5) == 0;
		kw_alloc_free(a);
		a = NULL;
		if (stale) {
			(void)unlinkat(dirfd, name, 0);
			return 0;
		}
	}
	if (r >= 0 && !a)
		r = gdn_err_set(&e, EINVAL, "the record '%s' is not valid", name);
	else if (r >= 0 && kw_alloc_find(d, a->handle))
		r = gdn_err_set(&e, EEXIST, "'%s' is recorded twice", name);
	else if (r >= 0)
		r = replay(d, a, &e);
	if (r < 0 || !a) {
		gdn_log_error(d->log, "store.load-failed", e, "record", name, NULL);
		kw_alloc_free(a);
		return r < 0 ? r : -EINVAL;
	}
	a->next = d->allocs;
	d->allocs = a;
	d->n_allocs++;
	return 0;
}

int kw_store_open(struct kw_daemon *d, struct gdn_err **err)
{
	_cleanup_free_ char *dir = gdn_path_join(d->cfg->state_dir, CONTAINERS_DIR);
	_cleanup_free_ char *lock = gdn_path_join(d->cfg->state_dir, "lock");

	if (!dir || !lock)
		return gdn_err_set(err, ENOMEM, "state dir");
	int r = gdn_fs_mkdir_p(dir, 0700, err);
	if (r < 0)
		return r;
	d->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (d->lock_fd < 0)
		return gdn_err_set(err, errno, "open '%s'", lock);
	if (flock(d->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return gdn_err_set(err, errno == EWOULDBLOCK ? EBUSY : errno,
				   "another kawasaki holds the state dir '%s'", d->cfg->state_dir);

	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return gdn_err_set(err, errno, "open '%s'", dir);
	DIR *ds = fdopendir(fcntl(dfd, F_DUPFD_CLOEXEC, 0));
	if (!ds)
		return gdn_err_set(err, errno, "read '%s'", dir);
	for (struct dirent *e; (e = readdir(ds));) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		(void)load_one(d, dfd, e->d_name);
	}
	(void)closedir(ds);
	load_cursor(d);
	return 0;
}
