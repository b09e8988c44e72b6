#!/usr/bin/env bash
# What Mitogen saves where the scenarios that compose the roles run under it
# (.config/molecule/strategy): playbooks/provision.yml run again on two copies of the
# provisioned-host image side by side, one under Ansible's linear strategy, one under
# mitogen_linear, ROUNDS times. Prints the CPU inside each host (its cgroup), the controller's CPU
# and the wall time, with medians and ratios. Then the controller's own tasks as the nested runs
# have them (bench/local-tasks.yml, 40 tasks), one strategy after the other; asserts nothing.
# Usage: bench/mitogen.sh [rounds]   (default 2; after `make venv collection images`; builds the
#        provisioned image when missing or out of date; BB_PKG_CACHE_ADDR as the scenarios)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
export PATH=$PWD/.venv/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$PWD/.collections ANSIBLE_FORCE_COLOR=0
ROUNDS=${1:-2}
declare -A LOCAL_CPU
IMAGE=boosterbeacon/provisioned:trixie
WORK=$(mktemp -d)
NAMES=(bb-bench-mitogen bb-bench-linear)
cleanup() { docker rm -f "${NAMES[@]}" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
scripts/provisioned-image.sh trixie >&2

run() {  # run NAME STRATEGY: provision.yml again on a fresh copy of the image, measured (bench/lib.sh)
  start_host "$1" "$IMAGE" --stop-signal SIGRTMIN+3 --tmpfs /tmp:rw,exec,nosuid,nodev,mode=1777
  reprovision "$1" ANSIBLE_STRATEGY_PLUGINS=.config/molecule/strategy ANSIBLE_STRATEGY="$2"
}

for round in $(seq 1 "$ROUNDS"); do
  echo ">> round $round of $ROUNDS: provision.yml again on two copies of $IMAGE, side by side" >&2
  run bb-bench-mitogen mitogen_linear & mitogen=$!
  run bb-bench-linear linear & linear=$!
  wait "$mitogen" && wait "$linear"
done

echo "provision.yml again on a provisioned host, $ROUNDS round(s) side by side (seconds, median):"
pair_table "mitogen_linear" bb-bench-mitogen "linear" bb-bench-linear

run_local() {  # run_local STRATEGY: bench/local-tasks.yml on the implicit localhost, as the nested runs have it
  BENCH_SCRATCH="$WORK/scratch" BB_NESTED_RUN=1 ANSIBLE_STRATEGY_PLUGINS=.config/molecule/strategy \
    ANSIBLE_STRATEGY="$1" ansible-playbook -i "$WORK/none.yml" bench/local-tasks.yml
}

echo ">> 40 tasks on the controller, $ROUNDS round(s) under each strategy" >&2
mkdir -p "$WORK/scratch"
echo 'all: {}' >"$WORK/none.yml"
for round in $(seq 1 "$ROUNDS"); do
  for strategy in linear mitogen_linear; do
    timed "local $strategy" "$WORK/local-$strategy.out" \
      cpu_seconds "$WORK/local.cpu" "$WORK/local-$strategy.log" run_local "$strategy"
    LOCAL_CPU[$strategy]="${LOCAL_CPU[$strategy]:-} $(cat "$WORK/local.cpu")"
  done
done
echo "40 controller tasks (bench/local-tasks.yml; mitogen_linear as in a nested run), median:"
for strategy in linear mitogen_linear; do
  # shellcheck disable=SC2086 # one figure per round
  printf '  %-22s CPU %6.1f s   wall %6.1f s\n' "$strategy" "$(median ${LOCAL_CPU[$strategy]})" "$(median ${TIMES["local $strategy"]})"
done
# shellcheck disable=SC2086 # one figure per round
echo "  mitogen_linear / linear: CPU $(printf '%.2f' "$(echo "$(median ${LOCAL_CPU[mitogen_linear]}) / $(median ${LOCAL_CPU[linear]})" | bc -l)"), wall $(printf '%.2f' "$(ratio "local mitogen_linear" "local linear")")"
