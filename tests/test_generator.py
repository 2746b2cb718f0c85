import json
from datetime import date
from pathlib import Path

from voicelake.generator import GeneratorSettings, generate_history


def settings(tmp: Path, seed: int = 3, malformed: float = 0.0, customers: int = 400) -> GeneratorSettings:
    return GeneratorSettings(days=6, customers=customers, seed=seed, start=date(2026, 1, 1),
                             landing=tmp / "landing", answers=tmp / "answers.json",
                             malformed_rate=malformed, workers=2)


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.*"))}


def test_same_seed_same_history(tmp_path: Path) -> None:
    generate_history(settings(tmp_path / "a"))
    generate_history(settings(tmp_path / "b"))
    generate_history(settings(tmp_path / "c", seed=4))
    a, b, c = (files(tmp_path / x / "landing") for x in "abc")
    assert a == b
    assert a != c
    truth = [files(tmp_path / x / "truth") for x in "abc"]
    assert truth[0] == truth[1] and truth[0] and truth[0] != truth[2]


def test_every_source_and_scenario_is_written(tmp_path: Path) -> None:
    summary = generate_history(settings(tmp_path))
    answers = json.loads((tmp_path / "answers.json").read_text())
    assert set(answers["scenarios"]) == {"incident", "bad_release", "emerging_topic", "slow_queue",
                                         "agent_empathy", "nps_passives", "decoys", "survey_nonresponse"}
    landed = {p.name for p in (tmp_path / "landing").iterdir()}
    assert {"tickets", "ticket_comments", "chat_messages", "emails", "call_utterances", "social_posts",
            "reviews", "releases", "incidents"} <= landed
    assert summary["messages"] > 100
    incident = answers["scenarios"]["incident"]
    lines = (tmp_path / "landing" / "incidents" / f"{incident['spike_dates'][0]}.csv").read_text()
    assert incident["incident_id"] in lines
    chats = (tmp_path / "landing" / "chat_messages").glob("*.jsonl")
    texts = [json.loads(line)["text"] for f in chats for line in f.read_text().splitlines()]
    assert len(set(texts)) > 0.5 * len(texts)  # real variety, not a handful of strings


def test_malformed_records_are_counted_in_the_answer_file(tmp_path: Path) -> None:
    generate_history(settings(tmp_path, malformed=0.05, customers=600))  # enough records for every kind
    answers = json.loads((tmp_path / "answers.json").read_text())
    kinds = {k for per_source in answers["malformed"].values() for k in per_source}
    assert {"invalid_json", "missing_required", "bad_timestamp", "oversized_text"} <= kinds
