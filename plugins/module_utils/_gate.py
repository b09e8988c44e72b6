# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan, then apply: the one place where a module changes the host.

A state reads what it needs (commands that change nothing run in check mode too) and returns a
``Plan``: the state before, the state after, and the operations that lead from one to the other.
``Gate.apply`` is the only code that runs those operations, and only outside check mode; in check
mode it records the commands they would run instead. So ``changed`` is the same prediction in both
modes (a plan with operations changes the host), and ``commands`` lists the same commands.

Three kinds of operation:

- ``plan.run(argv)``: an external command, through the module's runner;
- ``plan.file(shown, func)``: a file operation, recorded as its shell equivalent ``shown``;
- ``plan.step(func, stands_for)``: code that runs commands of its own (waits, retries); in check
  mode the argv lists in ``stands_for`` are recorded in its place.

An operation may carry ``on_error`` (turns a failure into a clearer ModuleError, after cleaning
up) and ``always`` (runs even after an earlier operation failed, like a ``finally``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import ModuleError


class Operation:
    def __init__(self, kind, runner=None, argv=None, func=None, shown=None, stands_for=(), then=None,
                 on_error=None, always=False, run_kw=None, what=None):
        self.kind = kind
        self.what = what
        self.runner = runner
        self.argv = argv
        self.func = func
        self.shown = [shown] if isinstance(shown, str) else list(shown or [])
        self.stands_for = list(stands_for or [])
        self.then = then
        self.on_error = on_error
        self.always = always
        self.run_kw = run_kw or {}

    def record(self):
        """What check mode records for this operation instead of running it."""
        if self.kind == "run":
            self.runner.record(self.argv, self.run_kw.get("environ"))
        elif self.kind == "file":
            for line in self.shown:
                self.runner.note(line)
        else:
            for argv in self.stands_for:
                self.runner.record(argv)

    def apply(self):
        if self.kind == "run":
            _rc, out, _err = self.runner.run(self.argv, **self.run_kw)
            if self.then:
                self.then(out)
            return
        for line in self.shown:
            self.runner.note(line)
        try:
            self.func()
        except OSError as exc:
            # A file operation that failed (permission, no space) is a failure to report, not a traceback.
            raise ModuleError("Failed to %s: %s" % (self.describe(), exc))

    def describe(self):
        if self.shown:
            return 'apply "%s"' % "; ".join(self.shown)
        return self.what or "apply the change"


class Plan:
    """What one state would do: ``before`` and ``after`` (for the diff) and the operations."""

    def __init__(self, runner, before=None, after=None):
        self.runner = runner
        self.before = before
        self.after = after
        self.operations = []

    @property
    def changed(self):
        return bool(self.operations)

    def run(self, argv, runner=None, then=None, on_error=None, always=False, **run_kw):
        """An external command; ``then(stdout)`` reads its output (outside check mode)."""
        self.operations.append(Operation("run", runner=runner or self.runner, argv=list(argv), then=then,
                                         on_error=on_error, always=always, run_kw=run_kw))

    def file(self, shown, func, on_error=None, always=False):
        """A file operation; ``shown`` (a line or a list of lines) says what it does."""
        self.operations.append(Operation("file", runner=self.runner, func=func, shown=shown,
                                         on_error=on_error, always=always))

    def step(self, func, stands_for=(), runner=None, on_error=None, always=False, what=None):
        """Code that runs its own commands; ``what`` names it in an error ("write the manifest")."""
        self.operations.append(Operation("step", runner=runner or self.runner, func=func, stands_for=stands_for,
                                         on_error=on_error, always=always, what=what))


class Gate:
    """Applies plans: operations run only outside check mode; the diff comes from the plan."""

    def __init__(self, check_mode, diff):
        self.check_mode = check_mode
        self.diff = diff

    def apply(self, plan, result):
        if self.check_mode:
            for operation in plan.operations:
                operation.record()
        else:
            self._run(plan.operations)
        result["changed"] = bool(result.get("changed")) or plan.changed
        if self.diff and plan.before is not None:
            result["diff"] = {"before": plan.before, "after": plan.after}
        return result

    @staticmethod
    def _run(operations):
        failure = None
        for operation in operations:
            if failure is not None and not operation.always:
                continue
            try:
                operation.apply()
            except ModuleError as exc:
                if failure is None:
                    failure = operation.on_error(exc) if operation.on_error else exc
        if failure is not None:
            raise failure


class Manager:
    """The shape of every module's logic: built from the AnsibleModule (``Manager(module)``),
    one method per state in an explicit table, each returning a Plan (or None when it only
    reads), and one gate that applies it. ``commands`` is always returned, failures included."""

    def __init__(self, module, runner):
        self.module = module
        self.p = module.params
        self.runner = runner
        self.gate = Gate(module.check_mode, module._diff)
        self.result = {"changed": False}

    def states(self):
        """{state: method}; each method returns a Plan or None."""
        raise NotImplementedError

    def plan(self, before=None, after=None):
        return Plan(self.runner, before, after)

    def run(self):
        handler = self.states()[self.p["state"]]
        try:
            try:
                plan = handler()
                if plan is not None:
                    self.gate.apply(plan, self.result)
            except OSError as exc:
                # Facts read from the filesystem: a permission or a missing parent, said plainly.
                raise ModuleError("Failed to %s with state=%s: %s" % (self.task(), self.p["state"], exc))
        except ModuleError as exc:
            exc.details.setdefault("commands", self.runner.commands)
            raise
        self.result["commands"] = self.runner.commands
        return self.result

    def task(self):
        """What the module does, for error messages: 'manage releases under /srv/app'."""
        return "run"
