"""The voice-of-customer marts build_gold stages beside the daily ones (docs/marts.md).

    gold.conversation_outcomes   week partitions   one row per conversation
    gold.agent_scorecard         week partitions   week x agent
    gold.service_gaps            week partitions   week x queue x channel x product x hour band
    gold.emotion_index           week partitions   week x product x channel (+ channel 'all')
    gold.passive_drivers         month partitions  month x product x kind x item

A dated run rebuilds the weeks its dates fall in plus the week before (a new contact can
still undo an earlier conversation's trust outcome within ``voc.outcomes.repeat_window_days``)
and the months of its dates; each mart reads silver from the start of its first week (minus
the index's trailing window) to the end of its last. The NPS calibration model is fitted on
the survey respondents among those weeks' active customers, logged and registered in MLflow
(`voicelake.models.calibration_registry`), and its version is on every emotion-index row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from voicelake.config import Config
from voicelake.jobs.transforms.emotion_index import (
    CONTACTS,
    build_emotion_index,
    customer_windows,
    feature_names,
)
from voicelake.jobs.transforms.voc import (
    OutcomeParams,
    PassiveParams,
    build_agent_scorecard,
    build_conversation_outcomes,
    build_passive_drivers,
    build_service_gaps,
    empathy_turns,
)
from voicelake.models.taxonomy import load_taxonomy
from voicelake.runtime import JobContext
from voicelake.schemas import (
    GOLD_AGENT_SCORECARD,
    GOLD_CONVERSATION_OUTCOMES,
    GOLD_EMOTION_INDEX,
    GOLD_PASSIVE_DRIVERS,
    GOLD_SERVICE_GAPS,
    SILVER_CONVERSATIONS,
    SILVER_MESSAGE_EMOTIONS,
    SILVER_MESSAGES,
)

# each mart's partition column: publishing replaces the partitions of the run
VOC_PARTITIONS = {
    GOLD_CONVERSATION_OUTCOMES: "week",
    GOLD_AGENT_SCORECARD: "week",
    GOLD_SERVICE_GAPS: "week",
    GOLD_EMOTION_INDEX: "week",
    GOLD_PASSIVE_DRIVERS: "month",
}
VOC_MARTS = tuple(VOC_PARTITIONS)


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def month_of(day: date) -> date:
    return day.replace(day=1)


def _next_month(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1)


@dataclass(frozen=True)
class VocScope:
    """What one build covers: weeks and months to replace (None: every one silver has)."""

    weeks: list[date] | None
    months: list[date] | None

    def partitions(self, table: str) -> list[date] | None:
        return self.months if VOC_PARTITIONS[table] == "month" else self.weeks


def repeat_window_days(config: Config) -> int:
    """``voc.outcomes.repeat_window_days``: how long a new contact can undo trust restored."""
    return int(config.voc.outcomes.get("repeat_window_days", OutcomeParams.repeat_window_days))


def voc_scope(dates: Sequence[date] | None, config: Config) -> VocScope:
    """The weeks (with the ones a repeat contact can still change) and months of ``dates``."""
    if dates is None:
        return VocScope(None, None)
    repeat = repeat_window_days(config)
    weeks = {week_of(d - timedelta(days=back)) for d in dates for back in range(0, repeat + 1, 7)}
    weeks |= {week_of(d - timedelta(days=repeat)) for d in dates}
    return VocScope(sorted(weeks), sorted({month_of(d) for d in dates}))


def _between(df: DataFrame, column: str, start: date | None, end: date | None) -> DataFrame:
    if start is not None:
        df = df.where(F.col(column) >= F.lit(start))
    if end is not None:
        df = df.where(F.col(column) < F.lit(end))
    return df


def _in(df: DataFrame, column: str, values: Sequence[date] | None) -> DataFrame:
    return df if values is None else df.where(F.col(column).isin(list(values)))


def _weeks_in(messages: DataFrame) -> list[date]:
    span = messages.select(F.min("sent_date"), F.max("sent_date")).first()
    if span is None or span[0] is None:
        return []
    first, last = week_of(span[0]), week_of(span[1])
    return [first + timedelta(days=7 * i) for i in range((last - first).days // 7 + 1)]


def week_windows(ctx: JobContext, weeks: Sequence[date], window_days: int) -> DataFrame:
    """(week, window_start, window_end): the week's end minus ``window_days`` to its end."""
    rows = [(w, datetime.combine(w + timedelta(days=7 - window_days), time()),
             datetime.combine(w + timedelta(days=7), time())) for w in weeks]
    return ctx.spark.createDataFrame(rows, "week date, window_start timestamp, window_end timestamp")


def survey_answers(conversations: DataFrame) -> DataFrame:
    """NPS answers in silver: (customer_key, answered_at, nps_score, product)."""
    return conversations.where((F.col("channel") == "survey") & F.col("nps_score").isNotNull()).select(
        "customer_key", F.col("opened_at").alias("answered_at"), F.col("nps_score").cast("int"), "product")


@dataclass
class VocInputs:
    """Silver restricted to what the scope's marts read."""

    messages: DataFrame
    emotions: DataFrame
    conversations: DataFrame
    weeks: list[date]
    months: list[date]


def voc_inputs(ctx: JobContext, scope: VocScope) -> VocInputs:
    messages = ctx.lake.read(SILVER_MESSAGES)
    conversations = ctx.lake.read(SILVER_CONVERSATIONS)
    emotions = ctx.lake.read(SILVER_MESSAGE_EMOTIONS)
    weeks = scope.weeks if scope.weeks is not None else _weeks_in(messages)
    months = scope.months if scope.months is not None else sorted({month_of(w) for w in weeks}
                                                                 | {month_of(w + timedelta(days=6)) for w in weeks})
    if scope.weeks is not None and weeks:
        window = ctx.config.voc.window_days
        repeat = repeat_window_days(ctx.config)
        start = min(min(weeks) - timedelta(days=max(0, window - 7)), min(months or weeks))
        end = max(max(weeks) + timedelta(days=7 + repeat), _next_month(max(months)) if months else max(weeks))
        messages = _between(messages, "sent_date", start, end)
        conversations = _between(conversations, "opened_date", start, end)
        emotions = _between(emotions, "sent_date", start, end)
    return VocInputs(messages, emotions, conversations, list(weeks), list(months))


def english_stopwords() -> tuple[str, ...]:
    """scikit-learn's and spaCy's English stop words (spaCy's adds verb forms such as "does")."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from voicelake.imports import hidden_modules

    with hidden_modules("torch", "transformers"):  # spaCy's import would load them; a word list needs neither
        from spacy.lang.en.stop_words import STOP_WORDS
    return tuple(sorted(set(ENGLISH_STOP_WORDS) | set(STOP_WORDS)))


def build_voc_marts(ctx: JobContext, scope: VocScope, as_of: datetime,
                    cached: list[DataFrame] | None = None) -> dict[str, DataFrame]:
    """Every voice-of-customer mart of the scope (not written; build_gold stages them).

    Intermediate frames several marts share are cached and appended to ``cached``: the
    caller unpersists them once the marts are written."""
    cached = [] if cached is None else cached
    from voicelake.models.calibration_registry import fit_and_register

    voc = ctx.config.voc
    inputs = voc_inputs(ctx, scope)
    if not inputs.weeks:
        return {}
    outcome_params = OutcomeParams(**voc.outcomes)
    # the cut-off is the latest data the build reads (a backfill of a day reads the rest of its week)
    last = inputs.messages.agg(F.max("sent_at")).first()
    if last is not None and last[0] is not None:
        as_of = min(max(as_of, last[0]), datetime.now(UTC).replace(tzinfo=None))
    outcomes = build_conversation_outcomes(inputs.messages, inputs.emotions, inputs.conversations,
                                           outcome_params, as_of=as_of)
    outcomes = _in(outcomes, "week", inputs.weeks).cache()
    cached.append(outcomes)
    # the scorecard ranks people: channels where replies come from a shared brand account are left out
    personal = F.col("channel").isin(*voc.scorecard_channels)
    empathy = empathy_turns(inputs.messages.where(personal), inputs.emotions, outcome_params)
    scorecard = _in(build_agent_scorecard(outcomes.where(personal), empathy, voc.min_opportunities),
                    "week", inputs.weeks)
    gaps = _in(build_service_gaps(inputs.conversations, outcomes, as_of, voc.min_conversations),
               "week", inputs.weeks)

    labels = load_taxonomy().labels
    customers = customer_windows(inputs.messages, inputs.emotions, survey_answers(inputs.conversations),
                                 week_windows(ctx, inputs.weeks, voc.window_days), labels,
                                 outcome_params.negative_valence).cache()
    cached.append(customers)
    calibration = fit_and_register(ctx.config, customers, list(feature_names(labels)), inputs.weeks, CONTACTS)
    index = build_emotion_index(customers, calibration.coefficients, replicates=voc.bootstrap_replicates,
                                min_customers=voc.min_customers,
                                prior_strength=voc.segment_prior_strength, missing_model=calibration.reason)
    index = index.withColumn("calibration_version", F.lit(calibration.version).cast("string"))

    passive_params = PassiveParams(**voc.passives)
    respondents = survey_answers(inputs.conversations).select(
        F.trunc("answered_at", "month").alias("month"), "product", "customer_key", "nps_score")
    customer_text = inputs.messages.where((F.col("author_role") == "customer") & F.col("customer_key").isNotNull())
    # themes come from the survey verbatims (why they gave that score), not from support chatter
    texts = customer_text.where(F.col("channel") == "survey").select(
        F.trunc("sent_at", "month").alias("month"), "customer_key", "text")
    labelled = customer_text.join(inputs.emotions.select("message_id", "label"), "message_id").where(
        F.col("label") != "neutral").select(F.trunc("sent_at", "month").alias("month"), "customer_key", "label")
    drivers = _in(build_passive_drivers(respondents, texts, labelled, english_stopwords(), passive_params),
                  "month", inputs.months)
    return {GOLD_CONVERSATION_OUTCOMES: outcomes, GOLD_AGENT_SCORECARD: scorecard, GOLD_SERVICE_GAPS: gaps,
            GOLD_EMOTION_INDEX: index, GOLD_PASSIVE_DRIVERS: drivers}
