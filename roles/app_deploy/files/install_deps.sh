#!/bin/sh
# A release's production dependencies, run by tasks/release.yml as the account that owns the
# release (the service account, or app_deploy_owner when it is not root). An
# earlier release installed from the same lockfile on the same Node.js ABI lends its
# node_modules (hard links: no download, no copy); otherwise `npm ci --omit=dev`. Either way
# `npm ls` must pass (npm ci can exit 0 yet leave truncated files on a full disk), and only then
# is the release marked as a lender (.deps-key), so a half-made node_modules is never lent.
# Usage: install_deps.sh RELEASE_DIR [EARLIER_RELEASE_DIR...]  (the likeliest lender first)
set -eu
release=$1
shift
cd "$release"
key="$(sha256sum package-lock.json | cut -d' ' -f1) node-abi-$(node -p process.versions.modules)"
rm -f .deps-key

# A lender's files must be this account's: the kernel refuses hard links to another account's
# files (protected_hardlinks), as between releases installed as the service and by a deploy account.
lender=''
for other in "$@"; do
  if [ "$other" != "$release" ] && [ -f "$other/.deps-key" ] && [ "$(cat "$other/.deps-key")" = "$key" ] \
      && { [ ! -e "$other/node_modules" ] || [ -O "$other/node_modules" ]; }; then
    lender=$other
    break
  fi
done

verify() {
  npm ls --omit=dev --all --parseable > /dev/null
}

how=''
if [ -n "$lender" ]; then
  rm -rf node_modules
  if [ -d "$lender/node_modules" ]; then
    cp -al "$lender/node_modules" node_modules
  fi
  if verify; then
    how="linked from $(basename "$lender") (same lockfile and Node.js ABI)"
  else
    echo "the dependencies linked from $(basename "$lender") do not pass npm ls: installing afresh" >&2
    rm -rf node_modules
  fi
fi
if [ -z "$how" ]; then
  npm ci --omit=dev --no-audit --no-fund
  verify
  how='installed by npm ci --omit=dev'
fi
printf '%s\n' "$key" > .deps-key
echo "dependencies: $how"
