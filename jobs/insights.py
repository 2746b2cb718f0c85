"""A one-screen voice-of-customer summary of one week for a support leader, read from gold.

    voicelake insights [--week 2026-03-02]      # default: the latest week in gold.emotion_index
    voicelake insights --html report.html       # the same with charts, as one file to e-mail

It prints the emotion index of every product (all channels) with its 95% interval beside the
survey NPS of the respondents and their gap, the three largest service gaps, the agents to
learn from and to coach (shrunk empathy rate; only agents with enough opportunities), and
what the passives lack (themes and emotions over-represented among passives, missing
delighters) with the silent middle, then the week's topic alerts, incidents with customer
impact and unexplained complaint spikes, the releases that hurt in their first days, and the
days gold.health_check says need attention, the conversations most likely to breach their SLA
and the customers most likely to cancel.
Read-only; definitions in docs/marts.md.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

from pyspark.sql import Row
from pyspark.sql import functions as F

from voicelake.jobs.charts import (
    ALERT_COLUMNS,
    EMOTION_INDEX_COLUMNS,
    INCIDENT_COLUMNS,
    alerts_chart,
    emotion_index_chart,
    html_report,
    incidents_chart,
)
from voicelake.jobs.report import health_line
from voicelake.jobs.voc_marts import month_of, week_of
from voicelake.lake import scalar
from voicelake.runtime import JobContext, job_parser, open_lake, run_job
from voicelake.schemas import (
    GOLD_AGENT_SCORECARD,
    GOLD_CUSTOMER_HEALTH,
    GOLD_EMOTION_INDEX,
    GOLD_HEALTH_CHECK,
    GOLD_INCIDENT_IMPACT,
    GOLD_PASSIVE_DRIVERS,
    GOLD_PRODUCT_FEEDBACK,
    GOLD_RELEASE_IMPACT,
    GOLD_SERVICE_GAPS,
    GOLD_SLA_RISK,
    GOLD_TOPIC_ALERTS,
    GOLD_UNEXPLAINED_SPIKES,
)


def _num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def latest_week(ctx: JobContext) -> date | None:
    if not ctx.lake.exists(GOLD_EMOTION_INDEX):
        return None
    return scalar(ctx.lake.read(GOLD_EMOTION_INDEX).agg(F.max("week")))


def agent_lines(agents: Sequence[Row], top: int = 3) -> list[str]:
    """The agents to learn from and to coach, best first (``agents`` ordered by rank score).

    When the week's replies to negative customer turns show no empathy at all, the ranking
    would be arbitrary (every rank score is the team mean): it says so instead of naming anyone.
    """
    def agent_line(r: Row) -> str:
        return (f"  {r['agent_key'][:12]}  empathy {_pct(r['empathy_rate'])} [{_pct(r['empathy_rate_low'])}, "
                f"{_pct(r['empathy_rate_high'])}] of {r['empathy_opportunities']} opportunities, "
                f"trust restored {_pct(r['trust_restored_rate'])} of {r['started_negative']}")

    opportunities = sum(int(r["empathy_opportunities"] or 0) for r in agents)
    if agents and sum(int(r["empathy_hits"] or 0) for r in agents) == 0:
        return [f"agents: no empathy signal this week: the emotion model found empathy in none of the "
                f"{opportunities} agent replies to a negative customer turn, so no agent is named to learn "
                f"from or to coach (check the emotion model's empathy recall: voicelake models)"]
    lines = ["agents to learn from (shrunk empathy rate):"]
    lines += [agent_line(r) for r in agents[:top]] or ["  (no agent with enough empathy opportunities)"]
    lines += ["agents to coach:"]
    lines += [agent_line(r) for r in list(reversed(agents))[:top] if r not in agents[:top]] or ["  (none)"]
    return lines


def insights(ctx: JobContext, week: date | None = None, top: int = 3) -> list[str]:
    """The summary's lines for ``week`` (a Monday; default the latest built)."""
    week = week_of(week) if week and ctx.lake.exists(GOLD_EMOTION_INDEX) else latest_week(ctx)
    if week is None:
        return ["no voice-of-customer marts yet: run build-gold after scoring (voicelake run does both)"]
    lake = ctx.lake
    lines = [f"voice of the customer, week of {week}", ""]

    lines.append("emotion index (every active customer) vs survey NPS (respondents only), all channels:")
    index = (lake.read(GOLD_EMOTION_INDEX).where((F.col("week") == F.lit(week)) & (F.col("channel") == "all"))
             .orderBy("product").collect())
    for r in index:
        if r["emotion_index"] is None:
            lines.append(f"  {r['product']:<16} no index: {r['status']} ({r['active_customers']} active)")
            continue
        gap = (r["emotion_index"] - r["survey_nps"]) if r["survey_nps"] is not None else None
        lines.append(
            f"  {r['product']:<16} index {_num(r['emotion_index']):>6} [{_num(r['emotion_index_low'])}, "
            f"{_num(r['emotion_index_high'])}]  survey NPS {_num(r['survey_nps']):>6} "
            f"(n={r['customers_surveyed']})  gap {_num(gap):>6}  active {r['active_customers']}, "
            f"heard {_pct(r['coverage'])}, silent passives ~{_num(r['silent_passives'], 0)}")
    if not index:
        lines.append("  (no rows this week)")

    lines += ["", f"top {top} service gaps (excess negative share + SLA breach rate vs the whole service):"]
    gaps = (lake.read(GOLD_SERVICE_GAPS).where((F.col("week") == F.lit(week)) & F.col("gap_rank").isNotNull())
            .orderBy(F.col("level") == "segment", "gap_rank").limit(top).collect()) \
        if lake.exists(GOLD_SERVICE_GAPS) else []
    for r in gaps:
        lines.append(
            f"  {r['gap_rank']}. {r['queue']} / {r['channel']} / {r['product']} / {r['hour_band']}: gap "
            f"{_num(r['gap_score'], 2)} [{_num(r['gap_score_low'], 2)}, {_num(r['gap_score_high'], 2)}], "
            f"negative {_pct(r['negative_share'])}, breached {_pct(r['sla_breach_rate'])}, first response p90 "
            f"{_num(r['first_response_p90_minutes'], 0)} min (n={r['conversations']}, {r['unanswered']} unanswered)")
    if not gaps:
        lines.append("  (no segment with enough conversations)")

    agents = (lake.read(GOLD_AGENT_SCORECARD).where((F.col("week") == F.lit(week)) & (F.col("evidence") == "ok"))
              .orderBy(F.col("rank_score").desc(), "agent_key").collect()) if lake.exists(GOLD_AGENT_SCORECARD) else []

    lines += ["", *agent_lines(agents, top)]

    month = month_of(week)
    lines += ["", f"what the passives lack ({month:%Y-%m}, ranked: lift's lower bound above 1):"]
    if lake.exists(GOLD_PASSIVE_DRIVERS):
        drivers = (lake.read(GOLD_PASSIVE_DRIVERS).where((F.col("month") == F.lit(month))
                                                          & F.col("rank").isNotNull() & (F.col("rank") <= top))
                   .orderBy("product", "kind", "rank").collect())
        for r in drivers:
            lines.append(f"  {r['product']:<16} {r['kind']:<18} {r['rank']}. {r['item']!r}: lift {_num(r['lift'], 2)} "
                         f"[{_num(r['lift_low'], 2)}, {_num(r['lift_high'], 2)}], passives "
                         f"{r['passives_with']}/{r['passives']}, promoters {r['promoters_with']}/{r['promoters']}")
        if not drivers:
            lines.append("  (nothing over-represented with enough mentions)")
    lines += ["", *alert_lines(ctx, week, top * 2)]
    lines += ["", *incident_lines(ctx, week, top * 2)]
    lines += ["", *release_lines(ctx, week, top * 2)]
    lines += ["", *idea_lines(ctx, top)]
    lines += ["", *sla_lines(ctx, top * 2)]
    lines += ["", *churn_lines(ctx, week, top * 2)]
    lines += ["", *health_lines(ctx, week)]
    return lines


def alert_lines(ctx: JobContext, week: date, top: int) -> list[str]:
    """The week's topic alerts (gold.topic_alerts), the strongest first."""
    title = "topic alerts of the week (volume or negative share against the topic's own trailing baseline):"
    if not ctx.lake.exists(GOLD_TOPIC_ALERTS):
        return [title, "  (no topic marts yet: they need silver.message_topics)"]
    rows = (ctx.lake.read(GOLD_TOPIC_ALERTS)
            .where(F.col("date").between(F.lit(week), F.lit(week + timedelta(days=6))))
            .orderBy(F.col("statistic").desc(), "date", "topic_id").limit(top).collect())
    lines = [title]
    for r in rows:
        shown = _pct(r["observed"]) if r["metric"] == "negative_share" else _num(r["observed"], 0)
        expected = _pct(r["expected"]) if r["metric"] == "negative_share" else _num(r["expected"], 1)
        lines.append(f"  {r['date']} {r['kind']:<14} {r['severity']:<6} topic {r['topic_id']} {r['topic_label']!r}: "
                     f"{r['metric']} {shown} vs expected {expected} (z {_num(r['statistic'], 1)}, "
                     f"{r['persistence']} of the last days above expectation)")
    if not rows:
        lines.append("  (none: every topic within its baseline, or too little history yet)")
    return lines


def incident_lines(ctx: JobContext, week: date, top: int) -> list[str]:
    """The week's incidents with customer impact and complaint spikes no incident explains."""
    title = "incidents and unexplained complaint spikes of the week (complaints against the same hours of 4 weeks):"
    if not ctx.lake.exists(GOLD_INCIDENT_IMPACT):
        return [title, "  (no incident marts yet: they need scored messages and incident records)"]
    in_week = F.col("date").between(F.lit(week), F.lit(week + timedelta(days=6)))
    lines = [title]
    for r in (ctx.lake.read(GOLD_INCIDENT_IMPACT).where(in_week & F.col("customer_impact"))
              .orderBy(F.col("lift").desc()).limit(top).collect()):
        lead = ("" if r["lead_minutes"] is None
                else f", complaints rose {_num(r['lead_minutes'], 0)} min before declared")
        lines.append(f"  {r['incident_id']} {r['severity']} {r['product']} {r['started_at']:%Y-%m-%d %H:%M}: "
                     f"{r['complaints']} complaints vs {_num(r['expected_complaints'], 1)} expected (lift "
                     f"{_num(r['lift'], 1)}, 95% {_num(r['lift_low'], 1)}-{_num(r['lift_high'], 1)}){lead}; "
                     f"topics {', '.join(r['top_topics']) or '-'}")
    if ctx.lake.exists(GOLD_UNEXPLAINED_SPIKES):
        for r in (ctx.lake.read(GOLD_UNEXPLAINED_SPIKES).where(in_week & (F.col("kind") == "unexplained_spike"))
                  .orderBy(F.col("lift").desc()).limit(top).collect()):
            lines.append(f"  NO INCIDENT {r['product']} {r['started_at']:%Y-%m-%d %H:%M}-{r['ended_at']:%H:%M}: "
                         f"{r['complaints']} complaints vs {_num(r['expected_complaints'], 1)} expected (lift "
                         f"{_num(r['lift'], 1)}); topics {', '.join(r['top_topics']) or '-'}")
    if len(lines) == 1:
        lines.append("  (none: no incident with customer impact and no unexplained spike)")
    return lines


def release_lines(ctx: JobContext, week: date, top: int) -> list[str]:
    """Releases whose window after shipping overlaps the week (gold.release_impact): those that
    hurt with their figures, the rest counted."""
    title = "releases in their first days (customers on the new version against those not yet upgraded):"
    if not ctx.lake.exists(GOLD_RELEASE_IMPACT):
        return [title, "  (no release mart yet: it needs scored messages and release records)"]
    rows = (ctx.lake.read(GOLD_RELEASE_IMPACT)
            .where((F.col("released_at") < F.lit(week + timedelta(days=7))) & (F.col("window_end") > F.lit(week)))
            .orderBy(F.col("hurt").desc(), F.col("q_value").asc_nulls_last(), "release_id").collect())
    lines = [title]
    for r in [r for r in rows if r["hurt"]][:top]:
        lines.append(f"  HURT {r['product']} {r['version']} (shipped {r['released_at']:%Y-%m-%d}): complaints "
                     f"{_pct(r['negative_share_new'])} vs {_pct(r['negative_share_old'])} (difference 95% "
                     f"{_num(r['negative_share_diff_low'], 2)} to {_num(r['negative_share_diff_high'], 2)}), contacts x"
                     f"{_num(r['contact_rate_ratio'], 2)} (95% {_num(r['contact_rate_ratio_low'], 2)}-"
                     f"{_num(r['contact_rate_ratio_high'], 2)}), q {_num(r['q_value'], 3)}; topics "
                     f"{', '.join(r['top_topics']) or '-'}")
    quiet = Counter(r["status"] for r in rows if not r["hurt"])
    if quiet:
        lines.append("  others: " + ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in sorted(quiet.items())))
    if len(lines) == 1:
        lines.append("  (no release in its first days this week)")
    return lines


def idea_lines(ctx: JobContext, top: int) -> list[str]:
    """Each product's ideas most customers ask for (gold.product_feedback, as of its build)."""
    title = "top ideas customers suggest, per product (distinct customers asking):"
    if not ctx.lake.exists(GOLD_PRODUCT_FEEDBACK):
        return [title, "  (no roadmap evidence yet: it needs the suggestion detector's scores)"]
    rows = (ctx.lake.read(GOLD_PRODUCT_FEEDBACK).where(F.col("rank") <= top)
            .orderBy("product", "rank").collect())
    lines = [title]
    for r in rows:
        small = "" if r["enough_data"] else ", too few to say much"
        lines.append(f"  {r['product']:<16} #{r['rank']} {r['idea_label'] or '-'}: {r['customers']} customers "
                     f"({r['suggestions']} suggestions{small}), trend {r['trend']}"
                     + (f" x{_num(r['trend_ratio'], 2)} [{_num(r['trend_ratio_lo'], 2)}, "
                        f"{_num(r['trend_ratio_hi'], 2)}]" if r["trend_ratio"] is not None else "")
                     + (f", e.g. \"{r['examples'][0]}\"" if r["examples"] else ""))
    if len(lines) == 1:
        lines.append("  (no idea asked for yet)")
    return lines


def sla_lines(ctx: JobContext, top: int) -> list[str]:
    """The conversations most likely to breach their SLA at the latest as-of time (gold.sla_risk)."""
    title = "conversations waiting for a first reply, most likely to breach their SLA:"
    if not ctx.lake.exists(GOLD_SLA_RISK):
        return [title, "  (no SLA risk yet: it needs scored messages and a voicelake-sla-risk model)"]
    risk = ctx.lake.read(GOLD_SLA_RISK)
    latest = risk.agg(F.max("as_of")).first()
    if latest is None or latest[0] is None:
        return [title, "  (nobody was waiting)"]
    at = risk.where(F.col("as_of") == F.lit(latest[0]))
    counts = at.agg(F.count(F.lit(1)).alias("n"), F.sum(F.col("at_risk").cast("int")).alias("flagged")).first()
    assert counts is not None
    lines = [f"{title} as of {latest[0]:%Y-%m-%d %H:%M}, {counts['n']} waiting, {counts['flagged'] or 0} at risk"]
    for r in at.where(F.col("risk_rank") <= top).orderBy("risk_rank").collect():
        lines.append(f"  {r['risk_rank']}. {r['conversation_id']} ({r['channel']}, {r['queue'] or '-'}"
                     + (f", {r['priority']}" if r["priority"] else "")
                     + f"): p {_num(r['breach_probability'], 2)}, {_num(r['minutes_left'], 0)} of "
                       f"{r['sla_target_minutes']} min left, queue backlog {_num(r['queue_backlog'], 0)}"
                     + (" - at risk" if r["at_risk"] else ""))
    return lines


def churn_lines(ctx: JobContext, week: date, top: int) -> list[str]:
    """The customers most likely to leave, as of the week's end (gold.customer_health)."""
    title = "customers most likely to cancel within the churn horizon:"
    if not ctx.lake.exists(GOLD_CUSTOMER_HEALTH):
        return [title, "  (no churn risk yet: it needs scored messages and a voicelake-churn model)"]
    rows = ctx.lake.read(GOLD_CUSTOMER_HEALTH).where(F.col("week") == F.lit(week))
    counts = rows.agg(F.count(F.lit(1)).alias("n"), F.avg("churn_probability").alias("mean")).first()
    if counts is None or not counts["n"]:
        return [title, "  (no customer row this week)"]
    lines = [f"{title} week of {week}, {counts['n']} customers heard in the lookback, expected churners "
             f"{_num(counts['mean'] * counts['n'], 1)}"]
    for r in rows.where(F.col("risk_rank") <= top).orderBy("risk_rank").collect():
        lines.append(f"  {r['risk_rank']}. customer {r['customer_key'][:12]} ({r['product']}): p "
                     f"{_num(r['churn_probability'], 2)} ({_num(r['risk_lift'], 1)}x the base rate); "
                     f"{_num(r['contacts_recent'], 0)} recent contacts, {_num(r['unresolved_recent'], 0)} unresolved, "
                     f"mean valence {_num(r['mean_valence_recent'], 2)}, last survey {_num(r['last_survey_score'], 0)}"
                     + (f", predicted {r['predicted_nps_class']}" if r["predicted_nps_class"] else ""))
    return lines


def health_lines(ctx: JobContext, week: date) -> list[str]:
    """The week's days from gold.health_check: those that need attention, in words."""
    title = "health check of the week's days (what needs attention, and why):"
    if not ctx.lake.exists(GOLD_HEALTH_CHECK):
        return [title, "  (no health check yet: it needs scored messages)"]
    rows = (ctx.lake.read(GOLD_HEALTH_CHECK).where(F.col("date").between(F.lit(week), F.lit(week + timedelta(days=6))))
            .orderBy("date").collect())
    lines = [title] + [f"  {r['date']}: {health_line(r)}" for r in rows if r["status"] == "attention"]
    quiet = sum(r["status"] == "ok" for r in rows)
    lines.append(f"  {quiet} of {len(rows)} days ok" if rows else "  (no day of the week built yet)")
    return lines


CHART_WEEKS = 12  # the emotion index chart shows this many weeks up to the week


def week_charts(ctx: JobContext, week: date, folder: Path, top: int = 10) -> list[Path]:
    """The week's charts as PNG files in ``folder`` (jobs/charts.py): the emotion index of the
    last `CHART_WEEKS` weeks with its interval beside survey NPS, the week's top topic alerts,
    its incidents' complaints against the expected. A chart with nothing to draw is left out."""
    lake, end = ctx.lake, week + timedelta(days=6)
    written = []
    if lake.exists(GOLD_EMOTION_INDEX):
        index = (lake.read(GOLD_EMOTION_INDEX)
                 .where((F.col("channel") == "all") & F.col("week").between(
                     F.lit(week - timedelta(weeks=CHART_WEEKS - 1)), F.lit(week)))
                 .select(*EMOTION_INDEX_COLUMNS).toPandas())
        written.append(emotion_index_chart(index, folder / "emotion_index.png"))
    if lake.exists(GOLD_TOPIC_ALERTS):
        alerts = (lake.read(GOLD_TOPIC_ALERTS).where(F.col("date").between(F.lit(week), F.lit(end)))
                  .orderBy(F.col("severity") == "high", "statistic", ascending=False).limit(top)
                  .select(*ALERT_COLUMNS).toPandas())
        written.append(alerts_chart(alerts, folder / "topic_alerts.png", top))
    if lake.exists(GOLD_INCIDENT_IMPACT):
        incidents = (lake.read(GOLD_INCIDENT_IMPACT).where(F.col("date").between(F.lit(week), F.lit(end)))
                     .orderBy("started_at").select(*INCIDENT_COLUMNS).toPandas())
        written.append(incidents_chart(incidents, folder / "incidents.png"))
    return [path for path in written if path is not None]


def write_html(ctx: JobContext, week: date | None, path: Path) -> Path:
    """The week's insights and charts as one self-contained HTML file a leader can e-mail."""
    lines = insights(ctx, week)
    built = week_of(week) if week else latest_week(ctx)
    with tempfile.TemporaryDirectory() as tmp:
        charts = week_charts(ctx, built, Path(tmp)) if built else []
        page = html_report(lines[0], lines[1:], charts)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def _main(argv: Sequence[str] | None) -> int:
    parser = job_parser("voicelake insights", "A one-screen voice-of-customer summary of one week.")
    parser.add_argument("--week", type=date.fromisoformat,
                        help="any day of the week (YYYY-MM-DD); default: the latest week built")
    parser.add_argument("--html", type=Path, metavar="FILE",
                        help="also write the summary with its charts as one self-contained HTML file")
    args = parser.parse_args(argv)
    with open_lake(args.env) as ctx:
        print("\n".join(insights(ctx, args.week)))
        if args.html:
            print(f"\nHTML report: {write_html(ctx, args.week, args.html)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI and spark-submit."""
    return run_job(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
