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


# -- PM2's daemon, asked over its socket ---------------------------------------------------------
def test_pm2_list_asks_the_daemon_for_its_monitor_data(pm2_daemon):
    # Bigger than one read, with text outside ASCII: the whole reply is read and decoded.
    pm2_daemon.processes = [{"name": "web", "pm_id": n, "pm2_env": {"note": "ü" * 40000}} for n in range(3)]
    assert _common.pm2_list(pm2_daemon.home) == pm2_daemon.processes
    call, request_id = pm2_daemon.requests[0]
    assert call == {"type": "call", "method": "getMonitorData", "args": [{}]}
    assert request_id


def test_pm2_list_reports_the_daemons_error(pm2_daemon):
    pm2_daemon.answer = lambda request: [b'j:{"error": "no such thing"}', b"s:" + request[1].encode()]
    with pytest.raises(ValueError, match="PM2's daemon failed getMonitorData: no such thing"):
        _common.pm2_list(pm2_daemon.home)


@pytest.mark.parametrize("answer, message", [
    (lambda request: [b'j:{"args": [[]]}', b"s:someone-else"], "other than the reply"),
    (lambda request: [b'j:{"args": ["not a list"]}', b"s:" + request[1].encode()], "without a process list"),
    (lambda request: b"\x20", "unknown framing"),
    (lambda request: b"\x12\x00\x00\x00\x10j:", "closed the connection"),
])
def test_pm2_list_refuses_what_is_not_a_reply(pm2_daemon, answer, message):
    pm2_daemon.answer = answer
    with pytest.raises(ValueError, match=message):
        _common.pm2_list(pm2_daemon.home)


def test_pm2_list_gives_up_on_a_silent_daemon_and_a_missing_one(pm2_daemon):
    pm2_daemon.answer = lambda request: None
    with pytest.raises(OSError):
        _common.pm2_list(pm2_daemon.home, timeout=0.3)
    with pytest.raises(OSError):
        _common.pm2_list(os.path.join(pm2_daemon.home, "nowhere"))
