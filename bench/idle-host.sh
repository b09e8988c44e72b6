#!/usr/bin/env bash
# What a provisioned host costs while nothing happens: a container of the provisioned-host image
# (`make provisioned` first) is left alone for BB_BENCH_SETTLE seconds after boot, then measured
# for BB_BENCH_WINDOW seconds:
# - the container's CPU time (its cgroup), as seconds of CPU a minute and as a share of a core;
# - the part of each systemd unit's long-lived processes (with the children they reaped); the
#   rest is short-lived work (timers, exec);
# - how long `systemctl restart rsyslog` takes on it (the monitoring host of a one-host inventory).
# In a test run every scenario's hosts pay this beside their own work. Prints figures; asserts
# nothing. Usage: bench/idle-host.sh   (BB_BENCH_DISTRO=trixie, BB_BENCH_SETTLE=60, BB_BENCH_WINDOW=60)
set -euo pipefail
cd "$(dirname "$0")/.."
DISTRO=${BB_BENCH_DISTRO:-trixie}
SETTLE=${BB_BENCH_SETTLE:-60}
WINDOW=${BB_BENCH_WINDOW:-60}
NAME=boosterbeacon-bench-idle
WORK=$(mktemp -d)
host() { BB_LOCAL_NAME=$NAME BB_LOCAL_IMAGE=boosterbeacon/provisioned:$DISTRO \
  BB_LOCAL_HTTP_PORT=8082 BB_LOCAL_HTTPS_PORT=8445 scripts/local-host.sh "$1" >/dev/null; }
trap 'rm -rf "$WORK"; host down' EXIT
host up
id=$(docker inspect -f '{{.Id}}' "$NAME")

# Nanoseconds of CPU the container has used (cgroup v1 or v2).
container_ns() {
  local v1=/sys/fs/cgroup/cpuacct/docker/$id/cpuacct.usage v2=/sys/fs/cgroup/system.slice/docker-$id.scope/cpu.stat
  if [[ -r $v1 ]]; then cat "$v1"; else awk '$1 == "usage_usec" {print $2 * 1000}' "$v2"; fi
}
# "pid unit ticks" of each live process: its own CPU and its reaped children's, in clock ticks.
per_process() {
  # shellcheck disable=SC2016 # expanded inside the container
  docker exec "$NAME" sh -c 'for p in /proc/[0-9]*; do
      unit=$(sed -n "s#^[0-9]*:name=systemd:.*/##p; s#^0::.*/##p" "$p/cgroup" 2>/dev/null | head -n 1)
      stat=$(cat "$p/stat" 2>/dev/null) || continue
      echo "${p#/proc/} ${unit:-other} ${stat##*) }"
    done' | awk '{print $1, $2, $14 + $15 + $16 + $17}'
}

sleep "$SETTLE"
per_process >"$WORK/before"
ns0=$(container_ns)
sleep "$WINDOW"
ns1=$(container_ns)
per_process >"$WORK/after"
hz=$(getconf CLK_TCK)

total=$(awk -v a="$ns0" -v b="$ns1" -v w="$WINDOW" 'BEGIN {printf "%.2f", (b - a) / 1e9 * 60 / w}')
echo "idle provisioned host ($DISTRO), ${WINDOW} s after ${SETTLE} s of settling:"
echo "  CPU: ${total} s a minute ($(awk -v t="$total" 'BEGIN {printf "%.1f", t / 60 * 100}') % of a core)"
echo "  by unit (long-lived processes and the children they reaped), s a minute and share:"
# Processes alive at both ends only; what started and ended between them is short-lived.
join <(sort "$WORK/before") <(sort "$WORK/after") \
  | awk -v hz="$hz" -v w="$WINDOW" -v t="$total" '
      {unit[$2] += ($5 - $3) / hz * 60 / w}
      END {for (u in unit) if (unit[u] > 0) {seen += unit[u]; printf "%s %.2f\n", u, unit[u]}
           if (t - seen > 0) printf "short-lived-processes %.2f\n", t - seen}' \
  | sort -k2 -rn | awk -v t="$total" '{printf "    %-44s %5.2f  %3.0f %%\n", $1, $2, (t > 0 ? $2 / t * 100 : 0)}'

start=$(date +%s%N)
docker exec "$NAME" systemctl restart rsyslog
echo "  systemctl restart rsyslog: $(( ($(date +%s%N) - start) / 1000000 )) ms"
