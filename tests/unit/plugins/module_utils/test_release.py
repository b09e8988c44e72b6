# Release logic on a real temporary directory: the module does nothing but file operations.
from __future__ import annotations

import errno
import grp
import json
import os
import pwd
import stat
import types

import pytest

from conftest import FakeModule

from ansible_collections.boosterbeacon.infra.plugins.module_utils import _release as rel
from ansible_collections.boosterbeacon.infra.plugins.module_utils._lock import Lock
from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import ModuleError
from ansible_collections.boosterbeacon.infra.plugins.module_utils._release import ReleaseManager

NOW = 1795564800.0  # 2026-11-25T00:00:00Z


def params(app_root, **kw):
    base = dict(app_root=str(app_root), state="query", release_id=None, version=None, git_sha=None,
                artifact_sha256=None, deployed_by=None, migrations=None, shared_paths=None, owner=None, group=None, shared_owner=None,
                shared_group=None, keep=5, reason=None, record=None, record_name=None, force=False, lock_owner=None, lock_token=None,
                lock_host=None, lock_pid=None, lock_purpose="deploy", lock_timeout=1800, break_stale=False,
                takeover_token=None, min_free_bytes=0, free_space_factor=0.0)
    base.update(kw)
    return base


def run(app_root, check=False, now=NOW, **kw):
    return ReleaseManager(FakeModule(params(app_root, **kw), check_mode=check, diff=True), now=now).run()


def rid(n):
    return "202611%02dT000000Z-r%d" % (n, n)


def deploy(root, n, migrations=None, status=None):
    run(root, state="present", release_id=rid(n), version="%d.0.0" % n, migrations=migrations or [])
    run(root, state="active", release_id=rid(n))
    if status:
        run(root, state="failed", release_id=rid(n), reason=status)


@pytest.mark.parametrize("bad", ["../etc", "a/b", ".hidden", "", "x" * 200, "a..b", "spa ce"])
def test_bad_ids_are_refused(bad):
    with pytest.raises(ModuleError, match="no '/', no '..'"):
        rel.validate_id(bad)


@pytest.mark.parametrize("bad", ["relative/path", "", "/srv/../etc"])
def test_bad_app_root_is_refused(bad):
    with pytest.raises(ModuleError, match="app_root"):
        rel.validate_app_root(bad)


@pytest.mark.parametrize("bad", ["/etc/passwd", "../x", "a/../../b", "./x"])
def test_bad_shared_paths_are_refused(bad):
    with pytest.raises(ModuleError, match="shared_paths entry"):
        rel.validate_shared_path(bad)


def test_present_creates_release_manifest_and_shared_links(tmp_path):
    result = run(tmp_path, state="present", release_id=rid(1), version="1.0.0", git_sha="abc",
                 migrations=["002_b", "001_a"], shared_paths=[".env", "logs/", "config/app.json"])
    assert result["changed"] is True
    path = tmp_path / "releases" / rid(1)
    manifest = json.loads((path / ".release.json").read_text())
    assert manifest["status"] == "pending"
    assert manifest["migrations"] == ["001_a", "002_b"]
    assert os.readlink(path / ".env") == str(tmp_path / "shared" / ".env")
    assert (tmp_path / "shared" / ".env").is_file()
    assert oct((tmp_path / "shared" / ".env").stat().st_mode & 0o777) == "0o600"
    assert (tmp_path / "shared" / "logs").is_dir()
    assert os.path.islink(path / "config" / "app.json")
    assert result["diff"]["before"]["manifest"] is None
    again = run(tmp_path, state="present", release_id=rid(1), version="1.0.0", git_sha="abc",
                migrations=["001_a", "002_b"], shared_paths=[".env", "logs/", "config/app.json"])
    assert again["changed"] is False


def test_present_in_check_mode_changes_nothing(tmp_path):
    result = run(tmp_path, check=True, state="present", release_id=rid(1), shared_paths=[".env"])
    assert result["changed"] is True
    assert not (tmp_path / "releases").exists()


def test_present_refuses_to_replace_a_shipped_file_unless_forced(tmp_path):
    path = tmp_path / "releases" / rid(1)
    path.mkdir(parents=True)
    (path / ".env").write_text("SHIPPED=1\n")
    (path / "logs").mkdir()
    with pytest.raises(ModuleError, match="ships .*\\.env itself"):
        run(tmp_path, state="present", release_id=rid(1), shared_paths=[".env"])
    run(tmp_path, state="present", release_id=rid(1), shared_paths=["logs/"])  # an empty dir is replaced
    assert os.path.islink(path / "logs")
    run(tmp_path, state="present", release_id=rid(1), shared_paths=[".env"], force=True)
    assert os.path.islink(path / ".env")


def test_active_switches_current_and_marks_statuses(tmp_path):
    deploy(tmp_path, 1)
    run(tmp_path, state="present", release_id=rid(2))
    result = run(tmp_path, state="active", release_id=rid(2))
    assert result["previous"] == rid(1) and result["current"] == rid(2)
    assert os.readlink(tmp_path / "current") == "releases/" + rid(2)
    assert rel.read_manifest(str(tmp_path), rid(1))["status"] == "good"
    assert rel.read_manifest(str(tmp_path), rid(2))["status"] == "active"
    assert result["diff"] == {"before": {"current": rid(1)}, "after": {"current": rid(2)}}
    assert run(tmp_path, state="active", release_id=rid(2))["changed"] is False


def test_active_check_mode_predicts_and_leaves_current(tmp_path):
    deploy(tmp_path, 1)
    run(tmp_path, state="present", release_id=rid(2))
    assert run(tmp_path, check=True, state="active", release_id=rid(2))["changed"] is True
    assert os.readlink(tmp_path / "current") == "releases/" + rid(1)


def test_active_refuses_unknown_incomplete_and_failed_releases(tmp_path):
    deploy(tmp_path, 1)
    with pytest.raises(ModuleError) as err:
        run(tmp_path, state="active", release_id=rid(9))
    assert err.value.details["valid_ids"] == [rid(1)]
    (tmp_path / "releases" / rid(3)).mkdir()
    with pytest.raises(ModuleError, match="incomplete"):
        run(tmp_path, state="active", release_id=rid(3))
    run(tmp_path, state="present", release_id=rid(4))
    run(tmp_path, state="failed", release_id=rid(4), reason="health check failed")
    with pytest.raises(ModuleError, match="marked failed \\(health check failed\\)"):
        run(tmp_path, state="active", release_id=rid(4))
    assert run(tmp_path, state="active", release_id=rid(4), force=True)["current"] == rid(4)


def test_rollback_goes_to_previous_good_and_lists_migrations(tmp_path):
    deploy(tmp_path, 1, migrations=["001"])
    deploy(tmp_path, 2, migrations=["001", "002"])
    deploy(tmp_path, 3, migrations=["001", "002", "003"])
    run(tmp_path, state="failed", release_id=rid(3), reason="health")
    result = run(tmp_path, state="rollback")
    assert result["target"] == rid(2) and result["previous"] == rid(3)
    assert result["migrations_not_in_target"] == ["003"]
    assert rel.read_manifest(str(tmp_path), rid(3))["status"] == "failed"
    named = run(tmp_path, state="rollback", release_id=rid(1))
    assert named["current"] == rid(1)
    assert named["migrations_not_in_target"] == ["002"]
    assert run(tmp_path, state="rollback", release_id=rid(1))["changed"] is False


def test_rollback_refuses_failed_target_and_explains_missing_target(tmp_path):
    with pytest.raises(ModuleError, match="no earlier good release"):
        run(tmp_path, state="rollback")
    deploy(tmp_path, 1, status="broken build")
    deploy(tmp_path, 2)
    with pytest.raises(ModuleError, match="marked failed \\(broken build\\)"):
        run(tmp_path, state="rollback", release_id=rid(1))
    assert run(tmp_path, state="rollback", release_id=rid(1), force=True)["current"] == rid(1)


def test_current_outside_releases_is_refused(tmp_path):
    deploy(tmp_path, 1)
    os.unlink(tmp_path / "current")
    os.symlink("/tmp", tmp_path / "current")
    with pytest.raises(ModuleError, match="outside"):
        run(tmp_path, state="active", release_id=rid(1))
    assert "outside" in run(tmp_path, state="query")["warning"]
    assert run(tmp_path, state="active", release_id=rid(1), force=True)["current"] == rid(1)
    os.unlink(tmp_path / "current")
    (tmp_path / "current").mkdir()
    with pytest.raises(ModuleError, match="not a symlink"):
        rel.current_id(str(tmp_path))


def test_prune_keeps_n_served_releases_current_and_previous_good(tmp_path):
    for n in range(1, 8):
        deploy(tmp_path, n)
    result = run(tmp_path, state="pruned", keep=5)
    assert result["removed"] == [rid(1), rid(2)]
    assert sorted(os.listdir(tmp_path / "releases")) == [rid(n) for n in range(3, 8)]
    assert run(tmp_path, state="pruned", keep=5)["changed"] is False


def test_failed_releases_do_not_count_and_previous_good_survives(tmp_path):
    for n in range(1, 4):
        deploy(tmp_path, n)
    for n in range(4, 8):
        deploy(tmp_path, n, status="health")
    run(tmp_path, state="rollback", release_id=rid(3))
    result = run(tmp_path, state="pruned", keep=1)
    # current (3) is kept and also the only counted one; 2 is the previous good; failed ones are newer.
    assert result["removed"] == [rid(1)]
    assert set(result["kept"]) == {rid(2), rid(3)}


def test_prune_removes_what_a_killed_run_left_at_once(tmp_path):
    for n in range(1, 3):
        deploy(tmp_path, n)
    run(tmp_path, state="present", release_id=rid(3), version="3.0.0", migrations=[])  # killed after this
    (tmp_path / "releases" / rid(4)).mkdir()  # killed before its manifest
    deploy(tmp_path, 5)
    result = run(tmp_path, state="pruned", keep=5)
    assert result["removed"] == [rid(3), rid(4)]
    assert sorted(os.listdir(tmp_path / "releases")) == [rid(1), rid(2), rid(5)]


def test_prune_check_mode_and_bad_keep(tmp_path):
    for n in range(1, 4):
        deploy(tmp_path, n)
    assert run(tmp_path, check=True, state="pruned", keep=1)["removed"] == [rid(1)]
    assert len(os.listdir(tmp_path / "releases")) == 3
    with pytest.raises(ModuleError, match="keep must be 1 or more"):
        run(tmp_path, state="pruned", keep=0)


def test_prune_removes_read_only_trees(tmp_path):
    for n in range(1, 4):
        deploy(tmp_path, n)
    locked = tmp_path / "releases" / rid(1) / "cache"
    locked.mkdir()
    (locked / "f").write_text("x")
    os.chmod(locked, 0o500)
    run(tmp_path, state="pruned", keep=1)
    assert not (tmp_path / "releases" / rid(1)).exists()


def test_lock_refuses_second_holder_naming_it(tmp_path):
    first = run(tmp_path, state="locked", lock_owner="alice", lock_token="t1", lock_host="laptop", lock_pid=42)
    assert first["changed"] is True
    assert run(tmp_path, state="locked", lock_owner="alice", lock_token="t1")["changed"] is False
    with pytest.raises(ModuleError, match="held by alice@laptop pid 42") as err:
        run(tmp_path, state="locked", lock_owner="bob", lock_token="t2", now=NOW + 60)
    assert err.value.details["holder"]["owner"] == "alice"


def test_stale_lock_is_reported_then_broken_explicitly(tmp_path):
    run(tmp_path, state="locked", lock_owner="alice", lock_token="t1", lock_host="laptop", lock_pid=42)
    later = NOW + 3600
    with pytest.raises(ModuleError, match="stale lock is held by alice@laptop"):
        run(tmp_path, state="locked", lock_owner="bob", lock_token="t2", now=later)
    taken = run(tmp_path, state="locked", lock_owner="bob", lock_token="t2", break_stale=True, now=later)
    assert taken["lock_taken_over"]["owner"] == "alice"
    assert json.loads((tmp_path / ".deploy.lock").read_text())["owner"] == "bob"


def test_dead_runs_lock_is_taken_over_by_its_token_only(tmp_path):
    run(tmp_path, state="locked", lock_owner="alice", lock_token="t1", lock_host="laptop", lock_pid=42)
    with pytest.raises(ModuleError, match="held by alice@laptop"):
        run(tmp_path, state="locked", lock_owner="bob", lock_token="t2", takeover_token="other", now=NOW + 5)
    taken = run(tmp_path, state="locked", lock_owner="bob", lock_token="t2", takeover_token="t1", now=NOW + 5)
    assert taken["lock_taken_over"]["pid"] == 42
    assert json.loads((tmp_path / ".deploy.lock").read_text())["token"] == "t2"


def test_unlock_only_by_holder_unless_forced(tmp_path):
    assert run(tmp_path, state="unlocked", lock_token="x")["changed"] is False
    run(tmp_path, state="locked", lock_owner="alice", lock_token="t1")
    with pytest.raises(ModuleError, match="not by this run"):
        run(tmp_path, state="unlocked", lock_token="other")
    assert run(tmp_path, check=True, state="unlocked", lock_token="t1")["changed"] is True
    assert (tmp_path / ".deploy.lock").exists()
    assert run(tmp_path, state="unlocked", lock_token="t1")["lock_released"]["owner"] == "alice"
    run(tmp_path, state="locked", lock_owner="alice")
    assert run(tmp_path, state="unlocked", lock_owner="alice")["changed"] is True
    run(tmp_path, state="locked", lock_owner="alice")
    assert run(tmp_path, state="unlocked", lock_owner="bob", force=True)["changed"] is True


def test_unlock_writes_the_runs_record_before_the_lock_goes(tmp_path):
    group = grp.getgrgid(os.getgid()).gr_name
    run(tmp_path, state="locked", lock_owner="alice", lock_token="t1")
    record = {"kind": "deploy", "release_id": rid(1), "steps": [{"step": "lock", "seconds": 0.2}]}
    check = run(tmp_path, check=True, state="unlocked", lock_token="t1", record=record, record_name=rid(1), group=group)
    assert check["changed"] is True and not (tmp_path / "deploys").exists()
    assert (tmp_path / ".deploy.lock").exists()
    done = run(tmp_path, state="unlocked", lock_token="t1", record=record, record_name=rid(1), group=group)
    path = tmp_path / "deploys" / (rid(1) + ".json")
    assert done["record_path"] == str(path) and json.loads(path.read_text()) == record
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640 and stat.S_IMODE(os.stat(path.parent).st_mode) == 0o750
    assert not (tmp_path / ".deploy.lock").exists()
    # Held by another run: neither the record nor the lock is touched.
    run(tmp_path, state="locked", lock_owner="bob", lock_token="t2")
    with pytest.raises(ModuleError, match="not by this run"):
        run(tmp_path, state="unlocked", lock_token="t1", record=record, record_name="other")
    assert not (tmp_path / "deploys" / "other.json").exists()
    with pytest.raises(ModuleError, match="record_name"):
        run(tmp_path, state="unlocked", lock_token="t2", record=record, record_name="../x")


def test_lock_check_mode_writes_nothing_and_unreadable_lock_is_stale(tmp_path):
    assert run(tmp_path, check=True, state="locked", lock_owner="a")["changed"] is True
    assert not (tmp_path / ".deploy.lock").exists()
    (tmp_path / ".deploy.lock").write_text("not json")
    assert Lock(str(tmp_path), NOW).read(1800)["stale"] is True


def test_query_lists_releases_sizes_and_lock(tmp_path):
    deploy(tmp_path, 1, migrations=["001"])
    deploy(tmp_path, 2)
    run(tmp_path, state="locked", lock_owner="alice", lock_token="t")
    result = run(tmp_path, state="query", now=NOW + 10)
    assert result["current"] == rid(2) and result["previous_good"] == rid(1)
    assert [(r["id"], r["status"], r["current"]) for r in result["releases"]] == [
        (rid(1), "good", False), (rid(2), "active", True)]
    assert result["releases"][0]["migrations"] == ["001"]
    assert result["releases"][0]["size"] > 0
    assert result["lock"]["owner"] == "alice" and result["lock"]["age"] == 10
    assert result["changed"] is False


def test_lock_reports_what_it_protects_as_query_does_without_walking_the_trees(tmp_path):
    deploy(tmp_path, 1)
    deploy(tmp_path, 2)
    locked = run(tmp_path, state="locked", lock_owner="alice", lock_token="t")
    query = run(tmp_path, state="query")
    assert (locked["current"], locked["previous_good"]) == (query["current"], query["previous_good"]) == (rid(2), rid(1))
    assert locked["releases"] == [{k: v for k, v in r.items() if k != "size"} for r in query["releases"]]
    # Taking it again (the same token) reads the same.
    assert run(tmp_path, state="locked", lock_owner="alice", lock_token="t")["releases"] == locked["releases"]
    # A first deploy: the app root does not exist yet, and there is nothing in it.
    first = run(tmp_path / "new", state="locked", lock_owner="alice", lock_token="t")
    assert (first["current"], first["previous_good"], first["releases"]) == (None, None, [])
    assert (tmp_path / "new" / ".deploy.lock").exists()


def test_present_gives_the_release_to_its_installer_with_the_group_kept_below(tmp_path):
    me, gid = pwd.getpwuid(os.getuid()).pw_name, os.getgid()
    group = grp.getgrgid(gid).gr_name
    check = run(tmp_path, check=True, state="present", release_id=rid(1), owner=me, group=group)
    assert any(op.startswith("chmod g+s") for op in check["commands"])
    assert not (tmp_path / "releases").exists()
    run(tmp_path, state="present", release_id=rid(1), owner=me, group=group)
    st = os.stat(tmp_path / "releases" / rid(1))
    assert st.st_uid == os.getuid() and st.st_gid == gid and st.st_mode & stat.S_ISGID
    again = run(tmp_path, state="present", release_id=rid(1), owner=me, group=group)
    assert again["changed"] is False
    with pytest.raises(ModuleError, match="Failed to find group no-such-group-x"):
        run(tmp_path, state="present", release_id=rid(2), group="no-such-group-x")
    assert not (tmp_path / "releases" / rid(2)).exists()


def test_failed_is_idempotent(tmp_path):
    deploy(tmp_path, 1)
    assert run(tmp_path, check=True, state="failed", release_id=rid(1))["changed"] is True
    assert rel.read_manifest(str(tmp_path), rid(1))["status"] == "active"
    assert run(tmp_path, state="failed", release_id=rid(1), reason="x")["changed"] is True
    assert run(tmp_path, state="failed", release_id=rid(1), reason="x")["changed"] is False


def test_write_json_atomic_leaves_no_temp_file_on_error(tmp_path):
    with pytest.raises(TypeError):
        rel.write_json_atomic(str(tmp_path / "m.json"), {"bad": object()})
    assert os.listdir(tmp_path) == []


# -- free space before a release is created ---------------------------------------------------

MB = 1000 * 1000


@pytest.fixture
def free(monkeypatch):
    """statvfs reports ``free.bytes`` available to unprivileged users (f_bavail x f_frsize)."""
    state = types.SimpleNamespace(bytes=0, asked=[])

    def fake_statvfs(path):
        state.asked.append(path)
        return types.SimpleNamespace(f_bavail=state.bytes // 4096, f_frsize=4096, f_bfree=state.bytes // 4096 + 99)

    monkeypatch.setattr(rel.os, "statvfs", fake_statvfs)
    return state


def fill(release_dir, size):
    modules = release_dir / "node_modules"
    modules.mkdir(parents=True, exist_ok=True)
    with open(modules / "blob", "wb") as handle:
        handle.write(os.urandom(size))


def test_present_refuses_without_min_free_bytes_and_creates_nothing(tmp_path, free):
    free.bytes = 3 * MB - 2 * MB // 10  # 2.8 MB, rounded down to whole blocks
    mount = rel.mount_point(str(tmp_path))
    for check in (True, False):
        with pytest.raises(ModuleError) as err:
            run(tmp_path, check=check, state="present", release_id=rid(1), shared_paths=[".env"],
                min_free_bytes=100 * MB)
        msg = err.value.msg
        assert msg.startswith("Failed to create release %s: the filesystem mounted at %s (holding %s/releases) "
                              "has 2.8 MB free, 100.0 MB needed (min_free_bytes 100.0 MB). " % (rid(1), mount, tmp_path))
        assert "Prune old releases (state=pruned" in msg and "or free space on %s, then try again." % mount in msg
        assert err.value.details == {"free_bytes": free.bytes // 4096 * 4096, "needed_bytes": 100 * MB,
                                     "mount_point": mount, "commands": []}
        assert os.listdir(tmp_path) == []
    # statvfs was asked about the nearest existing directory (releases/ does not exist yet)
    assert free.asked[-1] == str(tmp_path)


def test_present_needs_factor_times_the_newest_served_release(tmp_path, free):
    free.bytes = 10 ** 9
    deploy(tmp_path, 1)
    fill(tmp_path / "releases" / rid(1), 300 * 1000)
    deploy(tmp_path, 2)
    fill(tmp_path / "releases" / rid(2), 1000 * 1000)
    run(tmp_path, state="present", release_id=rid(3))  # newer, but pending: not the reference
    fill(tmp_path / "releases" / rid(3), 10)
    size = rel.tree_size(str(tmp_path / "releases" / rid(2)), disk=True)
    assert size >= 1000 * 1000
    result = run(tmp_path, state="present", release_id=rid(4), free_space_factor=2.5, min_free_bytes=MB)
    assert result["changed"] is True
    assert result["needed_bytes"] == max(MB, int(2.5 * size + 0.999))
    assert result["free_bytes"] == 10 ** 9 // 4096 * 4096
    assert result["mount_point"] == rel.mount_point(str(tmp_path))
    free.bytes = result["needed_bytes"] - 4096
    with pytest.raises(ModuleError) as err:
        run(tmp_path, state="present", release_id=rid(5), free_space_factor=2.5, min_free_bytes=MB)
    assert ("(min_free_bytes 1.0 MB; free_space_factor 2.5 x %s, the disk usage of release %s)"
            % (rel.megabytes(size), rid(2))) in err.value.msg
    assert "4 release(s) are there now" in err.value.msg
    assert not (tmp_path / "releases" / rid(5)).exists()


def test_present_factor_falls_back_to_the_newest_release_and_to_nothing(tmp_path, free):
    free.bytes = 0
    with pytest.raises(ModuleError, match=r"has 0\.0 MB free, 0\.5 MB needed \(min_free_bytes 0\.5 MB; "
                                          r"free_space_factor 2 x 0 \(no release yet\)\)"):
        run(tmp_path, state="present", release_id=rid(1), free_space_factor=2.0, min_free_bytes=MB // 2)
    free.bytes = 10 ** 9
    run(tmp_path, state="present", release_id=rid(1))
    fill(tmp_path / "releases" / rid(1), 50 * 1000)
    result = run(tmp_path, check=True, state="present", release_id=rid(2), free_space_factor=1.0)
    assert result["needed_bytes"] == rel.tree_size(str(tmp_path / "releases" / rid(1)), disk=True)


def test_present_on_an_existing_release_reports_but_does_not_refuse(tmp_path, free):
    free.bytes = 10 ** 9
    run(tmp_path, state="present", release_id=rid(1), version="1.0.0")
    free.bytes = 0
    again = run(tmp_path, state="present", release_id=rid(1), version="1.0.0", min_free_bytes=MB)
    assert again["changed"] is False
    assert again["free_bytes"] == 0 and again["needed_bytes"] == MB


def test_present_without_options_only_reports(tmp_path, free):
    free.bytes = 0
    result = run(tmp_path, state="present", release_id=rid(1))
    assert result["changed"] is True and result["needed_bytes"] == 0 and result["free_bytes"] == 0


@pytest.mark.parametrize("kw", [dict(min_free_bytes=-1), dict(free_space_factor=-0.5)])
def test_negative_space_options_are_refused(tmp_path, kw):
    with pytest.raises(ModuleError, match="must be 0 \\(no check\\) or more"):
        run(tmp_path, state="present", release_id=rid(1), **kw)
    assert os.listdir(tmp_path) == []


def test_mount_point_walks_up_while_the_device_stays(tmp_path):
    mount = rel.mount_point(str(tmp_path / "not" / "yet"))
    dev = os.stat(str(tmp_path)).st_dev
    assert os.stat(mount).st_dev == dev
    assert str(tmp_path).startswith(mount)
    assert mount == "/" or os.stat(os.path.dirname(mount)).st_dev != dev


def test_disk_usage_counts_blocks_and_hard_links_once(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 10000)
    os.link(str(tmp_path / "a"), str(tmp_path / "b"))
    (tmp_path / "sparse").touch()
    os.truncate(str(tmp_path / "sparse"), 10 ** 8)
    disk = rel.tree_size(str(tmp_path), disk=True)
    assert 10000 <= disk < 10 ** 6  # the sparse file takes no blocks, b is a
    assert rel.tree_size(str(tmp_path)) >= 10 ** 8 + 20000  # apparent sizes, as query reports


# -- marking failed on a full filesystem -------------------------------------------------------

@pytest.fixture
def full(monkeypatch):
    """Manifest writes fail with ENOSPC ``full.times`` times from when it is set (-1: always)."""
    state = types.SimpleNamespace(times=0, calls=0)
    real = rel.write_json_atomic

    def fake(path, data, mode=0o644):
        state.calls += 1
        if path.endswith(rel.MANIFEST) and state.times != 0:
            state.times -= 1
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data, mode)

    monkeypatch.setattr(rel, "write_json_atomic", fake)
    return state


def test_failed_frees_node_modules_of_a_release_not_serving_then_records_the_reason(tmp_path, full):
    deploy(tmp_path, 1)
    run(tmp_path, state="present", release_id=rid(2))
    fill(tmp_path / "releases" / rid(2), 1000)
    full.times = 1
    result = run(tmp_path, state="failed", release_id=rid(2), reason="npm ci: ENOSPC")
    assert result["changed"] is True and "warning" not in result
    path = tmp_path / "releases" / rid(2)
    assert result["removed_for_space"] == [str(path / "node_modules")]
    manifest = rel.read_manifest(str(tmp_path), rid(2))
    assert manifest["status"] == "failed" and manifest["removed_for_space"] == ["node_modules"]
    assert manifest["history"][-1]["reason"] == "npm ci: ENOSPC"
    assert not (path / "node_modules").exists()
    assert (path / rel.FAILED_MARKER).exists() and (path / rel.STRIPPED_MARKER).exists()
    assert run(tmp_path, state="failed", release_id=rid(2), reason="again")["changed"] is False
    for state in ("active", "rollback"):
        with pytest.raises(ModuleError, match="node_modules was removed to free space"):
            run(tmp_path, state=state, release_id=rid(2), force=True)


def test_failed_holds_by_its_marker_when_nothing_can_be_freed(tmp_path, full):
    deploy(tmp_path, 1)
    deploy(tmp_path, 2)
    run(tmp_path, state="present", release_id=rid(3))
    full.times = -1
    result = run(tmp_path, state="failed", release_id=rid(3), reason="disk full")
    assert result["changed"] is True and result["removed_for_space"] == []
    assert "marked failed by %s" % (tmp_path / "releases" / rid(3) / rel.FAILED_MARKER) in result["warning"]
    assert "nothing more of the release may be removed" in result["warning"]
    assert rel.read_manifest(str(tmp_path), rid(3))["status"] == "pending"  # could not be rewritten
    statuses = {r["id"]: r["status"] for r in run(tmp_path, state="query")["releases"]}
    assert statuses[rid(3)] == "failed"
    assert run(tmp_path, state="failed", release_id=rid(3))["changed"] is False
    with pytest.raises(ModuleError, match="marked failed \\(no reason recorded\\)"):
        run(tmp_path, state="active", release_id=rid(3))
    # failed releases newer than the oldest kept stay; the pending-looking manifest does not matter
    assert rid(3) not in run(tmp_path, state="pruned", keep=1)["removed"]


def test_failed_keeps_node_modules_of_the_release_current_points_at(tmp_path, full):
    deploy(tmp_path, 1)  # a first deploy: nothing to roll back to, current stays
    fill(tmp_path / "releases" / rid(1), 1000)
    full.times = -1
    result = run(tmp_path, state="failed", release_id=rid(1), reason="health")
    assert "current points at" in result["warning"] and result["removed_for_space"] == []
    assert (tmp_path / "releases" / rid(1) / "node_modules" / "blob").exists()
    full.times = 0
    run(tmp_path, state="present", release_id=rid(2))
    run(tmp_path, state="active", release_id=rid(2))
    # the manifest still says active; the marker wins, so leaving it does not make it good
    assert {r["id"]: r["status"] for r in rel.list_releases(str(tmp_path))}[rid(1)] == "failed"
    # forcing it back in service writes the manifest first, then drops the marker
    run(tmp_path, state="active", release_id=rid(1), force=True)
    assert not (tmp_path / "releases" / rid(1) / rel.FAILED_MARKER).exists()
    assert rel.read_manifest(str(tmp_path), rid(1))["status"] == "active"


def test_failed_with_a_broken_current_keeps_node_modules(tmp_path, full):
    deploy(tmp_path, 1)
    run(tmp_path, state="present", release_id=rid(2))
    fill(tmp_path / "releases" / rid(2), 1000)
    os.unlink(tmp_path / "current")
    os.symlink("/tmp", tmp_path / "current")
    full.times = -1
    result = run(tmp_path, state="failed", release_id=rid(2))
    assert result["removed_for_space"] == [] and "warning" in result
    assert (tmp_path / "releases" / rid(2) / "node_modules").exists()


def test_failed_other_write_errors_are_not_swallowed(tmp_path, monkeypatch):
    deploy(tmp_path, 1)
    run(tmp_path, state="present", release_id=rid(2))

    def broken(path, data, mode=0o644):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(rel, "write_json_atomic", broken)
    # Reported as a module failure naming what it tried, not a traceback.
    with pytest.raises(ModuleError, match=r"Failed to apply \"touch .*\.release\.failed; write .*: \[Errno 5\] Input/out"):
        run(tmp_path, state="failed", release_id=rid(2))
    # the marker was made first: the release reads failed all the same
    assert rel.list_releases(str(tmp_path))[-1]["status"] == "failed"


@pytest.fixture
def no_inode(monkeypatch):
    """Creating the named marker fails with ENOSPC ``no_inode.times[name]`` times."""
    state = types.SimpleNamespace(times={})
    real = os.open

    def fake(path, flags, mode=0o777, **kw):
        name = os.path.basename(str(path))
        if state.times.get(name):
            state.times[name] -= 1
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, flags, mode, **kw)

    monkeypatch.setattr(rel.os, "open", fake)
    return state


def test_failed_marker_that_cannot_be_created_frees_or_explains(tmp_path, no_inode):
    deploy(tmp_path, 1)
    for n in (2, 3):
        run(tmp_path, state="present", release_id=rid(n))
    fill(tmp_path / "releases" / rid(2), 1000)
    no_inode.times[rel.FAILED_MARKER] = 1
    result = run(tmp_path, state="failed", release_id=rid(2), reason="x")
    assert result["removed_for_space"] == [str(tmp_path / "releases" / rid(2) / "node_modules")]
    assert rel.read_manifest(str(tmp_path), rid(2))["status"] == "failed"
    no_inode.times[rel.FAILED_MARKER] = 1
    with pytest.raises(ModuleError, match="Failed to mark %s failed: cannot create .*Free space on /" % rid(3)):
        run(tmp_path, state="failed", release_id=rid(3))
    assert rel.read_manifest(str(tmp_path), rid(3))["status"] == "pending"


def test_failed_removes_nothing_it_cannot_record(tmp_path, full, no_inode):
    deploy(tmp_path, 1)
    run(tmp_path, state="present", release_id=rid(2))
    fill(tmp_path / "releases" / rid(2), 1000)
    no_inode.times[rel.STRIPPED_MARKER] = 5
    full.times = -1
    result = run(tmp_path, state="failed", release_id=rid(2))
    assert result["removed_for_space"] == [] and "warning" in result
    assert (tmp_path / "releases" / rid(2) / "node_modules" / "blob").exists()


def test_mark_failed_without_manifest_does_nothing(tmp_path):
    (tmp_path / "releases" / rid(1)).mkdir(parents=True)
    assert rel.mark_failed(str(tmp_path), rid(1), "x") == (None, [], None)
