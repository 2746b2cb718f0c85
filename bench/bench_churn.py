"""Acceptance run of the churn model (gold.customer_health) on one generated history.

    .venv/bin/python bench/bench_churn.py [--days 140] [--customers 6000] [--seed 3]

Generates the history (customers leave with a weekly hazard that rises as their latent loyalty
falls and after a bad experience, cancel in a conversation an agent confirms, and never contact
support again;
docs/generator.md), ingests it, builds silver, scores every message with the emotion its text
was drawn from (a perfect emotion model: the figures judge the churn model), then prints:

- the label against the truth: customers whose cancellation the pattern finds in silver
  against the generator's churn.jsonl (precision and recall, target 1.0 both);
- `voicelake-churn` trained as `voicelake train-churn` does: on the time-based test weeks, AUC
  of the model (target >= 0.8) and of the survey-only baseline (the last NPS/CSAT answer; the
  model must beat it), Brier scores, base rates;
- the point-in-time check: the features of every customer at one week's end, computed again
  from a lake in which every later conversation and message moved three weeks later, are identical;
- the same fit (not registered) for `--other-horizons` (default 2 and 4 weeks);
- the mart of the last complete week, its most at-risk customers, and seconds per step.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from planted_histories import START, StepTimer, scored_lake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=140)
    parser.add_argument("--customers", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--other-horizons", type=int, nargs="*", default=[2, 4],
                        help="also fit (not register) the model for these horizons (weeks) and print its AUC")
    args = parser.parse_args()

    from pyspark.sql import functions as F

    from voicelake.generator import judge
    from voicelake.jobs.churn import build_churn_marts, customer_weeks, data_end
    from voicelake.jobs.transforms.customer_health import cancellations, customer_week_features
    from voicelake.jobs.transforms.voc import OutcomeParams
    from voicelake.models.churn import churn_params, fit_churn, labelled, register_churn
    from voicelake.pii import hmac_pseudonym
    from voicelake.runtime import JobContext
    from voicelake.schemas import GOLD_CUSTOMER_HEALTH, SILVER_CONVERSATIONS, SILVER_MESSAGE_EMOTIONS, SILVER_MESSAGES
    from voicelake.secrets import pseudonym_key

    home = Path(tempfile.mkdtemp(prefix="voicelake-bench-churn-"))
    timed = StepTimer()
    with scored_lake(home, args.days, args.customers, args.seed, timed) as ctx:
        params = churn_params(ctx.config)
        conversations, messages, emotions = (ctx.lake.read(t) for t in (SILVER_CONVERSATIONS, SILVER_MESSAGES,
                                                                        SILVER_MESSAGE_EMOTIONS))
        key = pseudonym_key(ctx.config)
        planted = {hmac_pseudonym(c, key) for c in judge.read_truth(ctx.spark, home / "answers.json")["churn"]
                   .toPandas().get("customer_id", [])}
        found = {r[0] for r in cancellations(conversations, messages, params.cancellation_pattern)
                 .select("customer_key").collect()}
        hits = len(planted & found)
        print(f"\nlabel: {len(found)} customers with a confirmed cancellation in silver, {len(planted)} planted; "
              f"precision {hits / max(1, len(found)):.3f}, recall {hits / max(1, len(planted)):.3f} (targets 1.0)")

        def features():  # type: ignore[no-untyped-def]
            frame = labelled(customer_weeks(ctx)).cache()
            frame.count()
            return frame

        rows = timed("features", features)
        fit = timed("fit", fit_churn, rows, params, lambda _: None)
        trained = timed("register", register_churn, ctx.config, fit, params, lambda _: None)
        m = fit.metrics
        print(f"history: {args.days} days x {args.customers} customers, seed {args.seed}; "
              f"{m['train_rows']:.0f} training customer-weeks (churn rate {m['train_churn_rate']:.4f}), "
              f"{m['test_rows']:.0f} test customer-weeks (churn rate {m['test_churn_rate']:.4f}), "
              f"horizon {params.horizon_weeks} weeks")
        print(f"AUC {m['test_auc']:.3f} (target >= 0.8); survey-only baseline {m['baseline_auc']:.3f} "
              f"(gap {m['test_auc'] - m['baseline_auc']:+.3f}, target > 0)")
        print(f"Brier {m['test_brier']:.4f}; baseline {m['baseline_brier']:.4f}")
        print(f"registered v{trained.version}: {trained.reason}")
        for weeks in args.other_horizons:
            other = dataclasses.replace(params, horizon_weeks=weeks)
            config = dataclasses.replace(ctx.config, churn={**ctx.config.churn, "horizon_weeks": weeks})
            o = fit_churn(labelled(customer_weeks(JobContext(config, ctx.spark, ctx.lake))), other, lambda _: None)
            print(f"horizon {weeks} weeks: AUC {o.metrics['test_auc']:.3f}, survey-only baseline "
                  f"{o.metrics['baseline_auc']:.3f} ({o.metrics['test_rows']:.0f} test customer-weeks, churn rate "
                  f"{o.metrics['test_churn_rate']:.4f})")

        # point in time: move every event after a week's end three weeks later and compare that week
        end = data_end(messages)
        week = START + timedelta(weeks=args.days // 14)
        cut = datetime.combine(week + timedelta(days=7), datetime.min.time())
        outcome = OutcomeParams(**ctx.config.voc.outcomes)

        def shifted(frame, column):  # type: ignore[no-untyped-def]
            col = F.col(column)
            return frame.withColumn(column, F.when(col >= F.lit(cut), col + F.expr("INTERVAL 21 DAYS"))
                                    .otherwise(col))

        def at_week(c, m):  # type: ignore[no-untyped-def]
            rows = (customer_week_features(c, m, emotions, params, outcome, end)
                    .where(F.col("week") == F.lit(week)).drop("churned_within_horizon", "cancelled_at"))
            # means over a different shuffle order differ in the last bits: compare to 1e-9
            return rows.select(*(F.round(f.name, 9).alias(f.name) if f.dataType.typeName() == "double"
                                 else F.col(f.name) for f in rows.schema.fields))

        before = at_week(conversations, messages)
        after = at_week(shifted(conversations, "opened_at"), shifted(messages, "sent_at"))
        diff = before.exceptAll(after).count() + after.exceptAll(before).count()
        print(f"point in time: {before.count()} customers in the week of {week}; rows that differ after moving "
              f"every later conversation and message 21 days later: {diff}")

        built = timed("mart", build_churn_marts, ctx, None)
        if not built:
            print("no voicelake-churn champion: gold.customer_health is not built")
            return
        mart = built[GOLD_CUSTOMER_HEALTH].cache()
        last = mart.where(F.col("churned_within_horizon").isNotNull()).agg(F.max("week")).first()[0]
        print(f"gold.customer_health: {mart.count()} customer-weeks over {mart.select('week').distinct().count()} "
              f"weeks; the week of {last}, most at risk:")
        print(mart.where(F.col("week") == F.lit(last)).orderBy("risk_rank").select(
            "risk_rank", "product", "contacts_recent", "unresolved_recent", "mean_valence_recent",
            "last_survey_score", "churn_probability", "risk_lift", "churned_within_horizon").limit(8)
              .toPandas().to_string(index=False))
    print(timed.summary())


if __name__ == "__main__":
    main()
