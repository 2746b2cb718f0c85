"""Charts of the report and the e-mailable insights page: pandas frames in, PNG files out.

Pure drawing (matplotlib, Agg backend: no display); the callers read the gold tables.
- `emotion_index_chart`: each product's weekly emotion index (all channels) with its 95%
  interval as a band, and the survey NPS of the respondents as crosses;
- `alerts_chart`: the top topic alerts, observed against expected;
- `incidents_chart`: complaints in each incident's window against the expected, with the
  lift's 95% interval in the label.
Each returns the file written, or None when the frame is empty (nothing to draw).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

EMOTION_INDEX_COLUMNS = ("week", "product", "emotion_index", "emotion_index_low", "emotion_index_high", "survey_nps")
ALERT_COLUMNS = ("date", "topic_label", "kind", "metric", "observed", "expected")
INCIDENT_COLUMNS = ("incident_id", "product", "complaints", "expected_complaints", "lift", "lift_low", "lift_high")


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path) -> Path:  # type: ignore[no-untyped-def]
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    _pyplot().close(figure)
    return path


def emotion_index_chart(frame: pd.DataFrame, path: Path) -> Path | None:
    """Weekly emotion index per product with its interval, beside survey NPS."""
    frame = frame.dropna(subset=["emotion_index"]) if not frame.empty else frame
    if frame.empty:
        return None
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(8, 4))
    for product, part in frame.sort_values("week").groupby("product"):
        line, = axis.plot(part["week"], part["emotion_index"], marker="o", label=f"{product} index")
        axis.fill_between(part["week"], part["emotion_index_low"], part["emotion_index_high"],
                          color=line.get_color(), alpha=0.2)
        surveyed = part.dropna(subset=["survey_nps"])
        axis.scatter(surveyed["week"], surveyed["survey_nps"], marker="x", color=line.get_color(),
                     label=f"{product} survey NPS")
    axis.set_ylim(-100, 100)
    axis.set_title("Emotion index of every active customer (95% interval) vs survey NPS")
    axis.set_ylabel("index (-100..100)")
    axis.legend(fontsize=7, ncol=2)
    figure.autofmt_xdate()
    return _save(figure, path)


def alerts_chart(frame: pd.DataFrame, path: Path, top: int = 10) -> Path | None:
    """The top alerts: observed against expected (volume alerts; shares are drawn in %)."""
    if frame.empty:
        return None
    plt = _pyplot()
    shown = frame.head(top).iloc[::-1]
    scale = shown["metric"].map(lambda m: 100.0 if m == "negative_share" else 1.0)
    labels = [f"{r.date} {r.topic_label} ({r.kind}{', % negative' if r.metric == 'negative_share' else ''})"
              for r in shown.itertuples()]
    figure, axis = plt.subplots(figsize=(8, 0.5 * len(shown) + 1.5))
    positions = range(len(shown))
    axis.barh([p + 0.2 for p in positions], shown["observed"] * scale, height=0.4, label="observed")
    axis.barh([p - 0.2 for p in positions], shown["expected"] * scale, height=0.4, label="expected")
    axis.set_yticks(list(positions), labels, fontsize=7)
    axis.set_title("Topic alerts: observed against expected")
    axis.legend(fontsize=7)
    return _save(figure, path)


def incidents_chart(frame: pd.DataFrame, path: Path) -> Path | None:
    """Complaints in each incident's window against the expected, with the lift and its interval."""
    if frame.empty:
        return None
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(8, 0.6 * len(frame) + 1.5))
    positions = range(len(frame))
    axis.barh([p + 0.2 for p in positions], frame["complaints"], height=0.4, label="complaints")
    axis.barh([p - 0.2 for p in positions], frame["expected_complaints"], height=0.4, label="expected")
    labels = [f"{r.incident_id} {r.product}: lift {_fmt(r.lift)} [{_fmt(r.lift_low)}, {_fmt(r.lift_high)}]"
              for r in frame.itertuples()]
    axis.set_yticks(list(positions), labels, fontsize=7)
    axis.set_title("Incidents: complaints in the window against the expected")
    axis.legend(fontsize=7)
    return _save(figure, path)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:.1f}"


def html_report(title: str, lines: Sequence[str], charts: Sequence[Path]) -> str:
    """One self-contained HTML page (charts embedded as data URIs, no outside reference): the
    summary's lines and the charts, to e-mail or open anywhere."""
    images = "\n".join(
        f'<figure><img alt="{html.escape(chart.stem)}" src="data:image/png;base64,'
        f'{base64.b64encode(chart.read_bytes()).decode()}"></figure>' for chart in charts)
    return (f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;margin:24px;max-width:980px}"
            "pre{font-size:12px;white-space:pre-wrap}img{max-width:100%}</style></head>\n"
            f"<body><h1>{html.escape(title)}</h1>\n{images}\n<pre>{html.escape(chr(10).join(lines))}</pre>"
            "</body></html>\n")
