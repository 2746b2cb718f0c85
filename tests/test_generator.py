import json
from datetime import date
from pathlib import Path

import pytest

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
    assert set(answers["scenarios"]) == {"incident", "bad_release", "emerging_topic", "slow_queue", "backlog",
                                         "agent_empathy", "nps_passives", "decoys", "survey_nonresponse",
                                         "dark_outage", "silent_incident", "churn"}
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


@pytest.mark.parametrize("late, update", [(0.2, 0.0), (0.0, 0.5)])
def test_generator_late_files_are_seeded(tmp_path: Path, late: float, update: float) -> None:
    def run(name: str) -> dict[str, bytes]:
        root = tmp_path / name
        generate_history(GeneratorSettings(days=2, customers=400, seed=9, start=date(2026, 2, 2), landing=root,
                                           answers=tmp_path / f"{name}.json", workers=1,
                                           late_rate=late, update_rate=update))
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.*"))}
    a, b = run("a"), run("b")
    assert a == b
    late_files = [name for name in a if ".late-from-" in name]
    assert late_files and all(name.split("/")[-1][:10] > name.split("-from-")[1][:10] for name in late_files)
    if update:  # a solved ticket first exported open comes again, solved, in the late file
        updates = [body for name, body in a.items() if name.startswith("tickets/") and ".late-from-" in name]
        assert updates and all(b'"status": "solved"' in body for body in updates)
