#!/usr/bin/env bash
# The service's development environment (dev/dev.yml, docs/dev-environment.md).
#   scripts/dev.sh up                 PostgreSQL, Redis and the service from its source; migrated and seeded
#   scripts/dev.sh logs [-f] [SERVICE...]  every service's log (postgres, redis, app) in time order; -f follows
#   scripts/dev.sh test [SCRIPT...]   the service's npm scripts (test test:integration) on a test database of their own
#   scripts/dev.sh psql [ARGS...]     psql in the development database as the owner role
#   scripts/dev.sh redis-cli [ARGS...] redis-cli as the admin user
#   scripts/dev.sh status             the containers
#   scripts/dev.sh stop               stop the containers (data and containers stay)
#   scripts/dev.sh down [--volumes]   remove containers and network; with --volumes the data too
# Settings (environment): BB_DEV_IMAGES (official or local), BB_DEV_SOURCE (the service's
# directory), BB_DEV_APP_PORT, BB_DEV_PG_PORT, BB_DEV_REDIS_PORT, BB_DEV_PROJECT (name prefix,
# bb-dev), DISTRO (production's Debian release, trixie).
set -euo pipefail
cd "$(dirname "$0")/.."
PROJECT=${BB_DEV_PROJECT:-bb-dev}
STATE_DIR=$PWD/.secrets/$PROJECT
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH=$PWD/.collections

die() { echo "ERROR: $*" >&2; exit 1; }

playbook() {
  local args=(-e "dev_project=$PROJECT" -e "dev_state_dir=$STATE_DIR") name value
  for pair in dev_images:BB_DEV_IMAGES dev_source:BB_DEV_SOURCE dev_app_port:BB_DEV_APP_PORT \
              dev_postgresql_port:BB_DEV_PG_PORT dev_redis_port:BB_DEV_REDIS_PORT dev_distribution_release:DISTRO; do
    name=${pair%%:*}
    value=${pair#*:}
    value=${!value:-}
    [[ -n $value ]] && args+=(-e "$name=$value")
  done
  ansible-playbook -i localhost, dev/dev.yml "${args[@]}" "$@"
}

# A service's container, found by its labels (dev/dev.yml sets them).
container() {
  docker ps -aq --filter "label=bb.dev.project=$PROJECT" --filter "label=bb.dev.service=$1" | head -1
}

running() {
  local id
  id=$(container "$1")
  [[ -n $id && $(docker inspect -f '{{.State.Running}}' "$id") == true ]] \
    || die "the $1 container of $PROJECT is not running: scripts/dev.sh up (make dev)"
  echo "$id"
}

logs() {
  local follow=0 services=() svc id
  for arg in "$@"; do
    if [[ $arg == -f ]]; then follow=1; else services+=("$arg"); fi
  done
  (( ${#services[@]} )) || services=(postgres redis app)
  for svc in "${services[@]}"; do
    [[ $svc =~ ^(postgres|redis|app)$ ]] || die "unknown service $svc (postgres, redis or app)"
  done
  if (( follow )); then
    trap 'kill 0' INT TERM
    for svc in "${services[@]}"; do
      id=$(container "$svc")
      [[ -n $id ]] || continue
      docker logs -f -t --tail 20 "$id" 2>&1 | python3 -u dev/format-logs.py "$svc" &
    done
    wait
  else
    for svc in "${services[@]}"; do
      id=$(container "$svc")
      [[ -n $id ]] || continue
      docker logs -t "$id" 2>&1 | python3 -u dev/format-logs.py --keep-time "$svc"
    done | sort -s -k1,1 | cut -d' ' -f2-
  fi
}

case ${1:-} in
  up) shift; playbook -e dev_state=started "$@" ;;
  stop) shift; playbook -e dev_state=stopped "$@" ;;
  down)
    shift
    volumes=false
    if [[ ${1:-} == --volumes ]]; then volumes=true; shift; fi
    playbook -e dev_state=absent -e "dev_remove_volumes=$volumes" "$@"
    ;;
  logs) shift; logs "$@" ;;
  test)
    shift
    id=$(running app)
    docker exec -e BB_DEV_KEEP_TEST_DB "$id" /bin/bash /usr/local/lib/bb-dev/app-test.sh "$@"
    ;;
  psql)
    shift
    id=$(running postgres)
    tty=(-i); [[ -t 0 ]] && tty=(-it)
    docker exec "${tty[@]}" "$id" psql "$@"
    ;;
  redis-cli)
    shift
    id=$(running redis)
    tty=(-i); [[ -t 0 ]] && tty=(-it)
    # The password reaches redis-cli through the environment, never a command line.
    REDISCLI_AUTH=$(cat "$STATE_DIR/redis_admin") \
      docker exec -e REDISCLI_AUTH "${tty[@]}" "$id" redis-cli --user "$(docker inspect -f '{{index .Config.Labels "bb.dev.redis-admin"}}' "$id")" "$@"
    ;;
  status)
    docker ps -a --filter "label=bb.dev.project=$PROJECT" --format '{{.Names}}: {{.Status}} {{.Ports}}'
    ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
