# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters mask_secrets (text with every secret masked, its URL-encoded forms included) and
secret_forms (those forms, for a test that looks for them in output)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text
from ansible_collections.boosterbeacon.infra.plugins.module_utils._mask import MASK, mask
from ansible_collections.boosterbeacon.infra.plugins.module_utils._mask import secret_forms as _forms


def mask_secrets(text, secrets, replacement=MASK):
    if isinstance(secrets, (str, bytes)):
        raise AnsibleFilterError("mask_secrets expects a list of secrets, not a single string")
    return mask(to_text(text), [to_text(s) for s in secrets if s], replacement)


def secret_forms(secrets):
    """Every form each secret may take in output (itself, its URL encodings); a dict gives its values."""
    if isinstance(secrets, dict):
        secrets = list(secrets.values())
    if isinstance(secrets, (str, bytes)):
        raise AnsibleFilterError("secret_forms expects a list or dict of secrets, not a single string")
    return sorted(set(form for s in secrets if s for form in _forms(to_text(s))))


class FilterModule(object):
    def filters(self):
        return {"mask_secrets": mask_secrets, "secret_forms": secret_forms}
