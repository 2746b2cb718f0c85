from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from voicelake.models.datasets import load_goemotions, load_seed, parse_maia, split_by_group
from voicelake.models.pyfunc import prepare_text
from voicelake.models.taxonomy import load_taxonomy
from voicelake.models.train import classification_metrics

TAX = load_taxonomy()
SHARED = Path(__file__).parents[2].parent / "shared" / "data"


def test_taxonomy_and_valence() -> None:
    assert TAX.labels == ("anger", "frustration", "disappointment", "anxiety", "confusion", "gratitude",
                          "joy", "empathy", "neutral")
    probs = np.zeros((3, 9))
    probs[0, TAX.index("gratitude")] = 1
    probs[1, TAX.index("anger")] = 0.5
    probs[1, TAX.index("joy")] = 0.2
    probs[1, TAX.index("neutral")] = 0.3
    probs[2, TAX.index("empathy")] = 1
    assert TAX.valence(probs).tolist() == pytest.approx([1.0, -0.3, 0.0])
    assert TAX.map_label("goemotions", "annoyance") == "frustration"
    assert TAX.map_label("maia", "happiness") == "joy"
    with pytest.raises(ValueError):
        TAX.check_labels(["joy", "anger"])


def test_seed_set_covers_every_label() -> None:
    seed = load_seed()
    assert set(seed["label"]) == set(TAX.labels)
    assert seed["label"].value_counts().min() >= 10


def test_split_by_group_is_deterministic_and_keeps_groups_together() -> None:
    df = pd.DataFrame({"text": [f"t{i}" for i in range(200)], "label": "neutral", "source": "x",
                       "group": [f"g{i // 4}" for i in range(200)]})
    rest, held = split_by_group(df, 0.3, "salt")
    rest2, held2 = split_by_group(df, 0.3, "salt")
    assert held.equals(held2) and not set(rest["group"]) & set(held["group"])
    assert 0.15 < len(held) / len(df) < 0.45


def test_macro_f1_ignores_labels_absent_from_truth() -> None:
    m = classification_metrics(["joy", "joy", "anger"], ["joy", "anger", "anger"], TAX.labels)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 2 / 3) / 2)
    assert "f1_neutral" not in m


@pytest.mark.parametrize("text, status", [
    ("", "empty"), ("  \n", "empty"), (None, "empty"), ("🙏", "emoji"), ("Hello", "ok"), ("ok 👍", "ok")])
def test_prepare_text(text: object, status: str) -> None:
    prepared, got = prepare_text(text)
    assert got == status
    if status == "emoji":
        assert "thank you" in prepared


@pytest.mark.skipif(not (SHARED / "goemotions").exists(), reason="../shared/data not present on this machine")
def test_public_and_in_domain_data_map_into_the_taxonomy() -> None:
    dev = load_goemotions(SHARED / "goemotions", "dev", TAX)
    assert len(dev) > 5000 and set(dev["label"]) == set(TAX.labels)
    maia = parse_maia(SHARED / "maia_dqe" / "de_client_02.json", TAX)
    assert set(maia["role"]) == {"customer", "agent"}
    assert set(maia["label"]) <= set(TAX.labels) and maia["item_id"].is_unique
    assert (maia[maia["role"] == "customer"]["text"].str.contains("[a-zA-Z]")).mean() > 0.9


def test_hugging_face_dataset_in_goemotions_layout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import huggingface_hub

    from voicelake.models.datasets import load_goemotions_hf

    (tmp_path / "simplified").mkdir()
    pd.DataFrame({"text": ["thanks!", "so annoying", "hmm"], "labels": [[15], [3, 27], [7]],
                  "id": ["a", "b", "c"]}).to_parquet(tmp_path / "simplified" / "validation-00000-of-00001.parquet")
    seen = {}

    def fake_download(repo_id: str, **kwargs: object) -> str:
        seen["repo"] = repo_id
        return str(tmp_path)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    df = load_goemotions_hf("someone/go_emotions", "dev", TAX)
    assert seen["repo"] == "someone/go_emotions"
    assert list(df["label"]) == ["gratitude", "frustration", "neutral"]


def test_split_sentences_keeps_short_fragments_with_their_neighbour() -> None:
    from voicelake.models.pyfunc import MAX_SENTENCES, split_sentences

    assert split_sentences("Hi Ann, I'm so sorry for the trouble. I've refunded the charge!") == [
        "Hi Ann, I'm so sorry for the trouble.", "I've refunded the charge!"]
    assert split_sentences("Hi. Still broken on 5.1. Why?") == ["Hi. Still broken on 5.1. Why?"]
    assert split_sentences("Why? It broke again after the update.") == ["Why? It broke again after the update."]
    assert split_sentences("first line of it\n\n> quoted older mail here") == [
        "first line of it", "> quoted older mail here"]
    assert split_sentences("ok") == ["ok"]
    many = " ".join(f"Sentence number {i} is here." for i in range(30))
    assert len(split_sentences(many)) == MAX_SENTENCES


def test_a_message_takes_the_distribution_of_its_most_emotional_sentence() -> None:
    """An agent reply whose one sorry sentence sits between a greeting and an action reads as
    empathy, not as the neutral average of the whole text."""
    import numpy as np

    from voicelake.models.pyfunc import EmotionClassifier

    labels = ["empathy", "anger", "neutral"]
    table = {"Hi Ann, thanks for writing in.": [0.05, 0.05, 0.9],
             "I'm so sorry for the trouble this caused.": [0.8, 0.05, 0.15],
             "I've refunded the charge today.": [0.02, 0.03, 0.95]}

    classifier = EmotionClassifier.__new__(EmotionClassifier)
    classifier.labels, classifier.sentences = labels, True
    classifier.pos, classifier.neg = [0], [1]

    def probabilities(texts):  # type: ignore[no-untyped-def]
        return (np.array([table.get(t, [0.0, 0.0, 1.0]) for t in texts]),
                np.array([t.startswith("I've") for t in texts]))

    classifier.probabilities = probabilities  # type: ignore[method-assign]
    out = classifier.predict([" ".join(table), "Hi Ann, thanks for writing in."])
    assert list(out["label"]) == ["empathy", "neutral"]
    assert out.loc[0, "p_empathy"] == 0.8 and out.loc[0, "input_status"] == "truncated"
    assert out.loc[1, "input_status"] == "ok"
