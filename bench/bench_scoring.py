"""Benchmark: the emotion model in a plain Python loop vs the Spark UDF, same messages.

    .venv/bin/python bench/bench_scoring.py [--messages 20000] [--home DIR] [--model-uri URI]

Messages come from the seeded generator (chat, e-mail, ticket, call, social and review text).
The model is the champion of the voicelake home (``--home``, default $VOICELAKE_HOME or
.voicelake) unless ``--model-uri`` names another. (a) loads the pyfunc once and scores all
texts in one process with torch using every core, in the same length-sorted batches the
pyfunc uses; (b) runs the Spark UDF end to end (local[N] executors, one torch thread per task,
model loading in the workers included) into a no-op sink. Prints msg/s for both and the ratio.
Target (issue #3): (b) >= 0.9 x (a).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import date
from pathlib import Path


def generated_texts(n: int) -> list[str]:
    from voicelake.generator import GeneratorSettings, generate_history
    from voicelake.generator.plan import MESSAGES_PER_CUSTOMER_DAY

    tmp = Path(tempfile.mkdtemp(prefix="voicelake-bench-texts-"))
    customers = max(50, int(n / (14 * MESSAGES_PER_CUSTOMER_DAY) * 1.2))
    generate_history(GeneratorSettings(days=14, customers=customers, seed=2, start=date(2026, 2, 1),
                                       landing=tmp / "landing", answers=tmp / "answers.json"))
    fields = {"chat_messages": "text", "emails": "body", "ticket_comments": "body", "call_utterances": "text",
              "social_posts": "text"}
    texts: list[str] = []
    for source, field in fields.items():
        for f in sorted((tmp / "landing" / source).glob("*.jsonl")):
            texts += [json.loads(line)[field] for line in f.read_text().splitlines()]
    return texts[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--home", default=None, help="voicelake home whose champion to use")
    parser.add_argument("--model-uri", default=None)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    if args.home:
        os.environ["VOICELAKE_HOME"] = args.home

    import mlflow
    import torch

    from voicelake.config import load_config
    from voicelake.models.registry import configure_mlflow, model_uri
    from voicelake.models.scoring import resolve_model, score_column
    from voicelake.spark import get_spark

    config = load_config()
    configure_mlflow(config)
    model = resolve_model(args.model_uri or model_uri(config))
    texts = generated_texts(args.messages)
    tokens = sum(len(t.split()) for t in texts) / len(texts)
    print(f"{len(texts)} messages, {tokens:.1f} words on average; model {model.name} v{model.version}")

    torch.set_num_threads(args.cores)
    loaded = mlflow.pyfunc.load_model(model.local_path)
    import pandas as pd

    loaded.predict(pd.DataFrame({"text": texts[:64]}))  # warm-up
    t0 = time.perf_counter()
    for start in range(0, len(texts), 10000):  # the same batch size Spark's Arrow batches use
        loaded.predict(pd.DataFrame({"text": texts[start:start + 10000]}))
    raw_s = time.perf_counter() - t0
    raw = len(texts) / raw_s
    print(f"(a) plain loop, {args.cores} torch threads: {raw:8.1f} msg/s ({raw_s:.1f}s)")

    spark = get_spark(config.with_spark_conf(master=f"local[{args.cores}]",
                                             **{"spark.sql.shuffle.partitions": str(args.cores)}))
    df = spark.createDataFrame([(t,) for t in texts], "text string").repartition(args.cores).cache()
    df.count()
    scored = df.select(score_column(spark, model, df["text"]).alias("s"))
    for run in ("first run, model loaded in each worker", "second run, workers reuse the loaded model"):
        t0 = time.perf_counter()
        scored.write.format("noop").mode("overwrite").save()
        udf_s = time.perf_counter() - t0
        udf = len(texts) / udf_s
        print(f"(b) Spark UDF end to end, local[{args.cores}], {run}: {udf:8.1f} msg/s ({udf_s:.1f}s)"
              f"  ratio {udf / raw:.2f}x")
    print("target: ratio >= 0.9x")
    spark.stop()


if __name__ == "__main__":
    main()
