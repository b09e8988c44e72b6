# The helpers every module shares: time stamps, JSON files, account look-ups.
from __future__ import annotations

import json
import os
import pwd

import pytest

from ansible_collections.boosterbeacon.infra.plugins.module_utils import _common
from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import ModuleError

NOW = 1795564800.5  # 2026-11-25T00:00:00.5Z


def test_time_stamps_are_utc_to_the_second():
    assert _common.iso(NOW) == "2026-11-25T00:00:00Z"
    assert _common.compact(NOW) == "20261125T000000Z"
    assert _common.utc(NOW).utcoffset().total_seconds() == 0
    assert _common.iso().endswith("Z")


def test_read_json_is_none_for_missing_or_broken_files(tmp_path):
    assert _common.read_json(str(tmp_path / "missing.json")) is None
    (tmp_path / "broken.json").write_text("{not json")
    assert _common.read_json(str(tmp_path / "broken.json")) is None
    (tmp_path / "ok.json").write_text('{"a": 1}')
    assert _common.read_json(str(tmp_path / "ok.json")) == {"a": 1}


def test_write_json_atomic_replaces_with_the_mode_asked(tmp_path):
    path = str(tmp_path / "m.json")
    _common.write_json_atomic(path, {"b": 2, "a": 1}, mode=0o600)
    _common.write_json_atomic(path, {"c": 3}, mode=0o600)
    assert json.loads(open(path).read()) == {"c": 3}
    assert open(path).read().endswith("}\n")
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert os.listdir(tmp_path) == ["m.json"]


def test_write_json_atomic_exclusive_never_overwrites(tmp_path):
    path = str(tmp_path / "lock")
    _common.write_json_atomic(path, {"owner": "alice"}, exclusive=True)
    with pytest.raises(FileExistsError):
        _common.write_json_atomic(path, {"owner": "bob"}, exclusive=True)
    assert json.loads(open(path).read()) == {"owner": "alice"}
    assert os.listdir(tmp_path) == ["lock"]


def test_write_json_atomic_leaves_no_temp_file_on_error(tmp_path):
    with pytest.raises(TypeError):
        _common.write_json_atomic(str(tmp_path / "m.json"), {"bad": object()})
    assert os.listdir(tmp_path) == []


def test_write_file_atomic_never_shows_a_part_and_cleans_up(tmp_path, monkeypatch):
    path = str(tmp_path / "a.prom")
    _common.write_file_atomic(path, "a 1\n")

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    # The rename fails: the old file stays whole and the temporary file is gone.
    monkeypatch.setattr(_common.os, "replace", full_disk)
    with pytest.raises(OSError):
        _common.write_file_atomic(path, "a 2\n")
    assert os.listdir(tmp_path) == ["a.prom"]
    assert open(path).read() == "a 1\n"
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"


def test_unknown_accounts_are_module_errors(tmp_path):
    me = pwd.getpwuid(os.getuid()).pw_name
    assert _common.account(me).pw_uid == os.getuid()
    with pytest.raises(ModuleError, match="Failed to find user no-such-user-x: create the account"):
        _common.account("no-such-user-x")
    target = tmp_path / "f"
    target.write_text("")
    _common.chown(str(target), user=me)
    with pytest.raises(ModuleError, match="Failed to give .*/f to no-such-user-x:no-such-group-x: "):
        _common.chown(str(target), user="no-such-user-x", group="no-such-group-x")


def test_module_error_keeps_its_details():
    err = ModuleError("Failed to x", rc=2)
    assert str(err) == err.msg == "Failed to x" and err.details == {"rc": 2}
