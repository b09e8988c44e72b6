from __future__ import annotations

import json

import pytest

from ansible_collections.boosterbeacon.infra.plugins.module_utils import _pm2
from ansible_collections.boosterbeacon.infra.plugins.module_utils._runner import ModuleError

PROC = {"name": "web", "pm_id": 0, "pid": 123,
        "pm2_env": {"status": "online", "pm_uptime": 1000_000, "restart_time": 2, "unstable_restarts": 0,
                    "exec_mode": "cluster_mode", "instances": 2, "pm_cwd": "/srv/app/current",
                    "pm_exec_path": "/srv/app/current/dist/server.js", "SECRET": "must-not-leak",
                    "pm_out_log_path": "/o.log", "pm_err_log_path": "/e.log"},
        "monit": {"memory": 1024, "cpu": 3}}


@pytest.mark.parametrize("noise", ["", "[PM2] Spawning PM2 daemon\n[PM2] PM2 Successfully daemonized\n",
                                   ">>>> In-memory PM2 is out-of-date, do:\n"])
def test_parse_jlist_skips_noise(noise):
    assert _pm2.parse_jlist(noise + json.dumps([PROC])) == [PROC]


def test_parse_jlist_fails_clearly():
    with pytest.raises(ModuleError, match="no JSON list"):
        _pm2.parse_jlist("[PM2] error\nnot json")


def test_summarize_keeps_facts_not_environment():
    facts = _pm2.summarize(PROC, now=1010)
    assert facts["uptime"] == 10 and facts["restarts"] == 2 and facts["memory"] == 1024
    assert facts["cwd"] == "/srv/app/current"
    assert "must-not-leak" not in json.dumps(facts)


def test_environ_for_user_and_default(monkeypatch):
    env = _pm2.pm2_environ(pm2_home="/x/.pm2")
    assert env == {"PM2_HOME": "/x/.pm2", "PATH": _pm2.SAFE_PATH}
    assert _pm2.pm2_environ("root")["PM2_HOME"] == "/root/.pm2"
    with pytest.raises(ModuleError, match="Failed to find user nobody-here"):
        _pm2.pm2_environ("nobody-here")
    monkeypatch.setenv("HOME", "/home/me")
    assert _pm2.pm2_environ()["PM2_HOME"] == "/home/me/.pm2"


def test_tail(tmp_path):
    log = tmp_path / "a.log"
    log.write_text("".join("line %d\n" % i for i in range(100)))
    assert _pm2.tail(str(log), 3) == ["line 97", "line 98", "line 99"]
    assert "cannot read" in _pm2.tail(str(tmp_path / "missing"))[0]


def test_find_pm2():
    class M:
        def get_bin_path(self, name, required=False, opt_dirs=None):
            return None
    with pytest.raises(ModuleError, match="npm install -g pm2"):
        _pm2.find_pm2(M())
    assert _pm2.find_pm2(M(), "/opt/pm2") == "/opt/pm2"
