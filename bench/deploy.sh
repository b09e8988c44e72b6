#!/usr/bin/env bash
# Measures deploys and rollbacks against the local container (run `make demo` first): wall time
# of an unchanged redeploy, of a one-line code change, of a changed lockfile, of a rollback,
# and the requests that failed under a steady load during a deploy. Prints figures; asserts
# nothing. The gate is off here (it is measured by `make app-test`): these are the deploy's own
# costs. Works on a scratch copy of the sample service; the repository is not touched.
# Usage: bench/deploy.sh   (BB_BENCH_INVENTORY=inventories/local, BB_BENCH_HOST=boosterbeacon-local)
set -euo pipefail
cd "$(dirname "$0")/.."
INVENTORY=${BB_BENCH_INVENTORY:-inventories/local}
HOST=${BB_BENCH_HOST:-boosterbeacon-local}
BIN=$PWD/.venv/bin
export ANSIBLE_COLLECTIONS_PATH=$PWD/.collections ANSIBLE_ROLES_PATH=$PWD/roles
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cp -a tests/fixtures/app "$WORK/app"
rm -rf "$WORK/app/node_modules" "$WORK/app/dist"
VAULT=$(scripts/local-secrets.sh)

deploy() {  # deploy <label> [extra ansible-playbook args]: prints the wall time
  local label=$1 start rc=0
  shift
  start=$(date +%s.%N)
  "$BIN/ansible-playbook" -i "$INVENTORY" --vault-password-file "$VAULT" playbooks/deploy.yml \
    -e app_deploy_gate_ci=false -e app_deploy_gate_audit=false -e "app_deploy_source_dir=$WORK/app" "$@" \
    >"$WORK/$label.log" 2>&1 || rc=$?
  printf '%-28s %6.1f s  (exit %d)\n' "$label" "$(echo "$(date +%s.%N) - $start" | bc)" "$rc"
}

echo "=== deploy wall times against $HOST"
deploy "first (warms the build)"
deploy "unchanged redeploy"
sed -i '1i // bench: a one-line change' "$WORK/app/src/server.ts"
deploy "one-line change"
(cd "$WORK/app" && npm install --package-lock-only --no-audit --no-fund dotenv@16.4.5 >/dev/null 2>&1)
deploy "changed lockfile"

echo "=== rollback"
start=$(date +%s.%N)
rc=0
"$BIN/ansible-playbook" -i "$INVENTORY" --vault-password-file "$VAULT" playbooks/rollback.yml >"$WORK/rollback.log" 2>&1 || rc=$?
printf '%-28s %6.1f s  (exit %d)\n' "rollback to previous" "$(echo "$(date +%s.%N) - $start" | bc)" "$rc"

echo "=== requests during a deploy (8 workers on the host, through nginx, then straight to the app)"
docker cp bench/load.py "$HOST:/usr/local/bin/bb-load.py" >/dev/null
for target in https://127.0.0.1/health http://127.0.0.1:3000/health; do
  docker exec "$HOST" rm -f /tmp/stop-load /tmp/load.json
  docker exec -d "$HOST" python3 /usr/local/bin/bb-load.py --url "$target" --workers 8 --max-seconds 600 \
    --stop-file /tmp/stop-load --out /tmp/load.json
  sleep 2
  deploy "deploy under load"
  docker exec "$HOST" touch /tmp/stop-load
  for _ in $(seq 30); do docker exec "$HOST" test -s /tmp/load.json && break; sleep 1; done
  echo "$target: $(docker exec "$HOST" cat /tmp/load.json)"
done
