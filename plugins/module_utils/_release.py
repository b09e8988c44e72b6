# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Releases under an app root: timestamped directories with a manifest, an atomically
switched ``current`` symlink, shared paths and pruning that never loses a rollback target.
Plain file functions first; ``ReleaseManager`` at the end plans each state of the
release_manager module from them (the deploy lock lives in ``_lock``).

Layout::

    <app_root>/releases/<id>/.release.json
    <app_root>/releases/<id>/.release.failed   (empty: the status survives a full filesystem)
    <app_root>/releases/<id>/.release.stripped (empty: node_modules went to free space)
    <app_root>/current -> releases/<id>
    <app_root>/shared/...
    <app_root>/.deploy.lock
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import math
import os
import re
import shutil
import stat

from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import (
    ModuleError, account, chown, group_id, iso, read_json, write_json_atomic)
from ansible_collections.boosterbeacon.infra.plugins.module_utils._gate import Manager
from ansible_collections.boosterbeacon.infra.plugins.module_utils._lock import Lock
from ansible_collections.boosterbeacon.infra.plugins.module_utils._runner import Runner

MANIFEST = ".release.json"
# An empty file needs an inode and a directory entry but no data block, so a release can be
# marked failed on a full filesystem even when its manifest cannot be rewritten.
FAILED_MARKER = ".release.failed"
# Empty too: says the release lost BULKY content to free space, even when the manifest could
# not be rewritten to say so.
STRIPPED_MARKER = ".release.stripped"
# What a failed release may lose to free space for its own status: what npm ci rebuilds.
BULKY = ("node_modules",)
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
MB = 1000 * 1000
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# pending: created, never served; active: what current points at; good: served, then
# superseded; failed: marked by a deploy or an operator, never a rollback target unless forced.
STATUSES = ("pending", "active", "good", "failed")


def validate_app_root(app_root):
    if not app_root or not os.path.isabs(app_root):
        raise ModuleError("Failed to use app_root %r: it must be an absolute path such as /srv/boosterbeacon." % app_root)
    if ".." in app_root.split("/"):
        raise ModuleError("Failed to use app_root %r: it must not contain '..'." % app_root)
    return os.path.normpath(app_root)


def validate_id(release_id, field="release_id"):
    if not release_id or ".." in release_id or "/" in release_id or not ID_RE.match(release_id):
        raise ModuleError(
            "Failed to use %s %r: use letters, digits, '.', '_' and '-' only (no '/', no '..', not starting "
            "with '.'), e.g. 20261124T213000Z-abc1234." % (field, release_id))
    return release_id


def validate_shared_path(path):
    clean = path.rstrip("/")
    if not clean or os.path.isabs(path) or ".." in clean.split("/") or clean.startswith("./"):
        raise ModuleError(
            "Failed to use shared_paths entry %r: give a path relative to the release, without '..', "
            "e.g. .env or logs/." % path)
    return clean, path.endswith("/")


def releases_dir(app_root):
    return os.path.join(app_root, "releases")


def release_path(app_root, release_id):
    return os.path.join(releases_dir(app_root), release_id)


def read_manifest(app_root, release_id):
    return read_json(os.path.join(release_path(app_root, release_id), MANIFEST))


def release_status(app_root, release_id, manifest):
    """The manifest's status, unless the failed marker says otherwise (it wins: it is what a
    full filesystem still let us write)."""
    if manifest is None:
        return "incomplete"
    if os.path.lexists(os.path.join(release_path(app_root, release_id), FAILED_MARKER)):
        return "failed"
    return manifest.get("status", "incomplete")


def list_releases(app_root):
    """Every directory under releases/, oldest first (ids start with a UTC timestamp)."""
    base = releases_dir(app_root)
    if not os.path.isdir(base):
        return []
    result = []
    for name in sorted(os.listdir(base)):
        path = os.path.join(base, name)
        if not os.path.isdir(path) or os.path.islink(path) or not ID_RE.match(name):
            continue
        manifest = read_manifest(app_root, name)
        result.append({"id": name, "path": path, "manifest": manifest,
                       "status": release_status(app_root, name, manifest)})
    return result


def current_id(app_root):
    """The release id current points at, None when there is no current.

    Raises when current is not a symlink into releases/ (something else moved it)."""
    link = os.path.join(app_root, "current")
    if not os.path.lexists(link):
        return None
    if not os.path.islink(link):
        raise ModuleError("Failed to read %s: it is not a symlink. Move it away, then activate a release." % link)
    target = os.readlink(link)
    resolved = os.path.normpath(os.path.join(app_root, target))
    parent, name = os.path.split(resolved)
    if parent != releases_dir(app_root) or not ID_RE.match(name):
        raise ModuleError(
            "Failed to read %s: it points at %s, outside %s. Re-activate a listed release with force=true."
            % (link, target, releases_dir(app_root)))
    return name


def previous_good(releases, current):
    """The newest release older than current that served successfully."""
    older = [r for r in releases if current is None or r["id"] < current]
    good = [r for r in older if r["status"] == "good"]
    return good[-1]["id"] if good else None


def switch_current(app_root, release_id):
    """Point current at releases/<id> with rename(2): readers see the old or the new target, never neither."""
    link = os.path.join(app_root, "current")
    tmp = os.path.join(app_root, ".current.tmp-%d" % os.getpid())
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(os.path.join("releases", release_id), tmp)
    os.replace(tmp, link)
    fd = os.open(app_root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _updated(manifest, status, reason, now):
    manifest["status"] = status
    entry = {"status": status, "at": iso(now)}
    if reason:
        entry["reason"] = reason
    manifest.setdefault("history", []).append(entry)
    if status == "active":
        manifest["activated_at"] = iso(now)
    return manifest


def set_status(app_root, release_id, status, reason=None, now=None):
    """Record a status other than failed (see mark_failed); leaving failed drops the marker
    once the manifest says so."""
    manifest = read_manifest(app_root, release_id)
    if manifest is None:
        return None
    marker = os.path.join(release_path(app_root, release_id), FAILED_MARKER)
    if manifest.get("status") == status and not reason and not os.path.lexists(marker):
        return manifest
    _updated(manifest, status, reason, now)
    write_json_atomic(os.path.join(release_path(app_root, release_id), MANIFEST), manifest)
    if status != "failed" and os.path.lexists(marker):
        os.unlink(marker)
    return manifest


def _no_space(exc):
    return isinstance(exc, OSError) and exc.errno in NO_SPACE


def mark_failed(app_root, release_id, reason, now=None, may_free=True):
    """Mark a release failed so that it stays failed on a full filesystem.

    1. Create the empty marker first: it needs no data block, and from then on the release
       reads as failed whatever happens next.
    2. Rewrite the manifest (temporary file, fsync, rename: the old one stays whole if that
       fails).
    3. Out of space (ENOSPC, EDQUOT) and ``may_free``: remove the release's node_modules (npm ci
       rebuilds it; a failed release is not served), note it in the manifest, try again.
    4. Still out of space: the marker alone holds the status; the caller is told the manifest
       (and so the reason) was not updated.

    Returns (manifest as recorded or as it would have been, removed paths, warning or None)."""
    path = release_path(app_root, release_id)
    manifest = read_manifest(app_root, release_id)
    if manifest is None:
        return None, [], None
    marker = os.path.join(path, FAILED_MARKER)
    removed = []

    def free_bulky():
        """Remove what may go; True when something did."""
        before = len(removed)
        for name in BULKY:
            bulky = os.path.join(path, name)
            if os.path.isdir(bulky) and not os.path.islink(bulky):
                try:
                    os.close(os.open(os.path.join(path, STRIPPED_MARKER), os.O_WRONLY | os.O_CREAT, 0o644))
                except OSError:
                    continue  # what cannot be recorded is not removed
                remove_tree(bulky)
                removed.append(bulky)
        return len(removed) > before

    try:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT, 0o644)
    except OSError as exc:
        # Out of inodes or a directory that needs a new block: free what we may, once.
        if not (_no_space(exc) and may_free and free_bulky()):
            raise ModuleError("Failed to mark %s failed: cannot create %s: %s. Free space on %s, then mark "
                              "it failed again." % (release_id, marker, exc, mount_point(path)))
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT, 0o644)
    os.close(fd)
    _updated(manifest, "failed", reason, now)
    target = os.path.join(path, MANIFEST)
    for attempt in (1, 2):
        if removed:
            manifest["removed_for_space"] = sorted(
                set(manifest.get("removed_for_space") or []) | {os.path.basename(r) for r in removed})
        try:
            write_json_atomic(target, manifest)
            return manifest, removed, None
        except OSError as exc:
            if not _no_space(exc):
                raise
            if attempt == 2 or not may_free or not free_bulky():
                break
    why = ("it is what current points at, so its node_modules was kept" if not may_free
           else "nothing more of the release may be removed")
    mount = mount_point(path)
    return manifest, removed, (
        "%s is marked failed by %s, but its manifest could not be rewritten: no space left on %s (%s); "
        "the reason was not recorded there. Free space on %s." % (release_id, marker, mount, why, mount))


def tree_size(path, disk=False):
    """Bytes under path: the sum of file sizes (what query reports), or with ``disk`` what the
    tree takes on disk like du (allocated blocks, each inode once, the top directory included)."""
    total = 0
    seen = set()

    def add(target):
        st = os.lstat(target)
        if not disk:
            return st.st_size
        if (st.st_dev, st.st_ino) in seen:
            return 0
        seen.add((st.st_dev, st.st_ino))
        return st.st_blocks * 512

    if disk:
        try:
            total += add(path)
        except OSError:
            pass
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                total += add(os.path.join(root, name))
            except OSError:
                pass
    return total


def existing_ancestor(path):
    """path itself or its nearest ancestor that exists (what statvfs can ask about)."""
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return path


def mount_point(path):
    """The mount point of the filesystem holding path: walk up while st_dev stays the same."""
    path = os.path.realpath(existing_ancestor(path))
    dev = os.stat(path).st_dev
    while path != "/":
        parent = os.path.dirname(path)
        if os.stat(parent).st_dev != dev:
            break
        path = parent
    return path


def free_bytes(path):
    """Bytes an unprivileged user may still write on the filesystem holding path (f_bavail)."""
    st = os.statvfs(existing_ancestor(path))
    return st.f_bavail * st.f_frsize


def megabytes(size):
    return "%.1f MB" % (size / float(MB))


def remove_tree(path):
    """Remove a release even where the app user left read-only directories behind."""
    def retry(func, target, _exc):
        parent = os.path.dirname(target)
        os.chmod(parent, os.stat(parent).st_mode | stat.S_IWUSR | stat.S_IXUSR)
        if os.path.isdir(target) and not os.path.islink(target):
            os.chmod(target, os.stat(target).st_mode | stat.S_IWUSR | stat.S_IXUSR | stat.S_IRUSR)
        func(target)

    try:
        shutil.rmtree(path, onerror=retry)
    except OSError as exc:
        raise ModuleError("Failed to remove %s: %s. Remove it by hand (as root) and prune again." % (path, exc))


def plan_prune(releases, current, keep):
    """Which releases to remove: keep the newest ``keep`` non-failed releases, current and the
    previous good one. Failed releases don't count toward ``keep`` and go once they are older
    than the oldest release kept (their logs may still matter). Unfinished ones (pending, or
    without a manifest) are what a killed run left: deploys prune under the lock, after their
    own release went live, so those go at once."""
    if keep < 1:
        raise ModuleError("Failed to prune: keep must be 1 or more, got %s." % keep)
    protected = {current, previous_good(releases, current)} - {None}
    counted = [r["id"] for r in releases if r["status"] in ("active", "good")]
    kept = set(counted[-keep:]) | protected
    oldest_kept = min(kept) if kept else None
    remove = []
    for release in releases:
        rid = release["id"]
        if rid in kept:
            continue
        if release["status"] in ("active", "good", "pending", "incomplete"):
            remove.append(rid)
        elif oldest_kept is not None and rid < oldest_kept:
            remove.append(rid)
    return remove, sorted(kept)


class ReleaseManager(Manager):
    """The release_manager module: each state plans its file operations; the gate applies them."""

    def __init__(self, module, now=None):
        super(ReleaseManager, self).__init__(module, Runner(module))
        self.now = now
        self.app_root = validate_app_root(self.p["app_root"])
        self.result.update(app_root=self.app_root)

    def states(self):
        return {"present": self.present, "active": self.active, "rollback": self.rollback, "failed": self.failed,
                "pruned": self.pruned, "locked": self.locked, "unlocked": self.unlocked, "query": self.query}

    def task(self):
        return "manage releases under %s" % self.app_root

    def run(self):
        if self.p.get("release_id"):
            validate_id(self.p["release_id"])
        result = super(ReleaseManager, self).run()
        if result.get("warning") and self.p["state"] == "failed":
            # The release is failed by its marker only: say so where the operator looks.
            self.module.warn(result["warning"])
        return result

    # -- helpers -----------------------------------------------------------------------
    def _require_release(self, release_id, releases):
        ids = [r["id"] for r in releases]
        if release_id not in ids:
            raise ModuleError("Failed to find release %r under %s. Valid ids: %s."
                              % (release_id, releases_dir(self.app_root), ", ".join(ids) or "none"),
                              valid_ids=ids)
        release = [r for r in releases if r["id"] == release_id][0]
        if release["manifest"] is None:
            raise ModuleError("Failed to use release %s: it has no %s, so it is incomplete (an interrupted "
                              "deploy?). Create it again with state=present." % (release_id, MANIFEST))
        return release

    def _current(self):
        try:
            return current_id(self.app_root)
        except ModuleError:
            if self.p.get("force"):
                return None
            raise

    def _switch(self, target, left):
        """Point current at target; the release left behind becomes good unless it failed."""
        self.result.update(previous=left, current=target)
        plan = self.plan(before={"current": left}, after={"current": target})
        plan.file("ln -sfn %s %s" % (os.path.join("releases", target), os.path.join(self.app_root, "current")),
                  lambda: switch_current(self.app_root, target))
        if left and left != target:
            left_manifest = read_manifest(self.app_root, left)
            if left_manifest and release_status(self.app_root, left, left_manifest) == "active":
                plan.file(self._manifest_shown(left), lambda: set_status(self.app_root, left, "good", now=self.now))
        plan.file(self._manifest_shown(target), lambda: set_status(self.app_root, target, "active", now=self.now))
        return plan

    def _manifest_shown(self, release_id):
        return "write %s" % os.path.join(release_path(self.app_root, release_id), MANIFEST)

    # -- states ------------------------------------------------------------------------
    def present(self):
        rid = self.p["release_id"]
        path = release_path(self.app_root, rid)
        self._check_space(rid, path)
        existing = read_manifest(self.app_root, rid)
        desired = dict(existing or {})
        desired.update({
            "id": rid,
            "version": self.p.get("version") or desired.get("version"),
            "git_sha": self.p.get("git_sha") or desired.get("git_sha"),
            "artifact_sha256": self.p.get("artifact_sha256") or desired.get("artifact_sha256"),
            "deployed_by": self.p.get("deployed_by") or desired.get("deployed_by"),
            "migrations": sorted(self.p.get("migrations") or desired.get("migrations") or []),
        })
        if existing is None:
            desired.update(created=iso(self.now), status="pending",
                           history=[{"status": "pending", "at": iso(self.now)}])
        shared = [validate_shared_path(p) for p in self.p.get("shared_paths") or []]
        link_changes = self._plan_links(path, shared)
        plan = self.plan(before={"manifest": existing, "links": {}}, after={"manifest": desired, "links": {}})
        self.result.update(release=desired, path=path, links_changed=[name for name, _target in link_changes])
        for directory in (self.app_root, releases_dir(self.app_root), path):
            self._mkdir(plan, directory, 0o755)
        self._plan_owner(plan, path)
        for name, is_dir in shared:
            self._plan_shared(plan, name, is_dir)
        for name, target in link_changes:
            link = os.path.join(path, name)
            plan.before["links"][name] = os.readlink(link) if os.path.islink(link) else None
            plan.after["links"][name] = target
            self._plan_link(plan, link, target)
        if existing != desired:
            plan.file("write %s" % os.path.join(path, MANIFEST),
                      lambda: write_json_atomic(os.path.join(path, MANIFEST), desired))
        if plan.operations:
            # Where the deploy keeps what outlives releases, even before a first shared path.
            self._mkdir(plan, os.path.join(self.app_root, "shared"), 0o755)
        return plan

    @staticmethod
    def _mkdir(plan, directory, mode):
        """Plan os.makedirs for a directory that is missing and not planned yet."""
        shown = "mkdir -p -m %04o %s" % (mode, directory)
        if os.path.isdir(directory) or any(shown in op.shown for op in plan.operations if op.kind == "file"):
            return
        plan.file(shown, lambda: os.makedirs(directory, mode, exist_ok=True))

    def _plan_owner(self, plan, path):
        """The release directory given to whoever unpacks and installs into it (owner), with the
        group's set-gid bit, so that whatever they write there belongs to the group too."""
        owner, group = self.p.get("owner"), self.p.get("group")
        if not (owner or group):
            return
        # Unknown names fail here, before the release exists.
        uid, gid = account(owner).pw_uid if owner else None, group_id(group) if group else None
        st = os.stat(path) if os.path.isdir(path) else None
        if not (st and uid in (None, st.st_uid) and gid in (None, st.st_gid)):
            plan.file("chown %s%s %s" % (owner or "", ":" + group if group else "", path),
                      lambda: chown(path, owner, group))
        if group and not (st and st.st_mode & stat.S_ISGID):
            plan.file("chmod g+s %s" % path, lambda: os.chmod(path, stat.S_IMODE(os.stat(path).st_mode) | stat.S_ISGID))

    def _plan_shared(self, plan, name, is_dir):
        """A shared path missing on the first deploy is created empty instead of failing it."""
        target = os.path.join(self.app_root, "shared", name)
        if os.path.lexists(target):
            return
        self._mkdir(plan, os.path.dirname(target), 0o755)
        if is_dir:
            plan.file("mkdir -m 0750 %s" % target, lambda: os.makedirs(target, 0o750))
        else:
            plan.file("install -m 0600 /dev/null %s" % target,
                      lambda: os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)))
        owner, group = self.p.get("shared_owner"), self.p.get("shared_group")
        if owner or group:
            plan.file("chown %s%s %s" % (owner or "", ":" + group if group else "", target),
                      lambda: chown(target, owner, group))

    def _plan_link(self, plan, link, target):
        self._mkdir(plan, os.path.dirname(link), 0o755)
        if os.path.isdir(link) and not os.path.islink(link):
            plan.file("rm -r %s" % link, lambda: shutil.rmtree(link))
        plan.file("ln -sfn %s %s" % (target, link), lambda: _replace_with_link(link, target))

    def _check_space(self, rid, path):
        """Refuse to create a release the filesystem has no room for, before anything changes.

        needed = max(min_free_bytes, free_space_factor x the disk usage of the newest served
        release, or of the newest one when none served). Reported on every present; enforced only
        when the release directory does not exist yet (what follows in it is ours to fill)."""
        min_free = self.p.get("min_free_bytes") or 0
        factor = self.p.get("free_space_factor") or 0.0
        if min_free < 0 or factor < 0:
            raise ModuleError("Failed to check free space: min_free_bytes (%s) and free_space_factor (%s) must be "
                              "0 (no check) or more." % (min_free, factor))
        base = releases_dir(self.app_root)
        free = free_bytes(base)
        mount = mount_point(base)
        reference, reference_size = None, 0
        if factor > 0:
            others = [r for r in list_releases(self.app_root) if r["id"] != rid]
            served = [r for r in others if r["status"] in ("active", "good")]
            if others:
                reference = (served or others)[-1]["id"]
                reference_size = tree_size(release_path(self.app_root, reference), disk=True)
        by_factor = int(math.ceil(factor * reference_size))
        needed = max(min_free, by_factor)
        self.result.update(free_bytes=free, needed_bytes=needed, mount_point=mount)
        if free >= needed or os.path.isdir(path):
            return
        why = []
        if min_free:
            why.append("min_free_bytes %s" % megabytes(min_free))
        if factor > 0:
            why.append("free_space_factor %g x %s, the disk usage of release %s" % (
                factor, megabytes(reference_size), reference) if reference else
                "free_space_factor %g x 0 (no release yet)" % factor)
        count = len(list_releases(self.app_root))
        raise ModuleError(
            "Failed to create release %s: the filesystem mounted at %s (holding %s) has %s free, %s needed (%s). "
            "Prune old releases (state=pruned keeps the newest `keep` served releases plus current and the previous "
            "good one, so a lower keep removes more; %d release(s) are there now) or free space on %s, then try again."
            % (rid, mount, base, megabytes(free), megabytes(needed), "; ".join(why), count, mount),
            free_bytes=free, needed_bytes=needed, mount_point=mount)

    def _plan_links(self, path, shared):
        changes = []
        for name, _is_dir in shared:
            link = os.path.join(path, name)
            target = os.path.join(self.app_root, "shared", name)
            if os.path.islink(link) and os.readlink(link) == target:
                continue
            if os.path.lexists(link) and not os.path.islink(link):
                empty_dir = os.path.isdir(link) and not os.listdir(link)
                if not empty_dir and not self.p.get("force"):
                    raise ModuleError(
                        "Failed to link shared path %s: the release ships %s itself. Exclude it from the "
                        "artifact, or set force=true to replace it with the shared one." % (name, link))
            changes.append((name, target))
        return changes

    def active(self):
        rid = self.p["release_id"]
        releases = list_releases(self.app_root)
        release = self._require_release(rid, releases)
        self._refuse_stripped(release, "activate")
        if release["status"] == "failed" and not self.p.get("force"):
            raise ModuleError("Failed to activate %s: it is marked failed (%s). Set force=true to use it anyway."
                              % (rid, self._reason(release)))
        current = self._current()
        self.result.update(previous=current, current=current)
        if current == rid and release["status"] == "active":
            return None
        return self._switch(rid, current)

    def rollback(self):
        releases = list_releases(self.app_root)
        current = self._current()
        target = self.p.get("release_id") or previous_good(releases, current)
        if target is None:
            raise ModuleError("Failed to roll back %s: no earlier good release to go back to. Releases: %s."
                              % (self.app_root, ", ".join("%s (%s)" % (r["id"], r["status"]) for r in releases) or "none"))
        release = self._require_release(target, releases)
        self._refuse_stripped(release, "roll back to")
        if release["status"] == "failed" and not self.p.get("force"):
            raise ModuleError("Failed to roll back to %s: it is marked failed (%s). Pick another release or set "
                              "force=true." % (target, self._reason(release)))
        left = read_manifest(self.app_root, current) if current else None
        known = set(release["manifest"].get("migrations") or [])
        self.result["migrations_not_in_target"] = [m for m in (left or {}).get("migrations") or [] if m not in known]
        self.result.update(previous=current, current=current, target=target,
                           target_artifact_sha256=release["manifest"].get("artifact_sha256"))
        if current == target:
            return None
        return self._switch(target, current)

    @staticmethod
    def _refuse_stripped(release, action):
        """A release that lost its node_modules for space cannot serve, even with force."""
        gone = (release["manifest"] or {}).get("removed_for_space")
        if not gone and os.path.lexists(os.path.join(release["path"], STRIPPED_MARKER)):
            gone = list(BULKY)
        if gone:
            raise ModuleError("Failed to %s %s: its %s was removed to free space when it was marked failed, so "
                              "it cannot serve. Deploy it again as a new release." % (
                                  action, release["id"], ", ".join(gone)))

    @staticmethod
    def _reason(release):
        history = (release["manifest"] or {}).get("history") or []
        reasons = [h.get("reason") for h in history if h.get("status") == "failed" and h.get("reason")]
        return reasons[-1] if reasons else "no reason recorded"

    def failed(self):
        rid = self.p["release_id"]
        release = self._require_release(rid, list_releases(self.app_root))
        reason = self.p.get("reason") or "marked failed"
        self.result["release_id"] = rid
        if release["status"] == "failed":
            return None
        plan = self.plan(before={"status": release["status"]}, after={"status": "failed", "reason": reason})
        # The marker first, then the manifest: see mark_failed.
        plan.file(["touch %s" % os.path.join(release["path"], FAILED_MARKER), self._manifest_shown(rid)],
                  lambda: self._mark_failed(rid, reason))
        return plan

    def _mark_failed(self, rid, reason):
        # The release current points at may still serve (a first deploy has nothing to roll back
        # to): its node_modules stays.
        try:
            serving = self._current() == rid
        except ModuleError:
            serving = True
        manifest, removed, warning = mark_failed(self.app_root, rid, reason, now=self.now, may_free=not serving)
        self.result.update(release=manifest, removed_for_space=removed)
        if warning:
            self.result["warning"] = warning

    def pruned(self):
        releases = list_releases(self.app_root)
        remove, kept = plan_prune(releases, self._current(), self.p.get("keep"))
        self.result.update(removed=remove, kept=kept)
        plan = self.plan(before={"releases": [r["id"] for r in releases]},
                         after={"releases": [r["id"] for r in releases if r["id"] not in remove]})
        for rid in remove:
            path = release_path(self.app_root, rid)
            plan.file("rm -rf %s" % path, lambda path=path: remove_tree(path))
        return plan

    def locked(self):
        lock = Lock(self.app_root, self.now)
        timeout = self.p["lock_timeout"]
        record = lock.record(self.p.get("lock_owner") or "unknown", self.p.get("lock_token"),
                             self.p.get("lock_purpose") or "deploy", self.p.get("lock_host"), self.p.get("lock_pid"))
        held, mine = lock.claim(record, timeout, self.p.get("break_stale"), self.p.get("takeover_token"))
        self.result["lock"] = held if mine else record
        # What the lock now protects, as query says it (nothing yet on a first deploy): a deploy
        # needs no second read.
        self._describe(sizes=False)
        if mine:
            return None
        if held is not None:
            self.result["lock_taken_over"] = held
        plan = self.plan(before={"lock": held}, after={"lock": record})
        self._mkdir(plan, self.app_root, 0o755)
        if held is None:
            plan.file("write %s" % lock.path, lambda: lock.create(record, timeout))
        else:
            plan.file("write %s" % lock.path, lambda: lock.replace(record))
        return plan

    def unlocked(self):
        lock = Lock(self.app_root, self.now)
        held = lock.release_by(self.p["lock_timeout"], self.p.get("lock_token"), self.p.get("lock_owner") or "unknown",
                               self.p.get("force"))
        plan = self.plan(before={"lock": held}, after={"lock": None})
        if self.p.get("record") is not None:
            self._plan_record(plan)
        if held is not None:
            self.result["lock_released"] = held
            plan.file("rm %s" % lock.path, lock.remove)
        return plan if plan.operations else None

    def _plan_record(self, plan):
        """The run's record in <app_root>/deploys (0750, the group's), written before the lock goes."""
        name = validate_id(self.p["record_name"], field="record_name")
        records, group = os.path.join(self.app_root, "deploys"), self.p.get("group")
        gid = group_id(group) if group else -1
        path = os.path.join(records, name + ".json")
        self.result["record_path"] = path
        if not os.path.isdir(records):
            plan.file("mkdir -m 0750 %s" % records, lambda: os.makedirs(records, 0o750, exist_ok=True))
            if group:
                plan.file("chgrp %s %s" % (group, records), lambda: os.chown(records, -1, gid))

        def write():
            write_json_atomic(path, self.p["record"], mode=0o640)
            os.chown(path, -1, gid)
        plan.file("write %s" % path, write)

    def query(self):
        self._describe(sizes=True)
        self.result["lock"] = Lock(self.app_root, self.now).read(self.p.get("lock_timeout") or 1800)
        return None

    def _describe(self, sizes):
        """current, previous_good and every release; their sizes walk each tree (not under a lock)."""
        releases = list_releases(self.app_root)
        try:
            current = current_id(self.app_root)
        except ModuleError as exc:
            current = None
            self.result["warning"] = exc.msg
        self.result.update(
            current=current,
            previous_good=previous_good(releases, current),
            releases=[self._entry(r, current, sizes) for r in releases])

    @staticmethod
    def _entry(release, current, sizes):
        """One release as query and locked list it."""
        entry = dict(id=release["id"], path=release["path"], status=release["status"], current=release["id"] == current)
        entry.update((k, (release["manifest"] or {}).get(k)) for k in
                     ("version", "git_sha", "artifact_sha256", "created", "activated_at", "deployed_by", "migrations"))
        if sizes:
            entry["size"] = tree_size(release["path"])
        return entry


def _replace_with_link(link, target):
    """A wrong link or a shipped file at ``link`` becomes a symlink to ``target`` (a directory
    there was removed by the operation before)."""
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(target, link)
