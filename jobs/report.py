"""Report what a run produced for its dates: messages and scores in silver, rows in each
gold table, the latest validation of each suite, and the rows validation quarantined.
The last task of the daily DAG; it reads the lake and writes only the week's charts (PNG under
``<home>/reports/``, logged to MLflow as the run's artifacts).

    voicelake report [--date D | --since D [--until D]]
    spark-submit jobs/report.py --date 2026-01-05
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from pyspark.sql import Row, Window
from pyspark.sql import functions as F

from voicelake.lake import scalar
from voicelake.runtime import JobContext, add_date_arguments, covered_dates, job_parser, open_lake, run_job
from voicelake.schemas import (
    GOLD_EMOTION_DAILY,
    GOLD_HEALTH_CHECK,
    GOLD_SERVICE_DAILY,
    QUARANTINE,
    SILVER_MESSAGE_EMOTIONS,
    SILVER_MESSAGES,
    VALIDATION_RESULTS,
)


def run_report(ctx: JobContext, dates: Sequence[date]) -> list[tuple[str, str]]:
    """(what, value) lines for the dates."""
    lake = ctx.lake
    days = list(dates)
    label = f"{min(days)}..{max(days)}" if len(days) > 1 else str(days[0])
    lines = [("dates", label)]
    for table, column in ((SILVER_MESSAGES, "sent_date"), (SILVER_MESSAGE_EMOTIONS, "sent_date"),
                          (GOLD_SERVICE_DAILY, "date"), (GOLD_EMOTION_DAILY, "date")):
        rows = lake.read(table).where(F.col(column).isin(days)).count() if lake.exists(table) else 0
        lines.append((f"{table} rows", str(rows)))
    if lake.exists(VALIDATION_RESULTS):
        runs = lake.read(VALIDATION_RESULTS).where(F.col("run_dates").isin(
            [label] + [d.isoformat() for d in days]))
        latest = runs.withColumn("_last", F.max("validated_at").over(Window.partitionBy("suite"))).where(
            F.col("validated_at") == F.col("_last"))
        for suite, ok, failed in latest.groupBy("suite").agg(
                F.min(F.coalesce(F.col("suite_success"), F.lit(True))),
                F.count(F.when(~F.col("success"), 1))).orderBy("suite").collect():
            state = ("PASS" if ok else "FAIL") + (f" ({failed} not met)" if failed else "")
            lines.append((f"validation {suite}", state))
    if lake.exists(GOLD_HEALTH_CHECK):
        for r in lake.read(GOLD_HEALTH_CHECK).where(F.col("date").isin(days)).orderBy("date").collect():
            lines.append((f"health {r['date']}", health_line(r)))
    if lake.exists(QUARANTINE):
        flagged = scalar(lake.read(QUARANTINE).where(F.col("batch_id").startswith("validate:") & (
            F.col("batch_id").endswith(f":{label}"))).agg(F.count(F.lit(1))))
        lines.append(("rows quarantined by validation", str(flagged)))
    return lines


REPORT_RUN_NAME = "daily-report"


def report_charts(ctx: JobContext, dates: Sequence[date]) -> tuple[Path, list[Path]]:
    """The charts of the last date's week (jobs/insights.py `week_charts`) as PNG files under
    ``<home>/reports/<dates>/``, logged as artifacts of one MLflow run (``daily-report``, in the
    project's experiment); returns the folder and the files."""
    from voicelake.jobs.insights import week_charts  # insights imports this module
    from voicelake.jobs.voc_marts import week_of

    days = sorted(dates)
    label = f"{days[0]}..{days[-1]}" if len(days) > 1 else str(days[0])
    folder = Path(ctx.config.home) / "reports" / label
    charts = week_charts(ctx, week_of(days[-1]), folder)
    if charts:
        import mlflow

        from voicelake.models.registry import configure_mlflow

        configure_mlflow(ctx.config)
        with mlflow.start_run(run_name=REPORT_RUN_NAME):
            mlflow.set_tags({"voicelake.report_dates": label})
            mlflow.log_artifacts(str(folder), artifact_path="charts")
    return folder, charts


def health_line(r: Row) -> str:
    """One gold.health_check row in words: its status, the reasons and the figures behind them."""
    share = "n/a" if r["negative_share"] is None else f"{100 * r['negative_share']:.0f}%"
    base = ("no baseline yet" if r["baseline_negative_share"] is None
            else f"baseline {100 * r['baseline_negative_share']:.0f}%")
    parts = [f"negative share {share} of {r['customer_messages']} customer messages ({base})"]
    values = r.asDict()  # a table published before a column was added has no such field
    for column, what in (("incidents_with_impact", "incidents"), ("unexplained_spikes", "unexplained spikes"),
                         ("releases_hurt", "releases that hurt"), ("top_alerts", "alerts"),
                         ("forecast_risks", "forecast to grow")):
        if values.get(column):
            parts.append(f"{what}: {', '.join(values[column])}")
    reasons = "; ".join(r["attention"])
    return (f"ATTENTION ({reasons})" if r["status"] == "attention" else "ok") + " - " + "; ".join(parts)


def _main(argv: Sequence[str] | None) -> int:
    parser = job_parser("voicelake report", "Report what a run produced for its dates.")
    add_date_arguments(parser)
    args = parser.parse_args(argv)
    with open_lake(args.env) as ctx:
        dates = covered_dates(args.date, args.since, args.until,
                              lambda: scalar(ctx.lake.read(SILVER_MESSAGES).agg(F.max("sent_date"))))
        if not dates:
            raise ValueError("report needs --date D or --since D")
        lines = run_report(ctx, dates)
        folder, charts = report_charts(ctx, dates)
        lines.append(("charts", f"{len(charts)} PNG in {folder} (MLflow run {REPORT_RUN_NAME})" if charts
                      else "none (no emotion index, alert or incident to draw yet)"))
    width = max(len(w) for w, _ in lines)
    print("\n".join(f"{what:<{width}}  {value}" for what, value in lines))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI and spark-submit."""
    return run_job(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
