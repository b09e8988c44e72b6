# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action apt_packages: ansible.builtin.apt, run only when dpkg says there is something to do
(documentation: plugins/modules/apt_packages.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible_collections.boosterbeacon.infra.plugins.module_utils._apt_packages import (
    ARGUMENT_SPEC, STAMP_COMMAND, apt_args, parse_probe, pending, probe_command, refresh_due, settled_message)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        params = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        # Read-only, so without become: dpkg's and apt's state files are readable by anyone.
        probe = self._low_level_execute_command(probe_command(params["name"]), sudoable=False)
        answer = parse_probe(to_text(probe.get("stdout", ""))) if probe.get("rc") == 0 else None
        left = pending(params, answer) if answer is not None else params["name"]
        due = refresh_due(params, answer)
        if not left and not due:
            result.update(changed=False, apt_ran=False, pending=[], msg=settled_message(params))
            return result
        result.update(self._execute_module(module_name="ansible.builtin.apt", module_args=apt_args(params),
                                           task_vars=task_vars))
        if due and not self._task.check_mode and not result.get("failed"):
            self._low_level_execute_command(STAMP_COMMAND, sudoable=True)
        result.update(apt_ran=True, pending=left)
        return result
