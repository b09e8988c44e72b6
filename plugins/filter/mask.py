# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter mask_secrets: text with every secret masked, its URL-encoded forms included."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text
from ansible_collections.boosterbeacon.infra.plugins.module_utils._mask import MASK, mask


def mask_secrets(text, secrets, replacement=MASK):
    if isinstance(secrets, (str, bytes)):
        raise AnsibleFilterError("mask_secrets expects a list of secrets, not a single string")
    return mask(to_text(text), [to_text(s) for s in secrets if s], replacement)


class FilterModule(object):
    def filters(self):
        return {"mask_secrets": mask_secrets}
