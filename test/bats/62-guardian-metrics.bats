#!/usr/bin/env bats
# Metrics and BulkMetrics (protocol §4.9-4.10): every field Garden serves, checked against the
# container's own cgroup files, the depot and the volumizer, on whatever cgroup layout the host
# has (v1, hybrid or pure v2). The image plugin's DiskStat and a slow plugin's stats not holding
# up other requests are in 35-guardian-imageplugin.bats.

load helpers/common

setup_file() {
	gdn_setup_file
}

teardown_file() {
	gdn_teardown_file
}

teardown() {
	gdn_teardown
}

# cg_file HANDLE V1-CONTROLLER FILE: the host path of FILE in HANDLE's init's cgroup: in the v1
# CONTROLLER hierarchy when it is mounted, else in the unified one.
cg_file() {
	local pid rel
	pid=$(init_pid "$1") || fail "no init pid for $1"
	if [[ -d /sys/fs/cgroup/$2 && $(stat -f -c %T "/sys/fs/cgroup/$2") == cgroupfs ]]; then
		rel=$(awk -F: -v c="$2" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' \
			"/proc/$pid/cgroup")
		printf '/sys/fs/cgroup/%s%s/%s\n' "$2" "$rel" "$3"
	else
		rel=$(unified_cgroup "$pid")
		printf '/sys/fs/cgroup%s/%s\n' "$rel" "$3"
	fi
}

metrics() { # metrics HANDLE: GET .../metrics, asserting a 200; the body in $API_BODY
	api_ok GET "/containers/$1/metrics"
}

field() { # field JQ-PATH: the value at JQ-PATH of $API_BODY
	jq -r "$1" <<<"$API_BODY"
}

@test "Metrics: every MemoryStat key, and memory figures from the container's memory.stat" {
	create_container mt-mem '{"limits":{"memory_limits":{"limit_in_bytes":268435456}}}'
	# 16 MiB in the container's tmpfs stays charged to its memory cgroup
	rt_exec mt-mem sh -c 'head -c 16777216 /dev/zero >/dev/shm/blob'
	metrics mt-mem
	local keys
	keys=$(field '.MemoryStat | keys_unsorted | join(",")')
	assert_equal "$keys" "active_anon,active_file,cache,hierarchical_memory_limit,inactive_anon,inactive_file,mapped_file,pgfault,pgmajfault,pgpgin,pgpgout,rss,total_active_anon,total_active_file,total_cache,total_inactive_anon,total_inactive_file,total_mapped_file,total_pgfault,total_pgmajfault,total_pgpgin,total_pgpgout,total_rss,total_unevictable,unevictable,swap,hierarchical_memsw_limit,total_swap,TotalUsageTowardLimit,anon,file,swapcached"
	assert_equal "$(field 'keys_unsorted | join(",")')" \
		"MemoryStat,CPUStat,DiskStat,NetworkStat,PidStat,Age,CPUEntitlement"
	local usage
	usage=$(field .MemoryStat.TotalUsageTowardLimit)
	((usage >= 16777216 && usage < 268435456)) || fail "TotalUsageTowardLimit $usage: $API_BODY"
	# Garden's formula over the figures returned (one snapshot of memory.stat)
	local stat
	stat=$(cg_file mt-mem memory memory.stat)
	if grep -q '^total_rss ' "$stat"; then
		assert_equal "$usage" "$(field '.MemoryStat | [.total_rss + .total_cache + .total_swap - .total_inactive_file, 0] | max')"
		assert_equal "$(field .MemoryStat.hierarchical_memory_limit)" 268435456
		assert_equal "$(field .MemoryStat.anon)" 0
	else
		assert_equal "$usage" "$(field '.MemoryStat | [.file + .anon + .swapcached - .inactive_file, 0] | max')"
		assert_equal "$(field .MemoryStat.total_rss)" 0
	fi
	# a counter that only grows reads the same as the file, give or take this test's reads
	local pgfault_after
	pgfault_after=$(awk '$1 == "pgfault" { print $2 }' "$stat")
	(($(field .MemoryStat.pgfault) <= pgfault_after && $(field .MemoryStat.pgfault) > 0)) ||
		fail "pgfault $(field .MemoryStat.pgfault), file $pgfault_after"
	destroy_container mt-mem
}

@test "Metrics: CPUStat, PidStat, Age and CPUEntitlement" {
	start_guardian --cpu-entitlement-per-share 12.5
	create_container mt-cpu '{"limits":{"cpu_limits":{"limit_in_shares":512},"pid_limits":{"max":50}}}'
	rt_exec mt-cpu sh -c 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done'
	rt_exec_bg mt-cpu sleep 60
	local before after usage
	if [[ -e $(cg_file mt-cpu cpuacct cpuacct.usage) ]]; then
		before=$(cat "$(cg_file mt-cpu cpuacct cpuacct.usage)")
		metrics mt-cpu
		after=$(cat "$(cg_file mt-cpu cpuacct cpuacct.usage)")
	else
		before=$(awk '$1 == "usage_usec" { print $2 "000" }' "$(cg_file mt-cpu cpuacct cpu.stat)")
		metrics mt-cpu
		after=$(awk '$1 == "usage_usec" { print $2 "000" }' "$(cg_file mt-cpu cpuacct cpu.stat)")
	fi
	usage=$(field .CPUStat.Usage)
	((usage >= before && usage <= after && usage > 0)) || fail "Usage $usage not in [$before, $after]"
	(($(field .CPUStat.User) + $(field .CPUStat.System) > 0)) || fail "$API_BODY"
	# init and the sleep
	assert_equal "$(field .PidStat.Current)" 2
	assert_equal "$(field .PidStat.Max)" 50
	assert_equal "$(field .PidStat.Current)" "$(cat "$(cg_file mt-cpu pids pids.current)")"
	# Age: since create; CPUEntitlement = shares x (12.5 / 100) x Age = 64 x Age
	local age ent
	age=$(field .Age)
	((age > 0 && age < 120000000000)) || fail "Age $age"
	ent=$(field .CPUEntitlement)
	jq -en --argjson a "$age" --argjson e "$ent" '($e / $a - 64 | fabs) < 0.000001' >/dev/null ||
		fail "CPUEntitlement $ent is not 64 x Age $age"
	sleep 0.2
	metrics mt-cpu
	(($(field .Age) > age)) || fail "Age did not grow: $age then $(field .Age)"
	assert_equal "$(field .NetworkStat)" null
	destroy_container mt-cpu

	create_container mt-nolim
	metrics mt-nolim
	# no pids limit: Max 0, as runc reports "max"
	assert_equal "$(field .PidStat.Max)" 0
	assert_equal "$(field .PidStat.Current)" 1
	destroy_container mt-nolim
}

@test "Metrics: DiskStat from the built-in volumizer" {
	create_container mt-disk
	metrics mt-disk
	local excl0 total0
	excl0=$(field .DiskStat.ExclusiveBytesUsed)
	total0=$(field .DiskStat.TotalBytesUsed)
	((total0 > excl0)) || fail "the image counts towards TotalBytesUsed: $API_BODY"
	rt_exec mt-disk sh -c 'head -c 1048576 /dev/urandom >/blob'
	metrics mt-disk
	local excl total
	excl=$(field .DiskStat.ExclusiveBytesUsed)
	total=$(field .DiskStat.TotalBytesUsed)
	((excl >= excl0 + 1048576)) || fail "ExclusiveBytesUsed $excl0 -> $excl"
	assert_equal "$((total - excl))" "$((total0 - excl0))"
	(($(field .DiskStat.ExclusiveInodesUsed) >= 1)) || fail "$API_BODY"
	destroy_container mt-disk
}

@test "Metrics: unknown handle, a stopped container (its init lives on, as in Garden), a dead init" {
	api_req GET /containers/mt-ghost/metrics
	assert_garden_error 404 ContainerNotFoundError '^unknown handle: mt-ghost$'
	create_container mt-stop
	api_ok PUT /containers/mt-stop/stop '{"kill":true}'
	metrics mt-stop
	assert_equal "$(field .PidStat.Current)" 1
	# an init killed behind guardian's back: no cgroup to read, and its pid may be reused
	local pid
	pid=$(init_pid mt-stop)
	kill -KILL "$pid"
	wait_pid_gone "$pid" 100
	api_req GET /containers/mt-stop/metrics
	assert_garden_error 500 '' "^container 'mt-stop' is not running$"
	api_ok GET /containers/bulk_metrics?handles=mt-stop
	assert_equal "$(field '.["mt-stop"].Err.Message')" "container 'mt-stop' is not running"
	destroy_container mt-stop
}

@test "BulkMetrics: an entry per handle, sorted, unknown ones with an untyped error and zero metrics" {
	create_container mt-b1 '{"limits":{"pid_limits":{"max":20}}}'
	create_container mt-b2
	api_ok GET '/containers/bulk_metrics?handles=mt-b2,mt-ghost,mt-b1'
	assert_equal "$(field 'keys_unsorted | join(",")')" "mt-b1,mt-b2,mt-ghost"
	assert_equal "$(field '.["mt-b1"].Err')" null
	assert_equal "$(field '.["mt-b1"].Metrics.PidStat.Max')" 20
	assert_equal "$(field '.["mt-b2"].Metrics.PidStat.Current')" 1
	assert_json "$(jq -c '.["mt-ghost"].Err' <<<"$API_BODY")" \
		'{"Type":"","Message":"unknown handle: mt-ghost","Handle":"","ProcessID":"","Binary":""}'
	assert_equal "$(field '[.["mt-ghost"].Metrics | .. | numbers] | add')" 0
	assert_equal "$(field '.["mt-ghost"].Metrics.NetworkStat')" null
	assert_equal "$(field '.["mt-ghost"].Metrics.MemoryStat | length')" 32
	# the same figures as Metrics gives (a counter that does not move on an idle container)
	local bulk_max
	bulk_max=$(field '.["mt-b1"].Metrics.PidStat.Max')
	metrics mt-b1
	assert_equal "$(field .PidStat.Max)" "$bulk_max"

	api_req GET '/containers/bulk_metrics?handles='
	assert_api 200 '{}'
	api_req GET /containers/bulk_metrics
	assert_api 200 '{}'
	destroy_container mt-b1
	destroy_container mt-b2
}

@test "BulkMetrics of many containers (split across processes), a handle twice, an unknown one" {
	local i handles=
	# 34 >= the 32 from which the worker shares the reads with a helper process
	for i in $(seq -w 1 34); do
		create_container "mt-m$i"
		handles+=${handles:+,}mt-m$i
	done
	api_ok GET "/containers/bulk_metrics?handles=mt-zz,$handles,mt-m07"
	assert_equal "$(field 'keys_unsorted | join(",")')" "$(seq -w 1 34 | sed 's/^/mt-m/' | paste -sd,),mt-zz"
	assert_equal "$(field '[.[] | select(.Err == null)] | length')" 34
	assert_equal "$(field '[.[] | .Metrics.PidStat.Current] | add')" 34
	assert_equal "$(field '.["mt-zz"].Err.Message')" "unknown handle: mt-zz"
	for i in $(seq -w 1 34); do
		destroy_container "mt-m$i"
	done
}
