# The artifact store behind promotion: what a deploy files, what a promotion may take, and what it refuses.
from __future__ import annotations

import hashlib
import json
import os

from ansible_collections.boosterbeacon.infra.plugins.modules import artifact_store


def _artifact(tmp_path, content=b"release bytes"):
    path = tmp_path / ("artifact-%s.tar.gz" % hashlib.sha256(content).hexdigest()[:8])
    path.write_bytes(content)
    return str(path), hashlib.sha256(content).hexdigest()


def _record(run_module, store, artifact, sha256, environment="staging", smoke="passed", release_id="20261201T000000Z-abc1234",
            **extra):
    args = dict(store=str(store), state="recorded", environment=environment, artifact=artifact, sha256=sha256,
                release_id=release_id, version="1.0.0", git_sha="abc1234", hosts=["staging-1"], smoke=smoke, **extra)
    return run_module(artifact_store, args)


def test_a_deploy_is_filed_with_its_bytes_and_the_environment_points_at_it(run_module, tmp_path):
    store = tmp_path / "store"
    artifact, sha256 = _artifact(tmp_path)
    result = _record(run_module, store, artifact, sha256)
    assert result["changed"] is True
    assert (store / (sha256 + ".tar.gz")).read_bytes() == b"release bytes"
    record = json.loads((store / (sha256 + ".json")).read_text())
    assert record["environments"]["staging"]["smoke"] == "passed"
    assert record["environments"]["staging"]["hosts"] == ["staging-1"]
    assert (record["version"], record["git_sha"]) == ("1.0.0", "abc1234")
    pointer = json.loads((store / "environments" / "staging.json").read_text())
    assert pointer["sha256"] == sha256 and pointer["release_id"] == "20261201T000000Z-abc1234"


def test_what_staging_runs_is_promotable_and_the_same_bytes(run_module, tmp_path):
    store = tmp_path / "store"
    artifact, sha256 = _artifact(tmp_path)
    _record(run_module, store, artifact, sha256)
    found = run_module(artifact_store, dict(store=str(store), environment="staging"))
    assert found["changed"] is False and found["sha256"] == sha256
    assert hashlib.sha256(open(found["path"], "rb").read()).hexdigest() == sha256
    by_sha = run_module(artifact_store, dict(store=str(store), environment="staging", sha256=sha256))
    assert by_sha["path"] == found["path"]


def test_an_artifact_staging_never_ran_is_refused(run_module, tmp_path):
    store = tmp_path / "store"
    artifact, sha256 = _artifact(tmp_path)
    _record(run_module, store, artifact, sha256, environment="production")
    other = hashlib.sha256(b"never deployed").hexdigest()
    result = run_module(artifact_store, dict(store=str(store), environment="staging", sha256=other))
    assert result["failed"] is True and "not in the store" in result["msg"] and other in result["msg"]
    result = run_module(artifact_store, dict(store=str(store), environment="staging", sha256=sha256))
    assert result["failed"] is True and "never run on staging" in result["msg"]
    result = run_module(artifact_store, dict(store=str(store), environment="staging"))
    assert result["failed"] is True and "Nothing is recorded as running on staging" in result["msg"]


def test_failed_smoke_tests_refuse_the_promotion(run_module, tmp_path):
    store = tmp_path / "store"
    artifact, sha256 = _artifact(tmp_path)
    _record(run_module, store, artifact, sha256, smoke="failed")
    result = run_module(artifact_store, dict(store=str(store), environment="staging"))
    assert result["failed"] is True and "smoke tests there failed" in result["msg"]
    _record(run_module, store, artifact, sha256, smoke="not run")
    result = run_module(artifact_store, dict(store=str(store), environment="staging"))
    assert result["failed"] is True and "did not run" in result["msg"]


def test_a_stored_artifact_whose_bytes_changed_is_refused(run_module, tmp_path):
    store = tmp_path / "store"
    artifact, sha256 = _artifact(tmp_path)
    _record(run_module, store, artifact, sha256)
    (store / (sha256 + ".tar.gz")).write_bytes(b"tampered")
    result = run_module(artifact_store, dict(store=str(store), environment="staging"))
    assert result["failed"] is True and "no longer match" in result["msg"]


def test_an_artifact_that_is_not_the_sha256_given_is_refused_before_anything_is_written(run_module, tmp_path):
    store = tmp_path / "store"
    artifact, _sha256 = _artifact(tmp_path)
    result = _record(run_module, store, artifact, hashlib.sha256(b"other").hexdigest())
    assert result["failed"] is True and "changed after the deploy read it" in result["msg"]
    assert not store.exists()


def test_bad_input_names_the_option(run_module, tmp_path):
    result = run_module(artifact_store, dict(store=str(tmp_path), environment="staging", sha256="abc"))
    assert result["failed"] is True and result["msg"].startswith("sha256 must be a sha256")
    result = run_module(artifact_store, dict(store=str(tmp_path), environment="../prod"))
    assert result["failed"] is True and result["msg"].startswith("environment must name an environment")


def test_a_rollback_moves_the_pointer_and_keeps_the_smoke_result(run_module, tmp_path):
    store = tmp_path / "store"
    first, sha_one = _artifact(tmp_path, b"one")
    second, sha_two = _artifact(tmp_path, b"two")
    _record(run_module, store, first, sha_one, release_id="r1")
    _record(run_module, store, second, sha_two, release_id="r2", smoke="failed")
    result = run_module(artifact_store, dict(store=str(store), state="recorded", environment="staging", sha256=sha_one,
                                             release_id="r1", kind="rollback"))
    assert result["changed"] is True
    assert run_module(artifact_store, dict(store=str(store), environment="staging"))["sha256"] == sha_one
    record = json.loads((store / (sha_one + ".json")).read_text())
    assert [event["kind"] for event in record["history"]] == ["deploy", "rollback"]
    assert record["environments"]["staging"]["smoke"] == "passed"
    missing = run_module(artifact_store, dict(store=str(store), state="recorded", environment="staging",
                                              sha256=hashlib.sha256(b"gone").hexdigest(), release_id="r0", kind="rollback"))
    assert missing["failed"] is True and "no artifact file was given" in missing["msg"]


def test_check_mode_writes_nothing_and_says_what_it_would_do(run_module, tmp_path):
    store = tmp_path / "store"
    artifact, sha256 = _artifact(tmp_path)
    args = dict(store=str(store), state="recorded", environment="staging", artifact=artifact, sha256=sha256,
                release_id="r1", smoke="passed")
    result = run_module(artifact_store, args, check_mode=True, diff=True)
    assert result["changed"] is True and not store.exists()
    assert "cp %s %s" % (artifact, store / (sha256 + ".tar.gz")) in result["commands"]
    assert result["diff"]["before"] == {"record": None}
    assert result["diff"]["after"]["record"]["environments"]["staging"]["release_id"] == "r1"


def test_the_oldest_artifacts_go_but_never_one_an_environment_runs(run_module, tmp_path):
    store = tmp_path / "store"
    shas = []
    for index in range(4):
        artifact, sha256 = _artifact(tmp_path, b"release %d" % index)
        # Production keeps running the first; staging moves on.
        _record(run_module, store, artifact, sha256, environment="production" if index == 0 else "staging", keep=2,
                release_id="r%d" % index)
        os.utime(store / (sha256 + ".json"), (1000 + index, 1000 + index))
        shas.append(sha256)
    kept = sorted(name[:-5] for name in os.listdir(store) if name.endswith(".json"))
    assert kept == sorted([shas[0], shas[2], shas[3]])
    assert not (store / (shas[1] + ".tar.gz")).exists()
