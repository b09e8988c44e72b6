# main() of the module: argument validation, exit and fail paths.
from __future__ import annotations

import os

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
