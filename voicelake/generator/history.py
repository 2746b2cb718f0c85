"""Seeded generator of a realistic multi-channel support history, written to a landing zone.

``generate_history(settings)`` writes one file per source and day
(``<landing>/<source>/<YYYY-MM-DD>.jsonl|.csv``) and an answer file with the planted
scenarios' ground truth: an incident that causes a complaint spike, a release that makes
one product version's customers unhappy, an emerging topic, a queue with slow first
responses, agents who differ in empathy, and NPS passives with a common complaint.
Optionally a small share of malformed records of every kind is planted, and counted in
the answer file, so ingestion's quarantine can be checked against known numbers. Late data on
request: ``late_rate`` moves records into a file that lands the next day
(``<D+1>.late-from-<D>.jsonl``), ``update_rate`` exports solved tickets first as open and
re-exports them solved in that late file (the same ticket id, a newer version).

Days are generated independently from ``(seed, day)``, so the output is reproducible and
the work spreads over processes.
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
from voicelake.schemas import SOURCES

CSV_SOURCES = ("reviews", "surveys", "incidents", "releases")
CHANNEL_WEIGHTS = {"chat": 0.34, "ticket": 0.2, "email": 0.14, "call": 0.12, "social": 0.08,
                   "review": 0.06, "survey": 0.06}
CONTACT_RATE = 0.03  # conversations per customer per day
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


@dataclass
class Customer:
    id: str
    name: str
    email: str
    phone: str
    product: str
    upgrade_day: float  # day index from which the customer runs the product's new version


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


def build_world(settings: GeneratorSettings) -> World:
    """Customers, agents, release plan and scenario timing for a seed."""
    rng = random.Random(settings.seed)
    days = settings.days
    products = list(P.PRODUCTS)
    customers = []
    for i in range(settings.customers):
        first, last = rng.choice(P.FIRST_NAMES), rng.choice(P.LAST_NAMES)
        customers.append(Customer(
            id=f"C{i:07d}", name=first,
            email=f"{first.lower()}.{last.lower()}{i % 97}@example.com",
            phone=f"+49 30 {rng.randint(1000000, 9999999)}",
            product=rng.choices(products, weights=[0.35, 0.3, 0.2, 0.15])[0],
            upgrade_day=rng.random() * 14,
        ))
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
    incident_start = datetime.combine(settings.start + timedelta(days=incident_day),
                                      datetime.min.time(), UTC) + timedelta(hours=9, minutes=40)
    emerging_day = int(days * 0.5)
    start = settings.start
    scenarios = {
        "incident": {"incident_id": "INC-0001", "product": "Orbit Cloud", "severity": "SEV1",
                     "started_at": _iso(incident_start),
                     "ended_at": _iso(incident_start + timedelta(hours=6)),
                     "spike_dates": [str(start + timedelta(days=incident_day))]},
        "bad_release": {"product": "Nimbus Router", "version": "3.2",
                        "released_on": str(start + timedelta(days=release_day["Nimbus Router"])),
                        "topic": "wifi_drops_after_update"},
        "emerging_topic": {"product": "Atlas App", "topic": "login_loop",
                           "keywords": ["login loop", "password reset"],
                           "starts_on": str(start + timedelta(days=emerging_day))},
        "slow_queue": {"queue": "billing", "first_response_factor": 5.0},
        "agent_empathy": {"high": high, "low": low},
        "nps_passives": {"theme": "pricing", "keywords": ["price", "expensive", "cheaper", "fee"],
                         "share_of_passive_verbatims": 0.6},
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


def customer_opening(rng: random.Random, topic: str, emotion: str, ctx: dict[str, str],
                     pii: str | None = None) -> str:
    """First customer message: greeting, issue, emotion, detail."""
    parts = [rng.choice(P.OPENERS), _sentence(_fill(rng.choice(P.TOPICS[topic][1]), ctx))]
    line = _fill(rng.choice(P.EMOTION_LINES[emotion]), ctx)
    if line:
        parts.append(line)
    if rng.random() < 0.3:
        parts.append(_fill(rng.choice(P.EMOTION_LINES["neutral"]), ctx))
    if pii:
        parts.append(pii)
    return _style(rng, " ".join(p for p in parts if p), emotion)


def agent_reply(rng: random.Random, topic: str, empathy: float, negative: bool,
                ctx: dict[str, str], first: bool) -> str:
    """Agent message whose empathy depends on the agent."""
    parts = []
    if first:
        parts.append(_fill(rng.choice(P.AGENT_GREETINGS), ctx))
    if negative and rng.random() < empathy:
        parts.append(rng.choice(P.AGENT_EMPATHY))
    elif empathy < 0.2 and rng.random() < 0.6:
        parts.append(rng.choice(P.AGENT_CURT))
    else:
        parts.append(rng.choice(P.AGENT_NEUTRAL))
    parts.append(_fill(rng.choice(P.AGENT_ACTIONS[topic]), ctx))
    if rng.random() < 0.5:
        parts.append(rng.choice(P.AGENT_CLOSINGS))
    return " ".join(p for p in parts if p)


def _pii_line(rng: random.Random, customer: Customer) -> str | None:
    r = rng.random()
    if r < 0.02:
        return f"You can reach me at {customer.email} or {customer.phone}."
    if r < 0.03:
        return "My card 4539 1488 0343 6467 was charged."
    if r < 0.035:
        return "Please refund to IBAN DE89 3704 0044 0532 0130 00."
    return None


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


def _pick_emotion(rng: random.Random, topic: str) -> str:
    weights = P.TOPIC_EMOTIONS.get(topic, P.TOPIC_EMOTIONS["default"])
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _lognormal_minutes(rng: random.Random, median: float, sigma: float = 0.8) -> float:
    return median * math.exp(rng.gauss(0, sigma))


FIRST_RESPONSE_MEDIAN = {"chat": 1.5, "email": 150.0, "ticket": 200.0, "social": 45.0, "call": 1.0}
PRIORITY_SLA = {"urgent": 60, "high": 240, "normal": 480, "low": 1440}


def generate_day(world: World, day_index: int) -> tuple[dict[str, int], dict[str, dict[str, int]], int]:
    """Generate and write one day; returns (records per source, malformed kinds, messages)."""
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
    elif rng.random() < 0.15:
        product = rng.choice(list(P.PRODUCTS))
        started = midnight + timedelta(minutes=rng.randint(0, 1300))
        out.add("incidents", {"incident_id": f"INC-{day_index:04d}-M", "product": product,
                              "severity": "SEV3", "started_at": _iso(started),
                              "ended_at": _iso(started + timedelta(minutes=rng.randint(10, 90))),
                              "title": f"{product} minor degradation"})

    weekday_factor = 0.6 if day.weekday() >= 5 else 1.0
    base = s.customers * CONTACT_RATE * weekday_factor
    n_conv = max(1, int(rng.gauss(base, math.sqrt(base) + 1)))
    plan: list[tuple[Customer, str | None]] = []
    for _ in range(n_conv):
        plan.append((world.customers[rng.randrange(len(world.customers))], None))
    by_product: dict[str, list[Customer]] = {}
    for c in world.customers:
        by_product.setdefault(c.product, []).append(c)

    # incident: a complaint spike from the affected product's customers on the day
    if str(day) == inc["spike_dates"][0]:
        pool = by_product.get(inc["product"], [])
        extra = int(len(pool) * CONTACT_RATE * 4) + 3
        plan += [(rng.choice(pool), "outage") for _ in range(extra)] if pool else []
    # emerging topic: grows exponentially from its start day
    em = sc["emerging_topic"]
    start_em = (date.fromisoformat(em["starts_on"]) - s.start).days
    if day_index >= start_em and by_product.get(em["product"]):
        pool = by_product[em["product"]]
        share = min(1.5, 0.04 * 2 ** ((day_index - start_em) / 3))
        extra = int(len(pool) * CONTACT_RATE * share) + 1
        plan += [(rng.choice(pool), em["topic"]) for _ in range(extra)]
    # bad release: upgraded customers come back more often
    br = sc["bad_release"]
    if day_index >= world.release_day[br["product"]]:
        pool = [c for c in by_product.get(br["product"], [])
                if day_index >= world.release_day[br["product"]] + c.upgrade_day]
        extra = int(len(pool) * CONTACT_RATE * 0.8)
        plan += [(rng.choice(pool), br["topic"]) for _ in range(extra)] if pool else []

    for n, (customer, forced_topic) in enumerate(plan):
        _conversation(world, rng, out, day_index, midnight, n, customer, forced_topic)
    counts = out.write(s.landing, day)
    malformed = {src: dict(c) for src, c in out.malformed.items() if c}
    return counts, malformed, out.messages


def _conversation(world: World, rng: random.Random, out: DayWriter, day_index: int,
                  midnight: datetime, n: int, customer: Customer, forced_topic: str | None) -> None:
    product = customer.product
    versions = list(P.PRODUCTS[product]["versions"])  # type: ignore[call-overload]
    upgraded = day_index >= world.release_day[product] + customer.upgrade_day
    version = versions[1] if upgraded else versions[0]
    topic = forced_topic or rng.choice(P.PRODUCT_TOPICS[product])
    queue = P.TOPICS[topic][0]
    channel = rng.choices(list(CHANNEL_WEIGHTS), weights=list(CHANNEL_WEIGHTS.values()))[0]
    if forced_topic == "outage":
        channel = rng.choice(["chat", "social", "ticket", "call", "social"])
    emotion = _pick_emotion(rng, topic)
    agent = rng.choice(world.agents[queue])
    empathy = world.empathy[agent]
    ctx = {"product": product, "version": version, "name": customer.name,
           "order": f"{rng.randint(100000, 999999)}", "days": str(rng.randint(2, 21))}
    hour = min(23.9, max(0.0, rng.gauss(13, 3.5)))
    opened = midnight + timedelta(hours=hour)
    slow = world.scenarios["slow_queue"]
    factor = slow["first_response_factor"] if queue == slow["queue"] else 1.0
    negative = emotion in P.NEGATIVE
    # trust restored: more likely with empathetic agents and fast queues
    p_restored = 0.45 + 0.35 * empathy - (0.15 if factor > 1 else 0) - (0.1 if topic == "outage" else 0)
    restored = rng.random() < p_restored
    conv_id = f"{day_index:04d}{n:06d}"

    if channel == "review":
        bad = topic in ("wifi_drops_after_update", "outage", "login_loop") or emotion in P.NEGATIVE
        rating = rng.choice([1, 1, 2, 2, 3]) if bad else rng.choice([3, 4, 4, 5, 5, 5])
        body = customer_opening(rng, topic, emotion, ctx)
        out.add("reviews", {"review_id": f"RV{conv_id}", "customer_id": customer.id,
                            "product": product, "product_version": version, "rating": rating,
                            "title": rng.choice(P.REVIEW_TITLES[rating]), "body": body,
                            "created_at": _iso(opened)}, message=True)
        return
    if channel == "survey":
        if rng.random() < 0.7:
            kind = "nps"
            score = rng.choices(range(11), weights=[1, 1, 1, 1, 2, 2, 4, 8, 12, 14, 14])[0]
            if score >= 9:
                verbatim = rng.choice(P.PROMOTER_VERBATIMS)
            elif score >= 7:
                verbatim = rng.choice(P.PASSIVE_PRICING) if rng.random() < 0.6 else rng.choice(P.PASSIVE_OTHER)
            else:
                verbatim = rng.choice(P.DETRACTOR_VERBATIMS)
        else:
            kind = "csat"
            score = rng.choices([1, 2, 3, 4, 5], weights=[1, 1, 2, 4, 4])[0]
            verbatim = rng.choice(P.PROMOTER_VERBATIMS if score >= 4 else P.DETRACTOR_VERBATIMS)
        if rng.random() < 0.25:
            verbatim = ""
        out.add("surveys", {"response_id": f"SV{conv_id}", "customer_id": customer.id,
                            "survey_type": kind, "score": score, "verbatim": verbatim,
                            "ticket_id": None, "channel": rng.choice(["email", "chat", "ticket"]),
                            "product": product, "responded_at": _iso(opened)},
                   message=bool(verbatim))
        return

    pii = _pii_line(rng, customer)
    first_text = customer_opening(rng, topic, emotion, ctx, pii)
    turns = rng.randint(1, 3)
    first_response = _lognormal_minutes(rng, FIRST_RESPONSE_MEDIAN[channel]) * factor
    messages: list[tuple[str, float, str]] = [("customer", 0.0, first_text)]
    t = first_response
    for i in range(turns):
        messages.append(("agent", t, agent_reply(rng, topic, empathy, negative, ctx, i == 0)))
        gap = _lognormal_minutes(rng, FIRST_RESPONSE_MEDIAN[channel] * 0.6)
        t += gap
        if i < turns - 1:
            messages.append(("customer", t, _style(rng, _fill(rng.choice(P.CUSTOMER_FOLLOWUPS), ctx),
                                                   emotion)))
            t += _lognormal_minutes(rng, FIRST_RESPONSE_MEDIAN[channel] * 0.5) * factor
    closing = rng.choice(P.CLOSINGS_RESTORED if restored else P.CLOSINGS_UNRESOLVED)
    messages.append(("customer", t, _style(rng, closing, "gratitude" if restored else "disappointment")))
    resolved_after = t + _lognormal_minutes(rng, 30)

    if channel == "chat":
        if rng.random() < 0.4:
            messages.insert(1, ("bot", 0.1, rng.choice(P.BOT_LINES)))
        for i, (role, minutes, text) in enumerate(messages):
            out.add("chat_messages", {
                "message_id": f"CM{conv_id}-{i:02d}", "chat_id": f"CH{conv_id}",
                "customer_id": customer.id, "agent_id": agent if role == "agent" else None,
                "author_role": role, "sent_at": _iso(opened + timedelta(minutes=minutes)),
                "text": text, "queue": queue, "product": product, "product_version": version},
                message=True)
    elif channel == "ticket":
        priority = rng.choices(list(PRIORITY_SLA), weights=[1, 3, 8, 3])[0]
        resolved = opened + timedelta(minutes=resolved_after) if rng.random() < 0.9 else None
        out.add("tickets", {
            "ticket_id": f"T{conv_id}", "customer_id": customer.id,
            "customer_email": customer.email,
            "subject": _sentence(_fill(rng.choice(P.TOPICS[topic][1]), ctx))[:80],
            "description": first_text, "status": "solved" if resolved else "open",
            "priority": priority, "queue": queue, "product": product,
            "product_version": version, "agent_id": agent, "created_at": _iso(opened),
            "first_response_at": _iso(opened + timedelta(minutes=first_response)),
            "resolved_at": _iso(resolved) if resolved else None,
            "sla_minutes": PRIORITY_SLA[priority],
            "csat": (rng.choice([4, 5, 5]) if restored else rng.choice([1, 2, 3]))
            if rng.random() < 0.4 else None}, message=True)
        for i, (role, minutes, text) in enumerate(messages[1:], start=1):
            out.add("ticket_comments", {
                "comment_id": f"TC{conv_id}-{i:02d}", "ticket_id": f"T{conv_id}",
                "author_role": role, "author_id": agent if role == "agent" else customer.id,
                "created_at": _iso(opened + timedelta(minutes=minutes)), "body": text},
                message=True)
    elif channel == "email":
        for i, (role, minutes, text) in enumerate(messages):
            out.add("emails", {
                "email_id": f"EM{conv_id}-{i:02d}", "thread_id": f"ET{conv_id}", "ticket_id": None,
                "from_role": role,
                "from_address": customer.email if role == "customer" else "support@voicelake.example",
                "customer_id": customer.id, "agent_id": agent if role == "agent" else None,
                "sent_at": _iso(opened + timedelta(minutes=minutes)),
                "subject": f"Re: {product} {topic.replace('_', ' ')}", "body": text,
                "queue": queue, "product": product, "product_version": version}, message=True)
    elif channel == "call":
        offset = 0.0
        for i, (role, _minutes, text) in enumerate(messages):
            spoken = f"{rng.choice(P.CALL_FILLERS)} {text}" if rng.random() < 0.4 else text
            duration = 2.0 + len(text) / 14.0
            out.add("call_utterances", {
                "utterance_id": f"CU{conv_id}-{i:02d}", "call_id": f"CL{conv_id}",
                "customer_id": customer.id, "agent_id": agent, "speaker": role,
                "call_started_at": _iso(opened), "start_offset_s": round(offset, 1),
                "end_offset_s": round(offset + duration, 1), "text": spoken, "queue": queue,
                "product": product, "product_version": version}, message=True)
            offset += duration + rng.uniform(0.5, 4.0)
    else:  # social
        root = f"SP{conv_id}-00"
        platform = rng.choice(P.SOCIAL_PLATFORMS)
        for i, (role, minutes, text) in enumerate(messages):
            out.add("social_posts", {
                "post_id": f"SP{conv_id}-{i:02d}", "thread_id": root,
                "in_reply_to": None if i == 0 else f"SP{conv_id}-{i - 1:02d}",
                "platform": platform,
                "author_handle": f"@{customer.name.lower()}{customer.id[-3:]}" if role == "customer"
                else "@voicelake_help", "author_role": role,
                "customer_id": customer.id if role == "customer" else None,
                "posted_at": _iso(opened + timedelta(minutes=minutes)), "text": text,
                "product": product, "product_version": version}, message=True)


_WORLD: World | None = None


def _init_worker(world: World) -> None:
    global _WORLD
    _WORLD = world


def _run_day(day_index: int) -> tuple[dict[str, int], dict[str, dict[str, int]], int]:
    assert _WORLD is not None
    return generate_day(_WORLD, day_index)


def generate_history(settings: GeneratorSettings) -> dict[str, Any]:
    """Write the whole history and the answer file; return the summary."""
    t0 = time.perf_counter()
    world = build_world(settings)
    settings.landing.mkdir(parents=True, exist_ok=True)
    workers = settings.workers or os.cpu_count() or 1
    workers = max(1, min(workers, settings.days))
    records: Counter[str] = Counter()
    malformed: dict[str, Counter[str]] = {}
    messages = 0
    if workers == 1:
        results = [generate_day(world, d) for d in range(settings.days)]
    else:
        with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(world,)) as pool:
            results = list(pool.map(_run_day, range(settings.days)))
    for counts, bad, msgs in results:
        records.update(counts)
        messages += msgs
        for src, kinds in bad.items():
            malformed.setdefault(src, Counter()).update(kinds)
    seconds = time.perf_counter() - t0
    answers = {
        "seed": settings.seed, "days": settings.days, "customers": settings.customers,
        "start": str(settings.start),
        "end": str(settings.start + timedelta(days=settings.days - 1)),
        "records": dict(records), "messages": messages,
        "malformed": {s: dict(c) for s, c in malformed.items()},
        "scenarios": world.scenarios,
    }
    settings.answers.parent.mkdir(parents=True, exist_ok=True)
    settings.answers.write_text(json.dumps(answers, indent=2))
    return {**answers, "seconds": round(seconds, 2), "landing": str(settings.landing),
            "answers_file": str(settings.answers)}
