# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Talking to PM2: its executable, the environment it needs without a login shell, and what
`pm2 jlist` says (pm2 may print notices before the JSON)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import pwd
import time

from ansible_collections.boosterbeacon.infra.plugins.module_utils._runner import ModuleError

# Where npm's global binaries land on Debian; never rely on a login shell's PATH.
BIN_DIRS = ["/usr/local/bin", "/usr/bin", "/usr/local/lib/npm/bin"]
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def find_pm2(module, executable=None):
    path = executable or module.get_bin_path("pm2", required=False, opt_dirs=BIN_DIRS)
    if not path:
        raise ModuleError("Failed to find pm2: install it (npm install -g pm2, or the nodejs role) or set executable.")
    return path


def pm2_environ(user=None, pm2_home=None):
    """PM2_HOME and PATH for the PM2 daemon of ``user`` (default: ~user/.pm2)."""
    if not pm2_home:
        if user:
            try:
                home = pwd.getpwnam(user).pw_dir
            except KeyError:
                raise ModuleError("Failed to find user %s: create the account or fix the user option." % user)
        else:
            home = os.path.expanduser("~")
        pm2_home = os.path.join(home, ".pm2")
    return {"PM2_HOME": pm2_home, "PATH": SAFE_PATH}


def parse_jlist(output):
    """The JSON array `pm2 jlist` prints, skipping anything pm2 printed before it."""
    text = output.strip()
    for start in [i for i, line in enumerate(text.splitlines()) if line.lstrip().startswith("[")]:
        candidate = "\n".join(text.splitlines()[start:])
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, list):
            return data
    raise ModuleError("Failed to read pm2 jlist: no JSON list in its output: %s" % text[:300])


def summarize(process, now=None):
    """The facts a caller needs about one PM2 process (no environment: it holds secrets)."""
    env = process.get("pm2_env") or {}
    monit = process.get("monit") or {}
    now_ms = (time.time() if now is None else now) * 1000
    uptime = env.get("pm_uptime")
    return {
        "name": process.get("name"),
        "pm_id": process.get("pm_id"),
        "pid": process.get("pid"),
        "status": env.get("status"),
        "uptime": int((now_ms - uptime) / 1000) if uptime and env.get("status") == "online" else 0,
        "restarts": env.get("restart_time", 0),
        "unstable_restarts": env.get("unstable_restarts", 0),
        "memory": monit.get("memory", 0),
        "cpu": monit.get("cpu", 0),
        "exec_mode": env.get("exec_mode"),
        "instances": env.get("instances"),
        "cwd": env.get("pm_cwd"),
        "script": env.get("pm_exec_path"),
        "version": env.get("version"),
        "out_log": env.get("pm_out_log_path"),
        "err_log": env.get("pm_err_log_path"),
    }


def tail(path, lines=30):
    """Last lines of a file, or a note saying why there are none."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 65536))
            return handle.read().decode("utf-8", "replace").splitlines()[-lines:]
    except (OSError, TypeError) as exc:
        return ["(cannot read %s: %s)" % (path, exc)]
