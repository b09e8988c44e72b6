# The scenario scheduler of `make molecule` (scripts/molecule-all.sh) on a scratch tree with a
# fake `molecule` and a fake image build that record when each starts: the slots, the order,
# scenarios waiting for the provisioned-host image without holding a slot, and the exit status.
from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

FAKE_MOLECULE = """#!/bin/bash
# molecule test -s <name>: log start and end, spend CPU for the names in BURN, fail for those in FAIL.
echo "start $3 $(date +%s.%N)" >>"$EVENTS"
# PIDS: a child of its own too (as ansible-playbook under molecule), both pids noted.
if [[ -n ${PIDS:-} ]]; then sleep 60 & echo "$$ $!" >>"$PIDS"; fi
sleep "${SLEEP:-0.5}"
if [[ " $BURN " == *" $3 "* ]]; then
  python3 -c 'import time; t = time.process_time()
while time.process_time() - t < 2.2: pass'
fi
# HOSTCPU: its hosts used 7.4 CPU-seconds, as the kernel counts them in the cgroup it was given.
if [[ " ${HOSTCPU:-} " == *" $3 "* ]]; then
  counter=$BB_CGROUP_ROOT/cpuacct$BB_HOST_CGROUP/cpuacct.usage
  mkdir -p "$(dirname "$counter")"
  echo $(( $(cat "$counter" 2>/dev/null || echo 0) + 7400000000 )) >"$counter"
fi
echo "end $3 $(date +%s.%N)" >>"$EVENTS"
[[ " $FAIL " != *" $3 "* ]]
"""
# `docker info`: the cgroup driver FAKE_CGROUP_DRIVER names (systemd by default).
FAKE_DOCKER = """#!/bin/bash
[[ $1 == info ]] && echo "${FAKE_CGROUP_DRIVER:-systemd}"
"""
FAKE_IMAGE = """#!/bin/bash
# --check: the key's hash takes a moment; IMAGE_CURRENT=0 says the image is up to date.
if [[ ${2:-} == --check ]]; then
  sleep 1
  exit "${IMAGE_CURRENT:-1}"
fi
echo "start (image) $(date +%s.%N)" >>"$EVENTS"
sleep "$IMAGE_SLEEP"
echo "end (image) $(date +%s.%N)" >>"$EVENTS"
"""
FAKE_CACHE = """#!/bin/bash
[[ $1 == stats ]] || echo 192.0.2.1
"""


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    (root / "scripts").mkdir(parents=True)
    for name in ("molecule-all.sh", "children-cpu.sh"):
        shutil.copy2(ROOT / "scripts" / name, root / "scripts" / name)
    for name, text in (("provisioned-image.sh", FAKE_IMAGE), ("pkg-cache.sh", FAKE_CACHE)):
        (root / "scripts" / name).write_text(text)
        (root / "scripts" / name).chmod(0o755)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, text in (("molecule", FAKE_MOLECULE), ("docker", FAKE_DOCKER)):
        (bindir / name).write_text(text)
        (bindir / name).chmod(0o755)
    for name, image in (("deploy", "provisioned"), ("secrets", "provisioned"),
                        ("multihost", "debian"), ("provision", "debian"), ("redis", "debian")):
        (root / "molecule" / name).mkdir(parents=True)
        (root / "molecule" / name / "molecule.yml").write_text(
            "platforms:\n  - image: boosterbeacon/%s:trixie\n" % image)
    return root, bindir, tmp_path / "events"


def run(tree, scenarios, jobs, image_sleep, fail="", sleep=0.5, **extra_env):
    root, bindir, events = tree
    env = dict(os.environ, PATH="%s:%s" % (bindir, os.environ["PATH"]), EVENTS=str(events),
               MOLECULE_JOBS=str(jobs), IMAGE_SLEEP=str(image_sleep), FAIL=fail, SLEEP=str(sleep),
               BB_CGROUP_ROOT=str(root.parent / "cgroup"), **extra_env)
    result = subprocess.run(["bash", "scripts/molecule-all.sh"] + scenarios, cwd=root, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    times = {}
    for line in events.read_text().splitlines():
        what, name, stamp = line.split()
        times.setdefault(name, {})[what] = float(stamp)
    return result, times


def test_scenarios_needing_the_image_do_not_hold_a_slot_while_it_builds(tree):
    result, times = run(tree, ["deploy", "multihost", "secrets", "provision", "redis"], jobs=2, image_sleep=2)
    assert result.returncode == 0, result.stdout + result.stderr
    image_ready = times["(image)"]["end"]
    # Both slots go to scenarios on the bare image while the image builds, side by side...
    assert times["provision"]["start"] < times["multihost"]["end"]
    assert times["multihost"]["start"] < image_ready and times["provision"]["start"] < image_ready
    # ...and the two that need it start only once it is there, the first listed first.
    assert times["deploy"]["start"] >= image_ready and times["secrets"]["start"] >= image_ready
    for line in ("PASS deploy", "PASS secrets", "PASS redis", "PASS (provisioned-image)"):
        assert line in result.stdout


def test_once_the_image_is_there_the_list_order_wins_again(tree):
    result, times = run(tree, ["deploy", "redis", "secrets", "provision"], jobs=1, image_sleep=1, sleep=1.5)
    assert result.returncode == 0, result.stdout + result.stderr
    order = sorted((t["start"], name) for name, t in times.items() if name != "(image)")
    assert [pair[1] for pair in order] == ["redis", "deploy", "secrets", "provision"]


def test_an_image_already_up_to_date_keeps_the_list_order_from_the_first_slot(tree):
    result, times = run(tree, ["deploy", "secrets", "redis"], jobs=2, image_sleep=0, IMAGE_CURRENT="0")
    assert result.returncode == 0, result.stdout + result.stderr
    # No build, and the bare scenario did not take a slot while the key was checked.
    assert "(image)" not in times
    assert times["redis"]["start"] >= min(times["deploy"]["end"], times["secrets"]["end"])
    assert "PASS (provisioned-image)" in result.stdout


def test_never_more_scenarios_at_once_than_the_slots(tree):
    result, times = run(tree, ["multihost", "provision", "redis"], jobs=2, image_sleep=0)
    assert result.returncode == 0, result.stdout + result.stderr
    scenarios = [name for name in times if name != "(image)"]
    for name in scenarios:
        at = times[name]["start"]
        running = [n for n in scenarios if times[n]["start"] <= at < times[n]["end"]]
        assert len(running) <= 2, (name, running)
    # The third waits for a free slot.
    assert times["redis"]["start"] >= min(times["multihost"]["end"], times["provision"]["end"])


def test_each_scenario_reports_its_wall_time_and_its_controller_cpu(tree):
    root = tree[0]
    result = run(tree, ["redis", "provision"], jobs=2, image_sleep=0, BURN="provision")[0]
    assert result.returncode == 0, result.stdout + result.stderr
    fields = {name: (status, wall, cpu) for status, name, wall, cpu, _host in
              (line.split() for line in result.stdout.splitlines() if line.startswith("PASS "))}
    # The CPU its children spent (the busy loop), not the wall time it slept.
    assert fields["provision"][2] in ("2s", "3s"), fields
    assert fields["redis"][2] == "0s", fields
    assert (root / ".cache/molecule-logs/trixie/provision.result").read_text().split()[3] == fields["provision"][2]


def test_a_failed_scenario_fails_the_run_and_is_named(tree):
    result = run(tree, ["multihost", "redis", "deploy"], jobs=3, image_sleep=0, fail="redis")[0]
    assert result.returncode == 1
    assert "FAIL redis" in result.stdout
    assert "FAILED on trixie: redis" in result.stdout
    assert "PASS deploy" in result.stdout and "PASS multihost" in result.stdout


def cpu_stat(path, idle_share, stop):
    """Stands in for /proc/stat: a CPU that spends idle_share of its time idle, ticking until stop."""
    busy = idle = 0
    while not stop.wait(0.1):
        idle += round(100 * idle_share)
        busy += 100 - round(100 * idle_share)
        # Whole lines at once, as the kernel serves /proc/stat.
        tmp = path.with_suffix(".new")
        tmp.write_text("cpu  %d 0 0 %d 0 0 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\n" % (busy, idle))
        os.replace(tmp, path)


def run_with_cpu(tree, tmp_path, idle_share, **kwargs):
    stat, stop = tmp_path / "stat", threading.Event()
    stat.write_text("cpu  0 0 0 0 0 0 0 0 0 0\n")
    ticker = threading.Thread(target=cpu_stat, args=(stat, idle_share, stop))
    ticker.start()
    try:
        return run(tree, BB_PROC_STAT=str(stat), MOLECULE_IDLE_WINDOW="1", **kwargs)
    finally:
        stop.set()
        ticker.join()


def most_at_once(times):
    scenarios = [name for name in times if name != "(image)"]
    return max(len([n for n in scenarios if times[n]["start"] <= times[s]["start"] < times[n]["end"]])
               for s in scenarios)


def test_while_the_cpu_idles_one_more_scenario_starts_up_to_the_maximum(tree, tmp_path):
    result, times = run_with_cpu(tree, tmp_path, 0.6, scenarios=["multihost", "provision", "redis"],
                                 jobs=1, image_sleep=0, sleep=6, MOLECULE_JOBS_MAX="2")
    assert result.returncode == 0, result.stdout + result.stderr
    # provision joins multihost once a window of idle CPU has passed...
    assert times["multihost"]["start"] + 1 <= times["provision"]["start"] < times["multihost"]["end"]
    assert "provision starts as scenario 2: the CPU idled" in result.stdout
    # ...and never more than the maximum at once.
    assert most_at_once(times) == 2


def test_a_busy_cpu_keeps_to_the_slots(tree, tmp_path):
    result, times = run_with_cpu(tree, tmp_path, 0.1, scenarios=["multihost", "provision"],
                                 jobs=1, image_sleep=0, sleep=4, MOLECULE_JOBS_MAX="2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert times["provision"]["start"] >= times["multihost"]["end"]
    assert "the CPU idled" not in result.stdout


def test_without_a_maximum_an_idle_cpu_changes_nothing(tree, tmp_path):
    result, times = run_with_cpu(tree, tmp_path, 0.9, scenarios=["multihost", "provision"],
                                 jobs=1, image_sleep=0, sleep=4)
    assert result.returncode == 0, result.stdout + result.stderr
    assert times["provision"]["start"] >= times["multihost"]["end"]


def test_an_unreadable_cpu_line_starts_none_more_and_stops_nothing(tree, tmp_path):
    # A read that finds no line (here an empty stand-in) once ended the whole run with exit 1.
    stat = tmp_path / "stat"
    stat.write_text("")
    result, times = run(tree, ["multihost", "provision", "redis"], jobs=1, image_sleep=0, sleep=2,
                        BB_PROC_STAT=str(stat), MOLECULE_IDLE_WINDOW="1", MOLECULE_JOBS_MAX="2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert most_at_once(times) == 1
    for line in ("PASS multihost", "PASS provision", "PASS redis"):
        assert line in result.stdout


def test_stopping_the_run_stops_every_scenario_and_what_it_started(tree, tmp_path):
    # `make test` stops molecule this way when a check beside it fails; a scenario (under
    # `timeout`, in a process group of its own) once ran on for twenty minutes after.
    root, bindir, events = tree
    pids = tmp_path / "pids"
    env = dict(os.environ, PATH="%s:%s" % (bindir, os.environ["PATH"]), EVENTS=str(events), MOLECULE_JOBS="2",
               IMAGE_SLEEP="0", SLEEP="60", PIDS=str(pids))
    run_all = subprocess.Popen(["bash", "scripts/molecule-all.sh", "multihost", "provision"], cwd=root, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               # As under `make test`: its `kill 0` must not reach pytest.
                               start_new_session=True)
    deadline = time.monotonic() + 30
    while (not pids.exists() or len(pids.read_text().split()) < 4) and time.monotonic() < deadline:
        time.sleep(0.2)
    started = [int(pid) for pid in pids.read_text().split()]
    assert len(started) == 4
    run_all.terminate()
    run_all.wait(timeout=30)

    def alive(pid):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        # A zombie has ended: only its parent has not collected it yet.
        return Path("/proc/%d/stat" % pid).read_text().split(") ")[-1][0] != "Z"

    deadline = time.monotonic() + 10
    while [pid for pid in started if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [pid for pid in started if alive(pid)]
    for pid in left:
        os.kill(pid, 9)
    assert left == []
