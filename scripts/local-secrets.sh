#!/usr/bin/env bash
# Secrets of the local environment: generated once on this machine by scripts/env-secrets.sh
# local (names in inventories/examples/local.vault.example.yml), encrypted with ansible-vault under
# a generated password, never committed (both paths are git-ignored). Also an SSH key pair for
# the local host's deploy account (.secrets/local-ssh-key), as a real server would have one.
# Prints the vault password file's path for --vault-password-file.
set -euo pipefail
cd "$(dirname "$0")/.."
pass_file=$(scripts/env-secrets.sh local .secrets/local-vault-password)
if [[ ! -s .secrets/local-ssh-key ]]; then
  command -v ssh-keygen >/dev/null || { echo "ERROR: ssh-keygen is missing (apt-get install openssh-client)" >&2; exit 1; }
  ssh-keygen -q -t ed25519 -N '' -C boosterbeacon-local -f .secrets/local-ssh-key
fi
echo "$pass_file"
