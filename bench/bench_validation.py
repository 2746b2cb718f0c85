"""Benchmark: Great Expectations validation cost against the builds it guards, on one
generated history (issue #4 target: silver validation below 20% of the silver build time).

    .venv/bin/python bench/bench_validation.py [--messages 1000000] [--days 30]

Steps, measured in one run on the same data in a temporary lake home: ingest, build silver,
synthetic scores for every message (the real model cannot score 1M messages on 2 cores;
see voicelake/generator/scores.py), then validation of bronze and silver over the whole
history and for one day, and gold staged + validated + published. Prints seconds per suite
and the ratios.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench_generate_ingest import generate_sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the temporary lake home")
    args = parser.parse_args()

    from pyspark.sql import functions as F

    from voicelake.config import load_config
    from voicelake.generator.scores import synthetic_scores
    from voicelake.jobs.build_gold import build_gold
    from voicelake.jobs.build_silver import build_silver
    from voicelake.jobs.ingest import ingest
    from voicelake.jobs.validate import validate
    from voicelake.lake import scalar
    from voicelake.models.taxonomy import load_taxonomy
    from voicelake.runtime import open_lake
    from voicelake.schemas import SILVER_MESSAGE_EMOTIONS, SILVER_MESSAGES

    home = Path(tempfile.mkdtemp(prefix="voicelake-bench-"))
    summary, gen_s = generate_sample(home, args.messages, args.days)
    print(f"generate:        {summary['messages']} messages in {gen_s:.1f}s")
    config = load_config("local", overrides={"home": str(home)})
    taxonomy = load_taxonomy()

    def timed(label: str, fn):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - t0
        print(f"{label:<40} {seconds:7.1f}s")
        return out, seconds

    with open_lake(config=config) as ctx:
        _, ingest_s = timed("ingest", lambda: ingest(ctx))
        silver, silver_s = timed("build-silver", lambda: build_silver(ctx))
        timed("synthetic scores (not a model)", lambda: ctx.lake.overwrite(
            synthetic_scores(ctx.lake.read(SILVER_MESSAGES), taxonomy.labels, taxonomy.positive,
                             taxonomy.negative), SILVER_MESSAGE_EMOTIONS, partition_by=["sent_date"]))
        timed("warm-up: import GX, first context", lambda: validate(ctx, ["gold"], None))
        bronze, bronze_s = timed("validate bronze, whole history", lambda: validate(ctx, ["bronze"], None))
        report, valid_s = timed("validate silver, whole history", lambda: validate(ctx, ["silver"], None))
        for o in report.outcomes:
            print(f"    {o.suite.name:<28} {len(o.outcomes):>2} expectations {o.seconds:6.1f}s  "
                  f"{'PASS' if o.success else 'FAIL'}")
        day = scalar(ctx.lake.read(SILVER_MESSAGES).agg(F.max("sent_date"))) - timedelta(days=2)
        _, day_s = timed(f"validate silver, one day ({day})", lambda: validate(ctx, ["silver"], [day]))
        _, gold_s = timed("build gold: stage, validate, publish", lambda: build_gold(ctx))
        suites = sum(len(o.outcomes) for o in bronze.outcomes + report.outcomes)
        print(f"\n{silver.messages} silver messages; {suites} expectations in bronze + silver suites")
        print(f"silver validation / silver build time: {valid_s / silver_s:.1%}  (target < 20%)")
        print(f"bronze validation / ingest time:      {bronze_s / ingest_s:.1%}")
        print(f"one day's silver validation:           {day_s:.1f}s")
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
