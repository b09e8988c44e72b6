#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: pm2_process
short_description: Desired state of a PM2 app, zero-downtime reloads that wait, and boot-time startup
version_added: 0.1.0
description:
  - Runs the pm2 CLI as O(user) with an explicit C(PM2_HOME) and C(PATH) (never a login shell's), and reads
    C(pm2 jlist) for facts per instance (status, pid, uptime, restarts, memory, CPU, cwd, script).
  - After a start, restart or reload it waits until every instance is online with a new process, or fails with
    the tail of the app's PM2 logs.
  - With O(expect_path), it checks that every instance runs from that path after resolving symlinks, which catches
    PM2 keeping the old release after C(current) moved.
author: BoosterBeacon operators (@boosterbeacon)
extends_documentation_fragment:
  - boosterbeacon.infra.attributes
  - boosterbeacon.infra.attributes.actiongroup
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff shows instance count, statuses and working directories before and after.
  idempotent:
    support: partial
    details: V(restarted) and V(reloaded) always change.
  platform:
    platforms: debian
options:
  name:
    description: PM2 app name (the C(name) in the ecosystem file).
    type: str
    required: true
  ecosystem:
    description: Ecosystem file to start or reload from (for example C(/srv/boosterbeacon/current/ecosystem.config.js)).
    type: path
  script:
    description: Script to start when there is no ecosystem file.
    type: path
  cwd:
    description: Working directory for the pm2 commands (PM2 resolves relative paths from it).
    type: path
  state:
    description:
      - V(started) starts the app if missing, restarts it if an instance is not online and scales to O(instances).
      - V(present) starts the app only if PM2 does not know it.
      - V(stopped), V(deleted), V(restarted) and V(reloaded) (zero-downtime in cluster mode) do what they say.
    type: str
    choices: [started, present, stopped, restarted, reloaded, deleted]
    default: started
  user:
    description: Account whose PM2 daemon runs the app (commands run with runuser). Default the connection user.
    type: str
  pm2_home:
    description: PM2_HOME; default C(~user/.pm2).
    type: path
  executable:
    description: Path of pm2; default found in C(/usr/local/bin), C(/usr/bin).
    type: path
  instances:
    description: Instances to run (cluster mode); V(started) scales to it.
    type: int
  exec_mode:
    description: Mode for O(script) starts.
    type: str
    choices: [fork, cluster]
    default: cluster
  env:
    description: Environment for the pm2 command that starts or updates the app. Values are not logged.
    type: dict
  wait_ready:
    description: For O(script) starts, wait for the app's C(process.send('ready')).
    type: bool
    default: false
  listen_timeout:
    description: Milliseconds PM2 waits for ready, for O(script) starts.
    type: int
  kill_timeout:
    description: Milliseconds PM2 waits after SIGINT before SIGKILL, for O(script) starts.
    type: int
  update_env:
    description: Pass C(--update-env) so a restart or reload picks up O(env).
    type: bool
    default: false
  timeout:
    description: Seconds to wait for every instance to be online.
    type: int
    default: 60
  expect_path:
    description: After starting or reloading, fail unless every instance's working directory (or script) resolves to this path.
    type: path
  save:
    description: Run C(pm2 save) after a change, so the process list survives a reboot.
    type: bool
    default: false
  startup:
    description: Make sure the C(pm2-<user>) systemd unit is installed and enabled (runs C(pm2 startup) as root if not).
    type: bool
    default: false
seealso:
  - module: boosterbeacon.infra.release_manager
  - module: boosterbeacon.infra.health_probe
"""

EXAMPLES = r"""
- name: Reload the service from the new release without dropping requests
  boosterbeacon.infra.pm2_process:
    name: boosterbeacon
    ecosystem: /srv/boosterbeacon/current/ecosystem.config.js
    cwd: /srv/boosterbeacon/current
    user: boosterbeacon
    state: reloaded
    expect_path: /srv/boosterbeacon/current
    save: true

- name: Make sure it runs, with three instances
  boosterbeacon.infra.pm2_process:
    name: boosterbeacon
    ecosystem: /srv/boosterbeacon/current/ecosystem.config.js
    user: boosterbeacon
    instances: 3
    state: started
"""

RETURN = r"""
processes:
  description: Every instance of the app after the task (before it, in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "boosterbeacon", "pm_id": 0, "pid": 4242, "status": "online", "uptime": 12, "restarts": 0,
            "memory": 61231104, "cpu": 0.3, "exec_mode": "cluster_mode", "cwd": "/srv/boosterbeacon/releases/20261124T213000Z-abc1234"}]
action:
  description: What the module did (start, restart, reload, scale, stop, delete), or null.
  returned: always
  type: str
  sample: reload
release_path:
  description: The resolved O(expect_path) every instance runs from.
  returned: when expect_path is set
  type: str
  sample: /srv/boosterbeacon/releases/20261124T213000Z-abc1234
startup_unit:
  description: The boot-time unit.
  returned: when startup is true
  type: str
  sample: pm2-boosterbeacon
commands:
  description: pm2 commands run (or that would run, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["runuser -u boosterbeacon -- /usr/local/bin/pm2 reload boosterbeacon"]
log_tail:
  description: Last lines of the app's PM2 logs, by path.
  returned: on failure to bring the app online
  type: dict
  sample: {"/srv/boosterbeacon/.pm2/logs/boosterbeacon-error.log": ["Error: listen EADDRINUSE"]}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.boosterbeacon.infra.plugins.module_utils._pm2_process import Pm2Process
from ansible_collections.boosterbeacon.infra.plugins.module_utils._runner import ModuleError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True), ecosystem=dict(type="path"), script=dict(type="path"),
            cwd=dict(type="path"),
            state=dict(type="str", default="started",
                       choices=["started", "present", "stopped", "restarted", "reloaded", "deleted"]),
            user=dict(type="str"), pm2_home=dict(type="path"), executable=dict(type="path"),
            instances=dict(type="int"), exec_mode=dict(type="str", default="cluster", choices=["fork", "cluster"]),
            env=dict(type="dict", no_log=True), wait_ready=dict(type="bool", default=False),
            listen_timeout=dict(type="int"), kill_timeout=dict(type="int"),
            update_env=dict(type="bool", default=False), timeout=dict(type="int", default=60),
            expect_path=dict(type="path"), save=dict(type="bool", default=False),
            startup=dict(type="bool", default=False),
        ),
        mutually_exclusive=[("ecosystem", "script")],
        supports_check_mode=True,
    )
    try:
        result = Pm2Process(module).run()
    except ModuleError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
