#!/usr/bin/env bash
# Measures the test images' compiled-module-code cache (bb_zipcode, scripts/build-images.sh):
# playbooks/provision.yml run again on two copies of the provisioned-host image side by side, one
# with the hook taken out, ROUNDS times. Prints the CPU inside each host (its cgroup), the
# controller's CPU and the wall time, with medians and ratios; asserts nothing.
# Usage: bench/module-code-cache.sh [rounds]   (default 2; after `make venv collection images`;
#        builds the provisioned image when missing or out of date; BB_PKG_CACHE_ADDR as the scenarios)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
export PATH=$PWD/.venv/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$PWD/.collections ANSIBLE_FORCE_COLOR=0
ROUNDS=${1:-2}
IMAGE=boosterbeacon/provisioned:trixie
WORK=$(mktemp -d)
NAMES=(bb-bench-code-with bb-bench-code-without)
cleanup() { docker rm -f "${NAMES[@]}" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
scripts/provisioned-image.sh trixie >&2

run() {  # run NAME: provision.yml on a fresh copy of the image; appends "host controller wall" to NAME.figures
  local name=$1 before after start
  start_host "$name" "$IMAGE" --stop-signal SIGRTMIN+3 --tmpfs /tmp:rw,exec,nosuid,nodev,mode=1777
  # Both start with an empty cache (the image build left one); one without the hook at all.
  docker exec "$name" sh -c 'rm -f /var/cache/bb-zipcode/*'
  [[ $name == *without ]] && docker exec "$name" rm -f /usr/lib/python3/dist-packages/bb-zipcode.pth
  sleep 20  # the boot's own work settles first
  before=$(cgroup_cpu "$name")
  start=$(date +%s.%N)
  BB_PROVISIONED_CONTAINER=$name cpu_seconds "$WORK/$name.cpu" "$WORK/$name.log" \
    ansible-playbook -i molecule/_provisioned/hosts.yml playbooks/provision.yml \
    || { tail -30 "$WORK/$name.log" "$WORK/$name.log.err" >&2; echo "ERROR: provision.yml failed on $name" >&2; return 1; }
  after=$(cgroup_cpu "$name")
  echo "$(echo "$after - $before" | bc) $(cat "$WORK/$name.cpu") $(echo "$(date +%s.%N) - $start" | bc)" \
    >>"$WORK/$name.figures"
}

for round in $(seq 1 "$ROUNDS"); do
  echo ">> round $round of $ROUNDS: provision.yml again on two copies of $IMAGE, side by side" >&2
  run bb-bench-code-with & with=$!
  run bb-bench-code-without & without=$!
  wait "$with" && wait "$without"
done

echo "provision.yml again on a provisioned host, $ROUNDS round(s) side by side (seconds, median):"
printf '  %-22s %10s %12s %8s\n' "" "host CPU" "controller" "wall"
for variant in with without; do
  printf '  %-22s %10.1f %12.1f %8.1f\n' "$variant the hook" "$(column_median "bb-bench-code-$variant" 1)" \
    "$(column_median "bb-bench-code-$variant" 2)" "$(column_median "bb-bench-code-$variant" 3)"
done
for column in 1 2 3; do
  with=$(column_median bb-bench-code-with "$column")
  without=$(column_median bb-bench-code-without "$column")
  ratios+=("$(printf '%.2f' "$(echo "$with / $without" | bc -l)")")
done
echo "  with / without: host CPU ${ratios[0]}, controller ${ratios[1]}, wall ${ratios[2]}"
