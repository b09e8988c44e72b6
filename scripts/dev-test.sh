#!/usr/bin/env bash
# The development environment's test (make dev-test): brings an environment of its own
# (bb-dev-check, on ports of its own) up for a scratch copy of the sample service and proves
# what a developer relies on: ports on loopback only; production's PostgreSQL, Redis and Node.js
# major versions and the roles' settings; seeded data; a .ts edit served within seconds (the
# figure printed); the tests on a clone of the template, never on the development data; every
# service's log with stack traces; then stop, down and down --volumes leave nothing behind.
# Images: BB_DEV_IMAGES (local by default here: this machine reaches no registry).
set -euo pipefail
cd "$(dirname "$0")/.."
export BB_DEV_PROJECT=bb-dev-check
export BB_DEV_IMAGES=${BB_DEV_IMAGES:-local}
export BB_DEV_APP_PORT=${BB_DEV_APP_PORT:-13080} BB_DEV_PG_PORT=${BB_DEV_PG_PORT:-15433} BB_DEV_REDIS_PORT=${BB_DEV_REDIS_PORT:-16380}
DISTRO=${DISTRO:-trixie}
RELOAD_MAX=${BB_DEV_RELOAD_MAX:-30}
URL=http://127.0.0.1:$BB_DEV_APP_PORT
dev=scripts/dev.sh
started=$(date +%s)

step() { echo "=== $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
container() { docker ps -aq --filter "label=bb.dev.project=$BB_DEV_PROJECT" --filter "label=bb.dev.service=$1"; }
sql() { $dev psql -U postgres -X -A -t -q -c "$1" </dev/null; }

mkdir -p .cache
scratch=$(mktemp -d "$PWD/.cache/dev-test.XXXXXX")
export BB_DEV_SOURCE=$scratch/app
cleanup() {
  local rc=$?
  if (( rc != 0 )); then
    echo "--- the environment's last log lines" >&2
    $dev logs 2>/dev/null | tail -40 >&2 || true
  fi
  $dev down --volumes >/dev/null 2>&1 || true
  rm -rf "$scratch"
  exit "$rc"
}
trap cleanup EXIT
# The sample's source without anything built or installed on this machine.
tar -C tests/fixtures/app --exclude=./node_modules --exclude=./.test-build --exclude=./dist -c . \
  | { mkdir -p "$BB_DEV_SOURCE" && tar -C "$BB_DEV_SOURCE" -x; }

step "up ($BB_DEV_IMAGES images)"
t0=$(date +%s)
$dev up >"$scratch/up.log" 2>&1 || { tail -40 "$scratch/up.log" >&2; fail "scripts/dev.sh up failed"; }
echo "up took $(( $(date +%s) - t0 )) s"

step "ports on 127.0.0.1 only"
for svc in postgres redis app; do
  ports=$(docker port "$(container $svc)")
  [[ -n $ports ]] || fail "$svc publishes no port"
  if grep -v -- '-> 127\.0\.0\.1:' <<<"$ports"; then fail "$svc publishes a port beyond loopback"; fi
done
ok "$(docker ps --filter "label=bb.dev.project=$BB_DEV_PROJECT" --format '{{.Ports}}' | tr '\n' ' ')"

step "production's versions and the roles' settings"
# What production runs, read from the roles' defaults and the environment's own tables.
declare -A want
eval "$(.venv/bin/python - "$DISTRO" <<'PY'
import shlex, sys, yaml
distro = sys.argv[1]
load = lambda path: yaml.safe_load(open(path))
pg, pgv, redis, node = (load(f"roles/{p}") for p in (
    "postgresql/defaults/main.yml", "postgresql/vars/main.yml", "redis/defaults/main.yml", "nodejs/defaults/main.yml"))
dev = load("dev/dev.yml")[0]["vars"]
units = {"kb": 1024, "mb": 1024 ** 2, "gb": 1024 ** 3}
mem = redis["redis_maxmemory"].lower()
out = {
    "pg_major": str(pg["postgresql_version"] or pgv["__postgresql_default_versions"][distro]),
    "max_connections": pg["postgresql_max_connections"],
    "shared_buffers": f"{int(dev['dev_postgresql_memory_mb'] * pg['postgresql_shared_buffers_ratio'])}MB",
    "preload": "pg_stat_statements" if pg["postgresql_pg_stat_statements_enabled"] else "",
    "redis_major": dev["dev_debian_redis_versions"][distro],
    "maxmemory": int(mem[:-2]) * units[mem[-2:]] if mem[-2:] in units else int(mem),
    "policy": redis["redis_maxmemory_policy"],
    "appendonly": "yes" if redis["redis_appendonly"] else "no",
    "appendfsync": redis["redis_appendfsync"],
    "save": redis["redis_save"],
    "db": pg["postgresql_database"],
    "app_user": pg["postgresql_app_user"],
    "schema": pg["postgresql_schema"],
    "node_major": str(node["nodejs_nodesource_major"]) if node["nodejs_source"] == "nodesource"
                       else dev["dev_debian_nodejs_versions"][distro],
}
for key, value in out.items():
    print(f"want[{key}]={shlex.quote(str(value))}")
PY
)"
check() { [[ $2 == "$3" ]] || fail "$1: $2, production: $3"; ok "$1 $2"; }
check "PostgreSQL major" "$(( $(sql 'SHOW server_version_num') / 10000 ))" "${want[pg_major]}"
check "max_connections" "$(sql 'SHOW max_connections')" "${want[max_connections]}"
check "shared_buffers" "$(sql 'SHOW shared_buffers')" "${want[shared_buffers]}"
check "shared_preload_libraries" "$(sql 'SHOW shared_preload_libraries')" "${want[preload]}"
check "password_encryption" "$(sql 'SHOW password_encryption')" scram-sha-256
redis_conf() { $dev redis-cli --no-auth-warning config get "$1" </dev/null | sed -n 2p; }
check "Redis major" "$($dev redis-cli --no-auth-warning info server </dev/null | sed -n 's/^redis_version:\([0-9]*\.[0-9]*\).*/\1/p')" "${want[redis_major]}"
check "maxmemory" "$(redis_conf maxmemory)" "${want[maxmemory]}"
check "maxmemory-policy" "$(redis_conf maxmemory-policy)" "${want[policy]}"
check "appendonly" "$(redis_conf appendonly)" "${want[appendonly]}"
check "appendfsync" "$(redis_conf appendfsync)" "${want[appendfsync]}"
check "save" "$(redis_conf save)" "${want[save]}"
check "Node.js major" "$(docker exec "$(container app)" node -p 'process.versions.node.split(".")[0]')" "${want[node_major]}"
# The app role, as in production: rows yes, schema changes no.
refused=$($dev psql -U postgres -c "SET ROLE ${want[app_user]}; CREATE TABLE ${want[schema]}.nope (id int)" 2>&1 </dev/null || true)
grep -q "permission denied for schema ${want[schema]}" <<<"$refused" || fail "the app role was not refused a table: $refused"
ok "the app role cannot create tables"

step "seeded data"
seeded=$(curl -sf "$URL/api/beacons")
grep -q '"harbour-north"' <<<"$seeded" || fail "the seed rows are missing: $seeded"
ok "$(grep -o '"name":"[^"]*"' <<<"$seeded" | tr '\n' ' ')"

step "hot reload: a .ts edit served"
marker="edited-$RANDOM$RANDOM"
before=$(curl -sf "$URL/health")
grep -q "$marker" <<<"$before" && fail "the marker is there before the edit"
sed -i "s/return { status: 'ok', version, release: config.release };/return { status: 'ok', version, release: config.release, edit: '$marker' };/" \
  "$BB_DEV_SOURCE/src/app.ts"
grep -q "$marker" "$BB_DEV_SOURCE/src/app.ts" || fail "the edit did not apply to src/app.ts"
t0=$(date +%s%N)
reloaded=
for _ in $(seq 1 $(( RELOAD_MAX * 5 ))); do
  if curl -sf --max-time 2 "$URL/health" 2>/dev/null | grep -q "$marker"; then reloaded=1; break; fi
  sleep 0.2
done
seconds=$(awk -v ns=$(( $(date +%s%N) - t0 )) 'BEGIN {printf "%.1f", ns / 1e9}')
[[ -n $reloaded ]] || fail "the edit was not served within $RELOAD_MAX s"
echo "hot reload: the edited src/app.ts answered after $seconds s"
# And back: the tests below check /health's exact answer.
cp tests/fixtures/app/src/app.ts "$BB_DEV_SOURCE/src/app.ts"
t0=$(date +%s%N)
reverted=
for _ in $(seq 1 $(( RELOAD_MAX * 5 ))); do
  if curl -sf --max-time 2 "$URL/health" 2>/dev/null | grep -v "$marker" | grep -q '"status":"ok"'; then reverted=1; break; fi
  sleep 0.2
done
seconds_back=$(awk -v ns=$(( $(date +%s%N) - t0 )) 'BEGIN {printf "%.1f", ns / 1e9}')
[[ -n $reverted ]] || fail "the edit's undo was not served within $RELOAD_MAX s"
echo "hot reload: the undone edit answered after $seconds_back s"

step "tests on a database of their own"
curl -sf -X POST -H 'content-type: application/json' -d '{"name":"made-in-dev"}' "$URL/api/beacons" >/dev/null
curl -sf "$URL/api/beacons" >/dev/null   # the list cached in Redis's development database
$dev redis-cli --no-auth-warning set bb-dev-check:marker kept </dev/null >/dev/null
dev_rows() { sql "SELECT string_agg(id || ':' || name, ',' ORDER BY id) FROM ${want[schema]}.beacons"; }
rows_before=$(dev_rows)
BB_DEV_KEEP_TEST_DB=1 $dev test test:integration >"$scratch/test.log" 2>&1 </dev/null \
  || { tail -60 "$scratch/test.log" >&2; fail "the service's integration tests failed"; }
grep -E '(^| )(tests|pass|fail) [0-9]+$' "$scratch/test.log" | tr '\n' ' '; echo
if ! grep -qE '(^| )fail 0$' "$scratch/test.log" || ! grep -qE '(^| )pass [1-9][0-9]*$' "$scratch/test.log"; then
  fail "no passing test run in the output"
fi
test_db=$(sed -n "s/^bb-dev: test database \([a-z0-9_]*\) (a clone of ${want[db]}_test_template).*/\1/p" "$scratch/test.log")
[[ $test_db == "${want[db]}"_test_2* ]] || fail "the run named no test database cloned from the template"
ok "the tests ran on $test_db"
[[ $(dev_rows) == "$rows_before" ]] || fail "the development rows changed: $rows_before -> $(dev_rows)"
ok "the development rows are unchanged: $rows_before"
[[ -z $(sql "SELECT tablename FROM pg_tables WHERE schemaname = 'public'") ]] || fail "tables appeared in the development database's public schema"
[[ $($dev redis-cli --no-auth-warning get bb-dev-check:marker </dev/null) == kept ]] || fail "Redis's development database lost a key"
curl -sf "$URL/api/beacons" | grep -q '"made-in-dev"' || fail "the service no longer lists the development rows"
ok "Redis's development database and the service's list are unchanged"
in_test_db() { $dev psql -U postgres -X -A -t -q -d "$1" -c "$2" </dev/null; }
[[ $(in_test_db "$test_db" "SELECT string_agg(name, ',' ORDER BY id) FROM public.beacons") == north,south ]] \
  || fail "the test database does not hold the tests' rows"
[[ $(in_test_db "${want[db]}_test_template" "SELECT count(*) FROM public.beacons") == 0 ]] \
  || fail "the template the next run clones holds rows"
ok "the tests' rows are in $test_db; the template stays empty and migrated"
# The test role is fenced off the development database.
denied=$(PGPASSWORD=$(cat ".secrets/$BB_DEV_PROJECT/test") docker exec -e PGPASSWORD "$(container postgres)" \
  psql -h 127.0.0.1 -U "${want[db]}_test" -d "${want[db]}" -c 'SELECT 1' 2>&1 </dev/null || true)
grep -q 'permission denied for database' <<<"$denied" || fail "the test role reached the development database: $denied"
ok "the test role cannot connect to the development database"
# The next run drops what this one kept and clones afresh.
$dev test typecheck >"$scratch/test2.log" 2>&1 </dev/null || { tail -30 "$scratch/test2.log" >&2; fail "the second run failed"; }
grep -q "dropped $test_db, left by an earlier run" "$scratch/test2.log" || fail "the next run did not drop $test_db"
[[ -z $(sql "SELECT datname FROM pg_database WHERE datname LIKE '${want[db]}\\_test\\_2%'") ]] || fail "test databases are left"
ok "the next run dropped $test_db, and its own clone afterwards"

step "logs: every service, errors with their stack"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'content-type: application/json' -d '{"name":"nul\u0000"}' "$URL/api/beacons")
[[ $code == 500 ]] || fail "a NUL in a name gave $code, not a 500"
sleep 1
$dev logs >"$scratch/logs.txt"
for svc in postgres redis app; do
  grep -q "^[0-9:.]* $svc *| " "$scratch/logs.txt" || fail "no $svc lines in scripts/dev.sh logs"
done
grep -q '^[0-9:.]* postgres *| .*invalid byte sequence' "$scratch/logs.txt" || fail "PostgreSQL's error is not in the log"
# The frames follow the line, source-mapped to the .ts file that made the query.
grep -A3 '^[0-9:.]* app *| .*"level":50.*invalid byte sequence' "$scratch/logs.txt" | grep -q '^[0-9:.]* app *|     at .*/src/app\.ts:[0-9]' \
  || fail "the service's error has no stack trace naming src/app.ts in the log"
grep -A3 '^[0-9:.]* app *| .*"level":50.*invalid byte sequence' "$scratch/logs.txt" | sed -n 1,4p | cut -c1-160
ok "postgres, redis and app lines; the 500's stack trace below its line"

step "stop, down, down --volumes"
$dev stop >/dev/null
for svc in postgres redis app; do
  [[ $(docker inspect -f '{{.State.Running}}' "$(container $svc)") == false ]] || fail "$svc still runs after stop"
done
ok "stopped"
$dev down >/dev/null
[[ -z $(docker ps -aq --filter "label=bb.dev.project=$BB_DEV_PROJECT") ]] || fail "containers left after down"
[[ $(docker volume ls -q --filter "label=bb.dev.project=$BB_DEV_PROJECT" | wc -l) == 3 ]] || fail "down removed volumes"
ok "down removed the containers and kept the three volumes"
$dev down --volumes >/dev/null
left="$(docker ps -aq --filter "label=bb.dev.project=$BB_DEV_PROJECT")$(docker network ls -q --filter "label=bb.dev.project=$BB_DEV_PROJECT")$(docker volume ls -q --filter "label=bb.dev.project=$BB_DEV_PROJECT")"
[[ -z $left ]] || fail "left after down --volumes: $left"
for port in "$BB_DEV_APP_PORT" "$BB_DEV_PG_PORT" "$BB_DEV_REDIS_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then fail "something still listens on 127.0.0.1:$port"; fi
done
[[ ! -e .secrets/$BB_DEV_PROJECT ]] || fail "the passwords were kept after down --volumes"
ok "nothing left: no container, network, volume, listener or password"
echo "PASS: development environment (hot reload $seconds s and $seconds_back s; whole test $(( $(date +%s) - started )) s)"
