#!/usr/bin/env bash
# Build systemd-capable Debian base images for test hosts from Debian's own packages
# (no registry is needed): debootstrap a root filesystem, add the controller's CA bundle so
# HTTPS from inside works behind an intercepting proxy, then `docker import` it.
# An image is rebuilt only when this script changed since it was built.
# Usage: scripts/build-images.sh [trixie] [bookworm]
set -euo pipefail

REPO="${BB_IMAGE_REPO:-boosterbeacon/debian}"
SUITES=("$@")
[[ ${#SUITES[@]} -gt 0 ]] || SUITES=(trixie)
PACKAGES="systemd,systemd-sysv,dbus,python3,python3-apt,sudo,ca-certificates,curl,iproute2,procps,locales,gnupg"
SCRIPT_HASH=$(sha256sum "$0" | cut -c1-12)

mirror() {
  # The machine's own Debian mirror, from its apt sources (deb822 or one-line format).
  local uri
  uri=$(grep -hoE '^URIs:\s*\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '{print $2}' | grep -v security | head -1 || true)
  if [[ -z $uri ]]; then
    uri=$(grep -hoE '^deb\s+(\[[^]]*\]\s+)?\S+' /etc/apt/sources.list 2>/dev/null \
          | awk '{print $NF}' | grep -v security | head -1 || true)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

command -v debootstrap >/dev/null || {
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  else
    echo "ERROR: debootstrap is missing; install it (apt-get install debootstrap)." >&2
    exit 1
  fi
}

for suite in "${SUITES[@]}"; do
  image="$REPO:$suite"
  have=$(docker image inspect -f '{{ index .Config.Labels "bb.build" }}' "$image" 2>/dev/null || true)
  if [[ $have == "$SCRIPT_HASH" ]]; then
    echo ">> $image is up to date"
    continue
  fi
  echo ">> building $image from $(mirror)"
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase --include="$PACKAGES" "$suite" "$rootfs" "$(mirror)" >"$rootfs.log" 2>&1 \
    || { tail -20 "$rootfs.log" >&2; exit 1; }
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  # The controller's own extra CAs also as sources, so they survive update-ca-certificates
  # (the tls and base roles run it when they add a CA).
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    mkdir -p "$rootfs/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
  fi
  # Masked: units that make no sense or hang inside a container, and Debian's maintenance timers
  # (package lists and upgrades, AIDE's daily check, log rotation, man-db, dpkg's backup, file
  # system checks) and cron (its /etc/crontab runs cron.daily at 06:25: rkhunter's scan, about a
  # minute of CPU a minute in every live host at once). Those run on the wall clock, with a
  # catch-up at boot for a missed day: in a test host they started at random moments of a
  # scenario, competed for the CPU and the dpkg lock, and made a run depend on the hour and the
  # image's age. The product's own jobs are systemd timers, which still run. Masked before their
  # packages arrive (a package's own unmask leaves a mask it did not make).
  for unit in systemd-remount-fs.service getty@tty1.service console-getty.service \
              systemd-firstboot.service sys-kernel-config.mount \
              apt-daily.timer apt-daily-upgrade.timer apt-listchanges.timer dailyaidecheck.timer \
              dpkg-db-backup.timer e2scrub_all.timer fstrim.timer logrotate.timer man-db.timer \
              cron.service; do
    ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
  done
  # dpkg without an fsync per file and without documentation, manual pages and translations, as
  # Debian's slim container images: less CPU for every package a scenario installs (npm's 600
  # packages with 0.78 of the CPU: bench/dpkg-settings.sh). No role reads those paths.
  echo force-unsafe-io >"$rootfs/etc/dpkg/dpkg.cfg.d/bb-unsafe-io"
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/bb-nodoc" <<'NODOC'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
NODOC
  find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  # Test hosts use the suite's shared package cache (scripts/pkg-cache.sh) when the name
  # bb-pkg-cache answers, and go to the mirror directly when it does not.
  mkdir -p "$rootfs/usr/local/sbin"
  cat >"$rootfs/usr/local/sbin/bb-apt-proxy" <<'DETECT'
#!/bin/bash
if timeout 2 bash -c 'exec 3<>/dev/tcp/bb-pkg-cache/3142' 2>/dev/null; then
  echo http://bb-pkg-cache:3142
else
  echo DIRECT
fi
DETECT
  chmod 0755 "$rootfs/usr/local/sbin/bb-apt-proxy"
  echo 'Acquire::http::Proxy-Auto-Detect "/usr/local/sbin/bb-apt-proxy";' \
    >"$rootfs/etc/apt/apt.conf.d/01bb-pkg-cache"
  # Python keeps no bytecode for a zip import, and every Ansible task sends its module with
  # Ansible's module_utils in a fresh zip: each task compiled the same sources again (a quarter
  # of the CPU inside a host running provision.yml again: bench/module-code-cache.sh). A test host keeps the compiled code, keyed
  # by the source's hash; the code run is the same, tracebacks name the zip it came from.
  site="$rootfs/usr/lib/python3/dist-packages"
  cat >"$site/bb_zipcode.py" <<'ZIPCODE'
"""Test hosts only: keep the compiled code of modules imported from zip archives."""
import _imp
import marshal
import os
import sys
import zipimport

_DIR = "/var/cache/bb-zipcode"
_compile = getattr(zipimport, "_compile_source", None)


def _cached_compile(pathname, source):
    import hashlib

    key = hashlib.sha256(source).hexdigest()
    path = "%s/%s-O%d-%s" % (_DIR, sys.implementation.cache_tag, sys.flags.optimize, key)
    try:
        with open(path, "rb") as f:
            code = marshal.load(f)
        _imp._fix_co_filename(code, pathname)
        return code
    except (OSError, EOFError, ValueError, TypeError):
        pass
    code = _compile(pathname, source)
    try:  # only root writes here; anyone else compiles as Python does
        tmp = "%s.%d" % (path, os.getpid())
        with open(tmp, "wb") as f:
            marshal.dump(code, f)
        os.replace(tmp, path)
    except OSError:
        pass
    return code


if _compile is not None:
    zipimport._compile_source = _cached_compile
ZIPCODE
  echo "import bb_zipcode" >"$site/bb-zipcode.pth"
  mkdir -p "$rootfs/var/cache/bb-zipcode"
  # The test hosts' /tmp is a fresh tmpfs from the container's start (the molecule platforms);
  # a release whose boot empties /tmp (bookworm's "D /tmp") would delete what a task sent then.
  if grep -q '^D /tmp ' "$rootfs/usr/lib/tmpfiles.d/tmp.conf"; then
    echo 'd /tmp 1777 root root -' >"$rootfs/etc/tmpfiles.d/tmp.conf"
  fi
  echo "en_US.UTF-8 UTF-8" > "$rootfs/etc/locale.gen"
  chroot "$rootfs" locale-gen >/dev/null 2>&1 || true
  # No stale package lists or caches: the first apt run on a host must fetch fresh ones.
  rm -rf "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  touch -d @0 "$rootfs/var/lib/apt/lists"  # apt's cache_valid_time reads this mtime
  tar -C "$rootfs" -c . | docker import \
    -c 'CMD ["/lib/systemd/systemd"]' -c 'ENV container=docker' \
    -c "LABEL bb.build=$SCRIPT_HASH" - "$image" >/dev/null
  rm -rf "$rootfs" "$rootfs.log"
  trap - EXIT
  echo ">> built $image"
done
