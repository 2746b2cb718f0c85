"""Benchmark and acceptance run of the voice-of-customer marts on one generated history.

    .venv/bin/python bench/bench_marts.py [--days 60] [--customers 5000] [--keep]
    .venv/bin/python bench/bench_marts.py --messages 1000000 --days 30    # the speed target

Generates the history, ingests it, builds silver (timed), scores every message with the
emotion its text was drawn from (`planted_scores`: a perfect model, so the figures judge the
marts' statistics, not the emotion model), builds gold (the daily marts and the
voice-of-customer marts, timed apart), then prints every acceptance figure against the
planted truth (docs/marts.md):

- emotion index vs the true NPS of active customers: MAE over product x week (target <= 5),
  the respondents-only survey NPS's MAE (>= 15), the share of 95% intervals holding the
  truth (>= 90%), calibration error of P(promoter) (<= 0.05);
- trust_restored F1 (>= 0.9) and valence-shift sign agreement (>= 95%);
- agents by empathy over the period: planted high three on top, low three at the bottom;
- the top service gap (planted: the billing queue) and no decoy in the top three;
- the first passive theme per product-month (planted: pricing);
- incidents: the SEV1's lift (>= 3) and lead time (within 30 minutes of the planted one), SEV3
  decoys flagged (0), the dark outage an unexplained spike, the silent incident unnoticed;
- releases: the bad release hurt with an interval excluding no change, decoy releases flagged (0);
- marts build seconds / silver build seconds (target <= 0.5; the incident marts' own ratio
  beside it), measured in this run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_generate_ingest import generate_sample  # noqa: E402

PRICING = {"price", "expensive", "cheaper", "fee", "pricing", "prices", "fees", "cost", "plan"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--messages", type=int, default=None, help="size by messages instead of customers")
    parser.add_argument("--keep", action="store_true", help="keep the temporary lake home")
    args = parser.parse_args()

    from voicelake.generator.plan import MESSAGES_PER_CUSTOMER_DAY

    messages = args.messages or int(args.customers * args.days * MESSAGES_PER_CUSTOMER_DAY)
    home = Path(tempfile.mkdtemp(prefix="voicelake-bench-marts-"))
    summary, gen_s = generate_sample(home, messages, args.days)
    print(f"generate: {summary['messages']} messages in {gen_s:.0f}s")

    from pyspark.sql import functions as F

    from voicelake.config import load_config
    from voicelake.generator import judge
    from voicelake.generator.scores import planted_scores
    from voicelake.jobs.build_gold import (
        DAILY_MARTS,
        data_cut_off,
        partition_column,
    )
    from voicelake.jobs.build_gold import build_gold as build_all
    from voicelake.jobs.build_silver import build_silver
    from voicelake.jobs.incident_marts import build_incident_marts
    from voicelake.jobs.ingest import ingest
    from voicelake.jobs.transforms.emotion_index import customer_windows, feature_names
    from voicelake.jobs.voc_marts import build_voc_marts, survey_answers, voc_scope, week_windows
    from voicelake.models.taxonomy import load_taxonomy
    from voicelake.pii import hmac_pseudonym
    from voicelake.runtime import open_lake
    from voicelake.schemas import (
        GOLD_AGENT_SCORECARD,
        GOLD_CONVERSATION_OUTCOMES,
        GOLD_EMOTION_INDEX,
        GOLD_INCIDENT_IMPACT,
        GOLD_PASSIVE_DRIVERS,
        GOLD_RELEASE_IMPACT,
        GOLD_SERVICE_GAPS,
        GOLD_UNEXPLAINED_SPIKES,
        SILVER_CONVERSATIONS,
        SILVER_MESSAGE_EMOTIONS,
        SILVER_MESSAGES,
    )
    from voicelake.secrets import pseudonym_key

    config = load_config("local", overrides={"home": str(home)})
    with open_lake(config=config) as ctx:
        ingest(ctx)
        t0 = time.perf_counter()
        build_silver(ctx)
        silver_s = time.perf_counter() - t0
        n_messages = ctx.lake.read(SILVER_MESSAGES).count()
        print(f"silver:   {n_messages} messages in {silver_s:.0f}s")
        taxonomy = load_taxonomy()
        truth = judge.read_truth(ctx.spark, home / "answers.json")
        ctx.lake.overwrite(planted_scores(ctx.lake.read(SILVER_MESSAGES), truth["messages"], taxonomy.labels,
                                          taxonomy.positive, taxonomy.negative),
                           SILVER_MESSAGE_EMOTIONS, partition_by=["sent_date"])

        # the marts alone, written where build_gold stages them, timed apart from validation
        t0 = time.perf_counter()
        cached: list = []
        marts = build_voc_marts(ctx, voc_scope(None, config), data_cut_off(ctx, None), cached)
        each = {}
        for table, frame in marts.items():
            t1 = time.perf_counter()
            ctx.lake.stage(frame, table, "bench", partition_by=[partition_column(table)])
            each[table] = time.perf_counter() - t1
        marts_s = time.perf_counter() - t0
        for frame in cached:
            frame.unpersist()
        ctx.lake.drop_staging("bench")
        print(f"voc marts: built and written in {marts_s:.0f}s = {marts_s / silver_s:.2f} x the silver build "
              f"(target <= 0.5); written in order: " + ", ".join(f"{t} {s:.0f}s" for t, s in each.items()))
        t0 = time.perf_counter()
        cached = []
        incident_marts = build_incident_marts(ctx, None, cached)
        for table, frame in incident_marts.items():
            ctx.lake.stage(frame, table, "bench", partition_by=[partition_column(table)])
        incident_s = time.perf_counter() - t0
        for frame in cached:
            frame.unpersist()
        ctx.lake.drop_staging("bench")
        print(f"incident and release marts: built and written in {incident_s:.0f}s = {incident_s / silver_s:.2f} x "
              f"the silver build")
        t0 = time.perf_counter()
        written = build_all(ctx)
        print(f"build_gold (every mart staged, validated, published): {time.perf_counter() - t0:.0f}s; "
              + ", ".join(f"{t} {n}" for t, n in written.items() if t not in DAILY_MARTS))

        # acceptance figures
        scenarios = json.loads((home / "answers.json").read_text())["scenarios"]
        found = judge.incident_detection(ctx.lake.read(GOLD_INCIDENT_IMPACT).toPandas(),
                                         ctx.lake.read(GOLD_UNEXPLAINED_SPIKES).toPandas(), scenarios)
        print(f"incidents: SEV1 lift {found.sev1_lift} (target >= 3) impact {found.sev1_impact}, lead "
              f"{found.lead_minutes} min vs planted {found.planted_lead_minutes:.0f} (within 30); SEV3 decoys "
              f"flagged {found.decoys_flagged}/{found.decoys} (target 0); dark outage unexplained "
              f"{found.dark_outage_found}, other unexplained spikes {found.other_spikes}; silent incident "
              f"unnoticed {found.silent_unnoticed}")
        releases = judge.release_detection(ctx.lake.read(GOLD_RELEASE_IMPACT).toPandas(), scenarios)
        print(f"releases: bad release {releases.bad_status} (target hurt), contact rate ratio "
              f"{releases.bad_rate_ratio}, negative share difference {releases.bad_negative_diff}, its topic ranked "
              f"{releases.bad_topic_rank} (needs silver.message_topics); decoys flagged "
              f"{releases.decoys_flagged}/{releases.decoys} (target 0)")
        acc = judge.index_accuracy(ctx.lake.read(GOLD_EMOTION_INDEX), truth["population_nps"])
        print(f"emotion index: {acc.product_weeks} product-weeks (edge weeks left out), MAE {acc.mae:.2f} "
              f"(target <= 5); survey NPS MAE {acc.survey_mae:.2f} (>= 15); interval coverage "
              f"{100 * acc.coverage:.1f}% (>= 90%); {acc.without_index} product-weeks without an index")
        import mlflow

        from voicelake.models.registry import configure_mlflow

        configure_mlflow(config)
        name = config.voc.calibration_model_name
        version = mlflow.MlflowClient().get_model_version_by_alias(name, "champion")
        coefficients = mlflow.artifacts.load_dict(f"runs:/{version.run_id}/coefficients.json")
        labels = taxonomy.labels
        messages_df = ctx.lake.read(SILVER_MESSAGES)
        weeks = sorted({r[0] for r in ctx.lake.read(GOLD_EMOTION_INDEX).select("week").distinct().collect()})
        customers = customer_windows(messages_df, ctx.lake.read(SILVER_MESSAGE_EMOTIONS),
                                     survey_answers(ctx.lake.read(SILVER_CONVERSATIONS)),
                                     week_windows(ctx, weeks, config.voc.window_days), labels).toPandas()
        key = pseudonym_key(config)
        classes = truth["customer_weeks"].where(F.col("active")).select(
            F.to_date("week_start").alias("week"), "customer_id", "nps_class").toPandas()
        classes["customer_key"] = [hmac_pseudonym(c, key) for c in classes["customer_id"]]
        cal = judge.calibration_figures(customers, coefficients, classes[["week", "customer_key", "nps_class"]])
        print(f"calibration (v{version.version}): ECE of P(promoter) {cal['ece_promoter_all']:.3f} over "
              f"{cal['customers']:.0f} active customer-weeks (target <= 0.05); non-respondents only "
              f"{cal['ece_promoter_nonrespondents']:.3f}; features {len(feature_names(labels))}")

        trust = judge.trust_agreement(ctx.lake.read(GOLD_CONVERSATION_OUTCOMES), truth["conversations"])
        shifted, sign = judge.shift_sign_agreement(ctx.lake.read(GOLD_CONVERSATION_OUTCOMES), messages_df,
                                                   truth["messages"], taxonomy.positive, taxonomy.negative)
        print(f"trust_restored: {trust.conversations} conversations, precision {trust.precision:.3f}, recall "
              f"{trust.recall:.3f}, F1 {trust.f1:.3f} (>= 0.9); valence shift sign agreement "
              f"{100 * sign:.1f}% of {shifted} conversations with a planted shift (>= 95%)")

        scenarios = json.loads((home / "answers.json").read_text())["scenarios"]
        planted = scenarios.get("agent_empathy", {"high": [], "low": []})
        agents = {f"A{i:03d}": hmac_pseudonym(f"A{i:03d}", key) or "" for i in range(1, 100)}
        order = judge.agent_order(ctx.lake.read(GOLD_AGENT_SCORECARD), agents)
        print(f"agents by empathy: top 3 {order[:3]} (planted {planted['high']}), bottom 3 {order[-3:]} "
              f"(planted {planted['low']}): top {'OK' if set(order[:3]) == set(planted['high']) else 'MISS'}, "
              f"bottom {'OK' if set(order[-3:]) == set(planted['low']) else 'MISS'}")

        gaps = judge.top_service_gaps(ctx.lake.read(GOLD_SERVICE_GAPS))
        weekly = judge.weekly_top(ctx.lake.read(GOLD_SERVICE_GAPS).where(F.col("level") == "queue"), "gap_rank",
                                  ["queue", "gap_score"])
        slow = scenarios.get("slow_queue", {}).get("queue")
        print(f"service gaps by queue: {list(zip(gaps['queue'], gaps['gap_score'].round(3), strict=True))}; "
              f"planted slow queue {slow!r}; weeks whose rank-1 queue it is: "
              f"{int((weekly['queue'] == slow).sum())}/{len(weekly)}")

        first = judge.first_passive_theme(ctx.lake.read(GOLD_PASSIVE_DRIVERS))
        hits = first["item"].map(lambda item: bool(set(str(item).split()) & PRICING))
        print(f"passive drivers: the rank-1 theme is about pricing in {int(hits.sum())}/{len(first)} "
              f"product-months: {list(zip(first['product'], first['item'], strict=True))}")
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    else:
        print(f"kept {home}")


if __name__ == "__main__":
    main()
