"""``python -m bench [scheduler|dags|all] [options]`` (``make bench``: all).

``scheduler``: 1,000 tasks due in the same minute (``bench/scheduler_bench.py``; its
options follow, e.g. ``--tasks 200``). ``dags``: the DAG screens next to Airflow's API
(``bench/dags_bench.py``).
"""

import sys


def run(which: str, rest: list[str]) -> int:
    status = 0
    if which in ("dags", "all"):
        from bench import dags_bench

        dags_bench.main()
    if which in ("scheduler", "all"):
        from bench.scheduler_bench import main

        status = main(rest)
    return status


if __name__ == "__main__":
    args = sys.argv[1:]
    choice = args.pop(0) if args and args[0] in ("scheduler", "dags", "all") else "all"
    sys.exit(run(choice, args))
