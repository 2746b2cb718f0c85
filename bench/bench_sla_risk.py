"""Acceptance run of the SLA-breach model (gold.sla_risk) on one generated history.

    .venv/bin/python bench/bench_sla_risk.py [--days 56] [--customers 4000] [--seed 3]

Generates the history (first responses slow down when a queue's arrivals outgrow its agents on
shift: bursts, peak hours, weekends, the slow billing queue; docs/generator.md), ingests it,
builds silver, scores every message with the emotion its text was drawn from (a perfect
emotion model: the figures judge the SLA model, not the emotion model), then trains
`voicelake-sla-risk` as `voicelake train-sla-risk` does and prints, on the time-based test
split (the last `sla_risk.test_days` days):

- AUC of the model and of the elapsed-time-only baseline (targets: >= 0.85, >= baseline + 0.05);
- Brier scores of both;
- breaches flagged an hour or more ahead and the precision of the flags (targets: >= 0.7 at >= 0.5);
- the point-in-time check: the features of every conversation waiting at one hour of the
  history, computed again from a lake in which every later event is moved (replies, messages,
  conversations opened after it), are identical;
- seconds of each step, and the mart at the end of the last day.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from planted_histories import START, StepTimer, scored_lake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=56)
    parser.add_argument("--customers", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()

    from pyspark.sql import functions as F

    from voicelake.jobs.sla_risk import build_sla_marts
    from voicelake.jobs.transforms.sla_risk import sla_features
    from voicelake.models.sla_risk import fit_sla_risk, labelled, register_sla_risk, sla_params
    from voicelake.schemas import GOLD_SLA_RISK, SILVER_CONVERSATIONS, SILVER_MESSAGE_EMOTIONS, SILVER_MESSAGES

    home = Path(tempfile.mkdtemp(prefix="voicelake-bench-sla-"))
    timed = StepTimer()
    start = START
    with scored_lake(home, args.days, args.customers, args.seed, timed) as ctx:
        config = ctx.config
        params = sla_params(config)
        conversations, messages, emotions = (ctx.lake.read(t) for t in (SILVER_CONVERSATIONS, SILVER_MESSAGES,
                                                                        SILVER_MESSAGE_EMOTIONS))

        def features():  # type: ignore[no-untyped-def]
            frame = labelled(sla_features(conversations, messages, emotions, params)).cache()
            frame.count()
            return frame

        snapshots = timed("features", features)
        fit = timed("fit", fit_sla_risk, snapshots, params, lambda _: None)
        trained = timed("register", register_sla_risk, config, fit, fit.test, params,
                        lambda _: None)
        m = fit.metrics
        print(f"\nhistory: {args.days} days x {args.customers} customers, seed {args.seed}; "
              f"{m['train_snapshots']:.0f} training snapshots (breach rate {m['train_breach_rate']:.3f}), "
              f"{m['test_snapshots']:.0f} test snapshots")
        print(f"AUC {m['test_auc']:.3f} (target >= 0.85); elapsed-time baseline {m['baseline_auc']:.3f} "
              f"(gap {m['test_auc'] - m['baseline_auc']:+.3f}, target >= +0.05)")
        print(f"Brier {m['test_brier']:.4f}; baseline {m['baseline_brier']:.4f}")
        print(f"breaches flagged >= {params.warning_minutes} min ahead: {m['warning_recall']:.3f} (target >= 0.7) "
              f"at precision {m['warning_precision']:.3f} (target >= 0.5); threshold {fit.threshold:.3f}; "
              f"{m['warning_conversations']:.0f} test conversations with a warning snapshot, "
              f"{m['warning_breaches']:.0f} breached, {m['warning_flags']:.0f} flagged")
        print(f"registered v{trained.version}: {trained.reason}")

        # point in time: move every event after a cut-off and compare the features at it
        cut = datetime.combine(start + timedelta(days=args.days // 2), datetime.min.time()) + timedelta(hours=14)
        later = timedelta(days=3, hours=5)

        def shifted(frame, column):  # type: ignore[no-untyped-def]
            col = F.col(column)
            return frame.withColumn(column, F.when(col > F.lit(cut), col + F.expr("INTERVAL 3 DAYS 5 HOURS"))
                                    .otherwise(col))

        moved = shifted(shifted(conversations, "first_response_at"), "first_customer_message_at")
        moved_messages = shifted(messages, "sent_at")
        before = sla_features(conversations, messages, emotions, params, at=[cut]).drop("sla_breached")
        after = sla_features(moved, moved_messages, emotions, params, at=[cut]).drop("sla_breached")
        diff = before.exceptAll(after).count() + after.exceptAll(before).count()
        print(f"point in time: {before.count()} conversations waiting at {cut}; rows that differ after moving "
              f"every later event by {later}: {diff}")

        mart = timed("mart", lambda: build_sla_marts(ctx, None)[GOLD_SLA_RISK].cache())
        print(f"gold.sla_risk at every midnight of the history: {mart.count()} waiting conversations, "
              f"{mart.where('at_risk').count()} at risk")
        print(mart.orderBy("risk_rank").select("risk_rank", "channel", "queue", "priority", "minutes_left",
                                               "queue_backlog", "breach_probability").limit(8).toPandas()
              .to_string(index=False))
    print(timed.summary())


if __name__ == "__main__":
    main()
