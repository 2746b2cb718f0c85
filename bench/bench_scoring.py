"""Benchmark: the emotion scorer in torch fp32 and in ONNX Runtime int8, each in a plain loop
and as the Spark UDF, all on the same messages in one run.

    .venv/bin/python bench/bench_scoring.py [--messages 20000] [--home DIR] [--model-uri URI] [--cores N]

The torch model is the champion of the voicelake home (``--home``, default $VOICELAKE_HOME or
.voicelake) unless ``--model-uri`` names another torch version. Its int8 export is built here
the way `voicelake export-onnx` builds it (models/onnx_export.py: dynamo export, ONNX Runtime's
optimizer, dynamic int8 per channel, calibrated on other generated messages than the measured
ones), saved as a pyfunc in a temporary folder, not registered.

Messages come from the seeded generator (chat, e-mail, ticket, call, social and review text).
(a) and (b) load each pyfunc once and score every message in one process with all cores;
(c) and (d) run each pyfunc as the Spark UDF end to end (local[N], one thread per task, model
loading in the workers included) into a no-op sink. Quality: both scorers on the model run's
own evaluation slices (macro-F1 per slice and per label) and their label agreement there and on
the measured messages. Tokenisation: the share of each loop's time spent in the tokenizer.
Targets (issue 14): int8 >= 2x torch fp32 msg/s, <= 1 point of macro-F1 lost, >= 97% label
agreement; each UDF >= 0.9x the plain loop of the same scorer.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any


def generated_texts(n: int, seed: int = 2) -> list[str]:
    from voicelake.generator import GeneratorSettings, generate_history
    from voicelake.generator.plan import MESSAGES_PER_CUSTOMER_DAY

    tmp = Path(tempfile.mkdtemp(prefix="voicelake-bench-texts-"))
    customers = max(50, int(n / (14 * MESSAGES_PER_CUSTOMER_DAY) * 1.2))
    generate_history(GeneratorSettings(days=14, customers=customers, seed=seed, start=date(2026, 2, 1),
                                       landing=tmp / "landing", answers=tmp / "answers.json"))
    fields = {"chat_messages": "text", "emails": "body", "ticket_comments": "body", "call_utterances": "text",
              "social_posts": "text"}
    texts: list[str] = []
    for source, field in fields.items():
        for f in sorted((tmp / "landing" / source).glob("*.jsonl")):
            texts += [json.loads(line)[field] for line in f.read_text().splitlines()]
    return texts[:n]


def plain_loop(loaded: Any, texts: list[str]) -> tuple[float, dict[str, float], list[str]]:
    """(msg/s, the scorer's tokenize/model seconds, labels): the pyfunc in Arrow-sized batches."""
    import pandas as pd

    loaded.predict(pd.DataFrame({"text": texts[:64]}))  # warm-up
    scorer = loaded.unwrap_python_model().classifier
    scorer.seconds = {"tokenize": 0.0, "model": 0.0}
    labels: list[str] = []
    started = time.perf_counter()
    for start in range(0, len(texts), 10000):  # the batch size Spark's Arrow batches use
        labels += list(loaded.predict(pd.DataFrame({"text": texts[start:start + 10000]}))["label"])
    return len(texts) / (time.perf_counter() - started), dict(scorer.seconds), labels


def udf_rate(spark: Any, model: Any, df: Any) -> float:
    """msg/s of the model's Spark UDF over ``df`` into a no-op sink, workers already warm."""
    from voicelake.models.scoring import score_column

    scored = df.select(score_column(spark, model, df["text"]).alias("s"))
    scored.write.format("noop").mode("overwrite").save()  # the workers load the model
    started = time.perf_counter()
    scored.write.format("noop").mode("overwrite").save()
    return df.count() / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--calibration-messages", type=int, default=3000)
    parser.add_argument("--home", default=None, help="voicelake home whose champion to use")
    parser.add_argument("--model-uri", default=None)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    if args.home:
        os.environ["VOICELAKE_HOME"] = args.home
    os.environ["VOICELAKE_SCORER_THREADS"] = str(args.cores)

    import mlflow
    import numpy as np
    import torch

    from voicelake.config import load_config
    from voicelake.models.onnx_export import (
        build_int8,
        compare_on_slices,
        evaluation_slices,
        onnx_model_config,
        torch_pyfunc,
    )
    from voicelake.models.pyfunc import EmotionModel
    from voicelake.models.registry import configure_mlflow, model_uri
    from voicelake.models.scoring import ResolvedModel, resolve_model
    from voicelake.spark import get_spark

    config = load_config()
    configure_mlflow(config)
    torch_model = resolve_model(args.model_uri or model_uri(config))
    pyfunc = torch_pyfunc(Path(torch_model.local_path), torch_model.uri)
    model_config = pyfunc.model_config
    texts = generated_texts(args.messages + args.calibration_messages)
    texts, calibration = texts[:args.messages], texts[args.messages:]
    words = sum(len(t.split()) for t in texts) / len(texts)
    print(f"{len(texts)} messages, {words:.1f} words on average; model {torch_model.name} v{torch_model.version} "
          f"(max_length {model_config.get('max_length')}, sentences {model_config.get('sentences')}); "
          f"{args.cores} cores")

    torch.set_num_threads(args.cores)
    folder = Path(tempfile.mkdtemp(prefix="voicelake-bench-onnx-"))
    t0 = time.perf_counter()
    built = build_int8(pyfunc.model_dir, model_config, calibration, config.model.onnx, folder)
    print(f"int8 export: {time.perf_counter() - t0:.0f}s, {len(built.report.kept_fp32)} of "
          f"{built.report.matmuls} MatMuls kept in fp32, calibration agreement "
          f"{built.report.calibration_agreement:.4f} on {built.report.calibration_sentences} sentences")
    int8_path = folder / f"{torch_model.name}-int8-bench"
    mlflow.pyfunc.save_model(str(int8_path), python_model=EmotionModel(), model_config=onnx_model_config(model_config),
                             artifacts={"model_dir": str(built.tokenizer_dir), "onnx_model": str(built.int8)})
    int8_model = ResolvedModel(torch_model.name, "int8", str(int8_path), str(int8_path), torch_model.labels)

    run_id = pyfunc.run_id
    _, slices = evaluation_slices(run_id)
    quality = compare_on_slices(built.torch_scorer, built.onnx_scorer, slices, torch_model.labels)
    print(f"\nquality on the evaluation slices of run {run_id} ({sum(len(d) for d in slices.values())} texts):")
    for name in slices:
        keys = [k for k in quality if k.startswith(f"{name}_f1_")]
        print(f"  {name}: macro-F1 fp32 {quality[f'fp32_{name}_macro_f1']:.4f} int8 {quality[f'{name}_macro_f1']:.4f}; "
              + ", ".join(f"{k[len(name) + 4:]} {quality['fp32_' + k]:.2f}->{quality[k]:.2f}" for k in keys))
    print(f"  eval macro-F1: fp32 {quality['fp32_eval_macro_f1']:.4f}, int8 {quality['eval_macro_f1']:.4f}, "
          f"lost {100 * quality['macro_f1_loss']:.2f} points (target <= 1); label agreement "
          f"{quality['label_agreement']:.4f} (target >= 0.97)")

    rates = {}
    for name, model in (("torch fp32", torch_model), ("onnx int8", int8_model)):
        loaded = mlflow.pyfunc.load_model(model.local_path)
        rate, seconds, labels = plain_loop(loaded, texts)
        rates[name] = (rate, labels)
        share = seconds["tokenize"] / max(1e-9, seconds["tokenize"] + seconds["model"])
        print(f"({'a' if name == 'torch fp32' else 'b'}) {name} plain loop, {args.cores} threads: {rate:8.1f} msg/s; "
              f"tokenizer {100 * share:.1f}% of scorer time")
    (torch_rate, torch_labels), (int8_rate, int8_labels) = rates["torch fp32"], rates["onnx int8"]
    agreement = float(np.mean(np.array(torch_labels) == np.array(int8_labels)))
    print(f"int8 / torch fp32: {int8_rate / torch_rate:.2f}x (target >= 2x); label agreement on these messages "
          f"{agreement:.4f}")

    spark = get_spark(config.with_spark_conf(master=f"local[{args.cores}]",
                                             **{"spark.sql.shuffle.partitions": str(args.cores)}))
    df = spark.createDataFrame([(t,) for t in texts], "text string").repartition(args.cores).cache()
    df.count()
    for letter, name, model in (("c", "torch fp32", torch_model), ("d", "onnx int8", int8_model)):
        udf = udf_rate(spark, model, df)
        print(f"({letter}) {name} Spark UDF end to end, local[{args.cores}]: {udf:8.1f} msg/s, "
              f"{udf / rates[name][0]:.2f}x its plain loop (target >= 0.9x)")
    spark.stop()


if __name__ == "__main__":
    main()
