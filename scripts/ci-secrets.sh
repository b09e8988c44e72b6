#!/usr/bin/env bash
# CI's secrets to files. Each arrives in an environment variable of this one step (from the CI's
# secret store), is written 0600 into DIR, and only its path goes on to later steps: printed as
# NAME=path lines, which a GitHub Actions step appends to $GITHUB_ENV.
#   BB_VAULT_PASSWORD (required)  ansible-vault password          -> BB_VAULT_PASSWORD_FILE
#   BB_SSH_PRIVATE_KEY            the deploy account's SSH key    -> BB_SSH_KEY_FILE
#   BB_SSH_KNOWN_HOSTS            the hosts' keys (ssh-keyscan)   -> BB_KNOWN_HOSTS_FILE
#   BB_DEPLOY_WEBHOOK_URL         the deploy webhook, with        -> BB_EXTRA_VARS_FILE
#   BB_DEPLOY_WEBHOOK_FORMAT      generic (default) or slack
# Usage: scripts/ci-secrets.sh DIR
set -euo pipefail
dir=${1:?usage: scripts/ci-secrets.sh DIR (a private directory, e.g. \$RUNNER_TEMP/bb-secrets)}
[[ -n ${BB_VAULT_PASSWORD:-} ]] || { echo "ERROR: BB_VAULT_PASSWORD is empty: set the ANSIBLE_VAULT_PASSWORD secret of this environment" >&2; exit 2; }

umask 077
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
# OpenSSH refuses a key without its last newline, which secret stores often drop.
write() { printf '%s\n' "$2" >"$dir/$1"; echo "$3=$dir/$1"; }
write vault-password "$BB_VAULT_PASSWORD" BB_VAULT_PASSWORD_FILE
[[ -z ${BB_SSH_PRIVATE_KEY:-} ]] || write ssh-key "$BB_SSH_PRIVATE_KEY" BB_SSH_KEY_FILE
[[ -z ${BB_SSH_KNOWN_HOSTS:-} ]] || write known_hosts "$BB_SSH_KNOWN_HOSTS" BB_KNOWN_HOSTS_FILE
if [[ -n ${BB_DEPLOY_WEBHOOK_URL:-} ]]; then
  format=${BB_DEPLOY_WEBHOOK_FORMAT:-generic}
  [[ $format == generic || $format == slack ]] \
    || { echo "ERROR: BB_DEPLOY_WEBHOOK_FORMAT must be generic or slack, got '$format'" >&2; exit 2; }
  # JSON is YAML: ansible-playbook -e @file reads it; the URL never reaches a command line.
  python3 -c 'import json, os, sys; json.dump({"app_deploy_webhook_url": os.environ["BB_DEPLOY_WEBHOOK_URL"],
    "app_deploy_webhook_format": sys.argv[1]}, sys.stdout)' "$format" >"$dir/extra-vars.json"
  echo "BB_EXTRA_VARS_FILE=$dir/extra-vars.json"
fi
