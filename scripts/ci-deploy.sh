#!/usr/bin/env bash
# A deploy step as CI runs it and as a person runs it (make deploy|promote|rollback|status ENV=<env>):
#   scripts/ci-deploy.sh <playbook> <env> [ansible-playbook options...]
# <playbook> is a name under playbooks/ (deploy, promote, rollback, status, ...); <env> an inventory
# under inventories/ (staging, production, local) or an inventory's path.
# Secrets come as files (in CI, scripts/ci-secrets.sh writes them): BB_VAULT_PASSWORD_FILE (for
# local, scripts/local-secrets.sh's when unset), BB_SSH_KEY_FILE, BB_KNOWN_HOSTS_FILE (then only
# those host keys are accepted) and BB_EXTRA_VARS_FILE (-e @file: the deploy webhook).
# After a deploy, promotion or rollback, whatever its result, the records it wrote on the app hosts
# are summed up in Markdown (playbooks/deploy_summary.yml), appended to BB_SUMMARY_FILE, else
# GitHub's $GITHUB_STEP_SUMMARY, else .cache/deploy-summary.md. The exit code is the playbook's.
set -euo pipefail
cd "$(dirname "$0")/.."

playbook=${1:-}
env=${2:-}
[[ -n $playbook && -n $env ]] || { echo "usage: $0 <playbook> <env> [ansible-playbook options...]" >&2; exit 2; }
shift 2
[[ -f playbooks/$playbook.yml ]] || { echo "ERROR: no playbook playbooks/$playbook.yml" >&2; exit 2; }
if [[ -e inventories/$env ]]; then inventory=inventories/$env
elif [[ -e $env ]]; then inventory=$env
else echo "ERROR: ENV=$env is neither an inventory under inventories/ nor a path" >&2; exit 2
fi
if [[ -z ${BB_VAULT_PASSWORD_FILE:-} && $env == local ]]; then BB_VAULT_PASSWORD_FILE=$(scripts/local-secrets.sh); fi
[[ -n ${BB_VAULT_PASSWORD_FILE:-} && -r ${BB_VAULT_PASSWORD_FILE:-} ]] || {
  echo "ERROR: BB_VAULT_PASSWORD_FILE must name a readable file holding the vault password of $inventory" \
       "(got '${BB_VAULT_PASSWORD_FILE:-}'); in CI scripts/ci-secrets.sh writes it" >&2; exit 2; }

args=(-i "$inventory" --vault-password-file "$BB_VAULT_PASSWORD_FILE")
[[ -z ${BB_SSH_KEY_FILE:-} ]] || args+=(--private-key "$BB_SSH_KEY_FILE")
[[ -z ${BB_EXTRA_VARS_FILE:-} ]] || args+=(-e "@$BB_EXTRA_VARS_FILE")
if [[ -n ${BB_KNOWN_HOSTS_FILE:-} ]]; then
  export ANSIBLE_SSH_COMMON_ARGS="-o UserKnownHostsFile=$BB_KNOWN_HOSTS_FILE -o StrictHostKeyChecking=yes"
fi

started=$(date +%s)
rc=0
ansible-playbook "${args[@]}" "$@" "playbooks/$playbook.yml" || rc=$?

case $playbook in
  deploy | promote | rollback)
    summary=${BB_SUMMARY_FILE:-${GITHUB_STEP_SUMMARY:-.cache/deploy-summary.md}}
    mkdir -p "$(dirname "$summary")"
    part=$(mktemp)
    trap 'rm -f "$part"' EXIT
    # One second early: the records' times and this clock are whole seconds apart at most.
    if ansible-playbook "${args[@]}" "$@" playbooks/deploy_summary.yml -e "deploy_summary_since=$((started - 1))" \
         -e "deploy_summary_file=$part" -e "{\"deploy_summary_title\": \"$playbook on $env\"}" >/dev/null; then
      cat "$part" >>"$summary"
      echo ">> summary of the run appended to $summary"
    else
      echo "WARNING: could not read the run's records for the summary (rerun with -v: playbooks/deploy_summary.yml)" >&2
    fi
    ;;
esac
exit "$rc"
