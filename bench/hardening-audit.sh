#!/usr/bin/env bash
# Measures the hardening role: Lynis hardening index before and after on the same fresh test
# host, then ssh-audit from outside. Prints figures; asserts nothing.
# Usage: bench/hardening-audit.sh [trixie|bookworm]   (after `make venv collection images`)
set -euo pipefail
cd "$(dirname "$0")/.."
DISTRO=${1:-trixie}
NAME=bb-bench-hardening-$DISTRO
BIN=$PWD/.venv/bin
WORK=$(mktemp -d)
cleanup() { docker rm -f "$NAME" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

docker rm -f "$NAME" >/dev/null 2>&1 || true
docker run -d --name "$NAME" --hostname "$NAME" \
  --cap-add SYS_ADMIN --cap-add NET_ADMIN --security-opt seccomp=unconfined \
  --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
  "boosterbeacon/debian:$DISTRO" /lib/systemd/systemd >/dev/null
for _ in $(seq 1 60); do
  state=$(docker exec "$NAME" systemctl is-system-running 2>/dev/null || true)
  [[ $state == running || $state == degraded ]] && break
  sleep 1
done

# A VPS as providers hand it over: an SSH server with Debian's settings.
docker exec "$NAME" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lynis openssh-server >/dev/null'

lynis_index() {
  docker exec "$NAME" lynis audit system --quick --no-colors >/dev/null 2>&1 || true
  docker exec "$NAME" sh -c "grep '^hardening_index=' /var/log/lynis-report.dat | cut -d= -f2"
}
before=$(lynis_index)

ssh-keygen -q -t ed25519 -N "" -f "$WORK/key"
cat >"$WORK/inventory.yml" <<YAML
all:
  hosts:
    $NAME:
      ansible_connection: community.docker.docker
      base_deploy_user_authorized_keys: ["$(cat "$WORK/key.pub")"]
YAML
cat >"$WORK/play.yml" <<'YAML'
- name: Harden
  hosts: all
  become: true
  roles:
    - boosterbeacon.infra.base
    - boosterbeacon.infra.hardening
YAML
start=$(date +%s)
ANSIBLE_COLLECTIONS_PATH=$PWD/.collections "$BIN/ansible-playbook" -i "$WORK/inventory.yml" "$WORK/play.yml" >"$WORK/play.log" \
  || { tail -40 "$WORK/play.log"; exit 1; }
took=$(( $(date +%s) - start ))
after=$(lynis_index)

ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$NAME")
set +e
audit=$("$BIN/ssh-audit" -n --skip-rate-test "$ip")
audit_rc=$?
set -e

echo "Debian $DISTRO, $(date -u +%Y-%m-%d)"
echo "Lynis hardening index: before $before, after $after (roles base + hardening, applied in ${took}s)"
echo "ssh-audit: exit $audit_rc; $(grep -c '\[fail\]' <<<"$audit") fail, $(grep -c '\[warn\]' <<<"$audit") warn lines"
grep -E '\[(fail|warn)\]' <<<"$audit" || true
