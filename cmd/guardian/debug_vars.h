/* The body of the debug server's GET /debug/vars (debug_vars.c): Go expvar's JSON, with the
 * members Go always has ("cmdline", "memstats"), those Garden adds ("numCPUS", "numGoRoutines",
 * "loopDevices", "backingStores", "depotDirs") and garden-c's counters ("containers",
 * "processes", "requestsInFlight"). Building and rendering are pure; the readers look at a few
 * small files and directories only, so the loop may call them. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "lib/buf.h"

/* Where runtime.MemStats' figures come from in a C process (gd_debug_memstats says which
 * feeds which field). */
struct gd_mem_sources {
	/* mallinfo2(): bytes */
	uint64_t arena;	   /* obtained with brk (the main arena's heap) */
	uint64_t uordblks; /* allocated in the arena */
	uint64_t fordblks; /* free in the arena */
	uint64_t hblkhd;   /* allocated as mmap'd chunks (large allocations) */
	uint64_t keepcost; /* free at the top of the heap, which malloc_trim could give back */
	/* /proc/self/status: bytes */
	uint64_t vm_data; /* VmData: private writable mappings (heap, anonymous mmaps) */
	uint64_t vm_stk;  /* VmStk: the main thread's stack */
};

/* Fills vm_data and vm_stk from the text of /proc/<pid>/status ("VmData:\t  1234 kB"); a
 * line that is missing leaves its field alone. */
void gd_debug_parse_status(const char *text, struct gd_mem_sources *m);

/* runtime.MemStats' scalar fields, in Go's order, from m. NULL on ENOMEM. */
json_t *gd_debug_memstats(const struct gd_mem_sources *m);

/* os.Args from /proc/self/cmdline's bytes: NUL-terminated strings (a last one without its NUL
 * counts too). NULL on ENOMEM. */
json_t *gd_debug_cmdline(const char *buf, size_t len);

/* Appends vars (an object) as Go's expvar handler writes it: "{\n", then each member as
 * "\"key\": <compact JSON>" in the byte order of the keys, separated by ",\n", then "\n}\n".
 * 0 or -ENOMEM. */
int gd_debug_vars_render(const json_t *vars, struct gdn_buf *out);

/* Readers; each counts 0 for a directory that does not exist or cannot be read. */
/* Entries of dir other than "." and "..". */
uint64_t gd_debug_count_entries(const char *dir);
/* Attached loop devices: the loop* entries of sys_block (/sys/block) with loop/backing_file. */
uint64_t gd_debug_count_loop_devices(const char *sys_block);
/* Process dirs (<depot>/<handle>/processes/<id>) without an exitcode: processes whose dadoo
 * has not yet recorded an exit. */
uint64_t gd_debug_count_processes(const char *depot);
/* This process's argv (gd_debug_cmdline of /proc/self/cmdline; [] if unreadable). */
json_t *gd_debug_read_cmdline(void);
/* This process's memory figures: mallinfo2() and /proc/self/status. */
void gd_debug_read_mem(struct gd_mem_sources *m);
