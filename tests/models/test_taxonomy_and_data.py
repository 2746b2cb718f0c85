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
