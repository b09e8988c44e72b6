# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter redis_cli_quote: one argument of a command line that redis-cli reads on stdin."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import string

from ansible.module_utils.common.text.converters import to_bytes

_PLAIN = frozenset(to_bytes(string.ascii_letters + string.digits + "-_.:"))


def redis_cli_quote(value):
    """Double-quoted, every byte outside letters, digits and -_.: as \\xHH: redis-cli's line
    splitter (sdssplitargs) gives back exactly these bytes, whatever quotes, spaces, $ or
    non-ASCII the value holds."""
    return '"' + "".join(chr(b) if b in _PLAIN else "\\x%02x" % b for b in bytearray(to_bytes(value))) + '"'


class FilterModule(object):
    def filters(self):
        return {"redis_cli_quote": redis_cli_quote}
