"""gold.customer_health on the run's generated lake: the cancellation label finds exactly the
planted churners (and none of the customers who only threaten to leave), and with a churn
champion build_churn_marts scores the week's customers, adds the emotion index's predicted NPS
class, and passes its suite. The model's accuracy on a long planted history is
bench/bench_churn.py's (docs/marts.md#goldcustomer_health)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from tests.conftest import GoldLake, SharedLake
from tests.jobs.gates import DAY, gold_lake_copy
from tests.jobs.transforms.test_customer_health import _synthetic_weeks
from voicelake.generator.judge import read_truth
from voicelake.jobs.churn import build_churn_marts
from voicelake.jobs.insights import churn_lines
from voicelake.jobs.transforms.customer_health import cancellations
from voicelake.jobs.transforms.emotion_index import feature_names
from voicelake.jobs.validate import churn_frames
from voicelake.models.calibration_registry import _register, promote
from voicelake.models.churn import ChurnParams, churn_params, fit_churn, register_churn
from voicelake.models.nps_calibration import CalibrationModel
from voicelake.models.taxonomy import load_taxonomy
from voicelake.pii import hmac_pseudonym
from voicelake.quality import Validator
from voicelake.schemas import GOLD_CUSTOMER_HEALTH, SILVER_CONVERSATIONS, SILVER_MESSAGES
from voicelake.secrets import pseudonym_key


def test_the_label_finds_the_planted_cancellations_and_no_threat(shared_lake: SharedLake,
                                                                 spark: SparkSession) -> None:
    from voicelake.lake import Lake

    lake = Lake(spark, shared_lake.config)
    conversations, messages = lake.read(SILVER_CONVERSATIONS), lake.read(SILVER_MESSAGES)
    found = {r[0] for r in cancellations(conversations, messages, churn_params(shared_lake.config)
                                         .cancellation_pattern).select("customer_key").collect()}
    key = pseudonym_key(shared_lake.config)
    churn = read_truth(spark, shared_lake.home / "answers.json")["churn"]
    planted = {hmac_pseudonym(r["customer_id"], key) for r in churn.collect()}
    # this small lake may hold no planted churner (about 2% of customers leave a month): then
    # nobody is labelled, though customers say they are leaving (the label's precision and recall
    # on 523 planted churners: bench/bench_churn.py; on landing text: tests/test_generator_truth.py)
    assert found == planted
    threats = messages.where((F.col("author_role") == "customer") & F.lower("text").contains("i'm cancelling"))
    assert threats.count() > 0  # customers who say they leave, and are not labelled churned


def test_the_mart_is_built_from_the_champion_and_passes_its_suite(gold_lake: GoldLake, spark: SparkSession,
                                                                  tmp_path: Path) -> None:
    ctx = gold_lake_copy(spark, gold_lake, tmp_path)
    assert build_churn_marts(ctx, [DAY]) == {}  # no champion yet: nothing built
    params = ChurnParams(max_iter=5, min_train_rows=100)
    register_churn(ctx.config, fit_churn(_synthetic_weeks(spark), params, log=lambda _: None), params,
                   log=lambda _: None)
    # this small lake has too few survey answers for an NPS calibration: publish one that calls
    # every customer it hears a promoter, as the emotion index's champion
    labels = load_taxonomy().labels
    features = feature_names(labels)
    n = len(features)
    calibration = CalibrationModel(features, np.zeros(n), np.ones(n), np.zeros((3, n)), np.array([0.0, 0.0, 2.0]))
    promote(ctx.config, _register(ctx.config, calibration, {"respondents": 0.0}, {"test": "churn"}))
    mart = build_churn_marts(ctx, [DAY])[GOLD_CUSTOMER_HEALTH].cache()
    week = DAY - timedelta(days=DAY.weekday())
    assert {r[0] for r in mart.select("week").distinct().collect()} == {week}
    assert mart.count() > 50 and mart.where(F.col("churn_probability").isNull()).count() == 0
    # the champion calibration names a class for the customers it heard in the index window
    heard = mart.where(F.col("predicted_nps_class").isNotNull())
    assert {r[0] for r in heard.select("predicted_nps_class").distinct().collect()} == {"promoter"}
    assert heard.count() > 10 and heard.where(F.col("p_promoter") < 0.7).count() == 0
    assert heard.count() < mart.count()  # customers with nothing scored in the window have no class
    [(suite, frame, note)] = list(churn_frames({GOLD_CUSTOMER_HEALTH: mart}.get, ctx.config,
                                               ctx.lake.read(SILVER_CONVERSATIONS), ctx.lake.read(SILVER_MESSAGES),
                                               [DAY]))
    assert note is None and frame is not None
    assert not Validator(ctx.config).run(suite, frame, {}).failures
    whole = build_churn_marts(ctx, None)[GOLD_CUSTOMER_HEALTH]  # a full rebuild: every week of the lake
    # the lake opens on Sunday 03-01 and ends on 03-10: the weeks of 02-23, 03-02 and 03-09
    assert {r[0] for r in whole.select("week").distinct().collect()} == {week - timedelta(weeks=k) for k in range(3)}
    ctx.lake.overwrite(mart, GOLD_CUSTOMER_HEALTH, partition_by=["week"])
    lines = churn_lines(ctx, week, 3)
    assert lines[0].startswith("customers most likely to cancel") and f"{mart.count()} customers" in lines[0]
    assert [line.split(".")[0].strip() for line in lines[1:]] == ["1", "2", "3"]
    assert all("x the base rate" in line and "recent contacts" in line for line in lines[1:])
