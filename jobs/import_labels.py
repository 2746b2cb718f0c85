"""Import human emotion labels into silver.label_feedback, the in-domain training data.

A support team's own labels enter training through this table. Formats:
- ``maia``: MAIA-DQE dialogue files (customer sentences from the English translation,
  agent sentences from the agent's English), e.g. ../shared/data/maia_dqe/de_client_02.json;
- ``csv``: a header row with ``text,label`` and optionally ``role``, ``labeller``,
  ``conversation_id``; labels must be taxonomy labels.
Idempotent: rows are merged on a stable feedback_id. Texts are PII-redacted
(`voicelake.pii.redact_texts`, the same redaction as silver.messages) before they are written.

    voicelake import-labels --format maia ../shared/data/maia_dqe/de_client_02.json
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from pyspark.sql import functions as F

from voicelake.models.datasets import parse_maia
from voicelake.models.taxonomy import load_taxonomy
from voicelake.pii import redact_texts
from voicelake.runtime import JobContext, job_parser, open_lake, run_job
from voicelake.schemas import SILVER_LABEL_FEEDBACK

FEEDBACK_SCHEMA = ("feedback_id string, text string, label string, role string, labeller string, "
                   "labelled_at timestamp, source string, group_id string")


def read_label_file(path: Path, fmt: str) -> pd.DataFrame:
    """Rows in the label_feedback shape from one file."""
    taxonomy = load_taxonomy()
    now = datetime.now(UTC).replace(tzinfo=None)
    if fmt == "maia":
        df = parse_maia(path, taxonomy)
        return pd.DataFrame({"feedback_id": df["item_id"], "text": df["text"], "label": df["label"],
                             "role": df["role"], "labeller": "maia-dqe annotators", "labelled_at": now,
                             "source": df["source"], "group_id": df["group"]})
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"text", "label"} - set(df.columns)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}")
    unknown = sorted(set(df["label"]) - set(taxonomy.labels))
    if unknown:
        raise ValueError(f"{path}: labels {unknown} are not in the taxonomy {list(taxonomy.labels)}")
    ids = [hashlib.sha256(f"{path.name}:{i}:{t}".encode()).hexdigest()[:24] for i, t in enumerate(df["text"])]
    return pd.DataFrame({"feedback_id": ids, "text": df["text"], "label": df["label"],
                         "role": df.get("role", "customer"), "labeller": df.get("labeller", "import"),
                         "labelled_at": now, "source": f"csv:{path.stem}",
                         "group_id": df.get("conversation_id", pd.Series(ids))})


def import_labels(ctx: JobContext, paths: Sequence[str], fmt: str) -> int:
    """Merge the files' labels (PII redacted) into silver.label_feedback; returns rows read."""
    frames = [read_label_file(Path(p), fmt) for p in paths]
    rows = pd.concat(frames, ignore_index=True)
    if rows.empty:
        return 0
    rows["text"] = redact_texts(rows["text"].tolist())  # no raw names, e-mails, numbers in silver
    df = ctx.spark.createDataFrame(rows, FEEDBACK_SCHEMA)
    ctx.lake.merge(df, SILVER_LABEL_FEEDBACK, ["feedback_id"])
    return len(rows)


def read_feedback(ctx: JobContext) -> pd.DataFrame | None:
    """silver.label_feedback as training rows (text, label, source, group), or None."""
    if not ctx.lake.exists(SILVER_LABEL_FEEDBACK):
        return None
    df: pd.DataFrame = ctx.lake.read(SILVER_LABEL_FEEDBACK).select(
        "text", "label", "source", F.col("group_id").alias("group")).toPandas()
    return df


def _main(argv: Sequence[str] | None) -> int:
    parser = job_parser("voicelake import-labels", "Import human emotion labels into silver.label_feedback.")
    parser.add_argument("paths", nargs="+", help="label files")
    parser.add_argument("--format", choices=["maia", "csv"], default="maia")
    args = parser.parse_args(argv)
    with open_lake(args.env) as ctx:
        n = import_labels(ctx, args.paths, args.format)
        total = ctx.lake.read(SILVER_LABEL_FEEDBACK).count()
    print(f"{SILVER_LABEL_FEEDBACK}: merged {n} labelled sentences ({total} in the table)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
