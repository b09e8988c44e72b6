# health_probe through main(): a real HTTP server on loopback, a closed port, scripted Redis,
# PostgreSQL and PM2 answers.
from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from ansible_collections.boosterbeacon.infra.plugins.module_utils import _health_probe as hp
from ansible_collections.boosterbeacon.infra.plugins.module_utils import _pgwire
from ansible_collections.boosterbeacon.infra.plugins.modules import health_probe


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/ready":
            code, body = 200, {"status": "ready", "checks": {"postgres": {"ok": True}}}
        elif self.path == "/down":
            code, body = 503, {"status": "not_ready", "failing": ["postgres"]}
        else:
            code, body = 404, {}
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def http_url():
    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()


def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture(autouse=True)
def no_pm2_daemon_at_home(monkeypatch, tmp_path):
    """A home whose ~/.pm2 has no daemon: a pm2 check that names no PM2 home runs `pm2 jlist`."""
    monkeypatch.setenv("HOME", str(tmp_path))


def probe(run_module, checks, **kw):
    args = dict(checks=checks, retries=2, delay=0, timeout=2)
    args.update(kw)
    return run_module(health_probe, args)


def test_http_json_passes(run_module, http_url):
    result = probe(run_module, [{"type": "http", "url": http_url + "/ready",
                                 "json": {"status": "ready", "checks.postgres.ok": True}}])
    assert result["ok"] is True and result["changed"] is False
    assert result["checks"][0]["attempts"] == 1 and result["checks"][0]["http_status"] == 200


def test_http_503_fails_after_retries_with_hint_and_log_tail(run_module, http_url, tmp_path):
    log = tmp_path / "app-error.log"
    log.write_text("boot\nError: connect ECONNREFUSED 127.0.0.1:5432\n")
    result = probe(run_module, [{"type": "http", "url": http_url + "/down", "name": "ready"}],
                   retries=3, log_files=[str(log)])
    assert result["failed"] is True
    check = result["checks"][0]
    assert check["attempts"] == 3 and check["http_status"] == 503
    assert "not_ready" in check["error"] and "/ready's JSON" in check["hint"]
    assert result["log_tail"][str(log)][-1].endswith("ECONNREFUSED 127.0.0.1:5432")
    assert result["msg"].startswith("Failed health checks: ready: HTTP 503")


@pytest.mark.parametrize("check,error", [
    ({"json": {"status": "down"}}, "JSON field status is 'ready', expected 'down'"),
    ({"json": {"nope.x": 1}}, "JSON field nope.x missing"),
    ({"body_contains": "zebra"}, "body lacks 'zebra'"),
    ({"status": [204]}, "HTTP 200 (expected [204])"),
])
def test_http_expectations(run_module, http_url, check, error):
    check.update(type="http", url=http_url + "/ready")
    result = probe(run_module, [check], fail_on_error=False)
    assert result["ok"] is False and error in result["checks"][0]["error"]


def test_latency_limit(run_module, http_url, monkeypatch):
    ticks = iter(range(0, 10000, 1))
    monkeypatch.setattr(hp.time, "monotonic", lambda: next(ticks))
    result = probe(run_module, [{"type": "http", "url": http_url + "/ready", "max_latency_ms": 10}],
                   fail_on_error=False, retries=1)
    assert "over the 10 ms limit" in result["checks"][0]["error"]


def test_unreachable_http_and_tcp(run_module):
    port = closed_port()
    result = probe(run_module, [{"type": "http", "url": "http://u:pw-secret-9@127.0.0.1:%d/" % port},
                                {"type": "tcp", "host": "127.0.0.1", "port": port}], fail_on_error=False)
    http, tcp = result["checks"]
    assert "cannot reach http://***:***@127.0.0.1" in http["error"] and "pw-secret-9" not in json.dumps(result)
    assert "Nothing answers" in http["hint"]
    assert "cannot connect" in tcp["error"] and "systemctl status" in tcp["hint"]


def test_tcp_ok(run_module, http_url):
    port = int(http_url.rsplit(":", 1)[1])
    assert probe(run_module, [{"type": "tcp", "host": "127.0.0.1", "port": port}])["ok"] is True


def test_postgres_error_hint_and_no_password_in_output(run_module, monkeypatch):
    def refuse(*args, **kw):
        raise _pgwire.PgError('FATAL: password authentication failed for user "app"', "28P01")
    monkeypatch.setattr(_pgwire, "query", refuse)
    result = probe(run_module, [{"type": "postgres", "user": "app", "password": "pg-secret-1"}])
    assert result["failed"] is True
    check = result["checks"][0]
    assert "password authentication failed" in check["error"] and "pg_hba.conf" in check["hint"]
    assert "pg-secret-1" not in json.dumps(result)


def raiser(exc):
    def fail(*args, **kwargs):
        raise exc
    return fail


def test_postgres_ok_and_other_failures(run_module, monkeypatch):
    monkeypatch.setattr(_pgwire, "query", lambda *a, **k: [["1"]])
    assert probe(run_module, [{"type": "postgres", "user": "app"}])["ok"] is True
    monkeypatch.setattr(_pgwire, "query", raiser(_pgwire.PgError("FATAL: no db", "3D000")))
    assert "does not exist" in probe(run_module, [{"type": "postgres", "user": "app"}], fail_on_error=False)["checks"][0]["hint"]
    monkeypatch.setattr(_pgwire, "query", raiser(OSError("refused")))
    assert "systemctl status postgresql" in probe(run_module, [{"type": "postgres", "user": "a"}], fail_on_error=False)["checks"][0]["hint"]
    monkeypatch.setattr(_pgwire, "query", lambda *a, **k: [["2"]])
    assert "returned" in probe(run_module, [{"type": "postgres", "user": "a"}], fail_on_error=False)["checks"][0]["error"]


class FakeRedis:
    def __init__(self, answers):
        self.answers = list(answers)
        self.sent = []

    def sendall(self, data):
        self.sent.append(data)

    def recv(self, _n):
        return self.answers.pop(0) if self.answers else b""

    def close(self):
        pass


def test_redis_auth_and_ping(run_module, monkeypatch):
    fake = FakeRedis([b"+OK\r\n", b"+PONG\r\n"])
    monkeypatch.setattr(hp.socket, "create_connection", lambda addr, timeout: fake)
    result = probe(run_module, [{"type": "redis", "username": "app", "password": "redis-pw"}])
    assert result["ok"] is True
    assert fake.sent[0] == b"*3\r\n$4\r\nAUTH\r\n$3\r\napp\r\n$8\r\nredis-pw\r\n"
    assert fake.sent[1] == b"*1\r\n$4\r\nPING\r\n"


def test_redis_wrongpass(run_module, monkeypatch):
    monkeypatch.setattr(hp.socket, "create_connection",
                        lambda addr, timeout: FakeRedis([b"-WRONGPASS invalid username-password pair\r\n"]))
    result = probe(run_module, [{"type": "redis", "password": "x"}], fail_on_error=False, retries=1)
    assert "WRONGPASS" in result["checks"][0]["error"] and "ACL" in result["checks"][0]["hint"]
    monkeypatch.setattr(hp.socket, "create_connection", lambda addr, timeout: FakeRedis([b"$1\r\n"]))
    assert "PING answered" in probe(run_module, [{"type": "redis"}], fail_on_error=False)["checks"][0]["error"]
    monkeypatch.setattr(hp.socket, "create_connection", lambda addr, timeout: FakeRedis([]))
    assert "closed" in probe(run_module, [{"type": "redis"}], fail_on_error=False)["checks"][0]["error"]


def test_redis_unreachable(run_module):
    result = probe(run_module, [{"type": "redis", "port": closed_port()}], fail_on_error=False)
    assert "cannot connect to Redis" in result["checks"][0]["error"]


def jlist(*statuses):
    return json.dumps([{"name": "web", "pm_id": i, "pid": 10 + i,
                        "pm2_env": {"status": s, "restart_time": 0}, "monit": {"memory": 1, "cpu": 0}}
                       for i, s in enumerate(statuses)])


def test_pm2_checks(run_module, fake_commands, monkeypatch):
    fake_commands.table[("/usr/bin/pm2", "jlist")] = (0, jlist("online", "online"), "")
    ok = probe(run_module, [{"type": "pm2", "app": "web", "min_instances": 2}])
    # The pm2 check's command is recorded like every other.
    assert ok["ok"] is True and ok["commands"] == ["/usr/bin/pm2 jlist"]
    assert fake_commands.calls[0] == ["/usr/bin/pm2", "jlist"]
    fake_commands.table[("/usr/bin/pm2", "jlist")] = (0, jlist("online", "errored"), "")
    bad = probe(run_module, [{"type": "pm2", "app": "web"}], fail_on_error=False)
    assert "1 of 2 instances not online: 1 is errored" in bad["checks"][0]["error"]
    assert "pm2 logs web --err" in bad["checks"][0]["hint"]
    fake_commands.table[("/usr/bin/pm2", "jlist")] = (0, jlist("online"), "")
    few = probe(run_module, [{"type": "pm2", "app": "web", "min_instances": 2}], fail_on_error=False)
    assert "expected at least 2" in few["checks"][0]["error"]
    # 0: as many as the host has CPUs.
    monkeypatch.setattr("os.cpu_count", lambda: 3)
    per_cpu = probe(run_module, [{"type": "pm2", "app": "web", "min_instances": 0}], fail_on_error=False)
    assert "1 instances online, expected at least 3" in per_cpu["checks"][0]["error"]
    none = probe(run_module, [{"type": "pm2", "app": "api"}], fail_on_error=False)
    assert "no PM2 process named api" in none["checks"][0]["error"]
    fake_commands.table[("/usr/bin/pm2", "jlist")] = (1, "", "daemon not running")
    assert "pm2 jlist failed" in probe(run_module, [{"type": "pm2", "app": "web"}], fail_on_error=False)["checks"][0]["error"]


def test_pm2_check_asks_a_running_daemon_over_its_socket(run_module, fake_commands, pm2_daemon):
    # No `pm2 jlist` (Node.js and PM2's CLI started for one request) while the daemon answers.
    pm2_daemon.processes = json.loads(jlist("online", "online"))
    check = {"type": "pm2", "app": "web", "min_instances": 2, "pm2_home": pm2_daemon.home}
    ok = probe(run_module, [check])
    assert ok["ok"] is True and ok["commands"] == [] and fake_commands.calls == []
    assert pm2_daemon.requests[0][0]["method"] == "getMonitorData"
    assert ok["checks"][0]["instances"][1]["status"] == "online"
    pm2_daemon.processes = json.loads(jlist("online", "errored"))
    bad = probe(run_module, [check], fail_on_error=False, retries=1)
    assert "1 of 2 instances not online: 1 is errored" in bad["checks"][0]["error"]
    # A daemon that answers with an error: `pm2 jlist` runs instead, and is recorded.
    pm2_daemon.answer = lambda request: [b"j:" + json.dumps({"error": "busy"}).encode(), b"s:" + request[1].encode()]
    fake_commands.table[("/usr/bin/pm2", "jlist")] = (0, jlist("online", "online"), "")
    fallback = probe(run_module, [check])
    assert fallback["ok"] is True and fallback["commands"] == ["/usr/bin/pm2 jlist"]


def test_failure_tails_the_logs_pm2_reports(run_module, fake_commands, tmp_path):
    out, err = tmp_path / "custom-out.log", tmp_path / "custom-err.log"
    out.write_text("listening\n")
    err.write_text("boom\nTypeError: x is undefined\n")
    procs = json.loads(jlist("errored"))
    procs[0]["pm2_env"].update(pm_out_log_path=str(out), pm_err_log_path=str(err))
    fake_commands.table[("/usr/bin/pm2", "jlist")] = (0, json.dumps(procs), "")
    result = probe(run_module, [{"type": "pm2", "app": "web"}], fail_on_error=False, retries=1)
    assert list(result["log_tail"]) == [str(err), str(out)]
    assert result["log_tail"][str(err)][-1] == "TypeError: x is undefined"


def test_pm2_as_user_uses_runuser(run_module, fake_commands):
    fake_commands.table[("runuser",)] = (0, jlist("online"), "")
    fake_commands.table[("/usr/bin/pm2", "jlist")] = (0, jlist("online"), "")
    # PM2 homes without a daemon: `pm2 jlist` runs (not a PM2 of this machine's root).
    result = probe(run_module, [{"type": "pm2", "app": "web", "pm2_user": "root", "pm2_home": "/nonexistent/pm2"},
                                {"type": "pm2", "app": "web", "pm2_home": "/nonexistent/pm2"}],
                   fail_on_error=False, retries=1)
    assert fake_commands.calls[0] == ["runuser", "-u", "root", "--", "/usr/bin/pm2", "jlist"]
    # Both pm2 checks, each as the user it ran as, in the order they ran.
    assert result["commands"] == ["runuser -u root -- /usr/bin/pm2 jlist", "/usr/bin/pm2 jlist"]


def test_pm2_check_for_an_unknown_user_fails_clearly(run_module, fake_commands):
    result = probe(run_module, [{"type": "pm2", "app": "web", "pm2_user": "no-such-user-x"}])
    assert result["failed"] is True and result["msg"].startswith("Failed to find user no-such-user-x")


def test_command_checks(run_module, fake_commands):
    fake_commands.table[("systemctl", "is-active")] = (0, "active\n", "")
    assert probe(run_module, [{"type": "command", "argv": ["systemctl", "is-active", "nginx"],
                               "stdout_contains": "active"}])["ok"] is True
    fake_commands.table[("systemctl", "is-active")] = (3, "inactive\n", "")
    failed = probe(run_module, [{"type": "command", "argv": ["systemctl", "is-active", "nginx"]}], fail_on_error=False)
    assert "exited 3" in failed["checks"][0]["error"] and "by hand" in failed["checks"][0]["hint"]
    fake_commands.table[("systemctl", "is-active")] = (0, "activating\n", "")
    lacks = probe(run_module, [{"type": "command", "argv": ["systemctl", "is-active", "x"], "stdout_contains": "zzz"}],
                  fail_on_error=False)
    assert "output lacks" in lacks["checks"][0]["error"]


def test_missing_field_names_the_check(run_module):
    result = probe(run_module, [{"type": "http", "url": "http://x"}, {"type": "pm2", "name": "workers"}])
    assert result["failed"] is True
    assert result["msg"] == "Failed to use checks[1] (workers): pm2 check needs app."


def test_unknown_type_is_refused(run_module):
    assert "value of type must be one of" in probe(run_module, [{"type": "smtp"}])["msg"]


def test_check_names():
    assert hp.check_name({"type": "redis"}) == "redis 127.0.0.1:6379"
    assert hp.check_name({"type": "command", "argv": ["a", "b"]}) == "command a b"
    assert hp.lookup({"a": [{"b": 1}]}, "a.0.b") == 1


def test_soft_failure_is_not_a_task_failure(run_module):
    result = probe(run_module, [{"type": "tcp", "host": "127.0.0.1", "port": closed_port()}], fail_on_error=False)
    assert "failed" not in result
    assert result["ok"] is False and result["failed_checks"] == ["tcp 127.0.0.1:%s" % result["checks"][0]["name"].rsplit(":", 1)[1]]


def test_non_blocking_failure_only_warns(run_module):
    port = closed_port()
    result = probe(run_module, [{"type": "tcp", "name": "payments", "host": "127.0.0.1", "port": port, "blocking": False}])
    assert "failed" not in result
    assert result["ok"] is True and result["failed_checks"] == [] and result["warned_checks"] == ["payments"]
    assert result["checks"][0]["ok"] is False and result["checks"][0]["blocking"] is False


def test_blocking_failure_beside_a_warning_fails(run_module):
    port = closed_port()
    result = probe(run_module, [{"type": "tcp", "name": "payments", "host": "127.0.0.1", "port": port, "blocking": False},
                                {"type": "tcp", "name": "db", "host": "127.0.0.1", "port": port}], fail_on_error=False)
    assert result["ok"] is False and result["failed_checks"] == ["db"] and result["warned_checks"] == ["payments"]


def test_postgres_without_tls_on_the_server(run_module, monkeypatch):
    monkeypatch.setattr(_pgwire, "query", raiser(_pgwire.TlsError("the server does not offer TLS and ssl=verify-ca")))
    result = probe(run_module, [{"type": "postgres", "user": "app", "ssl": "verify-ca"}], fail_on_error=False)
    assert "does not offer TLS" in result["checks"][0]["error"] and "ssl = on" in result["checks"][0]["hint"]
