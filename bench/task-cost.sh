#!/usr/bin/env bash
# What one task costs, by kind, on a provisioned test host: a playbook of TASKS identical tasks
# per kind (stat, copy and systemd that change nothing, an apt list refresh within
# cache_valid_time and an apt install of packages already there, each through apt and through
# the collection's apt_packages), ROUNDS times. Prints the CPU
# inside the host (its cgroup) and the controller's per task (less an empty playbook's, its
# start-up), medians and each kind's ratio to stat; then runs provision.yml again on that host
# and prints the share of its host CPU that its apt tasks take at the measured price. Asserts
# nothing.
# Usage: bench/task-cost.sh [rounds] [tasks]   (defaults 3 and 20; after `make venv collection
#        images`; builds the provisioned image when missing or out of date)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
export PATH=$PWD/.venv/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$PWD/.collections ANSIBLE_FORCE_COLOR=0
ROUNDS=${1:-3}
TASKS=${2:-20}
IMAGE=boosterbeacon/provisioned:trixie
HOST=bb-bench-task-cost
WORK=$(mktemp -d)
cleanup() { docker rm -f "$HOST" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
scripts/provisioned-image.sh trixie >&2

declare -A KINDS=(
  [stat]='ansible.builtin.stat: {path: /etc/hostname}'
  [copy]='ansible.builtin.copy: {content: "unchanged\n", dest: /root/bench-copy, mode: "0644"}'
  [systemd]='ansible.builtin.systemd_service: {name: nginx, state: started}'
  [apt-lists]='ansible.builtin.apt: {update_cache: true, cache_valid_time: 3600}'
  [apt-present]='ansible.builtin.apt: {name: [nginx, openssl, redis-server], state: present}'
  [pkgs-lists]='boosterbeacon.infra.apt_packages: {update_cache: true, cache_valid_time: 3600}'
  [pkgs-present]='boosterbeacon.infra.apt_packages: {name: [nginx, openssl, redis-server], state: present}'
)
ORDER=(stat copy systemd apt-lists apt-present pkgs-lists pkgs-present)
printf -- '- hosts: all\n  gather_facts: false\n  tasks: []\n' >"$WORK/empty.yml"
for kind in "${ORDER[@]}"; do
  { echo "- hosts: all"; echo "  gather_facts: false"; echo "  tasks:"
    for _ in $(seq 1 "$TASKS"); do echo "    - ${KINDS[$kind]}"; done
  } >"$WORK/$kind.yml"
done
INVENTORY=(-i "$HOST," -c community.docker.docker -e ansible_pipelining=true)

start_host "$HOST" "$IMAGE" --stop-signal SIGRTMIN+3 --tmpfs /tmp:rw,exec,nosuid,nodev,mode=1777
# Lists fresh and their time recorded (the refresh kinds then find nothing to do), the copy's file in place.
docker exec "$HOST" sh -c 'apt-get update -qq && touch /var/lib/apt/periodic/update-success-stamp'
ansible-playbook "${INVENTORY[@]}" "$WORK/copy.yml" >/dev/null
sleep 20  # the boot's own work settles first

measure() {  # measure LABEL LOG COMMAND...: appends "host controller" CPU seconds to LABEL.figures
  local label=$1 log=$2 before after
  shift 2
  before=$(cgroup_cpu "$HOST")
  cpu_seconds "$WORK/$label.cpu" "$log" "$@" || { tail -30 "$log" "$log.err" >&2; echo "ERROR: $label failed" >&2; exit 1; }
  after=$(cgroup_cpu "$HOST")
  echo "$(echo "$after - $before" | bc) $(cat "$WORK/$label.cpu")" >>"$WORK/$label.figures"
}

for round in $(seq 1 "$ROUNDS"); do
  echo ">> round $round of $ROUNDS: $TASKS tasks of each kind on a copy of $IMAGE" >&2
  for kind in empty "${ORDER[@]}"; do
    measure "$kind" "$WORK/$kind.log" ansible-playbook "${INVENTORY[@]}" "$WORK/$kind.yml"
  done
done

per_task_ms() {  # per_task_ms KIND COLUMN: the median of the column less the empty playbook's, in ms per task
  echo "($(column_median "$1" "$2") - $(column_median empty "$2")) * 1000 / $TASKS" | bc -l
}
echo "One task, by kind, on a provisioned host ($ROUNDS rounds of $TASKS; CPU ms per task, median):"
printf '  (an empty playbook, subtracted: %.1f s on the controller, %.1f s inside the host)\n' \
  "$(column_median empty 2)" "$(column_median empty 1)"
printf '  %-12s %9s %11s %14s\n' kind host controller "host / stat"
stat_host=$(per_task_ms stat 1)
for kind in "${ORDER[@]}"; do
  host=$(per_task_ms "$kind" 1)
  printf '  %-12s %9.0f %11.0f %14.1f\n' "$kind" "$host" "$(per_task_ms "$kind" 2)" "$(echo "$host / $stat_host" | bc -l)"
done

echo ">> provision.yml again on the same host, every result recorded (json callback)" >&2
ANSIBLE_STDOUT_CALLBACK=ansible.builtin.json \
  measure provision "$WORK/provision.json" ansible-playbook -i molecule/_provisioned/hosts.yml -e "ansible_host=$HOST" playbooks/provision.yml
read -r provision_host provision_controller <"$WORK/provision.figures"
# Module runs per action on the host: a loop counts once per item, a skipped task or item not at all
# (a no_log result has no invocation but says it was censored); apt_packages counts as apt when
# it started apt, as a question to dpkg when it did not.
counts=$(python3 - "$WORK/provision.json" <<'PY'
import collections, json, sys
runs = collections.Counter()
for play in json.load(open(sys.argv[1]))["plays"]:
    for task in play["tasks"]:
        for result in task["hosts"].values():
            action = result.get("action", "?").split(".")[-1]
            for item in result.get("results") or [result]:
                if action == "apt_packages" and not item.get("skipped"):
                    runs["apt" if item.get("apt_ran") else "dpkg"] += 1
                elif not item.get("skipped") and ("invocation" in item or "censored" in item):
                    runs[action] += 1
print(runs["apt"], runs["dpkg"], sum(runs.values()))
PY
)
read -r apt_runs dpkg_runs module_runs <<<"$counts"
apt_ms=$(echo "($(per_task_ms apt-lists 1) + $(per_task_ms apt-present 1)) / 2" | bc -l)
printf 'provision.yml again: host CPU %.1f s, controller %.1f s, %d module runs on the host, %d of them apt, %d package tasks apt_packages settled without apt\n' \
  "$provision_host" "$provision_controller" "$module_runs" "$apt_runs" "$dpkg_runs"
printf '  apt at the measured price (%.0f ms each): %.1f s, %.0f%% of the host CPU\n' \
  "$apt_ms" "$(echo "$apt_runs * $apt_ms / 1000" | bc -l)" "$(echo "$apt_runs * $apt_ms / 10 / $provision_host" | bc -l)"
