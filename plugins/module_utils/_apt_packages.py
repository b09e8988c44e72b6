# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The apt_packages action's decisions: one shell command asks dpkg (and apt's stamps) what the
host has, and apt runs only when that answer leaves something to do. Opening apt's cache in Python
costs about a second of the host's CPU; dpkg-query costs a hundredth of that."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import shlex

# A plain Debian package name. Anything else (a version, an architecture, a wildcard, a .deb)
# goes to apt, which knows how to read it.
PLAIN_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")

# The same two places apt's own cache_valid_time reads, in the same order.
_STAMP = "/var/lib/apt/periodic/update-success-stamp"
_LISTS = "/var/lib/apt/lists"
_EXTENDED_STATES = "/var/lib/apt/extended_states"

ARGUMENT_SPEC = dict(
    name=dict(type="list", elements="str", default=[]),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    update_cache=dict(type="bool", default=False),
    cache_valid_time=dict(type="int", default=0),
    install_recommends=dict(type="bool"),
    purge=dict(type="bool", default=False),
)


def probe_command(names):
    """Shell command printing tagged lines: the native architecture, the time of the last list
    refresh, the host's clock, each named package's status, and which of them apt installed only
    as a dependency (apt marks named packages as installed by hand; so must we). Plain names only:
    the others are apt's to read."""
    names = [n for n in names if PLAIN_NAME.match(n)]
    quoted = " ".join(shlex.quote(n) for n in names)
    lines = [
        "LC_ALL=C; export LC_ALL",
        "printf 'arch\\t%s\\n' \"$(dpkg --print-architecture)\"",
        "printf 'stamp\\t%s\\n' \"$(stat -c %Y {0} 2>/dev/null || stat -c %Y {1} 2>/dev/null || echo 0)\"".format(
            _STAMP, _LISTS),
        "printf 'now\\t%s\\n' \"$(date +%s)\"",
    ]
    if names:
        lines.append("dpkg-query -W -f='pkg\\t${db:Status-Abbrev}\\t${Package}\\t${Architecture}\\n' -- %s "
                     "2>/dev/null" % quoted)
        lines.append("[ -r {0} ] && awk -v RS= -v names=' {1} ' "
                     "'/Auto-Installed: 1/ && index(names, \" \" $2 \" \") {{ print \"auto\\t\" $2 }}' {0}".format(
                         _EXTENDED_STATES, " ".join(names)))
    lines.append("echo done")
    return "\n".join(lines)


def parse_probe(stdout):
    """The probe's answer as a dict; None when it is incomplete (no dpkg, a shell that failed)."""
    answer = dict(arch=None, stamp=None, now=None, status={}, auto=set())
    complete = False
    for line in stdout.splitlines():
        fields = line.split("\t")
        tag = fields[0]
        if tag == "arch" and len(fields) == 2:
            answer["arch"] = fields[1]
        elif tag in ("stamp", "now") and len(fields) == 2 and fields[1].isdigit():
            answer[tag] = int(fields[1])
        elif tag == "pkg" and len(fields) == 4:
            answer["status"].setdefault(fields[2], []).append((fields[1], fields[3]))
        elif tag == "auto" and len(fields) == 2:
            answer["auto"].add(fields[1])
        elif tag == "done":
            complete = True
    if not complete or not answer["arch"] or answer["stamp"] is None or answer["now"] is None:
        return None
    return answer


def refresh_due(params, answer):
    """Whether apt would refresh its lists: asked to (update_cache, or a cache_valid_time alone,
    as apt reads it) and the last refresh is older than cache_valid_time (or unknown)."""
    if not (params["update_cache"] or params["cache_valid_time"]):
        return False
    return answer is None or answer["stamp"] + params["cache_valid_time"] < answer["now"]


# A refresh that finds the lists unchanged leaves the lists directory's time alone, so without
# this stamp (which Debian does not write) cache_valid_time never holds and every task refreshes.
STAMP_COMMAND = "mkdir -p %s && touch %s" % (_STAMP.rsplit("/", 1)[0], _STAMP)


def _installed(abbrev):
    # Status-Abbrev: wanted (i install, h hold), state (i installed), error flag (space: none).
    return len(abbrev) >= 2 and abbrev[0] in "ih" and abbrev[1] == "i" and abbrev[2:].strip() == ""


def _gone(abbrev, purge):
    # n: not installed; c: only configuration files left, which is gone unless purging.
    return len(abbrev) >= 2 and (abbrev[1] == "n" or (abbrev[1] == "c" and not purge))


def pending(params, answer):
    """The named packages apt would still act on. Names dpkg cannot answer for (not plain, not
    known for 'present') count as pending: apt decides those."""
    names = params["name"]
    native = (answer["arch"], "all")
    left = []
    for name in names:
        entries = answer["status"].get(name, [])
        if not PLAIN_NAME.match(name):
            left.append(name)
        elif params["state"] == "present":
            if not any(_installed(abbrev) and arch in native for abbrev, arch in entries) or name in answer["auto"]:
                left.append(name)
        elif not all(_gone(abbrev, params["purge"]) for abbrev, arch in entries):
            left.append(name)
    return left


def settled_message(params):
    parts = []
    if params["name"]:
        parts.append("every package is %s" % params["state"])
    if params["update_cache"] or params["cache_valid_time"]:
        parts.append("the lists are younger than %d s" % params["cache_valid_time"])
    return "Nothing to do: %s; apt not run" % " and ".join(parts or ["no package named"])


def apt_args(params):
    """The arguments for ansible.builtin.apt: what the task asked, nothing more."""
    args = dict(update_cache=params["update_cache"], cache_valid_time=params["cache_valid_time"])
    if params["name"]:
        args.update(name=params["name"], state=params["state"])
        if params["state"] == "absent":
            args["purge"] = params["purge"]
        if params["install_recommends"] is not None:
            args["install_recommends"] = params["install_recommends"]
    return args
