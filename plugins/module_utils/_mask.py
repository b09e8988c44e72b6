# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Masking secrets in text a module or a role prints.

A secret reaches output in more forms than its own: a tool that echoes its connection URL prints
the password percent-encoded. Every form is replaced, the longest first, so a form that contains
another is masked whole.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    from urllib.parse import quote, quote_plus
except ImportError:  # Python 2 on a managed host
    from urllib import quote, quote_plus  # type: ignore[attr-defined,no-redef]

MASK = "********"


def _longest_first(form):
    # Ties in a fixed order: a set's order changes from one run to the next.
    return -len(form), form


def secret_forms(secret):
    """The forms of ``secret`` that may appear in output: itself and its URL encodings."""
    forms = set([secret, quote(secret, safe=""), quote(secret, safe="/"), quote_plus(secret)])
    return sorted((form for form in forms if form), key=_longest_first)


def mask(text, secrets, replacement=MASK):
    """Return ``text`` with every form of every non-empty secret replaced."""
    forms = sorted(set(form for secret in secrets if secret for form in secret_forms(secret)), key=_longest_first)
    for form in forms:
        text = text.replace(form, replacement)
    return text
