# Run by the boosterbeacon.infra.app_deploy role on the controller with its Python (python3 -c).
"""Run a command while holding an exclusive lock on a directory: flock(2) on the directory itself,
the same lock as `flock DIR COMMAND`.

    source_lock.py DIR COMMAND [ARG...]

The app_deploy role runs its controller commands that read or rewrite the source tree (the gate,
npm ci, the build) through it: two deploys from one checkout (two CI jobs in one workspace, a
deploy while the project's own tests run) would otherwise delete each other's node_modules halfway
through a build. The lock stays in this process, not in the command's: a daemon the command leaves
behind cannot hold it. SIGTERM, SIGINT and SIGHUP are passed on to the command (timeout(1) sends
this process SIGTERM). Exit: the command's code, 128 + N when a signal N ended it, 2 on bad usage.
"""
import fcntl
import os
import signal
import subprocess
import sys


def main(argv):
    if len(argv) < 3:
        print("usage: source_lock.py DIR COMMAND [ARG...]", file=sys.stderr)
        return 2
    directory, command = argv[1], argv[2:]
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError as exc:
        print("source_lock.py: cannot open %s: %s" % (directory, exc.strerror), file=sys.stderr)
        return 2
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("waiting for another run's gate or build in %s to finish" % directory, file=sys.stderr, flush=True)
        fcntl.flock(fd, fcntl.LOCK_EX)
    # Popen closes every other descriptor in the child: the lock stays here.
    child = subprocess.Popen(command)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda received, _frame: child.send_signal(received))
    code = child.wait()
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
