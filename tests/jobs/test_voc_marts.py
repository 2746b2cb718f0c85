"""The voice-of-customer marts built by build_gold on the shared generated lake, with the
scores a perfect model would give (the emotion each text was drawn from), judged against the
generator's planted truth; the GX suites pass on them and fail on a broken mart; insights
prints the summary; the calibration model is registered in MLflow with its version on the rows.

The shared lake is small (10 days, 200 customers), so these are the acceptance checks that a
small history can support; the figures on 60 days x 5,000 customers come from
bench/bench_marts.py (see the issue's closing note)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from tests.conftest import SharedLake
from voicelake.generator.judge import agent_order, read_truth, trust_agreement
from voicelake.generator.scores import planted_scores
from voicelake.jobs.build_gold import build_gold
from voicelake.jobs.insights import insights
from voicelake.jobs.validate import ValidationFailed
from voicelake.lake import Lake
from voicelake.models.taxonomy import load_taxonomy
from voicelake.pii import hmac_pseudonym
from voicelake.runtime import JobContext
from voicelake.schemas import (
    GOLD_AGENT_SCORECARD,
    GOLD_CONVERSATION_OUTCOMES,
    GOLD_EMOTION_INDEX,
    GOLD_PASSIVE_DRIVERS,
    GOLD_SERVICE_GAPS,
    SILVER_MESSAGE_EMOTIONS,
    SILVER_MESSAGES,
    VALIDATION_RESULTS,
)
from voicelake.secrets import pseudonym_key

VOC = (GOLD_EMOTION_INDEX, GOLD_CONVERSATION_OUTCOMES, GOLD_AGENT_SCORECARD, GOLD_SERVICE_GAPS, GOLD_PASSIVE_DRIVERS)


@pytest.fixture(scope="module")
def voc(shared_lake: SharedLake, spark: SparkSession,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[JobContext, dict]]:
    config = shared_lake.copy(tmp_path_factory.mktemp("voc") / "home")
    ctx = JobContext(config, spark, Lake(spark, config))
    taxonomy = load_taxonomy()
    truth = read_truth(spark, shared_lake.home / "answers.json")
    ctx.lake.overwrite(planted_scores(ctx.lake.read(SILVER_MESSAGES), truth["messages"], taxonomy.labels,
                                      taxonomy.positive, taxonomy.negative),
                       SILVER_MESSAGE_EMOTIONS, partition_by=["sent_date"])
    written = build_gold(ctx)
    yield ctx, {"written": written, "truth": truth, "scenarios": shared_lake.answers["scenarios"]}


def test_build_gold_publishes_every_voc_mart_validated(voc: tuple[JobContext, dict]) -> None:
    ctx, state = voc
    for table in VOC:
        assert state["written"][table] > 0, table
        assert ctx.lake.read(table).count() == state["written"][table]
    results = ctx.lake.read(VALIDATION_RESULTS).where(F.col("suite").startswith("gold_"))
    suites = {r["suite"]: r["ok"] for r in results.groupBy("suite").agg(F.min("suite_success").alias("ok")).collect()}
    assert {f"gold_{t.split('.')[1]}" for t in VOC} <= set(suites) and all(suites.values())
    # one row per conversation with a scored customer turn, every week of the history
    outcomes = ctx.lake.read(GOLD_CONVERSATION_OUTCOMES)
    assert outcomes.select("conversation_id").distinct().count() == outcomes.count()
    assert {r[0] for r in outcomes.select("week").distinct().collect()} == \
        {r[0] for r in ctx.lake.read(GOLD_EMOTION_INDEX).select("week").distinct().collect()}


def test_outcomes_and_agents_agree_with_the_planted_truth(voc: tuple[JobContext, dict]) -> None:
    ctx, state = voc
    truth = state["truth"]
    agreement = trust_agreement(ctx.lake.read(GOLD_CONVERSATION_OUTCOMES), truth["conversations"])
    print(f"trust_restored: {agreement}")
    assert agreement.conversations > 100
    assert agreement.f1 >= 0.9 and agreement.shift_sign_agreement >= 0.95
    key = pseudonym_key(ctx.config)
    agents = {a: hmac_pseudonym(a, key) or "" for a in (f"A{i:03d}" for i in range(1, 25))}
    order = agent_order(ctx.lake.read(GOLD_AGENT_SCORECARD), agents)
    print(f"agents by empathy: {order}")
    planted = state["scenarios"]["agent_empathy"]
    assert set(order[:3]) == set(planted["high"]) and set(order[-3:]) == set(planted["low"])


def test_emotion_index_rows_carry_counts_intervals_and_the_model_version(voc: tuple[JobContext, dict]) -> None:
    ctx, _ = voc
    rows = ctx.lake.read(GOLD_EMOTION_INDEX).collect()
    with_index = [r for r in rows if r["emotion_index"] is not None]
    assert with_index, [r["status"] for r in rows]
    for r in with_index:
        assert r["emotion_index_low"] <= r["emotion_index"] <= r["emotion_index_high"]
        assert r["calibration_version"] is not None and r["status"] == "ok"
    assert all(r["status"] != "ok" for r in rows if r["emotion_index"] is None)
    import mlflow

    from voicelake.models.registry import configure_mlflow

    configure_mlflow(ctx.config)
    name = ctx.config.voc.calibration_model_name
    champion = mlflow.MlflowClient().get_model_version_by_alias(name, "champion")
    assert {r["calibration_version"] for r in with_index} == {str(champion.version)}


def test_insights_prints_the_week_summary(voc: tuple[JobContext, dict]) -> None:
    ctx, _ = voc
    text = "\n".join(insights(ctx))
    for heading in ("emotion index (every active customer)", "top 3 service gaps", "agents to learn from",
                    "agents to coach", "what the passives lack"):
        assert heading in text, text
    assert "survey NPS" in text


def test_a_broken_voc_mart_fails_its_suite_and_leaves_gold_as_it_was(voc: tuple[JobContext, dict],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, _ = voc
    import voicelake.jobs.build_gold as job

    real = job.build_voc_marts

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        marts = real(*args, **kwargs)
        marts[GOLD_AGENT_SCORECARD] = marts[GOLD_AGENT_SCORECARD].withColumn(
            "empathy_hits", F.col("empathy_opportunities") + 1)  # more hits than opportunities
        return marts

    monkeypatch.setattr(job, "build_voc_marts", broken)
    before = {t: ctx.lake.version(t) for t in VOC}
    with pytest.raises(ValidationFailed, match="gold_agent_scorecard"):
        build_gold(ctx)
    assert {t: ctx.lake.version(t) for t in VOC} == before
