from datetime import date, datetime, timedelta

import numpy as np
import pytest
from pyspark.sql import SparkSession

from voicelake.config import Config
from voicelake.jobs.transforms.emotion_index import CONTACTS, build_emotion_index, customer_windows, feature_names
from voicelake.models.nps_calibration import fit_calibration

LABELS = ("anger", "frustration", "anxiety", "disappointment", "confusion", "gratitude", "joy", "empathy", "neutral")
WEEK = date(2026, 1, 5)
START = datetime(2026, 1, 5)


def _history(spark: SparkSession, n: int = 400, seed: int = 0):
    """Customers of two products; class drives valence; the unhappy and delighted answer surveys."""
    rng = np.random.default_rng(seed)
    klass = rng.choice(3, size=n, p=[0.3, 0.4, 0.3])
    messages, emotions, answers = [], [], []
    for i, k in enumerate(klass):
        product = "P" if i % 2 else "Q"
        for j in range(int(rng.integers(1, 4))):
            mid = f"m{i}-{j}"
            v = float(np.clip([-0.6, 0.0, 0.6][k] + rng.normal(0, 0.3), -1, 1))
            probs = np.full(9, 0.02)
            probs[[0, 8, 5][k]] = 0.84
            messages.append((mid, f"c{i}", f"K{i}", "chat" if j % 2 == 0 else "email", product, "customer",
                             START + timedelta(hours=i % 100 + j)))
            emotions.append((mid, v, *map(float, probs)))
        if rng.random() < [0.4, 0.03, 0.3][k]:
            answers.append((f"K{i}", START + timedelta(days=2), int([3, 7, 10][k]), product))
    m = spark.createDataFrame(messages, "message_id string, conversation_id string, customer_key string, "
                                        "channel string, product string, author_role string, sent_at timestamp")
    e = spark.createDataFrame(emotions, "message_id string, valence double, "
                                        + ", ".join(f"p_{label} double" for label in LABELS))
    a = spark.createDataFrame(answers, "customer_key string, answered_at timestamp, nps_score int, product string")
    w = spark.createDataFrame([(WEEK, START - timedelta(days=21), START + timedelta(days=7))],
                              "week date, window_start timestamp, window_end timestamp")
    return m, e, a, w, klass


def test_emotion_index_recovers_the_segment_nps_with_an_interval(spark: SparkSession) -> None:
    m, e, a, w, klass = _history(spark)
    customers = customer_windows(m, e, a, w, LABELS).cache()
    frame = customers.toPandas()
    features = list(feature_names(LABELS))
    answered = frame[frame["answer"] >= 0]
    model = fit_calibration(answered, answered["answer"].to_numpy(), frame[frame["answer"] < 0], features)
    out = build_emotion_index(customers, model.coefficients(), replicates=50, min_customers=30).toPandas()
    truth = 100 * (np.mean(klass == 2) - np.mean(klass == 0))
    overall = out[(out["product"] == "P") | (out["product"] == "Q")]
    assert set(out["channel"]) == {"all", "chat", "email", "survey"}
    rows = overall[overall["channel"] == "all"]
    assert len(rows) == 2 and (rows["active_customers"].sum() == len(klass))
    weighted = (rows["emotion_index"] * rows["active_customers"]).sum() / rows["active_customers"].sum()
    assert abs(weighted - truth) < 10
    survey = (rows["survey_nps"] * rows["customers_surveyed"]).sum() / rows["customers_surveyed"].sum()
    survey_gap = abs(survey - truth)
    assert survey_gap > abs(weighted - truth)
    for _, r in rows.iterrows():
        assert r["emotion_index_low"] <= r["emotion_index"] <= r["emotion_index_high"]
        assert r["status"] == "ok" and r["coverage"] == pytest.approx(1.0)
        assert r["share_detractor"] + r["share_passive"] + r["share_promoter"] == pytest.approx(1.0)
        # the silent middle: expected passives among those who did not answer
        assert r["never_surveyed"] == r["active_customers"] - r["customers_surveyed"]
        assert 0 <= r["silent_passives"] <= r["never_surveyed"]
    small = out[out["channel"] == "survey"]
    assert (small["status"].str.startswith("too few") | (small["active_customers"] >= 30)).all()
    without = build_emotion_index(customers, None, replicates=5).toPandas()
    assert without["emotion_index"].isna().all() and without["status"].str.startswith("no calibration").all()


def test_the_calibration_model_is_registered_and_named_on_the_rows(spark: SparkSession, config: Config) -> None:
    import mlflow

    from voicelake.models.calibration_registry import fit_and_register, promote

    m, e, a, w, _ = _history(spark)
    customers = customer_windows(m, e, a, w, LABELS).cache()
    fitted = fit_and_register(config, customers, list(feature_names(LABELS)), [WEEK], CONTACTS)
    assert fitted.version is not None and fitted.coefficients is not None and fitted.calibration_error is not None
    assert fitted.calibration_error < 0.1 and fitted.respondents == customers.where("answer >= 0 and heard").count()
    assert fitted.coefficients["contacts"] == CONTACTS
    client = mlflow.MlflowClient()
    name = config.voc.calibration_model_name
    with pytest.raises(Exception, match="alias"):  # not champion until a build publishes rows naming it
        client.get_model_version_by_alias(name, "champion")
    promote(config, fitted.version)
    assert str(client.get_model_version_by_alias(name, "champion").version) == fitted.version
    logged = mlflow.artifacts.load_dict(f"runs:/{client.get_model_version(name, fitted.version).run_id}"
                                        "/coefficients.json")
    assert logged == fitted.coefficients
    model = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    frame = customers.toPandas()
    p = model.predict(frame[list(feature_names(LABELS))])
    assert list(p.columns) == ["p_detractor", "p_passive", "p_promoter"]
    assert np.allclose(p.sum(axis=1), 1.0)
    few = customers.where("answer < 0").unionByName(customers.where("answer >= 0").limit(3))  # 3 answers
    assert fit_and_register(config, few, list(feature_names(LABELS)), [WEEK]).reason.startswith(
        "no calibration model")
