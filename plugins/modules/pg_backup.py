#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: pg_backup
short_description: PostgreSQL dumps with checksums and manifests, verified by real restores, guarded restores, retention
version_added: 0.1.0
description:
  - V(dump) runs C(pg_dump) into a temporary name, checks that C(pg_restore --list) reads it (some pg_dump failures exit 0),
    computes its sha256 and renames it into place, then writes a manifest C(<name>.json) with the database, server and
    pg_dump versions, size, checksum, every table's exact row count, the applied migrations, times and a label.
  - V(verify) checks the sha256, restores the dump into a scratch database, compares row counts with the manifest, always
    drops the scratch database, and marks the manifest verified.
  - V(restore) restores into a named database; it refuses a database with tables unless O(force=true), and can create a new one.
  - V(prune) keeps backups by count and by day, week and month, and never removes the newest verified backup.
  - V(query) lists backups with age, size and whether they were verified (a list state, named like
    release_manager's; C(state=list) is reserved for info modules).
author: BoosterBeacon operators (@boosterbeacon)
extends_documentation_fragment: [boosterbeacon.infra.attributes, boosterbeacon.infra.attributes.actiongroup,
                                 boosterbeacon.infra.attributes.debian, boosterbeacon.infra.postgres]
attributes:
  check_mode:
    support: full
    details:
      - A dump, verify or restore is always predicted as a change; nothing is written or restored.
      - What only reads runs in check mode too (the server version, row counts and migrations a dump records, the
        checksum and table of contents a verify checks), so RV(commands) lists the commands a real run makes.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details: V(dump) and V(verify) always change (a new file, a manifest update); V(prune) and V(query) are idempotent.
options:
  state:
    description: What to do.
    type: str
    choices: [dump, verify, restore, prune, query]
    default: query
  database:
    description: Database to dump; with other states, only backups of this database are considered.
    type: str
  dest:
    description: Directory of dumps and manifests (created 0700, owned by O(become_user), else by the account the module runs as).
    type: path
    default: /var/backups/boosterbeacon/postgresql
  label:
    description: Free text stored in the manifest and the file name, for example C(pre-migration 20261124T213000Z-abc1234).
    type: str
  format:
    description: pg_dump format; V(directory) allows parallel dumps and restores with O(jobs).
    type: str
    choices: [custom, directory]
    default: custom
  compression:
    description: Compression level.
    type: int
    default: 6
  jobs:
    description: Parallel jobs, for the V(directory) format.
    type: int
    default: 1
  migrations_table:
    description: Table of applied migrations (node-pg-migrate's by default) whose names go into the manifest.
    type: str
    default: pgmigrations
  path:
    description: Dump to verify or restore; without it, the newest backup (of O(database) if given). Its manifest is
      looked for beside it (C(<name>.json)) and then in O(dest), so a dump kept outside O(dest) needs no O(dest).
    type: path
  target:
    description: Database to restore into.
    type: str
  create:
    description: Create O(target) first; fails if it exists.
    type: bool
    default: false
  force:
    description: Restore into an existing database with C(pg_restore --clean --if-exists), which drops and recreates the
      objects the dump contains (other objects stay), whether or not it has tables (a freshly provisioned database
      already has the dump's schemas). Needed for a database that has tables. Never drops the database itself.
    type: bool
    default: false
  no_owner:
    description: Restore without the dump's ownership and grants (C(--no-owner --no-acl)).
    type: bool
    default: false
  keep_last:
    description: With V(prune), keep this many newest backups.
    type: int
    default: 7
  keep_daily:
    description: With V(prune), keep the newest backup of each of this many days.
    type: int
    default: 7
  keep_weekly:
    description: With V(prune), keep the newest backup of each of this many ISO weeks.
    type: int
    default: 4
  keep_monthly:
    description: With V(prune), keep the newest backup of each of this many months.
    type: int
    default: 6
  verify_query:
    description:
      - With V(verify), SQL run on the restored copy after the row counts match; the verification fails unless its
        first row's first column is true, for example C(SELECT count(*) > 0 FROM app.users).
      - It runs as O(become_user) in the scratch database, which is dropped afterwards whatever the answer.
    type: str
  ssl_rootcert:
    description:
      - CA certificate file that checks the server's certificate with O(ssl_mode=verify-ca) or O(ssl_mode=verify-full)
        (libpq's C(sslrootcert), passed as C(PGSSLROOTCERT)).
    type: path
"""

EXAMPLES = r"""
- name: Back up before migrating
  boosterbeacon.infra.pg_backup:
    state: dump
    database: boosterbeacon
    label: pre-migration {{ release_id }}
    become_user: postgres
  register: backup

- name: Prove it restores
  boosterbeacon.infra.pg_backup:
    state: verify
    path: "{{ backup.path }}"
    become_user: postgres

- name: Restore it into a new database
  boosterbeacon.infra.pg_backup:
    state: restore
    path: "{{ backup.path }}"
    target: boosterbeacon_restored
    create: true
    become_user: postgres

# Without root: as the database owner over TCP, into a directory the account running it owns.
- name: Back up before migrating, as the database owner
  boosterbeacon.infra.pg_backup:
    state: dump
    database: boosterbeacon
    label: pre-migration {{ release_id }}
    dest: /var/backups/boosterbeacon-deploys
    login_host: db1.internal
    login_user: boosterbeacon_owner
    login_password: "{{ vault_postgresql_owner_password }}"
    ssl_mode: verify-full
    ssl_rootcert: /etc/ssl/boosterbeacon-internal/ca.crt
  no_log: true
"""

RETURN = r"""
path:
  description: The dump file (or directory).
  returned: states dump, verify, restore
  type: str
  sample: /var/backups/boosterbeacon/postgresql/boosterbeacon-20261124T213000Z-pre-migration.dump
manifest:
  description: The manifest written next to the dump.
  returned: state dump
  type: dict
  sample: {"database": "boosterbeacon", "sha256": "9f...", "tables": {"app.beacons": 42}, "status": "dumped"}
manifest_path:
  description: Path of the manifest.
  returned: state dump
  type: str
  sample: /var/backups/boosterbeacon/postgresql/boosterbeacon-20261124T213000Z-pre-migration.json
sha256:
  description: Checksum of the dump.
  returned: state dump
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
size:
  description: Bytes on disk.
  returned: state dump
  type: int
  sample: 482133
tables:
  description: Row counts per table (of the source for dump, of the restored copy for verify and restore).
  returned: states dump, verify, restore
  type: dict
  sample: {"app.beacons": 42, "app.pgmigrations": 2}
mismatches:
  description: Tables whose restored row count differs from the manifest.
  returned: states verify, restore
  type: list
  elements: dict
  sample: [{"table": "app.beacons", "expected": 42, "actual": 41}]
verify_query_answer:
  description: What O(verify_query) answered on the restored copy.
  returned: state verify with O(verify_query)
  type: str
  sample: t
removed:
  description: Backups removed by pruning (to be removed, in check mode).
  returned: state prune
  type: list
  elements: str
  sample: ["boosterbeacon-20261101T020000Z"]
kept:
  description: Backups kept, with the rules that keep them.
  returned: state prune
  type: dict
  sample: {"boosterbeacon-20261124T020000Z": ["last 7", "daily 2026-11-24", "newest verified"]}
backups:
  description: Backups, newest first.
  returned: state query
  type: list
  elements: dict
  sample: [{"name": "boosterbeacon-20261124T020000Z", "age": "3.2 h", "size": 482133, "verified": true,
            "verified_at": "2026-11-24T04:00:12Z", "verified_age_s": 7400}]
commands:
  description:
    - Commands run; passwords never appear.
    - In check mode, the commands a run would make, in the same order (those that change nothing run, the others are
      only listed); the scratch database of a verify has another random name.
  returned: always
  type: list
  elements: str
  sample: ["runuser -u postgres -- pg_dump --format custom --compress 6 --file /var/backups/x.partial boosterbeacon"]
"""

from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import run_module
from ansible_collections.boosterbeacon.infra.plugins.module_utils._pg_backup import PgBackup
from ansible_collections.boosterbeacon.infra.plugins.module_utils._postgres import postgres_common_argument_spec

ARGUMENT_SPEC = dict(
    postgres_common_argument_spec(),
    state=dict(type="str", default="query", choices=["dump", "verify", "restore", "prune", "query"]),
    database=dict(type="str"),
    dest=dict(type="path", default="/var/backups/boosterbeacon/postgresql"),
    label=dict(type="str"),
    format=dict(type="str", default="custom", choices=["custom", "directory"]),
    compression=dict(type="int", default=6),
    jobs=dict(type="int", default=1),
    migrations_table=dict(type="str", default="pgmigrations"),
    path=dict(type="path"),
    target=dict(type="str"),
    create=dict(type="bool", default=False),
    force=dict(type="bool", default=False),
    no_owner=dict(type="bool", default=False),
    keep_last=dict(type="int", default=7),
    keep_daily=dict(type="int", default=7),
    keep_weekly=dict(type="int", default=4),
    keep_monthly=dict(type="int", default=6),
    verify_query=dict(type="str"),
    ssl_rootcert=dict(type="path"),
)
REQUIRED_IF = [("state", "dump", ["database"]), ("state", "restore", ["target"])]


def main():
    run_module(PgBackup, ARGUMENT_SPEC, required_if=REQUIRED_IF)


if __name__ == "__main__":
    main()
