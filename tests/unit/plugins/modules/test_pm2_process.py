# pm2_process through main() with a fake pm2: the exact argv, check mode, waiting and path checks.
from __future__ import annotations

import json

import pytest

from ansible_collections.boosterbeacon.infra.plugins.module_utils import _pm2_process
from ansible_collections.boosterbeacon.infra.plugins.modules import pm2_process

PM2 = "/usr/bin/pm2"


def proc(pm_id, pid, status="online", cwd="/srv/app/releases/r1"):
    return {"name": "web", "pm_id": pm_id, "pid": pid,
            "pm2_env": {"status": status, "pm_cwd": cwd, "pm_exec_path": cwd + "/app.js", "restart_time": 0,
                        "pm_err_log_path": "/nonexistent/err.log"},
            "monit": {"memory": 100, "cpu": 1}}


class Pm2Fake:
    """Answers `pm2 jlist` from a list of states that later commands move through."""

    def __init__(self, fake_commands, *states):
        self.states = [json.dumps(s) for s in states]
        self.index = 0
        fake_commands.table[(PM2, "jlist")] = self.jlist
        for verb in ("start", "reload", "restart", "stop", "delete", "scale", "save", "startup"):
            fake_commands.table[(PM2, verb)] = self.advance

    def jlist(self, _argv):
        return 0, self.states[min(self.index, len(self.states) - 1)], ""

    def advance(self, argv):
        if argv[1] != "save":
            self.index += 1
        return 0, "", ""


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(_pm2_process.time, "sleep", lambda s: None)


def args(**kw):
    base = dict(name="web", ecosystem="/srv/app/current/ecosystem.config.js", pm2_home="/tmp/pm2-unit-home")
    base.update(kw)
    return base


def verbs(fake_commands):
    return [c[1:] for c in fake_commands.calls if c[1] != "jlist"]


def test_start_when_missing_then_not_changed(run_module, fake_commands, monkeypatch):
    fake = Pm2Fake(fake_commands, [], [proc(0, 11), proc(1, 12)])
    result = run_module(pm2_process, args(state="started"), diff=True)
    assert result["changed"] is True and result["action"] == "start"
    assert verbs(fake_commands) == [["start", "/srv/app/current/ecosystem.config.js", "--only", "web"]]
    assert len(result["processes"]) == 2
    assert result["diff"]["before"]["instances"] == 0 and result["diff"]["after"]["instances"] == 2
    fake_commands.calls.clear()
    again = run_module(pm2_process, args(state="started"))
    assert again["changed"] is False and verbs(fake_commands) == []
    assert fake.index == 1


def test_check_mode_runs_nothing_that_changes(run_module, fake_commands):
    Pm2Fake(fake_commands, [])
    result = run_module(pm2_process, args(state="started", save=True), check_mode=True)
    assert result["changed"] is True
    assert [c[1] for c in fake_commands.calls] == ["jlist"]
    assert result["commands"][-1].endswith("pm2 save --force")


def test_reload_waits_for_new_pids_and_checks_path(run_module, fake_commands, tmp_path):
    (tmp_path / "releases" / "r2").mkdir(parents=True)
    (tmp_path / "current").symlink_to("releases/r2")
    new = str(tmp_path / "releases" / "r2")
    Pm2Fake(fake_commands, [proc(0, 11), proc(1, 12)],
            [proc(0, 21, cwd=new), proc(1, 22, cwd=new)])
    result = run_module(pm2_process, args(state="reloaded", update_env=True, expect_path=str(tmp_path / "current"),
                                          env={"NODE_ENV": "production", "TOKEN": "very-secret-value"}))
    assert result["action"] == "reload" and result["release_path"] == new
    assert verbs(fake_commands) == [["reload", "/srv/app/current/ecosystem.config.js", "--only", "web", "--update-env"]]
    assert "very-secret-value" not in json.dumps(result)


def test_reload_that_kept_the_old_release_fails(run_module, fake_commands, tmp_path):
    (tmp_path / "releases" / "r2").mkdir(parents=True)
    (tmp_path / "current").symlink_to("releases/r2")
    Pm2Fake(fake_commands, [proc(0, 11)], [proc(0, 21, cwd="/srv/app/releases/r1")])
    result = run_module(pm2_process, args(state="reloaded", expect_path=str(tmp_path / "current")))
    assert result["failed"] is True
    assert "still run from /srv/app/releases/r1" in result["msg"] and "pm2 delete web" in result["msg"]


def test_instances_never_online_fail_with_log_tail(run_module, fake_commands, monkeypatch):
    clock = iter(range(0, 1000, 5))
    monkeypatch.setattr(_pm2_process.time, "monotonic", lambda: next(clock))
    Pm2Fake(fake_commands, [], [proc(0, 31, status="errored")])
    result = run_module(pm2_process, args(state="started", timeout=20))
    assert result["failed"] is True
    assert "Failed to bring web online within 20s: instance 0 is errored" in result["msg"]
    assert "/nonexistent/err.log" in result["log_tail"]


def test_flapping_process_is_not_accepted(run_module, fake_commands, monkeypatch):
    clock = iter(range(0, 1000, 1))
    monkeypatch.setattr(_pm2_process.time, "monotonic", lambda: next(clock))
    fake = Pm2Fake(fake_commands, [])
    pids = iter(range(100, 200))
    fake_commands.table[(PM2, "jlist")] = lambda argv: (0, json.dumps([] if fake.index == 0 else [proc(0, next(pids))]), "")
    result = run_module(pm2_process, args(state="started", timeout=6))
    assert result["failed"] is True and "Failed to bring web online" in result["msg"]


@pytest.mark.parametrize("state,before,verb", [
    ("stopped", [proc(0, 11)], ["stop", "web"]),
    ("deleted", [proc(0, 11)], ["delete", "web"]),
    ("restarted", [proc(0, 11)], ["restart", "web"]),
    ("started", [proc(0, 11, status="stopped")], ["restart", "web"]),
])
def test_state_changes(run_module, fake_commands, state, before, verb):
    after = [] if state == "deleted" else [proc(0, 99, status="stopped" if state == "stopped" else "online")]
    Pm2Fake(fake_commands, before, after)
    result = run_module(pm2_process, args(state=state))
    assert result["changed"] is True
    assert verbs(fake_commands) == [verb]


@pytest.mark.parametrize("state,before", [("stopped", [proc(0, 11, status="stopped")]), ("deleted", []),
                                          ("present", [proc(0, 11, status="stopped")])])
def test_no_change_states(run_module, fake_commands, state, before):
    Pm2Fake(fake_commands, before)
    assert run_module(pm2_process, args(state=state))["changed"] is False
    assert verbs(fake_commands) == []


def test_scale_and_script_start(run_module, fake_commands):
    Pm2Fake(fake_commands, [proc(0, 11)], [proc(0, 11), proc(1, 12), proc(2, 13)])
    result = run_module(pm2_process, args(state="started", instances=3))
    assert result["action"] == "scale" and verbs(fake_commands) == [["scale", "web", "3"]]
    fake_commands.calls.clear()
    Pm2Fake(fake_commands, [], [proc(0, 11)])
    run_module(pm2_process, dict(name="web", script="/srv/app/app.js", wait_ready=True, listen_timeout=8000,
                                 kill_timeout=5000, pm2_home="/tmp/x"))
    assert verbs(fake_commands) == [["start", "/srv/app/app.js", "--name", "web", "-i", "1", "--wait-ready",
                                     "--listen-timeout", "8000", "--kill-timeout", "5000"]]


def test_start_without_a_definition_fails(run_module, fake_commands):
    Pm2Fake(fake_commands, [])
    result = run_module(pm2_process, dict(name="web", pm2_home="/tmp/x"))
    assert result["failed"] is True and "neither ecosystem nor script" in result["msg"]


def test_save_when_dump_lacks_the_app_and_startup(run_module, fake_commands, tmp_path):
    home = tmp_path / "pm2"
    home.mkdir()
    Pm2Fake(fake_commands, [proc(0, 11)])
    fake_commands.table[("systemctl", "is-enabled")] = (1, "disabled", "")
    result = run_module(pm2_process, args(state="started", save=True, startup=True, pm2_home=str(home)))
    assert result["changed"] is True and result["startup_unit"] == "pm2-root"
    calls = [c for c in fake_commands.calls if "jlist" not in c]
    assert calls[1] == [PM2, "startup", "systemd", "-u", "root", "--hp", "/root", "--service-name", "pm2-root"]
    assert calls[-1] == [PM2, "save", "--force"]
    (home / "dump.pm2").write_text(json.dumps([{"name": "web"}]))
    fake_commands.table[("systemctl", "is-enabled")] = (0, "enabled", "")
    assert run_module(pm2_process, args(state="started", save=True, startup=True,
                                        pm2_home=str(home)))["changed"] is False


def test_mutually_exclusive_definitions(run_module):
    result = run_module(pm2_process, dict(name="web", script="/a.js", ecosystem="/e.js"))
    assert result["failed"] is True and "mutually exclusive" in result["msg"]
