# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deploy lock: one JSON file under the app root naming who holds it, since when and why.

Taking it is decided here (``Lock.claim``, ``Lock.release_by``) and done by the caller's plan:
``create`` appears whole or not at all (a hard link of a complete file, so a reader never finds
it empty and mistakes it for a stale lock), ``replace`` renames a new file over a lock taken over.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket
import time

from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import (
    ModuleError, iso, read_json, write_json_atomic)

LOCK = ".deploy.lock"


class Lock:
    def __init__(self, app_root, now=None):
        self.app_root = app_root
        self.path = os.path.join(app_root, LOCK)
        self.now = time.time() if now is None else now

    def read(self, timeout):
        """The lock held (with its age and whether it is older than ``timeout``), or None."""
        data = read_json(self.path)
        if not isinstance(data, dict):
            if os.path.exists(self.path):
                return {"holder": "unknown (unreadable lock file)", "age": 0, "stale": True}
            return None
        age = max(0, int(self.now - float(data.get("epoch", 0))))
        data["age"] = age
        data["stale"] = age > timeout
        return data

    @staticmethod
    def describe(info):
        return "%s@%s pid %s since %s (%ds ago)" % (
            info.get("owner"), info.get("host"), info.get("pid"), info.get("time"), info.get("age", 0))

    def record(self, owner, token, purpose, host=None, pid=None):
        return {"owner": owner, "host": host or socket.gethostname(), "pid": pid or os.getppid(),
                "token": token, "purpose": purpose, "time": iso(self.now), "epoch": self.now}

    def claim(self, record, timeout, break_stale=False, takeover_token=None):
        """Whether this run may take the lock. Returns (held, mine): the lock found (None when
        it is free) and whether this run holds it already (the same token). Raises when another
        run holds it: a stale lock goes only with ``break_stale``, a lock whose token is
        ``takeover_token`` at once (the caller proved that run dead)."""
        held = self.read(timeout)
        if held is None:
            return None, False
        token = record.get("token")
        if token and held.get("token") == token:
            return held, True
        if not (takeover_token and held.get("token") == takeover_token):
            if not held["stale"]:
                raise ModuleError("Failed to lock %s: held by %s. Wait for that run to finish; if it is dead, "
                                  "re-run once its lock is older than lock_timeout (%ds) with break_stale=true."
                                  % (self.app_root, self.describe(held), timeout), holder=held)
            if not break_stale:
                raise ModuleError("Failed to lock %s: a stale lock is held by %s (older than lock_timeout %ds). "
                                  "If that run is dead, re-run with break_stale=true to take it over."
                                  % (self.app_root, self.describe(held), timeout), holder=held)
        return held, False

    def release_by(self, timeout, token=None, owner=None, force=False):
        """The lock this run may remove (None when there is none); raises when another run holds it."""
        held = self.read(timeout)
        if held is None:
            return None
        mine = (token and held.get("token") == token) or (not token and held.get("owner") == owner)
        if not mine and not force:
            raise ModuleError("Failed to unlock %s: the lock is held by %s, not by this run. Set force=true to "
                              "remove it anyway." % (self.app_root, self.describe(held)), holder=held)
        return held

    def create(self, record, timeout):
        if not os.path.isdir(self.app_root):
            os.makedirs(self.app_root, 0o755)
        try:
            write_json_atomic(self.path, record, exclusive=True)
        except FileExistsError:
            raise ModuleError("Failed to lock %s: another run took the lock a moment ago: %s."
                              % (self.app_root, self.describe(self.read(timeout) or {})))

    def replace(self, record):
        write_json_atomic(self.path, record)

    def remove(self):
        os.unlink(self.path)
