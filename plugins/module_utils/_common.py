# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module of the collection shares: the one shell every main() runs, the one error
type it turns into fail_json, UTC time stamps, JSON files read leniently and files written
atomically, what `pm2 jlist` prints, PM2's process list read from its daemon's socket, and
account look-ups that fail with a message instead of a KeyError.

The scripts the roles install on hosts (pg_dumps, prometheus_exporters, security_scans) import
this file too, from a copy the role installs beside them: it needs nothing but the standard
library at import time."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import grp
import json
import os
import pwd
import re
import shutil
import socket
import struct
import tempfile
import time


class ModuleError(Exception):
    """A failure the module reports with fail_json; ``details`` become extra return keys."""

    def __init__(self, msg, **details):
        super(ModuleError, self).__init__(msg)
        self.msg = msg
        self.details = details


def run_module(manager, argument_spec, **module_options):
    """The one module shell: parse the arguments, run ``manager(module).run()`` and exit with its
    result, or fail with a ModuleError's message and details (never a traceback)."""
    # Imported here so the logic in module_utils also runs outside Ansible (_standalone).
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, **module_options)
    try:
        result = manager(module).run()
    except ModuleError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    module.exit_json(**result)


# -- time ------------------------------------------------------------------------------------
def utc(epoch=None):
    """An aware UTC datetime for ``epoch`` seconds (now when None)."""
    return datetime.datetime.fromtimestamp(time.time() if epoch is None else epoch, tz=datetime.timezone.utc)


def iso(epoch=None):
    """ISO 8601 in UTC to the second, as manifests and locks record it: 2026-11-24T21:30:00Z."""
    return utc(epoch).strftime("%Y-%m-%dT%H:%M:%SZ")


def compact(epoch=None):
    """The same instant without separators, for file and release names: 20261124T213000Z."""
    return utc(epoch).strftime("%Y%m%dT%H%M%SZ")


# -- JSON files ------------------------------------------------------------------------------
def read_json(path):
    """The JSON document in ``path``, or None when it is missing or unreadable."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def write_file_atomic(path, data, mode=0o644, exclusive=False):
    """Write ``data`` (text or bytes) so that readers see the old file or the whole new one,
    never a part.

    A private temporary file in the same directory is written and fsynced, then given ``mode``
    and renamed over ``path``; with ``exclusive`` it is hard-linked instead, which fails with
    FileExistsError when ``path`` exists (a lock that never shows up empty). The temporary name
    is hidden and ends in ``.tmp``, so a reader that globs for the final suffix (the node
    exporter's ``*.prom``) never sees it."""
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp",
                               dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if exclusive:
            os.link(tmp, path)
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def write_json_atomic(path, data, mode=0o644, exclusive=False):
    """``data`` as indented JSON with sorted keys, written as write_file_atomic does."""
    write_file_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n", mode=mode, exclusive=exclusive)


# -- pm2 ------------------------------------------------------------------------------------
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def pm2_jlist(output):
    """The JSON list `pm2 jlist` prints. PM2 may print notices before it (spawning its daemon)
    and, on the same line, after it (``[][PM2][WARN] No process found`` from a daemon it just
    spawned), coloured or not. Raises ValueError when there is no list."""
    text = _ANSI.sub("", output)
    decoder = json.JSONDecoder()
    for start in re.finditer(r"^[ \t]*\[", text, re.M):
        try:
            data = decoder.raw_decode(text, start.end() - 1)[0]
        except ValueError:
            continue
        if isinstance(data, list):
            return data
    raise ValueError("no JSON list in the output of pm2 jlist: %s" % text.strip()[:300])


# PM2's CLI is a Node.js program: each `pm2 jlist` spends about 0.3 s of CPU starting up to send
# the daemon one request. A poller asks the daemon itself, over PM2_HOME/rpc.sock, in its RPC
# framing: each message is a byte (protocol version 1 in the high nibble, argument count in the
# low one), then per argument a 32-bit big-endian length and the bytes, "j:" and JSON for an
# object, "s:" and text for a string. A request is the call and an id; the reply is the result
# ({"args": [...]} or {"error": ...}) and the same id.
_PM2_RPC_VERSION = 1


def _pm2_rpc_pack(values):
    parts = [struct.pack("B", _PM2_RPC_VERSION << 4 | len(values))]
    for value in values:
        data = ("s:" + value if isinstance(value, str) else "j:" + json.dumps(value)).encode("utf-8")
        parts.append(struct.pack(">I", len(data)) + data)
    return b"".join(parts)


def _pm2_rpc_unpack(data):
    return json.loads(data[2:].decode("utf-8")) if data[:2] == b"j:" else data[2:].decode("utf-8")


def _recv_exactly(sock, size, deadline):
    chunks = []
    while size:
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        chunk = sock.recv(min(size, 1 << 16))
        if not chunk:
            raise ValueError("PM2's daemon closed the connection before it answered")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def pm2_rpc_call(pm2_home, method, args, timeout=10.0):
    """Call ``method`` of the PM2 daemon of ``pm2_home`` with ``args``; its result list. Raises
    OSError when the socket cannot be reached, ValueError when the daemon answers an error or
    something that is not its reply (socket.timeout is an OSError)."""
    request_id = "bb:%d" % os.getpid()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(os.path.join(pm2_home, "rpc.sock"))
        deadline = time.monotonic() + timeout
        sock.sendall(_pm2_rpc_pack([{"type": "call", "method": method, "args": args}, request_id]))
        meta = _recv_exactly(sock, 1, deadline)[0]
        if meta >> 4 != _PM2_RPC_VERSION:
            raise ValueError("PM2's daemon answered in an unknown framing (version %d)" % (meta >> 4))
        values = []
        for _index in range(meta & 0x0F):
            size = struct.unpack(">I", _recv_exactly(sock, 4, deadline))[0]
            values.append(_pm2_rpc_unpack(_recv_exactly(sock, size, deadline)))
    finally:
        sock.close()
    if len(values) != 2 or values[1] != request_id or not isinstance(values[0], dict):
        raise ValueError("PM2's daemon answered something other than the reply to %s" % method)
    if "error" in values[0]:
        raise ValueError("PM2's daemon failed %s: %s" % (method, values[0]["error"]))
    return values[0].get("args") or []


def pm2_list(pm2_home, timeout=10.0):
    """What `pm2 jlist` prints, parsed, asked of the running daemon (never starts one)."""
    result = pm2_rpc_call(pm2_home, "getMonitorData", [{}], timeout)
    if not result or not isinstance(result[0], list):
        raise ValueError("PM2's daemon answered getMonitorData without a process list")
    return result[0]


# -- accounts --------------------------------------------------------------------------------
def account(user):
    """The passwd entry of ``user``; an unknown user is a ModuleError naming the option to fix."""
    try:
        return pwd.getpwnam(user)
    except KeyError:
        raise ModuleError("Failed to find user %s: create the account or fix the option that names it." % user)


def group_id(group):
    """The gid of ``group``; an unknown group is a ModuleError naming the option to fix."""
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise ModuleError("Failed to find group %s: create the group or fix the option that names it." % group)


def chown(path, user=None, group=None):
    """shutil.chown, with an unknown user or group reported as a ModuleError."""
    try:
        shutil.chown(path, user=user, group=group)
    except LookupError as exc:
        raise ModuleError("Failed to give %s to %s: %s." % (path, ":".join(x for x in (user, group) if x) or "?", exc))
