from __future__ import annotations

import json
import time

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.boosterbeacon.infra.plugins.filter.deploy_record import (
    deploy_mark, deploy_notification, deploy_steps, deploy_summary, deploy_timeline, listed_migrations, rollout_failed,
    rollout_report)

MARKS = [{"step": "lock", "at": 1796000000.0}, {"step": "release", "at": 1796000001.25},
         {"step": "switch", "at": 1796000010.0}, {"step": "end", "at": 1796000012.04}]


def test_each_step_lasts_until_the_next_mark():
    steps = deploy_steps(MARKS)
    assert [s["step"] for s in steps] == ["lock", "release", "switch"]
    assert [s["seconds"] for s in steps] == [1.2, 8.8, 2.0]
    assert steps[0]["start"] == "2026-11-30T00:53:20Z"


def test_a_run_with_only_its_end_has_no_steps():
    assert deploy_steps([{"step": "end", "at": 5}]) == []


def test_bad_marks_name_the_filter():
    with pytest.raises(AnsibleFilterError, match="deploy_steps expects marks"):
        deploy_steps([{"at": 1}, {"at": 2}])


def test_deploy_timeline_names_release_checksum_and_steps():
    record = {"release_id": "20261130T005320Z-abc", "version": "2.0.0", "host": "web1", "result": "success",
              "deployed_by": "ops", "controller": "laptop", "git_sha": "0123456789abcdef",
              "artifact_sha256": "f" * 64, "steps": deploy_steps(MARKS)}
    lines = deploy_timeline(record)
    assert lines[0] == ("release 20261130T005320Z-abc (2.0.0) on web1: success, 12.0 s, by ops@laptop, "
                        "git 0123456789ab, artifact sha256 ffffffffffffffff")
    assert lines[2].split() == ["release", "8.8", "s"]


def test_rollback_timeline_says_where_it_went_from():
    record = {"kind": "rollback", "release_id": "r1", "previous": "r2", "host": "web1", "result": "failed",
              "deployed_by": "ops", "controller": "laptop", "steps": []}
    assert deploy_timeline(record) == ["rollback to r1 on web1: failed, 0 s, by ops@laptop, from r2"]


def test_a_mark_starts_a_step_now_and_keeps_the_earlier_ones():
    before = time.time()
    marks = deploy_mark(deploy_mark([], "lock", now=5.0), "switch")
    assert marks[0] == {"step": "lock", "at": 5.0}
    assert marks[1]["step"] == "switch" and before <= marks[1]["at"] <= time.time()
    assert [s["step"] for s in deploy_steps(deploy_mark(marks, "end"))] == ["lock", "switch"]


@pytest.mark.parametrize("marks, step", [(None, "lock"), ([], ""), ([], None)])
def test_a_mark_needs_a_list_and_a_step_name(marks, step):
    with pytest.raises(AnsibleFilterError, match="deploy_mark expects"):
        deploy_mark(marks, step)


def _deploy(result, release="20261130T120000Z", reason=""):
    return {"result": result, "release_id": release, "reason": reason}


def test_rollout_failed_lists_only_hosts_whose_deploy_failed():
    hostvars = {"a": {"__app_deploy_rollout": _deploy("success")}, "b": {"__app_deploy_rollout": _deploy("failed")},
                "c": {}}
    assert rollout_failed(["a", "b", "c"], hostvars) == ["b"]
    assert rollout_failed([], hostvars) == []


def test_rollout_report_says_what_each_host_did_and_collects_failures():
    hostvars = {
        "app1": {"__app_deploy_rollout": _deploy("success"),
                 "__app_deploy_fleet_rollback": {"result": "success", "release_id": "R0", "reason": ""}},
        "app2": {"__app_deploy_rollout": _deploy("failed", reason="health: /ready 503 -- rolled back to R0 (healthy)")},
        "app3": {},
        "app4": {"__app_deploy_rollout": _deploy("unchanged", "R0")},
    }
    report = rollout_report(["app1", "app2", "app3", "app4"], hostvars)
    assert report["lines"] == [
        "app1: deployed 20261130T120000Z, then put back on R0 with the fleet (success)",
        "app2: FAILED 20261130T120000Z: health: /ready 503 -- rolled back to R0 (healthy)",
        "app3: not deployed, the rollout stopped before this host",
        "app4: unchanged R0",
    ]
    assert report["failed"] == ["app2: health: /ready 503 -- rolled back to R0 (healthy)"]


def test_a_failed_fleet_rollback_is_a_failure_of_its_own():
    hostvars = {"app1": {"__app_deploy_rollout": _deploy("success"),
                         "__app_deploy_fleet_rollback": {"result": "failed", "release_id": "R0", "reason": "pm2"}}}
    report = rollout_report(["app1"], hostvars)
    assert report["failed"] == ["app1: the fleet rollback to R0 failed: pm2"]
    assert report["lines"] == ["app1: deployed 20261130T120000Z, then put back on R0 with the fleet (failed: pm2)"]


def test_an_artifact_ships_the_migrations_directly_in_its_directory():
    listing = ["./", "./dist/", "./dist/migrations/", "./dist/migrations/1732406400000_create-beacons.js",
               "dist/migrations/1732492800000_beacons-signal.js", "./dist/migrations/lib/helper.js",
               "./dist/server.js", "./migrations/1000_source-copy.js"]
    assert listed_migrations(listing, "dist/migrations/") == ["1732406400000_create-beacons", "1732492800000_beacons-signal"]
    assert listed_migrations([], "dist/migrations") == []
    with pytest.raises(AnsibleFilterError, match="listed_migrations expects"):
        listed_migrations("not a list", "dist/migrations")


RECORD = {"kind": "deploy", "release_id": "20261130T005320Z-abc", "version": "2.0.0", "host": "web1",
          "result": "success", "reason": "", "deployed_by": "ops", "controller": "ci", "git_sha": "0123456789abcdef",
          "artifact_sha256": "f" * 64, "steps": deploy_steps(MARKS)}


def test_generic_notification_keeps_the_event_sentence_and_record():
    body = deploy_notification(RECORD)
    assert body["event"] == "deploy success"
    assert body["text"] == "deploy 20261130T005320Z-abc (2.0.0) on web1: success"
    assert body["record"] is RECORD


def test_slack_notification_is_text_and_blocks_with_the_timeline():
    failed = dict(RECORD, result="failed", reason="health check failed")
    body = deploy_notification(failed, "slack")
    assert set(body) == {"text", "blocks"}
    assert body["text"] == ":x: deploy 20261130T005320Z-abc (2.0.0) on web1: failed - health check failed"
    assert [b["type"] for b in body["blocks"]] == ["section", "section"]
    timeline = body["blocks"][1]["text"]["text"]
    assert timeline.startswith("```release 20261130T005320Z-abc") and "switch" in timeline
    assert json.loads(json.dumps(body)) == body


def test_an_unknown_notification_shape_names_the_variable():
    with pytest.raises(AnsibleFilterError, match="app_deploy_webhook_format must be one of generic, slack, got 'teams'"):
        deploy_notification(RECORD, "teams")
    with pytest.raises(AnsibleFilterError, match="expects the run's record"):
        deploy_notification("deploy ok")


def test_summary_has_a_row_per_host_and_each_timeline():
    rollback = {"kind": "rollback", "release_id": "r0", "host": "web2", "result": "failed", "reason": "a|b\nc",
                "steps": []}
    text = deploy_summary([RECORD, rollback], "Deploy to staging")
    lines = text.splitlines()
    assert lines[0] == "## Deploy to staging"
    assert "**FAILED**: 2 host(s), 1 failed" in lines
    row = [line for line in lines if line.startswith("| web1 |")][0]
    assert "| deploy | success | 20261130T005320Z-abc | 2.0.0 | 0123456789ab | " + "f" * 64 + " | ops@ci |" in row
    assert "| web2 | rollback | failed | r0 |" in text and "a\\|b c" in text
    assert text.count("<details>") == 2 and "release                                      8.8 s" in text


def test_summary_without_records_says_the_run_stopped_before_the_hosts():
    assert "stopped before it reached a host" in deploy_summary([])
    assert deploy_summary([RECORD]).splitlines()[2] == "**OK**: 1 host(s), 0 failed"
    with pytest.raises(AnsibleFilterError, match="deploy_summary expects a list"):
        deploy_summary({"host": "web1"})
