"""The generator's plan: who contacts support when, about what, feeling how, and what it does
to their loyalty; a cheap sequential pass (no text) that the parallel day renderers follow.

Every customer carries a latent loyalty score (0-10, "how likely are you to recommend us").
It starts at a per-customer baseline and moves with what happens to the customer: upgrading
to the bad release, an incident on their product, a conversation in the slow queue or with a
curt agent lower it; a conversation that restores trust raises it; every week it drifts part
of the way back to the baseline. Opening emotions, survey answers and review ratings are drawn
from it. Survey non-response is planted: detractors and promoters answer far more often than
passives, so the respondents' NPS is biased against the true NPS of all active customers.

Churn is planted from loyalty on a random stream of its own: at each week's close every
customer still with us leaves with a weekly hazard that rises steeply as their loyalty falls
(``churn_hazard``); within the next week they open one cancellation conversation, in which an
agent confirms the cancellation, and they never contact support again.

``plan_history(world)`` returns the plan of every day plus the weekly ground truth
(per customer and per product); its random stream is ``(seed, "plan")``, so the same seed
gives the same plan whatever the number of render workers.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from voicelake.generator import phrases as P

if TYPE_CHECKING:
    from voicelake.generator.history import Customer, World

CONTACT_RATE = 0.03  # conversations per customer per day
# messages a customer produces per day on average, measured (1,265,612 messages from a history
# sized for 1M with 0.1314): benchmarks size their samples with it
MESSAGES_PER_CUSTOMER_DAY = 0.166
CHANNEL_WEIGHTS = {"chat": 0.34, "ticket": 0.2, "email": 0.14, "call": 0.12, "social": 0.08,
                   "review": 0.06, "survey": 0.06}
SUPPORT_CHANNELS = ("chat", "ticket", "email", "call", "social")

# loyalty dynamics (points on the 0-10 scale)
BASELINE_MEAN, BASELINE_SD = 8.2, 1.8
WEEKLY_DRIFT = 0.25  # share of the distance to the baseline recovered every week
HIT_BAD_RELEASE = -2.5  # once, when the customer upgrades to the bad release
HIT_INCIDENT = -1.5  # every customer of the product, on the incident's day
# An outage's complaint curve: contacts per affected customer per hour, flat from the first
# complaint to the outage's end, then a falling tail for an hour.
OUTAGE_CONTACTS_PER_CUSTOMER_HOUR = CONTACT_RATE * 8 / 7
OUTAGE_TAIL_SHARE = 0.12
OUTAGE_LEAD_MINUTES = 60  # the declared incident's customers complain this long before it is declared
DARK_OUTAGE_HOURS = 3
HIT_SLOW_QUEUE = -0.8
HIT_CURT_AGENT = -1.0
HIT_UNRESOLVED = -0.8
GAIN_RESTORED = 1.2  # a conversation that started negative and ended well
GAIN_RESOLVED = 0.3  # a resolved conversation that never was negative
CURT_EMPATHY = 0.2  # agents below this empathy are curt
# how the opening emotion leans with loyalty: weight *= exp(slope * (loyalty - pivot))
EMOTION_PIVOT = 6.5
EMOTION_SLOPE = {"anger": -0.6, "frustration": -0.4, "disappointment": -0.5, "anxiety": -0.15,
                 "confusion": -0.1, "neutral": 0.15, "gratitude": 0.5, "joy": 0.5}
# survey non-response bias: probability that an invited customer answers, by true NPS class
RESPONSE_RATE = {"detractor": 0.6, "passive": 0.05, "promoter": 0.3}
FOLLOWUP_INVITE_RATE = 0.6  # support conversations followed by an NPS survey invitation
REPEAT_CONTACT_RATE = 0.5  # unresolved negative conversations that come back on the same topic
TRUST_WINDOW_DAYS = 7
NPS_ANSWER_NOISE = 0.6
CLASSES = ("promoter", "passive", "detractor")
# churn: weekly hazard = CHURN_MAX_WEEKLY / (1 + exp(CHURN_STEEPNESS * (loyalty - CHURN_MIDPOINT))),
# raised after a bad experience
CHURN_MAX_WEEKLY = 0.1
CHURN_MIDPOINT = 3.5
CHURN_STEEPNESS = 1.3
CHURN_TRIGGER = 3.0  # a bad experience multiplies the hazard by up to 1 + 3 ...
CHURN_TRIGGER_DAYS = 14.0  # ... fading with this time constant (days)
CHURN_MAX_HAZARD = 0.2
CANCELLATION_TOPIC = "cancellation"
CANCELLATION_CHANNELS = ("chat", "email", "ticket", "call")


def churn_hazard(loyalty: float, days_since_bad: int | None = None) -> float:
    """The probability that a customer with this latent loyalty leaves within the next week:
    0.088 at loyalty 2, 0.034 at 4, 0.0037 at 6, 0.0003 at 8 (about 2% of customers a month);
    a bad experience (an unresolved
    conversation that opened negative) ``days_since_bad`` days ago multiplies it by up to
    ``1 + CHURN_TRIGGER``, fading with a time constant of ``CHURN_TRIGGER_DAYS`` (the last straw)."""
    hazard = CHURN_MAX_WEEKLY / (1.0 + math.exp(CHURN_STEEPNESS * (loyalty - CHURN_MIDPOINT)))
    if days_since_bad is not None:
        hazard *= 1.0 + CHURN_TRIGGER * math.exp(-days_since_bad / CHURN_TRIGGER_DAYS)
    return min(hazard, CHURN_MAX_HAZARD)


def nps_class(score: float) -> str:
    """promoter (9-10), passive (7-8) or detractor (0-6) for a 0-10 score, rounded half up."""
    return "promoter" if score >= 8.5 else "passive" if score >= 6.5 else "detractor"


def _clamp(x: float, lo: float = 0.0, hi: float = 10.0) -> float:
    return lo if x < lo else hi if x > hi else x


@dataclass(slots=True)
class PlannedConversation:
    """One conversation as decided by the plan; the renderer turns it into records and text."""

    day: int
    n: int  # position in the day; the source ids are built from (day, n)
    customer: int  # index into World.customers
    topic: str
    queue: str
    agent: str
    channel: str
    emotion: str  # opening emotion
    upgraded: bool  # runs the product's second version
    loyalty: float  # latent score when the conversation opened
    resolved: bool = False  # ended well (support channels)
    survey: tuple[str, int] | None = None  # (kind, score): survey channel or follow-up answer
    rating: int | None = None  # review rating
    trust_restored: bool = False  # started negative, ended well, no same-topic contact within 7 days
    repeat: bool = False  # a repeat contact after an unresolved conversation
    opens_at_minute: float | None = None  # minute of the day it opens (outages); None: drawn when rendered

    @property
    def conv_id(self) -> str:
        """The numeric part of every source id of this conversation."""
        return f"{self.day:04d}{self.n:06d}"

    @property
    def negative(self) -> bool:
        """Whether the conversation opened with a negative emotion."""
        return self.emotion in P.NEGATIVE


@dataclass
class WeekScores:
    """Every customer's latent score at the end of one week (index = customer index)."""

    week_start: str
    scores: list[float]
    active: set[int]
    churned: frozenset[int] = frozenset()  # customers who cancelled by the week's end

    def lines(self, customers: Sequence[Customer]) -> Iterator[str]:
        """customer_weeks JSON lines of this week."""
        wk = self.week_start
        active, churned = self.active, self.churned
        for i, (c, score) in enumerate(zip(customers, self.scores, strict=True)):
            cls = "promoter" if score >= 8.5 else "passive" if score >= 6.5 else "detractor"
            yield (f'{{"customer_id":"{c.id}","week_start":"{wk}","product":"{c.product}",'
                   f'"latent_score":{score},"nps_class":"{cls}","active":{"true" if i in active else "false"},'
                   f'"churned":{"true" if i in churned else "false"}}}')


@dataclass
class HistoryPlan:
    """Every day's conversations and the weekly truth."""

    days: list[list[PlannedConversation]]
    minor_incidents: dict[int, dict[str, Any]]  # day -> SEV3 incident record (decoys)
    weeks: list[WeekScores] = field(default_factory=list)
    population: list[dict[str, Any]] = field(default_factory=list)
    churn: list[dict[str, Any]] = field(default_factory=list)  # truth: who cancelled when, from what loyalty


@dataclass(frozen=True)
class OutageWindow:
    """When an outage's customers complain: from ``first_minute`` to ``last_minute`` of ``day``."""

    product: str
    day: int
    first_minute: float
    last_minute: float

    @classmethod
    def of(cls, start: date, product: str, first: str, last: str) -> OutageWindow:
        t0, t1 = (datetime.fromisoformat(x.replace("Z", "+00:00")) for x in (first, last))
        day = (t0.date() - start).days
        midnight = datetime.combine(t0.date(), datetime.min.time(), t0.tzinfo)
        return cls(product, day, (t0 - midnight).total_seconds() / 60, (t1 - midnight).total_seconds() / 60)

    def contacts(self, customers: int) -> int:
        """Extra contacts from the product's customers over the window and its tail."""
        hours = (self.last_minute - self.first_minute) / 60
        return int(customers * OUTAGE_CONTACTS_PER_CUSTOMER_HOUR * hours / (1 - OUTAGE_TAIL_SHARE)) + 3

    def opening_minute(self, rng: random.Random) -> float:
        """A complaint's minute: flat over the window, a linearly falling hour after it."""
        if rng.random() < OUTAGE_TAIL_SHARE:
            minute = self.last_minute + 60 * (1 - math.sqrt(1 - rng.random()))
        else:
            minute = rng.uniform(self.first_minute, self.last_minute)
        return min(minute, 24 * 60 - 1)


def pick_emotion(rng: random.Random, topic: str, loyalty: float) -> str:
    """Opening emotion: the topic's mix, leaning negative for low and positive for high loyalty."""
    weights = P.TOPIC_EMOTIONS.get(topic, P.TOPIC_EMOTIONS["default"])
    names = list(weights)
    tilt = loyalty - EMOTION_PIVOT
    w = [weights[e] * math.exp(EMOTION_SLOPE[e] * tilt) for e in names]
    return rng.choices(names, weights=w)[0]


def nps_answer(rng: random.Random, loyalty: float) -> int:
    """The 0-10 answer a customer gives: their loyalty plus a little noise."""
    return int(_clamp(round(loyalty + rng.gauss(0, NPS_ANSWER_NOISE))))


def review_rating(rng: random.Random, loyalty: float) -> int:
    """A 1-5 star rating drawn from loyalty."""
    return int(_clamp(round(1 + loyalty * 0.42 + rng.gauss(0, 0.5)), 1, 5))


def csat_answer(rng: random.Random, loyalty: float) -> int:
    """A 1-5 CSAT answer drawn from loyalty."""
    return int(_clamp(round(0.8 + loyalty * 0.45 + rng.gauss(0, 0.6)), 1, 5))


def _week_start(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _pct(n: int, total: int) -> float:
    return 100.0 * n / total if total else 0.0


def _nps(classes: dict[str, int]) -> float | None:
    total = sum(classes.values())
    if not total:
        return None
    return round(_pct(classes["promoter"], total) - _pct(classes["detractor"], total), 2)


def plan_history(world: World) -> HistoryPlan:
    """Decide every conversation and move every customer's loyalty, day by day."""
    s = world.settings
    rng = random.Random(f"{s.seed}:plan")
    customers = world.customers
    ncust = len(customers)
    base = [_clamp(rng.gauss(BASELINE_MEAN, BASELINE_SD)) for _ in customers]
    loyalty = list(base)
    by_product: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(customers):
        by_product[c.product].append(i)
    sc = world.scenarios
    inc = sc["incident"]
    incident_day = (date.fromisoformat(inc["spike_dates"][0]) - s.start).days
    br = sc["bad_release"]
    bad_product = br["product"]
    bad_day = world.release_day[bad_product]
    upgrades: dict[int, list[int]] = defaultdict(list)  # day -> bad-product customers upgrading
    for i in by_product.get(bad_product, []):
        upgrades[int(math.ceil(bad_day + customers[i].upgrade_day))].append(i)
    upgraded_bad: list[int] = []
    em = sc["emerging_topic"]
    start_em = (date.fromisoformat(em["starts_on"]) - s.start).days
    slow_queue = sc["slow_queue"]["queue"]
    channels, channel_w = list(CHANNEL_WEIGHTS), list(CHANNEL_WEIGHTS.values())
    support_w = [CHANNEL_WEIGHTS[c] for c in SUPPORT_CHANNELS]
    repeats: dict[int, list[tuple[int, str]]] = defaultdict(list)
    churn_rng = random.Random(f"{s.seed}:churn")
    leaving: dict[int, list[int]] = defaultdict(list)  # day -> customers who cancel that day
    gone: set[int] = set()  # customers who decided to leave: no contact but their cancellation
    cancelled: set[int] = set()  # customers whose cancellation conversation has happened
    last_bad: dict[int, int] = {}  # customer -> day of their last unresolved conversation that opened negative

    plan = HistoryPlan(days=[], minor_incidents={})
    outage_windows = [OutageWindow.of(s.start, inc["product"], inc["complaints_from"], inc["ended_at"]),
                      OutageWindow.of(s.start, sc["dark_outage"]["product"], sc["dark_outage"]["started_at"],
                                      sc["dark_outage"]["ended_at"])]
    dark_day = outage_windows[1].day
    timing_rng, outage_rng = random.Random(f"{s.seed}:outage-times"), random.Random(f"{s.seed}:outage-contacts")
    active: set[int] = set()
    answers: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CLASSES, 0))
    products = list(P.PRODUCTS)

    for d in range(s.days):
        day = s.start + timedelta(days=d)
        if d == incident_day:
            for i in by_product.get(inc["product"], []):
                loyalty[i] = _clamp(loyalty[i] + HIT_INCIDENT)
        elif rng.random() < 0.15:  # a decoy: a minor incident that changes nothing
            product = rng.choice(products)
            minor = {"incident_id": f"INC-{d:04d}-M", "product": product,
                     "severity": "SEV3", "start_minute": rng.randint(0, 1300), "minutes": rng.randint(10, 90)}
            if not (d == dark_day and product == outage_windows[1].product):  # a decoy never explains the dark one
                plan.minor_incidents[d] = minor
        for i in upgrades.get(d, []):
            loyalty[i] = _clamp(loyalty[i] + HIT_BAD_RELEASE)
            upgraded_bad.append(i)

        weekday_factor = 0.6 if day.weekday() >= 5 else 1.0
        mean = ncust * CONTACT_RATE * weekday_factor
        n_conv = max(1, int(rng.gauss(mean, math.sqrt(mean) + 1)))
        todo: list[tuple[int, str | None, bool]] = [(rng.randrange(ncust), None, False) for _ in range(n_conv)]
        if d == incident_day and by_product.get(inc["product"]):
            pool = by_product[inc["product"]]
            extra = int(len(pool) * CONTACT_RATE * 4) + 3
            todo += [(rng.choice(pool), "outage", False) for _ in range(extra)]
        if d >= start_em and by_product.get(em["product"]):
            pool = by_product[em["product"]]
            share = min(1.5, 0.04 * 2 ** ((d - start_em) / 3))
            extra = int(len(pool) * CONTACT_RATE * share) + 1
            todo += [(rng.choice(pool), em["topic"], False) for _ in range(extra)]
        if upgraded_bad:  # bad release: upgraded customers come back more often
            extra = int(len(upgraded_bad) * CONTACT_RATE * 0.8)
            todo += [(rng.choice(upgraded_bad), br["topic"], False) for _ in range(extra)]
        todo += [(i, topic, True) for i, topic in repeats.pop(d, [])]

        todays: list[PlannedConversation] = []
        outages = [o for o in outage_windows if o.day == d]

        # a customer who has left is still drawn and planned (every random stream stays where it
        # would be without churn, so churn changes nothing else), but not recorded
        left: list[PlannedConversation] = []
        for i, forced, repeat in todo:
            conv = _plan_conversation(world, rng, d, len(todays), i, forced, repeat, loyalty, slow_queue,
                                      channels, channel_w, support_w, repeats)
            if conv is None:
                continue
            window = next((o for o in outages if o.product == customers[i].product), None)
            if forced == "outage" and window:
                conv.opens_at_minute = window.opening_minute(timing_rng)
            if i in gone:
                left.append(conv)
                continue
            _record(conv, todays, active, answers, customers, last_bad)
        for outage in outages:  # the rest of each outage's contacts: own streams, after the day's others
            pool = by_product.get(outage.product, [])
            timed = sum(c.opens_at_minute is not None for c in todays + left
                        if customers[c.customer].product == outage.product)
            for _ in range(max(0, outage.contacts(len(pool)) - timed) if pool else 0):
                i = outage_rng.choice(pool)
                conv = _plan_conversation(world, outage_rng, d, len(todays), i, "outage", False,
                                          loyalty, slow_queue, channels, channel_w, support_w, repeats)
                if conv is None:
                    continue
                conv.opens_at_minute = outage.opening_minute(timing_rng)
                if i not in gone:
                    _record(conv, todays, active, answers, customers, last_bad)
        for i in leaving.pop(d, []):
            _record(_plan_cancellation(world, churn_rng, d, len(todays), i, loyalty[i]), todays, active, answers,
                    customers, last_bad)
            cancelled.add(i)
        plan.days.append(todays)

        if day.weekday() == 6 and s.churn:
            _decide_churn(plan, world, churn_rng, d, loyalty, gone, leaving, last_bad)
        if day.weekday() == 6 or d == s.days - 1:
            _close_week(plan, world, _week_start(day), loyalty, base, active, answers, cancelled)
            active = set()
            answers.clear()
    _mark_trust_restored(plan)
    return plan


def _record(conv: PlannedConversation, todays: list[PlannedConversation], active: set[int],
            answers: dict[str, dict[str, int]], customers: Sequence[Any], last_bad: dict[int, int]) -> None:
    """Add a planned conversation to its day, its customer to the week's active ones, its NPS
    answer to the week's survey counts, and its day to the customer's last bad experience when
    it opened negative and was not resolved."""
    todays.append(conv)
    if conv.channel in SUPPORT_CHANNELS and conv.negative and not conv.resolved:
        last_bad[conv.customer] = conv.day
    active.add(conv.customer)
    if conv.survey and conv.survey[0] == "nps":
        answers[customers[conv.customer].product][nps_class(conv.survey[1])] += 1


def _plan_conversation(world: World, rng: random.Random, d: int, n: int, i: int, forced: str | None,
                       repeat: bool, loyalty: list[float], slow_queue: str, channels: list[str],
                       channel_w: list[float], support_w: list[float],
                       repeats: dict[int, list[tuple[int, str]]]) -> PlannedConversation | None:
    customer = world.customers[i]
    product = customer.product
    upgraded = d >= world.release_day[product] + customer.upgrade_day
    topic = forced or rng.choice(P.PRODUCT_TOPICS[product])
    queue = P.TOPICS[topic][0]
    if repeat:
        channel = rng.choices(SUPPORT_CHANNELS, weights=support_w)[0]
    else:
        channel = rng.choices(channels, weights=channel_w)[0]
    if forced == "outage":
        channel = rng.choice(["chat", "social", "ticket", "call", "social"])
    score = loyalty[i]
    emotion = pick_emotion(rng, topic, score)
    agent = rng.choice(world.agents[queue])
    conv = PlannedConversation(day=d, n=n, customer=i, topic=topic, queue=queue, agent=agent,
                               channel=channel, emotion=emotion, upgraded=upgraded,
                               loyalty=round(score, 3), repeat=repeat)
    if channel == "survey":  # a survey invitation: answered or not, by NPS class
        if rng.random() >= RESPONSE_RATE[nps_class(score)]:
            return None
        kind = "nps" if rng.random() < 0.7 else "csat"
        conv.survey = (kind, nps_answer(rng, score) if kind == "nps" else csat_answer(rng, score))
        return conv
    if channel == "review":
        conv.rating = review_rating(rng, score)
        return conv
    empathy = world.empathy[agent]
    slow = queue == slow_queue
    p_resolved = 0.45 + 0.35 * empathy - (0.15 if slow else 0) - (0.1 if topic == "outage" else 0)
    conv.resolved = rng.random() < p_resolved
    delta = (GAIN_RESTORED if conv.negative else GAIN_RESOLVED) if conv.resolved else HIT_UNRESOLVED
    if slow:
        delta += HIT_SLOW_QUEUE
    if empathy < CURT_EMPATHY:
        delta += HIT_CURT_AGENT
    loyalty[i] = _clamp(score + delta)
    if not conv.resolved and conv.negative and rng.random() < REPEAT_CONTACT_RATE:
        repeats[d + rng.randint(1, TRUST_WINDOW_DAYS - 1)].append((i, topic))
    if rng.random() < FOLLOWUP_INVITE_RATE and rng.random() < RESPONSE_RATE[nps_class(loyalty[i])]:
        conv.survey = ("nps", nps_answer(rng, loyalty[i]))
    return conv


def _decide_churn(plan: HistoryPlan, world: World, rng: random.Random, d: int, loyalty: list[float],
                  gone: set[int], leaving: dict[int, list[int]], last_bad: dict[int, int]) -> None:
    """At day ``d``'s close (a Sunday): who decides to leave, from their loyalty and their last
    bad experience (``churn_hazard``); each cancels on a day of the next week (truth only when
    that day is in the history)."""
    s = world.settings
    week = str(_week_start(s.start + timedelta(days=d)))
    for i, customer in enumerate(world.customers):
        bad = last_bad.get(i)
        if i in gone or rng.random() >= churn_hazard(loyalty[i], None if bad is None else d - bad):
            continue
        day = d + 1 + rng.randrange(7)
        if day < s.days:  # one who would cancel after the history's end stays in it
            gone.add(i)
            leaving[day].append(i)
            plan.churn.append({"customer_id": customer.id, "product": customer.product, "decided_week_start": week,
                               "loyalty_at_decision": round(loyalty[i], 3),
                               "cancelled_on": str(s.start + timedelta(days=day))})


def _plan_cancellation(world: World, rng: random.Random, d: int, n: int, i: int,
                       loyalty: float) -> PlannedConversation:
    """A leaving customer's cancellation conversation (drawn from the churn stream): a support
    channel, the accounts queue, an agent who confirms it; it moves no loyalty."""
    customer = world.customers[i]
    queue = P.TOPICS[CANCELLATION_TOPIC][0]
    return PlannedConversation(
        day=d, n=n, customer=i, topic=CANCELLATION_TOPIC, queue=queue, agent=rng.choice(world.agents[queue]),
        channel=rng.choice(CANCELLATION_CHANNELS), emotion=pick_emotion(rng, CANCELLATION_TOPIC, loyalty),
        upgraded=d >= world.release_day[customer.product] + customer.upgrade_day, loyalty=round(loyalty, 3),
        resolved=True)


def _close_week(plan: HistoryPlan, world: World, week: date, loyalty: list[float], base: list[float],
                active: set[int], answers: dict[str, dict[str, int]], cancelled: set[int]) -> None:
    """Record every customer's week-end score and the product's true and surveyed NPS (customers
    who left are no longer counted); drift."""
    wk = str(week)
    true_active: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CLASSES, 0))
    true_all: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CLASSES, 0))
    scores = [round(x, 3) for x in loyalty]
    plan.weeks.append(WeekScores(wk, scores, set(active), frozenset(cancelled)))
    for i, c in enumerate(world.customers):
        if i in cancelled and i not in active:  # a customer active in their cancellation week still counts
            continue
        cls = nps_class(scores[i])
        true_all[c.product][cls] += 1
        if i in active:
            true_active[c.product][cls] += 1
        loyalty[i] += WEEKLY_DRIFT * (base[i] - loyalty[i])
    for product in P.PRODUCTS:
        act = true_active[product]
        surveyed = answers.get(product, dict.fromkeys(CLASSES, 0))
        plan.population.append({
            "product": product, "week_start": wk,
            "active_customers": sum(act.values()), "true_nps": _nps(act),
            "true_promoters": act["promoter"], "true_passives": act["passive"], "true_detractors": act["detractor"],
            "all_customers_nps": _nps(true_all[product]),
            "respondents": sum(surveyed.values()), "respondents_nps": _nps(surveyed),
            "respondent_promoters": surveyed["promoter"], "respondent_passives": surveyed["passive"],
            "respondent_detractors": surveyed["detractor"]})


def _mark_trust_restored(plan: HistoryPlan) -> None:
    """Trust restored = opened negative, ended well, and the customer did not come back on the
    same topic (support channels) within TRUST_WINDOW_DAYS days."""
    seen: dict[tuple[int, str], int] = {}  # (customer, topic) -> day of the next contact
    for todays in reversed(plan.days):
        for conv in reversed(todays):
            if conv.channel not in SUPPORT_CHANNELS:
                continue
            key = (conv.customer, conv.topic)
            nxt = seen.get(key)
            conv.trust_restored = (conv.negative and conv.resolved
                                   and (nxt is None or nxt - conv.day > TRUST_WINDOW_DAYS))
            seen[key] = conv.day


def survey_bias(population: list[dict[str, Any]]) -> dict[str, Any]:
    """Pooled true NPS of active customers against the respondents' NPS, over all product-weeks."""
    true = {k: sum(r[f"true_{k}s"] for r in population) for k in ("promoter", "passive", "detractor")}
    resp = {k: sum(r[f"respondent_{k}s"] for r in population) for k in ("promoter", "passive", "detractor")}
    t, r = _nps(true), _nps(resp)
    return {"response_rate": RESPONSE_RATE, "true_nps": t, "respondents_nps": r,
            "respondents": sum(resp.values()), "active_customer_weeks": sum(true.values()),
            "gap": None if t is None or r is None else round(r - t, 2)}
