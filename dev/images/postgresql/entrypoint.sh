#!/usr/bin/env bash
# Create the cluster in PGDATA on first start (superuser password from POSTGRES_PASSWORD_FILE),
# then run postgres as the postgres account in the foreground (PID 1: SIGINT is a fast shutdown).
set -euo pipefail
[[ ${1:-} == postgres ]] && shift
mkdir -p "$PGDATA" /var/run/postgresql
chown postgres:postgres "$PGDATA" /var/run/postgresql
chmod 0700 "$PGDATA"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }
if [[ ! -s $PGDATA/PG_VERSION ]]; then
  [[ -r ${POSTGRES_PASSWORD_FILE:-} ]] || { echo "ERROR: POSTGRES_PASSWORD_FILE must name a readable file" >&2; exit 1; }
  as_postgres initdb -D "$PGDATA" -U postgres --pwfile="$POSTGRES_PASSWORD_FILE" -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups -- postgres -D "$PGDATA" "$@"
