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

run() {  # run NAME: provision.yml again on a fresh copy of the image, measured (bench/lib.sh)
  local name=$1
  start_host "$name" "$IMAGE" --stop-signal SIGRTMIN+3 --tmpfs /tmp:rw,exec,nosuid,nodev,mode=1777
  # Both start with an empty cache (the image build left one); one without the hook at all.
  docker exec "$name" sh -c 'rm -f /var/cache/bb-zipcode/*'
  [[ $name == *without ]] && docker exec "$name" rm -f /usr/lib/python3/dist-packages/bb-zipcode.pth
  reprovision "$name" ANSIBLE_STRATEGY=linear
}

for round in $(seq 1 "$ROUNDS"); do
  echo ">> round $round of $ROUNDS: provision.yml again on two copies of $IMAGE, side by side" >&2
  run bb-bench-code-with & with=$!
  run bb-bench-code-without & without=$!
  wait "$with" && wait "$without"
done

echo "provision.yml again on a provisioned host, $ROUNDS round(s) side by side (seconds, median):"
pair_table "with the hook" bb-bench-code-with "without the hook" bb-bench-code-without
