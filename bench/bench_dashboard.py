"""Benchmark: how long each dashboard page takes to draw in a real browser, on a lake you built.

    .venv/bin/voicelake run                       # the default sample (28 days x 1,000 customers)
    .venv/bin/python bench/bench_dashboard.py [--rounds 3] [--screenshots build/dashboard-bench]

Uses the lake of the configured home (VOICELAKE_HOME / VOICELAKE_ENV): starts the SQL endpoint
when none runs (and stops it afterwards), serves the dashboard in this process and loads every
page in headless Chromium `--rounds` times, after the warm-up `voicelake dashboard` does (every
page's queries once; `--no-warm-up` measures a cold endpoint), with the reader's 30-second
result cache emptied before each round, so every load asks the endpoint. Prints per page the
first load, the median of the later ones and the worst, against the 3-second target.
"""

from __future__ import annotations

import argparse
import statistics
import threading
from pathlib import Path

TARGET_S = 3.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--env", default=None)
    parser.add_argument("--screenshots", type=Path, default=Path("build/dashboard-bench"))
    parser.add_argument("--warm-up", action=argparse.BooleanOptionalAction, default=True,
                        help="run every page's queries once first, as `voicelake dashboard` does (default on)")
    args = parser.parse_args()

    from voicelake import sql_endpoint
    from voicelake.config import load_config
    from voicelake.dashboard import PAGES, GoldReader, make_server, warm_up
    from voicelake.dashboard_browser import browser_page, load, missing_browser_reason

    reason = missing_browser_reason()
    if reason:
        raise SystemExit(f"cannot drive the dashboard: {reason}")
    config = load_config(args.env)
    started_here = sql_endpoint.running_endpoint(config) is None
    endpoint = sql_endpoint.serve(config)
    reader = GoldReader("127.0.0.1", endpoint.port, endpoint.database)
    warm = warm_up(reader) if args.warm_up else None
    server = make_server(reader, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    times: dict[str, list[float]] = {p.path: [] for p in PAGES}
    try:
        with browser_page() as page:
            for round_ in range(args.rounds):
                reader.clear_cache()  # every round asks the endpoint: no load is a cache hit
                for spec in PAGES:
                    name = spec.path.strip("/") or "health"
                    loaded = load(page, url + spec.path, args.screenshots / f"{name}-{round_}.png")
                    times[spec.path].append(loaded.seconds)
    finally:
        server.shutdown()
        if started_here:
            sql_endpoint.stop(config)
    print(f"home {config.home}; {args.rounds} rounds; target {TARGET_S:.0f} s per page; warm-up "
          + (f"{warm:.1f}s" if warm is not None else "off") + "; no cached results")
    print(f"{'page':<16} {'first':>7} {'median later':>13} {'worst':>7}  under target")
    for spec in PAGES:
        first, later = times[spec.path][0], times[spec.path][1:] or times[spec.path]
        worst = max(times[spec.path])
        print(f"{spec.path:<16} {first:7.2f} {statistics.median(later):13.2f} {worst:7.2f}  "
              f"{'yes' if statistics.median(later) <= TARGET_S else 'NO'}")


if __name__ == "__main__":
    main()
