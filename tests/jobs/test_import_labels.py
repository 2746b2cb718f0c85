"""import-labels writes no raw PII into silver.label_feedback."""

from __future__ import annotations

from pathlib import Path

from voicelake.jobs.import_labels import import_labels
from voicelake.runtime import JobContext
from voicelake.schemas import SILVER_LABEL_FEEDBACK


def test_imported_label_texts_are_redacted(ctx: JobContext, tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("text,label\n"
                    "\"Hi Bob, call me on +447946095812\",frustration\n"
                    "Mail anna.keller7@example.com about order 123456,confusion\n"
                    "Thanks so much,gratitude\n")
    assert import_labels(ctx, [str(path)], "csv") == 3
    texts = sorted(r[0] for r in ctx.lake.read(SILVER_LABEL_FEEDBACK).select("text").collect())
    assert texts == ["Hi [PERSON], call me on [PHONE]", "Mail [EMAIL] about order 123456", "Thanks so much"]
