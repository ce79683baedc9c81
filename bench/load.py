"""``python -m bench.load URL PATH --cookie C --clients 32 --seconds 15``: a closed-loop load
generator, run by the views benchmark as a process of its own.  Each client is a thread with a
keep-alive connection that sends the next GET as soon as the last answer is read; prints one
JSON line: requests, errors, seconds, requests per second, p50/p95 latency."""

from __future__ import annotations

import argparse
import json
import threading
import time

import urllib3

from bench.stats import summary_ms


def run(url: str, path: str, cookie: str, clients: int, seconds: float, warmup: float) -> dict[str, object]:
    connections = urllib3.PoolManager(maxsize=clients, block=True, retries=False, timeout=30)
    start = time.monotonic() + warmup
    stop = start + seconds
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients

    def client(n: int) -> None:
        while (now := time.monotonic()) < stop:
            try:
                answer = connections.request("GET", url + path, headers={"Cookie": cookie}, redirect=False)
                ok = answer.status == 200
            except urllib3.exceptions.HTTPError:
                ok = False
            done = time.monotonic()
            if now >= start:
                if ok:
                    latencies[n].append(done - now)
                else:
                    errors[n] += 1

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    samples = [s for per in latencies for s in per]
    result: dict[str, object] = {
        "path": path,
        "clients": clients,
        "seconds": seconds,
        "requests": len(samples),
        "errors": sum(errors),
        "rps": round(len(samples) / seconds, 1),
    }
    if samples:
        result.update(summary_ms(samples))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    parser.add_argument("url")
    parser.add_argument("path")
    parser.add_argument("--cookie", required=True)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    args = parser.parse_args()
    print(json.dumps(run(args.url, args.path, args.cookie, args.clients, args.seconds, args.warmup)))


if __name__ == "__main__":
    main()
