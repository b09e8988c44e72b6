#!/usr/bin/env bash
# Measures the hardening: Lynis hardening index of a stock host (a fresh test host with Debian's
# OpenSSH server, as providers hand a VPS over) and of a host after playbooks/provision.yml (the
# provisioned-host image, built by scripts/provisioned-image.sh when missing or out of date), on
# trixie and bookworm; then ssh-audit from outside the provisioned host. Where provision.yml fails,
# roles base and hardening on a stock host stand in, and the output says so. Prints; asserts nothing.
# Usage: bench/hardening-audit.sh [distro...]   (default: trixie bookworm; after `make venv collection images`;
#        BB_PKG_CACHE_ADDR: the package cache, if any)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
BIN=$PWD/.venv/bin
export PATH=$BIN:$PATH ANSIBLE_COLLECTIONS_PATH=$PWD/.collections
((${#@})) || set -- trixie bookworm
NAMES=()
cleanup() { for n in "${NAMES[@]}"; do docker rm -f "$n" >/dev/null 2>&1 || true; done; }
trap cleanup EXIT

# start NAME IMAGE: a systemd test host, as the scenarios run them, with Lynis and the SSH server.
start() {
  NAMES+=("$1")
  start_host "$1" "$2"
  docker exec "$1" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lynis openssh-server >/dev/null'
}

# lynis_index NAME: the index and the suggestions left.
lynis_index() {
  docker exec "$1" lynis audit system --quick --no-colors >/dev/null 2>&1 || true
  docker exec "$1" sh -c "grep '^hardening_index=' /var/log/lynis-report.dat | cut -d= -f2"
}

# harden NAME: roles base and hardening applied to a running host (when provision.yml cannot run).
harden() {
  local work
  work=$(mktemp -d)
  ssh-keygen -q -t ed25519 -N "" -f "$work/key"
  printf 'all:\n  hosts:\n    %s:\n      ansible_connection: community.docker.docker\n      base_deploy_user_authorized_keys: ["%s"]\n' \
    "$1" "$(cat "$work/key.pub")" >"$work/inventory.yml"
  printf -- '- name: Harden\n  hosts: all\n  become: true\n  roles:\n    - boosterbeacon.infra.base\n    - boosterbeacon.infra.hardening\n' >"$work/play.yml"
  ansible-playbook -i "$work/inventory.yml" "$work/play.yml" >"$work/play.log" || { tail -40 "$work/play.log"; exit 1; }
  rm -rf "$work"
}

for distro in "$@"; do
  stock=bb-bench-hardening-stock-$distro
  hardened=bb-bench-hardening-provisioned-$distro
  start "$stock" "boosterbeacon/debian:$distro"
  before=$(lynis_index "$stock")
  if scripts/provisioned-image.sh "$distro" >&2; then
    what="after provision.yml"
    start "$hardened" "boosterbeacon/provisioned:$distro"
  else
    what="after roles base and hardening (provision.yml failed on $distro, see above)"
    start "$hardened" "boosterbeacon/debian:$distro"
    harden "$hardened"
  fi
  after=$(lynis_index "$hardened")
  suggestions=$(docker exec "$hardened" sh -c "grep -E '^(suggestion|warning)\[\]=' /var/log/lynis-report.dat | cut -d'|' -f1,2,3")

  ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$hardened")
  set +e
  audit=$("$BIN/ssh-audit" -n --skip-rate-test "$ip")
  audit_rc=$?
  set -e

  echo "Debian $distro, $(date -u +%Y-%m-%d), $(docker exec "$hardened" dpkg-query -W -f='Lynis ${Version}' lynis)"
  echo "Lynis hardening index: stock host $before, $what $after"
  echo "Lynis findings left $what:"
  awk '{print "  " $0}' <<<"$suggestions"
  echo "ssh-audit of the provisioned host: exit $audit_rc; $(grep -c '\[fail\]' <<<"$audit") fail, $(grep -c '\[warn\]' <<<"$audit") warn lines"
  grep -E '\[(fail|warn)\]' <<<"$audit" || true
  docker rm -f "$stock" "$hardened" >/dev/null
done
