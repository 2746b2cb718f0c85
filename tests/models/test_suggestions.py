"""The suggestion detector: SemEval files are read as published, a message is a suggestion
when one of its sentences is, and train -> register -> promote works offline on the seed set
with the default encoder (what a fresh machine without ../shared has). Its F1 on SemEval's
trial-test file and against the TF-IDF baseline is measured by bench/bench_suggestions.py."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import mlflow
import numpy as np
import pytest

from tests.conftest import make_config
from voicelake.config import ConfigError, load_config
from voicelake.models.registry import configure_mlflow, version_by_alias
from voicelake.models.suggestion_registry import list_suggestion_versions, train_suggestions
from voicelake.models.suggestions import (
    best_threshold,
    load_semeval,
    message_suggestions,
    suggestion_training_data,
)


def test_semeval_files_are_read_with_their_extra_quotes_stripped(tmp_path: Path) -> None:
    with_header = tmp_path / "trial.csv"
    with_header.write_text('id,sentence,label\n1,"""Please enable dark mode.""",1\n'
                           '2,"""It works, thanks.""",0\n')
    without = tmp_path / "train.csv"
    without.write_text('9_1,"""Why not add an ""export"" button?""",1\n9_2,"""Nothing to add""",0\n')
    assert load_semeval(with_header).values.tolist() == [["Please enable dark mode.", 1], ["It works, thanks.", 0]]
    assert load_semeval(without).values.tolist() == [['Why not add an "export" button?', 1], ["Nothing to add", 0]]
    empty = tmp_path / "empty.csv"
    empty.write_text("id,sentence,label\n")
    with pytest.raises(ValueError, match="no `id,sentence,label` rows"):
        load_semeval(empty)


def test_without_shared_data_the_seed_set_trains_and_a_stable_part_of_it_evaluates(tmp_path: Path) -> None:
    data = suggestion_training_data(str(tmp_path / "absent"))
    again = suggestion_training_data(None)
    assert data.sources == ("seed",) and data.eval_name == "seed_heldout"
    assert set(data.train["text"]).isdisjoint(data.eval["text"]) and set(data.dev["text"]).isdisjoint(
        data.eval["text"])
    assert list(data.eval["text"]) == list(again.eval["text"])  # the same split on every machine
    assert set(data.eval["label"]) == {0, 1} and set(data.train["label"]) == {0, 1}


def test_a_message_is_a_suggestion_when_one_of_its_sentences_is() -> None:
    def probability(sentences: list[str]) -> np.ndarray:
        return np.array([0.9 if "would be great" in s else 0.1 for s in sentences])

    out = message_suggestions(["The app crashed again. It would be great to have auto-save! Thanks for looking.",
                               "The app crashed again.", None, "   "], probability, threshold=0.5)
    assert out["is_suggestion"].tolist() == [True, False, False, False]
    assert out["suggestion_sentence"].tolist() == ["It would be great to have auto-save!", None, None, None]
    assert out["suggestion_probability"].tolist()[:2] == [0.9, 0.1]
    assert out["suggestion_probability"].isna().tolist()[2:] == [True, True]  # nothing to read: no score


def test_quoted_replies_are_not_read_and_the_seed_set_gets_its_share_of_the_weight() -> None:
    from voicelake.models.pyfunc import strip_quoted_reply
    from voicelake.models.suggestions import training_weights

    mail = ("Thanks, that worked.\n\n> On Mon, 5 Jan 2026 at 10:00, Support wrote:\n"
            "> Great idea, I've added your vote.\n> > Please add a dark mode.")
    assert strip_quoted_reply(mail) == "Thanks, that worked."
    assert strip_quoted_reply("Hi.\nOn Tue, 6 Jan 2026, Anna wrote:\nPlease add a dark mode.") == "Hi."
    assert strip_quoted_reply("Please add an export. -----Original Message----- x") == (
        "Please add an export. -----Original Message----- x")  # a header only counts on its own line
    assert strip_quoted_reply(None) is None
    out = message_suggestions([mail], lambda s: np.array([0.9 if "dark mode" in x else 0.1 for x in s]), 0.5)
    assert out["is_suggestion"].tolist() == [False]  # the suggestion is in the quote
    import pandas as pd

    weights = training_weights(pd.Series(["semeval"] * 80 + ["seed"] * 20), 0.2)
    assert weights[:80].sum() == 80 and weights[80:].sum() == pytest.approx(20.0)  # 20 of 100
    assert training_weights(pd.Series(["seed"] * 5), 0.2).tolist() == [1.0] * 5


def test_the_threshold_is_the_one_with_the_best_f1() -> None:
    labels = [0, 0, 0, 1, 1, 0, 1]
    p = np.array([0.1, 0.2, 0.35, 0.4, 0.8, 0.85, 0.9])
    assert best_threshold(labels, p) == pytest.approx(0.4)


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="suggestions: unknown keys"):
        load_config("local", overrides={"suggestions": {"threshold": 0.5}})
    with pytest.raises(ConfigError, match="dev_fraction"):
        load_config("local", overrides={"suggestions": {"dev_fraction": 0.7}})


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A detector trained on the seed set alone (no ../shared), registered and promoted."""
    config = make_config(tmp_path_factory.mktemp("suggestions"))
    config = replace(config, suggestions=replace(config.suggestions, data_dir=None))
    configure_mlflow(config)
    lines: list[str] = []
    return config, train_suggestions(config, log=lines.append), lines


def test_the_seed_set_alone_trains_registers_and_promotes_a_detector(seeded) -> None:  # type: ignore[no-untyped-def]
    config, first, lines = seeded
    assert first.sources == ("seed",) and first.version == "1"
    assert 0.0 <= first.metrics["eval_f1"] <= 1.0 and 0.0 <= first.metrics["baseline_eval_f1"] <= 1.0
    name = config.suggestions.model_name
    assert str(version_by_alias(config, config.mlflow.challenger_alias, name).version) == "1"
    champion = version_by_alias(config, config.mlflow.champion_alias, name)
    # the first version is champion only if it beat the TF-IDF baseline on the held-out seed sentences
    assert (champion is not None) == first.promoted == (first.metrics["eval_f1"] > first.metrics["baseline_eval_f1"])
    assert any("TF-IDF baseline F1" in line for line in lines)
    # the registered pyfunc gives the same decisions as the detector it was trained as
    model = mlflow.pyfunc.load_model(f"models:/{name}/1")
    import pandas as pd

    texts = ["It would be really nice if the app let me choose a theme.", "My bill is wrong again.",
             "Thanks, it works now. Maybe you could also add a night mode?"]
    out = model.predict(pd.DataFrame({"text": texts}))
    assert list(out.columns) == ["is_suggestion", "suggestion_probability", "suggestion_sentence"]
    assert out["is_suggestion"].tolist() == [True, False, True]
    assert out["suggestion_sentence"].iloc[2] == "Maybe you could also add a night mode?"
    rows = list_suggestion_versions(config)
    assert [(r["version"], r["trained_on"], r["eval_set"]) for r in rows] == [(1, "seed", "seed_heldout")]


def test_an_equal_challenger_does_not_replace_the_champion(seeded) -> None:  # type: ignore[no-untyped-def]
    config, first, _ = seeded
    second = train_suggestions(config, log=lambda _: None)
    assert second.version == "2" and second.metrics["eval_f1"] == pytest.approx(first.metrics["eval_f1"])
    champion = version_by_alias(config, config.mlflow.champion_alias, config.suggestions.model_name)
    if first.promoted:  # the same data and seed: not better than the champion, which stays
        assert not second.promoted and str(champion.version) == "1" and "champion v1" in second.reason
    else:
        assert not second.promoted and champion is None and "baseline" in second.reason


def test_scoring_reads_customer_messages_with_the_champion_once(seeded, spark) -> None:  # type: ignore[no-untyped-def]
    """`voicelake score`'s suggestion step: customer messages only, each once per detector
    version, with the version on the row; nothing without a champion."""
    from datetime import date

    from voicelake.jobs.score import score_suggestions
    from voicelake.lake import Lake
    from voicelake.runtime import JobContext
    from voicelake.schemas import SILVER_MESSAGE_SUGGESTIONS, SILVER_MESSAGES

    config, first, _ = seeded
    ctx = JobContext(config, spark, Lake(spark, config))
    day = date(2026, 1, 5)
    rows = [("m1", "customer", "It would be great if the app had an offline mode."),
            ("m2", "customer", "My order never arrived."),
            ("m3", "agent", "You could try restarting it, maybe add a new password too."),
            ("m4", "customer", "")]
    ctx.lake.overwrite(spark.createDataFrame([(*r, day) for r in rows],
                                             "message_id string, author_role string, text string, sent_date date"),
                       SILVER_MESSAGES, partition_by=["sent_date"])
    champion = version_by_alias(config, config.mlflow.champion_alias, config.suggestions.model_name)
    result = score_suggestions(ctx, day=day)
    if champion is None:
        assert result is None and not ctx.lake.exists(SILVER_MESSAGE_SUGGESTIONS)
        return
    assert result is not None and (result.scored, result.skipped) == (3, 0)
    out = {r["message_id"]: r for r in ctx.lake.read(SILVER_MESSAGE_SUGGESTIONS).collect()}
    assert set(out) == {"m1", "m2", "m4"}  # agents' messages are not read
    assert out["m1"]["is_suggestion"] and not out["m2"]["is_suggestion"] and not out["m4"]["is_suggestion"]
    assert out["m1"]["suggestion_sentence"] == rows[0][2] and out["m4"]["suggestion_probability"] is None
    assert {r["model_version"] for r in out.values()} == {str(champion.version)}
    again = score_suggestions(ctx, day=day)
    assert again is not None and (again.scored, again.skipped) == (0, 3)
