# The mutation gate: operations run only outside check mode, check mode records the same commands.
from __future__ import annotations

import pytest
from conftest import FakeCommands, FakeModule

from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import ModuleError
from ansible_collections.boosterbeacon.infra.plugins.module_utils._gate import Gate, Manager, Plan
from ansible_collections.boosterbeacon.infra.plugins.module_utils._runner import Runner


def make_plan(commands, done, always_fails=False):
    runner = Runner(FakeModule({}, commands=commands), become_user="app")
    plan = Plan(runner, before={"x": 1}, after={"x": 2})
    plan.run(["tool", "change"], what="change", then=lambda out: done.append("read " + out))
    plan.file("write /srv/f", lambda: done.append("file"))
    plan.step(lambda: done.append("step"), stands_for=[["tool", "start", "f.json"]])
    plan.step(lambda: done.append("quiet"))
    return runner, plan


def test_outside_check_mode_every_operation_runs_in_order():
    commands = FakeCommands({("runuser",): (0, "out", "")})
    done = []
    runner, plan = make_plan(commands, done)
    result = Gate(check_mode=False, diff=True).apply(plan, {})
    assert done == ["read out", "file", "step", "quiet"]
    assert commands.calls == [["runuser", "-u", "app", "--", "tool", "change"]]
    # The step ran its own commands (none here): its stand-in is for check mode only.
    assert runner.commands == ["runuser -u app -- tool change", "write /srv/f"]
    assert result == {"changed": True, "diff": {"before": {"x": 1}, "after": {"x": 2}}}


def test_check_mode_runs_nothing_and_records_what_would_run():
    commands = FakeCommands()
    done = []
    runner, plan = make_plan(commands, done)
    result = Gate(check_mode=True, diff=False).apply(plan, {})
    assert done == [] and commands.calls == []
    assert runner.commands == ["runuser -u app -- tool change", "write /srv/f", "runuser -u app -- tool start f.json"]
    assert result == {"changed": True}


def test_an_empty_plan_changes_nothing():
    runner = Runner(FakeModule({}))
    assert Gate(False, True).apply(Plan(runner), {}) == {"changed": False}


def test_after_a_failure_only_always_operations_run_and_on_error_explains():
    runner = Runner(FakeModule({}, commands=FakeCommands({("false",): (1, "", "boom"), ("cleanup",): (0, "", "")})))
    plan = Plan(runner)
    done = []
    plan.run(["false"], what="fail", on_error=lambda exc: ModuleError("Failed to do it. Cause: " + exc.msg, rc=9))
    plan.step(lambda: done.append("skipped"))
    plan.run(["cleanup"], always=True)
    with pytest.raises(ModuleError) as err:
        Gate(False, False).apply(plan, {})
    assert err.value.msg == "Failed to do it. Cause: Failed to fail: false exited 1: boom"
    assert err.value.details == {"rc": 9}
    assert done == [] and runner.commands == ["false", "cleanup"]


def test_os_errors_in_operations_become_module_errors():
    runner = Runner(FakeModule({}))
    plan = Plan(runner)

    def denied():
        raise PermissionError(13, "Permission denied", "/srv/x")

    plan.file(["mkdir /srv/x", "chown app /srv/x"], denied)
    with pytest.raises(ModuleError, match=r'Failed to apply "mkdir /srv/x; chown app /srv/x": \[Errno 13\] Permission'):
        Gate(False, False).apply(plan, {})
    plan = Plan(runner)
    plan.step(denied, what="keep the dump")
    with pytest.raises(ModuleError, match=r"Failed to keep the dump: \[Errno 13\]"):
        Gate(False, False).apply(plan, {})


class Toy(Manager):
    def __init__(self, module):
        super(Toy, self).__init__(module, Runner(module))

    def states(self):
        return {"present": self.present, "query": self.query, "broken": self.broken}

    def present(self):
        plan = self.plan(before={"on": False}, after={"on": True})
        plan.file("touch /srv/on", lambda: None)
        return plan

    def query(self):
        self.result["on"] = True

    def broken(self):
        raise FileNotFoundError(2, "No such file or directory", "/srv/missing")


def test_a_manager_dispatches_through_its_table_and_always_returns_commands():
    assert Toy(FakeModule({"state": "present"}, check_mode=True, diff=True)).run() == {
        "changed": True, "commands": ["touch /srv/on"], "diff": {"before": {"on": False}, "after": {"on": True}}}
    assert Toy(FakeModule({"state": "query"})).run() == {"changed": False, "on": True, "commands": []}


def test_a_manager_reports_os_errors_while_reading_with_its_commands():
    with pytest.raises(ModuleError) as err:
        Toy(FakeModule({"state": "broken"})).run()
    assert err.value.msg == "Failed to run with state=broken: [Errno 2] No such file or directory: '/srv/missing'"
    assert err.value.details == {"commands": []}
    with pytest.raises(NotImplementedError):
        Manager(FakeModule({"state": "x"}), None).states()
