# Unit tests for the command chokepoint every module uses.
from __future__ import annotations

import pytest

from ansible_collections.boosterbeacon.infra.plugins.module_utils import _runner
from ansible_collections.boosterbeacon.infra.plugins.module_utils._runner import (
    CommandError,
    ModuleError,
    Runner,
)


class FakeModule:
    def __init__(self, check_mode=False, answers=None):
        self.check_mode = check_mode
        self.answers = answers or {}
        self.calls = []

    def run_command(self, argv, environ_update=None, data=None, cwd=None, binary_data=False):
        self.calls.append({"argv": argv, "env": environ_update, "data": data, "cwd": cwd})
        return self.answers.get(argv[0], (0, "out", ""))


def test_runs_and_records_commands():
    module = FakeModule()
    runner = Runner(module)
    assert runner.run(["pm2", "jlist"]) == (0, "out", "")
    assert runner.commands == ["pm2 jlist"]
    assert module.calls[0]["argv"] == ["pm2", "jlist"]


def test_record_and_note_add_to_commands_without_running():
    # What the gate does in check mode: the command as it would run, wrapped and masked.
    module = FakeModule(check_mode=True)
    runner = Runner(module, become_user="app", secrets=["hunter2"])
    assert runner.record(["pm2", "delete", "app", "hunter2"]) == ["runuser", "-u", "app", "--", "pm2", "delete", "app",
                                                                  "hunter2"]
    runner.note("write /srv/app/.deploy.lock")
    assert module.calls == []
    assert runner.commands == ["runuser -u app -- pm2 delete app ********", "write /srv/app/.deploy.lock"]


def test_a_child_runner_records_into_the_same_commands():
    module = FakeModule()
    runner = Runner(module, become_user="app", environ={"PM2_HOME": "/home/app/.pm2"}, secrets=["hunter2"])
    root = runner.child(environ={"PATH": "/usr/bin"})
    root.run(["systemctl", "is-enabled", "pm2-hunter2"])
    runner.run(["pm2", "jlist"])
    assert [c["argv"] for c in module.calls] == [["systemctl", "is-enabled", "pm2-hunter2"],
                                                 ["runuser", "-u", "app", "--", "pm2", "jlist"]]
    assert module.calls[0]["env"] == {"PATH": "/usr/bin"}
    assert runner.commands == root.commands == ["systemctl is-enabled pm2-********", "runuser -u app -- pm2 jlist"]


def test_become_user_wraps_argv_with_runuser_and_passes_environment():
    module = FakeModule()
    runner = Runner(module, become_user="app", environ={"PM2_HOME": "/srv/app/.pm2"})
    runner.run(["pm2", "save"], environ={"EXTRA": "1"}, cwd="/srv/app")
    call = module.calls[0]
    assert call["argv"] == ["runuser", "-u", "app", "--", "pm2", "save"]
    assert call["env"] == {"PM2_HOME": "/srv/app/.pm2", "EXTRA": "1"}
    assert call["cwd"] == "/srv/app"


def test_failure_raises_with_masked_secret_and_details():
    module = FakeModule(answers={"psql": (2, "", "password s3cr3t rejected")})
    runner = Runner(module, secrets=["s3cr3t"])
    with pytest.raises(CommandError) as err:
        runner.run(["psql", "-c", "x"], what="query the database")
    assert err.value.msg == "Failed to query the database: psql exited 2: password ******** rejected"
    assert err.value.details["rc"] == 2
    assert "s3cr3t" not in err.value.details["stderr"]
    assert isinstance(err.value, ModuleError)


def test_check_rc_false_returns_the_failure():
    module = FakeModule(answers={"systemctl": (3, "inactive", "")})
    runner = Runner(module)
    assert runner.run(["systemctl", "is-active", "x"], check_rc=False) == (3, "inactive", "")


def test_secrets_are_masked_in_recorded_commands():
    runner = Runner(FakeModule(), secrets=["hunter2", ""])
    runner.run(["redis-cli", "--pass", "hunter2", "PING"])
    assert runner.commands == ["redis-cli --pass ******** PING"]


@pytest.fixture
def as_ci(monkeypatch):
    """The module runs as an unprivileged account (a CI deploy account), not as root."""
    monkeypatch.setattr(_runner, "running_as_root", lambda: False)
    monkeypatch.setattr(_runner, "running_as", lambda: "ci-deploy")


def test_not_root_goes_through_sudo_keeping_the_environment_by_name(as_ci):
    module = FakeModule()
    runner = Runner(module, become_user="app", environ={"PM2_HOME": "/srv/app/.pm2", "PATH": "/usr/bin:/bin"},
                    secrets=["hunter2"])
    runner.run(["pm2", "save"], environ={"PGPASSWORD": "hunter2"})
    call = module.calls[0]
    assert call["argv"] == ["sudo", "-n", "--preserve-env=PGPASSWORD,PM2_HOME", "-u", "app", "--",
                            "env", "PATH=/usr/bin:/bin", "pm2", "save"]
    # The secret's value reaches the command through the environment only.
    assert "hunter2" not in " ".join(call["argv"])
    assert call["env"]["PGPASSWORD"] == "hunter2"
    assert runner.commands == ["sudo -n --preserve-env=PGPASSWORD,PM2_HOME -u app -- env PATH=/usr/bin:/bin pm2 save"]


def test_not_root_without_environment_is_a_bare_sudo(as_ci):
    assert Runner(FakeModule(), become_user="app").wrap(["id"]) == ["sudo", "-n", "-u", "app", "--", "id"]


def test_not_root_acting_as_itself_needs_no_prefix(as_ci):
    module = FakeModule()
    Runner(module, become_user="ci-deploy", environ={"PATH": "/usr/bin"}).run(["pg_dump", "--version"])
    assert module.calls[0]["argv"] == ["pg_dump", "--version"]


def test_check_mode_records_the_sudo_command_a_run_would_make(as_ci):
    module = FakeModule(check_mode=True)
    runner = Runner(module, become_user="app", environ={"PM2_HOME": "/p"})
    runner.record(["pm2", "delete", "app"], environ={"EXTRA": "1"})
    assert module.calls == []
    assert runner.commands == ["sudo -n --preserve-env=EXTRA,PM2_HOME -u app -- pm2 delete app"]
