"""What the risk models' training jobs share (jobs/sla_risk.py, jobs/churn.py): the daily DAG's
first model (train only while there is no champion), the retraining DAG's bootstrap run (too
little scored history is no error: it says so and the mart waits for a model), and their
command line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame

from voicelake.config import Config
from voicelake.models.risk_models import RiskTraining, champion_version
from voicelake.runtime import JobContext, job_parser, open_lake, run_job
from voicelake.schemas import SILVER_CONVERSATIONS, SILVER_MESSAGE_EMOTIONS, SILVER_MESSAGES


def scored_silver(ctx: JobContext) -> tuple[DataFrame, DataFrame, DataFrame]:
    """The silver tables both risk models' features read: conversations, messages, their emotions."""
    return (ctx.lake.read(SILVER_CONVERSATIONS), ctx.lake.read(SILVER_MESSAGES),
            ctx.lake.read(SILVER_MESSAGE_EMOTIONS))


@dataclass(frozen=True)
class RiskTrainingJob:
    prog: str                                  # "voicelake train-churn"
    description: str
    what: str                                  # "churn": in "no churn model trained"
    model_name: Callable[[Config], str]
    train: Callable[[JobContext], RiskTraining]
    too_little: type[Exception]                # raised by ``train`` when the history cannot carry a model

    def when_possible(self, ctx: JobContext, only_if_missing: bool) -> str:
        """Train (only when there is no champion yet, with ``only_if_missing``); too little
        history is no error here."""
        name = self.model_name(ctx.config)
        if only_if_missing:
            champion = champion_version(ctx.config, name)
            if champion is not None:
                return f"champion: {name} v{champion.version}; nothing to train"
        try:
            result = self.train(ctx)
        except self.too_little as exc:
            return f"no {self.what} model trained: {exc}"
        return f"{result.reason} (run {result.run_id})"

    def _main(self, argv: Sequence[str] | None) -> int:
        parser = job_parser(self.prog, self.description)
        parser.add_argument("--if-missing", action="store_true",
                            help="train only when there is no champion yet (the daily DAG's first model)")
        parser.add_argument("--if-history", action="store_true",
                            help="too little scored history is no error: say so and exit 0 (the retraining "
                                 "DAG's bootstrap run)")
        args = parser.parse_args(argv)
        with open_lake(args.env) as ctx:
            if args.if_missing or args.if_history:
                print(self.when_possible(ctx, args.if_missing))
            else:
                result = self.train(ctx)
                print(f"{result.reason} (run {result.run_id})")
        return 0

    def main(self, argv: Sequence[str] | None = None) -> int:
        """Entry point for the CLI and spark-submit."""
        return run_job(self._main, argv)
