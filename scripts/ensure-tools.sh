#!/usr/bin/env bash
# Make sure the controller has every program `make test` needs. As root on Debian (or Ubuntu), or
# as a user with password-less sudo (a CI runner), the missing ones are installed from the
# distribution's packages; anywhere else this stops with the exact command.
#   docker.io, debootstrap: test hosts; postgresql, redis-server: the sample service's
#   integration tests; shellcheck: lint and sanity; openssh-client: SSH logins in the bootstrap
#   and hardening tests; curl: HTTPS checks from outside; python3-venv: the controller tooling;
#   nodejs, npm: the sample service's gate (only when no Node.js is on PATH); promtool: the
#   alert rules' checks and unit tests.
set -euo pipefail

declare -A provides=(
  [docker.io]=dockerd [debootstrap]=debootstrap
  [redis-server]=redis-server [shellcheck]=shellcheck [openssh-client]=ssh-keygen
  [curl]=curl [git]=git [nodejs]=node [npm]=npm
)
missing=()
for pkg in "${!provides[@]}"; do
  command -v "${provides[$pkg]}" >/dev/null || [[ -x /usr/bin/${provides[$pkg]} ]] || missing+=("$pkg")
done
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
# promtool is a package of its own from Debian 13 on; before, it comes with prometheus.
if ! command -v promtool >/dev/null; then
  if [[ $(sed -n 's/^VERSION_ID="\{0,1\}\([0-9]*\).*/\1/p' /etc/os-release) -ge 13 ]]; then missing+=(promtool); else missing+=(prometheus); fi
fi
(( ${#missing[@]} )) || exit 0

mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort)
as_root=()
if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null && sudo -n true 2>/dev/null; then as_root=(sudo -n); fi
if [[ $(id -u) -ne 0 && ${#as_root[@]} -eq 0 ]] || ! command -v apt-get >/dev/null; then
  echo "ERROR: missing programs for the tests; install them with:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo ">> installing ${missing[*]}"
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
