/* The depot and process-dir layout that guardian and dadoo share (docs/ARCHITECTURE.md "Depot
 * layout", docs/PROCESSES.md "Process dir"). dadoo outlives guardian, so a name here is part of
 * the contract between versions: rename one only with a compatibility rule. */
#pragma once

/* <depot>/<handle>/ */
#define GDN_DEPOT_PROPERTIES "properties.json" /* every property, rewritten atomically */
#define GDN_DEPOT_CONFIG "config.json"	       /* the OCI runtime config */
#define GDN_DEPOT_PIDFILE "pidfile"	       /* the container init's pid (the runtime's) */
#define GDN_DEPOT_CREATE_LOG "create.log"      /* the runtime's JSON log of `run` */
#define GDN_DEPOT_HOSTS "hosts"		       /* bind-mounted at /etc/hosts */
#define GDN_DEPOT_RESOLV_CONF "resolv.conf"    /* bind-mounted at /etc/resolv.conf */
#define GDN_DEPOT_ROOTFS "rootfs"	       /* the overlay mount point */
#define GDN_DEPOT_VOLUME "volume"	       /* overlay upper/ and work/ */
#define GDN_DEPOT_DESTROYING "destroying"      /* present while a destroy is under way */
#define GDN_DEPOT_CREATED "created"	       /* the record that create completed */
#define GDN_DEPOT_PROCESSES "processes"	       /* one process dir per process id */
#define GDN_DEPOT_IMAGE_PLUGIN "image-plugin"  /* which image plugin made the rootfs */

/* On a cgroup-v2-only host, the sub-cgroup of garden/<handle> holding the container's init and
 * its Runs (`<runtime> exec --cgroup @init`); '@' is in no process ID, so no pea's cgroup,
 * garden/<handle>/<id>, can be it. */
#define GDN_CGROUP_INIT_LEAF "@init"

/* <depot>/<handle>/processes/<id>/ */
#define GDN_PROC_SPEC "process.json"	   /* the OCI process, written by guardian */
#define GDN_PROC_PIDFILE "pidfile"	   /* the process's host pid (the runtime's) */
#define GDN_PROC_DADOO_PID "dadoo.pid"	   /* dadoo's pid */
#define GDN_PROC_DADOO_SOCK "dadoo.sock"   /* dadoo's SEQPACKET socket */
#define GDN_PROC_RUNTIME_LOG "runtime.log" /* the runtime's JSON log of `exec` */
#define GDN_PROC_DADOO_LOG "dadoo.log"	   /* dadoo's stderr */
#define GDN_PROC_EXITCODE "exitcode"	   /* the exit status, once the process has exited */
/* its dadoo died under the running process: the message every later Attach answers with */
#define GDN_PROC_SHIM_LOST "shim-lost"
/* Peas (processes with an image of their own): the process dir is the pea's OCI bundle. Its
 * config.json is written before dadoo starts it (dadoo then runs it with `<runtime> run`), its
 * rootfs/ is the built-in volumizer's overlay (and volume/ its records, as in a container dir)
 * and image-plugin names the plugin that made its rootfs instead. */
#define GDN_PROC_BUNDLE "config.json"
#define GDN_PROC_ROOTFS "rootfs"
#define GDN_PROC_IMAGE_PLUGIN "image-plugin"
