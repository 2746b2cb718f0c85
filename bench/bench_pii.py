"""Benchmark: regex-only PII redaction vs regex + Presidio, on the same generated messages, in Spark.

    .venv/bin/python bench/bench_pii.py [--messages 20000] [--cores 2]

Messages come from the seeded generator (every channel's text; about 3% carry an e-mail,
phone, card or IBAN, many more a greeting or an order number, so the candidate share is
realistic), mixed with the planted PII set (voicelake.generator.pii_planted) at 10%.
(a) `redact_pii_regex` (native Spark regexp_replace, the earlier path); (b) `redact_pii`
(native candidate filter, Presidio pandas UDF on the candidates, worker start-up and
Presidio loading included). Both run into a no-op sink over the same cached DataFrame.
Prints msg/s of both, the candidate share and the ratio (b)/(a); also precision and recall
of (b) on the planted set.
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()

    from bench_scoring import generated_texts  # this folder is on sys.path when run as a script
    from pyspark.sql import functions as F

    from voicelake import pii
    from voicelake.config import load_config
    from voicelake.generator.pii_planted import planted_texts, score
    from voicelake.jobs.transforms.silver import pii_candidate, redact_pii, redact_pii_regex
    from voicelake.spark import get_spark

    planted = planted_texts(max(200, args.messages // 10))
    texts = generated_texts(args.messages - len(planted)) + [p.text for p in planted]
    config = load_config().with_spark_conf(master=f"local[{args.cores}]")
    spark = get_spark(config)
    df = spark.createDataFrame([(t,) for t in texts], "text string").repartition(args.cores).cache()
    n = df.count()
    candidates = df.where(pii_candidate(F.col("text"))).count()

    def run(column: F.Column) -> float:
        started = time.perf_counter()
        df.select(column.alias("t")).write.format("noop").mode("overwrite").save()
        return time.perf_counter() - started

    regex_s = run(redact_pii_regex(F.col("text")))
    presidio_s = run(redact_pii(F.col("text")))
    quality = score(planted, [pii.find_pii(p.text) for p in planted])
    print(f"messages: {n}, PII candidates (cheap pass): {candidates} ({candidates / n:.1%}), cores: {args.cores}")
    print(f"(a) regex only:       {n / regex_s:10.0f} msg/s ({regex_s:.1f} s)")
    print(f"(b) regex + Presidio: {n / presidio_s:10.0f} msg/s ({presidio_s:.1f} s, worker start-up included)")
    print(f"ratio (b)/(a): {regex_s / presidio_s:.3f}")
    print(f"planted set ({len(planted)} texts, {quality['planted']:.0f} spans): "
          f"precision {quality['precision']:.3f}, recall {quality['recall']:.3f}")
    spark.stop()


if __name__ == "__main__":
    main()
