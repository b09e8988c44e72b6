# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A module's logic run outside Ansible, by a scheduled job on the host.

The scheduled dumps (roles/pg_dumps) run the very code the pg_backup module runs: the job gets
these files on the host, builds a ``StandaloneModule`` from the module's own argument spec and
hands it to the module's Manager. Only what the Managers use of AnsibleModule is provided:
``params`` with the spec's defaults, ``check_mode``, ``_diff`` and ``run_command``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess

from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import ModuleError

__all__ = ["StandaloneModule", "run_standalone"]


class StandaloneModule:
    """The part of AnsibleModule a Manager uses, for a real run (never check mode)."""

    check_mode = False
    _diff = False

    def __init__(self, argument_spec, params):
        unknown = sorted(set(params) - set(argument_spec))
        if unknown:
            raise ModuleError("Unsupported parameters: %s (known: %s)." % (
                ", ".join(unknown), ", ".join(sorted(argument_spec))))
        self.params = dict((name, spec.get("default")) for name, spec in argument_spec.items())
        self.params.update(params)
        for name, spec in argument_spec.items():
            choices = spec.get("choices")
            if choices and self.params[name] not in choices:
                raise ModuleError("%s must be one of %s, not %r." % (name, ", ".join(choices), self.params[name]))

    @staticmethod
    def run_command(argv, environ_update=None, data=None, cwd=None, binary_data=False):
        """AnsibleModule.run_command's contract for an argv list: (rc, stdout, stderr) as text;
        text ``data`` gets a trailing newline as Ansible adds one."""
        env = dict(os.environ)
        env.update(environ_update or {})
        if data is not None and not binary_data:
            data = (data + "\n").encode()
        try:
            proc = subprocess.run(argv, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=env, cwd=cwd, check=False)
        except OSError as exc:  # a missing program, as Ansible reports it: rc 2 and the reason
            return 2, "", str(exc)
        return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


def run_standalone(manager, argument_spec, params):
    """``manager(StandaloneModule(...)).run()``: the module's result, or a ModuleError."""
    return manager(StandaloneModule(argument_spec, params)).run()
