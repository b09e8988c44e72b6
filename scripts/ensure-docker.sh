#!/usr/bin/env bash
# Make sure a Docker engine answers. On Debian as root it installs docker.io and starts
# dockerd itself (machines without systemd have nobody else to start it); anywhere else it
# stops with a message that says what to install.
set -euo pipefail

engine_up() { docker info >/dev/null 2>&1; }

if engine_up; then
  exit 0
fi

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "ERROR: no Docker engine answers 'docker info'." >&2
  echo "Install and start one (Debian: 'sudo apt-get install docker.io && sudo systemctl start docker')," >&2
  echo "or run this as root on Debian so it can do that for you." >&2
  exit 1
fi

if ! command -v dockerd >/dev/null; then
  echo ">> installing docker.io"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
  systemctl start docker
else
  echo ">> starting dockerd (log: /var/log/dockerd.log)"
  # In a session of its own: it outlives the shell (and process group) that started it.
  setsid nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null &
fi

for _ in $(seq 1 60); do
  engine_up && exit 0
  sleep 1
done
echo "ERROR: dockerd did not answer within 60 s; see /var/log/dockerd.log" >&2
exit 1
