"""``python -m bench profile --dags 1000``: where a warm and a cold DAG list / home request spend
their time, with cProfile, in-process (Flask's test client, the same Redis cache and sandbox
as ``views``).  Prints the top functions by cumulative time; profiling slows everything down,
so read shares, not milliseconds."""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
from pathlib import Path

from bench import seed
from bench.http import CSRF_FIELD
from bench.views_bench import CONSOLE_VIEWS, VIEWER, Redis, console_env, prepare_database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench profile")
    parser.add_argument("--dags", type=int, default=1000)
    parser.add_argument("--port", type=int, default=seed.DEFAULT_PORT)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    status = seed.ensure(args.dags, args.port)
    with tempfile.TemporaryDirectory(prefix="console-profile-") as tmp, Redis(Path(tmp)) as redis:
        env = console_env(Path(tmp), redis.url)
        prepare_database(env, f"http://127.0.0.1:{args.port}", status)
        os.environ.update(env)
        from console import create_app

        web = create_app().test_client()
        token = CSRF_FIELD.search(web.get("/login").get_data(as_text=True))
        assert token, "no CSRF token on the sign-in page"
        web.post("/login", data={"email": VIEWER[0], "password": VIEWER[1], "csrf_token": token.group(1)})
        for view, path in CONSOLE_VIEWS.items():
            for mode in ("warm", "cold"):
                profile = cProfile.Profile()
                for _ in range(args.repeat):
                    if mode == "cold":
                        redis.flush()
                    else:
                        web.get(path)
                    profile.enable()
                    web.get(path)
                    profile.disable()
                print(f"\n==== {view} ({path}), {mode}, {args.repeat} requests")
                pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)
    return 0
