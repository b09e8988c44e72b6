# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter pm2_jlist: the processes `pm2 jlist` printed, read as the modules read them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import pm2_jlist as _pm2_jlist


def pm2_jlist(output):
    try:
        return _pm2_jlist(output)
    except ValueError as exc:
        raise AnsibleFilterError("pm2_jlist: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"pm2_jlist": pm2_jlist}
