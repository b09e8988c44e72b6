#!/usr/bin/env bash
# Build boosterbeacon/provisioned:<distro>: a test host already provisioned by
# playbooks/provision.yml with molecule/_provisioned's inventory, committed as an image for the
# scenarios whose subject is not provisioning (deploy, backups, ...). It is rebuilt only when its
# key changes: a hash of the base image, the roles the playbook runs, the plugins they call, that
# inventory, the controller's pinned tooling and this script.
#   scripts/provisioned-image.sh [trixie|bookworm] [--check]   (BB_PKG_CACHE_ADDR: the package cache, if any)
# --check builds nothing: exit 0 when the image is up to date, 1 when it would be built.
set -euo pipefail
cd "$(dirname "$0")/.."

distro=${1:-trixie}
check_only=false
[[ ${2:-} == --check ]] && check_only=true
base="${BB_IMAGE_REPO:-boosterbeacon/debian}:$distro"
image="boosterbeacon/provisioned:$distro"
container="bb-provisioned-$distro"
log=".cache/provisioned-$distro.log"

base_id=$(docker image inspect -f '{{.Id}}' "$base" 2>/dev/null) \
  || { echo "ERROR: $base is missing: run 'make images' first" >&2; exit 1; }
# What goes into the host: the roles named by provision.yml and the playbooks it imports, and the
# plugins they call (a change to the deploy role or to a module only the deploy uses does not
# rebuild it). Documentation does not change a host; everything else under these paths may.
mapfile -t roles_used < <(grep -ohE 'boosterbeacon\.infra\.[a-z_]+' playbooks/provision*.yml | sed 's/.*\.//' | sort -u | sed 's#^#roles/#')
mapfile -t plugins_used < <(grep -rhoE 'boosterbeacon\.infra\.[a-z_]+' "${roles_used[@]}" | sed 's/.*\.//' | sort -u \
  | while read -r name; do compgen -G "plugins/*/$name.py" || true; done)
# Plugin files a role installs on the host itself (pg_dumps runs pg_backup's code there).
mapfile -t -O "${#plugins_used[@]}" plugins_used < <(grep -rhoE '(module_utils|modules)/_?[a-z_]+\.py' "${roles_used[@]}" \
  | sort -u | sed 's#^#plugins/#')
if ((${#plugins_used[@]})); then plugins_used+=(plugins/module_utils); fi
key=$( { echo "$base_id"
         find "${roles_used[@]}" "${plugins_used[@]}" molecule/_provisioned playbooks/provision*.yml requirements-dev.txt "$0" \
           -type f ! -name '*.md' ! -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum
       } | sha256sum | cut -c1-16)

# Ends the script when the image already carries this key.
exit_if_up_to_date() {
  if [[ $(docker image inspect -f '{{ index .Config.Labels "bb.key" }}' "$image" 2>/dev/null || true) == "$key" ]]; then
    echo ">> $image is up to date ($key)"
    exit 0
  fi
}
exit_if_up_to_date
if $check_only; then
  echo ">> $image would be built ($key)"
  exit 1
fi

mkdir -p .cache
# One build at a time: `make test` starts one early, and the scenarios that need it ask again
# (a build that ended while this one waited for the lock is not made twice).
exec 9>".cache/provisioned-$distro.lock"
flock 9
exit_if_up_to_date

echo ">> building $image ($key): provision.yml on a fresh $distro host; log in $log"
started=$(date +%s)
docker rm -f "$container" >/dev/null 2>&1 || true
trap 'docker rm -f "$container" >/dev/null 2>&1 || true' EXIT
# The options every test host runs with (.config/molecule/config.yml); under `make molecule`, in
# the cgroup it counts the build's in-host CPU with (BB_HOST_CGROUP, scripts/molecule-all.sh).
docker run -d --name "$container" --hostname "$container" ${BB_HOST_CGROUP:+--cgroup-parent "$BB_HOST_CGROUP"} \
  --stop-signal SIGRTMIN+3 --cgroupns host --cap-add SYS_ADMIN --cap-add NET_ADMIN --security-opt seccomp=unconfined \
  -v /sys/fs/cgroup:/sys/fs/cgroup:rw -v bb-npm-cache:/root/.npm --tmpfs /run --tmpfs /run/lock \
  --add-host "bb-pkg-cache:${BB_PKG_CACHE_ADDR:-127.0.0.1}" "$base" >/dev/null
for _ in $(seq 1 60); do
  state=$(docker exec "$container" systemctl is-system-running 2>/dev/null || true)
  [[ $state == running || $state == degraded ]] && break
  sleep 1
done

# Under Mitogen, as the scenarios that compose the roles run (.config/molecule/config.yml); it
# reads connection variables untemplated, so the container's name comes as an extra variable.
if ! ANSIBLE_FORCE_COLOR=0 ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks \
     ANSIBLE_STRATEGY_PLUGINS=.config/molecule/strategy ANSIBLE_STRATEGY=mitogen_linear \
     ansible-playbook -i molecule/_provisioned/hosts.yml -e "ansible_host=$container" playbooks/provision.yml >"$log" 2>&1; then
  tail -60 "$log" >&2
  echo "ERROR: provisioning the snapshot host failed (whole log: $log)" >&2
  exit 1
fi

# Work the roles left running in the background (AIDE's first database) ends first, so that
# every copy does not start it again.
docker exec "$container" timeout 900 sh -c \
  'while [ "$(systemctl show -p ActiveState --value boosterbeacon-aide-init)" = activating ]; do sleep 2; done' \
  || echo "WARNING: AIDE's first database was still being built after 15 minutes" >&2
# No record of when the timers last ran: a copy started on a later day would otherwise catch up
# at once on every job it "missed" (a dump and a verified restore at boot). Copies run the
# product's jobs at their calendar times only.
docker exec "$container" sh -c 'rm -f /var/lib/systemd/timers/stamp-*'
# A clean shutdown first, so PostgreSQL and Redis start from a consistent state in every copy.
docker stop -t 120 "$container" >/dev/null
docker commit -c "LABEL bb.key=$key" -c 'CMD ["/lib/systemd/systemd"]' "$container" "$image" >/dev/null
echo ">> built $image in $(( $(date +%s) - started ))s"
