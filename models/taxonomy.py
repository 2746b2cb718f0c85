"""The emotion taxonomy (conf/emotion_taxonomy.yaml): labels, valence and label maps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from voicelake.config import ConfigError, active_conf_dir


def taxonomy_file() -> Path:
    """conf/emotion_taxonomy.yaml of the active configuration folder."""
    return active_conf_dir() / "emotion_taxonomy.yaml"


@dataclass(frozen=True)
class Taxonomy:
    labels: tuple[str, ...]
    definitions: Mapping[str, str]
    positive: tuple[str, ...]
    negative: tuple[str, ...]
    label_maps: Mapping[str, Mapping[str, str]]

    def index(self, label: str) -> int:
        return self.labels.index(label)

    def valence(self, probabilities: np.ndarray) -> np.ndarray:
        """P(positive) - P(negative) per row of an (n, labels) probability matrix."""
        pos = [self.index(x) for x in self.positive]
        neg = [self.index(x) for x in self.negative]
        return probabilities[:, pos].sum(axis=1) - probabilities[:, neg].sum(axis=1)

    def map_label(self, source: str, label: str) -> str | None:
        """A source label in the taxonomy (None when the map leaves it out)."""
        return self.label_maps[source].get(label)

    def check_labels(self, labels: Sequence[str]) -> None:
        """Raise unless ``labels`` are exactly the taxonomy's labels in order."""
        if tuple(labels) != self.labels:
            raise ValueError(f"model labels {list(labels)} do not match the taxonomy {list(self.labels)}")


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Read and validate the taxonomy file."""
    data = yaml.safe_load(Path(path or taxonomy_file()).read_text(encoding="utf-8"))
    labels = tuple(data["labels"])
    positive = tuple(data["valence"]["positive"])
    negative = tuple(data["valence"]["negative"])
    for name in positive + negative:
        if name not in labels:
            raise ConfigError(f"valence group names unknown label {name!r}")
    maps = {src: dict(m) for src, m in data["label_maps"].items()}
    for src, mapping in maps.items():
        bad = sorted(set(mapping.values()) - set(labels))
        if bad:
            raise ConfigError(f"label map {src!r} targets unknown labels {bad}")
    return Taxonomy(labels, dict(data["labels"]), positive, negative, maps)
