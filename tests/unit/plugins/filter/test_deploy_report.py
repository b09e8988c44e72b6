from __future__ import annotations

import base64

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.boosterbeacon.infra.plugins.filter.deploy_report import (
    FilterModule, backup_before, health_lines, smoke_checks, smoke_failures, status_files, status_lines)

HEALTH = {"ok": False, "checks": [
    {"name": "http /ready", "type": "http", "ok": True, "attempts": 1, "blocking": True, "error": None},
    {"name": "pm2 boosterbeacon", "type": "pm2", "ok": True, "attempts": 1, "blocking": True,
     "instances": [{"pm_id": 0, "status": "online", "restarts": 2, "memory": 52428800, "cpu": 1.5},
                   {"pm_id": 1, "status": "online", "restarts": 0, "memory": 31457280, "cpu": 0}]},
    {"name": "redis", "type": "redis", "ok": False, "attempts": 3, "blocking": True, "error": "NOAUTH",
     "hint": "check the password"},
    {"name": "payments api", "type": "http", "ok": False, "attempts": 1, "blocking": False, "error": "refused"},
]}


def test_health_lines_say_ok_fail_or_warn_with_attempts_error_and_hint():
    assert health_lines(HEALTH) == [
        "ok   http /ready (1 attempts)",
        "ok   pm2 boosterbeacon (1 attempts)",
        "FAIL redis (3 attempts, NOAUTH, hint: check the password)",
        "WARN payments api (1 attempts, refused)",
    ]
    assert health_lines({"checks": []}) == []


def test_smoke_checks_run_each_test_once_and_failures_name_the_path():
    tests = [{"path": "/health", "status": 200, "body_contains": '"ok"'}, {"path": "/ready"}]
    checks = smoke_checks(tests, "http://127.0.0.1:3001/")
    assert checks == [
        {"name": "/health", "type": "http", "url": "http://127.0.0.1:3001/health", "status": [200], "retries": 1,
         "body_contains": '"ok"'},
        {"name": "/ready", "type": "http", "url": "http://127.0.0.1:3001/ready", "status": [200], "retries": 1}]
    report = {"ok": False, "checks": [{"name": "/health", "ok": False, "error": "HTTP 500 (expected [200]): boom"},
                                      {"name": "/ready", "ok": True}]}
    assert smoke_failures(report) == ["/health: HTTP 500 (expected [200]): boom"]
    assert smoke_failures({"ok": True, "checks": [{"name": "/ready", "ok": True}]}) == []


def test_smoke_failures_name_the_path_status_and_body_or_error():
    results = [
        {"item": {"path": "/health", "status": 200, "body_contains": '"ok"'}, "status": 200, "content": '{"status":"ok"}'},
        {"item": {"path": "/ready"}, "status": 503, "content": "not ready"},
        {"item": {"path": "/version", "body_contains": "release"}, "status": 200, "content": "{}"},
        {"item": {"path": "/gone"}, "status": -1, "msg": "Connection refused"},
        {"item": {"path": "/teapot", "status": 418}, "status": 418, "content": "x" * 500},
    ]
    assert smoke_failures(results) == ["/ready: HTTP 503, not ready", "/version: HTTP 200, {}",
                                       "/gone: HTTP -1, Connection refused"]


def test_backup_before_is_the_newest_without_the_migrations():
    backups = [{"path": "/b/3", "migrations": ["m1", "m2"]}, {"path": "/b/2", "migrations": ["m1"]},
               {"path": "/b/1", "migrations": []}]
    assert backup_before(backups, ["m2"]) == "/b/2"
    assert backup_before(backups, ["m1"]) == "/b/1"
    assert backup_before(backups, ["m0"]) == "/b/3"
    assert backup_before([{"path": "/b/9", "migrations": ["m1"]}], ["m1"]) == ""


RELEASES = {"current": "r2", "previous_good": "r1",
            "releases": [{"id": "r1", "status": "good", "version": "1.0.0", "size": 1048576, "current": False},
                         {"id": "r2", "status": "active", "version": "2.0.0", "size": 3145728, "current": True}],
            "lock": {"owner": "ann", "host": "laptop", "purpose": "deploy r3", "age": 12}}


def test_status_lines_report_releases_lock_pm2_health_and_backup():
    lines = status_lines(RELEASES, ["r2"], HEALTH, [{"name": "boosterbeacon-x.dump", "age": "2h", "verified": True}],
                         "boosterbeacon")
    assert lines[:4] == ["releases (current r2, previous good r1):",
                         "    r1                           good     1.0.0         1.0 MB",
                         "  * r2                           active   2.0.0         3.0 MB",
                         "lock: held by ann@laptop (deploy r3, 12 s)"]
    assert "service runs: r2" in lines and not any(line.startswith("MISMATCH") for line in lines)
    assert "  boosterbeacon            #0   online      50.0 MB  cpu   1.5%  restarts 2" in lines
    assert "  FAIL redis (3 attempts, NOAUTH, hint: check the password)" in lines
    assert lines[-2:] == ["last backup: boosterbeacon-x.dump, 2h old, verified",
                          "last verified restore: boosterbeacon-x.dump"]


def test_status_lines_show_the_last_verified_restore_and_each_backup_job():
    backups = [{"name": "d3", "age": "1.0 h", "verified": False, "verified_age_s": None},
               {"name": "d2", "age": "25.0 h", "verified": True, "verified_age_s": 79200},
               {"name": "d1", "age": "49.0 h", "verified": True, "verified_age_s": 165600}]
    jobs = {"scheduled dumps": {"ok": True, "updated": "2026-11-30T04:30:07Z", "problems": []},
            "pgBackRest": {"ok": False, "updated": "2026-11-30T09:40:05Z", "problems": ["WAL archiving has stalled"]},
            "off-site": None}
    lines = status_lines({}, [], {"checks": []}, backups, "app", jobs)
    assert lines[-6:] == ["last backup: d3, 1.0 h old, not verified",
                          "last verified restore: d2, 22.0 h ago",
                          "off-site: no status file (not set up on this host)",
                          "pgBackRest: NOT OK (updated 2026-11-30T09:40:05Z)",
                          "  - WAL archiving has stalled",
                          "scheduled dumps: ok (updated 2026-11-30T04:30:07Z)"]
    assert "last verified restore: none" in status_lines({}, [], {"checks": []}, backups[:1], "app")


def test_status_files_decode_what_slurp_read_and_mark_the_missing():
    def read(key, content=None, failed=False):
        result = {"item": {"key": key, "value": "/x/%s.json" % key}, "failed": failed}
        if content is not None:
            result["content"] = base64.b64encode(content.encode()).decode()
        return result

    found = status_files([read("dumps", '{"ok": true}'), read("pitr", failed=True), read("junk", "not json"),
                          read("list", "[1]")])
    assert found == {"dumps": {"ok": True}, "pitr": None, "junk": None, "list": None}


def test_status_lines_name_a_mismatch_and_missing_parts():
    lines = status_lines({"current": "r2", "releases": []}, ["r1"], {"checks": []}, [], "app")
    assert "MISMATCH: current is r2 but PM2 runs r1 (left by an interrupted run). The next deploy or rollback " \
           "makes them agree before it starts: run one." in lines
    assert "pm2: not checked" in lines
    assert lines[-1] == "last backup: none"
    down = {"checks": [{"name": "pm2 app", "type": "pm2", "ok": False, "error": "no PM2 process named app"}]}
    assert "  none: no PM2 process named app" in status_lines({}, [], down, [], "app")
    assert "service runs: nothing" in status_lines({}, [], down, [], "app")


@pytest.mark.parametrize("call", [lambda: health_lines([]), lambda: smoke_failures("x"), lambda: smoke_checks({}, "u"),
                                  lambda: backup_before({}, []),
                                  lambda: status_lines([], [], {}, [], "a"), lambda: status_files({})])
def test_wrong_input_types_are_clear_errors(call):
    with pytest.raises(AnsibleFilterError, match="expects"):
        call()


def test_the_filters_are_registered():
    assert set(FilterModule().filters()) == {"health_lines", "smoke_checks", "smoke_failures", "backup_before",
                                             "status_lines", "status_files"}
