# shellcheck shell=bash
# Sourced by scripts/molecule-all.sh and scripts/test-all.sh.
# children_cpu FILE: sets cpu to the CPU seconds (user and system) of this shell's finished
# children, through FILE. It must run in the shell whose children count: in a pipeline or $(...)
# `times` reports a subshell's, which starts at zero.
children_cpu() {
  times >"$1"
  # shellcheck disable=SC2034 # the caller's
  read -r cpu < <(awk 'END { split($0, t, /[ms ]+/); print int(t[1] * 60 + t[2] + t[3] * 60 + t[4] + 0.5) }' "$1")
}
