/* GET /debug/vars' body: see debug_vars.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/depot.h"
#include "lib/fs.h"
#include "lib/util.h"
#include "cmd/guardian/debug_vars.h"

/* /proc/self/cmdline is at most ARG_MAX-ish; more than this is not worth showing. */
#define CMDLINE_MAX (4 * 1024 * 1024)
#define STATUS_MAX (64 * 1024)

/* "Key:\t  1234 kB" -> 1234 * 1024; false if the line is not there or not a number. */
static bool status_kb(const char *text, const char *key, uint64_t *ret)
{
	size_t klen = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, klen) != 0 || p[klen] != ':')
			continue;
		char *end;
		errno = 0;
		unsigned long long kb = strtoull(p + klen + 1, &end, 10);
		if (errno || end == p + klen + 1)
			return false;
		*ret = (uint64_t)kb * 1024;
		return true;
	}
	return false;
}

void gd_debug_parse_status(const char *text, struct gd_mem_sources *m)
{
	(void)status_kb(text, "VmData", &m->vm_data);
	(void)status_kb(text, "VmStk", &m->vm_stk);
}

static int set_u64(json_t *o, const char *key, uint64_t v)
{
	return json_object_set_new(o, key, gdn_json_u64(v));
}

/* Which source feeds which of Go's fields (Go's meaning in brackets):
 *   HeapSys [heap memory obtained from the OS]   = arena + hblkhd
 *   HeapAlloc, Alloc [bytes of live objects]     = uordblks + hblkhd
 *   HeapInuse [bytes in in-use spans]            = uordblks + hblkhd
 *   HeapIdle [bytes in idle spans]               = fordblks (HeapSys - HeapInuse)
 *   HeapReleased [idle bytes given back]         = keepcost: the free top of the heap that
 *       malloc_trim would give back; glibc counts what it has released nowhere
 *   TotalAlloc [bytes ever allocated]            = Alloc, its lower bound: glibc keeps no
 *       running total
 *   StackInuse, StackSys [stack memory]          = VmStk (the main stack; guardian has no
 *       other threads)
 *   Sys [address space obtained from the OS]     = VmData + VmStk (Go's Sys is address space,
 *       not residency, so VmRSS would understate it)
 *   OtherSys [the rest of Sys]                   = Sys - HeapSys - StackSys (at least 0), so
 *       that Sys is the sum of the *Sys fields as in Go
 * glibc counts no objects, so Mallocs, Frees and HeapObjects are 0 (HeapObjects = Mallocs -
 * Frees still holds), and C has no garbage collector: the GC fields are 0, EnableGC is true
 * and DebugGC false, as a Go program that never collected reports them. */
json_t *gd_debug_memstats(const struct gd_mem_sources *m)
{
	uint64_t heap_sys = m->arena + m->hblkhd;
	uint64_t alloc = m->uordblks + m->hblkhd;
	uint64_t sys = m->vm_data + m->vm_stk;
	uint64_t other = sys > heap_sys + m->vm_stk ? sys - heap_sys - m->vm_stk : 0;
	const struct {
		const char *name;
		uint64_t v;
	} fields[] = {
	    {"Alloc", alloc},
	    {"TotalAlloc", alloc},
	    {"Sys", sys},
	    {"Lookups", 0},
	    {"Mallocs", 0},
	    {"Frees", 0},
	    {"HeapAlloc", alloc},
	    {"HeapSys", heap_sys},
	    {"HeapIdle", m->fordblks},
	    {"HeapInuse", alloc},
	    {"HeapReleased", m->keepcost},
	    {"HeapObjects", 0},
	    {"StackInuse", m->vm_stk},
	    {"StackSys", m->vm_stk},
	    {"MSpanInuse", 0},
	    {"MSpanSys", 0},
	    {"MCacheInuse", 0},
	    {"MCacheSys", 0},
	    {"BuckHashSys", 0},
	    {"GCSys", 0},
	    {"OtherSys", other},
	    {"NextGC", 0},
	    {"LastGC", 0},
	    {"PauseTotalNs", 0},
	    {"NumGC", 0},
	    {"NumForcedGC", 0},
	};
	json_t *o = json_object();
	int r = o ? 0 : -1;

	for (size_t i = 0; r == 0 && i < GDN_ARRAY_SIZE(fields); i++)
		r = set_u64(o, fields[i].name, fields[i].v);
	/* Go's json.Marshal writes a float64 0 as "0", which an integer reproduces */
	if (r == 0)
		r = json_object_set_new(o, "GCCPUFraction", json_integer(0));
	if (r == 0)
		r = json_object_set_new(o, "EnableGC", json_true());
	if (r == 0)
		r = json_object_set_new(o, "DebugGC", json_false());
	if (r < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *gd_debug_cmdline(const char *buf, size_t len)
{
	json_t *a = json_array();
	size_t i = 0;

	while (a && i < len) {
		const char *nul = memchr(buf + i, '\0', len - i);
		size_t n = nul ? (size_t)(nul - (buf + i)) : len - i;

		if (json_array_append_new(a, json_stringn(buf + i, n)) < 0) {
			json_decref(a);
			return NULL;
		}
		i += n + 1;
	}
	return a;
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* vars' members in the order of keys (n of them), as gd_debug_vars_render writes them. */
static int render_sorted(const json_t *vars, const char **keys, size_t n, struct gdn_buf *out)
{
	if (gdn_buf_puts(out, "{\n") < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t len = 0;
		_cleanup_free_ char *text = gdn_json_line(json_object_get(vars, keys[i]), &len);

		if (!text)
			return -ENOMEM;
		if (i > 0 && gdn_buf_puts(out, ",\n") < 0)
			return -ENOMEM;
		/* gdn_json_line's '\n' is dropped; keys are plain names, quoted as %q does */
		if (gdn_buf_printf(out, "\"%s\": ", keys[i]) < 0 ||
		    gdn_buf_append(out, text, len - 1) < 0)
			return -ENOMEM;
	}
	return gdn_buf_puts(out, "\n}\n") < 0 ? -ENOMEM : 0;
}

int gd_debug_vars_render(const json_t *vars, struct gdn_buf *out)
{
	size_t n = json_object_size(vars), i = 0;
	_cleanup_free_ const char **keys = calloc(n + 1, sizeof(*keys));
	const char *key;
	json_t *v;

	if (!keys)
		return -ENOMEM;
	json_object_foreach ((json_t *)vars, key, v)
		keys[i++] = key;
	qsort(keys, n, sizeof(*keys), cmp_keys);
	return render_sorted(vars, keys, n, out);
}

/* Counts the entries of the directory open at fd for which keep(at, name, ud) is true (all
 * when keep is NULL), and closes fd. */
static uint64_t count_in(int fd, bool (*keep)(int at, const char *name, void *ud), void *ud)
{
	_cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *ent;
	uint64_t n = 0;

	if (!d) {
		if (fd >= 0)
			(void)close(fd);
		return 0;
	}
	while ((ent = readdir(d))) {
		if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
			continue;
		if (!keep || keep(dirfd(d), ent->d_name, ud))
			n++;
	}
	return n;
}

static int open_dir(int at, const char *path)
{
	return openat(at, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

uint64_t gd_debug_count_entries(const char *dir)
{
	return count_in(open_dir(AT_FDCWD, dir), NULL, NULL);
}

static bool is_attached_loop(int at, const char *name, void *ud)
{
	char path[NAME_MAX + 32];

	(void)ud;
	if (strncmp(name, "loop", 4) != 0)
		return false;
	/* the loop/ directory, and its backing_file, exist only while a file is attached */
	(void)snprintf(path, sizeof(path), "%s/loop/backing_file", name);
	return faccessat(at, path, F_OK, 0) == 0;
}

uint64_t gd_debug_count_loop_devices(const char *sys_block)
{
	return count_in(open_dir(AT_FDCWD, sys_block), is_attached_loop, NULL);
}

static bool is_running_process(int at, const char *name, void *ud)
{
	char path[NAME_MAX + 16];

	(void)ud;
	(void)snprintf(path, sizeof(path), "%s/" GDN_PROC_EXITCODE, name);
	return faccessat(at, path, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT;
}

/* Adds the running processes of the container dir `name` to *(uint64_t *)ud; never kept. */
static bool add_processes(int at, const char *name, void *ud)
{
	char path[NAME_MAX + 16];

	(void)snprintf(path, sizeof(path), "%s/" GDN_DEPOT_PROCESSES, name);
	*(uint64_t *)ud += count_in(open_dir(at, path), is_running_process, NULL);
	return false;
}

uint64_t gd_debug_count_processes(const char *depot)
{
	uint64_t n = 0;

	(void)count_in(open_dir(AT_FDCWD, depot), add_processes, &n);
	return n;
}

json_t *gd_debug_read_cmdline(void)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;

	if (gdn_fs_read_file("/proc/self/cmdline", CMDLINE_MAX, &buf, &len, NULL) < 0)
		return json_array();
	return gd_debug_cmdline(buf, len);
}

void gd_debug_read_mem(struct gd_mem_sources *m)
{
	struct mallinfo2 mi = mallinfo2();
	_cleanup_free_ char *status = NULL;
	size_t len = 0;

	m->arena = mi.arena;
	m->uordblks = mi.uordblks;
	m->fordblks = mi.fordblks;
	m->hblkhd = mi.hblkhd;
	m->keepcost = mi.keepcost;
	if (gdn_fs_read_file("/proc/self/status", STATUS_MAX, &status, &len, NULL) == 0)
		gd_debug_parse_status(status, m);
}
