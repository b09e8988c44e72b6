# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The artifact store behind promotion: artifacts kept by sha256 with a record of where each ran.

Layout of a store directory (on the controller, or a path every controller shares)::

    <sha256>.tar.gz            the artifact, byte for byte what the hosts received
    <sha256>.json              its record: version, git sha, and per environment the last deploy
                               (release id, hosts, when) and how the site's smoke tests ended
    environments/<env>.json    what that environment runs now (sha256, release id, since when)

``recorded`` files a deploy (or a rollback: no artifact, the pointer moves to a stored one);
``promotable`` finds the artifact an environment may receive: the one named by sha256 or the one
the source environment runs now, only when its smoke tests passed there.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import re
import shutil

from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import ModuleError, iso, read_json, write_json_atomic
from ansible_collections.boosterbeacon.infra.plugins.module_utils._gate import Manager
from ansible_collections.boosterbeacon.infra.plugins.module_utils._runner import Runner

SMOKE_RESULTS = ("passed", "failed", "not run")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ENVIRONMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(value, option):
    if not _SHA256.match(value or ""):
        raise ModuleError("%s must be a sha256 (64 lowercase hex digits), got %r." % (option, value))
    return value


def check_environment(value, option):
    if not _ENVIRONMENT.match(value or ""):
        raise ModuleError("%s must name an environment (letters, digits, '.', '_', '-'), got %r." % (option, value))
    return value


def updated_record(record, sha256, event, now):
    """The artifact's record with ``event`` (environment, release_id, hosts, smoke, ...) filed: the
    environment's entry replaced, the event appended to the history (newest last, 50 kept)."""
    record = dict(record or {"sha256": sha256})
    entry = dict(event, at=now)
    environment = entry.pop("environment")
    environments = dict(record.get("environments") or {})
    if entry.get("smoke") is None:
        # A rollback onto the artifact: where it runs changes, its smoke result there stays.
        entry["smoke"] = (environments.get(environment) or {}).get("smoke", "not run")
    environments[environment] = entry
    record["environments"] = environments
    record["history"] = (list(record.get("history") or []) + [dict(entry, environment=environment)])[-50:]
    return record


def promotion_refusal(record, sha256, source):
    """Why the artifact may not be promoted from ``source`` (None when it may)."""
    if record is None:
        return ("Artifact %s is not in the store: only an artifact deployed to %s through this store can be promoted "
                "(deploy it there first)." % (sha256, source))
    ran = (record.get("environments") or {}).get(source)
    if ran is None:
        return ("Artifact %s has never run on %s: refusing to promote it. Deploy it to %s first, or promote what %s "
                "runs now (no sha256)." % (sha256, source, source, source))
    if ran.get("smoke") != "passed":
        return ("Artifact %s ran on %s (release %s) but its smoke tests there %s: refusing to promote it. Fix it and "
                "deploy again to %s." % (sha256, source, ran.get("release_id"),
                                         "failed" if ran.get("smoke") == "failed" else "did not run", source))
    return None


class ArtifactStore(Manager):
    """The artifact_store module: ``recorded`` plans its file operations; ``promotable`` only reads."""

    def __init__(self, module):
        super(ArtifactStore, self).__init__(module, Runner(module))
        self.store = self.p["store"]

    def states(self):
        return {"recorded": self.recorded, "promotable": self.promotable}

    def task(self):
        return "keep artifacts in %s" % self.store

    def _path(self, *parts):
        return os.path.join(self.store, *parts)

    def _pointer(self, environment):
        return self._path("environments", environment + ".json")

    def recorded(self):
        p = self.p
        sha256 = check_sha256(p["sha256"], "sha256")
        environment = check_environment(p["environment"], "environment")
        stored = self._path(sha256 + ".tar.gz")
        artifact = p["artifact"]
        if artifact:
            actual = sha256_of(artifact)
            if actual != sha256:
                raise ModuleError("artifact %s has sha256 %s, not the sha256 given (%s): it changed after the deploy read it."
                                  % (artifact, actual, sha256))
        elif not os.path.exists(stored):
            raise ModuleError("Artifact %s is not in %s and no artifact file was given: nothing to record it by." % (sha256, self.store))
        before = read_json(self._path(sha256 + ".json"))
        now = iso()
        event = {"environment": environment, "release_id": p["release_id"], "hosts": p["hosts"], "smoke": p["smoke"],
                 "site_url": p["site_url"], "kind": p["kind"]}
        after = updated_record(before, sha256, event, now)
        after.update({key: p[key] for key in ("version", "git_sha") if p[key]})
        pointer = {"sha256": sha256, "release_id": p["release_id"], "since": now, "smoke": after["environments"][environment]["smoke"]}

        plan = self.plan(before={"record": before}, after={"record": after})
        plan.file("mkdir -p %s" % self._path("environments"), lambda: os.makedirs(self._path("environments"), exist_ok=True))
        if not os.path.exists(stored):
            plan.file("cp %s %s" % (artifact, stored), lambda: self._copy(artifact, stored))
        plan.file("write %s" % self._path(sha256 + ".json"), lambda: write_json_atomic(self._path(sha256 + ".json"), after))
        plan.file("write %s" % self._pointer(environment), lambda: write_json_atomic(self._pointer(environment), pointer))
        pruned = self._prunable(p["keep"], sha256, environment) if os.path.isdir(self.store) else []
        for old in pruned:
            for path in (self._path(old + ".tar.gz"), self._path(old + ".json")):
                plan.file("rm -f %s" % path, lambda path=path: os.path.exists(path) and os.unlink(path))
        self.result.update(sha256=sha256, path=stored, record=after, pruned=pruned)
        return plan

    def promotable(self):
        source = check_environment(self.p["environment"], "environment")
        sha256 = self.p["sha256"]
        if sha256:
            check_sha256(sha256, "sha256")
        else:
            pointer = read_json(self._pointer(source))
            if not pointer:
                raise ModuleError("Nothing is recorded as running on %s in %s: deploy there first, or name the artifact "
                                  "by its sha256." % (source, self.store))
            sha256 = pointer["sha256"]
        record = read_json(self._path(sha256 + ".json"))
        refusal = promotion_refusal(record, sha256, source)
        if refusal:
            raise ModuleError(refusal, sha256=sha256)
        stored = self._path(sha256 + ".tar.gz")
        if not os.path.exists(stored) or sha256_of(stored) != sha256:
            raise ModuleError("The stored artifact %s is missing or its bytes no longer match its sha256: refusing to "
                              "promote it; deploy it to %s again." % (stored, source), sha256=sha256)
        self.result.update(sha256=sha256, path=stored, record=record)
        return None

    @staticmethod
    def _copy(source, dest):
        # Copied beside the destination, then renamed: a reader never sees half an artifact.
        tmp = "%s.part-%d" % (dest, os.getpid())
        shutil.copyfile(source, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)

    def _prunable(self, keep, sha256, environment):
        """Artifacts beyond the ``keep`` newest once ``sha256`` is filed as what ``environment``
        runs, leaving out every one an environment runs."""
        pinned = {sha256}
        environments = self._path("environments")
        if os.path.isdir(environments):
            for name in os.listdir(environments):
                if name.endswith(".json") and name != environment + ".json":
                    pinned.add((read_json(os.path.join(environments, name)) or {}).get("sha256"))
        older = sorted((os.path.getmtime(self._path(name)), name[:-5]) for name in os.listdir(self.store)
                       if name.endswith(".json") and _SHA256.match(name[:-5]) and name[:-5] != sha256)
        # The record written now is the newest: keep - 1 of the others stay.
        return [old for _mtime, old in older[:max(len(older) - (keep - 1), 0)] if old not in pinned]
