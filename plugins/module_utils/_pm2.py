# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Talking to PM2: its executable, the environment it needs without a login shell, and its process
list (asked of the daemon over its socket, or what `pm2 jlist` prints: pm2 may print notices
before the JSON)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import pwd
import re
import time

from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import pm2_jlist, pm2_list
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
    """The JSON array `pm2 jlist` prints, without what pm2 printed around it."""
    try:
        return pm2_jlist(output)
    except ValueError as exc:
        raise ModuleError("Failed to read pm2 jlist: %s" % exc)


def list_processes(runner, pm2_bin, pm2_home):
    """Every process PM2 runs, as `pm2 jlist` prints them. A running daemon is asked over its
    socket: `pm2 jlist` starts Node.js and PM2's CLI for the same request (about 0.3 s of CPU),
    and the modules read the list every second while they wait for an app. Without an answering
    daemon, `pm2 jlist` runs (recorded in ``commands``; it starts the daemon, as before)."""
    try:
        return pm2_list(pm2_home)
    except (OSError, ValueError):
        _rc, out, _err = runner.run([pm2_bin, "jlist"], what="list PM2 processes")
        return parse_jlist(out)


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


# -- app definitions ---------------------------------------------------------------------------
# `pm2 reload` only applies new environment values: everything below stays as PM2 first started
# the app. These helpers compare what an ecosystem file asks for with what PM2 runs, both reduced
# to one comparable form (the way PM2 itself reads an ecosystem file: its aliases, its splitting
# of argument strings, its byte units, its choice of exec mode and instance count).

DEFINITION_FIELDS = ("script", "args", "exec_mode", "instances", "node_args", "interpreter",
                     "max_memory_restart", "kill_timeout", "listen_timeout", "wait_ready")

# Names PM2 accepts for each setting in an ecosystem file, the canonical one first.
ALIASES = {
    "script": ("script", "exec", "cmd", "command"),
    "args": ("args",),
    "exec_mode": ("exec_mode", "execMode"),
    "instances": ("instances",),
    "node_args": ("node_args", "interpreter_args", "interpreterArgs", "nodeArgs"),
    "interpreter": ("exec_interpreter", "interpreter", "execInterpreter"),
    "max_memory_restart": ("max_memory_restart", "maxMemoryRestart"),
    "kill_timeout": ("kill_timeout", "killTimeout"),
    "listen_timeout": ("listen_timeout", "listenTimeout"),
    "wait_ready": ("wait_ready", "waitReady"),
}

# PM2's default interpreter by script extension (anything else runs with node).
EXT_INTERPRETERS = {".sh": "bash", ".py": "python", ".rb": "ruby", ".php": "php", ".pl": "perl",
                    ".js": "node", ".coffee": "coffee", ".ls": "lsc", ".ts": "bun", ".tsx": "bun"}

_UNITS = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}
# How PM2 splits an argument string: key="a b", key='a b', "a b", 'a b', or a plain word.
_ARG_RE = re.compile(r"""[^\s"'=]+="[^"]*"|[^\s"'=]+='[^']*'|"[^"]*"|'[^']*'|\S+""")

# Printed before the JSON the evaluation script writes, so an ecosystem file's own output is skipped.
EVAL_MARK = "@@pm2-app-definition@@"

# Evaluates an ecosystem file the way `pm2 start <file>` reads it, and prints the app called
# argv[2] with the working directory PM2 would give it. Run with the pm2 command's environment
# and working directory, so process.env reads and relative paths give what PM2 sees (PM2 itself
# resolves a relative cwd, and defaults it to the directory the pm2 command runs in).
EVAL_JS = r"""
'use strict';
const path = require('path');
const fs = require('fs');
// Read from stdin (node - FILE NAME PM2_DIR): argv[1] is '-'.
const file = path.resolve(process.argv[2]);
const name = process.argv[3];
const pm2dir = process.argv[4];
async function load() {
  if (file.includes('.json')) {
    return require('vm').runInThisContext('(' + fs.readFileSync(file, 'utf8') + ')');
  }
  if (file.includes('.yml') || file.includes('.yaml')) {
    const yaml = require(require.resolve('js-yaml', { paths: [pm2dir] }));
    return yaml.load(fs.readFileSync(file, 'utf8'));
  }
  if (file.endsWith('.mjs')) {
    return (await import(require('url').pathToFileURL(file).href)).default;
  }
  return require(file);
}
function appName(app) {
  if (app.name) return String(app.name);
  const script = app.script || app.exec || app.cmd || app.command;
  if (!script) return null;
  const base = path.basename(String(script));
  return base.lastIndexOf('.') > 0 ? base.slice(0, base.lastIndexOf('.')) : base;
}
load().then((config) => {
  let apps = config && (config.apps || config.pm2) || config;
  apps = [].concat(apps || []).filter((app) => app && typeof app === 'object');
  const app = apps.find((a) => appName(a) === name) || null;
  const cwd = app ? (app.cwd ? path.resolve(String(app.cwd)) : process.cwd()) : null;
  process.stdout.write('\n' + MARK + JSON.stringify({ app, cwd, names: apps.map(appName) }) + '\n');
}).catch((err) => {
  process.stderr.write(String((err && err.stack) || err) + '\n');
  process.exit(2);
});
""".replace("MARK", json.dumps(EVAL_MARK))


def find_node(pm2_bin, search=None, is_exe=None):
    """The node beside pm2 (npm puts both in the same bin directory), else the first on the safe PATH."""
    is_exe = is_exe or (lambda path: os.path.isfile(path) and os.access(path, os.X_OK))
    dirs = [os.path.dirname(pm2_bin)] + (search or SAFE_PATH).split(os.pathsep)
    for directory in dirs:
        candidate = os.path.join(directory, "node")
        if directory and is_exe(candidate):
            return candidate
    raise ModuleError("Failed to find node beside %s or in %s: install Node.js (the nodejs role)."
                      % (pm2_bin, search or SAFE_PATH))


def parse_evaluation(output, name, ecosystem):
    """The app definition and cwd the evaluation script printed; fails when the file lacks the app."""
    for line in reversed(output.splitlines()):
        if line.startswith(EVAL_MARK):
            try:
                data = json.loads(line[len(EVAL_MARK):])
            except ValueError:
                break
            if not isinstance(data, dict) or not isinstance(data.get("app"), dict):
                names = [str(n) for n in (data.get("names") or []) if n] if isinstance(data, dict) else []
                raise ModuleError("Failed to find the app %s in %s: it defines %s." % (
                    name, ecosystem, ", ".join(names) if names else "no app"))
            return data["app"], data.get("cwd")
    raise ModuleError("Failed to read the app definition of %s from %s: no result in the output of node: %s"
                      % (name, ecosystem, output.strip()[-300:]))


def pick(app, field):
    """The value of ``field`` under any of the names PM2 accepts (the canonical name wins)."""
    for key in ALIASES[field]:
        value = app.get(key)
        if value is not None and value != "":
            return value
    return None


def split_args(value):
    """Arguments as a list of strings; a string is split the way PM2 splits it (quotes group words)."""
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    if not isinstance(value, str):
        return [str(value)]
    words = []
    for word in _ARG_RE.findall(value):
        if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'":
            word = word[1:-1]
        if word.strip():
            words.append(word)
    return words


def to_bytes(value):
    """A memory limit in bytes: a number, or '300M', '1G', '512K' (PM2's units of 1024)."""
    if value is None or value == "" or value is False:
        return None
    if isinstance(value, bool):
        raise ValueError("max_memory_restart: %r is not a size" % (value,))
    if isinstance(value, (int, float)):
        return int(value)
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]?)B?\s*$", str(value), re.IGNORECASE)
    if not match:
        raise ValueError("max_memory_restart: %r is not a size (a number of bytes, or a number followed by K, M or G)"
                         % (value,))
    return int(float(match.group(1)) * _UNITS.get(match.group(2).upper(), 1))


def to_number(value):
    """A millisecond setting as PM2 keeps it: numeric strings become numbers, whole numbers ints."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    return int(number) if number == int(number) else number


def exec_mode_of(value):
    """'cluster' or 'fork' from cluster, cluster_mode, fork or fork_mode."""
    if not value:
        return None
    return re.sub(r"_mode$", "", str(value))


def _node_like(interpreter):
    base = os.path.basename(interpreter or "")
    return base.endswith("node") or base.endswith("bun")


def instance_count(value, cpus):
    """How many instances PM2 starts: 'max' or 0 mean one per CPU, -N one per CPU less N, at least one."""
    if value is None or value == "":
        return 1
    if value == "max":
        count = 0
    else:
        try:
            count = int(float(value))
        except (TypeError, ValueError):
            count = 0
    if count == 0:
        count = cpus
    elif count < 0:
        count += cpus
    return max(count, 1)


def interpreter_of(value, script):
    """The interpreter PM2 runs the script with: the one given, else PM2's choice by extension."""
    if value:
        return str(value)
    return EXT_INTERPRETERS.get(os.path.splitext(script or "")[1], "node")


def same_interpreter(running, wanted):
    """Equal, or one side is a bare command name (such as node) and the other a path to it."""
    if running == wanted:
        return True
    if not running or not wanted:
        return False
    bare = [v for v in (running, wanted) if "/" not in v]
    return len(bare) == 1 and os.path.basename(running) == os.path.basename(wanted)


def relative_script(script, cwd):
    """A script path relative to the app's working directory (symlinks left as they are)."""
    if not script:
        return None
    if not cwd:
        return os.path.normpath(script)
    return os.path.relpath(os.path.normpath(os.path.join(cwd, script)), cwd)


def wanted_definition(app, cwd, cpus, instances=None, search=None, exists=None, which=None):
    """What PM2 would run for an ecosystem app (``instances`` overrides the file's count).

    ``cwd`` is the working directory PM2 would give the app; a script that does not exist there and
    has no directory part is looked up on ``search`` (PM2 does the same: `script: 'npm'`)."""
    exists = exists or os.path.exists
    which = which or _which
    script = pick(app, "script")
    script = str(script) if script is not None else None
    if script and cwd and os.sep not in script and not exists(os.path.join(cwd, script)):
        found = which(script, search or SAFE_PATH)
        if found:
            script = found
    count = instances if instances is not None else pick(app, "instances")
    interpreter = interpreter_of(pick(app, "interpreter"), script)
    mode = exec_mode_of(pick(app, "exec_mode"))
    if not mode:
        # PM2 runs node apps in cluster mode when the file sets instances (any number), else fork.
        pre = count
        if pre == "max":
            pre = 0
        elif isinstance(pre, str):
            try:
                pre = int(pre)
            except ValueError:
                pre = 0
        mode = "cluster" if pre is not None and (pre >= 1 or pre in (0, -1)) and _node_like(interpreter) else "fork"
    return {
        "script": relative_script(script, cwd),
        "args": split_args(pick(app, "args")),
        "exec_mode": mode,
        "instances": instance_count(count, cpus),
        "node_args": split_args(pick(app, "node_args")),
        "interpreter": interpreter,
        "max_memory_restart": to_bytes(pick(app, "max_memory_restart")),
        "kill_timeout": to_number(pick(app, "kill_timeout")),
        "listen_timeout": to_number(pick(app, "listen_timeout")),
        "wait_ready": bool(pick(app, "wait_ready")),
    }


def _which(cmd, search):
    for directory in search.split(os.pathsep):
        candidate = os.path.join(directory, cmd)
        if directory and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def running_definition(envs):
    """What PM2 runs, from the pm2_env of every instance of one app (`pm2 jlist` or dump.pm2)."""
    if not envs:
        return None
    env = envs[0]
    script = env.get("pm_exec_path")
    cwd = env.get("pm_cwd")
    return {
        "script": os.path.relpath(script, cwd) if script and cwd else script,
        "args": split_args(env.get("args")),
        "exec_mode": exec_mode_of(env.get("exec_mode")),
        "instances": len(envs),
        "node_args": split_args(env.get("node_args")),
        "interpreter": interpreter_of(env.get("exec_interpreter"), script),
        "max_memory_restart": to_bytes(env.get("max_memory_restart")),
        "kill_timeout": to_number(env.get("kill_timeout")),
        "listen_timeout": to_number(env.get("listen_timeout")),
        "wait_ready": bool(env.get("wait_ready")),
    }


def compare_definitions(running, wanted):
    """Fields whose values differ, in DEFINITION_FIELDS order: [{field, running, wanted}]."""
    changes = []
    for field in DEFINITION_FIELDS:
        have, want = (running or {}).get(field), (wanted or {}).get(field)
        same = same_interpreter(have, want) if field == "interpreter" else have == want
        if not same:
            changes.append({"field": field, "running": have, "wanted": want})
    return changes


def renamed_app(app, name, cwd, instances=None):
    """The evaluated app under another name, with the working directory PM2 gave it written out
    (a JSON ecosystem file started from elsewhere keeps cwd and script as given)."""
    copy = dict(app)
    for key in ALIASES["script"][1:]:
        if key in copy and "script" not in copy:
            copy["script"] = copy[key]
        copy.pop(key, None)
    copy["name"] = name
    if cwd:
        copy["cwd"] = cwd
    if instances is not None:
        copy["instances"] = instances
    return copy
