#!/usr/bin/env bash
# The alert rules of roles/prometheus: `promtool check rules`, then their unit tests
# (`promtool test rules`, tests/prometheus/*.yml). The rules file is the role's own template,
# rendered by Ansible with the role's defaults, so the tests see exactly what a host gets with
# them (the thresholds the tests assume are those defaults).
#   scripts/promtool-tests.sh            all tests
#   scripts/promtool-tests.sh FILE...    only these test files
set -euo pipefail
cd "$(dirname "$0")/.."

command -v promtool >/dev/null || { echo "ERROR: promtool is missing: apt-get install promtool" >&2; exit 1; }
ansible=ansible
[ -x .venv/bin/ansible ] && ansible=.venv/bin/ansible
command -v "$ansible" >/dev/null || { echo "ERROR: ansible is missing: run 'make venv' first" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The test files name the rules file next to them: boosterbeacon.rules.yml.
ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
  "$ansible" localhost -i localhost, -c local -e 'ansible_python_interpreter={{ ansible_playbook_python }}' \
  -m ansible.builtin.template \
  -a "src=$PWD/roles/prometheus/templates/boosterbeacon.rules.yml.j2 dest=$work/boosterbeacon.rules.yml mode=0644" \
  -e "@roles/prometheus/defaults/main.yml" >"$work/render.log" 2>&1 \
  || { cat "$work/render.log" >&2; echo "ERROR: could not render the rules template" >&2; exit 1; }

promtool check rules "$work/boosterbeacon.rules.yml"

if [ "$#" -gt 0 ]; then
  tests=("$@")
else
  tests=(tests/prometheus/*.yml)
fi
[ -e "${tests[0]}" ] || { echo "ERROR: no test files under tests/prometheus" >&2; exit 1; }
copies=()
for test in "${tests[@]}"; do
  cp "$test" "$work/"
  copies+=("$work/$(basename "$test")")
done
promtool test rules "${copies[@]}"
