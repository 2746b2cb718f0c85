"""The ``voicelake`` command line.

Each pipeline step is a job module with ``main(argv)``; the CLI dispatches to it, so
``voicelake ingest`` and ``spark-submit jobs/ingest.py`` run the same code. ``voicelake
run`` chains the steps in one Spark session for a quick local demo.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import io
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from voicelake.config import load_config
from voicelake.errors import DEBUG_FLAG, debug_requested, report_error

JOB_COMMANDS: dict[str, tuple[str, str]] = {
    "ingest": ("voicelake.jobs.ingest", "ingest new landing files / Delta versions into bronze"),
    "build-silver": ("voicelake.jobs.build_silver", "build silver.messages and silver.conversations"),
    "build-gold": ("voicelake.jobs.build_gold", "build the gold marts, validate them, publish them only if valid"),
    "validate": ("voicelake.jobs.validate", "validate bronze/silver/gold with Great Expectations; write Data Docs"),
    "report": ("voicelake.jobs.report", "report what a run produced for its dates (rows, validation, quarantine)"),
    "import-labels": ("voicelake.jobs.import_labels", "import human emotion labels into silver.label_feedback"),
    "train": ("voicelake.jobs.train_model", "train the emotion model, log to MLflow, register @challenger"),
    "export-onnx": ("voicelake.jobs.export_onnx", "export the emotion champion to ONNX int8, judge it against the "
                                                  "champion, register it as @challenger"),
    "score": ("voicelake.jobs.score", "score silver.messages with the champion into silver.message_emotions"),
    "topics": ("voicelake.jobs.topics", "embed conversation openings; give every customer message its topic"),
    "rescore": ("voicelake.jobs.score:main_rescore", "re-score history (--since D) with the current champion"),
    "forget": ("voicelake.jobs.forget", "erase one customer's records from every layer (right to erasure)"),
    "train-sla-risk": ("voicelake.jobs.sla_risk", "train the SLA-breach model on the lake's history, register it, "
                                                  "promote it if better"),
    "train-churn": ("voicelake.jobs.churn", "train the churn model on the lake's history, register it, promote it "
                                            "if better"),
    "insights": ("voicelake.jobs.insights", "one-screen voice-of-customer summary of a week: index, gaps, agents"),
}
TABLE_MAX_ROWS = 1000  # `voicelake sql --format table` prints at most this many rows by default
LOCAL_COMMANDS: dict[str, str] = {
    "generate": "write a seeded synthetic support history into the landing zone",
    "sql": "run a Spark SQL query against the lake and print the result",
    "tables": "list every table with its row count and Delta version",
    "promote": "move @champion to @challenger if it is better on the same evaluation set",
    "models": "list registered model versions with aliases and key metrics",
    "train-suggestions": "train the suggestion detector, log to MLflow, register it, promote it if better",
    "run": "generate a sample history and run the daily Airflow DAG over it (embedded Airflow, "
           "local Spark); bootstrap a model first when there is no champion",
    "run-dag": "run voicelake_daily or voicelake_retrain once in-process with the embedded Airflow",
    "serve-sql": "start the SQL endpoint (Spark's Thrift JDBC/ODBC server) over the lake's tables",
    "stop-sql": "stop the SQL endpoint (and the local metastore's network server)",
    "dashboard": "serve the support leader's dashboard over the gold tables (starts the SQL endpoint if needed)",
}


# -- output --------------------------------------------------------------------------------

def format_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> str:
    """Render rows as an aligned text table, CSV or JSON Lines."""
    if fmt == "json":
        return "\n".join(json.dumps(dict(zip(columns, r, strict=True)), default=str) for r in rows)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(["" if v is None else v for v in r] for r in rows)
        return buf.getvalue().rstrip("\n")

    def cell(v: Any) -> str:
        if v is None:
            return "NULL"
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    text = [[cell(v) for v in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in text]) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in text]
    return "\n".join(out)


# -- commands ------------------------------------------------------------------------------

def _generate_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="voicelake generate", description=LOCAL_COMMANDS["generate"])
    p.add_argument("--env", default=None, help="configuration overlay (default: $VOICELAKE_ENV or local)")
    p.add_argument("--days", type=int, default=28, help="days of history (default 28)")
    p.add_argument("--customers", type=int, default=1000, help="customers (default 1000)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument("--start", type=date.fromisoformat, default=None,
                   help="first day (YYYY-MM-DD; default generator.start_date from config)")
    p.add_argument("--malformed-rate", type=float, default=0.002,
                   help="share of records written malformed, to exercise quarantine (default 0.002)")
    p.add_argument("--late-rate", type=float, default=0.0,
                   help="share of records landing a day late, in <D+1>.late-from-<D> files (default 0)")
    p.add_argument("--update-rate", type=float, default=0.0,
                   help="share of solved tickets exported open first and re-exported solved a day later")
    p.add_argument("--landing", default=None, help="landing zone folder (default lake.landing)")
    p.add_argument("--answers", default=None,
                   help="ground-truth answer file (default <home>/generator/answers.json)")
    p.add_argument("--delta-source", action="append", default=[], metavar="SOURCE",
                   help="write this source as a Delta table with the change data feed on (<home>/sources/SOURCE, "
                        "one version per day and late file) instead of landing files, as a sync tool would")
    return p


def cmd_generate(argv: Sequence[str]) -> int:
    from voicelake.generator import GeneratorSettings, generate_history

    args = _generate_parser().parse_args(argv)
    if args.days < 1 or args.customers < 1:
        raise ValueError("--days and --customers must be at least 1")
    config = load_config(args.env)
    landing = args.landing or config.lake.landing
    if "://" in landing:
        raise ValueError("the generator writes to a local folder; copy its output to object storage")
    settings = GeneratorSettings(
        days=args.days, customers=args.customers, seed=args.seed,
        start=args.start or date.fromisoformat(config.generator_start_date),
        landing=Path(landing),
        answers=Path(args.answers or f"{config.home}/generator/answers.json"),
        malformed_rate=args.malformed_rate, max_text_chars=config.max_text_chars,
        late_rate=args.late_rate, update_rate=args.update_rate)
    summary = generate_history(settings)
    print(f"generated {summary['messages']} messages, {sum(summary['records'].values())} records "
          f"over {summary['days']} days ({summary['start']} .. {summary['end']}) "
          f"in {summary['seconds']}s")
    print(format_rows(["source", "records", "malformed"],
                      [(s, n, sum(summary["malformed"].get(s, {}).values()))
                       for s, n in sorted(summary["records"].items())], "table"))
    print(f"landing zone: {summary['landing']}\nanswer file:  {summary['answers_file']}")
    bias = summary["scenarios"]["survey_nonresponse"]
    print(f"ground truth: {Path(summary['answers_file']).parent / 'truth'} (true NPS of active customers "
          f"{bias['true_nps']}, survey respondents {bias['respondents_nps']}; see docs/generator.md)")
    if args.delta_source:
        from voicelake.generator.delta_source import write_delta_source
        from voicelake.spark import get_spark

        spark = get_spark(config)
        for source in args.delta_source:
            target = f"{config.home}/sources/{source}"
            rows, skipped = write_delta_source(spark, Path(landing), source, target)
            print(f"delta source: {source} -> {target} ({rows} rows; {skipped} malformed lines left out). "
                  f"Map it in conf/sources.yaml: sources: {{{source}: {{format: delta, path: {target}}}}}")
    return 0


def cmd_sql(argv: Sequence[str]) -> int:
    from voicelake.runtime import open_lake

    p = argparse.ArgumentParser(prog="voicelake sql", description=LOCAL_COMMANDS["sql"])
    p.add_argument("query", help='e.g. "select * from gold.service_daily limit 5"')
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--max-rows", type=int, default=None,
                   help=f"print at most this many rows (default: {TABLE_MAX_ROWS} for table, all for csv/json)")
    p.add_argument("--env", default=None)
    args = p.parse_args(argv)
    limit = args.max_rows if args.max_rows is not None else (TABLE_MAX_ROWS if args.format == "table" else None)
    with open_lake(args.env) as ctx:
        df = ctx.spark.sql(args.query)
        rows = [tuple(r) for r in (df if limit is None else df.limit(limit + 1)).collect()]
    shown = rows if limit is None else rows[:limit]
    print(format_rows(df.columns, shown, args.format))
    if limit is not None and len(rows) > limit:
        print(f"({limit} rows shown; output limited by --max-rows {limit}: more rows exist, "
              f"raise --max-rows to see them)", file=sys.stderr)
    elif args.format == "table":
        print(f"({len(rows)} rows)", file=sys.stderr)
    return 0


def print_tables(ctx: Any) -> None:
    infos = ctx.lake.tables()
    print(format_rows(["table", "rows", "version", "location"],
                      [(t.name, t.rows, t.version, t.location) for t in infos], "table"))


def print_insights(ctx: Any) -> None:
    """The week's voice-of-customer summary (`voicelake insights`)."""
    from voicelake.jobs.insights import insights

    print("\n" + "\n".join(insights(ctx)))


def print_next_steps(config: Any) -> None:
    """Where a run's reports are and how to look at its tables (`voicelake run`'s last lines)."""
    print(f"\nData Docs (validation reports): {config.validation.data_docs_dir}/index.html")
    print('try: voicelake sql "select * from gold.service_daily order by date desc limit 5"')
    print(f"BI tools: `voicelake serve-sql` serves these tables over JDBC at "
          f"jdbc:hive2://localhost:{config.sql_endpoint.port}/{config.sql_endpoint.database} "
          "(README: Connect your BI tool)")
    print("dashboard: `voicelake dashboard`, then open http://localhost:8050/")


def cmd_tables(argv: Sequence[str]) -> int:
    from voicelake.runtime import open_lake

    p = argparse.ArgumentParser(prog="voicelake tables", description=LOCAL_COMMANDS["tables"])
    p.add_argument("--env", default=None)
    args = p.parse_args(argv)
    with open_lake(args.env) as ctx:
        print_tables(ctx)
    return 0


def cmd_run(argv: Sequence[str]) -> int:
    """Generate a sample history, then run the daily DAG over it with the embedded Airflow
    (after the retraining DAG bootstraps a model when there is no champion)."""
    p = _generate_parser()
    p.prog, p.description = "voicelake run", LOCAL_COMMANDS["run"]
    p.add_argument("--in-process", action="store_true",
                   help="run the steps in this process with one Spark session instead of Airflow")
    args = p.parse_args(argv)
    gen_argv = [a for a in argv if a != "--in-process"]
    step = _stepper()
    with step("generate"):
        cmd_generate(gen_argv)
    if args.in_process:
        return _run_in_process(args.env)
    config = load_config(args.env)
    start = args.start or date.fromisoformat(config.generator_start_date)
    end = start + timedelta(days=args.days - 1)
    with step("airflow: metadata DB"):
        from voicelake.orchestration import prepare_airflow

        prepare_airflow(config.home)
        print(f"AIRFLOW_HOME={config.home}/airflow")
    from voicelake.models.registry import configure_mlflow, version_by_alias

    configure_mlflow(config)
    champion = version_by_alias(config, config.mlflow.champion_alias)
    detector = version_by_alias(config, config.mlflow.champion_alias, config.suggestions.model_name)
    if champion is None or detector is None:
        with step("dag voicelake_retrain (bootstrap: no champion yet)"):
            _run_dag("voicelake_retrain", {"bootstrap": True}, None)
    else:
        print(f"\nchampions: {config.mlflow.model_name} v{champion.version}, "
              f"{config.suggestions.model_name} v{detector.version}")
    with step(f"dag voicelake_daily ({start} .. {end})"):
        _run_dag("voicelake_daily", {"since": start.isoformat(), "until": end.isoformat()}, end)
    from voicelake.runtime import open_lake

    with step("tables"), open_lake(args.env) as ctx:
        print_tables(ctx)
        print_insights(ctx)
    print_next_steps(config)
    return 0


def _run_dag(dag_id: str, conf: dict[str, Any], day: date | None, mark_success: str | None = None) -> None:
    """Run a DAG once in-process (dag.test) and print its task states; raise if it failed."""
    from datetime import UTC, datetime

    from voicelake.orchestration import run_dag, task_states

    # the run that fires when day D has ended (D+1 00:00 UTC): its data interval is exactly D
    logical = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1) if day else datetime.now(UTC)
    dag_run = run_dag(dag_id, logical, conf, mark_success)
    states = task_states(dag_run)
    print(format_rows(["task", "state", "seconds"],
                      [(t, s, None if d is None else round(d, 1)) for t, s, d in states], "table"))
    print(f"{dag_id}: {dag_run.state}")
    if str(dag_run.state) != "success":
        failed = [t for t, s, _ in states if s in ("failed", "upstream_failed")]
        log_dir = os.environ.get("AIRFLOW__LOGGING__BASE_LOG_FOLDER", "")
        raise RuntimeError(f"DAG {dag_id} ended {dag_run.state} (tasks {failed}); logs under {log_dir}")


def cmd_run_dag(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="voicelake run-dag", description=LOCAL_COMMANDS["run-dag"])
    p.add_argument("dag_id", choices=["voicelake_daily", "voicelake_retrain"])
    p.add_argument("--date", type=date.fromisoformat, help="the run's day (default: today)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="DAG param (JSON value), e.g. --param since=\"2026-01-01\" --param bootstrap=true")
    p.add_argument("--mark-success", metavar="REGEX", default=None,
                   help="mark the tasks whose id matches REGEX successful without running them, e.g. to rerun "
                        "the tail of a day whose earlier steps already succeeded: --mark-success "
                        "'^(ingest|validate_bronze|build_silver|score)$'")
    p.add_argument("--env", default=None)
    args = p.parse_args(argv)
    conf = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--param takes KEY=VALUE, not {item!r}")
        try:
            conf[key] = json.loads(value)
        except json.JSONDecodeError:
            conf[key] = value
    from voicelake.orchestration import prepare_airflow

    prepare_airflow(load_config(args.env).home)
    _run_dag(args.dag_id, conf, args.date, args.mark_success)
    return 0


def _run_in_process(env: str | None) -> int:
    """The whole local pipeline in one Spark session (no Airflow)."""
    from voicelake.jobs.build_gold import build_gold
    from voicelake.jobs.build_silver import build_silver
    from voicelake.jobs.ideas import build_suggestion_ideas, ideas_summary
    from voicelake.jobs.ingest import format_results, ingest
    from voicelake.jobs.score import score_messages, score_suggestions
    from voicelake.jobs.topics import build_topics
    from voicelake.runtime import open_lake

    step = _stepper()
    with open_lake(env) as ctx:
        with step("ingest"):
            print(format_results(ingest(ctx)))
        with step("validate bronze"):
            _validated(ctx, "bronze")
        with step("build-silver"):
            s = build_silver(ctx)
            print(f"silver: {s.messages} messages, {s.conversations} conversations, {len(s.dates)} days")
        with step("models"):
            ensure_champion(ctx)
            ensure_suggestion_champion(ctx.config)
        with step("score"):
            r = score_messages(ctx)
            print(f"silver.message_emotions: scored {r.scored} messages with {r.model} v{r.version} "
                  f"({r.skipped} already scored)")
            found = score_suggestions(ctx)
            print("silver.message_suggestions: " + ("skipped, no detector champion" if found is None else
                                                    f"read {found.scored} customer messages with v{found.version}"))
        with step("topics"):
            t = build_topics(ctx)
            print(f"silver.message_topics: {t.assigned} messages assigned by v{t.version}"
                  + (f" ({t.refit})" if t.refit else ""))
            print(ideas_summary(build_suggestion_ideas(ctx)))
        with step("validate silver"):
            _validated(ctx, "silver")
        with step("risk models (SLA, churn)"):
            ensure_risk_champions(ctx)
        with step("build-gold (stage, validate, publish)"):
            for table, rows in build_gold(ctx).items():
                print(f"{table}: published {rows} rows")
        with step("tables"):
            print_tables(ctx)
            print_insights(ctx)
    print_next_steps(ctx.config)
    return 0


def _validated(ctx: Any, layer: str) -> None:
    """Validate one layer of every date; stop the run when a critical check failed."""
    from voicelake.jobs.validate import ValidationFailed, validate

    report = validate(ctx, [layer], None)
    if not report.success:
        raise ValidationFailed(report)
    print(report.summary())


def ensure_champion(ctx: Any) -> None:
    """Train and promote a bootstrap model when the registry has no champion yet."""
    from voicelake.jobs.train_model import BOOTSTRAP_SETTINGS, train
    from voicelake.models.registry import configure_mlflow, promote, version_by_alias

    configure_mlflow(ctx.config)
    champion = version_by_alias(ctx.config, ctx.config.mlflow.champion_alias)
    if champion is not None:
        print(f"champion: {ctx.config.mlflow.model_name} v{champion.version}")
        return
    print("no champion yet: training a bootstrap model (voicelake train for the full one)")
    train(ctx, **BOOTSTRAP_SETTINGS)
    decision = promote(ctx.config)
    print(decision.reason)
    if not decision.promoted:
        raise RuntimeError("the bootstrap model did not beat its baseline; train a full model with "
                           "`voicelake train` and promote it with `voicelake promote`")


def ensure_suggestion_champion(config: Any) -> None:
    """Train the suggestion detector when it has no champion yet (it becomes champion only
    when it beats the TF-IDF baseline; scoring skips suggestions until one does)."""
    from voicelake.models.registry import configure_mlflow, version_by_alias

    configure_mlflow(config)
    detector = version_by_alias(config, config.mlflow.champion_alias, config.suggestions.model_name)
    if detector is not None:
        print(f"champion: {config.suggestions.model_name} v{detector.version}")
        return
    print(f"no {config.suggestions.model_name} champion yet: training one")
    outcome = train_suggestion_detector(config=config)
    print(outcome["reason"])


def ensure_risk_champions(ctx: Any) -> None:
    """Train the SLA-breach and churn models on the lake's history when they have no champion
    yet (what the daily DAG's sla_model and churn_model tasks do); too little history leaves
    gold.sla_risk or gold.customer_health unbuilt."""
    from voicelake.jobs import churn, sla_risk

    print(sla_risk.train_when_possible(ctx, only_if_missing=True))
    print(churn.train_when_possible(ctx, only_if_missing=True))


def _stepper() -> Callable[[str], Any]:
    from contextlib import contextmanager

    @contextmanager
    def step(name: str):  # type: ignore[no-untyped-def]
        print(f"\n== {name}")
        t0 = time.perf_counter()
        yield
        print(f"-- {name}: {time.perf_counter() - t0:.1f}s")

    return step


def promote_challenger(env: str | None = None) -> dict[str, Any]:
    """Promote @challenger over @champion when it is better; the decision as a dict."""
    from voicelake.models.registry import configure_mlflow, promote

    config = load_config(env)
    configure_mlflow(config)
    decision = promote(config)
    print(f"{config.mlflow.model_name} v{decision.challenger}: {decision.reason}")
    return {"promoted": bool(decision.promoted), "challenger": str(decision.challenger),
            "reason": decision.reason}


def cmd_promote(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="voicelake promote", description=LOCAL_COMMANDS["promote"])
    p.add_argument("--env", default=None)
    args = p.parse_args(argv)
    promote_challenger(args.env)
    return 0


def train_suggestion_detector(env: str | None = None, config: Any = None) -> dict[str, Any]:
    """Train, register and (when better) promote the suggestion detector; the outcome as a dict."""
    from voicelake.models.suggestion_registry import train_suggestions

    result = train_suggestions(config or load_config(env))
    return {"version": result.version, "promoted": result.promoted, "reason": result.reason,
            "eval_f1": result.metrics["eval_f1"], "trained_on": ",".join(result.sources)}


def cmd_train_suggestions(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="voicelake train-suggestions", description=LOCAL_COMMANDS["train-suggestions"])
    p.add_argument("--env", default=None)
    args = p.parse_args(argv)
    train_suggestion_detector(args.env)
    return 0


def cmd_models(argv: Sequence[str]) -> int:
    from voicelake.models.churn import churn_params, list_churn_versions
    from voicelake.models.registry import configure_mlflow, list_versions
    from voicelake.models.sla_risk import list_sla_versions, sla_params
    from voicelake.models.suggestion_registry import list_suggestion_versions

    p = argparse.ArgumentParser(prog="voicelake models", description=LOCAL_COMMANDS["models"])
    p.add_argument("--env", default=None)
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    args = p.parse_args(argv)
    config = load_config(args.env)
    configure_mlflow(config)
    rows = list_versions(config)
    if not rows:
        print(f"no versions of {config.mlflow.model_name} yet: run `voicelake train`")
    else:
        print(format_rows(list(rows[0]), [tuple(r.values()) for r in rows], args.format))
    suggestions = list_suggestion_versions(config)
    if args.format == "table":
        print(f"\n{config.suggestions.model_name}:" if suggestions else
              f"\nno versions of {config.suggestions.model_name} yet: run `voicelake train-suggestions`")
    if suggestions:
        print(format_rows(list(suggestions[0]), [tuple(r.values()) for r in suggestions], args.format))
    for name, rows, command in ((sla_params(config).model_name, list_sla_versions(config), "train-sla-risk"),
                                (churn_params(config).model_name, list_churn_versions(config), "train-churn")):
        if args.format == "table":
            print(f"\n{name}:" if rows else f"\nno versions of {name} yet: run `voicelake {command}`")
        if rows:
            print(format_rows(list(rows[0]), [tuple(r.values()) for r in rows], args.format))
    return 0


def cmd_serve_sql(argv: Sequence[str]) -> int:
    from voicelake import sql_endpoint

    p = argparse.ArgumentParser(prog="voicelake serve-sql", description=LOCAL_COMMANDS["serve-sql"])
    p.add_argument("--env", default=None)
    p.add_argument("--host", default=None, help="bind address (default sql_endpoint.host: 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="JDBC port (default sql_endpoint.port: 10000)")
    p.add_argument("--allow-unauthenticated", action="store_true",
                   help="serve a non-loopback address without authentication (only on a network closed to others)")
    args = p.parse_args(argv)
    config = load_config(args.env)
    endpoint = sql_endpoint.serve(config, args.host, args.port, args.allow_unauthenticated)
    print(f"SQL endpoint running (pid {endpoint.pid}, log {endpoint.log})")
    print(f"JDBC URL: {endpoint.jdbc_url}")
    print(f"tables with columns: {endpoint.database}.<gold table>; stop it with `voicelake stop-sql`")
    return 0


def cmd_stop_sql(argv: Sequence[str]) -> int:
    from voicelake import sql_endpoint

    p = argparse.ArgumentParser(prog="voicelake stop-sql", description=LOCAL_COMMANDS["stop-sql"])
    p.add_argument("--env", default=None)
    args = p.parse_args(argv)
    stopped = sql_endpoint.stop(load_config(args.env))
    print("SQL endpoint stopped" if stopped else "no SQL endpoint was running")
    return 0


def cmd_dashboard(argv: Sequence[str]) -> int:
    from voicelake import dashboard, sql_endpoint

    p = argparse.ArgumentParser(prog="voicelake dashboard", description=LOCAL_COMMANDS["dashboard"])
    p.add_argument("--env", default=None)
    p.add_argument("--host", default="127.0.0.1", help="bind address of the web page (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8050, help="web port (default 8050)")
    args = p.parse_args(argv)
    config = load_config(args.env)
    endpoint = sql_endpoint.serve(config)
    print(f"reading through the SQL endpoint {endpoint.jdbc_url}")
    reader = dashboard.GoldReader("127.0.0.1" if endpoint.host in sql_endpoint.LOOPBACK_HOSTS else endpoint.host,
                                  endpoint.port, endpoint.database)
    print(f"warmed up the endpoint in {dashboard.warm_up(reader):.1f}s (every page's queries once)")
    server = dashboard.make_server(reader, args.host, args.port)
    print(f"dashboard: http://{'localhost' if args.host == '127.0.0.1' else args.host}:{args.port}/  (Ctrl-C stops it; "
          "`voicelake stop-sql` stops the endpoint)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


LOCAL_HANDLERS: dict[str, Callable[[Sequence[str]], int]] = {
    "generate": cmd_generate, "sql": cmd_sql, "tables": cmd_tables, "run": cmd_run, "run-dag": cmd_run_dag,
    "promote": cmd_promote, "models": cmd_models, "train-suggestions": cmd_train_suggestions,
    "serve-sql": cmd_serve_sql, "stop-sql": cmd_stop_sql, "dashboard": cmd_dashboard,
}


def _usage() -> str:
    lines = ["usage: voicelake <command> [options]   (voicelake <command> --help for details)", "",
             "commands:"]
    for name, (_, text) in JOB_COMMANDS.items():
        lines.append(f"  {name:<14} {text}")
    for name, text in LOCAL_COMMANDS.items():
        lines.append(f"  {name:<14} {text}")
    lines.append("\nenvironment: VOICELAKE_ENV (overlay name in conf/ or path of your own overlay file; "
                 "default local), VOICELAKE_HOME (local home), VOICELAKE_DEBUG=1 (tracebacks; or --debug)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``voicelake`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    command, rest = argv[0], argv[1:]
    if command in JOB_COMMANDS:
        module_name, _, function = JOB_COMMANDS[command][0].partition(":")
        module = importlib.import_module(module_name)
        return int(getattr(module, function or "main")(rest))
    if command not in LOCAL_HANDLERS:
        print(f"voicelake: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    debug = debug_requested(rest)
    try:
        return LOCAL_HANDLERS[command]([a for a in rest if a != DEBUG_FLAG])
    except Exception as exc:  # noqa: BLE001 - every failure is reported as one line, none is swallowed
        return report_error(exc, debug)


if __name__ == "__main__":
    raise SystemExit(main())
