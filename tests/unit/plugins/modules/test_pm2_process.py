# pm2_process through main() with a fake pm2: the exact argv, check mode, waiting and path checks.
from __future__ import annotations

import json
import os
import pwd
import sys

import pytest

from ansible_collections.boosterbeacon.infra.plugins.module_utils import _pm2, _pm2_process, _runner
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
    # What runs after the reload is the wait's last look: one list before, two in the wait, none after.
    assert [c[1] for c in fake_commands.calls].count("jlist") == 3
    assert [p["pid"] for p in result["processes"]] == [21, 22]


def test_reads_and_waits_ask_the_daemon_over_its_socket(run_module, fake_commands, pm2_daemon):
    # While the daemon answers, no `pm2 jlist` runs: the look before and the wait's looks are
    # requests on its socket, and only the change is a command.
    fake = Pm2Fake(fake_commands, [proc(0, 11), proc(1, 12)], [proc(0, 21), proc(1, 22)])
    pm2_daemon.answer = lambda request: [b"j:" + json.dumps({"args": [json.loads(fake.jlist(None)[1])]}).encode(),
                                         b"s:" + request[1].encode()]
    result = run_module(pm2_process, args(state="reloaded", pm2_home=pm2_daemon.home))
    assert result["action"] == "reload" and [p["pid"] for p in result["processes"]] == [21, 22]
    assert [c[1] for c in fake_commands.calls] == ["reload"]
    assert len(result["commands"]) == 1 and " reload " in result["commands"][0]
    assert len(pm2_daemon.requests) == 3


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
    Pm2Fake(fake_commands, [], [proc(0, 31, status="launching")])
    result = run_module(pm2_process, args(state="started", timeout=20))
    assert result["failed"] is True
    assert "Failed to bring web online (not within 20s): instance 0 is launching" in result["msg"]
    assert "/nonexistent/err.log" in result["log_tail"]


def test_an_instance_pm2_gave_up_on_fails_without_waiting_out_the_timeout(run_module, fake_commands, monkeypatch):
    clock = iter(range(0, 1000, 1))
    monkeypatch.setattr(_pm2_process.time, "monotonic", lambda: next(clock))
    crashed = proc(0, 0, status="errored")
    crashed["pm2_env"]["restart_time"] = 15
    Pm2Fake(fake_commands, [], [crashed])
    result = run_module(pm2_process, args(state="started", timeout=600))
    assert result["failed"] is True
    assert "Failed to bring web online (PM2 marked it errored, restart count 15): instance 0 is errored" in result["msg"]
    # One look after the start: no second of the 600 spent waiting.
    assert [list(c) for c in fake_commands.calls if c[-1] == "jlist"][1:] == [[PM2, "jlist"]]


def test_flapping_process_is_not_accepted(run_module, fake_commands, monkeypatch):
    clock = iter(range(0, 1000, 1))
    monkeypatch.setattr(_pm2_process.time, "monotonic", lambda: next(clock))
    fake = Pm2Fake(fake_commands, [])
    pids = iter(range(100, 200))
    fake_commands.table[(PM2, "jlist")] = lambda argv: (0, json.dumps([] if fake.index == 0 else [proc(0, next(pids))]), "")
    result = run_module(pm2_process, args(state="started", timeout=6))
    assert result["failed"] is True and "Failed to bring web online" in result["msg"]


def test_a_crash_loop_slower_than_min_uptime_fails_without_waiting_out_the_timeout(run_module, fake_commands, monkeypatch):
    # Each run outlives min_uptime, so PM2 never marks it errored: it restarts it for ever.
    clock = iter(range(0, 1000, 1))
    monkeypatch.setattr(_pm2_process.time, "monotonic", lambda: next(clock))
    fake = Pm2Fake(fake_commands, [])
    runs = iter(range(100))

    def jlist(_argv):
        if fake.index == 0:
            return 0, "[]", ""
        run = next(runs)
        crashing = proc(0, 500 + run)
        crashing["pm2_env"]["restart_time"] = 7 + run  # earlier deploys' reloads count too
        return 0, json.dumps([crashing]), ""
    fake_commands.table[(PM2, "jlist")] = jlist
    result = run_module(pm2_process, args(state="started", timeout=600))
    assert result["failed"] is True
    assert "Failed to bring web online (it crashed and PM2 restarted it 3 times while waiting)" in result["msg"]
    assert len([c for c in fake_commands.calls if c[-1] == "jlist"]) == 5  # before the start, then 4 looks


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


def test_zero_instances_mean_one_per_cpu(run_module, fake_commands, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 3)
    Pm2Fake(fake_commands, [proc(0, 11)], [proc(0, 11), proc(1, 12), proc(2, 13)])
    result = run_module(pm2_process, args(state="started", instances=0))
    assert result["action"] == "scale" and verbs(fake_commands) == [["scale", "web", "3"]]


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
    (home / "dump.pm2").write_text(json.dumps([dict(proc(0, 11)["pm2_env"], name="web")]))
    fake_commands.table[("systemctl", "is-enabled")] = (0, "enabled", "")
    assert run_module(pm2_process, args(state="started", save=True, startup=True,
                                        pm2_home=str(home)))["changed"] is False


def test_mutually_exclusive_definitions(run_module):
    result = run_module(pm2_process, dict(name="web", script="/a.js", ecosystem="/e.js"))
    assert result["failed"] is True and "mutually exclusive" in result["msg"]


# -- replace_changed: a PM2 that keeps state, and an ecosystem file evaluated by a fake node ----

NODE = "/usr/bin/node"
ECO = "/srv/app/current/ecosystem.config.js"
R1, R2 = "/srv/app/releases/r1", "/srv/app/releases/r2"
APP = {"name": "web", "script": "app.js", "exec_mode": "cluster", "instances": 2, "wait_ready": True,
       "listen_timeout": 8000, "kill_timeout": 5000, "env": {"API_TOKEN": "token-from-the-file"}}


class Pm2Sim:
    """A PM2 daemon in miniature: apps by name, started from JSON ecosystem files (read at start,
    like pm2 does), deleted, reloaded; `fail` maps an app name to the status its new instances get
    (or a verb to an exit code)."""

    def __init__(self, fake_commands, app=None, cwd=R2, names=("web",)):
        self.apps = {}
        self.pid = 100
        self.started = []
        self.fail = {}
        self.app, self.cwd, self.names = app, cwd, names
        fake_commands.table[(PM2, "jlist")] = lambda argv: (0, "[PM2] noise\n" + json.dumps(self.jlist()), "")
        for verb in ("start", "reload", "restart", "delete", "save"):
            fake_commands.table[(PM2, verb)] = getattr(self, "_" + verb)
        fake_commands.table[(NODE, "-")] = self._node
        fake_commands.table[("runuser",)] = lambda argv: fake_commands(argv[4:])

    def run(self, name, definition, status="online"):
        count = definition.get("instances") or 1
        cwd = definition.get("cwd") or R1
        self.apps[name] = []
        for _instance in range(count):
            self.pid += 1
            self.apps[name].append({
                "name": name, "pm_id": self.pid, "pid": self.pid,
                "pm2_env": {"name": name, "status": status, "pm_cwd": cwd,
                            "pm_exec_path": os.path.join(cwd, definition.get("script", "app.js")),
                            "exec_mode": (definition.get("exec_mode") or "fork").replace("_mode", "") + "_mode",
                            "instances": count, "node_args": _pm2.split_args(definition.get("node_args")),
                            "exec_interpreter": "node", "kill_timeout": definition.get("kill_timeout"),
                            "listen_timeout": definition.get("listen_timeout"),
                            "wait_ready": definition.get("wait_ready"),
                            "max_memory_restart": _pm2.to_bytes(definition.get("max_memory_restart")),
                            "restart_time": 0, "pm_err_log_path": "/nonexistent/%s-error.log" % name}})
        return self

    def jlist(self):
        return [p for procs in self.apps.values() for p in procs]

    def pids(self, name):
        return [p["pid"] for p in self.apps.get(name, [])]

    def _node(self, argv):
        assert argv[2:4] == [ECO, "web"]
        out = {"app": self.app, "cwd": self.cwd, "names": list(self.names)}
        return 0, "ecosystem noise\n%s%s\n" % (_pm2.EVAL_MARK, json.dumps(out)), ""

    def _start(self, argv):
        if self.fail.get("start") is not None:
            return self.fail["start"], "", "[PM2][ERROR] cannot start"
        with open(argv[2]) as handle:   # the file must exist while pm2 reads it
            app = json.load(handle)["apps"][0]
        self.started.append((argv[2], app, oct(os.stat(argv[2]).st_mode & 0o777)))
        self.run(app["name"], app, status=self.fail.get(app["name"], "online"))
        return 0, "", ""

    def _delete(self, argv):
        code = self.fail.get("delete " + argv[2])
        if code is not None:
            return code, "", "[PM2][ERROR] cannot delete"
        if argv[2] not in self.apps:
            return 1, "", "[PM2][ERROR] Process or Namespace %s not found" % argv[2]
        del self.apps[argv[2]]
        return 0, "", ""

    def _reload(self, argv):
        name = argv[4] if argv[2] == ECO else argv[2]
        for p in self.apps[name]:
            self.pid += 1
            p["pid"] = self.pid
        return 0, "", ""

    _restart = _reload

    def _save(self, argv):
        return 0, "", ""


@pytest.fixture(autouse=True)
def node_here(monkeypatch):
    monkeypatch.setattr(_pm2_process._pm2, "find_node", lambda pm2_bin: NODE)


def rargs(**kw):
    return args(replace_changed=True, cwd="/srv/app/current", **kw)


def mutations(fake_commands):
    return [c[1:3] for c in fake_commands.calls if c[0] == PM2 and c[1] not in ("jlist",)]


def test_unchanged_definition_reloads_as_before(run_module, fake_commands):
    sim = Pm2Sim(fake_commands, APP).run("web", APP)
    old = sim.pids("web")
    result = run_module(pm2_process, rargs(state="reloaded", update_env=True))
    assert result["action"] == "reload" and result["definition_changes"] == []
    assert mutations(fake_commands) == [["reload", ECO]]
    assert not set(sim.pids("web")) & set(old)
    node_call = [c for c in fake_commands.calls if c[0] == NODE][0]
    assert node_call[:4] == [NODE, "-", ECO, "web"]
    assert "replace_mode" not in result


def test_changed_node_args_hand_over_in_cluster_mode(run_module, fake_commands):
    sim = Pm2Sim(fake_commands, dict(APP, node_args="--max-old-space-size=200")).run("web", APP)
    old = sim.pids("web")
    me = pwd.getpwuid(os.getuid()).pw_name
    result = run_module(pm2_process, rargs(state="reloaded", user=me, expect_path=R2), diff=True)
    assert result["changed"] is True and result["action"] == "replace" and result["replace_mode"] == "handover"
    assert result["definition_changes"] == [{"field": "node_args", "running": [],
                                             "wanted": ["--max-old-space-size=200"]}]
    verbs = mutations(fake_commands)
    assert [v[0] for v in verbs] == ["start", "delete", "start", "delete"]
    assert verbs[1] == ["delete", "web"] and verbs[3] == ["delete", "web-handover"]
    (first, handover, mode1), (second, final, mode2) = sim.started
    assert first.endswith("/web-handover.json") and second.endswith("/web.json")
    assert mode1 == mode2 == "0o600"
    assert not os.path.exists(first) and not os.path.exists(os.path.dirname(second))
    # The evaluated definition under each name, with the cwd PM2 would have used written out.
    assert handover == dict(APP, name="web-handover", node_args="--max-old-space-size=200", cwd=R2)
    assert final == dict(handover, name="web")
    assert sorted(sim.apps) == ["web"] and not set(sim.pids("web")) & set(old)
    assert [p["pm2_env"]["node_args"] for p in sim.apps["web"]] == [["--max-old-space-size=200"]] * 2
    assert result["release_path"] == R2
    assert result["diff"]["before"]["definition"]["node_args"] == []
    assert result["diff"]["after"]["definition"]["node_args"] == ["--max-old-space-size=200"]
    assert "token-from-the-file" not in json.dumps(result)


def test_errored_app_with_the_same_definition_is_recreated(run_module, fake_commands):
    sim = Pm2Sim(fake_commands, APP).run("web", APP, status="errored")
    checked = run_module(pm2_process, rargs(state="reloaded"), check_mode=True)
    assert checked["action"] == "replace" and checked["replace_mode"] == "recreate" and sim.started == []
    fake_commands.calls.clear()
    result = run_module(pm2_process, rargs(state="reloaded"))
    assert result["action"] == "replace" and result["replace_mode"] == "recreate"
    assert result["definition_changes"] == []
    assert [v[0] for v in mutations(fake_commands)] == ["delete", "start"]
    assert [p["status"] for p in result["processes"]] == ["online", "online"]
    assert sim.started[0][1]["name"] == "web"


def test_fork_mode_is_recreated(run_module, fake_commands):
    fork = dict(APP, exec_mode="fork", instances=1, max_memory_restart="300M")
    Pm2Sim(fake_commands, dict(fork, max_memory_restart="1G")).run("web", fork)
    result = run_module(pm2_process, rargs(state="restarted"))
    assert result["replace_mode"] == "recreate"
    assert result["definition_changes"] == [{"field": "max_memory_restart", "running": 300 * 1024 ** 2,
                                             "wanted": 1024 ** 3}]
    assert [v[0] for v in mutations(fake_commands)] == ["delete", "start"]


def test_recreate_that_never_comes_online_says_why(run_module, fake_commands, monkeypatch):
    clock = iter(range(0, 1000, 5))
    monkeypatch.setattr(_pm2_process.time, "monotonic", lambda: next(clock))
    sim = Pm2Sim(fake_commands, APP).run("web", APP, status="errored")
    sim.fail["web"] = "errored"
    result = run_module(pm2_process, rargs(state="reloaded", timeout=10))
    assert result["msg"].startswith("Failed to replace web (definition changes: none): it was deleted and started "
                                    "again from its new definition (no instance was online, so no handover), and "
                                    "did not come online. Cause: Failed to bring web online (PM2 marked it errored, restart count 0)")
    assert "/nonexistent/web-error.log" in result["log_tail"]


def test_check_mode_reports_the_replacement_and_changes_nothing(run_module, fake_commands):
    sim = Pm2Sim(fake_commands, dict(APP, instances=3)).run("web", APP)
    old = sim.pids("web")
    result = run_module(pm2_process, rargs(state="reloaded", save=True), check_mode=True, diff=True)
    assert result["changed"] is True and result["action"] == "replace" and result["replace_mode"] == "handover"
    assert result["definition_changes"] == [{"field": "instances", "running": 2, "wanted": 3}]
    assert sim.pids("web") == old and sim.started == []
    assert {c[0] if c[0] != PM2 else c[1] for c in fake_commands.calls} == {"jlist", NODE}
    assert [c.split(" ", 2)[1:] for c in result["commands"] if "jlist" not in c and "node" not in c] == [
        ["start", "web-handover.json"], ["delete", "web"], ["start", "web.json"], ["delete", "web-handover"],
        ["save", "--force"]]
    assert result["diff"]["after"]["instances"] == 3 and result["diff"]["after"]["definition"]["instances"] == 3
    assert len(result["processes"]) == 2


def test_handover_that_never_comes_online_leaves_the_old_app(run_module, fake_commands, monkeypatch):
    clock = iter(range(0, 1000, 5))
    monkeypatch.setattr(_pm2_process.time, "monotonic", lambda: next(clock))
    sim = Pm2Sim(fake_commands, dict(APP, node_args="--bad")).run("web", APP)
    old = sim.pids("web")
    sim.fail["web-handover"] = "errored"
    result = run_module(pm2_process, rargs(state="reloaded", timeout=20))
    assert result["failed"] is True
    assert result["msg"].startswith("Failed to replace web (definition changes: node_args): its new definition did "
                                    "not come online as web-handover, so web keeps running its old definition; "
                                    "web-handover was deleted. Cause: Failed to bring web-handover online (PM2 marked it errored, restart count 0)")
    assert sim.pids("web") == old and "web-handover" not in sim.apps
    assert "/nonexistent/web-handover-error.log" in result["log_tail"]
    assert [v[0] for v in mutations(fake_commands)] == ["start", "delete"]


def test_new_app_that_never_comes_online_cleans_up(run_module, fake_commands, monkeypatch):
    clock = iter(range(0, 1000, 5))
    monkeypatch.setattr(_pm2_process.time, "monotonic", lambda: next(clock))
    sim = Pm2Sim(fake_commands, dict(APP, node_args="--x")).run("web", APP)
    sim.fail["web"] = "errored"
    result = run_module(pm2_process, rargs(state="reloaded", timeout=10))
    assert result["failed"] is True
    assert "the old web was deleted but web did not come online with the new definition" in result["msg"]
    assert "web-handover was deleted" in result["msg"] and "web-handover" not in sim.apps
    assert result["commands"][-1].endswith("pm2 delete web-handover")


def test_failed_delete_of_the_old_app_cleans_up(run_module, fake_commands):
    sim = Pm2Sim(fake_commands, dict(APP, node_args="--x")).run("web", APP)
    old = sim.pids("web")
    sim.fail["delete web"] = 1
    result = run_module(pm2_process, rargs(state="reloaded"))
    assert "deleting the old web failed after web-handover came online" in result["msg"]
    assert "Cause: Failed to delete web" in result["msg"] and result["rc"] == 1
    assert sim.pids("web") == old and "web-handover" not in sim.apps


def test_failed_start_and_failed_cleanup_say_so(run_module, fake_commands, monkeypatch):
    sim = Pm2Sim(fake_commands, dict(APP, node_args="--x")).run("web", APP)
    sim.fail["start"] = 1
    result = run_module(pm2_process, rargs(state="reloaded"))
    assert ("so web keeps running its old definition; no web-handover is left. Cause: Failed to start web-handover "
            "from the new definition: /usr/bin/pm2 exited 1") in result["msg"]
    clock = iter(range(0, 1000, 5))
    monkeypatch.setattr(_pm2_process.time, "monotonic", lambda: next(clock))
    del sim.fail["start"]
    sim.fail.update({"web-handover": "errored", "delete web-handover": 1})
    result = run_module(pm2_process, rargs(state="reloaded", timeout=10))
    assert "deleting web-handover failed too ([PM2][ERROR] cannot delete): delete it by hand" in result["msg"]


def test_failed_delete_of_the_temporary_app(run_module, fake_commands):
    sim = Pm2Sim(fake_commands, dict(APP, node_args="--x")).run("web", APP)
    sim.fail["delete web-handover"] = 1
    result = run_module(pm2_process, rargs(state="reloaded"))
    assert result["msg"].startswith("Failed to replace web cleanly: it runs its new definition, but deleting the "
                                    "temporary web-handover failed (pm2 delete web-handover)")
    assert sim.pids("web") and "web-handover" in sim.apps


def test_a_handover_left_by_an_earlier_run_goes_first(run_module, fake_commands):
    sim = Pm2Sim(fake_commands, dict(APP, node_args="--x")).run("web", APP).run("web-handover", APP, "errored")
    result = run_module(pm2_process, rargs(state="reloaded"))
    assert result["action"] == "replace"
    assert [v[0] for v in mutations(fake_commands)] == ["delete", "start", "delete", "start", "delete"]
    assert sorted(sim.apps) == ["web"]


def test_started_and_present_stay_idempotent(run_module, fake_commands):
    sim = Pm2Sim(fake_commands, APP).run("web", APP)
    for state in ("started", "present"):
        result = run_module(pm2_process, rargs(state=state))
        assert result["changed"] is False and result["action"] is None and result["definition_changes"] == []
    sim.apps["web"][0]["pm2_env"]["status"] = "stopped"
    assert run_module(pm2_process, rargs(state="present"))["changed"] is False
    assert mutations(fake_commands) == []
    result = run_module(pm2_process, rargs(state="started"))
    assert result["action"] == "replace" and result["replace_mode"] == "handover"
    sim.app = dict(APP, kill_timeout=9000)
    result = run_module(pm2_process, rargs(state="present"))
    assert result["action"] == "replace"
    assert result["definition_changes"] == [{"field": "kill_timeout", "running": 5000, "wanted": 9000}]


def test_instances_option_overrides_the_file(run_module, fake_commands):
    sim = Pm2Sim(fake_commands, APP).run("web", APP)
    result = run_module(pm2_process, rargs(state="started", instances=3))
    assert result["action"] == "replace" and len(sim.apps["web"]) == 3
    assert sim.started[-1][1]["instances"] == 3
    assert run_module(pm2_process, rargs(state="started", instances=3))["changed"] is False


def test_missing_app_starts_from_the_ecosystem_without_comparing(run_module, fake_commands):
    sim = Pm2Sim(fake_commands, APP)
    fake_commands.table[(PM2, "start", ECO)] = lambda argv: (sim.run("web", APP) and 0, "", "")
    result = run_module(pm2_process, rargs(state="reloaded"))
    assert result["action"] == "start" and "definition_changes" not in result
    assert not [c for c in fake_commands.calls if c[0] == NODE]


def test_the_file_must_define_the_app(run_module, fake_commands):
    sim = Pm2Sim(fake_commands, None, names=("api", "worker")).run("web", APP)
    result = run_module(pm2_process, rargs(state="reloaded"))
    assert result["failed"] is True
    assert result["msg"] == "Failed to find the app web in %s: it defines api, worker." % ECO
    sim.app = dict(APP, max_memory_restart="lots")
    result = run_module(pm2_process, rargs(state="reloaded"))
    assert result["msg"].startswith("Failed to read the definition of web in %s: max_memory_restart" % ECO)


def test_replace_changed_needs_an_ecosystem(run_module):
    result = run_module(pm2_process, dict(name="web", script="/srv/app/app.js", replace_changed=True))
    assert result["failed"] is True and "ecosystem" in result["msg"]


def test_secrets_are_masked_in_the_changes(run_module, fake_commands):
    Pm2Sim(fake_commands, dict(APP, args="--token super-secret-value")).run("web", APP)
    result = run_module(pm2_process, rargs(state="reloaded", env={"TOKEN": "super-secret-value"}))
    assert result["definition_changes"] == [{"field": "args", "running": [], "wanted": ["--token", "********"]}]


def test_save_follows_the_definition_in_the_dump(run_module, fake_commands, tmp_path):
    home = tmp_path / "pm2"
    home.mkdir()
    sim = Pm2Sim(fake_commands, APP).run("web", APP)
    dump = home / "dump.pm2"
    running = [p["pm2_env"] for p in sim.jlist()]
    dump.write_text(json.dumps(running))
    assert run_module(pm2_process, rargs(state="started", save=True, pm2_home=str(home)))["changed"] is False
    # Saved with another definition, or with a handover app: save again.
    dump.write_text(json.dumps([dict(e, node_args=["--old"]) for e in running]))
    result = run_module(pm2_process, rargs(state="started", save=True, pm2_home=str(home)))
    assert result["changed"] is True and result["commands"][-1].endswith("pm2 save --force")
    dump.write_text(json.dumps(running + [dict(running[0], name="web-handover")]))
    assert run_module(pm2_process, rargs(state="started", save=True, pm2_home=str(home)))["changed"] is True
    dump.write_text("{}")
    assert run_module(pm2_process, rargs(state="started", save=True, pm2_home=str(home)))["changed"] is True
    # A deleted app must leave the dump.
    dump.write_text(json.dumps(running))
    sim.apps.clear()
    assert run_module(pm2_process, args(state="deleted", save=True, pm2_home=str(home)))["changed"] is True
    dump.write_text(json.dumps([]))
    assert run_module(pm2_process, args(state="deleted", save=True, pm2_home=str(home)))["changed"] is False


# -- check mode records the commands a real run makes ------------------------------------------

def without_waits(commands):
    """Commands less the `pm2 jlist` reads after the first: the waits for new instances and the
    look at what runs afterwards, which only a real run makes."""
    return [c for i, c in enumerate(commands) if i == 0 or not c.endswith(" jlist")]


def test_reload_in_check_mode_records_the_reload_a_run_makes(run_module, fake_commands, tmp_path):
    home = tmp_path / "pm2"
    home.mkdir()
    fake = Pm2Fake(fake_commands, [proc(0, 11), proc(1, 12)], [proc(0, 21), proc(1, 22)])
    checked = run_module(pm2_process, args(state="reloaded", update_env=True, save=True, pm2_home=str(home)),
                         check_mode=True)
    assert fake.index == 0 and [c[1] for c in fake_commands.calls] == ["jlist"]
    real = run_module(pm2_process, args(state="reloaded", update_env=True, save=True, pm2_home=str(home)))
    assert checked["changed"] is real["changed"] is True
    assert without_waits(real["commands"]) == checked["commands"] == [
        PM2 + " jlist", PM2 + " reload /srv/app/current/ecosystem.config.js --only web --update-env",
        PM2 + " save --force"]
    assert len(real["commands"]) > len(checked["commands"])


def test_boot_unit_in_check_mode_records_the_commands_a_run_makes(run_module, fake_commands, tmp_path):
    home = tmp_path / "pm2"
    home.mkdir()
    Pm2Fake(fake_commands, [proc(0, 11)])
    fake_commands.table[("systemctl", "is-enabled")] = (1, "disabled", "")
    options = args(state="started", startup=True, save=True, pm2_home=str(home))
    checked = run_module(pm2_process, options, check_mode=True)
    # The is-enabled check runs in both modes and is reported; pm2 startup only outside check mode.
    assert [c[:2] for c in fake_commands.calls] == [[PM2, "jlist"], ["systemctl", "is-enabled"]]
    real = run_module(pm2_process, options)
    assert checked["changed"] is real["changed"] is True
    assert real["commands"] == checked["commands"] == [
        PM2 + " jlist", "systemctl is-enabled pm2-root",
        PM2 + " startup systemd -u root --hp /root --service-name pm2-root", PM2 + " save --force"]


def test_an_unknown_user_is_a_clear_failure(run_module, fake_commands):
    result = run_module(pm2_process, args(user="no-such-user-x", pm2_home=None))
    assert result["failed"] is True
    assert result["msg"].startswith("Failed to find user no-such-user-x")


def test_the_handover_definition_is_written_in_pm2s_home(run_module, fake_commands, tmp_path):
    # Root's TMPDIR may be private to its session (libpam-tmpdir), closed to the PM2 user.
    me = pwd.getpwuid(os.getuid()).pw_name
    sim = Pm2Sim(fake_commands, dict(APP, node_args="--max-old-space-size=200"))
    sim.run("web", APP)
    run_module(pm2_process, rargs(state="reloaded", user=me, expect_path=R2, pm2_home=str(tmp_path)))
    assert sim.started and all(started[0].startswith(str(tmp_path) + "/pm2-definition-") for started in sim.started)


def test_not_root_the_handover_definition_is_written_beside_the_ecosystem_for_the_pm2_group(
        run_module, fake_commands, tmp_path, monkeypatch):
    # A deploy account acting as the PM2 user through sudo cannot write PM2's home: the file goes
    # into the ecosystem file's directory, readable by the PM2 user's group only, and is removed.
    monkeypatch.setattr(_runner, "running_as_root", lambda: False)
    monkeypatch.setattr(_runner, "running_as", lambda: "ci-deploy")
    monkeypatch.setattr(_pm2_process, "running_as_root", lambda: False)
    me = pwd.getpwuid(os.getuid())
    eco_dir = tmp_path / "app"
    eco_dir.mkdir()
    monkeypatch.setattr(sys.modules[__name__], "ECO", str(eco_dir / "ecosystem.config.js"))
    sim = Pm2Sim(fake_commands, dict(APP, node_args="--max-old-space-size=200"))
    sim.run("web", APP)
    modes = []

    def sudo(argv):
        # sudo -n --preserve-env=... -u <user> -- env PATH=... <argv>
        files = [a for a in argv if a.endswith(".json")]
        modes.extend(oct(os.stat(os.path.dirname(f)).st_mode & 0o777) for f in files)
        return fake_commands(argv[argv.index("--") + 3:])
    fake_commands.table[("sudo",)] = sudo
    result = run_module(pm2_process, rargs(state="reloaded", user=me.pw_name, expect_path=R2, pm2_home=str(tmp_path / "pm2"),
                                           ecosystem=ECO))
    assert result["action"] == "replace", result
    assert [started[0].startswith(str(eco_dir) + "/pm2-definition-") for started in sim.started] == [True, True]
    assert [started[2] for started in sim.started] == ["0o640", "0o640"] and modes == ["0o750", "0o750"]
    assert os.listdir(eco_dir) == []
    assert all(c[:2] == ["sudo", "-n"] for c in fake_commands.calls if c[0] not in (PM2, NODE))
