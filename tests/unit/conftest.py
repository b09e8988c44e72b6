# Shared helpers for module unit tests: run a module's main() with arguments, capture what it
# would return, and fake run_command with an argv-keyed table.
from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import sys
import tempfile
import threading
from unittest import mock

import pytest

# Make `ansible_collections.boosterbeacon.infra` importable from the working tree.
_HERE = os.path.dirname(os.path.abspath(__file__))
_COLLECTIONS = os.path.join(os.path.dirname(os.path.dirname(_HERE)), ".collections")
if os.path.isdir(_COLLECTIONS) and _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)

from ansible.module_utils import basic  # noqa: E402
from ansible.module_utils.testing import patch_module_args  # noqa: E402


class AnsibleExitJson(Exception):
    def __init__(self, result):
        super().__init__(result.get("msg", "exit_json"))
        self.result = result


class AnsibleFailJson(Exception):
    def __init__(self, result):
        super().__init__(result.get("msg", "fail_json"))
        self.result = result


def _exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    raise AnsibleExitJson(kwargs)


def _fail_json(self, msg, **kwargs):
    kwargs["failed"] = True
    kwargs["msg"] = msg
    raise AnsibleFailJson(kwargs)


class ModuleRunner:
    """Calls a module's main() and returns (result, failed)."""

    def __init__(self, monkeypatch):
        monkeypatch.setattr(basic.AnsibleModule, "exit_json", _exit_json)
        monkeypatch.setattr(basic.AnsibleModule, "fail_json", _fail_json)

    def __call__(self, module, args, check_mode=False, diff=False):
        args = dict(args)
        if check_mode:
            args["_ansible_check_mode"] = True
        if diff:
            args["_ansible_diff"] = True
        with patch_module_args(args):
            try:
                module.main()
            except AnsibleExitJson as exc:
                return exc.result
            except AnsibleFailJson as exc:
                return exc.result
        raise AssertionError("module returned without exit_json or fail_json")


@pytest.fixture
def run_module(monkeypatch):
    return ModuleRunner(monkeypatch)


class FakeCommands:
    """An argv-keyed side_effect for run_command that records every call.

    ``table`` maps a tuple prefix of argv to (rc, stdout, stderr) or to a callable taking argv.
    """

    def __init__(self, table=None):
        self.table = dict(table or {})
        self.calls = []
        self.environs = []

    def __call__(self, argv, **kwargs):
        argv = list(argv)
        self.calls.append(argv)
        self.environs.append(kwargs.get("environ_update"))
        best = None
        for key in self.table:
            if tuple(argv[: len(key)]) == tuple(key) and (best is None or len(key) > len(best)):
                best = key
        if best is None:
            raise AssertionError("unexpected command: %s" % json.dumps(argv))
        answer = self.table[best]
        return answer(argv) if callable(answer) else answer


@pytest.fixture
def fake_commands(monkeypatch):
    fake = FakeCommands()
    monkeypatch.setattr(basic.AnsibleModule, "run_command",
                        lambda self, argv, **kw: fake(argv, **kw))
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path",
                        lambda self, name, required=False, opt_dirs=None: "/usr/bin/" + name)
    return fake


class FakeModule:
    """The parts of AnsibleModule that module_utils classes use, for tests that build one directly."""

    def __init__(self, params, check_mode=False, diff=False, commands=None):
        self.params = params
        self.check_mode = check_mode
        self._diff = diff
        self.commands = commands if commands is not None else FakeCommands()
        self.warnings = []

    def run_command(self, argv, **kwargs):
        return self.commands(argv, **kwargs)

    def get_bin_path(self, name, required=False, opt_dirs=None):
        return "/usr/bin/" + name

    def warn(self, text):
        self.warnings.append(text)


__all__ = ["AnsibleExitJson", "AnsibleFailJson", "FakeCommands", "FakeModule", "mock"]


class FakePm2Daemon:
    """A PM2 daemon's RPC socket (PM2_HOME/rpc.sock) in a thread, written from PM2's framing
    (version 1 and the argument count in one byte, then a 32-bit big-endian length and "j:" JSON
    or "s:" text per argument), independently of the collection's client. ``answer(request)``
    gives the reply's raw arguments, raw bytes, or None for no reply; the default replies to
    getMonitorData with ``processes`` and the request's id. ``requests`` records what was asked."""

    def __init__(self, home):
        self.home = home
        self.processes = []
        self.requests = []
        self.answer = self.reply
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(os.path.join(home, "rpc.sock"))
        self.server.listen(4)
        threading.Thread(target=self.serve, daemon=True).start()

    def reply(self, request):
        call, request_id = request
        assert call["type"] == "call" and call["method"] == "getMonitorData"
        return [b"j:" + json.dumps({"args": [self.processes]}).encode(), b"s:" + request_id.encode()]

    @staticmethod
    def frame(values):
        return bytes([0x10 | len(values)]) + b"".join(struct.pack(">I", len(v)) + v for v in values)

    def serve(self):
        while True:
            try:
                conn, _addr = self.server.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as stream:
                meta = stream.read(1)[0]
                values = []
                for _index in range(meta & 0x0F):
                    raw = stream.read(struct.unpack(">I", stream.read(4))[0])
                    values.append(json.loads(raw[2:]) if raw[:2] == b"j:" else raw[2:].decode())
                self.requests.append(values)
                answer = self.answer(values)
                if answer is None:  # silent: hold the connection until the client gives up
                    stream.read()
                else:
                    conn.sendall(answer if isinstance(answer, bytes) else self.frame(answer))

    def close(self):
        self.server.close()


@pytest.fixture
def pm2_daemon():
    """A fake PM2 daemon listening in a short temporary PM2_HOME (socket paths are limited to
    108 bytes); its pm2.pid names this process, so the home looks like one with a live daemon."""
    home = tempfile.mkdtemp(prefix="pm2-", dir="/tmp")
    with open(os.path.join(home, "pm2.pid"), "w") as handle:
        handle.write(str(os.getpid()))
    daemon = FakePm2Daemon(home)
    yield daemon
    daemon.close()
    shutil.rmtree(home, ignore_errors=True)
