"""Benchmark: generator, ingestion and silver-build throughput on one generated history.

    .venv/bin/python bench/bench_generate_ingest.py [--messages 1000000] [--days 30]

Prints seconds and records/s for each step, measured in one run on the same data, in a
temporary lake home (removed afterwards unless --keep). Targets (issue #2): 1M messages
generated in a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path


def generate_sample(home: Path, messages: int, days: int) -> tuple[dict, float]:
    """Generate about ``messages`` messages over ``days`` into <home>/landing; (summary, seconds)."""
    from voicelake.generator import GeneratorSettings, generate_history
    from voicelake.generator.plan import MESSAGES_PER_CUSTOMER_DAY

    customers = max(1, int(messages / (days * MESSAGES_PER_CUSTOMER_DAY)))
    t0 = time.perf_counter()
    summary = generate_history(GeneratorSettings(
        days=days, customers=customers, seed=1, start=date(2026, 1, 1),
        landing=home / "landing", answers=home / "answers.json", malformed_rate=0.001))
    return summary, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--skip-spark", action="store_true", help="only time the generator")
    parser.add_argument("--keep", action="store_true", help="keep the temporary lake home")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="voicelake-bench-"))
    summary, gen_s = generate_sample(home, args.messages, args.days)
    records = sum(summary["records"].values())
    size_mb = sum(p.stat().st_size for p in (home / "landing").rglob("*.*")) / 1e6
    print(f"generate:     {summary['messages']:>9} messages, {records} records, {size_mb:.0f} MB "
          f"in {gen_s:6.1f}s = {summary['messages'] / gen_s:9.0f} msg/s")
    if args.skip_spark:
        return

    from voicelake.config import load_config
    from voicelake.jobs.build_silver import build_silver
    from voicelake.jobs.ingest import ingest
    from voicelake.runtime import open_lake

    config = load_config("local", overrides={"home": str(home)})
    with open_lake(config=config) as ctx:
        t0 = time.perf_counter()
        results = ingest(ctx)
        ingest_s = time.perf_counter() - t0
        landed = sum(r.landed for r in results)
        print(f"ingest:       {landed:>9} records to bronze+quarantine in {ingest_s:6.1f}s = "
              f"{landed / ingest_s:9.0f} rec/s  (reconciled: {all(r.reconciled for r in results)})")
        t0 = time.perf_counter()
        silver = build_silver(ctx)
        silver_s = time.perf_counter() - t0
        print(f"build-silver: {silver.messages:>9} messages, {silver.conversations} conversations in "
              f"{silver_s:6.1f}s = {silver.messages / silver_s:9.0f} msg/s")
    print(f"ratios: ingest/generate time {ingest_s / gen_s:.1f}x, silver/ingest time {silver_s / ingest_s:.2f}x")
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    else:
        print(f"lake home kept at {home}")


if __name__ == "__main__":
    main()
