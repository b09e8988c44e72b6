#!/usr/bin/env bash
# The built-in default target: one systemd container on this machine playing the VPS.
# HTTP and HTTPS are published on 127.0.0.1 only. Usage: scripts/local-host.sh up|down|status
set -euo pipefail
NAME=${BB_LOCAL_NAME:-boosterbeacon-local}
IMAGE=${BB_LOCAL_IMAGE:-boosterbeacon/debian:trixie}
HTTP_PORT=${BB_LOCAL_HTTP_PORT:-8080}
HTTPS_PORT=${BB_LOCAL_HTTPS_PORT:-8443}

case ${1:-status} in
  up)
    if [[ $(docker inspect -f '{{.State.Running}}' "$NAME" 2>/dev/null) == true ]]; then
      echo ">> $NAME is running"
    else
      docker rm -f "$NAME" >/dev/null 2>&1 || true
      docker run -d --name "$NAME" --hostname "$NAME" \
        --cap-add SYS_ADMIN --cap-add NET_ADMIN --security-opt seccomp=unconfined \
        --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
        -p "127.0.0.1:$HTTP_PORT:80" -p "127.0.0.1:$HTTPS_PORT:443" \
        "$IMAGE" /lib/systemd/systemd >/dev/null
      echo ">> started $NAME from $IMAGE"
    fi
    for _ in $(seq 1 60); do
      state=$(docker exec "$NAME" systemctl is-system-running 2>/dev/null || true)
      [[ $state == running || $state == degraded ]] && { echo ">> $NAME: systemd $state; http://127.0.0.1:$HTTP_PORT/"; exit 0; }
      sleep 1
    done
    echo "ERROR: systemd in $NAME did not come up; see 'docker logs $NAME'" >&2
    exit 1
    ;;
  down)
    docker rm -f "$NAME" >/dev/null 2>&1 && echo ">> removed $NAME" || echo ">> $NAME was not there"
    ;;
  status)
    docker ps -a --filter "name=^${NAME}$" --format '{{.Names}}: {{.Status}} {{.Ports}}'
    ;;
  *)
    echo "usage: $0 up|down|status" >&2
    exit 2
    ;;
esac
