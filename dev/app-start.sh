#!/usr/bin/env bash
# The service container's command (dev/dev.yml): install dependencies when the lockfile or
# Node.js changed, migrate as the owner role, then run the TypeScript compiler and Node.js both
# watching, so a saved .ts file is compiled and the service restarted within seconds. The
# compiled code stays in the container (source maps point stack traces at the .ts files).
set -euo pipefail
set -a
# shellcheck disable=SC1091 # written by dev/dev.yml
. /run/bb-dev/app.env
set +a
cd /app

stamp="$(node --version) $(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ $(cat node_modules/.bb-dev-stamp 2>/dev/null) != "$stamp" ]]; then
  echo "bb-dev: npm ci (package-lock.json or Node.js changed)"
  npm ci --no-audit --no-fund --prefer-offline
  echo "$stamp" >node_modules/.bb-dev-stamp
fi

echo "bb-dev: migrations: $BB_DEV_MIGRATE"
# shellcheck disable=SC2086 # the command is words
DATABASE_URL=$MIGRATION_DATABASE_URL $BB_DEV_MIGRATE

out=/var/lib/bb-dev/build
rm -rf "$out" && mkdir -p "$out"
node node_modules/typescript/bin/tsc -p tsconfig.json --outDir "$out" --sourceMap \
  --watch --preserveWatchOutput > >(tee "$out.tsc.log") 2>&1 &
for _ in $(seq 1 240); do
  grep -q 'Watching for file changes' "$out.tsc.log" 2>/dev/null && break
  sleep 0.5
done
[[ -f $out/server.js ]] || { echo "bb-dev: the TypeScript compiler produced no server.js" >&2; exit 1; }
exec node --enable-source-maps --watch "$out/server.js"
