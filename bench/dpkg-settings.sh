#!/usr/bin/env bash
# Measures the test images' dpkg settings (scripts/build-images.sh: no fsync per file, no
# documentation, manual pages or translations): PACKAGES installed on two fresh base-image hosts
# one after the other, one with the settings taken out, ROUNDS times. The packages are downloaded
# first, so the figures are dpkg's and the maintainer scripts' work. Prints the CPU inside each
# host (its cgroup) and the wall time, with medians and the ratio; asserts nothing.
# Usage: bench/dpkg-settings.sh [rounds]   (default 2; after `make pkg-cache`; PACKAGES=npm by
#        default, BB_PKG_CACHE_ADDR as the scenarios)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
ROUNDS=${1:-2}
PACKAGES=${PACKAGES:-npm}
read -ra PKGS <<<"$PACKAGES"
IMAGE=boosterbeacon/debian:trixie
WORK=$(mktemp -d)
NAMES=(bb-bench-dpkg-with bb-bench-dpkg-without)
cleanup() { docker rm -f "${NAMES[@]}" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
: "${BB_PKG_CACHE_ADDR:=$(scripts/pkg-cache.sh address 2>/dev/null || echo 127.0.0.1)}"

install() {  # install NAME: PACKAGES on a fresh host, downloaded first; CPU and wall to $WORK
  local name=$1 before
  start_host "$name" "$IMAGE"
  [[ $name == *without ]] && docker exec "$name" rm /etc/dpkg/dpkg.cfg.d/bb-unsafe-io /etc/dpkg/dpkg.cfg.d/bb-nodoc
  docker exec "$name" apt-get update -qq
  docker exec -e DEBIAN_FRONTEND=noninteractive "$name" apt-get install -y -qq --download-only "${PKGS[@]}" >/dev/null
  before=$(cgroup_cpu "$name")
  timed "$name" "$WORK/$name.log" docker exec -e DEBIAN_FRONTEND=noninteractive "$name" apt-get install -y -qq "${PKGS[@]}"
  echo "$(cgroup_cpu "$name") - $before" | bc >>"$WORK/$name.cpu"
  docker rm -f "$name" >/dev/null
}

for round in $(seq 1 "$ROUNDS"); do
  echo ">> round $round of $ROUNDS: apt-get install $PACKAGES on $IMAGE, with and without the settings" >&2
  install bb-bench-dpkg-with
  install bb-bench-dpkg-without
done

# shellcheck disable=SC2046,SC2086 # one figure per round, space-separated on purpose
figures() { median $(cat "$WORK/$1.cpu"); median ${TIMES[$1]}; }
read -r -d '' cpu_with wall_with < <(figures bb-bench-dpkg-with) || true
read -r -d '' cpu_without wall_without < <(figures bb-bench-dpkg-without) || true
echo "apt-get install $PACKAGES on a fresh test host, $ROUNDS round(s) (seconds, median):"
printf '  %-22s %8s %8s\n' "" "CPU" "wall"
printf '  %-22s %8.1f %8.1f\n' "with the settings" "$cpu_with" "$wall_with"
printf '  %-22s %8.1f %8.1f\n' "without" "$cpu_without" "$wall_without"
printf '  ratio with/without: CPU %.2f, wall %.2f\n' "$(echo "$cpu_with / $cpu_without" | bc -l)" \
  "$(ratio bb-bench-dpkg-with bb-bench-dpkg-without)"
