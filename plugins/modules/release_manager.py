#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: release_manager
short_description: Timestamped releases, an atomic current symlink, rollback, pruning and a deploy lock
version_added: 0.1.0
description:
  - Manages releases of an application under O(app_root) the way a deploy needs them.
  - Each release is a directory C(releases/<id>) with a manifest C(.release.json) (id, version, git sha,
    artifact sha256, created, deployed_by, the migrations it knows, status and its history).
  - C(current) is a relative symlink switched with rename(2), so it always points at a complete release.
  - Statuses are C(pending) (created, never served), C(active) (what current points at), C(good) (served,
    then superseded) and C(failed) (never a rollback target unless forced, never counted by pruning).
  - O(state=present) can refuse to create a release on a filesystem without room for it (O(min_free_bytes),
    O(free_space_factor)), before it changes anything.
  - O(state=failed) works on a full filesystem, see O(state).
attributes:
  idempotent:
    support: full
    details: O(state=active), O(state=rollback) with a release id, and O(state=locked) with O(lock_token) are idempotent.
author: BoosterBeacon operators (@boosterbeacon)
extends_documentation_fragment: [boosterbeacon.infra.attributes, boosterbeacon.infra.attributes.actiongroup,
                                 boosterbeacon.infra.attributes.check_and_diff, boosterbeacon.infra.attributes.debian]
options:
  app_root:
    description: Absolute path of the application root, for example C(/srv/boosterbeacon).
    type: path
    required: true
  state:
    description:
      - V(present) creates the release directory and manifest and links O(shared_paths) into it.
      - V(active) switches C(current) to O(release_id).
      - V(rollback) switches C(current) to O(release_id) or, without it, to the newest good release older than current,
        and returns the migrations the release left behind knows and the target does not.
      - V(failed) marks O(release_id) failed with O(reason). It first creates an empty C(.release.failed) in the
        release (no data block needed, so it works on a full filesystem; the release reads as failed from then on),
        then rewrites the manifest through a temporary file and rename(2).
      - When that rewrite runs out of space and the release is not what C(current) points at, its C(node_modules)
        is removed (RV(removed_for_space)) and the rewrite tried again; such a release can no longer be activated or
        rolled back to, even with O(force). When it still fails, the release stays failed by its marker alone and
        RV(warning) says the manifest (and the reason) was not updated.
      - V(pruned) keeps the newest O(keep) served releases plus current and the previous good one.
      - V(locked) and V(unlocked) take and release the deploy lock; V(locked) also returns what V(query) does
        (without release sizes), so a run reads the app root once. A lock held by another run fails the task and
        returns it as C(holder).
      - V(query) lists releases, current, the previous good release and the lock.
    type: str
    choices: [present, active, rollback, failed, pruned, locked, unlocked, query]
    default: query
  release_id:
    description:
      - Release id, C(<UTC timestamp>-<short id>) such as C(20261124T213000Z-abc1234). Compute it once per run on the
        controller so every host of a rolling deploy uses the same one.
      - Letters, digits, C(.), C(_) and C(-) only; no C(/), no C(..).
    type: str
  version:
    description: Application version recorded in the manifest.
    type: str
  git_sha:
    description: Git commit recorded in the manifest.
    type: str
  artifact_sha256:
    description: Checksum of the artifact the release was unpacked from.
    type: str
  deployed_by:
    description: Who deployed it.
    type: str
  migrations:
    description: Names of the database migrations this release ships (used to explain rollbacks).
    type: list
    elements: str
  shared_paths:
    description:
      - Paths relative to the release to link from C(<app_root>/shared). A trailing C(/) marks a directory.
      - A shared path that does not exist yet is created empty (a file with mode 0600, a directory with 0750).
      - A real file or non-empty directory the release ships at that path is an error unless O(force=true).
    type: list
    elements: str
  owner:
    description:
      - With O(state=present), the owner of the release directory (whoever unpacks the artifact and installs
        its dependencies into it); changed when it differs.
    type: str
  group:
    description:
      - With O(state=present), the group of the release directory, with its set-gid bit so that the files unpacked
        and installed into it belong to the group too.
    type: str
  shared_owner:
    description: Owner of shared paths this module creates (for example the service account).
    type: str
  shared_group:
    description: Group of shared paths this module creates.
    type: str
  keep:
    description:
      - Served (active or good) releases to keep with O(state=pruned).
      - Failed releases do not count and go once older than the oldest kept; unfinished ones (pending, no manifest)
        go at once, so prune under the deploy lock.
    type: int
    default: 5
  reason:
    description: Why the release failed, with O(state=failed).
    type: str
  min_free_bytes:
    description:
      - With O(state=present), the bytes that must be free (C(f_bavail) of statvfs, what an unprivileged user may
        still write) on the filesystem holding C(<app_root>/releases) before a new release is created.
      - The check runs before anything changes, in check mode too, and only when the release directory does not
        exist yet; the failure names the mount point, the free and needed sizes in MB (10^6 bytes) and what to do.
      - V(0) does not check.
    type: int
    default: 0
  free_space_factor:
    description:
      - With O(state=present), also require this many times the disk usage (allocated blocks, like C(du)) of the newest
        served (active or good) release, or of the newest release when none has served; for example V(2.0) leaves room
        for the new release and its C(node_modules) beside it.
      - The bytes needed are the larger of O(min_free_bytes) and this product (RV(needed_bytes)).
      - V(0) does not check. Measuring walks the whole release, which takes a moment for a large C(node_modules).
    type: float
    default: 0.0
  force:
    description:
      - Activate or roll back to a failed release; replace shipped files with shared links; remove a lock held by
        another run; switch even when C(current) points outside C(releases/).
    type: bool
    default: false
  lock_owner:
    description: Who takes the lock (for example C(alice)).
    type: str
  lock_token:
    description: Unique id of this run; locking again with the same token is a no-op, and unlocking requires it.
    type: str
  lock_host:
    description: Host the run comes from (the controller). Defaults to the managed host's name.
    type: str
  lock_pid:
    description: Process id of the run on O(lock_host).
    type: int
  lock_purpose:
    description: What the lock is for (deploy, rollback, ...).
    type: str
    default: deploy
  record:
    description:
      - With O(state=unlocked), the run's record (who, what, the steps), written as JSON to
        C(<app_root>/deploys/<record_name>.json) (mode 0640, O(group)'s) before the lock goes, so no run records
        into a directory another run holds.
    type: dict
  record_name:
    description: The record's file name without C(.json); required with O(record).
    type: str
  lock_timeout:
    description: Seconds after which a lock counts as stale.
    type: int
    default: 1800
  break_stale:
    description: Take over a stale lock; the previous holder is returned as RV(lock_taken_over).
    type: bool
    default: false
  takeover_token:
    description:
      - Token of a lock whose run the caller has proved dead (for example its process is gone on the
        controller); that lock is taken over at once, whatever its age, and returned as RV(lock_taken_over).
      - A lock with any other token is left alone.
    type: str
seealso:
  - module: boosterbeacon.infra.pm2_process
"""

EXAMPLES = r"""
- name: Take the deploy lock
  boosterbeacon.infra.release_manager:
    app_root: /srv/boosterbeacon
    state: locked
    lock_owner: "{{ lookup('ansible.builtin.env', 'USER') }}"
    lock_token: "{{ deploy_run_id }}"

- name: Create the release and link shared files
  boosterbeacon.infra.release_manager:
    app_root: /srv/boosterbeacon
    state: present
    release_id: 20261124T213000Z-abc1234
    version: 2.0.0
    git_sha: abc1234def
    artifact_sha256: "{{ artifact.sha256 }}"
    migrations: [1732406400000_create-beacons]
    shared_paths: [.env, logs/]
    shared_owner: boosterbeacon

- name: Create the release only with room for it (200 MB, or twice the last served release)
  boosterbeacon.infra.release_manager:
    app_root: /srv/boosterbeacon
    state: present
    release_id: 20261124T213000Z-abc1234
    min_free_bytes: 200000000
    free_space_factor: 2.0

- name: Switch current
  boosterbeacon.infra.release_manager:
    app_root: /srv/boosterbeacon
    state: active
    release_id: 20261124T213000Z-abc1234

- name: Roll back to the previous good release
  boosterbeacon.infra.release_manager:
    app_root: /srv/boosterbeacon
    state: rollback
  register: rollback

- name: Keep five releases
  boosterbeacon.infra.release_manager:
    app_root: /srv/boosterbeacon
    state: pruned
    keep: 5
"""

RETURN = r"""
current:
  description: Release current points at after the task.
  returned: states active, rollback, query, locked
  type: str
  sample: 20261124T213000Z-abc1234
previous:
  description: Release current pointed at before the task.
  returned: states active, rollback
  type: str
  sample: 20261123T101500Z-9f8e7d6
release:
  description: The release manifest.
  returned: state present; state failed when changed
  type: dict
  sample: {"id": "20261124T213000Z-abc1234", "version": "2.0.0", "status": "pending", "migrations": []}
path:
  description: Directory of the release.
  returned: state present
  type: str
  sample: /srv/boosterbeacon/releases/20261124T213000Z-abc1234
links_changed:
  description: Shared paths linked (or to be linked) into the release.
  returned: state present
  type: list
  elements: str
  sample: [".env", "logs"]
migrations_not_in_target:
  description: Migrations the release left behind ships and the rollback target does not; the database may need restoring.
  returned: state rollback
  type: list
  elements: str
  sample: ["1732492800000_beacons-signal"]
target:
  description: Release rolled back to.
  returned: state rollback
  type: str
  sample: 20261123T101500Z-9f8e7d6
target_artifact_sha256:
  description: The sha256 of the artifact the rollback target runs (from its manifest), for the artifact store.
  returned: state rollback
  type: str
removed:
  description: Releases removed (or, in check mode, to be removed).
  returned: state pruned
  type: list
  elements: str
  sample: ["20261101T080000Z-0a1b2c3"]
kept:
  description: Releases kept by pruning.
  returned: state pruned
  type: list
  elements: str
  sample: ["20261123T101500Z-9f8e7d6", "20261124T213000Z-abc1234"]
releases:
  description: Every release with status, size in bytes (state query only) and whether it is current.
  returned: states query, locked
  type: list
  elements: dict
  sample: [{"id": "20261124T213000Z-abc1234", "status": "active", "current": true, "size": 48213, "version": "2.0.0"}]
previous_good:
  description: The release a plain rollback would go to.
  returned: states query, locked
  type: str
  sample: 20261123T101500Z-9f8e7d6
lock:
  description: The lock this run holds (states locked) or whoever holds it (state query), with its age and whether it is stale.
  returned: states locked, query
  type: dict
  sample: {"owner": "alice", "host": "laptop", "pid": 4242, "time": "2026-11-24T21:30:00Z", "age": 12, "stale": false}
lock_taken_over:
  description: The stale lock this run broke.
  returned: state locked, when a stale lock (break_stale) or a dead run's lock (takeover_token) was taken over
  type: dict
  sample: {"owner": "bob", "host": "ci", "pid": 99, "time": "2026-11-24T18:00:00Z", "age": 12600, "stale": true}
record_path:
  description: Where the run's record was written (or would be, in check mode).
  returned: state unlocked with O(record)
  type: str
  sample: /srv/boosterbeacon/deploys/20261124T213000Z-abc1234.json
lock_released:
  description: The lock removed.
  returned: state unlocked, when a lock was removed
  type: dict
  sample: {"owner": "alice", "token": "run-1"}
warning:
  description:
    - With O(state=query) or O(state=locked), why current could not be read.
    - With O(state=failed), that the manifest could not be rewritten for lack of space (the release is failed by its
      C(.release.failed) marker; the reason was not recorded).
  returned: states query and locked, when current is broken; state failed, when the manifest could not be rewritten
  type: str
  sample: current points at /tmp/x, outside /srv/boosterbeacon/releases
free_bytes:
  description: Bytes free for unprivileged users (C(f_bavail)) on the filesystem holding C(<app_root>/releases).
  returned: state present (also in the failure when there is not enough space)
  type: int
  sample: 734003200
needed_bytes:
  description:
    - Bytes O(min_free_bytes) and O(free_space_factor) ask for; V(0) when neither is set.
    - Enforced only when the release directory is to be created.
  returned: state present (also in the failure when there is not enough space)
  type: int
  sample: 367001600
mount_point:
  description: Mount point of the filesystem holding C(<app_root>/releases) (found by walking up while st_dev stays the same).
  returned: state present (also in the failure when there is not enough space)
  type: str
  sample: /srv
commands:
  description:
    - The file operations run, one a line, written like the shell commands that would do the same (C(mkdir), C(ln -sfn),
      C(rm -rf)); C(write PATH) is a JSON file written whole through a temporary file and rename(2).
    - In check mode, the operations a run would make, in the same order.
  returned: always
  type: list
  elements: str
  sample: ["mkdir -p -m 0755 /srv/boosterbeacon/releases/20261124T213000Z-abc1234",
           "ln -sfn /srv/boosterbeacon/shared/.env /srv/boosterbeacon/releases/20261124T213000Z-abc1234/.env",
           "write /srv/boosterbeacon/releases/20261124T213000Z-abc1234/.release.json"]
removed_for_space:
  description: What was removed from the release to make room for its failed status (its C(node_modules)).
  returned: state failed, when changed outside check mode
  type: list
  elements: str
  sample: ["/srv/boosterbeacon/releases/20261124T213000Z-abc1234/node_modules"]
"""


from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import run_module
from ansible_collections.boosterbeacon.infra.plugins.module_utils._release import ReleaseManager

ARGUMENT_SPEC = dict(
    app_root=dict(type="path", required=True),
    state=dict(type="str", default="query",
               choices=["present", "active", "rollback", "failed", "pruned", "locked", "unlocked", "query"]),
    release_id=dict(type="str"),
    version=dict(type="str"),
    git_sha=dict(type="str"),
    artifact_sha256=dict(type="str"),
    deployed_by=dict(type="str"),
    migrations=dict(type="list", elements="str"),
    shared_paths=dict(type="list", elements="str"),
    owner=dict(type="str"),
    group=dict(type="str"),
    shared_owner=dict(type="str"),
    shared_group=dict(type="str"),
    keep=dict(type="int", default=5),
    reason=dict(type="str"),
    record=dict(type="dict"),
    record_name=dict(type="str"),
    min_free_bytes=dict(type="int", default=0),
    free_space_factor=dict(type="float", default=0.0),
    force=dict(type="bool", default=False),
    lock_owner=dict(type="str"),
    lock_token=dict(type="str", no_log=False),
    lock_host=dict(type="str"),
    lock_pid=dict(type="int"),
    lock_purpose=dict(type="str", default="deploy"),
    lock_timeout=dict(type="int", default=1800),
    break_stale=dict(type="bool", default=False),
    takeover_token=dict(type="str", no_log=False),
)
REQUIRED_IF = [("state", "present", ["release_id"]), ("state", "active", ["release_id"]),
               ("state", "failed", ["release_id"])]


def main():
    run_module(ReleaseManager, ARGUMENT_SPEC, required_if=REQUIRED_IF, required_together=[("record", "record_name")])


if __name__ == "__main__":
    main()
