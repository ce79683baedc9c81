"""``python -m bench [views|profile|seed|stop-sandbox|dags|scheduler|audit|all] [options]`` (``make bench``: all).

``views``: the DAG list and home page through gunicorn next to Airflow's own UI endpoints, on
the benchmark sandbox with generated DAGs (``bench/views_bench.py``; e.g. ``--dags 100``).
``profile``: cProfile of those two views, warm and cold, in-process (``--dags 100``).
``seed``: only prepare that sandbox (``--dags N``); ``stop-sandbox``: stop it.
``dags``: the DAG detail and log pages next to Airflow's API (``bench/dags_bench.py``).
``scheduler``: 1,000 tasks due in the same minute (``bench/scheduler_bench.py``; its options
follow, e.g. ``--tasks 200``).  ``audit``: the audit log page and its CSV export with 1,000,000
audit events on SQLite (``bench/audit_bench.py``; e.g. ``--rows 100000``).
``all`` runs views (1,000 DAGs), dags, scheduler and audit.
"""

import argparse
import sys

CHOICES = ("views", "profile", "seed", "stop-sandbox", "dags", "scheduler", "audit", "all")


def seed_main(rest: list[str]) -> int:
    from bench import seed

    parser = argparse.ArgumentParser(prog="python -m bench seed")
    parser.add_argument("--dags", type=int, default=1000)
    parser.add_argument("--port", type=int, default=seed.DEFAULT_PORT)
    args = parser.parse_args(rest)
    seed.ensure(args.dags, args.port)
    return 0


def run(which: str, rest: list[str]) -> int:
    status = 0
    if which == "seed":
        return seed_main(rest)
    if which == "stop-sandbox":
        from bench import seed

        seed.stop(int(rest[0]) if rest else seed.DEFAULT_PORT)
        return 0
    if which == "profile":
        from bench import profile_views

        return profile_views.main(rest)
    if which in ("views", "all"):
        from bench import views_bench

        status |= views_bench.main(rest if which == "views" else [])
    if which in ("dags", "all"):
        from bench import dags_bench

        dags_bench.main()
    if which in ("scheduler", "all"):
        from bench.scheduler_bench import main

        status |= main(rest if which == "scheduler" else [])
    if which in ("audit", "all"):
        from bench import audit_bench

        status |= audit_bench.main(rest if which == "audit" else [])
    return status


def main(argv: list[str]) -> int:
    """Run the part ``argv`` names (all without one); help or an unknown part prints the usage."""
    if argv and argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    if argv and argv[0] not in CHOICES:
        print(f"unknown benchmark {argv[0]!r}: choose one of {', '.join(CHOICES)}", file=sys.stderr)
        return 2
    choice = argv[0] if argv else "all"
    return run(choice, argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
