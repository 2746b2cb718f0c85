"""The report's charts and the e-mailable HTML page, from inline frames (no Spark)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from voicelake.jobs.charts import alerts_chart, emotion_index_chart, html_report, incidents_chart

PNG = b"\x89PNG\r\n\x1a\n"


def test_each_chart_is_a_png_and_an_empty_frame_draws_nothing(tmp_path: Path) -> None:
    weeks = [date(2026, 3, 2) + timedelta(weeks=i) for i in range(4)]
    index = pd.DataFrame({"week": weeks * 2, "product": ["A"] * 4 + ["B"] * 4,
                          "emotion_index": [10.0, 12, None, 8, -5, -4, -6, -3],
                          "emotion_index_low": [2.0, 4, None, 0, -15, -12, -16, -11],
                          "emotion_index_high": [18.0, 20, None, 16, 5, 4, 4, 5],
                          "survey_nps": [40.0, None, 35, 30, -50, None, None, -40]})
    alerts = pd.DataFrame({"date": [date(2026, 3, 5)] * 2, "topic_label": ["refund delay", "login"],
                           "kind": ["spike", "emerging"], "metric": ["volume", "negative_share"],
                           "observed": [25.0, 0.6], "expected": [6.0, 0.2]})
    incidents = pd.DataFrame({"incident_id": ["INC-1"], "product": ["A"], "complaints": [40],
                              "expected_complaints": [8.0], "lift": [5.0], "lift_low": [3.5], "lift_high": [7.0]})
    written = [emotion_index_chart(index, tmp_path / "index.png"), alerts_chart(alerts, tmp_path / "alerts.png"),
               incidents_chart(incidents, tmp_path / "incidents.png")]
    assert all(p is not None and p.read_bytes().startswith(PNG) and p.stat().st_size > 10_000 for p in written)
    assert emotion_index_chart(index.assign(emotion_index=None), tmp_path / "none.png") is None
    assert alerts_chart(alerts.head(0), tmp_path / "none.png") is None
    assert incidents_chart(incidents.head(0), tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def test_the_html_report_is_one_self_contained_file(tmp_path: Path) -> None:
    chart = incidents_chart(pd.DataFrame({"incident_id": ["INC-1"], "product": ["A"], "complaints": [4],
                                          "expected_complaints": [1.0], "lift": [4.0], "lift_low": [1.5],
                                          "lift_high": [9.0]}), tmp_path / "incidents.png")
    assert chart is not None
    page = html_report("voice of the customer, week of 2026-03-02", ["a <b> line", "  indented"], [chart])
    assert page.count('src="data:image/png;base64,') == 1 and "a &lt;b&gt; line" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
