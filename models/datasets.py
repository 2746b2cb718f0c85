"""Training and evaluation data for the emotion model, mapped onto the taxonomy.

Three kinds of source, all returned as pandas frames with columns
``text, label, source, group`` (``group`` keeps sentences of one dialogue together when
splitting):

- public data: GoEmotions (train/dev/test TSVs), multi-label rows reduced to one label;
- in-domain human labels: rows of ``silver.label_feedback`` (MAIA-format files are
  imported into it with `parse_maia`);
- the bootstrap seed set shipped in ``models/seed/support_seed.csv``, so that a machine
  without any data set can still train a first (weak) model offline.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from voicelake.config import PACKAGE_DIR
from voicelake.models.taxonomy import Taxonomy

SEED_FILE = PACKAGE_DIR / "models" / "seed" / "support_seed.csv"  # a real file even when code runs from a zip
COLUMNS = ["text", "label", "source", "group"]


def stable_fraction(key: str) -> float:
    """A deterministic number in [0, 1) for a key (for reproducible splits)."""
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) / 2**32


def frame_hash(df: pd.DataFrame) -> str:
    """A short content hash of a data set (logged with every training run)."""
    digest = hashlib.sha256()
    for text, label in zip(df["text"], df["label"], strict=True):
        digest.update(f"{label}\t{text}\n".encode())
    return digest.hexdigest()[:16]


# GoEmotions' label order (labels.txt in the release; the HF dataset's ClassLabel names)
GOEMOTIONS_LABELS = (
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion", "curiosity",
    "desire", "disappointment", "disapproval", "disgust", "embarrassment", "excitement", "fear",
    "gratitude", "grief", "joy", "love", "nervousness", "optimism", "pride", "realization", "relief",
    "remorse", "sadness", "surprise", "neutral",
)
HF_SPLITS = {"train": "train", "dev": "validation", "test": "test"}


def map_goemotions(texts: Sequence[str], label_ids: Sequence[Sequence[int]], ids: Sequence[str],
                   names: Sequence[str], split: str, taxonomy: Taxonomy) -> pd.DataFrame:
    """GoEmotions rows mapped to the taxonomy.

    A row with several labels takes its first label that maps to a non-neutral emotion,
    else neutral; rows whose labels all fall outside the map are dropped.
    """
    labels = []
    for row in label_ids:
        mapped = [m for m in (taxonomy.map_label("goemotions", names[int(i)]) for i in row) if m]
        non_neutral = [m for m in mapped if m != "neutral"]
        labels.append(non_neutral[0] if non_neutral else (mapped[0] if mapped else None))
    out = pd.DataFrame({"text": list(texts), "label": labels, "source": f"goemotions:{split}", "group": list(ids)})
    return out[out["label"].notna()].reset_index(drop=True)


def load_goemotions(directory: str | Path, split: str, taxonomy: Taxonomy) -> pd.DataFrame:
    """One split (train/dev/test) of the GoEmotions release files (TSV + labels.txt)."""
    directory = Path(directory)
    names = (directory / "labels.txt").read_text(encoding="utf-8").split()
    raw = pd.read_csv(directory / f"{split}.tsv", sep="\t", header=None, quoting=3,
                      names=["text", "ids", "id"], dtype=str, keep_default_na=False)
    label_ids = [[int(i) for i in ids.split(",") if i != ""] for ids in raw["ids"]]
    return map_goemotions(raw["text"], label_ids, raw["id"], names, split, taxonomy)


def load_goemotions_hf(repo_id: str, split: str, taxonomy: Taxonomy) -> pd.DataFrame:
    """One split of a Hugging Face dataset in GoEmotions' "simplified" layout (parquet with
    ``text``, ``labels`` (list of ids), ``id``). Needs network unless the Hub cache has it."""
    from huggingface_hub import snapshot_download

    local = Path(snapshot_download(repo_id, repo_type="dataset", allow_patterns=["simplified/*"]))
    files = sorted(local.glob(f"simplified/{HF_SPLITS[split]}-*.parquet"))
    if not files:
        raise FileNotFoundError(f"{repo_id} has no simplified/{HF_SPLITS[split]}-*.parquet")
    raw = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    return map_goemotions(raw["text"], raw["labels"], raw["id"].astype(str), GOEMOTIONS_LABELS, split, taxonomy)


def parse_maia(path: str | Path, taxonomy: Taxonomy) -> pd.DataFrame:
    """Sentences of a MAIA-DQE file with their labels: customer sentences (inbound) from
    the English machine translation ``text_mt``, agent sentences (outbound) from
    ``text_src``. Columns: text, label, source, group, role, item_id."""
    path = Path(path)
    names = (path.parent / "labels.txt").read_text(encoding="utf-8").split()
    dialogues = json.loads(path.read_text(encoding="utf-8"))
    rows = []
    for dialogue in dialogues:
        for t, turn in enumerate(dialogue["turns"]):
            inbound = turn.get("floor") == "inbound"
            texts = turn.get("text_mt" if inbound else "text_src") or []
            for s, (text, emotion) in enumerate(zip(texts, turn.get("Emotion") or [], strict=False)):
                if emotion is None or not str(text).strip():
                    continue
                label = taxonomy.map_label("maia", names[int(emotion)])
                if label:
                    rows.append({"text": str(text).strip(), "label": label, "source": f"maia:{path.stem}",
                                 "group": dialogue["id"], "role": "customer" if inbound else "agent",
                                 "item_id": f"{path.stem}:{dialogue['id']}:{t}:{s}"})
    return pd.DataFrame(rows, columns=COLUMNS + ["role", "item_id"])


def load_seed() -> pd.DataFrame:
    """The bootstrap seed set kept in the repository."""
    seed = pd.read_csv(SEED_FILE, dtype=str, keep_default_na=False)
    seed["source"] = "seed"
    seed["group"] = [f"seed:{i}" for i in range(len(seed))]
    return seed[COLUMNS]


def split_by_group(df: pd.DataFrame, fraction: float, salt: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Deterministic split keeping each group on one side: (rest, held-out ``fraction``)."""
    if df.empty:
        return df, df
    held = df["group"].map(lambda g: stable_fraction(f"{salt}:{g}") < fraction)
    return df[~held].reset_index(drop=True), df[held].reset_index(drop=True)
