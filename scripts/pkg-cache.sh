#!/usr/bin/env bash
# The package caches every test container shares. apt: Debian's apt-cacher-ng in a container of
# its own (bb-pkg-cache), its cache in a Docker volume that outlives the container, so a .deb is
# downloaded once per machine, not once per test host; test images ask for it by name
# (scripts/build-images.sh installs an apt proxy detector) and go direct when it does not answer.
# npm: the volume bb-npm-cache, mounted as root's npm cache in every test host (molecule's config).
#   scripts/pkg-cache.sh up       start it when it is not running; print its address
#   scripts/pkg-cache.sh address  print its address (empty when it is not running)
#   scripts/pkg-cache.sh stats    downloaded vs served from the cache, from its log
#   scripts/pkg-cache.sh down     remove the container (the volumes stay; `purge` removes them too)
set -euo pipefail
cd "$(dirname "$0")/.."

NAME=bb-pkg-cache
VOLUME=bb-pkg-cache
BASE="${BB_IMAGE_REPO:-boosterbeacon/debian}:trixie"
# The cache image is rebuilt when this script or the base image changes.
base_id=$(docker image inspect -f '{{.Id}}' "$BASE" 2>/dev/null) \
  || { echo "ERROR: $BASE is missing: run 'make images' first" >&2; exit 1; }
IMAGE="boosterbeacon/pkg-cache:$( (sha256sum "$0"; echo "$base_id") | sha256sum | cut -c1-12)"

address() {
  { docker inspect -f '{{.State.Running}} {{.NetworkSettings.IPAddress}}' "$NAME" 2>/dev/null || true; } \
    | awk '$1 == "true" && $2 != "" {print $2}'
}

build() {
  docker image inspect "$IMAGE" >/dev/null 2>&1 && return
  echo ">> building $IMAGE" >&2
  # PassThroughPattern: HTTPS (CONNECT) is not cached, only tunnelled, so nothing breaks if a
  # source uses it.
  local log
  log=$(mktemp)
  docker build -q -t "$IMAGE" - >"$log" 2>&1 <<EOF || { cat "$log" >&2; rm -f "$log"; exit 1; }
FROM $BASE
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends apt-cacher-ng >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && printf 'PassThroughPattern: .*:443\$\nExThreshold: 30\n' > /etc/apt-cacher-ng/zz-test-suite.conf
USER apt-cacher-ng
CMD ["/usr/sbin/apt-cacher-ng", "-c", "/etc/apt-cacher-ng", "ForeGround=1", "LogDir=/var/cache/apt-cacher-ng/_logs"]
EOF
  rm -f "$log"
}

up() {
  local addr
  addr=$(address)
  if [[ -n $addr ]] && docker inspect -f '{{.Config.Image}}' "$NAME" | grep -qx "$IMAGE"; then
    echo "$addr"
    return
  fi
  build
  docker rm -f "$NAME" >/dev/null 2>&1 || true
  docker run -d --name "$NAME" --restart unless-stopped -v "$VOLUME:/var/cache/apt-cacher-ng" "$IMAGE" >/dev/null
  for _ in $(seq 1 30); do
    addr=$(address)
    if [[ -n $addr ]] && docker exec "$NAME" bash -c 'exec 3<>/dev/tcp/127.0.0.1/3142' 2>/dev/null; then
      echo "$addr"
      return
    fi
    sleep 1
  done
  echo "ERROR: the package cache did not answer within 30 s:" >&2
  docker logs --tail 20 "$NAME" >&2 || true
  exit 1
}

stats() {
  # apt-cacher-ng's transfer log: one line per file, O (sent from the cache or fetched) and
  # I (fetched from upstream) byte counts.
  docker exec "$NAME" sh -c 'cat /var/cache/apt-cacher-ng/_logs/apt-cacher.log 2>/dev/null' | awk -F'|' '
    $2 == "I" {fetched += $3} $2 == "O" {served += $3}
    END {printf "package cache: %.1f MB fetched from the mirror, %.1f MB served to test hosts\n", fetched / 1e6, served / 1e6}'
}

case ${1:-} in
  up) up ;;
  address) address ;;
  stats) stats ;;
  down) docker rm -f "$NAME" >/dev/null 2>&1 || true ;;
  purge) docker rm -f "$NAME" >/dev/null 2>&1 || true; docker volume rm "$VOLUME" bb-npm-cache >/dev/null 2>&1 || true ;;
  *) echo "usage: $0 up|address|stats|down|purge" >&2; exit 2 ;;
esac
