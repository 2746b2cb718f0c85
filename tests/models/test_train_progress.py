"""A tiny fine-tuning run reports its steps (done/total, rate, ETA) instead of staying silent."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from voicelake.config import Config
from voicelake.models.taxonomy import load_taxonomy
from voicelake.models.train import TrainingData, fine_tune


def test_training_reports_its_steps(config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VOICELAKE_PROGRESS_SECONDS", "0")  # a line per step (not a terminal: plain lines)
    labels = list(load_taxonomy().labels)
    rows = pd.DataFrame({"text": ["thanks a lot", "still broken", "where is it", "great job"] * 2,
                         "label": ["gratitude", "frustration", "confusion", "joy"] * 2})
    data = TrainingData(rows, rows.head(4), {"seed_heldout": rows.head(4)})
    settings = replace(config.model, batch_size=4, epochs=1, min_steps=0, max_length=16, patience=0)
    fine_tune(data, settings, labels, tmp_path / "model", log=lambda _: None)
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("training: ")]
    assert lines[0].startswith("training: 1/2 steps (50%), ")
    assert re.fullmatch(r"training: 2/2 steps \(100%\), [\d.,]+ steps/s, \d+s elapsed", lines[-1]), lines
    assert len(lines) == 3  # each of the 2 steps, then the closing line
