"""Train the emotion model, log it to MLflow and register it as @challenger.

Reads silver.label_feedback (when present) through Spark, everything else from the paths
in ``model.data``; the training itself runs in this driver process (transformers/torch).

    voicelake train [--epochs N] [--max-train-rows N] [--base-encoder ID_OR_PATH] [--bootstrap]
    spark-submit jobs/train_model.py --bootstrap
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import replace

from voicelake.jobs.import_labels import read_feedback
from voicelake.models.registry import configure_mlflow
from voicelake.models.taxonomy import load_taxonomy
from voicelake.models.train import TrainResult, train_and_register
from voicelake.runtime import JobContext, job_parser, open_lake, run_job


def train(ctx: JobContext, **overrides: object) -> TrainResult:
    """Train with the config's model settings, optionally overridden."""
    given = {k: v for k, v in overrides.items() if v is not None}
    settings = replace(ctx.config.model, **given)  # type: ignore[arg-type]
    configure_mlflow(ctx.config)
    feedback = read_feedback(ctx) if settings.label_feedback else None
    return train_and_register(settings, load_taxonomy(), feedback, ctx.config.mlflow.model_name,
                              ctx.config.mlflow.challenger_alias)


# Small, fast settings for the first model `voicelake run` trains when no champion exists.
BOOTSTRAP_SETTINGS: dict[str, object] = {"epochs": 2, "max_train_rows": 2000, "patience": 1,
                                         "min_steps": 200, "learning_rate": 1e-4}


def _main(argv: Sequence[str] | None) -> int:
    parser = job_parser("voicelake train", "Train the emotion model and register it as @challenger.")
    parser.add_argument("--epochs", type=int, help="training epochs (0 or unset: from config)")
    parser.add_argument("--max-train-rows", type=int,
                        help="cap the public training rows for quick runs (0 or unset: from config)")
    parser.add_argument("--base-encoder", help="HF model id or local path (default from config)")
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--no-label-feedback", action="store_true", help="ignore silver.label_feedback")
    parser.add_argument("--bootstrap", action=argparse.BooleanOptionalAction, default=False,
                        help="small, fast settings for a first model (what `voicelake run` trains)")
    args = parser.parse_args(argv)
    settings = dict(BOOTSTRAP_SETTINGS) if args.bootstrap else {}
    settings.update({k: v for k, v in {
        "epochs": args.epochs or None, "max_train_rows": args.max_train_rows or None,
        "base_encoder": args.base_encoder, "learning_rate": args.learning_rate,
        "label_feedback": False if args.no_label_feedback else None}.items() if v is not None})
    with open_lake(args.env) as ctx:
        result = train(ctx, **settings)
    keys = sorted(k for k in result.metrics if k.endswith("macro_f1"))
    print(json.dumps({k: round(result.metrics[k], 4) for k in keys}, indent=1))
    print(f"registered version {result.version} (run {result.run_id}) in {result.seconds:.0f}s; "
          f"next: voicelake promote")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
