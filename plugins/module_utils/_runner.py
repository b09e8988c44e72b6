# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One chokepoint for every external command a module runs.

Every argv goes through ``Runner.run``: it is recorded (the ``commands`` return key), skipped
when it would change something in check mode, and turned into a typed error when it fails.
Secrets are passed through ``environ`` (never argv) and masked in what is recorded.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shlex

from ansible_collections.boosterbeacon.infra.plugins.module_utils._mask import mask


class ModuleError(Exception):
    """A failure the module reports with fail_json; ``details`` become extra return keys."""

    def __init__(self, msg, **details):
        super(ModuleError, self).__init__(msg)
        self.msg = msg
        self.details = details


class CommandError(ModuleError):
    pass


class Runner:
    """Runs argv lists through ``module.run_command`` and remembers what it ran."""

    def __init__(self, module, become_user=None, environ=None, secrets=()):
        self.module = module
        self.check_mode = module.check_mode
        self.become_user = become_user
        self.environ = dict(environ or {})
        self.secrets = [s for s in secrets if s]
        self.commands = []

    def _mask(self, text):
        return mask(text, self.secrets)

    def wrap(self, argv):
        """Prefix argv so it runs as ``become_user`` with a clean, explicit environment."""
        if not self.become_user:
            return list(argv)
        # runuser needs root; sudo -n fails fast instead of prompting when we are not root.
        return ["runuser", "-u", self.become_user, "--"] + list(argv)

    def run(self, argv, mutating=False, check_rc=True, environ=None, data=None, cwd=None,
            what=None):
        """Run argv; in check mode a mutating command is recorded but not run (rc 0, empty output)."""
        full = self.wrap(argv)
        self.commands.append(self._mask(" ".join(shlex.quote(a) for a in full)))
        if mutating and self.check_mode:
            return 0, "", ""
        env = dict(self.environ)
        env.update(environ or {})
        rc, out, err = self.module.run_command(full, environ_update=env, data=data, cwd=cwd,
                                               binary_data=data is not None and isinstance(data, bytes))
        if check_rc and rc != 0:
            raise CommandError(
                "Failed to %s: %s exited %d: %s" % (
                    what or "run command", argv[0], rc, self._mask((err or out).strip()[-2000:])),
                cmd=self.commands[-1], rc=rc, stdout=self._mask(out), stderr=self._mask(err))
        return rc, out, err
