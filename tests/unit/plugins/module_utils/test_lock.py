# The deploy lock on its own: who may take it, who may release it, and a race lost cleanly.
from __future__ import annotations

import json
import os

import pytest

from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import ModuleError
from ansible_collections.boosterbeacon.infra.plugins.module_utils._lock import LOCK, Lock

NOW = 1795564800.0


def test_claim_free_own_busy_stale_and_dead(tmp_path):
    lock = Lock(str(tmp_path), NOW)
    mine = lock.record("alice", "t1", "deploy", "laptop", 42)
    assert lock.claim(mine, 1800) == (None, False)
    lock.create(mine, 1800)
    held, own = Lock(str(tmp_path), NOW + 5).claim(mine, 1800)
    assert own is True and held["owner"] == "alice" and held["age"] == 5
    theirs = Lock(str(tmp_path), NOW + 5).record("bob", "t2", "deploy")
    with pytest.raises(ModuleError, match="held by alice@laptop pid 42") as err:
        Lock(str(tmp_path), NOW + 5).claim(theirs, 1800)
    assert err.value.details["holder"]["token"] == "t1"
    with pytest.raises(ModuleError, match="stale lock is held by alice@laptop"):
        Lock(str(tmp_path), NOW + 3600).claim(theirs, 1800)
    assert Lock(str(tmp_path), NOW + 3600).claim(theirs, 1800, break_stale=True)[0]["stale"] is True
    assert Lock(str(tmp_path), NOW + 5).claim(theirs, 1800, takeover_token="t1")[1] is False


def test_release_only_by_its_holder_unless_forced(tmp_path):
    lock = Lock(str(tmp_path), NOW)
    assert lock.release_by(1800, token="t1") is None
    lock.create(lock.record("alice", "t1", "deploy"), 1800)
    with pytest.raises(ModuleError, match="not by this run"):
        lock.release_by(1800, token="t2")
    assert lock.release_by(1800, owner="alice")["token"] == "t1"
    assert lock.release_by(1800, token="t2", force=True)["owner"] == "alice"
    lock.remove()
    assert not os.path.exists(lock.path)


def test_a_lock_taken_a_moment_ago_is_named(tmp_path):
    lock = Lock(str(tmp_path / "app"), NOW)
    lock.create(lock.record("alice", "t1", "deploy", "laptop", 42), 1800)
    with pytest.raises(ModuleError, match="another run took the lock a moment ago: alice@laptop pid 42"):
        lock.create(lock.record("bob", "t2", "deploy"), 1800)
    lock.replace(lock.record("bob", "t2", "deploy"))
    assert json.loads((tmp_path / "app" / LOCK).read_text())["owner"] == "bob"


def test_an_unreadable_lock_is_stale(tmp_path):
    (tmp_path / LOCK).write_text("[]")
    assert Lock(str(tmp_path), NOW).read(1800) == {"holder": "unknown (unreadable lock file)", "age": 0,
                                                   "stale": True}
