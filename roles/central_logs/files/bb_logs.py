# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bb-logs: search the central logs on the monitoring host (role central_logs).

The monitoring host stores every host's lines under <dir>/<host>/<source>.log (rotated files
<source>.log.N and <source>.log.N.gz too), one JSON envelope a line:
{"time": RFC 3339 time the sending host read the line, "host", "source", "msg": the line}.

    bb-logs --request-id 3f0c...           every line of one request, from every host
    bb-logs --level error --since 1h       errors of the last hour
    bb-logs --host app1 --source app --grep 'cache write' --until 2025-01-31T12:00

Filters combine (all must match). Lines come out in time order: "<time> <host> <source> <msg>",
or the envelopes themselves with --json. Exit status 0 when lines matched, 1 when none, 2 on bad
arguments.

Levels (--level LEVEL shows that level and above): pino's numbers (10 trace, 20 debug, 30 info,
40 warn, 50 error, 60 fatal) for the app's JSON lines; nginx's access log: status >= 500 error,
4xx warn, else info; nginx's error log its own [level]; PostgreSQL's ERROR/FATAL error, PANIC
fatal, WARNING warn; Redis's '#' warn; a source named *-error (the app's stderr) error; anything
else info, or error/warn when the line says ERROR/WARN(ING).
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import gzip
import json
import os
import re
import sys

DEFAULT_DIR = "/var/log/boosterbeacon-central"
DEFAULTS_FILE = "/etc/default/bb-logs"

LEVELS = {"trace": 10, "debug": 20, "info": 30, "warn": 40, "warning": 40, "error": 50, "fatal": 60}
LEVEL_NAMES = {10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal"}

# PM2 with `time: true` writes "YYYY-MM-DDTHH:mm:ss: " before each chunk of output.
PM2_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?: ")
TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$")
RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|min|h|d)$")
NGINX_ERROR = re.compile(r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} \[(\w+)\]")
NGINX_LEVELS = {"emerg": 60, "alert": 60, "crit": 50, "error": 50, "warn": 40, "notice": 30, "info": 30, "debug": 20}
POSTGRES_LEVEL = re.compile(r"\b(PANIC|FATAL|ERROR|WARNING):  ")
POSTGRES_LEVELS = {"PANIC": 60, "FATAL": 50, "ERROR": 50, "WARNING": 40}
REDIS_LEVEL = re.compile(r"^\d+:[A-Z] \d{2} \w{3} \d{4} [\d:.]+ ([.\-*#]) ")
REDIS_LEVELS = {".": 10, "-": 20, "*": 30, "#": 40}
WORD_ERROR = re.compile(r"\b(ERROR|FATAL|PANIC|CRITICAL)\b")
WORD_WARN = re.compile(r"\b(?:WARN(?:ING)?|[Ww]arning)\b")


class UsageError(Exception):
    """A filter the search cannot understand."""


def parse_time(text, now=None):
    """An aware datetime from RFC 3339 / ISO 8601 (a date alone, no zone = UTC) or a time ago
    (30s, 15m, 2h, 1d)."""
    text = (text or "").strip()
    now = now or dt.datetime.now(dt.timezone.utc)
    match = RELATIVE.match(text)
    if match:
        unit = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}[match.group(2)]
        return now - dt.timedelta(seconds=float(match.group(1)) * unit)
    match = TIME.match(text)
    if not match:
        raise UsageError("not a time: %r (use e.g. 2025-01-31T12:00:00Z, 2025-01-31, 15m, 2h, 1d)" % text)
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz = dt.timezone.utc
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tz = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    return dt.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                       micro, tzinfo=tz)


def parse_level(text):
    """A level name (trace, debug, info, warn, error, fatal) or pino number, as a number."""
    text = str(text).strip().lower()
    if text in LEVELS:
        return LEVELS[text]
    if text.isdigit():
        return int(text)
    raise UsageError("not a level: %r (use trace, debug, info, warn, error, fatal or a pino number)" % text)


def payload(msg):
    """The line's JSON object (after PM2's time prefix, if any), or None for a plain line."""
    text = PM2_PREFIX.sub("", msg or "", count=1).strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def level_of(source, msg, data=None):
    """The line's level as a pino number (see the module's docstring)."""
    if data is not None:
        level = data.get("level")
        if isinstance(level, (int, float)) and not isinstance(level, bool):
            return int(level)
        if isinstance(level, str) and level.lower() in LEVELS:
            return LEVELS[level.lower()]
        status = data.get("status")
        if status is not None and str(status).isdigit():
            status = int(status)
            return 50 if status >= 500 else 40 if status >= 400 else 30
    msg = msg or ""
    match = NGINX_ERROR.match(msg)
    if match:
        return NGINX_LEVELS.get(match.group(1), 30)
    match = POSTGRES_LEVEL.search(msg)
    if match:
        return POSTGRES_LEVELS[match.group(1)]
    match = REDIS_LEVEL.match(msg)
    if match:
        return REDIS_LEVELS[match.group(1)]
    if (source or "").endswith("-error"):
        return 40 if WORD_WARN.search(msg) and not WORD_ERROR.search(msg) else 50
    if WORD_ERROR.search(msg):
        return 50
    if WORD_WARN.search(msg):
        return 40
    return 30


def request_id_of(data):
    """The request id a JSON line carries (nginx's and the app's request_id, pino's reqId)."""
    if data is None:
        return None
    for key in ("request_id", "reqId", "requestId"):
        if data.get(key):
            return str(data[key])
    return None


def entry_from_line(line):
    """A stored envelope, parsed (time as a datetime, the payload and level worked out), or None."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, dict) or "msg" not in entry:
        return None
    try:
        entry["_time"] = parse_time(str(entry.get("time", "")))
    except UsageError:
        return None
    entry["msg"] = str(entry["msg"])
    entry["_data"] = payload(entry["msg"])
    entry["_level"] = level_of(entry.get("source", ""), entry["msg"], entry["_data"])
    return entry


class Filters:
    """What a line must match; every given filter at once."""

    def __init__(self, request_id=None, hosts=None, sources=None, level=None, since=None, until=None, grep=None):
        self.request_id = request_id or None
        self.hosts = set(hosts or [])
        self.sources = set(sources or [])
        self.level = level
        self.since = since
        self.until = until
        self.grep = grep

    @classmethod
    def from_args(cls, args, now=None):
        def names(value):
            return [part.strip() for part in (value or "").split(",") if part.strip()]
        try:
            grep = re.compile(args.grep, re.IGNORECASE) if args.grep else None
        except re.error as err:
            raise UsageError("not a regular expression: %r (%s)" % (args.grep, err))
        return cls(request_id=(args.request_id or "").strip(), hosts=names(args.host), sources=names(args.source),
                   level=parse_level(args.level) if args.level else None,
                   since=parse_time(args.since, now) if args.since else None,
                   until=parse_time(args.until, now) if args.until else None, grep=grep)

    def matches(self, entry):
        if self.hosts and entry.get("host") not in self.hosts:
            return False
        if self.sources and entry.get("source") not in self.sources:
            return False
        if self.since and entry["_time"] < self.since:
            return False
        if self.until and entry["_time"] > self.until:
            return False
        if self.level is not None and entry["_level"] < self.level:
            return False
        if self.request_id:
            carried = request_id_of(entry["_data"])
            if carried is not None:
                if carried != self.request_id:
                    return False
            elif self.request_id not in entry["msg"]:
                return False
        if self.grep and not self.grep.search(entry["msg"]):
            return False
        return True


def files(directory, filters):
    """The stored files (current and rotated) the filters may find lines in."""
    found = []
    for path in sorted(glob.glob(os.path.join(directory, "*", "*.log*"))):
        host = os.path.basename(os.path.dirname(path))
        source = re.sub(r"\.log(\.\d+)?(\.gz)?$", "", os.path.basename(path))
        if not re.search(r"\.log(\.\d+)?(\.gz)?$", path):
            continue
        if filters.hosts and host not in filters.hosts:
            continue
        if filters.sources and source not in filters.sources:
            continue
        if filters.since:
            try:
                if os.path.getmtime(path) < filters.since.timestamp():
                    continue
            except OSError:
                continue
        found.append(path)
    return found


def read(path):
    """The lines of a stored file, gzip or plain; a file rotated away meanwhile has none."""
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            yield from handle
    except (OSError, EOFError):
        return


def search(directory, filters):
    """Every matching line of every file, in time order (a file's own order among equal times)."""
    found = []
    for order, path in enumerate(files(directory, filters)):
        for number, line in enumerate(read(path)):
            entry = entry_from_line(line)
            if entry is not None and filters.matches(entry):
                found.append(((entry["_time"], order, number), entry))
    found.sort(key=lambda pair: pair[0])
    return [entry for _key, entry in found]


def format_entry(entry, as_json=False):
    if as_json:
        return json.dumps({key: entry.get(key) for key in ("time", "host", "source", "msg")}
                          | {"level": LEVEL_NAMES.get(entry["_level"], str(entry["_level"]))}, ensure_ascii=False)
    return "%s %s %s %s" % (entry.get("time"), entry.get("host"), entry.get("source"), entry["msg"].rstrip("\n"))


def default_dir(environ=None, defaults_file=DEFAULTS_FILE):
    """BB_LOGS_DIR from the environment, else from /etc/default/bb-logs (the role writes it)."""
    environ = os.environ if environ is None else environ
    if environ.get("BB_LOGS_DIR"):
        return environ["BB_LOGS_DIR"]
    try:
        with open(defaults_file, encoding="utf-8") as handle:
            for line in handle:
                key, _sep, value = line.strip().partition("=")
                if key == "BB_LOGS_DIR" and value:
                    return value.strip().strip('"')
    except OSError:
        pass
    return DEFAULT_DIR


def parser():
    result = argparse.ArgumentParser(prog="bb-logs", description=__doc__.split("\n\n", maxsplit=1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    result.add_argument("--request-id", help="the request's id (X-Request-ID): nginx's and the app's lines")
    result.add_argument("--host", help="inventory host name(s), comma-separated")
    result.add_argument("--source", help="source(s), comma-separated: app, app-error, nginx-access, nginx-error, "
                                         "postgresql, redis, auth, ...")
    result.add_argument("--level", help="this level and above: trace, debug, info, warn, error, fatal, or a pino number")
    result.add_argument("--since", help="from this time: RFC 3339 (2025-01-31T12:00:00Z; no zone is UTC) or ago (15m, 2h, 1d)")
    result.add_argument("--until", help="up to this time, same forms")
    result.add_argument("--grep", help="a regular expression the line must contain (case-insensitive)")
    result.add_argument("--dir", help="the store (default: BB_LOGS_DIR, /etc/default/bb-logs, %s)" % DEFAULT_DIR)
    result.add_argument("--json", action="store_true", help="print the envelopes as JSON lines, with their level")
    return result


def main(argv=None, out=None, now=None):
    out = out or sys.stdout
    args = parser().parse_args(argv)
    try:
        filters = Filters.from_args(args, now)
    except UsageError as err:
        sys.stderr.write("bb-logs: %s\n" % err)
        return 2
    directory = args.dir or default_dir()
    if not os.path.isdir(directory):
        sys.stderr.write("bb-logs: no store at %s (is this the monitoring host?)\n" % directory)
        return 2
    entries = search(directory, filters)
    for entry in entries:
        out.write(format_entry(entry, args.json) + "\n")
    if not entries:
        sys.stderr.write("bb-logs: no matching lines\n")
    return 0 if entries else 1


if __name__ == "__main__":
    sys.exit(main())
