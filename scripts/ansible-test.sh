#!/usr/bin/env bash
# ansible-test insists on running from .../ansible_collections/<namespace>/<name>: copy the
# tracked (and new, not ignored) files there and run it. Usage: scripts/ansible-test.sh sanity [args]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# Outside the checkout: inside it, ansible-test would ask git and skip the ignored copy. One
# directory per checkout, so two checkouts' runs never delete each other's copy.
work="${BB_ANSIBLE_TEST_DIR:-${TMPDIR:-/tmp}/boosterbeacon-ansible-test-$(printf '%s' "$root" | sha256sum | cut -c1-12)}"
dest="$work/ansible_collections/boosterbeacon/infra"
rm -rf "$dest" && mkdir -p "$dest"
cd "$root"
# The test services are Node projects, not collection content: `make lint` shellchecks their scripts.
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [[ -e $f && $f != tests/fixtures/* ]] && printf '%s\0' "$f"
done | tar --null -T - -cf - | tar -C "$dest" -xf -
# ansible-test bootstraps pip in its sanity venvs with a script it downloads from its own file
# host, which is out of reach here; seed its cache with an equivalent that uses ensurepip.
pip_version=$(python3 -c 'from ansible_test._internal.python_requirements import get_venv_packages as g
from ansible_test._internal.host_configs import NativePythonConfig as N
import sys; print(g(N(version="%d.%d" % sys.version_info[:2]))["pip"])' 2>/dev/null || true)
if [[ -n $pip_version ]]; then
  cache=~/.ansible/test/cache/get_pip_${pip_version//./_}.py
  [[ -f $cache ]] || { mkdir -p "$(dirname "$cache")"; cp "$root/scripts/get-pip-offline.py" "$cache"; }
fi
cd "$dest"
# The copy is not a git checkout: ansible-test then tests every file it finds.
py=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
cmd=$1; shift
# A sanity test whose tool is missing is skipped with a mere warning: refuse that instead.
if [[ $cmd == sanity ]] && ! command -v shellcheck >/dev/null; then
  echo "ERROR: shellcheck is missing (apt-get install shellcheck); sanity would skip it." >&2
  exit 1
fi
case $cmd in
  sanity) exec ansible-test sanity --python "$py" --color no "$@" ;;
  *) exec ansible-test "$cmd" --python "$py" --color no "$@" ;;
esac
