#!/usr/bin/env bash
# Measures backups and restores on the local container (run `make demo` first) with a database of
# BB_BENCH_GB gigabytes of incompressible rows (1 KiB of random bytes each) generated here:
# - pg_backup's dump and verified restore (through Ansible) against plain `pg_dump -Fc` and
#   `pg_restore` (into a new database), as ratios;
# - pgBackRest's full backup, then a differential after a small change, and a copy restored from
#   them (through the role), against the same plain figures;
# - the recovery point with WAL archiving: a row committed every second, the server "lost", a
#   copy restored to the end of the archived WAL: the seconds of committed rows it misses;
# - the recovery time of playbooks/dr_restore.yml from pgBackRest, in place and onto a fresh host
#   (a new container from the provisioned-host image).
# Prints figures; asserts nothing. Leaves the database bench_backup and its backups behind
# (`make demo-down` removes the container).
# Usage: bench/backup.sh   (BB_BENCH_GB=2, BB_BENCH_INVENTORY=inventories/local, BB_BENCH_HOST=boosterbeacon-local,
#                           BB_BENCH_DISTRO=trixie: the release of the demo host, for the fresh host's image)
set -euo pipefail
cd "$(dirname "$0")/.."
INVENTORY=${BB_BENCH_INVENTORY:-inventories/local}
HOST=${BB_BENCH_HOST:-boosterbeacon-local}
GB=${BB_BENCH_GB:-2}
DB=bench_backup
SCRATCH=/var/tmp/bb-bench
BIN=$PWD/.venv/bin
export ANSIBLE_COLLECTIONS_PATH=$PWD/.collections ANSIBLE_ROLES_PATH=$PWD/roles
WORK=$(mktemp -d)
NEW=boosterbeacon-bench-new
new_host() { BB_LOCAL_NAME=$NEW BB_LOCAL_IMAGE=boosterbeacon/provisioned:${BB_BENCH_DISTRO:-trixie} \
  BB_LOCAL_HTTP_PORT=8081 BB_LOCAL_HTTPS_PORT=8444 scripts/local-host.sh "$1" >/dev/null; }
trap 'rm -rf "$WORK"; new_host down' EXIT
VAULT=$(scripts/local-secrets.sh)
# shellcheck source=bench/lib.sh
source bench/lib.sh

on_host() { docker exec "$HOST" "$@"; }
as_postgres() { docker exec "$HOST" runuser -u postgres -- "$@"; }
sql() { as_postgres psql -qAtX -v ON_ERROR_STOP=1 "$@"; }
playbook() { "$BIN/ansible-playbook" -i "$INVENTORY" --vault-password-file "$VAULT" "$@"; }
module() { "$BIN/ansible" -i "$INVENTORY" --vault-password-file "$VAULT" "$HOST" -b -m "boosterbeacon.infra.$1" -a "$2"; }
pitr_copy() { playbook bench/pitr-copy.yml -e "bench_copy_path=$SCRATCH/pitr-copy"; }
stop_copy() {  # the copy pitr_copy started, stopped and removed
  as_postgres sh -c "/usr/lib/postgresql/*/bin/pg_ctl -D $SCRATCH/pitr-copy -m fast stop" >/dev/null 2>&1 || true
  on_host rm -rf "$SCRATCH/pitr-copy"
}

on_host sh -c "rm -rf $SCRATCH && mkdir -p $SCRATCH/plain $SCRATCH/pgb && chown -R postgres: $SCRATCH"
stop_copy

echo "=== $GB GB of incompressible rows in $DB (not timed)"
sql -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "DROP DATABASE IF EXISTS ${DB}_plain" -c "CREATE DATABASE $DB"
sql -d "$DB" -c "CREATE EXTENSION pgcrypto" \
  -c "CREATE TABLE blobs (id bigint PRIMARY KEY, body bytea NOT NULL, note text NOT NULL)"
for chunk in $(seq 0 $((GB * 4 - 1))); do  # 256 MiB per statement
  sql -d "$DB" -c "INSERT INTO blobs SELECT g, gen_random_bytes(1024), md5(g::text)
    FROM generate_series($((chunk * 262144 + 1)), $(((chunk + 1) * 262144))) g"
done
sql -d "$DB" -c "VACUUM ANALYZE blobs"
echo "  database size: $(sql -d "$DB" -c "SELECT pg_size_pretty(pg_database_size('$DB'))")"

echo "=== logical dumps: plain pg_dump/pg_restore, then pg_backup through Ansible"
timed "plain pg_dump -Fc" "$WORK/plain-dump.log" as_postgres pg_dump -Fc -f "$SCRATCH/plain/$DB.dump" "$DB"
timed "plain createdb + pg_restore" "$WORK/plain-restore.log" \
  as_postgres sh -c "createdb ${DB}_plain && pg_restore --exit-on-error -d ${DB}_plain $SCRATCH/plain/$DB.dump"
sql -d postgres -c "DROP DATABASE ${DB}_plain"
timed "pg_backup dump" "$WORK/pgb-dump.log" module pg_backup "state=dump database=$DB dest=$SCRATCH/pgb become_user=postgres"
timed "pg_backup verify (real restore)" "$WORK/pgb-verify.log" \
  module pg_backup "state=verify database=$DB dest=$SCRATCH/pgb become_user=postgres"
echo "  dump sizes: plain $(on_host du -sh "$SCRATCH/plain" | cut -f1), pg_backup $(on_host du -sh "$SCRATCH/pgb" | cut -f1)"

echo "=== pgBackRest (stanza boosterbeacon: the whole cluster, $DB included)"
timed "pgBackRest full backup" "$WORK/pgbr-full.log" as_postgres pgbackrest --stanza=boosterbeacon --type=full backup
sql -d "$DB" -c "UPDATE blobs SET note = 'changed' WHERE id <= 10000"
timed "pgBackRest diff after 10k rows" "$WORK/pgbr-diff.log" as_postgres pgbackrest --stanza=boosterbeacon --type=diff backup
timed "pgBackRest copy restore (role)" "$WORK/pgbr-restore.log" pitr_copy
stop_copy

echo "=== recovery point: a row committed every second for 150 s, then the server is lost"
sql -d "$DB" -c "CREATE TABLE IF NOT EXISTS rpo (at timestamptz NOT NULL)" -c "TRUNCATE rpo"
on_host sh -c "for i in \$(seq 150); do runuser -u postgres -- psql -qAtX -d $DB -c 'INSERT INTO rpo VALUES (clock_timestamp())'; sleep 1; done"
last=$(sql -d "$DB" -c "SELECT extract(epoch FROM max(at)) FROM rpo")
# Lost now: nothing more is archived. A copy restored to the end of the archived WAL.
pitr_copy >"$WORK/rpo-restore.log" 2>&1 || { echo "  the copy's restore failed: $WORK/rpo-restore.log"; tail -20 "$WORK/rpo-restore.log"; }
port=$(grep -oE 'port [0-9]+' "$WORK/rpo-restore.log" | head -1 | cut -d' ' -f2)
kept=$(as_postgres psql -qAtX -p "${port:-5499}" -d "$DB" -c "SELECT extract(epoch FROM max(at)) FROM rpo" 2>/dev/null || echo "")
stop_copy
if [[ -n $kept ]]; then
  printf '  committed rows lost with the server: the last %.0f s (archive_timeout %s bounds it; target <= 60 s)\n' \
    "$(echo "$last - $kept" | bc -l)" "$(sql -d postgres -c 'SHOW archive_timeout')"
else
  echo "  the copy answered no row: see $WORK/rpo-restore.log"
fi

echo "=== recovery time: playbooks/dr_restore.yml in place from pgBackRest (the newest archived state)"
timed "dr_restore.yml (pitr, in place)" "$WORK/dr.log" playbook playbooks/dr_restore.yml -e dr_source=pitr
grep -E 'Restored|ok (http|pm2|postgresql|redis)' "$WORK/dr.log" | sed 's/^ */  /' | head -8 || true

echo "=== recovery time onto a fresh host: a new container from the provisioned-host image, a copy of"
echo "    repo1 brought to it (not timed: the off-host repository it stands for is already there), then"
echo "    dr_restore.yml, which sets pgBackRest up on it and restores the newest archived state"
new_host down
new_host up
on_host tar -C /var/lib -c pgbackrest | docker exec -i "$NEW" tar -C /var/lib -x
mkdir -p "$WORK/new"
ln -s "$(realpath "$INVENTORY")/group_vars" "$WORK/new/group_vars"
cat >"$WORK/new/hosts.yml" <<EOF
all:
  hosts:
    $NEW: {ansible_connection: community.docker.docker, ansible_python_interpreter: /usr/bin/python3}
  children: {app: {hosts: {$NEW: {}}}, db: {hosts: {$NEW: {}}}, cache: {hosts: {$NEW: {}}}, lb: {hosts: {$NEW: {}}}}
EOF
timed "dr_restore.yml (pitr, fresh host)" "$WORK/dr-new.log" "$BIN/ansible-playbook" -i "$WORK/new/hosts.yml" \
  --vault-password-file "$VAULT" playbooks/dr_restore.yml -e dr_source=pitr -e dr_repo=1
grep -E 'Restored|fatal:|ERROR' "$WORK/dr-new.log" | sed 's/^ */  /' | head -5 || true
echo "  rows in $DB: $(sql -d "$DB" -c 'SELECT count(*) FROM blobs') on the old host," \
  "$(docker exec "$NEW" runuser -u postgres -- psql -qAtX -d "$DB" -c 'SELECT count(*) FROM blobs' 2>&1) on the new one"
new_host down

echo "=== ratios to the plain tools (the recovery time's target: dr_restore.yml onto a fresh host within 5 minutes for this size)"
printf '  %-42s %5.2fx\n' "pg_backup dump / pg_dump -Fc" "$(ratio "pg_backup dump" "plain pg_dump -Fc")"
printf '  %-42s %5.2fx\n' "pg_backup verify / createdb + pg_restore" "$(ratio "pg_backup verify (real restore)" "plain createdb + pg_restore")"
printf '  %-42s %5.2fx\n' "pgBackRest full / pg_dump -Fc" "$(ratio "pgBackRest full backup" "plain pg_dump -Fc")"
printf '  %-42s %5.2fx\n' "pgBackRest diff / pg_dump -Fc" "$(ratio "pgBackRest diff after 10k rows" "plain pg_dump -Fc")"
printf '  %-42s %5.2fx\n' "pgBackRest copy restore / pg_restore" "$(ratio "pgBackRest copy restore (role)" "plain createdb + pg_restore")"
