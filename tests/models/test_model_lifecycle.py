"""Train -> register -> promote -> score, on the seed set only (what a fresh machine has).

These tests check the lifecycle, not the model's quality, so they fine-tune the tiny random
encoder of tests/tiny_encoder.py (seconds instead of minutes); the bootstrap of the real default
encoder, whose quality decides whether it is promoted, is trained in tests/dags/test_dag_runs.py."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from tests.conftest import make_config, run_killed
from voicelake.jobs.export_onnx import export
from voicelake.jobs.score import score_messages
from voicelake.jobs.train_model import train
from voicelake.jobs.transforms.gold import build_emotion_daily
from voicelake.lake import Lake
from voicelake.models.onnx_export import register_onnx
from voicelake.models.registry import NoChampionError, configure_mlflow, list_versions, promote
from voicelake.models.taxonomy import load_taxonomy
from voicelake.runtime import JobContext
from voicelake.schemas import SILVER_MESSAGE_EMOTIONS, SILVER_MESSAGES

LABELS = list(load_taxonomy().labels)
D = date(2026, 1, 5)
TEXTS = {
    "m1": "Thank you so much, the refund arrived!",
    "m2": "This is the third time I ask, still broken.",
    "m3": "",
    "m4": "   ",
    "m5": "😡😡",
    "m6": "Der Router funktioniert nicht, ich bin sehr enttäuscht.",
    "m7": "why " * 400,
    "m8": "Where do I find the reset button?",
}


@pytest.fixture(scope="module")
def lifecycle(spark: SparkSession, tiny_encoder: Path, tmp_path_factory: pytest.TempPathFactory):
    config = make_config(tmp_path_factory.mktemp("model"))
    # a tiny encoder learns at a larger rate than a pretrained one is fine-tuned with
    model = replace(config.model, base_encoder=str(tiny_encoder), goemotions_dir=None, max_length=32,
                    batch_size=16, epochs=3, min_steps=150, learning_rate=2e-3, patience=1)
    config = replace(config, model=model)
    ctx = JobContext(config, spark, Lake(spark, config))
    configure_mlflow(config)
    with pytest.raises(NoChampionError, match="voicelake train"):
        score_messages(ctx)
    first = train(ctx)
    decision = promote(config)
    return ctx, first, decision


def test_training_registers_a_challenger_with_metrics_and_artifacts(lifecycle) -> None:
    ctx, first, decision = lifecycle
    client = MlflowClient()
    version = client.get_model_version_by_alias("voicelake-emotion", "challenger")
    assert str(version.version) == first.version == "1"
    run = client.get_run(first.run_id)
    for key in ("eval_macro_f1", "baseline_eval_macro_f1", "seed_heldout_macro_f1", "train_seconds",
                "scoring_msgs_per_second", "train_rows"):
        assert key in run.data.metrics
    assert json.loads(run.data.params["taxonomy_labels"]) == LABELS
    assert run.data.tags["train_hash"] and run.data.tags["seed_heldout_hash"]
    artifacts = {a.path for a in client.list_artifacts(first.run_id, "evaluation")}
    assert {"evaluation/eval_set.parquet", "evaluation/confusion_seed_heldout.png"} <= artifacts
    assert [a.path for a in client.list_artifacts(first.run_id, "taxonomy")] == ["taxonomy/emotion_taxonomy.yaml"]
    # the first model is promoted only if it beats its baseline
    assert decision.reference == "baseline"
    assert decision.promoted == (first.metrics["eval_macro_f1"] > first.metrics["baseline_eval_macro_f1"])


@pytest.fixture(scope="module")
def champion(lifecycle):
    ctx, first, decision = lifecycle
    if not decision.promoted:  # keep the scoring tests independent of the tiny model's luck
        MlflowClient().set_registered_model_alias("voicelake-emotion", "champion", first.version)
    return lifecycle


def test_a_worse_challenger_is_not_promoted(champion) -> None:
    ctx, first, _ = champion
    worse = train(ctx, learning_rate=1e-7, epochs=1, min_steps=0)
    decision = promote(ctx.config)
    assert not decision.promoted and decision.reference == "champion v1"
    assert decision.challenger_score < decision.reference_score
    assert str(MlflowClient().get_model_version_by_alias("voicelake-emotion", "champion").version) == "1"
    rows = {r["version"]: r for r in list_versions(ctx.config)}
    assert rows[1]["aliases"] == "champion" and rows[int(worse.version)]["aliases"] == "challenger"


def test_a_model_with_other_labels_is_refused(champion) -> None:
    ctx, first, _ = champion
    client = MlflowClient()
    source = client.get_model_version("voicelake-emotion", first.version).source
    assert source
    with mlflow.start_run() as run:
        mlflow.log_param("taxonomy_labels", json.dumps(["happy", "sad"]))
        mlflow.log_metric("eval_macro_f1", 0.99)
    mv = client.create_model_version("voicelake-emotion", source, run_id=run.info.run_id)
    client.set_registered_model_alias("voicelake-emotion", "challenger", mv.version)
    with pytest.raises(ValueError, match="do not match the taxonomy"):
        promote(ctx.config)
    assert str(client.get_model_version_by_alias("voicelake-emotion", "champion").version) == "1"


def write_messages(ctx: JobContext) -> None:
    rows = [(mid, f"chat:{mid[:2]}", "chat", "chat_messages", "k", None, "customer",
             datetime(2026, 1, 5, 10), text, "en", "Atlas App", "5.0", D) for mid, text in TEXTS.items()]
    schema = ("message_id string, conversation_id string, channel string, source_system string, "
              "customer_key string, agent_key string, author_role string, sent_at timestamp, text string, "
              "language string, product string, product_version string, sent_date date")
    ctx.lake.overwrite(ctx.spark.createDataFrame(rows, schema), SILVER_MESSAGES, partition_by=["sent_date"])


def test_udf_scoring_schema_probabilities_and_bad_inputs(champion) -> None:
    ctx, _, _ = champion
    write_messages(ctx)
    result = score_messages(ctx, D)
    assert (result.scored, result.skipped, result.version) == (len(TEXTS), 0, "1")
    df = ctx.lake.read(SILVER_MESSAGE_EMOTIONS)
    assert df.columns == ["message_id", "label", *[f"p_{x}" for x in LABELS], "valence", "confidence",
                          "input_status", "model_name", "model_version", "scored_at", "sent_date"]
    rows = {r["message_id"]: r for r in df.collect()}
    for r in rows.values():
        probs = [r[f"p_{x}"] for x in LABELS]
        assert abs(sum(probs) - 1) < 1e-6 and all(0 <= p <= 1 for p in probs)
        assert r["label"] in LABELS and -1 <= r["valence"] <= 1
        assert r["confidence"] == pytest.approx(max(probs))
        assert (r["model_name"], r["model_version"]) == ("voicelake-emotion", "1")
    for empty in ("m3", "m4"):
        r = rows[empty]
        assert (r["label"], r["p_neutral"], r["input_status"]) == ("neutral", 1.0, "empty")
    assert rows["m5"]["input_status"] == "emoji"
    assert rows["m7"]["input_status"] == "truncated"
    assert rows["m6"]["input_status"] == rows["m1"]["input_status"] == "ok"


def test_scoring_is_idempotent_and_incremental(champion) -> None:
    ctx, _, _ = champion
    write_messages(ctx)
    score_messages(ctx, D)
    before = ctx.lake.read(SILVER_MESSAGE_EMOTIONS).drop("scored_at").collect()
    again = score_messages(ctx, D)
    assert (again.scored, again.skipped) == (0, len(TEXTS))
    assert sorted(ctx.lake.read(SILVER_MESSAGE_EMOTIONS).drop("scored_at").collect()) == sorted(before)
    rescored = score_messages(ctx, D, rescore=True)
    assert rescored.scored == len(TEXTS)
    assert ctx.lake.read(SILVER_MESSAGE_EMOTIONS).count() == len(TEXTS)
    version_before = ctx.lake.version(SILVER_MESSAGE_EMOTIONS) - 1
    assert ctx.lake.read(SILVER_MESSAGE_EMOTIONS, version=version_before).count() == len(TEXTS)


def test_emotion_daily_shares_sum_to_one(champion) -> None:
    """gold.emotion_daily's transform over what the champion scored (build-gold around it: the
    gold gate tests and the DAG run)."""
    ctx, _, _ = champion
    write_messages(ctx)
    score_messages(ctx, D)
    messages = ctx.lake.read(SILVER_MESSAGES).where(F.col("sent_date") == D)
    gold = build_emotion_daily(messages, ctx.lake.read(SILVER_MESSAGE_EMOTIONS)).cache()
    sums = gold.groupBy("date", "channel", "product", "author_role").agg(F.sum("share").alias("s"),
                                                                        F.sum("messages").alias("n"))
    row = sums.first()
    assert row["s"] == pytest.approx(1.0) and row["n"] == len(TEXTS)
    assert {r["label"] for r in gold.collect()} <= set(LABELS)


def test_an_onnx_export_is_the_next_version_and_serves_only_when_it_agrees_with_the_champion(champion) -> None:
    """`voicelake export-onnx`: the champion in ONNX int8, calibrated on the lake's messages, judged
    on the champion run's evaluation set, registered as the next version of the same model
    (@challenger, tagged with its runtime and source). A planted disagreement keeps v1 serving; an
    export that agrees is promoted and the Spark UDF scores with it."""
    ctx, first, _ = champion
    client = MlflowClient()
    write_messages(ctx)
    # the calibration loop is tested in test_onnx_export.py: here every MatMul goes int8 at once
    quick = replace(ctx.config, model=replace(ctx.config.model,
                                              onnx=replace(ctx.config.model.onnx, max_fp32_nodes=0)))
    result = export(JobContext(quick, ctx.spark, ctx.lake))
    version = client.get_model_version_by_alias("voicelake-emotion", "challenger")
    assert str(version.version) == result.version != "1" and result.source_version == "1"
    assert version.tags["runtime"] == "onnxruntime" and version.tags["derived_from_version"] == "1"
    run = client.get_run(result.run_id)
    assert json.loads(run.data.params["taxonomy_labels"]) == LABELS
    assert 0 < int(run.data.params["calibration_sentences"]) <= len(TEXTS) * 2  # the lake's messages' sentences
    for key in ("eval_macro_f1", "fp32_eval_macro_f1", "seed_heldout_macro_f1", "fp32_seed_heldout_macro_f1",
                "label_agreement", "speedup", "scoring_msgs_per_second", "baseline_eval_macro_f1"):
        assert key in run.data.metrics, key
    assert 0 <= run.data.metrics["label_agreement"] <= 1
    artifacts = {a.path for folder in ("evaluation", "quantization")
                 for a in client.list_artifacts(result.run_id, folder)}
    assert artifacts == {"evaluation/eval_set.parquet", "quantization/quantization.json"}
    assert {r["version"]: r["runtime"] for r in list_versions(ctx.config)}[int(result.version)] == "onnxruntime"

    client.log_metric(result.run_id, "label_agreement", 0.5)  # planted: says otherwise on half the set
    refused = promote(ctx.config)
    assert not refused.promoted and "label agreement 0.5000, needs >= 0.97" in refused.reason
    assert str(client.get_model_version_by_alias("voicelake-emotion", "champion").version) == "1"

    client.log_metric(result.run_id, "label_agreement", 1.0)
    lenient = replace(ctx.config, model=replace(ctx.config.model,
                                                onnx=replace(ctx.config.model.onnx, max_macro_f1_loss=1.0)))
    try:
        assert promote(lenient).promoted
        scored = score_messages(ctx, D, rescore=True)
        assert (scored.version, scored.scored) == (result.version, len(TEXTS))
        rows = {r["message_id"]: r for r in ctx.lake.read(SILVER_MESSAGE_EMOTIONS).collect()}
        assert {r["model_version"] for r in rows.values()} == {result.version}
        assert [rows[m]["input_status"] for m in ("m1", "m3", "m5", "m7")] == ["ok", "empty", "emoji", "truncated"]
        assert all(abs(sum(r[f"p_{x}"] for x in LABELS) - 1) < 1e-6 for r in rows.values())
        with pytest.raises(ValueError, match="already an ONNX export"):
            register_onnx(ctx.config, ["some text"], result.version)
    finally:
        client.set_registered_model_alias("voicelake-emotion", "champion", first.version)


def test_no_champion_message_names_train(tmp_path: Path, spark: SparkSession) -> None:
    config = make_config(tmp_path / "empty")
    ctx = JobContext(config, spark, Lake(spark, config))
    configure_mlflow(config)
    with pytest.raises(NoChampionError, match="voicelake train"):
        score_messages(ctx)
    configure_mlflow(config)


@pytest.mark.scenario  # a killed `voicelake score` process and a rerun: minutes each
@pytest.mark.parametrize("point", ["score.before_merge", "score.after_merge"])
def test_scoring_killed_around_its_merge_loses_and_duplicates_nothing(champion, point: str) -> None:
    """Crash drill: kill -9 the score job before / after its MERGE, rerun: every message scored once."""
    ctx, _, _ = champion
    write_messages(ctx)
    if ctx.lake.exists(SILVER_MESSAGE_EMOTIONS):
        ctx.lake.delete(SILVER_MESSAGE_EMOTIONS, "true")
    run_killed(ctx, "score", point)
    exists = ctx.lake.exists(SILVER_MESSAGE_EMOTIONS)
    killed = ctx.lake.read(SILVER_MESSAGE_EMOTIONS).count() if exists else 0
    assert killed == (0 if point == "score.before_merge" else len(TEXTS))
    again = score_messages(ctx)
    assert again.scored + again.skipped == len(TEXTS)
    scores = ctx.lake.read(SILVER_MESSAGE_EMOTIONS)
    assert scores.count() == scores.select("message_id").distinct().count() == len(TEXTS)
