# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Edit top-level string values of a YAML vars file as text, so its comments, order and tags
(``!unsafe``) stay as they were; and write it back atomically, keeping its mode."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import write_file_atomic

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class VaultFileError(Exception):
    """The vars file cannot take the new values (the message names the variable)."""


def quote(value):
    """A YAML single-quoted scalar: only the quote itself needs escaping."""
    if "\n" in value or "\r" in value:
        raise VaultFileError("a new value holds a line break, which this editor does not write")
    return "'" + value.replace("'", "''") + "'"


def _key_line(lines, name):
    pattern = re.compile(r"^" + re.escape(name) + r"\s*:(\s|$)")
    found = [i for i, line in enumerate(lines) if pattern.match(line)]
    if len(found) > 1:
        raise VaultFileError("%s is set %d times in the vars file: keep one" % (name, len(found)))
    return found[0] if found else None


def _continues(lines, index):
    """Whether line ``index`` belongs to the value above it (indented, or blank before an indented one)."""
    if lines[index][:1] in (" ", "\t"):
        return True
    return not lines[index].strip() and index + 1 < len(lines) and lines[index + 1][:1] in (" ", "\t")


def _value_end(lines, start):
    """Index after the last line of the value that starts on ``start``."""
    end = start + 1
    while end < len(lines) and _continues(lines, end):
        end += 1
    return end


def set_values(text, values):
    """Return (new_text, changed_names): ``text`` with each ``name: value`` of ``values`` set,
    as a top-level single-quoted string (``!unsafe`` kept when the old value had it), appended
    when the name is new. Raises VaultFileError on a bad name or a name set twice."""
    lines = text.splitlines()
    changed = []
    for name in sorted(values):
        if not _NAME.match(name):
            raise VaultFileError("%r is not a variable name" % name)
        new = str(values[name])
        index = _key_line(lines, name)
        if index is None:
            lines.append("%s: %s" % (name, quote(new)))
            changed.append(name)
            continue
        old = lines[index].split(":", 1)[1].strip()
        tag = "!unsafe " if old.startswith("!unsafe") else ""
        line = "%s: %s%s" % (name, tag, quote(new))
        end = _value_end(lines, index)
        if lines[index:end] != [line]:
            lines[index:end] = [line]
            changed.append(name)
    return "\n".join(lines) + "\n", changed


def atomic_write(path, data):
    """Replace ``path`` with ``data`` (bytes) by rename(2), keeping its mode (0600 for a new
    file): a reader sees the old file or the new one, never a part."""
    mode = os.stat(path).st_mode & 0o7777 if os.path.exists(path) else 0o600
    write_file_atomic(path, data, mode=mode)
