# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Shared attribute documentation for every module of the collection. A module lists this and
    # the pieces below that fit it, in one flow-style list, and keeps only what is its own.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
"""

    ACTIONGROUP = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/boosterbeacon.infra.infra) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - boosterbeacon.infra.infra
"""

    # A module that changes things and predicts and shows its changes in full; details of either
    # stay in the module (its attributes are merged over these).
    CHECK_AND_DIFF = r"""
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
  idempotent:
    support: full
    details:
      - This action does not modify state.
"""

    # Where the module runs: the managed Debian host, or the controller.
    DEBIAN = r"""
options: {}
attributes:
  platform:
    platforms: debian
"""

    POSIX = r"""
options: {}
attributes:
  platform:
    platforms: posix
"""
