"""The roadmap-evidence mart build_gold stages once silver.suggestion_ideas exists
(docs/marts.md#goldproduct_feedback).

    gold.product_feedback   product partitions   product x idea, as of the run's last day

The mart is rebuilt whole by every build (ideas are refitted over the whole history by
`voicelake topics`, so one fit's ids describe all of it), as of the run's last date (a full
rebuild: the lake's last day of messages).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from voicelake.config import Config
from voicelake.jobs.transforms.product_feedback import FeedbackParams, build_product_feedback, product_requests
from voicelake.lake import scalar
from voicelake.runtime import JobContext
from voicelake.schemas import (
    GOLD_CUSTOMER_HEALTH,
    GOLD_PRODUCT_FEEDBACK,
    SILVER_MESSAGE_EMOTIONS,
    SILVER_MESSAGE_SUGGESTIONS,
    SILVER_MESSAGES,
    SILVER_SUGGESTION_IDEAS,
)

FEEDBACK_MARTS = (GOLD_PRODUCT_FEEDBACK,)
FEEDBACK_PARTITIONS = {GOLD_PRODUCT_FEEDBACK: "product"}  # rebuilt whole: no partition is kept


def feedback_params(config: Config) -> FeedbackParams:
    return FeedbackParams.from_config(config.suggestions.feedback)


def feedback_as_of(ctx: JobContext, dates: Sequence[date] | None) -> date | None:
    """The day the mart describes the ideas as of: the run's last date, or the lake's last
    day of messages when that is earlier or the run rebuilds everything."""
    last = scalar(ctx.lake.read(SILVER_MESSAGES).agg(F.max("sent_date")))
    if last is None:
        return None
    return last if dates is None else min(max(dates), last)


def build_feedback_marts(ctx: JobContext, dates: Sequence[date] | None,
                         cached: list[DataFrame] | None = None) -> dict[str, DataFrame]:
    """gold.product_feedback; nothing before suggestions are grouped into ideas. The frame the
    mart reads several times is cached and appended to ``cached``."""
    cached = [] if cached is None else cached
    needed = (SILVER_SUGGESTION_IDEAS, SILVER_MESSAGE_SUGGESTIONS, SILVER_MESSAGE_EMOTIONS)
    if not all(ctx.lake.exists(t) for t in needed):
        return {}
    as_of = feedback_as_of(ctx, dates)
    if as_of is None:
        return {}
    messages = ctx.lake.read(SILVER_MESSAGES)
    requests = product_requests(ctx.lake.read(SILVER_SUGGESTION_IDEAS), ctx.lake.read(SILVER_MESSAGE_SUGGESTIONS),
                                messages, as_of).cache()
    cached.append(requests)
    health = (ctx.lake.read(GOLD_CUSTOMER_HEALTH).where(F.col("week") <= F.lit(as_of))
              if ctx.lake.exists(GOLD_CUSTOMER_HEALTH) else None)
    return {GOLD_PRODUCT_FEEDBACK: build_product_feedback(requests, messages, ctx.lake.read(SILVER_MESSAGE_EMOTIONS),
                                                          as_of, feedback_params(ctx.config), health)}
