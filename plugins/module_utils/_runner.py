# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One chokepoint for every external command a module runs.

Every argv goes through ``Runner.run``: it is recorded (the ``commands`` return key) and turned
into a typed error when it fails. Whether a command that changes the host runs at all is not
decided here but by the plan's gate (``_gate``), which records it in check mode instead.
Secrets are passed through ``environ`` (never argv) and masked in what is recorded.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import shlex

from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import ModuleError
from ansible_collections.boosterbeacon.infra.plugins.module_utils._mask import mask

__all__ = ["CommandError", "ModuleError", "Runner", "running_as", "running_as_root"]


def running_as_root():
    return os.geteuid() == 0


def running_as():
    """The name of the account the module runs as."""
    return pwd.getpwuid(os.geteuid()).pw_name


class CommandError(ModuleError):
    pass


class Runner:
    """Runs argv lists through ``module.run_command`` and remembers what it ran."""

    def __init__(self, module, become_user=None, environ=None, secrets=()):
        self.module = module
        self.become_user = become_user
        self.environ = dict(environ or {})
        self.secrets = [s for s in secrets if s]
        self.commands = []

    def child(self, become_user=None, environ=None):
        """A runner for another user or environment that records into the same ``commands``
        (a command run as root beside the app user's, say), so none goes unreported."""
        other = Runner(self.module, become_user=become_user, environ=environ, secrets=self.secrets)
        other.commands = self.commands
        return other

    def _mask(self, text):
        return mask(text, self.secrets)

    def wrap(self, argv, environ=None):
        """Prefix argv so it runs as ``become_user`` with a clean, explicit environment."""
        if not self.become_user:
            return list(argv)
        # runuser, not sudo, as root: it never prompts or reads sudoers.
        if running_as_root():
            return ["runuser", "-u", self.become_user, "--"] + list(argv)
        if self.become_user == running_as():
            return list(argv)
        # An account that sudoers lets act as become_user (a CI deploy account). sudo resets the
        # environment: the variables are kept by name (a secret's value never enters argv), PATH
        # is set after sudo, whose secure_path would replace it.
        env = self._env(environ)
        keep = sorted(k for k in env if k != "PATH")
        return (["sudo", "-n"] + (["--preserve-env=" + ",".join(keep)] if keep else []) + ["-u", self.become_user, "--"]
                + (["env", "PATH=" + env["PATH"]] if "PATH" in env else []) + list(argv))

    def _env(self, environ=None):
        env = dict(self.environ)
        env.update(environ or {})
        return env

    def record(self, argv, environ=None):
        """Record argv as it runs (wrapped, quoted, secrets masked) and return the full argv."""
        full = self.wrap(argv, environ)
        self.note(" ".join(shlex.quote(a) for a in full))
        return full

    def note(self, text):
        """Record an operation that is not a command of its own (a file written, a link)."""
        self.commands.append(self._mask(text))

    def run(self, argv, check_rc=True, environ=None, data=None, cwd=None, what=None):
        """Run argv and record it; raise CommandError when it fails and ``check_rc``."""
        full = self.record(argv, environ)
        env = self._env(environ)
        rc, out, err = self.module.run_command(full, environ_update=env, data=data, cwd=cwd,
                                               binary_data=data is not None and isinstance(data, bytes))
        if check_rc and rc != 0:
            raise CommandError(
                "Failed to %s: %s exited %d: %s" % (
                    what or "run command", argv[0], rc, self._mask((err or out).strip()[-2000:])),
                cmd=self.commands[-1], rc=rc, stdout=self._mask(out), stderr=self._mask(err))
        return rc, out, err
