"""silver.message_topics on the shared generated lake: every customer message gets its
conversation's topic from the real default encoder, a rerun does nothing, and a refit keeps
the ids of the clusters it finds again (MLflow champion / challenger). How well the topics
recover the planted ones is measured on many more openings in tests/models/test_topics.py
(the shared lake holds about 70 conversations)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date as day
from datetime import datetime, timedelta

import pytest
from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from tests.conftest import SharedLake
from voicelake.jobs.topics import TopicsResult, build_topics
from voicelake.jobs.validate import validate
from voicelake.lake import Lake
from voicelake.models.topic_registry import load_topics
from voicelake.runtime import JobContext
from voicelake.schemas import SILVER_MESSAGE_EMBEDDINGS, SILVER_MESSAGE_TOPICS, SILVER_MESSAGES


@pytest.fixture(scope="module")
def topics(shared_lake: SharedLake, spark: SparkSession,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[JobContext, TopicsResult]]:
    config = shared_lake.copy(tmp_path_factory.mktemp("topics") / "home")
    config = replace(config, topics=replace(config.topics, clusters=16))
    ctx = JobContext(config, spark, Lake(spark, config))
    yield ctx, build_topics(ctx)


def test_every_customer_message_gets_its_conversations_topic(topics: tuple[JobContext, TopicsResult]) -> None:
    ctx, result = topics
    customer = ctx.lake.read(SILVER_MESSAGES).where(F.col("author_role") == "customer")
    rows = ctx.lake.read(SILVER_MESSAGE_TOPICS)
    assert result.assigned == rows.count() == customer.count()
    assert rows.select("message_id").distinct().count() == rows.count()
    conversations = customer.select("conversation_id").distinct().count()
    assert result.embedded == ctx.lake.read(SILVER_MESSAGE_EMBEDDINGS).count() == conversations
    # one topic per conversation, from its opening message; labels name the topic
    per_conversation = rows.groupBy("conversation_id").agg(F.countDistinct("topic_id").alias("n"),
                                                           F.countDistinct("opening_message_id").alias("o"))
    assert per_conversation.where("n > 1 or o > 1").count() == 0
    assert rows.where(F.col("topic_label").isNull() | (F.col("topic_label") == "")).count() == 0
    assert rows.where((F.col("distance") < -1e-6) | (F.col("distance") > 2)).count() == 0
    embedding = ctx.lake.read(SILVER_MESSAGE_EMBEDDINGS).select(F.size("embedding")).first()
    assert embedding is not None and embedding[0] == 384
    assert {r[0] for r in rows.select("model_version").distinct().collect()} == {result.version}


def test_a_rerun_does_nothing_and_a_refit_keeps_the_ids_it_finds_again(
        topics: tuple[JobContext, TopicsResult]) -> None:
    ctx, first = topics
    again = build_topics(ctx)
    assert (again.embedded, again.assigned, again.version, again.refit) == (0, 0, first.version, None)
    before = {r["conversation_id"]: r["topic_id"]
              for r in ctx.lake.read(SILVER_MESSAGE_TOPICS).select("conversation_id", "topic_id").collect()}

    # two more clusters: more detail, closer to the sample, so the refit is promoted
    wider = replace(ctx, config=replace(ctx.config, topics=replace(ctx.config.topics, clusters=18)))
    refit = build_topics(wider, force_refit=True)
    assert refit.refit is not None and "promoted" in refit.refit and refit.version != first.version
    champion = load_topics(ctx.config)
    assert champion is not None and champion.version == refit.version
    assert sum(champion.model.new) >= 1 and len(champion.model.topic_ids) == 18
    assert all(i < 18 + sum(champion.model.new) for i in champion.model.topic_ids)
    after = {r["conversation_id"]: r["topic_id"]
             for r in ctx.lake.read(SILVER_MESSAGE_TOPICS).select("conversation_id", "topic_id").collect()}
    kept = sum(after[c] == t for c, t in before.items()) / len(before)
    print(f"refit: {kept:.1%} of conversations keep their topic id")
    assert kept >= 0.5  # 16 -> 18 clusters on ~70 conversations: 65% measured
    assert set(after.values()) <= set(champion.model.topic_ids)
    assert {r[0] for r in ctx.lake.read(SILVER_MESSAGE_TOPICS).select("model_version").distinct().collect()} == \
        {refit.version}


def test_the_topics_suite_passes_clean_topics_and_fails_missing_or_broken_ones(
        topics: tuple[JobContext, TopicsResult]) -> None:
    ctx, _ = topics
    report = validate(ctx, ["silver"], None)
    assert next(o for o in report.outcomes if o.suite.name == "silver_message_topics").success, report.summary()
    ids = [r[0] for r in ctx.lake.read(SILVER_MESSAGE_TOPICS).orderBy("message_id").select("message_id")
           .limit(2).collect()]
    table = DeltaTable.forPath(ctx.spark, ctx.lake.location(SILVER_MESSAGE_TOPICS))
    version = ctx.lake.version(SILVER_MESSAGE_TOPICS)
    assert version is not None
    table.delete(F.col("message_id") == ids[0])
    table.update(F.col("message_id") == ids[1], {"distance": F.lit(3.0), "topic_label": F.lit("")})
    try:
        report = validate(ctx, ["silver"], None)
        failed = next(o for o in report.outcomes if o.suite.name == "silver_message_topics")
        assert {f"{f.expectation}({f.target})" for f in failed.failures} == {
            "expect_column_values_to_be_between(topics)", "expect_column_values_to_match_regex(topic_label)",
            "expect_column_values_to_be_between(distance)",
            # the message without a topic row has no label and no model version either
            "expect_column_values_to_not_be_null(topic_label)", "expect_column_values_to_not_be_null(model_version)"}
    finally:
        table.restoreToVersion(version)


def test_a_model_fitted_on_a_young_lake_refits_once_the_openings_have_doubled() -> None:
    import numpy as np

    from voicelake.jobs.topics import _outgrown
    from voicelake.models.topics import TopicModel

    young = TopicModel(np.eye(2, dtype=np.float32), (0, 1), ("a", "b"), (False, False), sizes=(7, 7))
    assert not _outgrown(young, stored=27, fit_sample=20000)
    assert _outgrown(young, stored=28, fit_sample=20000)
    grown = replace(young, sizes=(10000, 10000))
    assert not _outgrown(grown, stored=10 ** 6, fit_sample=20000)  # a full sample: the retraining DAG refits


@pytest.fixture(scope="module")
def scored(topics: tuple[JobContext, TopicsResult], shared_lake: SharedLake) -> JobContext:
    """The topics lake with silver.message_emotions from the planted emotions (the marts
    build nothing before messages are scored)."""
    from voicelake.generator.judge import read_truth
    from voicelake.generator.scores import planted_scores
    from voicelake.jobs.incident_marts import build_incident_marts
    from voicelake.jobs.topic_marts import build_topic_marts
    from voicelake.models.taxonomy import load_taxonomy
    from voicelake.schemas import SILVER_MESSAGE_EMOTIONS

    ctx, _ = topics
    assert build_topic_marts(ctx, None) == {} and build_incident_marts(ctx, None) == {}
    taxonomy = load_taxonomy()
    truth = read_truth(ctx.spark, shared_lake.home / "answers.json")
    ctx.lake.overwrite(planted_scores(ctx.lake.read(SILVER_MESSAGES), truth["messages"], taxonomy.labels,
                                      taxonomy.positive, taxonomy.negative),
                       SILVER_MESSAGE_EMOTIONS, partition_by=["sent_date"])
    return ctx


@pytest.mark.scenario  # scores and builds the topic marts over the shared lake: minutes; make test-scenarios runs it
def test_the_topic_marts_reconcile_with_silver_and_their_suites_can_fail(scored: JobContext) -> None:
    from voicelake.jobs.build_gold import partition_values
    from voicelake.jobs.topic_marts import build_topic_marts, log_forecast_backtest
    from voicelake.schemas import GOLD_TOPIC_ALERTS, GOLD_TOPIC_DAILY, GOLD_TOPIC_FORECAST

    # the lake's 10 days are enough for a forecast once a week of history is (28 by default)
    ctx = JobContext(replace(scored.config, topics=replace(scored.config.topics, forecast={"min_history_days": 7})),
                     scored.spark, scored.lake)
    marts = build_topic_marts(ctx, None)
    daily = marts[GOLD_TOPIC_DAILY].cache()
    marts[GOLD_TOPIC_FORECAST] = marts[GOLD_TOPIC_FORECAST].cache()  # validated, read and logged: forecast once
    totals = daily.agg(F.sum("messages"), F.sum("conversations"), F.sum("negative_messages")).first()
    assert totals is not None
    customer = ctx.lake.read(SILVER_MESSAGES).where(F.col("author_role") == "customer")
    assert totals[0] == ctx.lake.read(SILVER_MESSAGE_TOPICS).count() == customer.count()
    assert totals[1] == customer.select("conversation_id").distinct().count()
    assert 0 < totals[2] < totals[0]
    # 10 days: shorter than topics.alerts.min_history_days, so no day is tested yet
    assert marts[GOLD_TOPIC_ALERTS].count() == 0

    report = validate(ctx, ["gold"], None, gold=marts)
    outcomes = {o.suite.name: o for o in report.outcomes}
    assert outcomes["gold_topic_daily"].success and outcomes["gold_topic_alerts"].success, report.summary()
    row = daily.orderBy("date", "topic_id", "product", "channel").limit(1)
    broken = daily.union(row).union(row.withColumn("topic_id", F.lit(999))
                                    .withColumn("negative_messages", F.col("scored_messages") + 1))
    report = validate(ctx, ["gold"], None, gold={**marts, GOLD_TOPIC_DAILY: broken})
    failed = next(o for o in report.outcomes if o.suite.name == "gold_topic_daily")
    assert {f"{f.expectation}({f.target})" for f in failed.failures} == {
        "expect_compound_columns_to_be_unique(date,topic_id,product,channel)",
        "expect_column_pair_values_a_to_be_greater_than_b(scored_messages,negative_messages)",
        "expect_column_pair_values_to_be_equal(date_messages,silver_messages)"}
    # an alert of an unknown kind, below its expectation, with a p-value above 1
    from voicelake.jobs.transforms.topic_trends import ALERTS_SCHEMA

    alert = ctx.spark.createDataFrame([(day(2026, 3, 5), 1, "billing", "volume", "surge", 2.0, 5.0, 9.0, 3.6, 1.5,
                                        "medium", 1, 2, 40, 0.0)], ALERTS_SCHEMA)
    report = validate(ctx, ["gold"], None, gold={**marts, GOLD_TOPIC_ALERTS: alert})
    failed = next(o for o in report.outcomes if o.suite.name == "gold_topic_alerts")
    assert {f"{f.expectation}({f.target})" for f in failed.failures} == {
        "expect_column_values_to_be_in_set(kind)", "expect_column_values_to_be_between(p_value)",
        "expect_column_pair_values_a_to_be_greater_than_b(observed,expected)"}

    # the forecast: from the lake's last day, every topic and the service, both metrics, 14 days
    forecast = marts[GOLD_TOPIC_FORECAST].toPandas()
    last = ctx.lake.read(SILVER_MESSAGE_TOPICS).agg(F.max("sent_date")).first()[0]
    topics = daily.select("topic_id").distinct().count()
    assert len(forecast) == (topics + 1) * 2 * 14 and set(forecast["date"]) == {last}
    service = forecast[(forecast["topic_id"] == -1) & (forecast["metric"] == "volume") & (forecast["horizon"] == 1)]
    assert service["last_7_days"].iloc[0] == pytest.approx(
        daily.where(F.col("date") > F.lit(last - timedelta(days=7))).agg(F.sum("conversations")).first()[0] / 7)
    assert outcomes["gold_topic_forecast"].success, report.summary()
    # a dated run forecasts from its last date (the lake's last day, if earlier) and replaces that partition
    assert partition_values(ctx, GOLD_TOPIC_FORECAST, [last - timedelta(days=2), last - timedelta(days=1)]) == [
        last - timedelta(days=1)]
    assert partition_values(ctx, GOLD_TOPIC_FORECAST, [last + timedelta(days=3)]) == [last]
    # its backtest goes to MLflow (10 days hold no backtest window: the series are counted)
    import mlflow

    logged = log_forecast_backtest(ctx.config, marts[GOLD_TOPIC_FORECAST])
    assert logged["volume_series"] == logged["negative_share_series"] == topics + 1
    runs = mlflow.search_runs(filter_string="attributes.run_name = 'topic-forecast-backtest'")
    assert len(runs) == 1 and runs.iloc[0]["params.horizon_days"] == "14"
    assert runs.iloc[0]["metrics.volume_series"] == topics + 1
    marts[GOLD_TOPIC_FORECAST].unpersist()
    daily.unpersist()


FIRST_VERSIONS = ("3.1", "5.0", "2.0", "2026.1")  # shipped 120 days before every generated history


@pytest.mark.scenario
def test_the_incident_and_release_marts_reconcile_with_silver_and_their_suites_can_fail(
        scored: JobContext, shared_lake: SharedLake) -> None:
    """On the 10-day lake no incident has a baseline week yet: every incident gets its row
    (status no_baseline); every release gets its row (the first versions shipped before the
    history, the second ones have too few customers per cohort to test); the suites pass, and
    broken rows fail them."""
    from voicelake.jobs.incident_marts import build_incident_marts
    from voicelake.schemas import (
        GOLD_INCIDENT_IMPACT,
        GOLD_RELEASE_IMPACT,
        GOLD_UNEXPLAINED_SPIKES,
        SILVER_INCIDENTS,
        SILVER_RELEASES,
    )

    ctx = scored
    marts = {table: frame.cache() for table, frame in build_incident_marts(ctx, None).items()}
    impact = marts[GOLD_INCIDENT_IMPACT]
    silver = ctx.lake.read(SILVER_INCIDENTS)
    scenarios = shared_lake.answers["scenarios"]
    assert impact.count() == silver.count() == 2 + len(scenarios["decoys"]["incidents"])  # SEV1, silent, decoys
    assert {r["status"] for r in impact.select("status").collect()} == {"no_baseline"}
    sev1 = impact.where(F.col("incident_id") == scenarios["incident"]["incident_id"]).first()
    assert sev1 is not None and sev1["complaints"] > 5 and sev1["customer_impact"] is None
    assert marts[GOLD_UNEXPLAINED_SPIKES].count() == 0  # nothing is tested without a baseline
    releases = marts[GOLD_RELEASE_IMPACT]
    assert releases.count() == ctx.lake.read(SILVER_RELEASES).count() == 8  # two versions of four products
    statuses = {(r["version"], r["status"]) for r in releases.select("version", "status").collect()}
    assert {s for v, s in statuses if v in FIRST_VERSIONS} == {"before_history"}
    assert {s for v, s in statuses if v not in FIRST_VERSIONS} == {"too_few_customers"}
    bad = releases.where(F.col("release_id") == scenarios["bad_release"]["release_id"]).first()
    assert bad is not None and bad["contacts_new"] > 0 and bad["contacts_old"] > 0 and bad["q_value"] is None
    report = validate(ctx, ["gold"], None, gold=marts)
    outcomes = {o.suite.name: o for o in report.outcomes}
    assert all(outcomes[s].success for s in ("gold_incident_impact", "gold_unexplained_spikes",
                                              "gold_release_impact")), report.summary()

    row = impact.orderBy("incident_id").limit(1)
    broken = impact.union(row).union(row.withColumn("incident_id", F.lit("INC-X"))
                                     .withColumn("complaints", F.col("scored_contacts") + 1))
    row = releases.orderBy("release_id").limit(1)
    broken_releases = releases.union(row).union(row.withColumn("release_id", F.lit("R-X"))
                                                .withColumn("complaints_new", F.col("contacts_new") + 1)
                                                .withColumn("status", F.lit("fine")))
    report = validate(ctx, ["gold"], None, gold={**marts, GOLD_INCIDENT_IMPACT: broken,
                                                 GOLD_RELEASE_IMPACT: broken_releases})
    failed = next(o for o in report.outcomes if o.suite.name == "gold_release_impact")
    assert {f"{f.expectation}({f.target})" for f in failed.failures} == {
        "expect_column_values_to_be_unique(release_id)", "expect_column_values_to_be_in_set(status)",
        "expect_column_pair_values_a_to_be_greater_than_b(contacts_new,complaints_new)",
        "expect_column_pair_values_to_be_equal(date_releases,silver_releases)"}
    failed = next(o for o in report.outcomes if o.suite.name == "gold_incident_impact")
    assert {f"{f.expectation}({f.target})" for f in failed.failures} >= {
        "expect_column_values_to_be_unique(incident_id)",
        "expect_column_pair_values_a_to_be_greater_than_b(scored_contacts,complaints)",
        "expect_column_pair_values_to_be_equal(date_incidents,silver_incidents)"}
    spike = ctx.spark.createDataFrame(
        [(day(2026, 3, 5), "surge", "Orbit Cloud", datetime(2026, 3, 5, 10), datetime(2026, 3, 5, 9), 3, 5,
          1.0, 3.0, 1.5, None, None, ["outage"]),
         (day(2026, 3, 5), "unnoticed_incident", "Orbit Cloud", datetime(2026, 3, 5, 10), datetime(2026, 3, 5, 11),
          0, 0, 1.0, 0.0, 1.0, None, "SEV3", [])],
        "date date, kind string, product string, started_at timestamp, ended_at timestamp, complaints long, "
        "customers long, expected_complaints double, lift double, p_value double, incident_id string, "
        "severity string, top_topics array<string>")
    report = validate(ctx, ["gold"], None, gold={**marts, GOLD_UNEXPLAINED_SPIKES: spike})
    failed = next(o for o in report.outcomes if o.suite.name == "gold_unexplained_spikes")
    assert {f"{f.expectation}({f.target})" for f in failed.failures} == {
        "expect_column_values_to_be_in_set(kind)", "expect_column_values_to_be_between(p_value)",
        "expect_column_pair_values_a_to_be_greater_than_b(ended_at,started_at)",
        "expect_column_pair_values_a_to_be_greater_than_b(complaints,customers)",
        "expect_column_values_to_not_be_null(incident_id)"}
    for frame in marts.values():
        frame.unpersist()
