"""The generator's ground truth: latent loyalty, planted survey non-response bias, truth tables
whose ids match silver's, decoys, and text realism."""

import csv
import dataclasses
import json
import re
import statistics
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from voicelake.generator import GeneratorSettings, generate_history
from voicelake.generator import phrases as P
from voicelake.generator.history import build_world
from voicelake.generator.plan import (
    CANCELLATION_CHANNELS,
    CANCELLATION_TOPIC,
    SUPPORT_CHANNELS,
    TRUST_WINDOW_DAYS,
    churn_hazard,
    nps_class,
    plan_history,
)
from voicelake.models.churn import DEFAULT_CANCELLATION_PATTERN


def _settings(root: Path, days: int = 28, customers: int = 1000, seed: int = 42) -> GeneratorSettings:
    return GeneratorSettings(days=days, customers=customers, seed=seed, start=date(2026, 1, 1),
                             landing=root / "landing", answers=root / "generator" / "answers.json", workers=2)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("truth")
    generate_history(_settings(root))  # the default `make run` sample: 28 days x 1,000 customers
    return root, json.loads((root / "generator" / "answers.json").read_text())


def _truth(root: Path, name: str) -> list[dict[str, Any]]:
    return _jsonl(root / "generator" / "truth" / f"{name}.jsonl")


def _landing(root: Path, source: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for f in sorted((root / "landing" / source).glob("*")):
        if f.suffix == ".csv":
            rows += list(csv.DictReader(f.read_text().splitlines()))
        else:
            rows += _jsonl(f)
    return rows


def _silver_ids(root: Path) -> tuple[set[str], set[str]]:
    """(message ids, conversation ids) as jobs/transforms/silver.py builds them from landing."""
    msgs: set[str] = set()
    convs: set[str] = set()
    for t in _landing(root, "tickets"):
        convs.add(f"ticket:{t['ticket_id']}")
        msgs.add(f"ticket:{t['ticket_id']}:description")
    msgs |= {f"ticket:{c['comment_id']}" for c in _landing(root, "ticket_comments")}
    for source, mid, cid, channel in (("chat_messages", "message_id", "chat_id", "chat"),
                                      ("emails", "email_id", "thread_id", "email"),
                                      ("call_utterances", "utterance_id", "call_id", "call"),
                                      ("social_posts", "post_id", "thread_id", "social")):
        for r in _landing(root, source):
            msgs.add(f"{channel}:{r[mid]}")
            convs.add(f"{channel}:{r[cid]}")
    for r in _landing(root, "reviews"):
        msgs.add(f"review:{r['review_id']}")
        convs.add(f"review:{r['review_id']}")
    for r in _landing(root, "surveys"):
        convs.add(f"survey:{r['response_id']}")
        if r["verbatim"].strip():
            msgs.add(f"survey:{r['response_id']}")
    return msgs, convs


def test_truth_ids_match_what_silver_builds_from_the_landing_files(history: tuple[Path, dict[str, Any]]) -> None:
    root, answers = history
    msgs, convs = _silver_ids(root)
    truth_msgs = _truth(root, "messages")
    truth_convs = _truth(root, "conversations")
    assert {m["message_id"] for m in truth_msgs} == msgs
    assert len(truth_msgs) == len(msgs) == answers["messages"]
    assert {c["conversation_id"] for c in truth_convs} == convs
    assert set(answers["truth"]) == {"customer_weeks", "conversations", "messages", "population_nps", "churn"}
    assert {m["role"] for m in truth_msgs} == {"customer", "agent", "bot"}
    assert {m["emotion"] for m in truth_msgs} <= set(P.EMOTION_LINES)


def test_customer_weeks_cover_every_customer_and_week(history: tuple[Path, dict[str, Any]]) -> None:
    root, _ = history
    weeks = _truth(root, "customer_weeks")
    starts = sorted({w["week_start"] for w in weeks})
    assert starts[0] == "2025-12-29" and len(starts) == 5  # 2026-01-01 is a Thursday; 28 days span 5 weeks
    assert len(weeks) == 1000 * len(starts)
    assert all(0 <= w["latent_score"] <= 10 and w["nps_class"] == nps_class(w["latent_score"]) for w in weeks)
    active = [w for w in weeks if w["active"]]
    assert 0 < len(active) < len(weeks)


def test_opening_emotions_reviews_and_survey_answers_follow_loyalty(history: tuple[Path, dict[str, Any]]) -> None:
    root, _ = history
    convs = _truth(root, "conversations")
    # conversations on topics with the default emotion mix, so only loyalty tilts the emotion
    support = [c for c in convs if c["channel"] in SUPPORT_CHANNELS and c["topic"] not in P.TOPIC_EMOTIONS]
    low = [c["started_negative"] for c in support if c["loyalty_at_open"] < 5]
    high = [c["started_negative"] for c in support if c["loyalty_at_open"] >= 8.5]
    assert len(low) > 30 and len(high) > 30
    assert statistics.mean(low) > statistics.mean(high) + 0.3
    reviews = [c for c in convs if c["channel"] == "review"]
    low_rated = [c["rating"] for c in reviews if c["loyalty_at_open"] < 6]
    assert len(low_rated) >= 5
    assert statistics.mean(low_rated) + 1.0 < statistics.mean(c["rating"] for c in reviews
                                                               if c["loyalty_at_open"] >= 8.5)
    invited = [c for c in convs if c["channel"] == "survey" and c["follows"] is None and c["survey_kind"] == "nps"]
    assert invited and statistics.mean(abs(c["score"] - c["loyalty_at_open"]) for c in invited) < 1.0


def test_survey_nonresponse_bias_is_planted(history: tuple[Path, dict[str, Any]]) -> None:
    root, answers = history
    bias = answers["scenarios"]["survey_nonresponse"]
    assert abs(bias["gap"]) >= 15
    population = _truth(root, "population_nps")
    assert len(population) == 4 * 5
    assert sum(r["respondents"] for r in population) == bias["respondents"]
    resp_passive = sum(r["respondent_passives"] for r in population) / bias["respondents"]
    true_passive = sum(r["true_passives"] for r in population) / bias["active_customer_weeks"]
    assert resp_passive < true_passive / 2  # the middle rarely answers
    answered = [c for c in _truth(root, "conversations") if c["channel"] == "survey" and c["survey_kind"] == "nps"]
    assert len(answered) == bias["respondents"]


def test_trust_restored_follows_its_definition(history: tuple[Path, dict[str, Any]]) -> None:
    root, _ = history
    convs = [c for c in _truth(root, "conversations") if c["channel"] in SUPPORT_CHANNELS]
    contacts: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)  # (day, position in the day)
    for c in convs:
        contacts[(c["customer_id"], c["topic"])].append((c["day"], c["n"]))
    for c in convs:
        came_back = any((c["day"], c["n"]) < (d, n) and d <= c["day"] + TRUST_WINDOW_DAYS
                        for d, n in contacts[(c["customer_id"], c["topic"])])
        expected = c["started_negative"] and c["resolved"] and not came_back
        assert c["trust_restored"] == expected, c["conversation_id"]
    assert sum(c["trust_restored"] for c in convs) > 50
    assert sum(c["repeat_contact"] for c in convs) > 10  # unresolved conversations come back


def test_planted_events_move_loyalty() -> None:
    world = build_world(_settings(Path("/nonexistent"), days=28, customers=3000))
    weeks: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for week in plan_history(world).weeks:
        for customer, score in zip(world.customers, week.scores, strict=True):
            weeks[customer.product][week.week_start].append(score)
    change = {p: statistics.mean(w["2026-01-19"]) - statistics.mean(w["2025-12-29"]) for p, w in weeks.items()}
    # the bad release (Nimbus Router 3.2, upgrades from day 9) and the incident (Orbit Cloud, day 16)
    assert change["Nimbus Router"] < min(change["Atlas App"], change["Pulse Thermostat"]) - 0.5
    assert change["Orbit Cloud"] < min(change["Atlas App"], change["Pulse Thermostat"]) - 0.3
    # curt agents lower loyalty: the same world without them ends higher
    kind = dataclasses.replace(world, empathy={a: max(e, 0.5) for a, e in world.empathy.items()})
    final = plan_history(world).weeks[-1].scores
    final_kind = plan_history(kind).weeks[-1].scores
    assert statistics.mean(final_kind) > statistics.mean(final) + 0.02


def test_decoys_are_listed_and_change_nothing(history: tuple[Path, dict[str, Any]]) -> None:
    root, answers = history
    decoys = answers["scenarios"]["decoys"]
    bad = answers["scenarios"]["bad_release"]
    assert decoys["releases"] and all(r["product"] != bad["product"] for r in decoys["releases"])
    landed = {r["release_id"] for r in _landing(root, "releases")}
    assert {r["release_id"] for r in decoys["releases"]} <= landed
    minor = {r["incident_id"]: r for r in _landing(root, "incidents") if r["severity"] == "SEV3"}
    assert minor and {d["incident_id"] for d in decoys["incidents"]} == set(minor)


def test_text_has_negation_sarcasm_quoted_history_and_pii_formats(history: tuple[Path, dict[str, Any]]) -> None:
    root, _ = history
    bodies = [e["body"] for e in _landing(root, "emails")]
    assert any("\n> On " in b for b in bodies)  # replies quoting the previous mail
    texts = " ".join(bodies + [c["text"] for c in _landing(root, "chat_messages")]).lower()
    assert "not happy" in texts or "not exactly thrilled" in texts
    planted = {k for m in _truth(root, "messages") if "pii" in m for k in m["pii"].split(",")}
    assert {"email_phone", "phone", "iban", "address", "name"} <= planted
    tones = {m["agent_tone"] for m in _truth(root, "messages") if m["role"] == "agent"}
    assert tones == {"empathy", "curt", "neutral"}


def test_customers_turn_angry_after_curt_replies(history: tuple[Path, dict[str, Any]]) -> None:
    root, _ = history
    negative = {c["conversation_id"] for c in _truth(root, "conversations") if c["started_negative"]}
    after: dict[str, list[bool]] = defaultdict(list)  # agent tone -> is the next customer turn angry
    previous: dict[str, Any] = {}
    for m in _truth(root, "messages"):  # in conversation order
        if m["conversation_id"] not in negative:
            continue
        prev = previous.get(m["conversation_id"])
        if m["role"] == "customer" and prev is not None and prev["role"] == "agent":
            after[prev["agent_tone"]].append(m["emotion"] == "anger")
        previous[m["conversation_id"]] = m
    assert len(after["curt"]) > 20 and len(after["empathy"]) > 20
    assert statistics.mean(after["curt"]) > statistics.mean(after["empathy"]) + 0.2


def test_every_day_plants_every_pii_format(tmp_path: Path) -> None:
    generate_history(_settings(tmp_path, days=3, customers=300))
    for day in ("2026-01-01", "2026-01-02", "2026-01-03"):
        text = " ".join(f.read_text() for f in (tmp_path / "landing").glob(f"*/{day}.jsonl"))
        assert "4539 1488 0343 6467" in text and "DE89 3704" in text and "@example.com" in text, day


def test_churn_is_planted_from_loyalty_with_a_confirmed_cancellation(history: tuple[Path, dict[str, Any]]) -> None:
    """Customers leave with a hazard that rises as loyalty falls, cancel in one conversation an
    agent confirms in words the default cancellation pattern finds (and no other agent message
    matches), and never contact support again."""
    root, answers = history
    assert churn_hazard(2) > 0.08 > 0.03 > churn_hazard(5) > churn_hazard(6) > 0.003 > 0.0004 > churn_hazard(8)
    assert churn_hazard(5, 0) == pytest.approx(4 * churn_hazard(5)) and churn_hazard(5, 60) < 1.05 * churn_hazard(5)
    assert churn_hazard(1, 0) == 0.2  # capped
    churn = _truth(root, "churn")
    assert answers["scenarios"]["churn"]["customers"] == len(churn) >= 10
    start = date(2026, 1, 1)
    convs = _truth(root, "conversations")
    by_customer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in convs:
        by_customer[c["customer_id"]].append(c)
    for left in churn:
        own = by_customer[left["customer_id"]]
        [cancel] = [c for c in own if c["topic"] == CANCELLATION_TOPIC]
        assert str(start + timedelta(days=cancel["day"])) == left["cancelled_on"]
        assert cancel["channel"] in CANCELLATION_CHANNELS and cancel["resolved"]
        decided_on = date.fromisoformat(left["decided_week_start"]) + timedelta(days=6)  # that week's Sunday
        assert 1 <= (date.fromisoformat(left["cancelled_on"]) - decided_on).days <= 7
        assert all(start + timedelta(days=c["day"]) <= decided_on for c in own if c is not cancel)
    assert sum(c["topic"] == CANCELLATION_TOPIC for c in convs) == len(churn)
    weeks = _truth(root, "customer_weeks")
    everyone = statistics.mean(w["latent_score"] for w in weeks)
    assert statistics.mean(c["loyalty_at_decision"] for c in churn) < everyone - 3.0
    cancelled_on = {c["customer_id"]: c["cancelled_on"] for c in churn}
    for w in weeks:  # churned: cancelled by the week's end
        week_end = str(date.fromisoformat(w["week_start"]) + timedelta(days=6))
        assert w["churned"] == (cancelled_on.get(w["customer_id"], "9999") <= week_end), w
    pattern = re.compile(DEFAULT_CANCELLATION_PATTERN)
    cancelling = {c["conversation_id"].removeprefix("chat:") for c in convs if c["topic"] == CANCELLATION_TOPIC}
    agent = [m for m in _landing(root, "chat_messages") if m["author_role"] == "agent"]
    matched = {m["chat_id"] for m in agent if pattern.search(m["text"])}
    assert matched == {m["chat_id"] for m in agent if m["chat_id"] in cancelling} and matched
    customers = [m["text"] for m in _landing(root, "chat_messages") if m["author_role"] == "customer"]
    assert any("cancelling" in t.lower() for t in customers)  # threats to leave, which are no churn

