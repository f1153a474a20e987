# Helpers the bench scripts share (sourced; not run on its own).
# shellcheck shell=bash

now_us() {
	echo "${EPOCHREALTIME/./}"
}

median_ms() { # median of the µs values in FILE, in ms
	sort -n "$1" | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.2f\n", m / 1000 }'
}

timed() { # timed OUT-FILE CMD...: appends CMD's wall time in µs
	local out=$1 t0 t1
	shift
	t0=$(now_us)
	"$@"
	t1=$(now_us)
	echo $((t1 - t0)) >>"$out"
}

unmount_under() { # unmount_under DIR: every mount below DIR, deepest first (a few rounds)
	local m c
	for _ in 1 2 3; do
		m=$(awk -v d="$1/" 'index($2, d) == 1 { print length($2) " " $2 }' /proc/self/mounts |
			sort -rn | cut -d' ' -f2-)
		[[ -n $m ]] || break
		while read -r c; do
			umount "$c" 2>/dev/null || umount -l "$c" 2>/dev/null
		done <<<"$m"
	done
}
