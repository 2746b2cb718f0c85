"""Product ideas: suggestion sentences grouped by what they ask for.

The suggestion detector (`voicelake.models.suggestions`) finds the sentences that suggest
something; this module groups one product's of them into ideas (a dark mode for one product
is another team's roadmap item than for the next) with the topic machinery
(`voicelake.models.topics`): each sentence is normalised (`topic_text`: product names ->
"the product", numbers -> "N"), embedded with the default sentence encoder, and the
embeddings are clustered. Unlike topics, the number of ideas is not known in advance, so
the clustering is agglomerative (average linkage on cosine distance) and stops merging at
``distance_threshold``: two groups whose sentences are on average less alike than that stay
two ideas. Clusters asked for by fewer than ``min_size`` sentences of the sample are not
ideas (their sentences stay unassigned: idea id -1, "too few alike to call an idea").

The result is a `TopicModel` (unit centroids, ids, c-TF-IDF labels), so assignment of the
sentences outside the fitted sample is the topic model's nearest-centroid matrix product,
and ids survive refits the same way (`match_topic_ids`: an idea found again keeps its id).
A sentence whose nearest centroid is further than ``distance_threshold`` is unassigned too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from voicelake.config import ConfigError, params_from_mapping
from voicelake.models.topics import DEFAULT_ENCODER, TopicModel, keyphrases, match_topic_ids

UNASSIGNED_IDEA = -1


@dataclass(frozen=True)
class IdeaParams:
    """How suggestion sentences become ideas (conf ``suggestions.ideas``)."""

    distance_threshold: float = 0.65  # average cosine distance at which two groups stay apart
    min_size: int = 3  # sample sentences an idea needs
    fit_sample: int = 4000  # sentences clustered per fit (average linkage is quadratic in memory)
    min_similarity: float = 0.8  # centroid similarity at which a refit keeps an idea's id
    seed: int = 13

    @classmethod
    def from_config(cls, values: Mapping[str, Any] | None) -> IdeaParams:
        params = params_from_mapping(cls, values, "suggestions.ideas")
        if not 0.0 < params.distance_threshold < 2.0:
            raise ConfigError("suggestions.ideas.distance_threshold must be in (0, 2)")
        if params.min_size < 1 or params.fit_sample < 2:
            raise ConfigError("suggestions.ideas.min_size must be >= 1 and fit_sample >= 2")
        if not 0.0 < params.min_similarity <= 1.0:
            raise ConfigError("suggestions.ideas.min_similarity must be in (0, 1]")
        return params


def fit_ideas(embeddings: np.ndarray, texts: Sequence[str], params: IdeaParams, previous: TopicModel | None = None,
              encoder: str = DEFAULT_ENCODER, weights: Sequence[float] | np.ndarray | None = None) -> TopicModel:
    """Cluster unit sentence embeddings into ideas (see the module docstring); an empty model
    when no cluster reaches ``min_size``. ``weights``: how many sentences each row stands for
    (callers cluster distinct texts once; sizes and centroids count every sentence)."""
    from sklearn.cluster import AgglomerativeClustering

    vectors = np.asarray(embeddings, dtype=np.float32)
    dimension = vectors.shape[1] if vectors.ndim == 2 else 0
    empty = TopicModel(np.zeros((0, dimension), dtype=np.float32), (), (), (), (), encoder,
                       previous.fresh_id if previous is not None else 0)
    w = np.ones(len(vectors)) if weights is None else np.asarray(weights, dtype=float)
    if w.sum() < params.min_size:
        return empty
    if len(vectors) == 1:
        labels = np.zeros(1, dtype=int)
    else:
        labels = AgglomerativeClustering(n_clusters=None, distance_threshold=params.distance_threshold,
                                         metric="cosine", linkage="average").fit(vectors).labels_
    sizes = np.bincount(labels, weights=w)
    kept = [c for c in np.argsort(-sizes, kind="stable") if sizes[c] >= params.min_size]
    if not kept:
        return empty
    centroids = np.stack([np.average(vectors[labels == c], axis=0, weights=w[labels == c]) for c in kept])
    centroids = (centroids / np.clip(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12, None)).astype(np.float32)
    ids, new = match_topic_ids(centroids, previous, params.min_similarity)
    order = {c: i for i, c in enumerate(kept)}
    members = np.asarray([order.get(int(c), UNASSIGNED_IDEA) for c in labels])
    inside = members != UNASSIGNED_IDEA
    # labels from every sentence a row stands for (a distinct text repeated as often as it was said)
    repeat = np.maximum(1, np.rint(w).astype(int))
    phrases = keyphrases([t for t, keep, r in zip(texts, inside, repeat, strict=True) if keep for _ in range(r)],
                         np.repeat(members[inside], repeat[inside]))
    used = previous.fresh_id if previous is not None else 0
    return TopicModel(centroids, ids, tuple(phrases.get(i, "") for i in range(len(kept))), new,
                      tuple(int(sizes[c]) for c in kept), encoder, max(used, max(ids) + 1))


def assign_ideas(model: TopicModel, embeddings: np.ndarray, distance_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Each sentence's idea id (UNASSIGNED_IDEA when no centroid is within
    ``distance_threshold``) and its cosine distance to the nearest centroid."""
    vectors = np.asarray(embeddings, dtype=np.float32)
    if len(model.topic_ids) == 0:
        return np.full(len(vectors), UNASSIGNED_IDEA), np.full(len(vectors), np.nan)
    ids, distance = model.assign(vectors)
    return np.where(distance <= distance_threshold, ids, UNASSIGNED_IDEA), distance
