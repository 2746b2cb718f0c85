"""The support leader's dashboard: a Dash app over the gold tables, read through the SQL endpoint.

`voicelake dashboard` makes sure the SQL endpoint runs (voicelake.sql_endpoint), then serves
one page per question: the day's health check, the emotion index beside survey NPS, topics
with alerts and forecasts, incidents and releases, service gaps, agents, ideas and the
passives. Filters (product, channel, date range) apply to every page whose table has the
column. Each page names its table and links to its definition (docs/marts.md, served under
``/definitions/<table>``). It only ever runs SELECT statements it composes itself: the
dashboard reads, never writes. A table or selection without rows shows "No data yet" with
what builds it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from voicelake.config import PACKAGE_DIR, PROJECT_ROOT

ALL = "__all__"
CACHE_SECONDS = 30.0  # the same query within this long is answered from memory (gold changes daily)


class GoldReader:
    """SELECTs on the SQL endpoint's views (``<database>.<table>``), on one connection per
    thread, with a short-lived cache of results."""

    def __init__(self, host: str, port: int, database: str, user: str = "dashboard") -> None:
        self.host, self.port, self.database, self.user = host, port, database, user
        self._cache: dict[str, tuple[float, pd.DataFrame]] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def query(self, sql: str) -> pd.DataFrame:
        if not re.match(r"^\s*(SELECT|SHOW)\b", sql, re.IGNORECASE):
            raise ValueError("the dashboard only reads: SELECT or SHOW statements")
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(sql)
            if hit and now - hit[0] < CACHE_SECONDS:
                return hit[1]
        try:
            frame = self._run(sql)
        except Exception:  # noqa: BLE001 - a dropped connection (endpoint restarted): one fresh try
            self._local.__dict__.pop("connection", None)
            frame = self._run(sql)
        with self._lock:
            self._cache[sql] = (now, frame)
        return frame

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def _run(self, sql: str) -> pd.DataFrame:
        """One statement on this thread's connection (opened once: a HiveServer2 session costs
        a round of handshakes and a Spark session on the server)."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            from impala.dbapi import connect

            connection = connect(host=self.host, port=self.port, auth_mechanism="PLAIN", user=self.user,
                                 password="-", database=self.database, timeout=120)
            self._local.connection = connection
        cursor = connection.cursor()
        try:
            cursor.execute(sql)
            columns = [d[0].split(".")[-1] for d in cursor.description or []]
            return pd.DataFrame(cursor.fetchall(), columns=columns)
        finally:
            cursor.close()

    def tables(self) -> set[str]:
        frame = self.query(f"SHOW TABLES IN {self.database}")
        return set(frame["tableName"]) if "tableName" in frame else set(frame.iloc[:, 1])

    def columns(self, table: str) -> list[str]:
        return list(self.query(f"SELECT * FROM {table} LIMIT 0").columns)


@dataclass(frozen=True)
class Filters:
    product: str = ALL
    channel: str = ALL
    start: date | None = None
    end: date | None = None


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def where(filters: Filters, columns: Sequence[str], date_column: str | None) -> str:
    """The WHERE clause of the filters that apply to a table with these columns."""
    terms = []
    if filters.product != ALL and "product" in columns:
        terms.append(f"product = {_literal(filters.product)}")
    if filters.channel != ALL and "channel" in columns:
        terms.append(f"channel = {_literal(filters.channel)}")
    if date_column and date_column in columns:
        if filters.start:
            terms.append(f"{date_column} >= DATE '{filters.start.isoformat()}'")
        if filters.end:
            terms.append(f"{date_column} <= DATE '{filters.end.isoformat()}'")
    return " WHERE " + " AND ".join(terms) if terms else ""


@dataclass(frozen=True)
class Headline:
    """The page's number: one aggregate over one table under the filters (the browser test
    compares it with the same SELECT)."""

    label: str
    table: str
    aggregate: str                 # e.g. sum(conversations)
    date_column: str | None
    every_channel: bool = False    # "All channels" reads the table's channel `all` rows (emotion_index)
    fmt: str = "{:,.0f}"

    def sql(self, filters: Filters, columns: Sequence[str], database: str) -> str:
        chosen = _every_channel(filters) if self.every_channel else filters
        return f"SELECT {self.aggregate} FROM {database}.{self.table}{where(chosen, columns, self.date_column)}"


@dataclass(frozen=True)
class Page:
    path: str
    title: str
    table: str                   # the gold table (read as <database>.<table>)
    date_column: str | None
    what: str                    # what the page shows, in a sentence
    headline: Headline
    charts: Callable[[GoldReader, Filters, str], list[Any]] = field(repr=False)
    built_by: str = "voicelake build-gold (the daily DAG's build_gold and validate_publish_gold)"


def _figure_or_empty(frame: pd.DataFrame, make: Callable[[pd.DataFrame], Any], empty: str) -> Any:
    from dash import dcc, html

    if frame.empty:
        return html.P(empty, className="no-data")
    return dcc.Graph(figure=make(frame), config={"displayModeBar": False})


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _table(frame: pd.DataFrame, columns: Sequence[str], empty: str, rows: int = 15) -> Any:
    from dash import html

    if frame.empty:
        return html.P(empty, className="no-data")
    shown = [c for c in columns if c in frame.columns]
    cell = {"padding": "2px 8px", "borderBottom": "1px solid #ddd", "textAlign": "left", "fontSize": "13px"}
    return html.Table([html.Thead(html.Tr([html.Th(c, style=cell) for c in shown])),
                       html.Tbody([html.Tr([html.Td(_cell(v), style=cell) for v in record])
                                   for record in frame[shown].head(rows).itertuples(index=False)])],
                      style={"borderCollapse": "collapse", "margin": "8px 0"})


def _band(frame: pd.DataFrame, x: str, y: str, low: str, high: str, group: str | None, title: str) -> Any:
    """A line per group with its interval as a shaded band."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for name, part in (frame.groupby(group) if group else [(y, frame)]):
        part = part.sort_values(x)
        figure.add_trace(go.Scatter(x=list(part[x]) + list(part[x])[::-1],
                                    y=list(part[high]) + list(part[low])[::-1], fill="toself", opacity=0.2,
                                    line={"width": 0}, showlegend=False, hoverinfo="skip", name=f"{name} interval"))
        figure.add_trace(go.Scatter(x=part[x], y=part[y], mode="lines+markers", name=str(name)))
    figure.update_layout(title=title, margin={"t": 40, "b": 30, "l": 40, "r": 10}, height=360)
    return figure


# -- pages ---------------------------------------------------------------------------------

def _health(reader: GoldReader, filters: Filters, db: str) -> list[Any]:
    import plotly.express as px

    health = reader.query(f"SELECT date, status, negative_share, negative_share_low, negative_share_high, "
                          f"baseline_negative_share, new_alerts, high_alerts FROM {db}.health_check"
                          f"{where(filters, ['date'], 'date')} ORDER BY date")
    service_columns = reader.columns(f"{db}.service_daily")
    volume = reader.query(f"SELECT date, sum(conversations) AS conversations, sum(sla_breaches) AS sla_breaches "
                          f"FROM {db}.service_daily{where(filters, service_columns, 'date')} GROUP BY date "
                          f"ORDER BY date")
    return [
        _figure_or_empty(health, lambda f: _band(f, "date", "negative_share", "negative_share_low",
                                                 "negative_share_high", None,
                                                 "Negative share of customer messages per day (95% interval)"),
                         "No health check yet."),
        _table(health.sort_values("date", ascending=False), ["date", "status", "negative_share",
                                                              "baseline_negative_share", "new_alerts",
                                                              "high_alerts"], "No health check yet.", rows=7),
        _figure_or_empty(volume, lambda f: px.bar(f, x="date", y="conversations",
                                                  title="Conversations per day (gold.service_daily)"),
                         "No conversations for this selection."),
    ]


def _emotion_index(reader: GoldReader, filters: Filters, db: str) -> list[Any]:
    import plotly.graph_objects as go

    channel = filters.channel if filters.channel != ALL else "all"
    selection = where(_every_channel(filters), ["product", "channel", "week"], "week")
    rows = reader.query(f"SELECT week, product, emotion_index, emotion_index_low, emotion_index_high, survey_nps, "
                        f"active_customers, customers_surveyed, coverage, status FROM {db}.emotion_index"
                        f"{selection} ORDER BY week, product")

    def figure(frame: pd.DataFrame) -> Any:
        shown = frame.dropna(subset=["emotion_index"])
        fig = _band(shown, "week", "emotion_index", "emotion_index_low", "emotion_index_high", "product",
                    f"Emotion index of every active customer (95% interval) beside survey NPS, channel {channel}")
        for name, part in frame.groupby("product"):
            fig.add_trace(go.Scatter(x=part["week"], y=part["survey_nps"], mode="markers", marker={"symbol": "x"},
                                     name=f"{name} survey NPS (respondents only)"))
        return fig

    return [_figure_or_empty(rows, figure, "No emotion index for this selection yet."),
            _table(rows.sort_values("week", ascending=False),
                   ["week", "product", "emotion_index", "emotion_index_low", "emotion_index_high", "survey_nps",
                    "active_customers", "customers_surveyed", "status"], "No rows.")]


def _topics(reader: GoldReader, filters: Filters, db: str) -> list[Any]:
    import plotly.express as px

    tables = reader.tables()
    out: list[Any] = []
    if "topic_daily" in tables:
        columns = reader.columns(f"{db}.topic_daily")
        daily = reader.query(f"SELECT date, topic_label, sum(conversations) AS conversations FROM {db}.topic_daily"
                             f"{where(filters, columns, 'date')} GROUP BY date, topic_label ORDER BY date")
        out.append(_figure_or_empty(daily, lambda f: px.area(f, x="date", y="conversations", color="topic_label",
                                                             title="Conversations per topic per day"),
                                    "No topics for this selection."))
    else:
        out.append(_no_data("topic_daily", "voicelake topics, then build-gold"))
    if "topic_alerts" in tables:
        columns = reader.columns(f"{db}.topic_alerts")
        alerts = reader.query(f"SELECT * FROM {db}.topic_alerts{where(filters, columns, 'date')} "
                              f"ORDER BY date DESC LIMIT 50")
        out.append(_table(alerts, ["date", "topic_label", "kind", "metric", "severity", "observed", "expected",
                                   "p_value"], "No alerts for this selection."))
    if "topic_forecast" in tables:
        forecast = reader.query(f"SELECT target_date, forecast, lo_95, hi_95 FROM {db}.topic_forecast "
                                f"WHERE topic_id = -1 AND metric = 'volume' AND date = "
                                f"(SELECT max(date) FROM {db}.topic_forecast) ORDER BY target_date")
        out.append(_figure_or_empty(forecast, lambda f: _band(f, "target_date", "forecast", "lo_95", "hi_95", None,
                                                              "Forecast of all conversations, next 14 days "
                                                              "(95% prediction interval)"),
                                    "No forecast yet (28 days of topics needed)."))
    return out


def _incidents(reader: GoldReader, filters: Filters, db: str) -> list[Any]:
    incidents = reader.query(f"SELECT date, incident_id, product, severity, title, complaints, expected_complaints, "
                             f"lift, lift_low, lift_high, status FROM {db}.incident_impact"
                             f"{where(filters, ['product', 'date'], 'date')} ORDER BY date DESC")
    out = [_figure_or_empty(incidents, lambda f: _interval_chart(
        f, "lift", "lift_low", "lift_high", "incident_id", "Complaint lift in each incident's window (95% interval)",
        color="status"), "No incidents in this selection."),
        _table(incidents, ["date", "incident_id", "product", "severity", "title", "complaints",
                           "expected_complaints", "lift", "status"], "No incidents.")]
    if "release_impact" in reader.tables():
        releases = reader.query(f"SELECT date, product, version, contact_rate_ratio, contact_rate_ratio_low, "
                                f"contact_rate_ratio_high, negative_share_diff, hurt, status FROM {db}.release_impact"
                                f"{where(filters, ['product', 'date'], 'date')} ORDER BY date DESC")
        out.append(_table(releases, ["date", "product", "version", "contact_rate_ratio", "contact_rate_ratio_low",
                                     "contact_rate_ratio_high", "negative_share_diff", "hurt", "status"],
                          "No releases in this selection."))
    return out


def _latest(reader: GoldReader, db: str, table: str, column: str, filters: Filters) -> str | None:
    # as a string: the Thrift server fails to send an aggregate's date (LocalDate vs java.sql.Date)
    frame = reader.query(f"SELECT CAST(max({column}) AS STRING) AS latest FROM {db}.{table}"
                         f"{where(filters, [column], column)}")
    value = frame.iloc[0, 0] if not frame.empty else None
    return None if value is None or pd.isna(value) else str(value)


def _interval_chart(frame: pd.DataFrame, x: str, low: str, high: str, y: str, title: str,
                    scatter: bool = False, **style: Any) -> Any:
    """Horizontal bars (or points) of ``x`` per ``y`` with the [low, high] interval as error bars."""
    import plotly.express as px

    drawn = frame.assign(_above=frame[high] - frame[x], _below=frame[x] - frame[low])
    if scatter:
        return px.scatter(drawn, x=x, y=y, error_x="_above", error_x_minus="_below", title=title, **style)
    return px.bar(drawn, x=x, y=y, orientation="h", error_x="_above", error_x_minus="_below", title=title, **style)


def _latest_period_page(reader: GoldReader, filters: Filters, db: str, table: str, period: str,
                        select: Sequence[str], filtered_by: Sequence[str], order: str,
                        chart: Callable[[pd.DataFrame, str], Any], shown: Sequence[str], empty: str) -> list[Any]:
    """A chart and a table of the table's latest week or month in the selection."""
    latest = _latest(reader, db, table, period, filters)
    if latest is None:
        return [_no_data(table)]
    narrowed = where(filters, filtered_by, None).replace(" WHERE ", " AND ")
    rows = reader.query(f"SELECT {', '.join(select)} FROM {db}.{table} WHERE {period} = DATE '{latest}'"
                        f"{narrowed} ORDER BY {order} LIMIT 20")
    return [_figure_or_empty(rows, lambda f: chart(f, latest), empty), _table(rows, shown, empty)]


def _service_gaps(reader: GoldReader, filters: Filters, db: str) -> list[Any]:
    return _latest_period_page(
        reader, filters, db, "service_gaps", "week",
        ["queue", "channel", "product", "hour_band", "conversations", "gap_score", "gap_score_low", "gap_score_high",
         "negative_share", "sla_breach_rate", "evidence"], ["product", "channel"], "gap_score DESC",
        lambda f, week: _interval_chart(f.assign(segment=f["queue"] + " / " + f["channel"] + " / " + f["product"]
                                                 + " / " + f["hour_band"]),
                                        "gap_score", "gap_score_low", "gap_score_high", "segment",
                                        f"Largest service gaps, week of {week} (95% interval)"),
        ["queue", "channel", "product", "hour_band", "conversations", "gap_score", "negative_share",
         "sla_breach_rate", "evidence"], "No gaps this week.")


def _agents(reader: GoldReader, filters: Filters, db: str) -> list[Any]:
    return _latest_period_page(
        reader, filters, db, "agent_scorecard", "week",
        ["rank", "agent_key", "conversations", "empathy_rate", "empathy_rate_low", "empathy_rate_high",
         "trust_restored_rate", "csat", "evidence"], [], "rank",
        lambda f, week: _interval_chart(f, "empathy_rate", "empathy_rate_low", "empathy_rate_high", "agent_key",
                                        f"Empathy rate per agent, week of {week} (95% interval)", scatter=True,
                                        size="conversations"),
        ["rank", "agent_key", "conversations", "empathy_rate", "trust_restored_rate", "csat", "evidence"],
        "No agents this week.")


def _ideas(reader: GoldReader, filters: Filters, db: str) -> list[Any]:
    import plotly.express as px

    if "product_feedback" not in reader.tables():
        return [_no_data("product_feedback", "the suggestion detector and build-gold")]
    ideas = reader.query(f"SELECT product, idea_label, customers, suggestions, trend, requester_valence, "
                         f"requester_churn_risk, enough_data FROM {db}.product_feedback"
                         f"{where(filters, ['product'], None)} ORDER BY customers DESC LIMIT 20")
    return [_figure_or_empty(ideas, lambda f: px.bar(f, x="customers", y="idea_label", color="product",
                                                     orientation="h", title="Ideas by customers asking"),
                             "No ideas for this selection."),
            _table(ideas, list(ideas.columns), "No ideas.")]


def _passives(reader: GoldReader, filters: Filters, db: str) -> list[Any]:
    return _latest_period_page(
        reader, filters, db, "passive_drivers", "month",
        ["product", "item", "kind", "lift", "lift_low", "lift_high", "passives_with", "passives", "rank", "evidence"],
        ["product"], "rank",
        lambda f, month: _interval_chart(f, "lift", "lift_low", "lift_high", "item",
                                         f"What passives lack that promoters have, {month} (lift, 95% interval)",
                                         color="kind"),
        ["product", "item", "kind", "lift", "passives_with", "passives", "evidence"], "No drivers this month.")


def _every_channel(filters: Filters) -> Filters:
    """gold.emotion_index has a row per product over every channel (channel `all`): "All
    channels" reads those rows instead of adding channels up (an index does not add up)."""
    return Filters(filters.product, filters.channel if filters.channel != ALL else "all", filters.start, filters.end)


def _no_data(table: str, built_by: str = "build-gold") -> Any:
    from dash import html

    return html.P(f"No data yet: gold.{table} has no rows. It is built by {built_by}.", className="no-data")


PAGES: tuple[Page, ...] = (
    Page("/", "Health check", "health_check", "date",
         "Today's negative share against its baseline, new alerts and the service's volume per day.",
         Headline("Conversations in the selection", "service_daily", "sum(conversations)", "date"), _health),
    Page("/emotion-index", "Emotion index", "emotion_index", "week",
         "How every active customer feels (an NPS-like index with its interval), beside the survey NPS of the "
         "few who answer.",
         Headline("Active customers (weeks x products in the selection)", "emotion_index", "sum(active_customers)",
                  "week", every_channel=True), _emotion_index),
    Page("/topics", "Topics and alerts", "topic_daily", "date",
         "What customers talk about, which topics are spiking or emerging, and the forecast.",
         Headline("Topic conversations in the selection", "topic_daily", "sum(conversations)", "date"), _topics,
         "voicelake topics, then build-gold"),
    Page("/incidents", "Incidents and releases", "incident_impact", "date",
         "Complaints in each incident's window against the expected, and releases that raised contacts.",
         Headline("Incidents in the selection", "incident_impact", "count(*)", "date"), _incidents),
    Page("/service-gaps", "Service gaps", "service_gaps", "week",
         "Where (queue, channel, hour) customers end unhappy or wait past the SLA more than elsewhere.",
         Headline("Segments scored in the selection", "service_gaps", "count(*)", "week"), _service_gaps),
    Page("/agents", "Agents", "agent_scorecard", "week",
         "Each agent's empathy when a customer was upset, and whether trust was restored.",
         Headline("Agent-weeks in the selection", "agent_scorecard", "count(*)", "week"), _agents),
    Page("/ideas", "Ideas (roadmap evidence)", "product_feedback", None,
         "Customers' suggestions grouped into ideas, ranked by how many customers ask.",
         Headline("Customers asking (all ideas)", "product_feedback", "sum(customers)", None), _ideas,
         "the suggestion detector, then build-gold"),
    Page("/passives", "Passives", "passive_drivers", "month",
         "What the passives lack that promoters have: the items that separate a 7-8 from a 9-10.",
         Headline("Driver rows in the selection", "passive_drivers", "count(*)", "month"), _passives),
)


def definitions() -> dict[str, str]:
    """docs/marts.md split by table: ``gold.x`` -> its section (Markdown)."""
    for candidate in (PROJECT_ROOT / "docs" / "marts.md", PACKAGE_DIR / "conf" / "marts.md"):
        if candidate.exists():
            text = candidate.read_text(encoding="utf-8")
            break
    else:
        return {}
    sections: dict[str, str] = {}
    for block in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        heading = block.splitlines()[0]
        for name in re.findall(r"(?:gold|silver)\.\w+", heading):
            sections[name] = "## " + block
    return sections


def headline_value(reader: GoldReader, page: Page, filters: Filters) -> str:
    """The page's headline as the page shows it."""
    headline = page.headline
    table = f"{reader.database}.{headline.table}"
    value = reader.query(headline.sql(filters, reader.columns(table), reader.database)).iloc[0, 0]
    return "no rows" if value is None or pd.isna(value) else headline.fmt.format(float(value))


def create_app(reader: GoldReader) -> Any:
    """The Dash app (its Flask server is ``app.server``)."""
    import dash
    from dash import Input, Output, dcc, html

    db = reader.database
    docs = definitions()
    app = dash.Dash(__name__, title="voicelake", suppress_callback_exceptions=True)
    nav = html.Nav([dcc.Link(p.title, href=p.path, id=f"nav-{p.path.strip('/') or 'health'}",
                             style={"marginRight": "14px"}) for p in PAGES])

    def options(column: str) -> list[dict[str, str]]:
        try:
            values = reader.query(f"SELECT DISTINCT {column} FROM {db}.service_daily ORDER BY {column}")[column]
        except Exception:  # noqa: BLE001 - no table yet: the filter offers "All" only
            values = []
        return [{"label": f"All {column}s", "value": ALL}] + [{"label": str(v), "value": str(v)} for v in values]

    app.layout = html.Div([
        dcc.Location(id="url"),
        html.H1("voicelake: voice of the customer"),
        nav,
        html.Div([
            dcc.Dropdown(id="product", options=options("product"), value=ALL, clearable=False,
                         style={"width": "220px", "display": "inline-block", "marginRight": "8px"}),
            dcc.Dropdown(id="channel", options=options("channel"), value=ALL, clearable=False,
                         style={"width": "180px", "display": "inline-block", "marginRight": "8px"}),
            dcc.DatePickerRange(id="dates", display_format="YYYY-MM-DD"),
        ], style={"margin": "12px 0"}),
        html.Div(id="page"),
    ], style={"fontFamily": "sans-serif", "margin": "16px"})

    @app.callback(Output("page", "children"), Input("url", "pathname"), Input("product", "value"),
                  Input("channel", "value"), Input("dates", "start_date"), Input("dates", "end_date"))
    def render(path: str | None, product: str, channel: str, start: str | None, end: str | None) -> Any:
        if path and path.startswith("/definitions/"):
            name = path.removeprefix("/definitions/")
            return dcc.Markdown(docs.get(name, f"No definition of {name} in docs/marts.md."), id="definition")
        page = next((p for p in PAGES if p.path == (path or "/")), None)
        if page is None:
            return html.P(f"No page {path}: choose one above.")
        filters = Filters(product or ALL, channel or ALL, date.fromisoformat(start[:10]) if start else None,
                          date.fromisoformat(end[:10]) if end else None)
        header = [html.H2(page.title, id="page-title"),
                  html.P([page.what, " Source: ", html.Code(f"{db}.{page.table}"), " (gold.", page.table, "); ",
                          dcc.Link("definition and formula", href=f"/definitions/gold.{page.table}"), "."],
                         className="source")]
        if not {page.table, page.headline.table} <= reader.tables():
            missing = page.table if page.table not in reader.tables() else page.headline.table
            return header + [_no_data(missing, page.built_by)]
        kpi = html.Div([html.Span(page.headline.label + ": "),
                        html.Strong(headline_value(reader, page, filters), id="kpi")],
                       style={"fontSize": "20px", "margin": "8px 0"})
        try:
            body = page.charts(reader, filters, db)
        except Exception as exc:  # noqa: BLE001 - one broken chart says why; the page stays up
            body = [html.P(f"This page could not be drawn: {exc}", className="error")]
        return header + [kpi, *body]

    return app


def warm_up(reader: GoldReader) -> float:
    """Run every page's queries once without filters (the endpoint's first queries load each
    table's Delta log and compile its plans: seconds each); returns the seconds it took."""
    started = time.monotonic()
    tables = reader.tables()
    for page in PAGES:
        if {page.table, page.headline.table} <= tables:
            try:
                headline_value(reader, page, Filters())
                page.charts(reader, Filters(), reader.database)
            except Exception:  # noqa: BLE001 - the page itself will say what is wrong
                continue
    return time.monotonic() - started


def make_server(reader: GoldReader, host: str = "127.0.0.1", port: int = 8050) -> Any:
    """A threaded WSGI server of the dashboard (``serve_forever()``, ``shutdown()``): a few
    leaders' browsers, not a crowd; behind a company's proxy run ``app.server`` under gunicorn."""
    import logging

    from werkzeug.serving import make_server as wsgi_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    return wsgi_server(host, port, create_app(reader).server, threaded=True)
