"""Export the emotion champion (or ``--version N``) to ONNX int8 and register it as @challenger.

Calibration text is a sample of the lake's own ``silver.messages`` (the seed set when the lake
has none); it is read in this process and never logged. The int8 version is judged against the
version it came from on that version's evaluation set; ``--promote`` then lets `voicelake
promote`'s rule decide whether it serves (models/onnx_export.py, models/registry.py).

    voicelake export-onnx [--version N] [--promote]
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from pyspark.sql import functions as F

from voicelake.models.onnx_export import OnnxExport, register_onnx, seed_texts
from voicelake.models.registry import configure_mlflow, promote
from voicelake.runtime import JobContext, job_parser, open_lake, run_job
from voicelake.schemas import SILVER_MESSAGES


def lake_texts(ctx: JobContext, limit: int, seed: int = 7) -> list[str]:
    """About ``limit`` non-empty message texts sampled from silver.messages (none without the table)."""
    if not ctx.lake.exists(SILVER_MESSAGES):
        return []
    messages = ctx.lake.read(SILVER_MESSAGES).where(F.length(F.trim("text")) > 0)
    total = messages.count()
    if total == 0:
        return []
    sample = messages.sample(fraction=min(1.0, 1.5 * limit / total), seed=seed).limit(limit)
    return [r["text"] for r in sample.select("text").collect()]


def export(ctx: JobContext, version: str | None = None) -> OnnxExport:
    configure_mlflow(ctx.config)
    # messages carry a sentence or three: this many cover the calibration sentences asked for
    texts = lake_texts(ctx, ctx.config.model.onnx.calibration_sentences) or seed_texts()
    return register_onnx(ctx.config, texts, version)


def _main(argv: Sequence[str] | None) -> int:
    parser = job_parser("voicelake export-onnx", "Export the emotion champion to ONNX int8 and register it "
                                                 "as @challenger.")
    parser.add_argument("--version", help="the registered version to export (default: the champion)")
    parser.add_argument("--promote", action="store_true",
                        help="then run `voicelake promote` (an export of the champion serves when it loses at "
                             "most model.onnx.max_macro_f1_loss and agrees on model.onnx.min_agreement)")
    args = parser.parse_args(argv)
    with open_lake(args.env) as ctx:
        result = export(ctx, args.version)
        keys = ("eval_macro_f1", "fp32_eval_macro_f1", "label_agreement", "speedup", "scoring_msgs_per_second",
                "fp32_scoring_msgs_per_second", "fp32_matmuls")
        print(json.dumps({k: round(result.metrics[k], 4) for k in keys}, indent=1))
        if args.promote:
            print(promote(ctx.config).reason)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
