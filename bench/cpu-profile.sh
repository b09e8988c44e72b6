#!/usr/bin/env bash
# Where a command's CPU goes, machine-wide: runs it (for instance `make test`) under the kernel's
# process accounting (Debian's acct package: `accton`, `sa`) and a sampler of /proc/stat, then
# prints the machine's busy, system, idle and disk-wait shares over the run, the idle share of
# every BB_BENCH_SLICE seconds (when the cores had time to spare), and the CPU of the commands
# that ended during the run (test hosts' processes included: they share the kernel), as user and
# system seconds. Long-lived daemons (dockerd, containerd) are counted at exit only, so they are
# missing. Prints figures; asserts nothing. As root; the machine's accounting is off afterwards.
# Usage: bench/cpu-profile.sh command...   (BB_BENCH_SLICE=300, BB_BENCH_TOP=20)
set -euo pipefail
cd "$(dirname "$0")/.."
SLICE=${BB_BENCH_SLICE:-300}
TOP=${BB_BENCH_TOP:-20}
[[ $# -gt 0 ]] || { echo "usage: $0 command..." >&2; exit 2; }
for tool in accton sa; do
  command -v "$tool" >/dev/null || { echo "ERROR: $tool is missing: apt-get install acct" >&2; exit 1; }
done
WORK=$(mktemp -d)
sampler=""
trap 'accton off >/dev/null 2>&1 || true; [[ -z $sampler ]] || kill "$sampler" 2>/dev/null || true; rm -rf "$WORK"' EXIT

touch "$WORK/pacct"
accton "$WORK/pacct" >/dev/null
# "time user nice system idle iowait irq softirq steal" every 5 s.
( while true; do echo "$(date +%s) $(head -n 1 /proc/stat | cut -d' ' -f3-10)"; sleep 5; done ) >"$WORK/stat" &
sampler=$!
started=$(date +%s)
rc=0
"$@" || rc=$?
sleep 5
accton off >/dev/null
kill "$sampler" && sampler=""

echo "=== $* (exit $rc): $(( $(date +%s) - started )) s"
awk 'NR == 1 {for (i = 2; i <= 9; i++) first[i] = $i} {for (i = 2; i <= 9; i++) last[i] = $i}
     END {for (i = 2; i <= 9; i++) {d[i] = last[i] - first[i]; all += d[i]}
          busy = all - d[5] - d[6]
          printf "CPU over the run: busy %.0f%% (system %.0f%% of all), idle %.0f%%, waiting on the disk %.0f%%\n",
                 100 * busy / all, 100 * d[4] / all, 100 * d[5] / all, 100 * d[6] / all}' "$WORK/stat"
echo "=== idle and disk wait per ${SLICE} s (minutes:seconds into the run)"
awk -v slice="$SLICE" -v t0="$started" '
  {t = $1; idle = $5 + $6; all = 0; for (i = 2; i <= 9; i++) all += $i
   if (NR > 1) {b = int((t - t0) / slice); I[b] += idle - pidle; A[b] += all - pall; if (b > last) last = b}
   pidle = idle; pall = all}
  END {for (b = 0; b <= last; b++) if (A[b]) printf "%4d:%02d  %3.0f%%\n", int(b * slice / 60), (b * slice) % 60, 100 * I[b] / A[b]}' "$WORK/stat"
echo "=== CPU seconds of the commands that ended, by name (* forked without exec)"
printf '%8s %8s %8s  %s\n' user system processes command
sa -a -l "$WORK/pacct" | awk 'NR > 1 {u = $3; s = $4; sub(/u$/, "", u); sub(/s$/, "", s)
  printf "%8.0f %8.0f %8d  %s\n", u * 60, s * 60, $1, $NF}' | sort -rn | head -n "$TOP"
exit "$rc"
