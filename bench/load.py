"""A steady, bounded HTTP load that counts every failed request.

Closed loop: each worker sends the next GET as soon as the previous answer arrived, on a fresh
connection each time (as clients behind a proxy reconnect); --rate paces the workers to that many
requests a second in all, so a test's load does not take the CPU its deploy needs. Runs until the stop file appears or
--max-seconds pass, then prints one JSON object: totals, failures by kind, a few samples, and
latency percentiles. Standard library only, so it runs on a bare test host.

    python3 load.py --url http://127.0.0.1:3000/ready --workers 8 --stop-file /tmp/stop-load
"""
import argparse
import http.client
import json
import os
import ssl
import threading
import time
from urllib.parse import urlsplit


def worker(url, stop, deadline, stats, lock, timeout, ok_status=None, interval=0.0):
    parts = urlsplit(url)
    path = parts.path or "/"
    context = ssl.create_default_context() if parts.scheme == "https" else None
    next_at = time.monotonic()
    while not stop.is_set() and time.monotonic() < deadline:
        started = time.monotonic()
        if interval:
            # A late worker starts again from now rather than catching up in a burst.
            next_at = max(next_at + interval, started)
        failure = None
        try:
            if parts.scheme == "https":  # verified against the host's trust store
                conn = http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=timeout,
                                                   context=context)
            else:
                conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
            conn.request("GET", path, headers={"Connection": "close"})
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status >= 500 or (ok_status and response.status != ok_status):
                failure = "HTTP %d" % response.status
        except Exception as exc:  # every failure counts, whatever its kind
            failure = type(exc).__name__ + (": %s" % exc if str(exc) else "")
        elapsed = time.monotonic() - started
        with lock:
            stats["total"] += 1
            stats["latencies"].append(elapsed)
            if failure:
                stats["failed"] += 1
                kind = failure.split(":")[0]
                stats["kinds"][kind] = stats["kinds"].get(kind, 0) + 1
                if len(stats["samples"]) < 10:
                    stats["samples"].append({"at": round(time.time(), 3), "error": failure})
        if interval:
            stop.wait(max(0.0, next_at - time.monotonic()))


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rate", type=float, default=0,
                        help="requests a second for all workers together (default 0: as fast as they can)")
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--stop-file", help="stop as soon as this file exists")
    parser.add_argument("--timeout", type=float, default=10)
    parser.add_argument("--out", help="write the JSON result here as well")
    parser.add_argument("--ok-status", type=int,
                        help="the only status that counts as success (default: anything below 500), e.g. 200 so a "
                             "rate limiter's 429 counts as a failure")
    args = parser.parse_args()

    stats = {"total": 0, "failed": 0, "kinds": {}, "samples": [], "latencies": []}
    lock = threading.Lock()
    stop = threading.Event()
    started = time.monotonic()
    deadline = started + args.max_seconds
    interval = args.workers / args.rate if args.rate > 0 else 0.0
    threads = [threading.Thread(target=worker, args=(args.url, stop, deadline, stats, lock, args.timeout, args.ok_status,
                                                     interval), daemon=True)
               for _worker in range(args.workers)]
    for thread in threads:
        thread.start()
        time.sleep(interval / args.workers)  # spread the paced workers over the interval
    while time.monotonic() < deadline:
        if args.stop_file and os.path.exists(args.stop_file):
            break
        time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join(args.timeout + 1)
    seconds = time.monotonic() - started
    latencies = stats.pop("latencies")
    result = dict(stats, url=args.url, workers=args.workers, rate=args.rate or None, seconds=round(seconds, 1),
                  rps=round(stats["total"] / seconds, 1) if seconds else 0,
                  p50_ms=percentile(latencies, 0.5), p99_ms=percentile(latencies, 0.99),
                  max_ms=percentile(latencies, 1.0))
    text = json.dumps(result, sort_keys=True)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
