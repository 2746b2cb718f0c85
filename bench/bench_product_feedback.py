"""Acceptance run of the roadmap evidence (gold.product_feedback) on one generated history.

    .venv/bin/python bench/bench_product_feedback.py [--days 56] [--customers 4000] [--seed 3]

Generates the history (every customer wants one planted idea of their product, with known
weights; hard negatives planted beside; docs/generator.md), ingests it, builds silver, scores
every message with the emotion its text was drawn from (a perfect emotion model: the figures
judge the suggestion pipeline, not the emotion model), trains the suggestion detector as
`voicelake train-suggestions` does (SemEval-2019 Task 9 + the seed set when ../shared is there),
scores customer messages with it, groups the suggestions into ideas and builds the mart, then
prints against the planted truth:

- precision and recall of "is a suggestion" on the generated customer messages (target: precision >= 0.9);
- per planted product idea: true distinct customers asking, the mart's count, relative error
  (target: within 10%) and both ranks (target: the planted order);
- seconds of each step.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=56)
    parser.add_argument("--customers", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()

    import pandas as pd

    from voicelake.config import load_config
    from voicelake.generator import GeneratorSettings, generate_history, judge
    from voicelake.generator.scores import planted_scores
    from voicelake.jobs.build_silver import build_silver
    from voicelake.jobs.feedback_marts import build_feedback_marts
    from voicelake.jobs.ideas import build_suggestion_ideas, ideas_summary
    from voicelake.jobs.ingest import ingest
    from voicelake.jobs.score import score_suggestions
    from voicelake.models.registry import configure_mlflow
    from voicelake.models.suggestion_registry import train_suggestions
    from voicelake.models.taxonomy import load_taxonomy
    from voicelake.runtime import open_lake
    from voicelake.schemas import (
        GOLD_PRODUCT_FEEDBACK,
        SILVER_MESSAGE_EMOTIONS,
        SILVER_MESSAGE_SUGGESTIONS,
        SILVER_MESSAGES,
        SILVER_SUGGESTION_IDEAS,
    )

    home = Path(tempfile.mkdtemp(prefix="voicelake-bench-feedback-"))
    seconds: dict[str, float] = {}

    def timed(name: str, fn, *a, **kw):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        out = fn(*a, **kw)
        seconds[name] = time.perf_counter() - t0
        return out

    timed("generate", generate_history, GeneratorSettings(
        days=args.days, customers=args.customers, seed=args.seed, start=date(2026, 1, 5),
        landing=home / "landing", answers=home / "answers.json"))
    config = load_config("local", overrides={"home": str(home)})
    configure_mlflow(config)
    with open_lake(config=config) as ctx:
        timed("ingest", ingest, ctx)
        timed("silver", build_silver, ctx)
        truth = judge.read_truth(ctx.spark, home / "answers.json")
        taxonomy = load_taxonomy()
        ctx.lake.overwrite(planted_scores(ctx.lake.read(SILVER_MESSAGES), truth["messages"], taxonomy.labels,
                                          taxonomy.positive, taxonomy.negative),
                           SILVER_MESSAGE_EMOTIONS, partition_by=["sent_date"])
        trained = timed("train detector", train_suggestions, config, log=lambda _: None)
        print(f"detector v{trained.version} on {','.join(trained.sources)}: {trained.reason}")
        scored = timed("score suggestions", score_suggestions, ctx)
        assert scored is not None, "the detector did not become champion"
        ideas = timed("ideas", build_suggestion_ideas, ctx)
        print(ideas_summary(ideas))
        def mart():  # type: ignore[no-untyped-def]
            frame = build_feedback_marts(ctx, None)[GOLD_PRODUCT_FEEDBACK].cache()
            frame.count()
            return frame

        feedback = timed("mart", mart)
        agreement = judge.suggestion_agreement(ctx.lake.read(SILVER_MESSAGE_SUGGESTIONS), truth["messages"])
        recovery = judge.idea_recovery(feedback, ctx.lake.read(SILVER_SUGGESTION_IDEAS),
                                       ctx.lake.read(SILVER_MESSAGES), truth["messages"], truth["conversations"])
        print(f"\nhistory: {args.days} days x {args.customers} customers, seed {args.seed}; "
              f"{scored.scored} customer messages scored by the detector")
        print(f"is a suggestion: precision {agreement.precision:.3f} (target >= 0.9), recall {agreement.recall:.3f} "
              f"({agreement.predicted} predicted, {agreement.planted} planted, {agreement.true_positive} both)")
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(recovery.ideas.to_string(index=False))
        print(f"max |relative error| of customers asking: {recovery.max_relative_error:.3f} (target <= 0.10); "
              f"ranked in the planted order: {recovery.ranked_in_order}")
        print(feedback.where("idea_id >= 0").orderBy("product", "rank")
              .select("product", "rank", "idea_id", "idea_label", "customers", "suggestions", "trend",
                      "requester_valence").toPandas().to_string(index=False))
    print("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()))


if __name__ == "__main__":
    main()
