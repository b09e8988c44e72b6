from __future__ import annotations

import json
import os
import subprocess

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


def test_parse_jlist_reads_a_list_a_new_daemon_followed_with_a_warning():
    # What pm2 7 prints, coloured, when jlist spawns the daemon and no app runs yet.
    spawned = ("\x1b[32m[PM2] \x1b[39mSpawning PM2 daemon with pm2_home=/srv/app/.pm2\n"
               "\x1b[32m[PM2] \x1b[39mPM2 Successfully daemonized\n"
               "[]\x1b[33m[PM2][WARN] \x1b[39mNo process found\n")
    assert _pm2.parse_jlist(spawned) == []
    assert _pm2.parse_jlist(json.dumps([PROC]) + "[PM2][WARN] later\n") == [PROC]


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


# -- app definitions: normalisation and comparison ---------------------------------------------

@pytest.mark.parametrize("value,words", [
    (None, []), ("", []), ([], []),
    ("--max-old-space-size=300 --enable-source-maps", ["--max-old-space-size=300", "--enable-source-maps"]),
    (["--inspect", 9229], ["--inspect", "9229"]),
    ('--title "two words" \'single quoted\'', ["--title", "two words", "single quoted"]),
    ('--conf="a b" --x=\'c d\'', ['--conf="a b"', "--x='c d'"]),
    ("  padded   ", ["padded"]),
    (42, ["42"]),
])
def test_split_args_like_pm2(value, words):
    assert _pm2.split_args(value) == words


@pytest.mark.parametrize("value,size", [
    (None, None), ("", None), (False, None), (314572800, 314572800), (1.5, 1),
    ("300", 300), ("300M", 300 * 1024 ** 2), ("1G", 1024 ** 3), ("512K", 512 * 1024), ("300m", 300 * 1024 ** 2),
    ("300MB", 300 * 1024 ** 2), (" 2G ", 2 * 1024 ** 3), ("1.5G", int(1.5 * 1024 ** 3)),
])
def test_to_bytes(value, size):
    assert _pm2.to_bytes(value) == size


@pytest.mark.parametrize("value", ["lots", "300T", True, "-1M"])
def test_to_bytes_rejects(value):
    with pytest.raises(ValueError, match="max_memory_restart"):
        _pm2.to_bytes(value)


@pytest.mark.parametrize("value,number", [(None, None), ("", None), (True, None), (5000, 5000), ("5000", 5000),
                                          (1.5, 1.5), ("8000.0", 8000), ("soon", "soon")])
def test_to_number(value, number):
    assert _pm2.to_number(value) == number


@pytest.mark.parametrize("value,mode", [("cluster", "cluster"), ("cluster_mode", "cluster"), ("fork_mode", "fork"),
                                        ("fork", "fork"), (None, None), ("", None)])
def test_exec_mode_of(value, mode):
    assert _pm2.exec_mode_of(value) == mode


@pytest.mark.parametrize("value,count", [(None, 1), ("", 1), (2, 2), ("3", 3), ("max", 4), (0, 4), (-1, 3),
                                         (-9, 1), ("many", 4), (2.0, 2)])
def test_instance_count(value, count):
    assert _pm2.instance_count(value, cpus=4) == count


def test_interpreter_rules():
    assert _pm2.interpreter_of(None, "app.js") == "node"
    assert _pm2.interpreter_of(None, "job.py") == "python"
    assert _pm2.interpreter_of(None, "server") == "node"
    assert _pm2.interpreter_of("/opt/node/bin/node", "app.js") == "/opt/node/bin/node"
    assert _pm2.same_interpreter("node", "/usr/bin/node")
    assert _pm2.same_interpreter("/usr/bin/node", "node")
    assert _pm2.same_interpreter("bash", "bash")
    assert not _pm2.same_interpreter("/usr/bin/node", "/opt/node18/bin/node")
    assert not _pm2.same_interpreter("node", "bun")
    assert not _pm2.same_interpreter("node", None)


def test_relative_script_keeps_symlinks(tmp_path):
    (tmp_path / "releases" / "r2").mkdir(parents=True)
    (tmp_path / "current").symlink_to("releases/r2")
    cwd = str(tmp_path / "current")
    assert _pm2.relative_script("app.js", cwd) == "app.js"
    assert _pm2.relative_script("./dist/../app.js", cwd) == "app.js"
    assert _pm2.relative_script(cwd + "/dist/server.js", cwd) == "dist/server.js"
    assert _pm2.relative_script(str(tmp_path / "releases" / "r2" / "app.js"), cwd) == "../releases/r2/app.js"
    assert _pm2.relative_script("app.js", None) == "app.js"
    assert _pm2.relative_script(None, cwd) is None


def test_pick_takes_the_names_pm2_accepts():
    assert _pm2.pick({"interpreter_args": "--a"}, "node_args") == "--a"
    assert _pm2.pick({"interpreterArgs": ["--b"]}, "node_args") == ["--b"]
    assert _pm2.pick({"node_args": "--c", "interpreter_args": "--a"}, "node_args") == "--c"
    assert _pm2.pick({"node_args": "", "nodeArgs": "--d"}, "node_args") == "--d"
    assert _pm2.pick({"cmd": "npm"}, "script") == "npm"
    assert _pm2.pick({"interpreter": "bash"}, "interpreter") == "bash"
    assert _pm2.pick({"maxMemoryRestart": "1G"}, "max_memory_restart") == "1G"
    assert _pm2.pick({"wait_ready": False}, "wait_ready") is False
    assert _pm2.pick({}, "args") is None


ENV = {"status": "online", "exec_mode": "cluster_mode", "instances": 2, "node_args": [], "exec_interpreter": "node",
       "pm_exec_path": "/srv/app/releases/r1/app.js", "pm_cwd": "/srv/app/releases/r1", "kill_timeout": 5000,
       "listen_timeout": 8000, "wait_ready": True, "max_memory_restart": 314572800, "args": None}
APP = {"name": "web", "script": "app.js", "exec_mode": "cluster", "instances": 2, "wait_ready": True,
       "listen_timeout": 8000, "kill_timeout": 5000, "max_memory_restart": "300M", "env": {"TOKEN": "x"}}


def wanted(app, cwd="/srv/app/releases/r2", **kw):
    kw.setdefault("exists", lambda path: True)
    return _pm2.wanted_definition(app, cwd, 4, **kw)


def test_running_definition_from_jlist_env():
    assert _pm2.running_definition([]) is None
    assert _pm2.running_definition([ENV, dict(ENV)]) == {
        "script": "app.js", "args": [], "exec_mode": "cluster", "instances": 2, "node_args": [],
        "interpreter": "node", "max_memory_restart": 314572800, "kill_timeout": 5000, "listen_timeout": 8000,
        "wait_ready": True}
    bare = _pm2.running_definition([{"pm_exec_path": "/bin/job", "exec_mode": "fork_mode", "node_args": "--x"}])
    assert bare["script"] == "/bin/job" and bare["exec_mode"] == "fork" and bare["node_args"] == ["--x"]
    assert bare["wait_ready"] is False and bare["kill_timeout"] is None and bare["instances"] == 1


def test_same_definition_in_another_release_is_no_change():
    running = _pm2.running_definition([ENV, ENV])
    assert _pm2.compare_definitions(running, wanted(APP)) == []
    # The same app written with aliases, strings and PM2's own spelling.
    alias = {"name": "web", "script": "/srv/app/releases/r2/app.js", "execMode": "cluster_mode", "instances": "2",
             "waitReady": True, "listenTimeout": "8000", "kill_timeout": 5000, "maxMemoryRestart": 314572800,
             "interpreter": "/usr/bin/node", "interpreter_args": ""}
    assert _pm2.compare_definitions(running, wanted(alias)) == []


def test_changes_are_listed_field_by_field():
    running = _pm2.running_definition([ENV, ENV])
    new = dict(APP, node_args="--max-old-space-size=200", instances=3, max_memory_restart="1G",
               script="dist/server.js", args="--port 3000", exec_mode="fork")
    del new["kill_timeout"]
    changes = _pm2.compare_definitions(running, wanted(new))
    assert [c["field"] for c in changes] == ["script", "args", "exec_mode", "instances", "node_args",
                                             "max_memory_restart", "kill_timeout"]
    assert changes[4] == {"field": "node_args", "running": [], "wanted": ["--max-old-space-size=200"]}
    assert changes[5] == {"field": "max_memory_restart", "running": 314572800, "wanted": 1024 ** 3}
    assert changes[6] == {"field": "kill_timeout", "running": 5000, "wanted": None}
    assert _pm2.compare_definitions(None, wanted(APP))[0] == {"field": "script", "running": None, "wanted": "app.js"}


def test_wanted_defaults_like_pm2():
    # No exec_mode: cluster when the file sets instances (any count) for a node script, else fork.
    assert wanted({"script": "app.js"})["exec_mode"] == "fork"
    assert wanted({"script": "app.js"})["instances"] == 1
    for count, expect in ((2, 2), ("max", 4), (0, 4), (-1, 3), ("2", 2), ("x", 4)):
        got = wanted({"script": "app.js", "instances": count})
        assert (got["exec_mode"], got["instances"]) == ("cluster", expect)
    assert wanted({"script": "job.py", "instances": 2})["exec_mode"] == "fork"
    assert wanted({"script": "app.js", "instances": -3})["exec_mode"] == "fork"
    assert wanted({"script": "app.js", "interpreter": "/opt/bun/bin/bun", "instances": 2})["exec_mode"] == "cluster"
    # The module's instances option overrides the file's count (and so picks cluster mode).
    assert wanted({"script": "app.js"}, instances=3)["instances"] == 3
    assert wanted({"script": "app.js"}, instances=3)["exec_mode"] == "cluster"
    assert wanted({"script": "app.js", "wait_ready": 0})["wait_ready"] is False


def test_wanted_script_on_the_path_like_pm2():
    found = wanted({"script": "npm", "args": "start"}, exists=lambda path: False,
                   which=lambda cmd, path: "/usr/bin/" + cmd if cmd == "npm" and "/usr/bin" in path else None)
    assert found["script"] == "../../../../usr/bin/npm" and found["args"] == ["start"]
    running = _pm2.running_definition([{"pm_exec_path": "/usr/bin/npm", "pm_cwd": "/srv/app/releases/r2",
                                        "exec_interpreter": "node", "args": ["start"], "exec_mode": "fork_mode"}])
    assert _pm2.compare_definitions(running, found) == []
    missing = wanted({"script": "gone.js"}, exists=lambda path: False, which=lambda cmd, path: None)
    assert missing["script"] == "gone.js"


def test_which_searches_the_given_path(tmp_path):
    tool = tmp_path / "bin" / "tool"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    assert _pm2._which("tool", "/nonexistent:" + str(tool.parent)) == str(tool)
    assert _pm2._which("absent", str(tool.parent)) is None
    got = _pm2.wanted_definition({"script": "tool"}, str(tmp_path), 1, search=str(tool.parent))
    assert got["script"] == "bin/tool"


def test_renamed_app_writes_out_what_pm2_would_use():
    app = {"name": "web", "cmd": "npm", "args": "start", "env": {"A": "1"}}
    copy = _pm2.renamed_app(app, "web-handover", "/srv/app/releases/r2", instances=3)
    assert copy == {"name": "web-handover", "script": "npm", "args": "start", "env": {"A": "1"},
                    "cwd": "/srv/app/releases/r2", "instances": 3}
    assert app["name"] == "web" and "cwd" not in app
    same = _pm2.renamed_app({"name": "web", "script": "a.js", "exec": "b.js"}, "web", None)
    assert same == {"name": "web", "script": "a.js"}


def test_find_node(tmp_path):
    (tmp_path / "pm2bin").mkdir()
    (tmp_path / "safe").mkdir()
    exe = set()
    is_exe = exe.__contains__
    pm2 = str(tmp_path / "pm2bin" / "pm2")
    exe.add(str(tmp_path / "safe" / "node"))
    assert _pm2.find_node(pm2, search=str(tmp_path / "safe"), is_exe=is_exe) == str(tmp_path / "safe" / "node")
    exe.add(str(tmp_path / "pm2bin" / "node"))
    assert _pm2.find_node(pm2, search=str(tmp_path / "safe"), is_exe=is_exe) == str(tmp_path / "pm2bin" / "node")
    real = tmp_path / "real"
    real.mkdir()
    (real / "node").write_text("#!/bin/sh\n")
    (real / "node").chmod(0o755)
    assert _pm2.find_node(str(real / "pm2"), search="/nonexistent") == str(real / "node")
    with pytest.raises(ModuleError, match="Failed to find node beside /x/pm2"):
        _pm2.find_node("/x/pm2", search="/nonexistent", is_exe=lambda path: False)


def test_parse_evaluation():
    out = "ecosystem says hello\n%s%s\n" % (_pm2.EVAL_MARK, json.dumps({"app": APP, "cwd": "/c", "names": ["web"]}))
    assert _pm2.parse_evaluation(out, "web", "/e.js") == (APP, "/c")
    with pytest.raises(ModuleError, match="Failed to find the app web in /e.js: it defines api, worker"):
        _pm2.parse_evaluation(_pm2.EVAL_MARK + json.dumps({"app": None, "names": ["api", None, "worker"]}),
                              "web", "/e.js")
    with pytest.raises(ModuleError, match="it defines no app"):
        _pm2.parse_evaluation(_pm2.EVAL_MARK + "[]", "web", "/e.js")
    with pytest.raises(ModuleError, match="no result in the output of node: boom"):
        _pm2.parse_evaluation("boom", "web", "/e.js")
    with pytest.raises(ModuleError, match="no result"):
        _pm2.parse_evaluation(_pm2.EVAL_MARK + "{not json", "web", "/e.js")


# The evaluation script itself, run by the node of this machine.
NODE = next((os.path.join(d, "node") for d in _pm2.SAFE_PATH.split(":") if os.access(os.path.join(d, "node"), os.X_OK)),
            None)


def evaluate(tmp_path, filename, text, name="web", env=None, cwd=None):
    path = tmp_path / filename
    path.write_text(text)
    proc = subprocess.run([NODE, "-", str(path), name, str(tmp_path)], input=_pm2.EVAL_JS, text=True,
                          capture_output=True, env=dict(os.environ, **(env or {})), cwd=cwd or str(tmp_path), check=False)
    assert proc.returncode == 0, proc.stderr
    return _pm2.parse_evaluation(proc.stdout, name, str(path))


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_eval_js_reads_every_form_pm2_reads(tmp_path):
    (tmp_path / "rel").mkdir()
    js = """console.log('noise from the file');
module.exports = { apps: [{ name: 'api', script: 'api.js' },
  { name: 'web', script: 'app.js', node_args: process.env.NODE_ARGS, instances: 2 }] };"""
    app, cwd = evaluate(tmp_path, "a.config.js", js, env={"NODE_ARGS": "--max-old-space-size=200"},
                        cwd=str(tmp_path / "rel"))
    assert app["node_args"] == "--max-old-space-size=200" and cwd == str(tmp_path / "rel")
    app, cwd = evaluate(tmp_path, "b.config.js", "module.exports = [{ name: 'web', script: 'a.js', cwd: 'rel' }];")
    assert cwd == str(tmp_path / "rel")
    app = evaluate(tmp_path, "c.config.js", "module.exports = { script: 'web.js' };")[0]
    assert app == {"script": "web.js"}
    app = evaluate(tmp_path, "d.json", '{"apps": [{"name": "web", "script": "a.js", "instances": 4}]}')[0]
    assert app["instances"] == 4
    app = evaluate(tmp_path, "e.config.js", "module.exports = { pm2: [{ name: 'web', script: 'a.js' }] };")[0]
    assert app["script"] == "a.js"
    app = evaluate(tmp_path, "f.config.mjs", "export default { apps: [{ name: 'web', script: 'm.js' }] };")[0]
    assert app["script"] == "m.js"
    # YAML through the js-yaml that PM2 ships (here a stand-in that reads JSON).
    (tmp_path / "node_modules" / "js-yaml").mkdir(parents=True)
    (tmp_path / "node_modules" / "js-yaml" / "index.js").write_text("exports.load = (text) => JSON.parse(text);")
    app = evaluate(tmp_path, "h.yml", '{"apps": [{"name": "web", "script": "y.js"}]}')[0]
    assert app["script"] == "y.js"
    with pytest.raises(ModuleError, match="it defines api"):
        evaluate(tmp_path, "g.config.js", "module.exports = { apps: [{ name: 'api', script: 'a.js' }] };")


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_eval_js_fails_on_a_broken_file(tmp_path):
    path = tmp_path / "broken.config.js"
    path.write_text("module.exports = {")
    proc = subprocess.run([NODE, "-", str(path), "web", str(tmp_path)], input=_pm2.EVAL_JS, text=True,
                          capture_output=True, cwd=str(tmp_path), check=False)
    assert proc.returncode == 2 and "SyntaxError" in proc.stderr
