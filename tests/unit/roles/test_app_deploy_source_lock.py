# roles/app_deploy/files/source_lock.py with real processes: the gate and the build of two deploys
# from one checkout take turns instead of deleting each other's node_modules.
import fcntl
import os
import signal
import subprocess
import sys
import time

import role_script

LOCK = role_script.path("app_deploy", "source_lock.py")


def locked(directory, *command, **kw):
    return subprocess.Popen([sys.executable, LOCK, str(directory), *command], stderr=subprocess.PIPE, text=True, **kw)


def wait_for(path, seconds=10):
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_a_second_run_waits_for_the_first_then_runs(tmp_path):
    log = tmp_path / "log"
    first = locked(tmp_path, "sh", "-c", f"echo first-start >> {log}; touch {tmp_path}/started; sleep 1; echo first-end >> {log}")
    wait_for(tmp_path / "started")
    second = locked(tmp_path, "sh", "-c", f"echo second >> {log}")
    assert first.wait(10) == 0 and second.wait(10) == 0
    assert log.read_text().split() == ["first-start", "first-end", "second"]
    assert "waiting for another run's gate or build in" in second.stderr.read()


def test_it_takes_the_same_lock_as_flock_on_the_directory(tmp_path):
    fd = os.open(tmp_path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    run = locked(tmp_path, "touch", str(tmp_path / "ran"))
    time.sleep(0.5)
    assert not (tmp_path / "ran").exists() and run.poll() is None
    os.close(fd)
    assert run.wait(10) == 0 and (tmp_path / "ran").exists()


def test_the_command_exit_code_is_passed_on(tmp_path):
    assert locked(tmp_path, "sh", "-c", "exit 3").wait(10) == 3


def test_sigterm_reaches_the_command_and_the_lock_is_released(tmp_path):
    script = f"trap 'echo stopped > {tmp_path}/got; exit 5' TERM; touch {tmp_path}/started; while :; do sleep 0.1; done"
    run = locked(tmp_path, "sh", "-c", script)
    wait_for(tmp_path / "started")
    run.send_signal(signal.SIGTERM)
    assert run.wait(10) == 5
    assert (tmp_path / "got").read_text() == "stopped\n"
    fd = os.open(tmp_path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises when still held
    os.close(fd)


def test_a_process_the_command_leaves_behind_does_not_keep_the_lock(tmp_path):
    # The gate's throwaway database servers are such processes when a gate is killed.
    left = locked(tmp_path, "sh", "-c", f"sleep 30 & echo $! > {tmp_path}/pid")
    assert left.wait(10) == 0
    try:
        started = time.monotonic()
        assert locked(tmp_path, "true").wait(10) == 0
        assert time.monotonic() - started < 5
    finally:
        os.kill(int((tmp_path / "pid").read_text()), signal.SIGKILL)


def test_bad_usage_and_a_missing_directory_exit_2(tmp_path):
    assert subprocess.run([sys.executable, LOCK, str(tmp_path)], capture_output=True, check=False).returncode == 2
    missing = subprocess.run([sys.executable, LOCK, str(tmp_path / "nope"), "true"], capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and "cannot open" in missing.stderr
