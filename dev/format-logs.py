"""Prefix each log line of a development service with its name and time; a JSON line (the
service's pino logs) that carries an error gets the error's stack trace below it, one frame a line.
Usage: docker logs -t CONTAINER | python3 format-logs.py [--keep-time] NAME"""
import json
import sys


def stack_of(entry):
    """The stack trace of a pino line's error (err, error), if any."""
    for key in ("err", "error"):
        value = entry.get(key)
        if isinstance(value, dict) and isinstance(value.get("stack"), str):
            return value["stack"]
    return None


def main():
    args = sys.argv[1:]
    keep_time = args[:1] == ["--keep-time"]
    name = args[-1]
    for raw in sys.stdin:
        stamp, line = (raw.rstrip("\n").split(" ", 1) + [""])[:2]
        # --keep-time leaves docker's full timestamp first, to sort several services' lines by.
        head = f"{stamp} " if keep_time else ""
        short = stamp[11:23]
        print(f"{head}{short} {name:8} | {line}")
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        stack = stack_of(entry) if isinstance(entry, dict) else None
        for frame in (stack or "").splitlines()[1:]:
            print(f"{head}{short} {name:8} |     {frame.strip()}")


if __name__ == "__main__":
    main()
