#!/usr/bin/env bash
# `make test`: every step in order, stopping at the first failure, then a table of each step and
# molecule scenario with its wall time (a scenario's also with the CPU its controller side and its
# test hosts took; the table is also in .cache/test-times.txt) and a warning naming the slowest
# when the whole run passed the budget (BB_TEST_BUDGET seconds, 3600 by default: CI stops a run at 90 minutes, so
# the warning comes well before that; a warning, not a failure).
#   scripts/test-all.sh [step...]   (steps are make targets; default: the whole suite)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

steps=("$@")
(( ${#steps[@]} )) || steps=(tools lint sanity units build app-test dev-test molecule)
budget=${BB_TEST_BUDGET:-3600}
distro=${DISTRO:-trixie}
table=.cache/test-times.txt
mkdir -p .cache
rows=()
started=$(date +%s)

fmt() { printf '%dm%02ds' $(( $1 / 60 )) $(( $1 % 60 )); }
# run_step TARGET...: make TARGET... in a subshell of its own, whose children are that make
# alone (molecule, in the background, is this shell's); sets step_used to their CPU seconds.
cpu_file=$(mktemp)
trap 'rm -f "$cpu_file"' EXIT
# shellcheck source=scripts/children-cpu.sh
source scripts/children-cpu.sh
run_step() {
  local rc=0
  ( rc=0; make --no-print-directory "$@" || rc=$?; children_cpu "$cpu_file"; echo "$cpu" >"$cpu_file"; exit "$rc" ) || rc=$?
  read -r step_used <"$cpu_file"
  return "$rc"
}

report() {
  local result=$1 total=$(( $(date +%s) - started )) row cpu=0 host=0
  {
    echo "=== make test: wall time per step ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores)"
    printf '%-28s %-6s %8s %9s %9s\n' step result time "cpu" "host cpu"
    for row in "${rows[@]}"; do
      # shellcheck disable=SC2086 # row is "name result seconds cpu-seconds"
      set -- $row
      printf '%-28s %-6s %8s %9s\n' "$1" "$2" "$(fmt "$3")" "$(fmt "${4:-0}")"
      cpu=$(( cpu + ${4:-0} ))
      if [[ $1 == molecule ]] && compgen -G ".cache/molecule-logs/$distro/*.result" >/dev/null; then
        # A scenario's row adds the CPU its controller side took (molecule, ansible-playbook,
        # workers) and, when known, the CPU its test hosts took (scripts/molecule-all.sh).
        sort -k3 -t' ' -rn ".cache/molecule-logs/$distro/"*.result | \
          awk '{sub(/s$/, "", $3); sub(/s$/, "", $4); host = "-"
                if ($5 ~ /^[0-9]+s$/) {sub(/s$/, "", $5); host = sprintf("%dm%02ds", $5 / 60, $5 % 60)}
                printf "  %-26s %-6s %5dm%02ds %6dm%02ds %9s\n", $2, $1, $3 / 60, $3 % 60, $4 / 60, $4 % 60, host}'
        host=$(cat ".cache/molecule-logs/$distro/"*.result | awk '$5 ~ /^[0-9]+s$/ {s += $5} END {print s + 0}')
      fi
    done
    printf '%-28s %-6s %8s\n' total "$result" "$(fmt "$total")"
    # What the run's work took in CPU, and so the shortest it could be on this machine's cores
    # (the Docker engine's own CPU and whatever else ran on the machine are not counted).
    echo "CPU: $(fmt "$cpu") on this machine outside the test hosts (the molecule row: every scenario's controller side), $(fmt "$host") in them;"
    echo "     on $(nproc) cores no run of this work takes less than $(fmt $(( (cpu + host) / $(nproc) )))."
  } | tee "$table"
  if (( total > budget )); then
    echo "WARNING: make test took $(fmt "$total"), over the $(fmt "$budget") budget (CI stops at 90 minutes)."
    echo "WARNING: the slowest steps and scenarios:"
    { for row in "${rows[@]}"; do echo "$row"; done | awk '$1 != "molecule" {print $3, $1}'
      cat ".cache/molecule-logs/$distro/"*.result 2>/dev/null | awk '{sub(/s$/, "", $3); print $3, "molecule " $2}'
    } | sort -rn | head -5 | awk '{t = $1; $1 = ""; printf "WARNING:   %s %dm%02ds\n", $0, t / 60, t % 60}'
  fi
}

# Molecule takes most of the run and needs none of the checks before it: it starts right after
# the set-up, in the background (its own process group, so a failed check can take it down),
# and its output follows once the other steps are done. The scenarios that need the
# provisioned-host image wait for it without holding a slot (scripts/molecule-all.sh).
molecule_pid=""
molecule_log=.cache/molecule-run.log
if [[ " ${steps[*]} " == *" molecule "* ]]; then
  t0=$(date +%s)
  echo "=== make tools venv collection pkg-cache, then molecule in the background (log: $molecule_log)"
  if run_step tools venv collection pkg-cache; then
    rows+=("setup PASS $(( $(date +%s) - t0 )) $step_used")
    molecule_start=$(date +%s)
    setsid make --no-print-directory molecule DISTRO="$distro" >"$molecule_log" 2>&1 &
    molecule_pid=$!
  else
    rows+=("setup FAIL $(( $(date +%s) - t0 )) $step_used")
    report FAIL
    exit 1
  fi
fi

for step in "${steps[@]}"; do
  [[ $step == molecule ]] && continue
  t0=$(date +%s)
  echo "=== make $step"
  if run_step "$step"; then
    rows+=("$step PASS $(( $(date +%s) - t0 )) $step_used")
  else
    rows+=("$step FAIL $(( $(date +%s) - t0 )) $step_used")
    [[ -z $molecule_pid ]] || kill -TERM -- "-$molecule_pid" 2>/dev/null
    report FAIL
    exit 1
  fi
done

if [[ -n $molecule_pid ]]; then
  echo "=== make molecule (running since the set-up)"
  tail -n +1 -f --pid="$molecule_pid" "$molecule_log"
  if wait "$molecule_pid"; then result=PASS; else result=FAIL; fi
  # Its CPU: its scenarios' and the image build's controller side, as scripts/molecule-all.sh
  # counted them.
  used=$(cat ".cache/molecule-logs/$distro/"*.result 2>/dev/null | awk '{sub(/s$/, "", $4); s += $4} END {print s + 0}')
  rows+=("molecule $result $(( $(date +%s) - molecule_start )) $used")
  if [[ $result == FAIL ]]; then
    report FAIL
    exit 1
  fi
fi
report PASS
