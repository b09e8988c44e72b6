# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired state of one PM2 app: start, stop, restart, zero-downtime reload with a wait until
every instance is online again, and a check that the instances really run the release
expected (PM2 resolves symlinks when it starts a process, so a reload after `current` moved
can keep running the old release).

A reload only applies new environment values: with replace_changed the ecosystem file is
evaluated and compared with what PM2 runs, and a changed definition (or an instance that is not
online) replaces the app instead. In cluster mode a temporary copy (<name>-handover) serves the
port while the app is deleted and started again from the new definition."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import re
import shutil
import tempfile
import time

from ansible_collections.boosterbeacon.infra.plugins.module_utils import _pm2
from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import (
    ModuleError, account, read_json, write_json_atomic)
from ansible_collections.boosterbeacon.infra.plugins.module_utils._gate import Manager
from ansible_collections.boosterbeacon.infra.plugins.module_utils._runner import Runner, running_as_root

HANDOVER_SUFFIX = "-handover"
STATES = ("started", "present", "stopped", "restarted", "reloaded", "deleted")


# Restarts seen while waiting for an app to come online that make it a crash loop.
CRASH_LOOP_RESTARTS = 3


class Pm2Process(Manager):
    """The pm2_process module: every state is one decision (which action, if any), planned as
    pm2 commands and waits; the gate runs them outside check mode."""

    def __init__(self, module, sleep=None, clock=None):
        params = module.params
        env = _pm2.pm2_environ(params["user"], params["pm2_home"])
        super(Pm2Process, self).__init__(module, Runner(
            module, become_user=params["user"], environ=env,
            secrets=[str(v) for v in (params["env"] or {}).values() if len(str(v)) >= 8]))
        self.sleep = sleep or time.sleep
        self.clock = clock or time.monotonic
        if self.p["instances"] == 0:
            # PM2's own convention (-i 0): one instance per CPU.
            self.p["instances"] = os.cpu_count() or 1
        self.pm2_bin = _pm2.find_pm2(module, self.p["executable"])
        self.pm2_home = env["PM2_HOME"]
        self.search_path = (self.p["env"] or {}).get("PATH") or env["PATH"]
        self.result["name"] = self.p["name"]
        # (running, wanted) definitions once compared, and the evaluated app to start from.
        self.definitions = None
        self.wanted_app = None
        # The instances the last wait saw online, and its last `pm2 jlist` entries (app, entries).
        self.procs = []
        self.last_raw = None

    def states(self):
        return dict((state, self.converge) for state in STATES)

    def actions(self):
        return {"start": self._plan_start, "scale": self._plan_scale, "restart": self._plan_restart,
                "reload": self._plan_reload, "stop": self._plan_stop, "delete": self._plan_delete,
                "replace": self._plan_replace}

    def task(self):
        return "manage the PM2 app %s" % self.p["name"]

    # -- facts ---------------------------------------------------------------------------------
    def raw(self, name=None):
        """The `pm2 jlist` entries of one app (default: this one)."""
        name = name or self.p["name"]
        return [p for p in _pm2.list_processes(self.runner, self.pm2_bin, self.pm2_home) if p.get("name") == name]

    def processes(self, name=None):
        return [_pm2.summarize(p) for p in self.raw(name)]

    def evaluate(self):
        """The app definition the ecosystem file gives, evaluated by node as the pm2 command would
        (same user, environment and working directory), and the cwd PM2 would give it."""
        p = self.p
        node = _pm2.find_node(self.pm2_bin)
        pm2_dir = os.path.dirname(os.path.dirname(os.path.realpath(self.pm2_bin)))
        _rc, out, _err = self.runner.run(
            [node, "-", p["ecosystem"], p["name"], pm2_dir], data=_pm2.EVAL_JS, environ=p["env"] or None,
            cwd=p["cwd"] or None, what="evaluate %s for the definition of %s" % (p["ecosystem"], p["name"]))
        return _pm2.parse_evaluation(out, p["name"], p["ecosystem"])

    def compare(self, raw_before):
        """Differences between what PM2 runs and what the ecosystem file now defines."""
        app, cwd = self.evaluate()
        try:
            wanted = _pm2.wanted_definition(app, cwd, os.cpu_count() or 1, instances=self.p["instances"],
                                            search=self.search_path)
        except ValueError as exc:
            raise ModuleError("Failed to read the definition of %s in %s: %s" % (self.p["name"], self.p["ecosystem"], exc))
        running = _pm2.running_definition([x.get("pm2_env") or {} for x in raw_before])
        self.wanted_app = _pm2.renamed_app(app, self.p["name"], cwd, self.p["instances"])
        self.definitions = (self._masked(running), self._masked(wanted))
        return _pm2.compare_definitions(*self.definitions)

    def _masked(self, definition):
        def one(value):
            if isinstance(value, list):
                return [one(v) for v in value]
            return self.runner._mask(value) if isinstance(value, str) else value
        return dict((k, one(v)) for k, v in definition.items())

    def start_args(self):
        p = self.p
        if p["ecosystem"]:
            args = ["start", p["ecosystem"], "--only", p["name"]]
        elif p["script"]:
            args = ["start", p["script"], "--name", p["name"]]
            if p["instances"] is not None:
                args += ["-i", str(p["instances"])]
            if p["exec_mode"] == "cluster" and p["instances"] is None:
                args += ["-i", "1"]
            if p["wait_ready"]:
                args.append("--wait-ready")
            if p["listen_timeout"]:
                args += ["--listen-timeout", str(p["listen_timeout"])]
            if p["kill_timeout"]:
                args += ["--kill-timeout", str(p["kill_timeout"])]
        else:
            raise ModuleError("Failed to start %s: it is not running, and neither ecosystem nor script says how to "
                              "start it." % p["name"])
        return args + self.env_flag()

    def env_flag(self):
        return ["--update-env"] if self.p["update_env"] else []

    # -- the plan ------------------------------------------------------------------------------
    def converge(self):
        state = self.p["state"]
        raw_before = self.raw()
        before = [_pm2.summarize(x) for x in raw_before]
        action, expected = self.decide(state, raw_before, before)
        self.result.update(action=action, processes=before)
        plan = self.plan(before=self._describe(before), after=self._predict(before, action))
        if self.definitions:
            plan.before["definition"] = self.definitions[0]
            plan.after["definition"] = self.definitions[1] if action == "replace" else self.definitions[0]
        if action:
            self.actions()[action](plan, before, {x["pid"] for x in before}, expected)
        elif state in ("started", "present"):
            self.check_path(before)
        if self.p["startup"]:
            self._plan_startup(plan)
        if action:
            plan.step(lambda: self._observe(plan), what="list PM2 processes")
        # The saved list is what the boot-time unit resurrects: save after any change, or when
        # it no longer matches what runs.
        if self.p["save"] and (plan.operations or self._dump_stale(state, raw_before)):
            self._pm2(plan, "save", "--force", what="save the PM2 process list")
        return plan

    def decide(self, state, raw_before, before):
        """The action the state asks for, and how many instances must then be online."""
        online = [x for x in before if x["status"] == "online"]
        expected = self.p["instances"] or max(len(before), 1)
        if self.p["replace_changed"] and before and state in ("started", "present", "restarted", "reloaded"):
            changes = self.compare(raw_before)
            self.result["definition_changes"] = changes
            # A reload or restart keeps an errored app's old definition: replace it as well
            # (present only cares that PM2 knows the app).
            if changes or (len(online) < len(before) and state != "present"):
                return "replace", self.definitions[1]["instances"]
        if state in ("started", "present") and not before:
            return "start", expected
        if state == "started" and len(online) < len(before):
            return "restart", expected
        if state == "started" and self.p["instances"] and len(before) != self.p["instances"]:
            return "scale", expected
        if state == "stopped" and online:
            return "stop", expected
        if state == "deleted" and before:
            return "delete", expected
        if state in ("restarted", "reloaded"):
            return (state[:-2] if before else "start"), expected
        return None, expected

    def _observe(self, plan):
        """What PM2 runs after the change, for ``processes`` and the diff: what the wait for this
        app last listed when it ended the change (nothing ran since), else a new list."""
        waited = self.last_raw and self.last_raw[0] == self.p["name"]
        raw_after = self.last_raw[1] if waited else self.raw()
        self.result["processes"] = [_pm2.summarize(x) for x in raw_after]
        plan.after.update(self._describe(self.result["processes"]))
        if self.definitions and raw_after:
            plan.after["definition"] = self._masked(
                _pm2.running_definition([x.get("pm2_env") or {} for x in raw_after]))

    def _pm2(self, plan, *args, **kw):
        plan.run([self.pm2_bin] + list(args), environ=self.p["env"] or None, cwd=self.p["cwd"] or None, **kw)

    def _plan_wait(self, plan, old_pids, expected, name=None, on_error=None):
        """Wait until the app (or ``name``) is online from new processes (kept in ``procs``)."""
        def wait():
            self.procs = self.wait_online(old_pids, expected, name=name)
        plan.step(wait, on_error=on_error, what="wait for %s" % (name or self.p["name"]))

    def _plan_online(self, plan, old_pids, expected):
        """Wait for the app, then check it runs the release expected."""
        self._plan_wait(plan, old_pids, expected)
        plan.step(lambda: self.check_path(self.procs), what="check the path %s runs from" % self.p["name"])

    def _plan_start(self, plan, _before, old_pids, expected):
        self._pm2(plan, *self.start_args(), what="start %s" % self.p["name"])
        self._plan_online(plan, old_pids, expected)

    def _plan_scale(self, plan, _before, _old_pids, expected):
        name = self.p["name"]
        self._pm2(plan, "scale", name, str(self.p["instances"]), what="scale %s" % name)
        # After a scale-up the old instances stay: only their count matters.
        self._plan_online(plan, set(), expected)

    def _plan_cycle(self, plan, verb, old_pids, expected):
        name = self.p["name"]
        target = [self.p["ecosystem"], "--only", name] if self.p["ecosystem"] and verb == "reload" else [name]
        self._pm2(plan, *([verb] + target + self.env_flag()), what="%s %s" % (verb, name))
        self._plan_online(plan, old_pids, expected)

    def _plan_restart(self, plan, _before, old_pids, expected):
        self._plan_cycle(plan, "restart", old_pids, expected)

    def _plan_reload(self, plan, _before, old_pids, expected):
        self._plan_cycle(plan, "reload", old_pids, expected)

    def _plan_stop(self, plan, _before, _old_pids, _expected):
        self._pm2(plan, "stop", self.p["name"], what="stop %s" % self.p["name"])

    def _plan_delete(self, plan, _before, _old_pids, _expected):
        self._pm2(plan, "delete", self.p["name"], what="delete %s" % self.p["name"])

    def _plan_startup(self, plan):
        """The boot-time unit that resurrects the saved list, installed as root when missing."""
        user = self.p["user"] or pwd.getpwuid(os.getuid()).pw_name
        unit = "pm2-%s" % user
        self.result["startup_unit"] = unit
        root = self.runner.child(environ={"PATH": _pm2.SAFE_PATH})
        if root.run(["systemctl", "is-enabled", unit], check_rc=False)[0] == 0:
            return
        plan.run([self.pm2_bin, "startup", "systemd", "-u", user, "--hp", account(user).pw_dir, "--service-name", unit],
                 runner=root, what="install the boot-time unit %s" % unit)

    # -- waiting and checking ------------------------------------------------------------------
    def wait_online(self, old_pids, expected, name=None):
        """Every instance online, none of them an old process, at least ``expected`` of them."""
        name = name or self.p["name"]
        deadline = self.clock() + self.p["timeout"]
        procs, candidate, restarts_at_start = [], None, {}
        while True:
            raw = self.raw(name)
            self.last_raw = (name, raw)
            procs = [_pm2.summarize(p) for p in raw]
            for proc in procs:
                restarts_at_start.setdefault(proc["pm_id"], proc["restarts"])
            online = [x for x in procs if x["status"] == "online" and x["pid"] not in old_pids]
            if procs and len(online) == len(procs) and len(procs) >= expected:
                # A crashing app is briefly online after each restart: accept only the same
                # pids seen online twice, a second apart.
                pids = sorted(x["pid"] for x in procs)
                if candidate == pids:
                    return procs
                candidate = pids
            else:
                candidate = None
            # A crashing instance: PM2 restarts it until it gives up (errored, when each run is
            # shorter than min_uptime); a slower crash loop goes on for ever. Neither comes right
            # by waiting out the timeout.
            gave_up = [x for x in procs if x["status"] == "errored"]
            crashes = max([x["restarts"] - restarts_at_start[x["pm_id"]] for x in procs] or [0])
            if gave_up or crashes >= CRASH_LOOP_RESTARTS or self.clock() >= deadline:
                break
            self.sleep(1)
        # PM2's own log says why it gave up ("too many unstable restarts").
        daemon_log = os.path.join(self.pm2_home, "pm2.log")
        logs = {daemon_log: [line for line in _pm2.tail(daemon_log, 200) if name in line][-10:]}
        for proc in procs[:1]:
            for key in ("err_log", "out_log"):
                if proc.get(key):
                    logs[proc[key]] = _pm2.tail(proc[key], 30)
        # restart_time counts the app's whole life (reloads included), not only this crash loop.
        if gave_up:
            why = "PM2 marked it errored, restart count %d" % max(x["restarts"] for x in gave_up)
        elif crashes >= CRASH_LOOP_RESTARTS:
            why = "it crashed and PM2 restarted it %d times while waiting" % crashes
        else:
            why = "not within %ds" % self.p["timeout"]
        raise ModuleError(
            "Failed to bring %s online (%s): %s. Read the logs below or run: pm2 logs %s --lines 100"
            % (name, why, ", ".join("instance %s is %s" % (x["pm_id"], x["status"]) for x in procs) or "no instance left",
               name),
            processes=procs, log_tail=logs)

    def check_path(self, procs):
        expect = self.p["expect_path"]
        if not expect:
            return
        want = os.path.realpath(expect)
        wrong = [x for x in procs if not self._runs_from(x, want)]
        self.result["release_path"] = want
        if wrong:
            msg = ("Failed to switch %s to %s: instances %s still run from %s. PM2 resolved the old symlink "
                   "target; delete the app and start it again from the ecosystem file (pm2 delete %s)."
                   % (self.p["name"], want, ", ".join(str(x["pm_id"]) for x in wrong),
                      os.path.realpath(wrong[0]["cwd"] or ""), self.p["name"]))
            raise ModuleError(msg, processes=procs)

    @staticmethod
    def _runs_from(proc, want):
        if os.path.realpath(proc["cwd"] or "") == want:
            return True
        return os.path.realpath(proc["script"] or "").startswith(want + os.sep)

    # -- replacing an app whose definition changed ---------------------------------------------
    def _plan_replace(self, plan, before, old_pids, expected):
        """Run the app from its new definition.

        Cluster mode with an instance online: <name>-handover starts from the new definition and
        shares the port (PM2's cluster workers of every app share a listening port), the app is
        deleted and started again from the new definition, then the temporary app goes. Otherwise
        (fork mode cannot share a port, or nothing was serving anyway): delete and start."""
        name = self.p["name"]
        running, wanted = self.definitions
        serving = any(x["status"] == "online" for x in before)
        handover = serving and running["exec_mode"] == "cluster" and wanted["exec_mode"] == "cluster"
        self.result["replace_mode"] = "handover" if handover else "recreate"
        if handover:
            self._plan_handover(plan, old_pids, expected)
        else:
            def failed(exc):
                return ModuleError(
                    "Failed to replace %s (definition changes: %s): it was deleted and started again from its new "
                    "definition (%s, so no handover), and did not come online. Cause: %s"
                    % (name, self._changed_fields(), "fork mode" if serving else "no instance was online", exc.msg),
                    **self._details(exc))
            self._pm2(plan, "delete", name, what="delete %s before starting it from its new definition" % name)
            self._plan_start_definition(plan, name, on_error=failed)
            self._plan_wait(plan, old_pids, expected, on_error=failed)
        plan.step(lambda: self.check_path(self.procs), what="check the path %s runs from" % name)

    def _plan_handover(self, plan, old_pids, expected):
        name = self.p["name"]
        temp = name + HANDOVER_SUFFIX
        if self.processes(temp):
            self._pm2(plan, "delete", temp, what="delete %s left by an earlier replacement" % temp)

        def cleanup(why):
            return lambda exc: self._failed(exc, temp, why)

        first = cleanup("its new definition did not come online as %s, so %s keeps running its old definition"
                        % (temp, name))
        self._plan_start_definition(plan, temp, on_error=first)
        self._plan_wait(plan, set(), expected, name=temp, on_error=first)
        self._pm2(plan, "delete", name, what="delete %s (%s serves meanwhile)" % (name, temp),
                  on_error=cleanup("deleting the old %s failed after %s came online; %s is left as PM2 has it"
                                   % (name, temp, name)))
        last = cleanup("the old %s was deleted but %s did not come online with the new definition; nothing serves "
                       "it now, run the task again to re-create it" % (name, name))
        self._plan_start_definition(plan, name, on_error=last)
        self._plan_wait(plan, old_pids, expected, on_error=last)

        def unclean(exc):
            return ModuleError("Failed to replace %s cleanly: it runs its new definition, but deleting the temporary "
                               "%s failed (pm2 delete %s): %s" % (name, temp, temp, exc.msg), **self._details(exc))
        self._pm2(plan, "delete", temp, what="delete the temporary %s after %s came online" % (temp, name),
                  on_error=unclean)

    def _failed(self, exc, temp, what):
        """The error for a failed handover, after deleting the temporary app."""
        rc, _out, err = self.runner.run([self.pm2_bin, "delete", temp], check_rc=False,
                                        environ=self.p["env"] or None, cwd=self.p["cwd"] or None)
        if rc == 0:
            cleanup = "%s was deleted" % temp
        elif not self._exists(temp):
            cleanup = "no %s is left" % temp
        else:
            cleanup = "deleting %s failed too (%s): delete it by hand" % (temp, self.runner._mask(err.strip()[-200:]))
        return ModuleError("Failed to replace %s (definition changes: %s): %s; %s. Cause: %s"
                           % (self.p["name"], self._changed_fields(), what, cleanup, exc.msg), **self._details(exc))

    def _changed_fields(self):
        return ", ".join(c["field"] for c in self.result.get("definition_changes") or []) or "none"

    def _exists(self, name):
        try:
            return bool(self.raw(name))
        except ModuleError:
            return True

    @staticmethod
    def _details(exc):
        return dict((k, v) for k, v in exc.details.items() if k != "commands")

    def _plan_start_definition(self, plan, app_name, on_error=None):
        """`pm2 start` from the evaluated definition under ``app_name`` (see start_definition);
        check mode records the command with the file's name alone, its directory being temporary."""
        shown = [self.pm2_bin, "start", "%s.json" % _safe_name(app_name)] + self.env_flag()
        plan.step(lambda: self.start_definition(app_name), stands_for=[shown], on_error=on_error,
                  what="start %s from the new definition" % app_name)

    def start_definition(self, app_name):
        """`pm2 start` a JSON ecosystem file holding the evaluated definition under ``app_name``.
        It carries the cwd PM2 would have used, so PM2 keeps cwd and script as given; it holds the
        app's environment, so only the PM2 user can read it, and it is gone after the start. It is
        made in PM2's home: root's own temporary directory may be closed to the PM2 user
        (libpam-tmpdir gives each session a private TMPDIR). Not as root (a deploy account acting
        as the PM2 user through sudo), beside the ecosystem file instead, in the deploy's own
        directory, and given to the PM2 user's group, of which such an account is a member."""
        shared = bool(self.p["user"]) and not running_as_root()
        home = os.path.dirname(self.p["ecosystem"] or "") if shared else self.pm2_home
        tmpdir = tempfile.mkdtemp(prefix="pm2-definition-", dir=home if os.path.isdir(home) else None)
        try:
            path = os.path.join(tmpdir, "%s.json" % _safe_name(app_name))
            write_json_atomic(path, {"apps": [dict(self.wanted_app, name=app_name)]}, mode=0o600, exclusive=True)
            if shared:
                group = account(self.p["user"]).pw_gid
                for item, mode in ((tmpdir, 0o750), (path, 0o640)):
                    os.chown(item, -1, group)
                    os.chmod(item, mode)
            elif self.p["user"]:
                owner = account(self.p["user"])
                for item in (tmpdir, path):
                    os.chown(item, owner.pw_uid, owner.pw_gid)
            self.runner.run([self.pm2_bin, "start", path] + self.env_flag(), environ=self.p["env"] or None,
                            cwd=self.p["cwd"] or None, what="start %s from the new definition" % app_name)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)

    def _dump_stale(self, state, raw):
        """Whether the saved process list (what the boot-time unit resurrects) differs from what
        runs: the app missing (or present after a delete), a temporary handover app saved, or the
        app saved with another definition."""
        saved = read_json(os.path.join(self.pm2_home, "dump.pm2"))
        saved = [app for app in saved if isinstance(app, dict)] if isinstance(saved, list) else []
        mine = [app for app in saved if app.get("name") == self.p["name"]]
        if state == "deleted":
            return bool(mine)
        if not mine or any(app.get("name") == self.p["name"] + HANDOVER_SUFFIX for app in saved):
            return True
        if not raw:
            return False
        return (_pm2.running_definition(mine)
                != _pm2.running_definition([x.get("pm2_env") or {} for x in raw]))

    def _describe(self, procs):
        return {"name": self.p["name"], "instances": len(procs),
                "status": sorted({x["status"] for x in procs}), "cwd": sorted({x["cwd"] for x in procs if x["cwd"]})}

    def _predict(self, before, action):
        after = self._describe(before)
        if action in ("start", "restart", "reload", "scale"):
            after.update(status=["online"], instances=self.p["instances"] or max(len(before), 1))
        elif action == "replace":
            after.update(status=["online"], instances=self.definitions[1]["instances"])
        elif action == "stop":
            after["status"] = ["stopped"]
        elif action == "delete":
            after.update(instances=0, status=[], cwd=[])
        return after


def _safe_name(name):
    return re.sub(r"[^A-Za-z0-9._-]", "-", name)
