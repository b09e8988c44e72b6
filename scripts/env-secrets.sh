#!/usr/bin/env bash
# Creates or completes an environment's vault file, inventories/<env>/group_vars/all/vault.yml,
# from the names in inventories/examples/<env>.vault.example.yml: a name the vault file lacks is
# added with 32 random letters and digits when its example value is "<generated>" (never "{{",
# "{%" or "{#", which Ansible would template), or empty when the value comes from a provider (the
# names to fill in with `ansible-vault edit` are printed). Values already there are kept. The file
# is written encrypted with ansible-vault; no secret goes to a temporary file or to the output.
# The vault password file: the second argument, else $ANSIBLE_VAULT_PASSWORD_FILE, else
# .secrets/<env>-vault-password (git-ignored), generated when neither it nor the vault file exists.
# Prints the vault password file's path for --vault-password-file.
#   scripts/env-secrets.sh <env> [vault-password-file]
set -euo pipefail
cd "$(dirname "$0")/.."
# The project's own ansible-vault when nothing else is on PATH.
PATH="$PATH:$PWD/.venv/bin"
env=${1:?usage: scripts/env-secrets.sh <environment> [vault-password-file]}
example=inventories/examples/$env.vault.example.yml
vault=inventories/$env/group_vars/all/vault.yml
pass_file=${2:-${ANSIBLE_VAULT_PASSWORD_FILE:-.secrets/$env-vault-password}}

[[ -f $example ]] || { echo "ERROR: $example is missing: it names the secrets of environment '$env'" >&2; exit 1; }
[[ -d inventories/$env ]] || { echo "ERROR: inventories/$env is missing" >&2; exit 1; }
umask 077
random_chars() { local s; s=$(head -c 64 /dev/urandom | base64 -w0 | tr -d '+/='); echo "${s:0:$1}"; }
if [[ ! -s $pass_file ]]; then
  if [[ -s $vault ]]; then
    echo "ERROR: $vault exists but its vault password file $pass_file does not: pass the file" \
      "(second argument or ANSIBLE_VAULT_PASSWORD_FILE) from whoever holds the password" >&2
    exit 1
  fi
  mkdir -p "$(dirname "$pass_file")"
  random_chars 40 >"$pass_file"
  echo ">> generated the vault password of '$env' in $pass_file" >&2
  [[ $env == local ]] || echo ">> keep a copy where the team keeps its passwords (docs/environments.md)" >&2
fi

if [[ -s $vault ]]; then
  content=$(ansible-vault view --vault-password-file "$pass_file" "$vault")
else
  content=$(printf -- '---\n# The secrets of environment %s (scripts/env-secrets.sh; names in %s).' "$env" "$example")
fi
added=()
generated='^[^:]+: *"?<generated>"? *$'
while IFS= read -r line; do
  name=${line%%:*}
  grep -q "^$name:" <<<"$content" && continue
  if [[ $line =~ $generated ]]; then
    content+=$'\n'"$name: $(random_chars 32)"
  else
    content+=$'\n'"$name: \"\""
  fi
  added+=("$name")
done < <(grep -E '^vault_[A-Za-z0-9_]+:' "$example")

if ((${#added[@]})); then
  mkdir -p "$(dirname "$vault")"
  printf '%s\n' "$content" | ansible-vault encrypt --vault-password-file "$pass_file" --output "$vault" - >/dev/null
  echo ">> $vault (encrypted): added ${added[*]}" >&2
fi
mapfile -t empty < <(grep -oE '^vault_[A-Za-z0-9_]+: *("")?$' <<<"$content" | cut -d: -f1)
if ((${#empty[@]})); then
  echo ">> still empty, fill in: ${empty[*]} (ansible-vault edit --vault-password-file $pass_file $vault)" >&2
fi
echo "$pass_file"
