# roles/central_logs' search (bb-logs) on a store of real files: the envelopes rsyslog writes on
# the monitoring host, with the app's, nginx's, PostgreSQL's, Redis's and auth lines as they come.
from __future__ import annotations

import datetime as dt
import gzip
import io
import json

import pytest

import role_script


bb = role_script.load("central_logs", "bb_logs.py")
UTC = dt.timezone.utc
NOW = dt.datetime(2025, 1, 31, 12, 0, 0, tzinfo=UTC)
RID = "3f0c6a1e-aaaa-4bbb-8ccc-123456789abc"

APP_IN = ('2025-01-31T11:59:58: {"level":30,"time":1738324798100,"pid":7,"request_id":"%s",'
          '"req":{"method":"GET","url":"/api/beacons"},"msg":"incoming request"}' % RID)
APP_ERR = ('{"level":50,"time":1738324798200,"request_id":"%s","err":{"type":"Error","message":"boom",'
           '"stack":"Error: boom\\n    at handler (/srv/app/dist/app.js:10:5)\\n    at next (x.js:1:1)"},"msg":"boom"}' % RID)
APP_OTHER = '{"level":30,"time":1738324798300,"request_id":"other-id","msg":"request completed"}'
NGINX = ('{"time":"2025-01-31T11:59:58+00:00","request_id":"%s","method":"GET","uri":"/api/beacons",'
         '"status":502,"request_time":0.004}' % RID)
NGINX_OK = '{"time":"2025-01-31T11:59:59+00:00","request_id":"x-1","status":200}'
NGINX_ERROR = '2025/01/31 11:59:58 [error] 81#81: *5 connect() failed (111: Connection refused) while connecting to upstream'
PG = '2025-01-31 11:59:57.105 UTC [7480] app@boosterbeacon ERROR:  relation "nope" does not exist'
REDIS = '10207:M 31 Jan 2025 11:59:50.371 # WARNING Memory overcommit must be enabled!'
AUTH = 'sshd-session[99]: Accepted publickey for deploy from 10.0.0.5 port 50000 ssh2'
STDERR = 'TypeError: x is not a function\n    at Object.<anonymous> (/srv/app/dist/server.js:3:1)'


def envelope(time, host, source, msg):
    return json.dumps({"time": time, "host": host, "source": source, "msg": msg}) + "\n"


@pytest.fixture
def store(tmp_path):
    """Two hosts' files; the app host's nginx line read a little after the app's lines."""
    lines = {
        ("app1", "app"): [("2025-01-31T11:59:58.101000+00:00", APP_IN), ("2025-01-31T11:59:58.201000+00:00", APP_ERR),
                          ("2025-01-31T11:59:58.301000+00:00", APP_OTHER)],
        ("app1", "app-error"): [("2025-01-31T11:59:40.000000+00:00", STDERR)],
        ("lb1", "nginx-access"): [("2025-01-31T11:59:58.400000+00:00", NGINX),
                                  ("2025-01-31T11:59:59.000000+00:00", NGINX_OK)],
        ("lb1", "nginx-error"): [("2025-01-31T11:59:58.390000+00:00", NGINX_ERROR)],
        ("data1", "postgresql"): [("2025-01-31T11:59:57.106000+00:00", PG)],
        ("data1", "redis"): [("2025-01-31T11:59:50.372000+00:00", REDIS)],
        ("mon1", "auth"): [("2025-01-31T10:00:00.000000+00:00", AUTH)],
    }
    for (host, source), entries in lines.items():
        (tmp_path / host).mkdir(exist_ok=True)
        (tmp_path / host / (source + ".log")).write_text("".join(envelope(t, host, source, m) for t, m in entries))
    return tmp_path


def run(store, *argv):
    out = io.StringIO()
    code = bb.main(["--dir", str(store)] + list(argv), out=out, now=NOW)
    return code, out.getvalue().splitlines()


def found(store, *argv):
    """The matching envelopes (--json: one line each, stack traces and all)."""
    return [json.loads(line) for line in run(store, "--json", *argv)[1]]


def test_a_request_id_finds_nginx_and_app_lines_of_every_host_in_time_order(store):
    code, lines = run(store, "--request-id", RID)
    assert code == 0
    assert [line.split(" ", 3)[1:3] for line in lines] == [["app1", "app"], ["app1", "app"], ["lb1", "nginx-access"]]
    assert "incoming request" in lines[0] and '"status":502' in lines[2]


def test_the_stack_trace_stays_inside_its_line(store):
    _code, lines = run(store, "--request-id", RID, "--level", "error")
    assert len(lines) == 2
    data = bb.payload(lines[0].split(" ", 3)[3])
    assert data["err"]["stack"].startswith("Error: boom\n    at handler")


@pytest.mark.parametrize("level, expected", [
    ("error", {"app", "nginx-access", "nginx-error", "postgresql", "app-error"}),
    ("warn", {"app", "nginx-access", "nginx-error", "postgresql", "app-error", "redis"}),
    ("50", {"app", "nginx-access", "nginx-error", "postgresql", "app-error"}),
    ("fatal", set()),
])
def test_levels(store, level, expected):
    assert {entry["source"] for entry in found(store, "--level", level)} == expected


def test_host_source_and_grep_narrow_the_search(store):
    assert len(found(store, "--host", "app1")) == 4
    assert len(found(store, "--host", "app1,lb1", "--source", "nginx-access")) == 2
    assert [entry["source"] for entry in found(store, "--grep", "connection REFUSED")] == ["nginx-error"]


def test_since_and_until_accept_times_and_ages(store):
    assert len(found(store, "--since", "2025-01-31T11:59:58Z", "--until", "2025-01-31T11:59:58.35Z")) == 3
    assert len(found(store, "--since", "30s")) == 9
    assert [entry["source"] for entry in found(store, "--until", "1h")] == ["auth"]


def test_a_multi_line_message_prints_whole(store):
    _code, lines = run(store, "--source", "app-error")
    assert lines == ["2025-01-31T11:59:40.000000+00:00 app1 app-error TypeError: x is not a function",
                     "    at Object.<anonymous> (/srv/app/dist/server.js:3:1)"]


def test_nothing_found_is_status_1_and_bad_input_status_2(store, tmp_path):
    assert run(store, "--request-id", "no-such-request") == (1, [])
    assert run(store, "--level", "loud")[0] == 2
    assert run(store, "--since", "yesterday")[0] == 2
    assert run(store, "--grep", "(")[0] == 2
    assert bb.main(["--dir", str(tmp_path / "none")], out=io.StringIO()) == 2


def test_rotated_and_compressed_files_are_read(store):
    with gzip.open(store / "app1" / "app.log.2.gz", "wt") as handle:
        handle.write(envelope("2025-01-31T09:00:00+00:00", "app1", "app", '{"level":30,"request_id":"old"}'))
    (store / "app1" / "app.log.1").write_text(
        envelope("2025-01-31T10:00:00+00:00", "app1", "app", '{"level":30,"request_id":"old"}') + "garbage\n")
    code, lines = run(store, "--request-id", "old")
    assert code == 0 and [line[:19] for line in lines] == ["2025-01-31T09:00:00", "2025-01-31T10:00:00"]


def test_json_output_carries_the_level(store):
    _code, lines = run(store, "--request-id", RID, "--json")
    assert [json.loads(line)["level"] for line in lines] == ["info", "error", "error"]
    assert set(json.loads(lines[0])) == {"time", "host", "source", "msg", "level"}


@pytest.mark.parametrize("msg, data", [
    ('2025-01-31T11:59:58: {"level":30}', {"level": 30}),
    ('2025-01-31T11:59:58.123+01:00: {"a":1}', {"a": 1}),
    ('{"a":1}', {"a": 1}),
    ("plain text", None),
    ("{not json", None),
    ("[1, 2]", None),
])
def test_payload_strips_pm2s_time_prefix(msg, data):
    assert bb.payload(msg) == data


@pytest.mark.parametrize("source, msg, level", [
    ("app", '{"level":40}', 40),
    ("app", '{"level":"error"}', 50),
    ("nginx-access", '{"status":"404"}', 40),
    ("nginx-access", '{"status":200}', 30),
    ("nginx-error", "2025/01/31 11:59:58 [warn] 1#1: x", 40),
    ("nginx-error", "2025/01/31 11:59:58 [crit] 1#1: x", 50),
    ("postgresql", "2025-01-31 11:59:57.105 UTC [1] FATAL:  x", 50),
    ("postgresql", "2025-01-31 11:59:57.105 UTC [1] PANIC:  x", 60),
    ("postgresql", "2025-01-31 11:59:57.105 UTC [1] WARNING:  x", 40),
    ("postgresql", "2025-01-31 11:59:57.105 UTC [1] LOG:  checkpoint", 30),
    ("redis", "1:M 31 Jan 2025 11:59:50.371 * Ready", 30),
    ("app-error", "(node:7) Warning: something deprecated", 40),
    ("app-error", "Error: boom", 50),
    ("auth", "sudo[1]: pam_unix(sudo:session): session opened", 30),
    ("custom", "something ERROR here", 50),
])
def test_level_of(source, msg, level):
    assert bb.level_of(source, msg, bb.payload(msg)) == level


@pytest.mark.parametrize("text, expected", [
    ("2025-01-31T12:00:00Z", NOW),
    ("2025-01-31T13:00:00+01:00", NOW),
    ("2025-01-31 12:00", NOW),
    ("2025-01-31T12:00:00.500000+00:00", NOW + dt.timedelta(microseconds=500000)),
    ("2025-01-31", NOW - dt.timedelta(hours=12)),
    ("15m", NOW - dt.timedelta(minutes=15)),
    ("2h", NOW - dt.timedelta(hours=2)),
    ("1d", NOW - dt.timedelta(days=1)),
])
def test_parse_time(text, expected):
    assert bb.parse_time(text, NOW) == expected


def test_the_store_comes_from_the_environment_or_the_roles_defaults_file(tmp_path):
    defaults = tmp_path / "bb-logs"
    defaults.write_text("# managed\nBB_LOGS_DIR=/srv/central\n")
    assert bb.default_dir({"BB_LOGS_DIR": "/x"}, str(defaults)) == "/x"
    assert bb.default_dir({}, str(defaults)) == "/srv/central"
    assert bb.default_dir({}, str(tmp_path / "missing")) == bb.DEFAULT_DIR
