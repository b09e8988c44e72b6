#!/usr/bin/env bash
# The service's tests on a database of their own (scripts/dev.sh test), run in the service
# container: the template is migrated, a database is cloned from it for this run, the tests'
# Redis database is emptied, and the tests run on a copy of the source with DATABASE_URL and
# REDIS_URL pointing there. The clone is dropped afterwards (BB_DEV_KEEP_TEST_DB=1 keeps it).
#   app-test.sh NPM_SCRIPT...
set -euo pipefail
set -a
# shellcheck disable=SC1091 # written by dev/dev.yml
. /run/bb-dev/app.env
set +a
here=$(dirname "$0")
(( $# )) || set -- test test:integration

template=${TEST_DATABASE_URL##*/}
db="${template%_template}_$(date +%Y%m%d%H%M%S)_$$"
node "$here/test-db.js" prune
echo "bb-dev: migrating the template $template"
# shellcheck disable=SC2086 # the command is words
(cd /app && DATABASE_URL=$TEST_DATABASE_URL $BB_DEV_TEST_MIGRATE)
work=$(mktemp -d /tmp/bb-dev-test.XXXXXX)
cleanup() {
  rm -rf "$work"
  if [[ ${BB_DEV_KEEP_TEST_DB:-0} == 1 ]]; then
    echo "bb-dev: kept the test database $db"
  else
    node "$here/test-db.js" drop "$db" && echo "bb-dev: dropped the test database $db"
  fi
}
trap cleanup EXIT
node "$here/test-db.js" create "$db"
node "$here/test-db.js" flush-redis
echo "bb-dev: test database $db (a clone of $template), Redis database ${TEST_REDIS_URL##*/} emptied"

# A copy of the source, so the tests' build output never lands in the mounted directory.
tar -C /app --exclude=./node_modules --exclude=./.test-build --exclude=./dist -c . | tar -C "$work" -x
ln -s /app/node_modules "$work/node_modules"
cd "$work"
# Only what the tests are given: none of the service's development settings.
test_env=(env -i "HOME=$HOME" "PATH=$PATH" "DATABASE_URL=${TEST_DATABASE_URL%/*}/$db" "REDIS_URL=$TEST_REDIS_URL")
for script in "$@"; do
  echo "bb-dev: npm run $script"
  "${test_env[@]}" npm run "$script"
done
