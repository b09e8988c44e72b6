#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: artifact_store
short_description: Keep deployed artifacts by sha256 and decide which one an environment may be promoted
version_added: 0.2.0
description:
  - A directory O(store), usually on the controller, keeps every deployed artifact as C(<sha256>.tar.gz) with a
    record C(<sha256>.json) with its version and git sha, and per environment the last deploy (release id, hosts, when)
    and how the site's smoke tests ended there. C(environments/<env>.json) names what each environment runs now.
  - O(state=recorded) files a deploy or a rollback; O(state=promotable) finds the artifact a promotion may deploy
    and fails, changing nothing, when the source environment never ran it or its smoke tests there did not pass.
attributes:
  idempotent:
    support: partial
    details: O(state=promotable) only reads. O(state=recorded) files an event, so each call changes the record.
author: BoosterBeacon operators (@boosterbeacon)
extends_documentation_fragment: [boosterbeacon.infra.attributes, boosterbeacon.infra.attributes.actiongroup,
                                 boosterbeacon.infra.attributes.check_and_diff, boosterbeacon.infra.attributes.posix]
options:
  store:
    description: Directory of the store; created when missing.
    type: path
    required: true
  state:
    description:
      - V(recorded) copies O(artifact) into the store when it is not there yet (after checking its sha256), files
        the event in the artifact's record and points O(environment) at it; then removes the oldest artifacts
        beyond O(keep) that no environment runs.
      - V(promotable) returns the artifact O(environment) may hand on, O(sha256) or what O(environment) runs now.
    type: str
    choices: [recorded, promotable]
    default: promotable
  sha256:
    description:
      - The artifact's sha256. Required with O(state=recorded).
      - With O(state=promotable), the artifact to promote; empty, what O(environment) runs now.
    type: str
  environment:
    description: The environment the event happened on (V(recorded)), or the one promoted from (V(promotable)).
    type: str
    required: true
  artifact:
    description:
      - The artifact file to keep. Empty with a rollback, whose artifact must be in the store already.
    type: path
  release_id:
    description: The release the environment's hosts run it as.
    type: str
  version:
    description: The artifact's version.
    type: str
  git_sha:
    description: The source commit it was built from.
    type: str
  hosts:
    description: The hosts that run it.
    type: list
    elements: str
    default: []
  smoke:
    description:
      - How the smoke tests against the environment's site ended. Omitted (a rollback), the result the environment
        recorded for this artifact before stays.
    type: str
    choices: [passed, failed, not run]
  site_url:
    description: The site the smoke tests ran against.
    type: str
    default: ""
  kind:
    description: What happened.
    type: str
    choices: [deploy, rollback]
    default: deploy
  keep:
    description: How many artifacts the store keeps besides those an environment runs.
    type: int
    default: 20
notes:
  - Every controller that deploys or promotes must see the same O(store) (a shared path, or a copy kept by CI between
    jobs); the record is only as good as the store's permissions.
seealso:
  - module: boosterbeacon.infra.release_manager
"""

EXAMPLES = r"""
- name: File the deploy to staging
  boosterbeacon.infra.artifact_store:
    store: /var/lib/boosterbeacon-artifacts
    state: recorded
    environment: staging
    artifact: /tmp/app_deploy.x/artifact.tar.gz
    sha256: "{{ app_deploy_build.sha256 }}"
    release_id: "{{ app_deploy_build.release_id }}"
    hosts: "{{ groups['app'] }}"
    smoke: passed
  delegate_to: localhost

- name: What staging runs now, if it passed there
  boosterbeacon.infra.artifact_store:
    store: /var/lib/boosterbeacon-artifacts
    environment: staging
  delegate_to: localhost
  register: promotable
"""

RETURN = r"""
sha256:
  description: The artifact's sha256.
  returned: success
  type: str
path:
  description: The artifact's file in the store.
  returned: success
  type: str
  sample: /var/lib/boosterbeacon-artifacts/3f1c...e9.tar.gz
record:
  description: The artifact's record (after the event, for O(state=recorded)).
  returned: success
  type: dict
pruned:
  description: The sha256 of the artifacts removed (or, in check mode, that would be).
  returned: when O(state=recorded)
  type: list
  elements: str
commands:
  description: The file operations run (or, in check mode, that would run).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.boosterbeacon.infra.plugins.module_utils._artifact_store import ArtifactStore
from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import run_module

ARGUMENT_SPEC = dict(
    store=dict(type="path", required=True),
    state=dict(type="str", default="promotable", choices=["recorded", "promotable"]),
    sha256=dict(type="str"),
    environment=dict(type="str", required=True),
    artifact=dict(type="path"),
    release_id=dict(type="str"),
    version=dict(type="str"),
    git_sha=dict(type="str"),
    hosts=dict(type="list", elements="str", default=[]),
    smoke=dict(type="str", choices=["passed", "failed", "not run"]),
    site_url=dict(type="str", default=""),
    kind=dict(type="str", default="deploy", choices=["deploy", "rollback"]),
    keep=dict(type="int", default=20),
)
REQUIRED_IF = [("state", "recorded", ["sha256", "release_id"])]


def main():
    run_module(ArtifactStore, ARGUMENT_SPEC, required_if=REQUIRED_IF)


if __name__ == "__main__":
    main()
