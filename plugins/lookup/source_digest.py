# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lookup source_digest: one sha256 for a source tree, so an unchanged source can reuse its build."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: source_digest
author: BoosterBeacon operators (@boosterbeacon)
short_description: A sha256 of a source tree's files, names and executable bits
description:
  - Digests every file of a directory on the controller, in name order, so the same source gives
    the same digest and any change to a file's content, name or executable bit gives another.
  - In a git work tree the files are those git would track (tracked and untracked, without the
    ignored ones such as C(node_modules) or build output); elsewhere every file except those
    under C(node_modules) and C(.git).
  - The app_deploy role keys its controller build cache with it.
options:
  _terms:
    description: Directories to digest.
    required: true
    type: list
    elements: path
  exclude:
    description: Relative paths (fnmatch patterns) left out, for files a build writes inside the source.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Fingerprint the service's source
  ansible.builtin.debug:
    msg: "{{ lookup('boosterbeacon.infra.source_digest', '/src/app', exclude=['dist/*']) }}"
"""

RETURN = r"""
_raw:
  description: One sha256 (hex) per directory.
  type: list
  elements: str
"""

import fnmatch
import hashlib
import os
import stat
import subprocess

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

_SKIPPED_DIRS = ("node_modules", ".git")


def _git_files(root):
    """The files git would track under root, or None outside a git work tree."""
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return [name for name in out.decode("utf-8", "surrogateescape").split("\0") if name]


def _walked_files(root):
    found = []
    for here, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIPPED_DIRS]
        found.extend(os.path.relpath(os.path.join(here, name), root) for name in files)
    return found


def source_digest(root, exclude=()):
    """sha256 over the sorted files of root: name, executable bit and content (a link's target)."""
    if not os.path.isdir(root):
        raise AnsibleLookupError("source_digest: %s is not a directory" % root)
    names = _git_files(root)
    if names is None:
        names = _walked_files(root)
    digest = hashlib.sha256()
    for name in sorted(set(names)):
        if any(fnmatch.fnmatch(name, pattern) for pattern in exclude):
            continue
        path = os.path.join(root, name)
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            continue  # deleted in the work tree but still in git's index
        if stat.S_ISLNK(info.st_mode):
            body = ("link:" + os.readlink(path)).encode("utf-8", "surrogateescape")
        elif stat.S_ISREG(info.st_mode):
            with open(path, "rb") as handle:
                body = handle.read()
        else:
            continue
        digest.update(name.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(b"x" if info.st_mode & 0o111 else b"-")
        digest.update(hashlib.sha256(body).digest())
    return digest.hexdigest()


class LookupModule(LookupBase):
    def run(self, terms, variables=None, exclude=None, **kwargs):
        if kwargs:
            raise AnsibleLookupError("source_digest: unknown options %s" % ", ".join(sorted(kwargs)))
        if not isinstance(exclude or [], (list, tuple)):
            raise AnsibleLookupError("source_digest: exclude must be a list of patterns, got %r" % (exclude,))
        return [source_digest(term, exclude or []) for term in terms]
