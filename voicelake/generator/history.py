"""Seeded generator of a realistic multi-channel support history, written to a landing zone.

``generate_history(settings)`` writes one file per source and day
(``<landing>/<source>/<YYYY-MM-DD>.jsonl|.csv``) and an answer file with the planted
scenarios' ground truth: an incident that causes a complaint spike, a release that makes
one product version's customers unhappy, an emerging topic, a queue with slow first
responses, first responses that slow down when a queue's arrivals outgrow the agents on shift
(bursts, peak hours, weekends), agents who differ in empathy, and NPS passives with a common
complaint.
Optionally a small share of malformed records of every kind is planted, and counted in
the answer file, so ingestion's quarantine can be checked against known numbers. Late data on
request: ``late_rate`` moves records into a file that lands the next day
(``<D+1>.late-from-<D>.jsonl``), ``update_rate`` exports solved tickets first as open and
re-exports them solved in that late file (the same ticket id, a newer version).

Beside the answer file, ``<answers dir>/truth/`` holds the ground truth the
voice-of-customer marts are judged against, as JSON Lines (one file per table):
``customer_weeks.jsonl`` (latent loyalty and NPS class per customer and week),
``conversations.jsonl`` (topic, opening emotion, agent, queue, trust restored, the planted
product idea, with the conversation id as silver builds it), ``messages.jsonl`` (the emotion
each text was drawn from and the idea it asks for, with silver's message id) and
``population_nps.jsonl`` (true NPS of all active customers against the respondents' NPS, per
product and week) and ``churn.jsonl`` (every customer who cancelled: the week they decided, their
loyalty then, the day of their cancellation conversation).

Generation runs in two passes: a cheap sequential plan (``voicelake.generator.plan``: who
contacts support when, about what, feeling how, and how their loyalty moves), then each day
is rendered to text independently from the plan and ``(seed, day)``, spread over processes.
The same seed gives the same output.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import random
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from voicelake.generator import phrases as P
from voicelake.generator.plan import (
    CANCELLATION_TOPIC,
    CHANNEL_WEIGHTS,
    CONTACT_RATE,
    DARK_OUTAGE_HOURS,
    OUTAGE_LEAD_MINUTES,
    SUPPORT_CHANNELS,
    HistoryPlan,
    PlannedConversation,
    churn_hazard,
    nps_class,
    plan_history,
    survey_bias,
)
from voicelake.schemas import SOURCES

__all__ = ["CHANNEL_WEIGHTS", "CONTACT_RATE", "GeneratorSettings", "build_world", "generate_day",
           "generate_history", "render_day"]

CSV_SOURCES = ("reviews", "surveys", "incidents", "releases")
TRUTH_DIR = "truth"
MALFORMED_KINDS = ("invalid_json", "missing_required", "bad_timestamp", "wrong_type",
                   "invalid_utf8", "oversized_text")


@dataclass(frozen=True)
class GeneratorSettings:
    days: int
    customers: int
    seed: int
    start: date
    landing: Path
    answers: Path
    malformed_rate: float = 0.0
    workers: int = 0  # 0 = one per CPU
    max_text_chars: int = 20000
    late_rate: float = 0.0  # share of records that land a day late (in the next day's file)
    update_rate: float = 0.0  # share of solved tickets first exported open, re-exported solved a day later
    churn: bool = True  # plant churn (customers who cancel and stop contacting); False: everyone stays


@dataclass
class Customer:
    id: str
    name: str
    email: str
    phone: str
    product: str
    upgrade_day: float  # day index from which the customer runs the product's new version
    last_name: str = ""
    idea: str = ""  # the product idea this customer asks for (phrases.PRODUCT_IDEAS)


@dataclass
class World:
    settings: GeneratorSettings
    customers: list[Customer]
    agents: dict[str, list[str]]  # queue -> agent ids
    empathy: dict[str, float]
    release_day: dict[str, int]  # product -> day index its second version ships
    scenarios: dict[str, Any] = field(default_factory=dict)


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _at(start: date, day_index: int, hours: int = 0, minutes: int = 0) -> datetime:
    """UTC time of day ``day_index`` of the history."""
    return datetime.combine(start + timedelta(days=day_index), datetime.min.time(), UTC) + timedelta(
        hours=hours, minutes=minutes)


def build_world(settings: GeneratorSettings) -> World:
    """Customers, agents, release plan and scenario timing for a seed."""
    rng = random.Random(settings.seed)
    days = settings.days
    products = list(P.PRODUCTS)
    customers = []
    for i in range(settings.customers):
        first, last = rng.choice(P.FIRST_NAMES), rng.choice(P.LAST_NAMES)
        customers.append(Customer(
            id=f"C{i:07d}", name=first, last_name=last,
            email=f"{first.lower()}.{last.lower()}{i % 97}@example.com",
            phone=f"+49 30 {rng.randint(1000000, 9999999)}",
            product=rng.choices(products, weights=[0.35, 0.3, 0.2, 0.15])[0],
            upgrade_day=rng.random() * 14,
        ))
    ideas = random.Random(f"{settings.seed}:ideas")  # a stream of its own: the world's stays as it was
    for c in customers:
        names, weights = zip(*P.PRODUCT_IDEAS[c.product], strict=True)
        c.idea = ideas.choices(names, weights=weights)[0]
    agents: dict[str, list[str]] = {}
    empathy: dict[str, float] = {}
    n = 0
    for queue in P.QUEUES:
        agents[queue] = []
        for _ in range(6):
            n += 1
            agent = f"A{n:03d}"
            agents[queue].append(agent)
            empathy[agent] = 0.5
    high = ["A002", "A009", "A014"]
    low = ["A005", "A011", "A020"]
    for a in high:
        empathy[a] = 0.95
    for a in low:
        empathy[a] = 0.03
    release_day = {"Nimbus Router": int(days * 0.35), "Atlas App": int(days * 0.2),
                   "Pulse Thermostat": int(days * 0.7), "Orbit Cloud": int(days * 0.5)}
    incident_day = min(days - 1, int(days * 0.6))
    incident_start = _at(settings.start, incident_day, hours=9, minutes=40)
    dark_day, dark_start = min(days - 1, int(days * 0.8)), timedelta(hours=13, minutes=10)
    silent_start = _at(settings.start, int(days * 0.4), hours=3, minutes=15)
    emerging_day = int(days * 0.5)
    start = settings.start
    scenarios = {
        # customers of the product complain from an hour before the incident is declared
        # (the planted lead time) until an hour after it ends
        "incident": {"incident_id": "INC-0001", "product": "Orbit Cloud", "severity": "SEV1",
                     "started_at": _iso(incident_start),
                     "ended_at": _iso(incident_start + timedelta(hours=6)),
                     "complaints_from": _iso(incident_start - timedelta(minutes=OUTAGE_LEAD_MINUTES)),
                     "lead_minutes": OUTAGE_LEAD_MINUTES,
                     "spike_dates": [str(start + timedelta(days=incident_day))]},
        # an outage nobody declared: a complaint spike with no incident record
        "dark_outage": {"product": "Pulse Thermostat", "date": str(start + timedelta(days=dark_day)),
                        "started_at": _iso(_at(start, dark_day) + dark_start),
                        "ended_at": _iso(_at(start, dark_day) + dark_start + timedelta(hours=DARK_OUTAGE_HOURS))},
        # a declared incident customers never noticed: no extra contacts
        "silent_incident": {"incident_id": "INC-0002", "product": "Atlas App", "severity": "SEV2",
                            "started_at": _iso(silent_start),
                            "ended_at": _iso(silent_start + timedelta(minutes=50))},
        "bad_release": {"release_id": "R-NIM-3.2", "product": "Nimbus Router", "version": "3.2",
                        "released_on": str(start + timedelta(days=release_day["Nimbus Router"])),
                        "topic": "wifi_drops_after_update"},
        "emerging_topic": {"product": "Atlas App", "topic": "login_loop",
                           "keywords": ["login loop", "password reset"],
                           "starts_on": str(start + timedelta(days=emerging_day))},
        "slow_queue": {"queue": "billing", "first_response_factor": 5.0},
        "agent_empathy": {"high": high, "low": low},
        "nps_passives": {"theme": "pricing", "keywords": ["price", "expensive", "cheaper", "fee"],
                         "share_of_passive_verbatims": 0.6},
        # releases and incidents that change nothing (negatives for impact and spike detection);
        # generate_history adds the SEV3 minor incidents the plan draws
        "decoys": {"releases": [
            {"release_id": f"R-{p[:3].upper()}-{list(P.PRODUCTS[p]['versions'])[1]}", "product": p,  # type: ignore[call-overload]
             "version": list(P.PRODUCTS[p]["versions"])[1],  # type: ignore[call-overload]
             "released_on": str(start + timedelta(days=release_day[p]))}
            for p in products if p != "Nimbus Router" and release_day[p] < days],
            "incidents": []},
    }
    return World(settings, customers, agents, empathy, release_day, scenarios)


# -- text --------------------------------------------------------------------------------

def _typo(rng: random.Random, text: str) -> str:
    words = text.split(" ")
    idx = [i for i, w in enumerate(words) if len(w) > 4 and w.isalpha()]
    if not idx:
        return text
    i = rng.choice(idx)
    w = words[i]
    j = rng.randrange(len(w) - 1)
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    return " ".join(words)


def _style(rng: random.Random, text: str, emotion: str) -> str:
    if emotion == "anger" and rng.random() < 0.3:
        text = text.upper()
    elif rng.random() < 0.15:
        text = text.lower()
    if rng.random() < 0.15:
        text = _typo(rng, text)
    if emotion != "neutral" and rng.random() < 0.25:
        text = f"{text} {rng.choice(P.EMOJI[emotion])}"
    if emotion == "anger" and rng.random() < 0.3:
        text = text.rstrip(".") + "!!!"
    return text.strip()


def _fill(template: str, ctx: dict[str, str]) -> str:
    return template.format(**ctx) if "{" in template else template


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


@dataclass(frozen=True)
class PlantedFeedback:
    """What a conversation's opening says besides its topic: the customer's idea (the statement
    of a feature request, or an aside in a conversation about something else), or a hard
    negative (a sentence that looks like a suggestion and is not)."""

    idea: str | None = None  # the planted idea the opening asks for
    statement: str | None = None  # replaces the topic's statement (feature requests)
    extra: str | None = None  # an aside with the idea, or a hard negative, after the statement


def planted_feedback(world: World, conv: PlannedConversation) -> PlantedFeedback:
    """The feedback planted in a conversation's opening, from a stream of its own per
    conversation (the day's stream draws the same numbers with or without it)."""
    customer = world.customers[conv.customer]
    rng = random.Random(f"{world.settings.seed}:feedback:{conv.conv_id}")
    phrasing = rng.choice(P.IDEAS[customer.idea])
    if conv.topic == "feature_request":
        return PlantedFeedback(customer.idea, phrasing)
    draw = rng.random()
    if draw < IDEA_ASIDE_RATE:
        return PlantedFeedback(customer.idea, extra=f"{rng.choice(P.ASIDE_OPENERS)} {phrasing}")
    if draw < IDEA_ASIDE_RATE + HARD_NEGATIVE_RATE:
        return PlantedFeedback(extra=rng.choice(P.HARD_NEGATIVES))
    return PlantedFeedback()


def _subject(rng: random.Random, topic: str, feedback: PlantedFeedback, ctx: dict[str, str]) -> str:
    """A ticket's subject: the topic's statement (drawn even when the planted one replaces it)."""
    statement = rng.choice(P.TOPICS[topic][1])
    return _sentence(_fill(feedback.statement or statement, ctx))[:80]


def customer_opening(rng: random.Random, topic: str, emotion: str, ctx: dict[str, str],
                     pii: str | None = None, feedback: PlantedFeedback | None = None) -> str:
    """First customer message: greeting (sometimes with the customer's name), issue, emotion,
    detail, and the planted feedback."""
    feedback = feedback or PlantedFeedback()
    opener = _fill(rng.choice(P.NAME_INTROS), ctx) if "full" in ctx and rng.random() < 0.15 \
        else rng.choice(P.OPENERS)
    statement = rng.choice(P.TOPICS[topic][1])  # drawn even when replaced: the stream stays aligned
    parts = [opener, _sentence(_fill(feedback.statement or statement, ctx))]
    line = _fill(rng.choice(P.EMOTION_LINES[emotion]), ctx)
    if line:
        parts.append(line)
    if rng.random() < 0.3:
        parts.append(_fill(rng.choice(P.EMOTION_LINES["neutral"]), ctx))
    if feedback.extra:
        parts.append(_sentence(_fill(feedback.extra, ctx)))
    if pii:
        parts.append(pii)
    return _style(rng, " ".join(p for p in parts if p), emotion)


def agent_turn(rng: random.Random, topic: str, empathy: float, negative: bool,
               ctx: dict[str, str], first: bool) -> tuple[str, str]:
    """Agent message whose empathy depends on the agent, and its tone (empathy, curt or neutral)."""
    parts = []
    if first:
        parts.append(_fill(rng.choice(P.AGENT_GREETINGS), ctx))
    if negative and rng.random() < empathy:
        parts.append(rng.choice(P.AGENT_EMPATHY))
        tone = "empathy"
    elif empathy < 0.2 and rng.random() < 0.6:
        parts.append(rng.choice(P.AGENT_CURT))
        tone = "curt"
    else:
        parts.append(rng.choice(P.AGENT_NEUTRAL))
        tone = "neutral"
    parts.append(_fill(rng.choice(P.AGENT_ACTIONS[topic]), ctx))
    if rng.random() < 0.5:
        parts.append(rng.choice(P.AGENT_CLOSINGS))
    return " ".join(p for p in parts if p), tone


def agent_reply(rng: random.Random, topic: str, empathy: float, negative: bool,
                ctx: dict[str, str], first: bool) -> str:
    """Agent message whose empathy depends on the agent."""
    return agent_turn(rng, topic, empathy, negative, ctx, first)[0]


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(n))


def _pii_line(rng: random.Random, customer: Customer, forced: int | None = None) -> tuple[str | None, str | None]:
    """A sentence carrying personal data in one of several formats, and its kind (or None, None);
    ``forced`` picks the template (index into PII_TEMPLATES)."""
    if forced is None:
        r = rng.random()
        if r >= 0.06:
            return None, None
        if r < 0.02:  # the customer's own e-mail and phone, as before
            return f"You can reach me at {customer.email} or {customer.phone}.", "email_phone"
        kind, template = rng.choice(P.PII_TEMPLATES)
    else:
        kind, template = P.PII_TEMPLATES[forced]
    phone_alt = rng.choice(P.PHONE_FORMATS).format(d1=_digits(rng, 1), d3=_digits(rng, 3), d4=_digits(rng, 4),
                                                   d6=_digits(rng, 6), d7=_digits(rng, 7))
    address = f"{rng.randint(1, 240)} {rng.choice(P.STREETS)}, {rng.choice(P.CITIES)}"
    return template.format(email=customer.email, phone=customer.phone, phone_alt=phone_alt,
                           iban_lower=rng.choice(P.IBANS_LOWER), address=address), kind


# -- one day -----------------------------------------------------------------------------

class DayWriter:
    """Collects one day's records per source and plants malformed ones."""

    def __init__(self, rng: random.Random, malformed_rate: float, max_text_chars: int,
                 late_rate: float = 0.0, update_rate: float = 0.0, late_seed: str = "") -> None:
        self.rng = rng
        self.malformed_rate = malformed_rate
        self.max_text_chars = max_text_chars
        self.late_rate = late_rate
        self.update_rate = update_rate
        self.late_rng = random.Random(f"{late_seed}:late")  # own stream: rates of 0 change nothing
        self.records: dict[str, list[dict[str, Any]]] = {s: [] for s in SOURCES}
        self.later: dict[str, list[dict[str, Any]]] = {s: [] for s in SOURCES}  # next day's late file
        self.malformed: dict[str, Counter[str]] = {s: Counter() for s in SOURCES}
        self.messages = 0

    def add(self, source: str, record: dict[str, Any], message: bool = False) -> None:
        if message:
            self.messages += 1
        if self.update_rate and source == "tickets" and record.get("resolved_at") \
                and self.late_rng.random() < self.update_rate:
            # exported while still open, re-exported solved in the next day's file
            self.records[source].append({**record, "status": "open", "resolved_at": None, "csat": None})
            self.later[source].append(record)
            return
        if self.late_rate and self.late_rng.random() < self.late_rate:
            self.later[source].append(record)
            return
        self.records[source].append(record)

    @staticmethod
    def late_file_name(day: date, suffix: str) -> str:
        """Name of the file, landing on the next day, that holds ``day``'s late records."""
        return f"{day + timedelta(days=1)}.late-from-{day}{suffix}"

    def _corrupt(self, source: str, record: dict[str, Any]) -> tuple[str, dict[str, Any] | bytes]:
        schema = SOURCES[source]
        kind = self.rng.choice(MALFORMED_KINDS)
        rec = dict(record)
        typed = [f.name for f in schema.fields if f.type in ("int", "double")]
        texts = [f.name for f in schema.fields if f.text]
        if kind == "wrong_type" and not typed:
            kind = "missing_required"
        if kind == "oversized_text" and not texts:
            kind = "bad_timestamp"
        if kind == "invalid_json" and source in CSV_SOURCES:
            kind = "missing_required"
        if kind == "missing_required":
            rec[schema.key] = None if source not in CSV_SOURCES else ""
        elif kind == "bad_timestamp":
            rec[schema.event_time] = "sometime last week"
        elif kind == "wrong_type":
            rec[typed[0]] = "five"
        elif kind == "oversized_text":
            rec[texts[0]] = "x" * (self.max_text_chars + 10)
        elif kind == "invalid_utf8":
            return kind, json.dumps(rec, ensure_ascii=False).encode().replace(b"{", b"{\xff\xfe", 1)
        elif kind == "invalid_json":
            return kind, json.dumps(rec, ensure_ascii=False)[:-7].encode()
        return kind, rec

    def write(self, landing: Path, day: date) -> dict[str, int]:
        counts: dict[str, int] = {}
        for batches, name in ((self.records, str(day)), (self.later, None)):
            for source, records in batches.items():
                if not records:
                    continue
                suffix = ".csv" if source in CSV_SOURCES else ".jsonl"
                file_name = f"{name}{suffix}" if name else self.late_file_name(day, suffix)
                self._write_file(landing / source, file_name, source, records)
                counts[source] = counts.get(source, 0) + len(records)
        return counts

    def _write_file(self, folder: Path, file_name: str, source: str, records: list[dict[str, Any]]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        fields = SOURCES[source].field_names
        lines: list[bytes] = []
        for rec in records:
            out: dict[str, Any] | bytes = rec
            if self.malformed_rate and self.rng.random() < self.malformed_rate:
                kind, out = self._corrupt(source, rec)
                self.malformed[source][kind] += 1
            if isinstance(out, bytes):
                lines.append(out)
            elif source in CSV_SOURCES:
                buf = io.StringIO()
                csv.writer(buf, lineterminator="\n").writerow(
                    ["" if out.get(f) is None else out.get(f) for f in fields])
                lines.append(buf.getvalue().rstrip("\n").encode())
            else:
                lines.append(json.dumps(out, ensure_ascii=False).encode())
        body = b"\n".join(lines) + b"\n"
        if source in CSV_SOURCES:
            body = ",".join(fields).encode() + b"\n" + body
        (folder / file_name).write_bytes(body)


def _lognormal_minutes(rng: random.Random, median: float, sigma: float = 0.8) -> float:
    return median * math.exp(rng.gauss(0, sigma))


IDEA_ASIDE_RATE = 0.04  # conversations about something else in which the customer adds their idea
HARD_NEGATIVE_RATE = 0.08  # conversations whose opening carries a sentence that only looks like a suggestion
FIRST_RESPONSE_MEDIAN = {"chat": 1.5, "email": 150.0, "ticket": 200.0, "social": 45.0, "call": 1.0}
PRIORITY_SLA = {"urgent": 60, "high": 240, "normal": 480, "low": 1440}


# Backlog: a first response takes longer when the queue's arrivals per agent on shift in that hour
# are high. Expected arrivals per hour follow the day's opening-time profile (normal around 13:00)
# and the outages' timed contacts; the first-response delay is multiplied by
# (arrivals per agent / a weekday noon's) ** BACKLOG_EXPONENT, clipped to BACKLOG_FACTOR_RANGE.
BACKLOG_EXPONENT = 1.0
FIRST_RESPONSE_SIGMA = 0.3  # log-scale spread of a first response around its channel's median times the factors
BACKLOG_FACTOR_RANGE = (0.4, 4.0)
ARRIVAL_HOUR_MEAN, ARRIVAL_HOUR_SD = 13.0, 3.5
AGENTS_PER_QUEUE = 6


def agents_on_shift(day: date, hour: int, queue_agents: int = AGENTS_PER_QUEUE) -> int:
    """Agents a queue staffs in an hour: all of them 8:00-18:00 on weekdays, half 6:00-8:00 and
    18:00-22:00, a third at night; half as many at weekends (at least one)."""
    share = 1.0 if 8 <= hour < 18 else 0.5 if 6 <= hour < 22 else 1 / 3
    if day.weekday() >= 5:
        share /= 2
    return max(1, round(queue_agents * share))


def _hour_share(hour: int) -> float:
    """Share of a day's untimed openings that fall in ``hour`` (the renderer's normal profile)."""
    def cdf(x: float) -> float:
        return 0.5 * (1 + math.erf((x - ARRIVAL_HOUR_MEAN) / (ARRIVAL_HOUR_SD * math.sqrt(2))))
    return cdf(hour + 1) - cdf(hour)


def expected_arrivals(conversations: list[PlannedConversation]) -> dict[str, list[float]]:
    """Expected support conversations opening per queue and hour of a planned day: the
    untimed ones spread over the day's profile, the timed ones (outages) in their hour."""
    out = {q: [0.0] * 24 for q in P.QUEUES}
    untimed: Counter[str] = Counter()
    for conv in conversations:
        if conv.channel not in SUPPORT_CHANNELS:
            continue
        if conv.opens_at_minute is None:
            untimed[conv.queue] += 1
        else:
            out[conv.queue][min(23, int(conv.opens_at_minute // 60))] += 1
    for queue, n in untimed.items():
        for hour in range(24):
            out[queue][hour] += n * _hour_share(hour)
    return out


def plant_backlog(world: World, plan: HistoryPlan) -> None:
    """Record the reference load (a weekday noon's arrivals per agent, from the plan's mean
    daily volume per queue) in ``world.scenarios['backlog']``."""
    support = sum(c.channel in SUPPORT_CHANNELS for day in plan.days for c in day)
    per_queue_day = support / max(1, len(plan.days) * len(P.QUEUES))
    world.scenarios["backlog"] = {
        "reference_arrivals_per_agent_hour": per_queue_day * _hour_share(12) / AGENTS_PER_QUEUE,
        "exponent": BACKLOG_EXPONENT, "factor_range": list(BACKLOG_FACTOR_RANGE),
        "agents_on_shift": "all 8-18 on weekdays, half 6-8 and 18-22, a third at night; half at weekends",
        "arrival_profile": {"mean_hour": ARRIVAL_HOUR_MEAN, "sd_hours": ARRIVAL_HOUR_SD}}


def backlog_factors(world: World, day: date, conversations: list[PlannedConversation]) -> dict[str, list[float]]:
    """The first-response multiplier per queue and hour of a planned day (1.0 when the world
    was never planted with a backlog reference)."""
    reference = world.scenarios.get("backlog", {}).get("reference_arrivals_per_agent_hour")
    if not reference:
        return {q: [1.0] * 24 for q in P.QUEUES}
    low, high = BACKLOG_FACTOR_RANGE
    return {q: [min(high, max(low, (n / agents_on_shift(day, h) / reference) ** BACKLOG_EXPONENT))
                for h, n in enumerate(hours)]
            for q, hours in expected_arrivals(conversations).items()}


VERBATIM_EMOTION = {"promoter": "joy", "passive_pricing": "disappointment", "passive": "neutral",
                    "detractor": "frustration"}


@dataclass
class DayResult:
    """What rendering one day produced: record counts, malformed kinds, messages, truth lines."""

    counts: dict[str, int]
    malformed: dict[str, dict[str, int]]
    messages: int
    truth_messages: bytes = b""
    truth_conversations: bytes = b""


def product_version(product: str, upgraded: bool) -> str:
    """The version a customer of ``product`` runs: the second once upgraded, else the first."""
    versions = list(P.PRODUCTS[product]["versions"])  # type: ignore[call-overload]
    return str(versions[1] if upgraded else versions[0])


class _Truth:
    """Ground-truth JSON lines of one day, in silver's ids."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.conversations: list[str] = []
        self.pii_planted = 0  # PII templates planted so far today, one each in the first conversations

    def message(self, message_id: str, conversation_id: str, role: str, emotion: str,
                tone: str | None = None, pii: str | None = None, idea: str | None = None) -> None:
        # ids, roles, emotions, tones, PII kinds and ideas are plain ASCII words: no JSON escaping needed
        extra = ((f',"agent_tone":"{tone}"' if tone else "") + (f',"pii":"{pii}"' if pii else "")
                 + (f',"suggestion":"{idea}"' if idea else ""))
        self.messages.append(f'{{"message_id":"{message_id}","conversation_id":"{conversation_id}",'
                             f'"role":"{role}","emotion":"{emotion}"{extra}}}')

    def conversation(self, conversation_id: str, conv: PlannedConversation, customer: Customer, channel: str,
                     **extra: Any) -> None:
        support = channel in ("chat", "ticket", "email", "call", "social") and "survey_kind" not in extra
        self.conversations.append(json.dumps({
            "conversation_id": conversation_id, "customer_id": customer.id, "product": customer.product,
            "product_version": product_version(customer.product, conv.upgraded), "channel": channel,
            "day": conv.day, "n": conv.n, "topic": conv.topic, "opening_emotion": conv.emotion,
            "started_negative": conv.negative, "agent_id": conv.agent if support else None,
            "queue": conv.queue if support else None, "resolved": conv.resolved if support else None,
            "trust_restored": conv.trust_restored if support else False, "repeat_contact": conv.repeat,
            "loyalty_at_open": conv.loyalty, **extra}))

    @staticmethod
    def blob(lines: list[str]) -> bytes:
        return ("\n".join(lines) + "\n").encode() if lines else b""


def generate_day(world: World, day_index: int) -> tuple[dict[str, int], dict[str, dict[str, int]], int]:
    """Plan the history, then generate and write one day; returns (records per source, malformed kinds,
    messages). ``generate_history`` plans once and calls ``render_day`` instead."""
    plan = plan_history(world)
    plant_backlog(world, plan)
    r = render_day(world, day_index, plan.days[day_index], plan.minor_incidents.get(day_index))
    return r.counts, r.malformed, r.messages


def render_day(world: World, day_index: int, conversations: list[PlannedConversation],
               minor_incident: dict[str, Any] | None = None) -> DayResult:
    """Render one planned day to text, write its landing files and return counts and truth lines."""
    s = world.settings
    rng = random.Random(f"{s.seed}:{day_index}")
    day = s.start + timedelta(days=day_index)
    midnight = datetime.combine(day, datetime.min.time(), UTC)
    out = DayWriter(rng, s.malformed_rate, s.max_text_chars, s.late_rate, s.update_rate,
                    f"{s.seed}:{day_index}")
    sc = world.scenarios

    # releases and incidents are reference data written on the day they happen
    for product, meta in P.PRODUCTS.items():
        versions = list(meta["versions"])  # type: ignore[call-overload]
        if day_index == 0:
            out.add("releases", {"release_id": f"R-{product[:3].upper()}-{versions[0]}",
                                 "product": product, "version": versions[0],
                                 "released_at": _iso(midnight - timedelta(days=120)),
                                 "notes": f"{product} {versions[0]} general availability"})
        if day_index == world.release_day[product]:
            out.add("releases", {"release_id": f"R-{product[:3].upper()}-{versions[1]}",
                                 "product": product, "version": versions[1],
                                 "released_at": _iso(midnight + timedelta(hours=10)),
                                 "notes": f"{product} {versions[1]}: performance and stability improvements"})
    inc = sc["incident"]
    if str(day) == inc["spike_dates"][0]:
        out.add("incidents", {"incident_id": inc["incident_id"], "product": inc["product"],
                              "severity": inc["severity"], "started_at": inc["started_at"],
                              "ended_at": inc["ended_at"],
                              "title": f"{inc['product']} API and dashboard unavailable"})
    elif minor_incident:
        started = midnight + timedelta(minutes=minor_incident["start_minute"])
        out.add("incidents", {"incident_id": minor_incident["incident_id"], "product": minor_incident["product"],
                              "severity": "SEV3", "started_at": _iso(started),
                              "ended_at": _iso(started + timedelta(minutes=minor_incident["minutes"])),
                              "title": f"{minor_incident['product']} minor degradation"})

    silent = sc["silent_incident"]
    if silent["started_at"].startswith(str(day)):
        out.add("incidents", {**{k: silent[k] for k in ("incident_id", "product", "severity", "started_at",
                                                         "ended_at")},
                              "title": f"{silent['product']} background job delays"})

    truth = _Truth()
    backlog = backlog_factors(world, day, conversations)
    for conv in conversations:
        _conversation(world, rng, out, truth, midnight, conv, backlog)
    counts = out.write(s.landing, day)
    malformed = {src: dict(c) for src, c in out.malformed.items() if c}
    return DayResult(counts, malformed, out.messages, _Truth.blob(truth.messages),
                     _Truth.blob(truth.conversations))


def _verbatim(rng: random.Random, kind: str, score: int) -> tuple[str, str]:
    """A survey verbatim for the answer and the emotion it carries."""
    if kind == "csat":
        good = score >= 4
        return (rng.choice(P.PROMOTER_VERBATIMS if good else P.DETRACTOR_VERBATIMS),
                VERBATIM_EMOTION["promoter" if good else "detractor"])
    if score >= 9:
        return rng.choice(P.PROMOTER_VERBATIMS), VERBATIM_EMOTION["promoter"]
    if score >= 7:
        if rng.random() < 0.6:
            return rng.choice(P.PASSIVE_PRICING), VERBATIM_EMOTION["passive_pricing"]
        return rng.choice(P.PASSIVE_OTHER), VERBATIM_EMOTION["passive"]
    return rng.choice(P.DETRACTOR_VERBATIMS), VERBATIM_EMOTION["detractor"]


def _survey(rng: random.Random, out: DayWriter, truth: _Truth, conv: PlannedConversation, customer: Customer,
            response_id: str, responded_at: datetime, ticket_id: str | None, channel: str,
            follows: str | None) -> None:
    assert conv.survey is not None
    kind, score = conv.survey
    verbatim, emotion = _verbatim(rng, kind, score)
    if rng.random() < 0.25:
        verbatim = ""
    out.add("surveys", {"response_id": response_id, "customer_id": customer.id,
                        "survey_type": kind, "score": score, "verbatim": verbatim,
                        "ticket_id": ticket_id, "channel": channel,
                        "product": customer.product, "responded_at": _iso(responded_at)},
            message=bool(verbatim))
    cid = f"survey:{response_id}"
    if verbatim:
        truth.message(cid, cid, "customer", emotion)
    truth.conversation(cid, conv, customer, "survey", opened_at=_iso(responded_at), survey_kind=kind,
                       score=score, topic=None, idea=None,
                       opening_emotion=emotion if verbatim else None,
                       started_negative=bool(verbatim) and emotion in P.NEGATIVE,
                       nps_class=nps_class(score) if kind == "nps" else None, follows=follows)


def _quote(rng: random.Random, text: str, sender: str, when: datetime) -> str:
    """The previous message quoted under a reply header, as mail clients do."""
    header = rng.choice(P.QUOTE_HEADERS).format(weekday=P.WEEKDAYS[when.weekday()], date=when.strftime("%d %b %Y"),
                                                time=when.strftime("%H:%M"), sender=sender)
    quoted = "\n".join(f"> {line}" for line in text.splitlines() or [""])
    return f"\n\n> {header}\n{quoted}"


def _conversation(world: World, rng: random.Random, out: DayWriter, truth: _Truth, midnight: datetime,
                  conv: PlannedConversation, backlog: dict[str, list[float]]) -> None:
    customer = world.customers[conv.customer]
    product = customer.product
    version = product_version(product, conv.upgraded)
    topic, queue, channel, emotion, agent = conv.topic, conv.queue, conv.channel, conv.emotion, conv.agent
    empathy = world.empathy[agent]
    ctx = {"product": product, "version": version, "name": customer.name,
           "full": f"{customer.name} {customer.last_name}".strip(),
           "order": f"{rng.randint(100000, 999999)}", "days": str(rng.randint(2, 21))}
    hour = min(23.9, max(0.0, rng.gauss(13, 3.5)))  # drawn for every conversation: the stream stays aligned
    opened = midnight + timedelta(minutes=conv.opens_at_minute if conv.opens_at_minute is not None else hour * 60)
    slow = world.scenarios["slow_queue"]
    factor = slow["first_response_factor"] if queue == slow["queue"] else 1.0
    negative = conv.negative
    restored = conv.resolved
    conv_id = conv.conv_id

    feedback = planted_feedback(world, conv)
    if channel == "review":
        rating = conv.rating or 3
        body = customer_opening(rng, topic, emotion, ctx, feedback=feedback)
        out.add("reviews", {"review_id": f"RV{conv_id}", "customer_id": customer.id,
                            "product": product, "product_version": version, "rating": rating,
                            "title": rng.choice(P.REVIEW_TITLES[rating]), "body": body,
                            "created_at": _iso(opened)}, message=True)
        cid = f"review:RV{conv_id}"
        truth.message(cid, cid, "customer", emotion, idea=feedback.idea)
        truth.conversation(cid, conv, customer, "review", opened_at=_iso(opened), rating=rating, idea=feedback.idea)
        return
    if channel == "survey":
        _survey(rng, out, truth, conv, customer, f"SV{conv_id}", opened, None,
                rng.choice(["email", "chat", "ticket"]), None)
        return

    # the day's first support conversations plant every PII format once, so even a small sample holds each
    forced = truth.pii_planted if truth.pii_planted < len(P.PII_TEMPLATES) else None
    truth.pii_planted += forced is not None
    pii, pii_kind = _pii_line(rng, customer, forced)
    first_text = customer_opening(rng, topic, emotion, ctx, pii, feedback)
    if channel in ("email", "ticket") and rng.random() < 0.4:
        first_text += "\n\n" + _fill(rng.choice(P.SIGN_OFFS), ctx)
        pii_kind = f"{pii_kind},name" if pii_kind else "name"
    turns = rng.randint(1, 3)
    first_response = (_lognormal_minutes(rng, FIRST_RESPONSE_MEDIAN[channel], FIRST_RESPONSE_SIGMA) * factor
                      * backlog[queue][min(23, opened.hour)])
    # (role, minutes, text, emotion, agent tone, pii kinds, planted idea)
    messages: list[tuple[str, float, str, str, str | None, str | None, str | None]] = [
        ("customer", 0.0, first_text, emotion, None, pii_kind, feedback.idea)]
    t = first_response
    for i in range(turns):
        reply, agent_tone = agent_turn(rng, topic, empathy, negative, ctx, i == 0)
        messages.append(("agent", t, reply, "neutral", agent_tone, None, None))
        gap = _lognormal_minutes(rng, FIRST_RESPONSE_MEDIAN[channel] * 0.6)
        t += gap
        if i < turns - 1:
            # the customer keeps their feeling, and gets angry after a curt reply
            felt = "anger" if agent_tone == "curt" and negative else emotion
            followup = f"{_fill(rng.choice(P.CUSTOMER_FOLLOWUPS), ctx)} {_fill(rng.choice(P.EMOTION_LINES[felt]), ctx)}"
            messages.append(("customer", t, _style(rng, followup.strip(), felt), felt, None, None, None))
            t += _lognormal_minutes(rng, FIRST_RESPONSE_MEDIAN[channel] * 0.5) * factor
    closing_emotion = "gratitude" if restored else "disappointment"
    closing = rng.choice(P.CLOSINGS_RESTORED if restored else P.CLOSINGS_UNRESOLVED)
    messages.append(("customer", t, _style(rng, closing, closing_emotion), closing_emotion, None, None, None))
    resolved_after = t + _lognormal_minutes(rng, 30)
    conversation_id = ""

    if channel == "chat":
        if rng.random() < 0.4:
            messages.insert(1, ("bot", 0.1, rng.choice(P.BOT_LINES), "neutral", None, None, None))
        conversation_id = f"chat:CH{conv_id}"
        for i, (role, minutes, text, emo, tone, pk, idea) in enumerate(messages):
            out.add("chat_messages", {
                "message_id": f"CM{conv_id}-{i:02d}", "chat_id": f"CH{conv_id}",
                "customer_id": customer.id, "agent_id": agent if role == "agent" else None,
                "author_role": role, "sent_at": _iso(opened + timedelta(minutes=minutes)),
                "text": text, "queue": queue, "product": product, "product_version": version},
                message=True)
            truth.message(f"chat:CM{conv_id}-{i:02d}", conversation_id, role, emo, tone, pk, idea)
    elif channel == "ticket":
        priority = rng.choices(list(PRIORITY_SLA), weights=[1, 3, 8, 3])[0]
        resolved = opened + timedelta(minutes=resolved_after) if rng.random() < 0.9 else None
        conversation_id = f"ticket:T{conv_id}"
        out.add("tickets", {
            "ticket_id": f"T{conv_id}", "customer_id": customer.id,
            "customer_email": customer.email,
            "subject": _subject(rng, topic, feedback, ctx),
            "description": first_text, "status": "solved" if resolved else "open",
            "priority": priority, "queue": queue, "product": product,
            "product_version": version, "agent_id": agent, "created_at": _iso(opened),
            "first_response_at": _iso(opened + timedelta(minutes=first_response)),
            "resolved_at": _iso(resolved) if resolved else None,
            "sla_minutes": PRIORITY_SLA[priority],
            "csat": (rng.choice([4, 5, 5]) if restored else rng.choice([1, 2, 3]))
            if rng.random() < 0.4 else None}, message=True)
        truth.message(f"ticket:T{conv_id}:description", conversation_id, "customer", emotion, None, pii_kind,
                      feedback.idea)
        for i, (role, minutes, text, emo, tone, pk, idea) in enumerate(messages[1:], start=1):
            out.add("ticket_comments", {
                "comment_id": f"TC{conv_id}-{i:02d}", "ticket_id": f"T{conv_id}",
                "author_role": role, "author_id": agent if role == "agent" else customer.id,
                "created_at": _iso(opened + timedelta(minutes=minutes)), "body": text},
                message=True)
            truth.message(f"ticket:TC{conv_id}-{i:02d}", conversation_id, role, emo, tone, pk, idea)
    elif channel == "email":
        conversation_id = f"email:ET{conv_id}"
        previous: tuple[str, str, datetime] | None = None
        for i, (role, minutes, text, emo, tone, pk, idea) in enumerate(messages):
            sent = opened + timedelta(minutes=minutes)
            body = text
            if previous and rng.random() < 0.5:  # a long reply quoting the previous mail
                body += _quote(rng, previous[0], previous[1], previous[2])
            out.add("emails", {
                "email_id": f"EM{conv_id}-{i:02d}", "thread_id": f"ET{conv_id}", "ticket_id": None,
                "from_role": role,
                "from_address": customer.email if role == "customer" else "support@voicelake.example",
                "customer_id": customer.id, "agent_id": agent if role == "agent" else None,
                "sent_at": _iso(sent),
                "subject": f"Re: {product} {topic.replace('_', ' ')}", "body": body,
                "queue": queue, "product": product, "product_version": version}, message=True)
            truth.message(f"email:EM{conv_id}-{i:02d}", conversation_id, role, emo, tone, pk, idea)
            previous = (body, ctx["full"] if role == "customer" else "Support", sent)
    elif channel == "call":
        conversation_id = f"call:CL{conv_id}"
        offset = 0.0
        for i, (role, _minutes, text, emo, tone, pk, idea) in enumerate(messages):
            spoken = f"{rng.choice(P.CALL_FILLERS)} {text}" if rng.random() < 0.4 else text
            duration = 2.0 + len(text) / 14.0
            out.add("call_utterances", {
                "utterance_id": f"CU{conv_id}-{i:02d}", "call_id": f"CL{conv_id}",
                "customer_id": customer.id, "agent_id": agent, "speaker": role,
                "call_started_at": _iso(opened), "start_offset_s": round(offset, 1),
                "end_offset_s": round(offset + duration, 1), "text": spoken, "queue": queue,
                "product": product, "product_version": version}, message=True)
            truth.message(f"call:CU{conv_id}-{i:02d}", conversation_id, role, emo, tone, pk, idea)
            offset += duration + rng.uniform(0.5, 4.0)
    else:  # social
        root = f"SP{conv_id}-00"
        conversation_id = f"social:{root}"
        platform = rng.choice(P.SOCIAL_PLATFORMS)
        for i, (role, minutes, text, emo, tone, pk, idea) in enumerate(messages):
            out.add("social_posts", {
                "post_id": f"SP{conv_id}-{i:02d}", "thread_id": root,
                "in_reply_to": None if i == 0 else f"SP{conv_id}-{i - 1:02d}",
                "platform": platform,
                "author_handle": f"@{customer.name.lower()}{customer.id[-3:]}" if role == "customer"
                else "@voicelake_help", "author_role": role,
                "customer_id": customer.id if role == "customer" else None,
                "posted_at": _iso(opened + timedelta(minutes=minutes)), "text": text,
                "product": product, "product_version": version}, message=True)
            truth.message(f"social:SP{conv_id}-{i:02d}", conversation_id, role, emo, tone, pk, idea)
    truth.conversation(conversation_id, conv, customer, channel, opened_at=_iso(opened), idea=feedback.idea)
    if conv.survey:  # the follow-up NPS survey this customer answered
        ticket_id = f"T{conv_id}" if channel == "ticket" else None
        _survey(rng, out, truth, conv, customer, f"SV{conv_id}-F",
                opened + timedelta(minutes=resolved_after + rng.uniform(30, 600)), ticket_id,
                channel if channel in ("email", "chat", "ticket") else "email", conversation_id)


_WORLD: World | None = None


def _init_worker(world: World) -> None:
    global _WORLD
    _WORLD = world


def _run_day(job: tuple[int, list[PlannedConversation], dict[str, Any] | None]) -> DayResult:
    assert _WORLD is not None
    return render_day(_WORLD, *job)


def _write_truth(folder: Path, plan: HistoryPlan, results: list[DayResult],
                 customers: list[Customer]) -> dict[str, str]:
    """Write the truth tables as JSON Lines, one file per table; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / f"{name}.jsonl" for name in
             ("customer_weeks", "conversations", "messages", "population_nps", "churn")}
    with paths["conversations"].open("wb") as conv_f, paths["messages"].open("wb") as msg_f:
        for r in results:
            conv_f.write(r.truth_conversations)
            msg_f.write(r.truth_messages)
    with paths["customer_weeks"].open("w") as f:
        for week in plan.weeks:
            f.write("\n".join(week.lines(customers)) + "\n")
    paths["population_nps"].write_text("".join(json.dumps(r) + "\n" for r in plan.population))
    paths["churn"].write_text("".join(json.dumps(r) + "\n" for r in plan.churn))
    return {name: str(p) for name, p in paths.items()}


def generate_history(settings: GeneratorSettings) -> dict[str, Any]:
    """Plan the history, render and write every day, the answer file and the truth folder;
    return the summary."""
    t0 = time.perf_counter()
    world = build_world(settings)
    plan = plan_history(world)
    plant_backlog(world, plan)
    plan_seconds = time.perf_counter() - t0
    settings.landing.mkdir(parents=True, exist_ok=True)
    workers = settings.workers or os.cpu_count() or 1
    workers = max(1, min(workers, settings.days))
    records: Counter[str] = Counter()
    malformed: dict[str, Counter[str]] = {}
    messages = 0
    jobs = [(d, plan.days[d], plan.minor_incidents.get(d)) for d in range(settings.days)]
    if workers == 1:
        results = [render_day(world, *job) for job in jobs]
    else:
        with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(world,)) as pool:
            results = list(pool.map(_run_day, jobs))
    for r in results:
        records.update(r.counts)
        messages += r.messages
        for src, kinds in r.malformed.items():
            malformed.setdefault(src, Counter()).update(kinds)
    scenarios = dict(world.scenarios)
    scenarios["decoys"] = {**scenarios["decoys"], "incidents": [
        {"incident_id": m["incident_id"], "product": m["product"], "severity": m["severity"],
         "date": str(settings.start + timedelta(days=d))} for d, m in sorted(plan.minor_incidents.items())]}
    scenarios["survey_nonresponse"] = survey_bias(plan.population)
    scenarios["churn"] = {"customers": len(plan.churn), "cancellation_topic": CANCELLATION_TOPIC,
                          "weekly_hazard": {str(x): round(churn_hazard(x), 4) for x in (2, 4, 6, 8)}}
    truth_dir = settings.answers.parent / TRUTH_DIR
    truth_files = _write_truth(truth_dir, plan, results, world.customers)
    seconds = time.perf_counter() - t0
    answers = {
        "seed": settings.seed, "days": settings.days, "customers": settings.customers,
        "start": str(settings.start),
        "end": str(settings.start + timedelta(days=settings.days - 1)),
        "records": dict(records), "messages": messages,
        "malformed": {s: dict(c) for s, c in malformed.items()},
        "scenarios": scenarios,
        "truth": {name: str(Path(p).relative_to(settings.answers.parent)) for name, p in truth_files.items()},
    }
    settings.answers.parent.mkdir(parents=True, exist_ok=True)
    settings.answers.write_text(json.dumps(answers, indent=2))
    return {**answers, "seconds": round(seconds, 2), "plan_seconds": round(plan_seconds, 2),
            "landing": str(settings.landing), "answers_file": str(settings.answers)}
