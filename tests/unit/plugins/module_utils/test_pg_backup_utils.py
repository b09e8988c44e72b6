# Retention policy and manifest helpers as pure functions.
from __future__ import annotations

import pytest

from ansible_collections.boosterbeacon.infra.plugins.module_utils import _pg_backup as pb

DAY = 86400
NOW = 1795564800 + 43200  # 2026-11-25T12:00:00Z, a Wednesday


def backups(*ages_days, verified=()):
    return [{"name": "b%d" % i, "created_epoch": NOW - age * DAY, "status": "verified" if i in verified else "dumped"}
            for i, age in enumerate(ages_days)]


def test_keep_last_only():
    keep, remove = pb.plan_retention(backups(0, 1, 2, 3), NOW, keep_last=2)
    assert sorted(keep) == ["b0", "b1"] and remove == ["b2", "b3"]


def test_newest_verified_is_never_removed():
    keep, remove = pb.plan_retention(backups(0, 1, 2, 3, verified=(3,)), NOW, keep_last=1)
    assert keep["b3"] == ["newest verified"]
    assert remove == ["b1", "b2"]


@pytest.mark.parametrize("policy,kept", [
    ({"keep_daily": 2}, {"b0", "b2"}),            # b0 and b1 share a day; b2 is the next day
    ({"keep_weekly": 2}, {"b0", "b3"}),           # this ISO week, the previous one
    ({"keep_monthly": 2}, {"b0", "b4"}),          # November, October
])
def test_calendar_buckets(policy, kept):
    items = backups(0, 0.2, 1, 8, 40)
    keep, _remove = pb.plan_retention(items, NOW, **policy)
    assert set(keep) == kept


def test_names_counts_and_comparison():
    assert pb.backup_name("shop", NOW, "Pre-migration 20261124T000000Z-abc") == \
        "shop-20261125T120000Z-pre-migration-20261124t000000z-abc"
    assert pb.backup_name("shop", NOW) == "shop-20261125T120000Z"
    assert pb.parse_counts("app.beacons|3\npublic.x|0\n\n") == {"app.beacons": 3, "public.x": 0}
    assert pb.compare_counts({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 0}) == [
        {"table": "b", "expected": 2, "actual": 3}, {"table": "c", "expected": None, "actual": 0}]


def test_checksum_and_size_of_file_and_directory(tmp_path):
    (tmp_path / "f").write_bytes(b"abc")
    assert pb.checksum(str(tmp_path / "f")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    d = tmp_path / "d"
    d.mkdir()
    (d / "2.dat").write_bytes(b"c")
    (d / "1.dat").write_bytes(b"ab")
    assert pb.checksum(str(d)) == pb.checksum(str(tmp_path / "f"))
    assert pb.size_of(str(d)) == 3 and pb.size_of(str(tmp_path / "f")) == 3
