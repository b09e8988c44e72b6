#!/usr/bin/env bash
# Measures deploys and rollbacks against the local container (run `make demo` first): the
# median wall time of an unchanged redeploy, a one-line code change, a changed lockfile, a
# pending migration and a rollback, each as a ratio to a minimal deploy (bench/minimal-deploy.yml,
# the floor), and the requests that failed under a steady load during a deploy. Prints figures;
# asserts nothing. The gate is off here (it is measured by `make app-test`): these are the deploy's own
# costs; one more one-line change prints its slowest tasks. Works on a scratch copy of the sample
# service; the repository is not touched.
# Usage: bench/deploy.sh   (BB_BENCH_RUNS=3, BB_BENCH_INVENTORY=inventories/local, BB_BENCH_HOST=boosterbeacon-local)
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

RUNS=${BB_BENCH_RUNS:-3}
# shellcheck source=bench/lib.sh
source bench/lib.sh

playbook() {
  "$BIN/ansible-playbook" -i "$INVENTORY" --vault-password-file "$VAULT" "$@"
}

deploy() {  # deploy <label> [extra ansible-playbook args]
  local label=$1
  shift
  timed "$label" "$WORK/$label.log" playbook playbooks/deploy.yml \
    -e app_deploy_gate_ci=false -e app_deploy_gate_audit=false -e "app_deploy_source_dir=$WORK/app" "$@"
}

floor() {
  timed floor "$WORK/floor.log" playbook bench/minimal-deploy.yml -e "bench_artifact=$WORK/floor.tar.gz"
}

echo "=== the floor's artifact (built once, not timed)"
(cd "$WORK/app" && npm ci --no-audit --no-fund >/dev/null && npm run --silent build >/dev/null \
  && tar -czf "$WORK/floor.tar.gz" dist package.json package-lock.json ecosystem.config.js)

# The bench's migrations (SELECT only) of an earlier run are not in this scratch copy: forget them,
# or node-pg-migrate refuses a database holding migrations the release does not ship.
docker exec "$HOST" runuser -u postgres -- psql -qAtX -d boosterbeacon \
  -c "DELETE FROM app.pgmigrations WHERE name LIKE '%\\_bench-%'" >/dev/null 2>&1 || true

echo "=== wall times against $HOST, $RUNS runs each"
deploy "first (warms the build)"
floor
for run in $(seq "$RUNS"); do
  deploy "unchanged redeploy"
  floor
  echo "// bench: one-line change $run" >>"$WORK/app/src/server.ts"
  deploy "one-line change"
  # A different dotenv each time: the lockfile changes, so npm ci runs.
  (cd "$WORK/app" && npm install --package-lock-only --no-audit --no-fund "dotenv@16.4.$run" >/dev/null 2>&1)
  deploy "changed lockfile"
  printf 'exports.up = (pgm) => { pgm.sql("SELECT %s"); };\nexports.down = () => {};\n' "$run" \
    >"$WORK/app/migrations/$(( 1900000000000 + $(date +%s) ))_bench-$run.js"
  deploy "pending migration"
  timed "rollback" "$WORK/rollback.log" playbook playbooks/rollback.yml
  # Back onto the newest release (not timed), so the next round's redeploy is an unchanged one.
  playbook playbooks/deploy.yml -e app_deploy_gate_ci=false -e app_deploy_gate_audit=false \
    -e "app_deploy_source_dir=$WORK/app" >"$WORK/after-rollback.log" 2>&1
  floor
done

echo "=== medians, and ratios to the floor (a minimal deploy: upload, unpack, npm ci --omit=dev, symlink, pm2 reload)"
printf '  %-26s %6s  %s\n' case median ratio
for label in floor "unchanged redeploy" "one-line change" "changed lockfile" "pending migration" rollback; do
  # shellcheck disable=SC2086
  m=$(median ${TIMES[$label]})
  printf '  %-26s %5.1fs  %4.2fx\n' "$label" "$m" "$(ratio "$label" floor)"
done
echo "  (targets: unchanged redeploy <= 0.3x, one-line change <= 0.5x, rollback <= 0.4x)"
echo "  the last deploy's timeline:"
grep -E ' [0-9]+\.[0-9] s.?$' "$WORK/pending migration.log" | tail -25 || true

echo "=== where a one-line change spends its time: the slowest tasks of one more (ansible.posix.profile_tasks)"
echo "// bench: profiled" >>"$WORK/app/src/server.ts"
ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks PROFILE_TASKS_TASK_OUTPUT_LIMIT=20 deploy "profiled one-line change"
grep -A22 '^TASKS RECAP' "$WORK/profiled one-line change.log" | grep -E -- '-{3} [0-9.]+s$' || true

echo "=== requests during a deploy (8 workers on the host, through nginx, then straight to the app)"
docker cp bench/load.py "$HOST:/usr/local/bin/bb-load.py" >/dev/null
for target in https://127.0.0.1/health http://127.0.0.1:3000/health; do
  docker exec "$HOST" rm -f /tmp/stop-load /tmp/load.json
  docker exec -d "$HOST" python3 /usr/local/bin/bb-load.py --url "$target" --workers 8 --max-seconds 600 \
    --stop-file /tmp/stop-load --out /tmp/load.json
  sleep 2
  deploy "deploy under load" -e app_deploy_force_release=true
  docker exec "$HOST" touch /tmp/stop-load
  for _ in $(seq 30); do docker exec "$HOST" test -s /tmp/load.json && break; sleep 1; done
  echo "$target: $(docker exec "$HOST" cat /tmp/load.json)"
done
