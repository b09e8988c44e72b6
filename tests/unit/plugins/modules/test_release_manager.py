# main() of the module: argument validation, exit and fail paths.
from __future__ import annotations

import errno
import os
import types

from ansible.module_utils import basic

from ansible_collections.boosterbeacon.infra.plugins.modules import release_manager


def test_present_then_active_through_main(run_module, tmp_path):
    args = dict(app_root=str(tmp_path), state="present", release_id="20261124T000000Z-a1", version="1.0.0")
    assert run_module(release_manager, args)["changed"] is True
    result = run_module(release_manager, dict(app_root=str(tmp_path), state="active",
                                              release_id="20261124T000000Z-a1"), diff=True)
    assert result["current"] == "20261124T000000Z-a1"
    assert result["diff"]["after"] == {"current": "20261124T000000Z-a1"}
    assert os.path.islink(tmp_path / "current")


def test_bad_input_fails_naming_the_field_and_changes_nothing(run_module, tmp_path):
    result = run_module(release_manager, dict(app_root=str(tmp_path), state="present", release_id="../evil"))
    assert result["failed"] is True
    assert "release_id" in result["msg"] and "no '..'" in result["msg"]
    assert os.listdir(tmp_path) == []
    result = run_module(release_manager, dict(app_root="srv/app", state="query"))
    assert result["failed"] is True and "absolute path" in result["msg"]


def test_required_release_id(run_module, tmp_path):
    result = run_module(release_manager, dict(app_root=str(tmp_path), state="active"))
    assert result["failed"] is True and "release_id" in result["msg"]


def test_unknown_id_lists_valid_ids(run_module, tmp_path):
    run_module(release_manager, dict(app_root=str(tmp_path), state="present", release_id="20261124T000000Z-a1"))
    result = run_module(release_manager, dict(app_root=str(tmp_path), state="rollback",
                                              release_id="20261124T000000Z-zz"))
    assert result["failed"] is True
    assert result["valid_ids"] == ["20261124T000000Z-a1"]


def test_present_without_room_fails_through_main_naming_the_mount(run_module, tmp_path, monkeypatch):
    monkeypatch.setattr(os, "statvfs", lambda path: types.SimpleNamespace(f_bavail=256, f_frsize=4096))
    args = dict(app_root=str(tmp_path), state="present", release_id="20261124T000000Z-a1", min_free_bytes=5000000)
    for check_mode in (True, False):
        result = run_module(release_manager, args, check_mode=check_mode)
        assert result["failed"] is True
        assert "has 1.0 MB free, 5.0 MB needed (min_free_bytes 5.0 MB)" in result["msg"]
        assert "mounted at %s " % result["mount_point"] in result["msg"]
        assert (result["free_bytes"], result["needed_bytes"]) == (1048576, 5000000)
        assert os.listdir(tmp_path) == []
    ok = run_module(release_manager, dict(args, min_free_bytes=1000000, free_space_factor=1.5))
    assert ok["changed"] is True and ok["needed_bytes"] == 1000000 and ok["free_bytes"] == 1048576


def test_failed_through_main_returns_what_it_removed(run_module, tmp_path):
    args = dict(app_root=str(tmp_path), release_id="20261124T000000Z-a1")
    run_module(release_manager, dict(args, state="present"))
    result = run_module(release_manager, dict(args, state="failed", reason="npm ci failed"))
    assert result["changed"] is True and result["removed_for_space"] == []
    assert result["release"]["status"] == "failed"


def test_failed_without_room_for_the_manifest_warns_through_main(run_module, tmp_path, monkeypatch):
    from ansible_collections.boosterbeacon.infra.plugins.module_utils import _release

    args = dict(app_root=str(tmp_path), release_id="20261124T000000Z-a1")
    run_module(release_manager, dict(args, state="present"))

    def full(path, data, mode=0o644):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_release, "write_json_atomic", full)
    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, text: warnings.append(text))
    result = run_module(release_manager, dict(args, state="failed", reason="disk full"))
    assert result["changed"] is True and warnings == [result["warning"]]
    assert "marked failed by" in warnings[0]
    query = run_module(release_manager, dict(args, state="query"))
    assert query["releases"][0]["status"] == "failed"


def test_present_in_check_mode_records_the_operations_a_run_makes(run_module, tmp_path):
    root = tmp_path / "app"
    args = dict(app_root=str(root), state="present", release_id="20261124T000000Z-a1", shared_paths=[".env", "logs/"])
    checked = run_module(release_manager, args, check_mode=True, diff=True)
    assert not root.exists()
    real = run_module(release_manager, args, diff=True)
    assert checked["changed"] is real["changed"] is True
    assert real["commands"] == checked["commands"]
    release = str(root / "releases" / "20261124T000000Z-a1")
    assert checked["commands"][-3:] == ["ln -sfn %s/shared/.env %s/.env" % (root, release),
                                        "ln -sfn %s/shared/logs %s/logs" % (root, release),
                                        "write %s/.release.json" % release]
    assert "install -m 0600 /dev/null %s/shared/.env" % root in real["commands"]
    assert real["diff"]["after"]["links"] == {".env": str(root / "shared" / ".env"),
                                              "logs": str(root / "shared" / "logs")}
    again = run_module(release_manager, args, check_mode=True)
    assert again["changed"] is False and again["commands"] == []


def test_present_counts_a_missing_shared_path_as_a_change(run_module, tmp_path):
    args = dict(app_root=str(tmp_path), state="present", release_id="20261124T000000Z-a1", shared_paths=[".env"])
    run_module(release_manager, args)
    os.unlink(tmp_path / "shared" / ".env")  # the link stays, pointing at nothing
    checked = run_module(release_manager, args, check_mode=True)
    assert checked["changed"] is True
    assert checked["commands"] == ["install -m 0600 /dev/null %s" % (tmp_path / "shared" / ".env")]
    assert run_module(release_manager, args)["commands"] == checked["commands"]
    assert (tmp_path / "shared" / ".env").is_file()
    assert run_module(release_manager, args)["changed"] is False


def test_os_errors_and_unknown_owners_fail_cleanly(run_module, tmp_path):
    (tmp_path / "file").write_text("")
    result = run_module(release_manager, dict(app_root=str(tmp_path / "file" / "app"), state="locked"))
    assert result["failed"] is True
    assert result["msg"].startswith('Failed to apply "mkdir -p -m 0755 %s/file/app": [Errno 20] Not a directory'
                                    % tmp_path)
    args = dict(app_root=str(tmp_path / "app"), state="present", release_id="20261124T000000Z-a1",
                shared_paths=[".env"], shared_owner="no-such-user-x")
    result = run_module(release_manager, args)
    assert result["failed"] is True and result["msg"].startswith("Failed to give %s/app/shared/.env to no-such-user-x"
                                                                 % tmp_path)
    assert result["commands"][-1] == "chown no-such-user-x %s/app/shared/.env" % tmp_path
