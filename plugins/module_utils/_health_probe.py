# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health checks with retries: HTTP, TCP, PostgreSQL, Redis, PM2 and commands. Each check
returns ok, attempts, latency and the last error; failures come with a hint saying what to
look at next. Nothing here changes the host."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import socket
import time

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url

from ansible_collections.boosterbeacon.infra.plugins.module_utils import _pgwire, _pm2
from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import ModuleError
from ansible_collections.boosterbeacon.infra.plugins.module_utils._runner import CommandError, Runner

REQUIRED = {
    "http": ["url"],
    "tcp": ["host", "port"],
    "postgres": ["user"],
    "redis": [],
    "pm2": ["app"],
    "command": ["argv"],
}
DEFAULT_PORTS = {"postgres": 5432, "redis": 6379}


class CheckFailed(Exception):
    pass


def check_name(check):
    if check.get("name"):
        return check["name"]
    target = mask_url(check.get("url") or "") or check.get("app") or (
        "%s:%s" % (check.get("host") or "127.0.0.1", check.get("port") or DEFAULT_PORTS.get(check["type"], "")))
    if check["type"] == "command":
        target = " ".join(check.get("argv") or [])
    return "%s %s" % (check["type"], target)


def validate(checks):
    for index, check in enumerate(checks):
        missing = [f for f in REQUIRED[check["type"]] if check.get(f) in (None, "", [])]
        if missing:
            raise ModuleError("Failed to use checks[%d] (%s): %s check needs %s." % (
                index, check.get("name") or check["type"], check["type"], ", ".join(missing)))


def mask_url(url):
    return re.sub(r"//[^/@]*:[^/@]*@", "//***:***@", url)


def lookup(data, dotted):
    for part in dotted.split("."):
        if isinstance(data, list) and part.isdigit():
            data = data[int(part)]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            raise KeyError(dotted)
    return data


def redis_command(sock, *args):
    payload = "*%d\r\n" % len(args) + "".join("$%d\r\n%s\r\n" % (len(a.encode()), a) for a in args)
    sock.sendall(payload.encode())
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            raise CheckFailed("Redis closed the connection")
        data += chunk
    line = data.decode("utf-8", "replace").strip()
    if line.startswith("-"):
        raise CheckFailed("Redis answered %s" % line[1:])
    return line


class Prober:
    """The health_probe module: reads only, so there is nothing to plan or gate; every command
    (the pm2 check's included) goes through one runner and into ``commands``."""

    def __init__(self, module, sleep=None, clock=None):
        self.module = module
        self.p = module.params
        self.sleep = sleep or time.sleep
        self.clock = clock or time.monotonic
        self.runner = Runner(module)

    def kinds(self):
        """{check type: the method making one attempt}."""
        return {"http": self.http, "tcp": self.tcp, "postgres": self.postgres, "redis": self.redis,
                "pm2": self.pm2, "command": self.command}

    # -- one attempt per type; each raises CheckFailed with a readable reason -----------------
    def http(self, check, timeout):
        try:
            response = open_url(check["url"], method=check.get("method") or "GET", headers=check.get("headers"),
                                data=check.get("body"), timeout=timeout,
                                validate_certs=check.get("validate_certs", True), ca_path=check.get("ca_path"))
            status, body = response.getcode(), response.read()
        except HTTPError as exc:
            status, body = exc.code, exc.read()
        except (URLError, socket.error, ValueError) as exc:
            raise CheckFailed("cannot reach %s: %s" % (mask_url(check["url"]), getattr(exc, "reason", exc)))
        body = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        expected = check.get("status") or [200]
        detail = {"http_status": status}
        if status not in expected:
            raise CheckFailed("HTTP %d (expected %s): %s" % (status, expected, body[:300]), detail)
        if check.get("body_contains") and check["body_contains"] not in body:
            raise CheckFailed("body lacks %r: %s" % (check["body_contains"], body[:300]), detail)
        for path, want in (check.get("json") or {}).items():
            try:
                got = lookup(json.loads(body), path)
            except (ValueError, KeyError, IndexError):
                raise CheckFailed("JSON field %s missing in %s" % (path, body[:300]), detail)
            if got != want:
                raise CheckFailed("JSON field %s is %r, expected %r" % (path, got, want), detail)
        return detail

    def tcp(self, check, timeout):
        try:
            socket.create_connection((check["host"], int(check["port"])), timeout=timeout).close()
        except (socket.error, OSError) as exc:
            raise CheckFailed("cannot connect to %s:%s: %s" % (check["host"], check["port"], exc))

    def postgres(self, check, timeout):
        host = check.get("host") or "127.0.0.1"
        port = int(check.get("port") or 5432)
        try:
            rows = _pgwire.query(host, port, check["user"], check.get("password"), check.get("database") or check["user"],
                                 sql="SELECT 1", ssl_mode=check.get("ssl") or "prefer", timeout=timeout,
                                 ca_file=check.get("ca_file"))
        except _pgwire.PgError as exc:
            raise CheckFailed("PostgreSQL %s:%s: %s" % (host, port, exc.message), {"sqlstate": exc.code})
        except (socket.error, OSError) as exc:
            raise CheckFailed("cannot connect to PostgreSQL at %s:%s: %s" % (host, port, exc))
        if rows != [["1"]]:
            raise CheckFailed("SELECT 1 returned %r" % rows)

    def redis(self, check, timeout):
        host = check.get("host") or "127.0.0.1"
        port = int(check.get("port") or 6379)
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except (socket.error, OSError) as exc:
            raise CheckFailed("cannot connect to Redis at %s:%s: %s" % (host, port, exc))
        try:
            if check.get("tls"):
                # Before AUTH, so the password only ever travels to a verified server.
                sock = _pgwire.start_tls(sock, host, "full", check.get("ca_file"))
            if check.get("password"):
                args = ["AUTH"] + ([check["username"]] if check.get("username") else []) + [check["password"]]
                redis_command(sock, *args)
            answer = redis_command(sock, "PING")
            if answer != "+PONG":
                raise CheckFailed("PING answered %s" % answer)
        except _pgwire.TlsError as exc:
            raise CheckFailed("Redis at %s:%s: %s" % (host, port, exc.message))
        except (socket.error, OSError) as exc:
            raise CheckFailed("Redis at %s:%s: %s" % (host, port, exc))
        finally:
            sock.close()

    def pm2(self, check, timeout):
        environ = _pm2.pm2_environ(check.get("pm2_user"), check.get("pm2_home"))
        runner = self.runner.child(become_user=check.get("pm2_user"), environ=environ)
        try:
            listed = _pm2.list_processes(runner, _pm2.find_pm2(self.module), environ["PM2_HOME"])
        except CommandError as exc:
            out = exc.details["stderr"] or exc.details["stdout"]
            raise CheckFailed("pm2 jlist failed (%d): %s" % (exc.details["rc"], out.strip()[-300:]))
        procs = [_pm2.summarize(p) for p in listed if p.get("name") == check["app"]]
        detail = {"instances": [{k: p[k] for k in ("pm_id", "status", "restarts", "memory", "cpu")} for p in procs],
                  # The logs PM2 writes for this app, whatever its log settings: tailed on failure.
                  "log_files": unique(path for p in procs for path in (p["err_log"], p["out_log"]) if path)}
        if not procs:
            raise CheckFailed("no PM2 process named %s" % check["app"], detail)
        offline = [p for p in procs if p["status"] != "online"]
        if offline:
            raise CheckFailed("%d of %d instances not online: %s" % (
                len(offline), len(procs), ", ".join("%s is %s" % (p["pm_id"], p["status"]) for p in offline)), detail)
        # 0 is one per CPU, as PM2's -i 0 (pm2_process's instances: 0).
        wanted = (os.cpu_count() or 1) if check.get("min_instances") == 0 else (check.get("min_instances") or 1)
        if len(procs) < wanted:
            raise CheckFailed("%d instances online, expected at least %d" % (len(procs), wanted), detail)
        return detail

    def command(self, check, timeout):
        rc, out, err = self.runner.run(check["argv"], check_rc=False)
        if rc != (check.get("rc") or 0):
            raise CheckFailed("%s exited %d: %s" % (check["argv"][0], rc, (err or out).strip()[-300:]))
        if check.get("stdout_contains") and check["stdout_contains"] not in out:
            raise CheckFailed("output lacks %r: %s" % (check["stdout_contains"], out.strip()[-300:]))

    # -- retries, hints, report ----------------------------------------------------------------
    def run_check(self, check):
        retries = check.get("retries") or self.p["retries"]
        timeout = check.get("timeout") or self.p["timeout"]
        result = {"name": check_name(check), "type": check["type"], "ok": False, "attempts": 0}
        attempt_once = self.kinds()[check["type"]]
        for attempt in range(1, retries + 1):
            result["attempts"] = attempt
            started = self.clock()
            try:
                detail = attempt_once(check, timeout) or {}
                latency = (self.clock() - started) * 1000
                result.update(detail)
                result["latency_ms"] = round(latency, 1)
                limit = check.get("max_latency_ms")
                if limit and latency > limit:
                    raise CheckFailed("answered in %.0f ms, over the %d ms limit" % (latency, limit))
                result.update(ok=True, error=None)
                return result
            except CheckFailed as exc:
                result["latency_ms"] = round((self.clock() - started) * 1000, 1)
                result["error"] = exc.args[0]
                if len(exc.args) > 1 and exc.args[1]:
                    result.update(exc.args[1])
            if attempt < retries:
                self.sleep(self.p["delay"])
        result["hint"] = hint(check, result)
        return result

    def run(self):
        validate(self.p["checks"])
        started = self.clock()
        results = [self.run_check(check) for check in self.p["checks"]]
        for check, result in zip(self.p["checks"], results):
            result["blocking"] = check.get("blocking") is not False
        failed = [r["name"] for r in results if not r["ok"] and r["blocking"]]
        warned = [r["name"] for r in results if not r["ok"] and not r["blocking"]]
        report = {"changed": False, "ok": not failed, "checks": results, "failed_checks": failed, "warned_checks": warned,
                  "duration_ms": round((self.clock() - started) * 1000, 1), "commands": self.runner.commands}
        if failed:
            paths = unique(list(self.p["log_files"] or []) + [path for r in results for path in r.get("log_files", [])])
            report["log_tail"] = {path: _pm2.tail(path, self.p["log_lines"]) for path in paths}
            report["msg"] = "Failed health checks: " + "; ".join(
                "%s: %s" % (r["name"], r["error"]) for r in results if not r["ok"] and r["blocking"])
            if self.p["fail_on_error"]:
                # The whole report comes with the failure.
                raise ModuleError(report.pop("msg"), **report)
        return report


def unique(items):
    """Items in their first order, each once."""
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def hint(check, result):
    error = result.get("error") or ""
    kind = check["type"]
    if kind == "http":
        status = result.get("http_status")
        if status and status >= 500:
            return ("The app answers but is unhealthy: read /ready's JSON for the failing dependency and the app log "
                    "(pm2 logs <app> --lines 100).")
        if "cannot reach" in error:
            return "Nothing answers: is the app (or nginx) running? pm2 status; systemctl status nginx; ss -ltnp."
        return "Compare the expected answer with what came back (curl -si %s)." % mask_url(check["url"])
    if kind == "postgres":
        if "does not offer TLS" in error:
            return "The server has TLS off: ssl = on with a certificate in postgresql.conf, or a lower ssl for the check."
        if error_is_tls(error):
            return tls_hint(check, error, 5432, "-starttls postgres ")
        if "password authentication failed" in error or result.get("sqlstate") == "28P01":
            return "Check the password in the vault and the scram-sha-256 rules in pg_hba.conf."
        if result.get("sqlstate") == "3D000":
            return "The database does not exist: run the postgresql role (provision)."
        return "Is PostgreSQL up and listening there? systemctl status postgresql; ss -ltnp | grep 5432."
    if kind == "redis":
        if error_is_tls(error):
            return tls_hint(check, error, 6379, "")
        if "WRONGPASS" in error or "NOAUTH" in error:
            return "Check the Redis ACL user and password (vault) against /etc/redis/users.acl."
        return "Is Redis up and bound there? systemctl status redis-server; ss -ltnp | grep 6379."
    if kind == "pm2":
        return "Look at the errors: pm2 logs %s --err --lines 50 (as the service account)." % check.get("app")
    if kind == "tcp":
        return "Is the service started and listening? systemctl status <service>; ss -ltnp."
    return "Run the command by hand on the host to see the full output."


def error_is_tls(error):
    return re.search(r": TLS (certificate verify|handshake|CA file)", error) is not None


def tls_hint(check, error, default_port, starttls):
    """What to look at when TLS to PostgreSQL or Redis fails: the CA file, the names, the chain."""
    host = check.get("host") or "127.0.0.1"
    ca_file = check.get("ca_file")
    if "CA file" in error:
        return "Put the CA's certificate (PEM) at %s on the host, readable by the user the probe runs as." % ca_file
    if "mismatch" in error:
        return ("The server's certificate does not name %s: set host to a name in its subjectAltName, or reissue the "
                "certificate with that name." % host)
    return ("Does the server speak TLS there, with a certificate issued by %s? See what it presents: "
            "openssl s_client -connect %s:%s %s%s</dev/null" % (
                ca_file or "a CA in the system's trust store", host, check.get("port") or default_port, starttls,
                "-CAfile %s " % ca_file if ca_file else ""))
