# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired state of one PM2 app: start, stop, restart, zero-downtime reload with a wait until
every instance is online again, and a check that the instances really run the release
expected (PM2 resolves symlinks when it starts a process, so a reload after `current` moved
can keep running the old release)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import pwd
import time

from ansible_collections.boosterbeacon.infra.plugins.module_utils import _pm2
from ansible_collections.boosterbeacon.infra.plugins.module_utils._runner import ModuleError, Runner


class Pm2Process:
    def __init__(self, module, sleep=None, clock=None):
        self.module = module
        self.p = module.params
        self.sleep = sleep or time.sleep
        self.clock = clock or time.monotonic
        self.pm2_bin = _pm2.find_pm2(module, self.p["executable"])
        env = _pm2.pm2_environ(self.p["user"], self.p["pm2_home"])
        self.pm2_home = env["PM2_HOME"]
        self.runner = Runner(module, become_user=self.p["user"], environ=env,
                             secrets=[str(v) for v in (self.p["env"] or {}).values() if len(str(v)) >= 8])
        self.result = {"changed": False, "name": self.p["name"]}

    # -- facts ---------------------------------------------------------------------------------
    def processes(self):
        _rc, out, _err = self.runner.run([self.pm2_bin, "jlist"], what="list PM2 processes")
        return [_pm2.summarize(p) for p in _pm2.parse_jlist(out) if p.get("name") == self.p["name"]]

    def pm2(self, *args, **kw):
        return self.runner.run([self.pm2_bin] + list(args), mutating=True, environ=self.p["env"] or None,
                               cwd=self.p["cwd"] or None, **kw)

    # -- actions -------------------------------------------------------------------------------
    def start(self):
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
        if p["update_env"]:
            args.append("--update-env")
        self.pm2(*args, what="start %s" % p["name"])

    def wait_online(self, old_pids, expected):
        """Every instance online, none of them an old process, at least ``expected`` of them."""
        deadline = self.clock() + self.p["timeout"]
        procs, candidate = [], None
        while True:
            procs = self.processes()
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
            if self.clock() >= deadline:
                break
            self.sleep(1)
        # PM2's own log says why it gave up ("too many unstable restarts").
        daemon_log = os.path.join(self.pm2_home, "pm2.log")
        logs = {daemon_log: [line for line in _pm2.tail(daemon_log, 200) if self.p["name"] in line][-10:]}
        for proc in procs[:1]:
            for key in ("err_log", "out_log"):
                if proc.get(key):
                    logs[proc[key]] = _pm2.tail(proc[key], 30)
        raise ModuleError(
            "Failed to bring %s online within %ds: %s. Read the logs below or run: pm2 logs %s --lines 100"
            % (self.p["name"], self.p["timeout"],
               ", ".join("instance %s is %s" % (x["pm_id"], x["status"]) for x in procs) or "no instance left",
               self.p["name"]),
            processes=procs, log_tail=logs, commands=self.runner.commands)

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
            raise ModuleError(msg, processes=procs, commands=self.runner.commands)

    @staticmethod
    def _runs_from(proc, want):
        if os.path.realpath(proc["cwd"] or "") == want:
            return True
        return os.path.realpath(proc["script"] or "").startswith(want + os.sep)

    def startup(self):
        user = self.p["user"] or pwd.getpwuid(os.getuid()).pw_name
        unit = "pm2-%s" % user
        self.result["startup_unit"] = unit
        rc, _out, _err = Runner(self.module).run(["systemctl", "is-enabled", unit], check_rc=False)
        if rc == 0:
            return False
        home = pwd.getpwnam(user).pw_dir
        root_runner = Runner(self.module, environ={"PATH": _pm2.SAFE_PATH})
        root_runner.run([self.pm2_bin, "startup", "systemd", "-u", user, "--hp", home, "--service-name", unit],
                        mutating=True, what="install the boot-time unit %s" % unit)
        self.runner.commands.extend(root_runner.commands)
        return True

    # -- the plan ------------------------------------------------------------------------------
    def run(self):
        state = self.p["state"]
        before = self.processes()
        old_pids = {x["pid"] for x in before}
        online = [x for x in before if x["status"] == "online"]
        expected = self.p["instances"] or max(len(before), 1)
        action = None
        if state in ("started", "present") and not before:
            action = "start"
        elif state == "started" and len(online) < len(before):
            action = "restart"
        elif state == "started" and self.p["instances"] and len(before) != self.p["instances"]:
            action = "scale"
        elif state == "stopped" and online:
            action = "stop"
        elif state == "deleted" and before:
            action = "delete"
        elif state in ("restarted", "reloaded"):
            action = state[:-2] if before else "start"

        self.result["action"] = action
        self.result["diff"] = {"before": self._describe(before), "after": self._predict(before, action)}
        if action:
            self.result["changed"] = True
            self._apply(action, before, old_pids, expected)
        elif state in ("started", "present"):
            self.check_path(before)
        if self.p["startup"] and self.startup():
            self.result["changed"] = True
        if self.p["save"] and (self.result["changed"] or self._dump_has() != (state != "deleted")):
            self.result["changed"] = True
            self.pm2("save", "--force", what="save the PM2 process list")
        self.result["processes"] = before if self.module.check_mode else self.processes()
        if not self.module.check_mode:
            self.result["diff"]["after"] = self._describe(self.result["processes"])
        self.result["commands"] = self.runner.commands
        if not self.module._diff:
            del self.result["diff"]
        return self.result

    def _apply(self, action, before, old_pids, expected):
        name = self.p["name"]
        env_flag = ["--update-env"] if self.p["update_env"] else []
        if action == "start":
            self.start()
        elif action == "scale":
            self.pm2("scale", name, str(self.p["instances"]), what="scale %s" % name)
        elif action in ("restart", "reload"):
            target = [self.p["ecosystem"], "--only", name] if self.p["ecosystem"] and action == "reload" else [name]
            self.pm2(*([action] + target + env_flag), what="%s %s" % (action, name))
        elif action == "stop":
            self.pm2("stop", name, what="stop %s" % name)
        elif action == "delete":
            self.pm2("delete", name, what="delete %s" % name)
        if self.module.check_mode or action in ("stop", "delete"):
            return
        # After a scale-up the old instances stay; only new pids count for a (re)start or reload.
        procs = self.wait_online(set() if action == "scale" else old_pids, expected)
        self.check_path(procs)

    def _dump_has(self):
        """Whether the saved process list (what the boot-time unit resurrects) has this app."""
        try:
            with open(os.path.join(self.pm2_home, "dump.pm2")) as handle:
                saved = json.load(handle)
        except (OSError, ValueError):
            return False
        return any(app.get("name") == self.p["name"] for app in saved if isinstance(app, dict))

    def _describe(self, procs):
        return {"name": self.p["name"], "instances": len(procs),
                "status": sorted({x["status"] for x in procs}), "cwd": sorted({x["cwd"] for x in procs if x["cwd"]})}

    def _predict(self, before, action):
        after = self._describe(before)
        if action in ("start", "restart", "reload", "scale"):
            after.update(status=["online"], instances=self.p["instances"] or max(len(before), 1))
        elif action == "stop":
            after["status"] = ["stopped"]
        elif action == "delete":
            after.update(instances=0, status=[], cwd=[])
        return after
