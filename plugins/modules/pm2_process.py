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
  - Runs the pm2 CLI as O(user) with an explicit C(PM2_HOME) and C(PATH) (never a login shell's), and reads PM2's
    process list for facts per instance (status, pid, uptime, restarts, memory, CPU, cwd, script). It asks the
    daemon over its socket (C(PM2_HOME/rpc.sock)) when it answers, else runs C(pm2 jlist), which starts the daemon.
  - After a start, restart or reload it waits until every instance is online with a new process, or fails with
    the tail of the app's PM2 logs.
  - With O(expect_path), it checks that every instance runs from that path after resolving symlinks, which catches
    PM2 keeping the old release after C(current) moved.
  - C(pm2 reload) and C(pm2 restart) apply new environment values only, never a changed app definition (node
    arguments, instances, exec mode, memory limit, script, arguments, interpreter, timeouts). With
    O(replace_changed), the module evaluates the ecosystem file and replaces the app when its definition changed or
    an instance is not online (action V(replace)), see O(replace_changed).
author: BoosterBeacon operators (@boosterbeacon)
extends_documentation_fragment: [boosterbeacon.infra.attributes, boosterbeacon.infra.attributes.actiongroup,
                                 boosterbeacon.infra.attributes.check_and_diff, boosterbeacon.infra.attributes.debian]
attributes:
  diff_mode:
    details: The diff shows instance count, statuses and working directories before and after, and with
      O(replace_changed) the compared definition.
  idempotent:
    support: partial
    details: V(restarted) and V(reloaded) always change. With O(replace_changed), V(started) and V(present) change
      only when the ecosystem file defines the app differently from what PM2 runs.
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
    description: Instances to run (cluster mode); V(started) scales to it. V(0) means one per CPU, as PM2's C(-i 0).
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
    description:
      - Seconds to wait for every instance to be online.
      - The wait ends sooner, failing, when PM2 marks an instance errored or restarts it three times
        while waiting (a crash loop); the message says which.
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
  replace_changed:
    description:
      - Compare the app's definition in O(ecosystem) with the one PM2 runs, and replace the app (action V(replace))
        instead of reloading or restarting it when they differ, or when an instance is not online (an app errored by
        an earlier failed deploy would otherwise be restarted with its old definition again).
      - Meant for O(state=reloaded) and O(state=restarted). With O(state=started) it replaces on a changed definition
        or an instance not online (instead of restarting); with O(state=present) only on a changed definition. A missing
        app is started as usual.
      - The file is evaluated with the node found beside pm2 (else on the safe C(PATH)), as O(user), in O(cwd), with
        O(env) plus C(PM2_HOME) and C(PATH), as C(pm2 start) would read it (JavaScript, JSON or YAML; C(apps), an
        array or a single app). O(instances), when set, overrides the file's count.
      - Compared fields, as PM2 keeps them - C(script) (relative to the app's cwd, symlinks not resolved, so a new
        release is not a change), C(args), C(exec_mode), C(instances), C(node_args) (or C(interpreter_args)),
        C(interpreter), C(max_memory_restart) (in bytes, C(300M) and C(1G) count in units of 1024), C(kill_timeout),
        C(listen_timeout) and C(wait_ready). The environment is not compared (a reload with O(update_env) applies it).
      - In cluster mode with an instance online the replacement is zero-downtime - a temporary app
        C(<name>-handover) starts from the new definition and shares the listening port, the app is deleted and
        started again from the new definition, then the temporary app is deleted. In fork mode, or when no instance
        was online, the app is deleted and started again, which is B(not) zero-downtime.
      - The new definition is started from a JSON copy of the evaluated app (with the cwd PM2 would use written
        out), readable by O(user) only and deleted after the start.
      - If the replacement fails at any step, the temporary app is deleted, the old app is left running if it still
        exists, and the task fails saying which step failed.
    type: bool
    default: false
seealso:
  - module: boosterbeacon.infra.release_manager
  - module: boosterbeacon.infra.health_probe
"""

EXAMPLES = r"""
# Without replace_changed, a changed definition (node arguments, instances...) waits for a restart.
- name: Reload the service from the new release, or replace it when its definition changed, without dropping requests
  boosterbeacon.infra.pm2_process:
    name: boosterbeacon
    ecosystem: /srv/boosterbeacon/current/ecosystem.config.js
    cwd: /srv/boosterbeacon/current
    user: boosterbeacon
    state: reloaded
    expect_path: /srv/boosterbeacon/current
    replace_changed: true
    update_env: true
    save: true
  register: pm2_deploy

- name: Say what changed
  ansible.builtin.debug:
    msg: "{{ pm2_deploy.definition_changes | map(attribute='field') | join(', ') }}"
  when: pm2_deploy.action == 'replace'

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
  description:
    - What the module did (start, restart, reload, scale, stop, delete, replace), or null.
    - V(replace) (only with O(replace_changed)) - the app was deleted and started again from its new definition, in
      cluster mode through a temporary C(<name>-handover) app (see RV(replace_mode)).
  returned: always
  type: str
  sample: reload
definition_changes:
  description:
    - Fields whose value in the ecosystem file differs from what PM2 runs, each with both values as compared
      (C(script) relative to the app's cwd, C(max_memory_restart) in bytes, C(node_args) and C(args) as lists,
      C(exec_mode) V(cluster) or V(fork)). Empty when they match.
  returned: when replace_changed is true and PM2 knows the app
  type: list
  elements: dict
  contains:
    field:
      description: The definition field.
      type: str
    running:
      description: The value PM2 runs.
      type: raw
    wanted:
      description: The value the ecosystem file defines.
      type: raw
  sample: [{"field": "node_args", "running": [], "wanted": ["--max-old-space-size=300"]}]
replace_mode:
  description: How the app was replaced - V(handover) (zero-downtime, cluster mode) or V(recreate) (delete and start).
  returned: when action is replace
  type: str
  sample: handover
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
  description:
    - Commands run (pm2, the ecosystem file's evaluation by node, systemctl), as the user they run as.
    - A read of the process list is listed (as C(pm2 jlist)) only when it ran the CLI, that is when no daemon answered
      on its socket.
    - In check mode, the commands a run would make, in the same order, except the C(pm2 jlist) reads that wait for the
      app to come online after a change; a replacement's definition file is named without its temporary directory.
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


from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import run_module
from ansible_collections.boosterbeacon.infra.plugins.module_utils._pm2_process import STATES, Pm2Process

ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    ecosystem=dict(type="path"),
    script=dict(type="path"),
    cwd=dict(type="path"),
    state=dict(type="str", default="started", choices=list(STATES)),
    user=dict(type="str"),
    pm2_home=dict(type="path"),
    executable=dict(type="path"),
    instances=dict(type="int"),
    exec_mode=dict(type="str", default="cluster", choices=["fork", "cluster"]),
    env=dict(type="dict", no_log=True),
    wait_ready=dict(type="bool", default=False),
    listen_timeout=dict(type="int"),
    kill_timeout=dict(type="int"),
    update_env=dict(type="bool", default=False),
    timeout=dict(type="int", default=60),
    expect_path=dict(type="path"),
    save=dict(type="bool", default=False),
    startup=dict(type="bool", default=False),
    replace_changed=dict(type="bool", default=False),
)
MUTUALLY_EXCLUSIVE = [("ecosystem", "script")]
REQUIRED_IF = [("replace_changed", True, ("ecosystem",))]


def main():
    run_module(Pm2Process, ARGUMENT_SPEC, mutually_exclusive=MUTUALLY_EXCLUSIVE, required_if=REQUIRED_IF)


if __name__ == "__main__":
    main()
