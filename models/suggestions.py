"""The suggestion detector: is this sentence a suggestion or feature request (a change,
idea or improvement the writer asks for), as opposed to a problem report, a question, a
support request, thanks, or a regret ("I should have read the manual")?

Features: the default sentence encoder's mean-pooled, unit-length embedding of the
sentence (`models.topics.SentenceEncoder`, the same encoder as the topics, shipped offline)
next to word 1-2 gram TF-IDF of its lower-cased text; a class-balanced logistic regression on
both (`SuggestionHead`). The embedding carries what a sentence asks for in words a training set
never used; the n-grams carry the cue phrases ("would be nice", "please add", "you should
let"). The decision threshold is the one that maximises F1 on a development split of the
training data (never on the evaluation set). A message is a suggestion when any of its
sentences is (`split_sentences`, the emotion model's splitter).

Training data (`suggestion_training_data`): the SemEval-2019 Task 9 training sentences when
``suggestions.data_dir`` holds them, plus the project's seed set (`seed/suggestion_seed.csv`,
support-domain suggestions and hard negatives written for the project), which alone
bootstraps a detector on a machine without ../shared. The evaluation set is the task's
trial-test file when present, else a stable held-out part of the seed set; each training run
reports the F1 of the suggestion class there, and the same for a TF-IDF-only baseline. Beside
the public sentences the seed set is weighted to ``suggestions.seed_share`` of the training
weight (and of the development split's, where the threshold is chosen): support requests
("Please refund me", "Please help") are the support domain's commonest false positives, and a
hundred sentences among thousands would not teach that. Quoted reply text (e-mail lines
starting with ">") is left out of a message before it is split (`strip_quoted_reply`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from voicelake.models.datasets import stable_fraction
from voicelake.models.topics import DEFAULT_ENCODER

SUGGESTION_SCHEMA = "is_suggestion boolean, suggestion_probability double, suggestion_sentence string"
SEMEVAL_TRAIN = "semeval2019_task9_train.csv"
SEMEVAL_TRIAL_TEST = "semeval2019_task9_trial_test.csv"


def _unquote(sentence: str) -> str:
    """SemEval's sentences carry an extra pair of literal quotes around the text."""
    text = sentence.strip()
    while len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].strip()
    return text


def load_semeval(path: str | Path) -> pd.DataFrame:
    """``text, label`` (1 = suggestion) from a SemEval-2019 Task 9 subtask A file (with or
    without its header)."""
    rows = []
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:  # the trial file has a stray byte
        for record in csv.reader(handle):
            if len(record) < 3 or record[2].strip() not in ("0", "1"):
                continue  # the header, or a broken line
            rows.append((_unquote(record[1]), int(record[2])))
    if not rows:
        raise ValueError(f"{path}: no `id,sentence,label` rows with label 0 or 1")
    return pd.DataFrame(rows, columns=["text", "label"])


def load_suggestion_seed() -> pd.DataFrame:
    """The project's seed set: support-domain suggestions and hard negatives."""
    with resources.files("voicelake.models").joinpath("seed/suggestion_seed.csv").open(encoding="utf-8") as handle:
        frame = pd.read_csv(handle)
    return frame.assign(label=frame["label"].astype(int))


@dataclass(frozen=True)
class SuggestionData:
    train: pd.DataFrame        # text, label, source
    dev: pd.DataFrame          # held out of train: picks the threshold
    eval: pd.DataFrame         # text, label: what F1 is reported on and promotion compares
    eval_name: str             # semeval_trial_test | seed_heldout
    sources: tuple[str, ...]   # what trained it


def suggestion_training_data(data_dir: str | None, dev_fraction: float = 0.15) -> SuggestionData:
    """The training, development and evaluation sets (see the module doc)."""
    seed = load_suggestion_seed().assign(source="seed")
    heldout = seed["text"].map(lambda t: stable_fraction(f"suggestion-eval:{t}") < 0.3)
    folder = Path(data_dir) if data_dir else None
    has_semeval = folder is not None and (folder / SEMEVAL_TRAIN).exists() and (folder / SEMEVAL_TRIAL_TEST).exists()
    if has_semeval:
        assert folder is not None
        train = pd.concat([load_semeval(folder / SEMEVAL_TRAIN).assign(source="semeval2019_task9_train"), seed])
        evaluation, eval_name = load_semeval(folder / SEMEVAL_TRIAL_TEST), "semeval_trial_test"
        sources: tuple[str, ...] = ("semeval2019_task9_train", "seed")
    else:
        train, evaluation, eval_name = seed[~heldout], seed[heldout], "seed_heldout"
        sources = ("seed",)
    is_dev = train["text"].map(lambda t: stable_fraction(f"suggestion-dev:{t}") < dev_fraction)
    return SuggestionData(train[~is_dev].reset_index(drop=True), train[is_dev].reset_index(drop=True),
                          evaluation[["text", "label"]].reset_index(drop=True), eval_name, sources)


def f1_of_suggestions(labels: Sequence[int], predicted: Sequence[int]) -> dict[str, float]:
    """Precision, recall and F1 of the suggestion class."""
    from sklearn.metrics import precision_recall_fscore_support

    precision, recall, f1, _ = precision_recall_fscore_support(
        np.asarray(labels), np.asarray(predicted), average="binary", pos_label=1, zero_division=0)
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1)}


def best_threshold(labels: Sequence[int], probabilities: np.ndarray,
                   weights: Sequence[float] | np.ndarray | None = None) -> float:
    """The probability threshold with the best (weighted) F1 of the suggestion class (ties: the higher)."""
    y = np.asarray(labels).astype(bool)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    best, best_f1 = 0.5, -1.0
    for threshold in np.unique(np.round(probabilities, 4)):
        predicted = probabilities >= threshold
        tp, fp, fn = w[predicted & y].sum(), w[predicted & ~y].sum(), w[~predicted & y].sum()
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 >= best_f1:
            best, best_f1 = float(threshold), f1
    return best


def training_weights(sources: pd.Series, seed_share: float) -> np.ndarray:
    """Per training sentence: 1, and for the seed set's in-domain sentences the weight that
    makes them ``seed_share`` of the total (thousands of public forum sentences would
    otherwise drown the support domain's hundred); all 1 without public data."""
    is_seed = (sources == "seed").to_numpy()
    n_seed, n_other = int(is_seed.sum()), int((~is_seed).sum())
    if not n_seed or not n_other or seed_share <= 0:
        return np.ones(len(sources))
    return np.where(is_seed, seed_share / (1 - seed_share) * n_other / n_seed, 1.0)


class SuggestionHead:
    """TF-IDF of the text beside its sentence embedding, class-balanced logistic regression."""

    def __init__(self, C: float = 1.0, seed: int = 13) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, lowercase=True,
                                          max_features=50_000)
        self.classifier = LogisticRegression(C=C, max_iter=3000, class_weight="balanced", random_state=seed)
        self.threshold = 0.5

    def _features(self, texts: Sequence[str], embeddings: np.ndarray, fit: bool = False) -> Any:
        from scipy.sparse import csr_matrix, hstack

        words = self.vectorizer.fit_transform(texts) if fit else self.vectorizer.transform(texts)
        return hstack([words, csr_matrix(embeddings)]).tocsr()

    def fit(self, texts: Sequence[str], embeddings: np.ndarray, labels: Sequence[int],
            weights: np.ndarray | None = None) -> SuggestionHead:
        self.classifier.fit(self._features(texts, embeddings, fit=True), np.asarray(labels), sample_weight=weights)
        return self

    def probability(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        if not len(texts):
            return np.zeros(0)
        return self.classifier.predict_proba(self._features(texts, embeddings))[:, 1]


def train_tfidf_baseline(train: pd.DataFrame, seed: int) -> Any:
    """The baseline the detector is reported against: TF-IDF word 1-2 grams + class-balanced
    logistic regression (the emotion model's baseline, on this task)."""
    from voicelake.models.train import train_baseline

    return train_baseline(train.assign(label=train["label"].astype(int)), seed)


def message_suggestions(texts: Sequence[str | None], sentence_probability: Any,
                        threshold: float) -> pd.DataFrame:
    """Per message, quoted reply text left out (what the author wrote, not what they quote):
    ``is_suggestion`` (any sentence at or above ``threshold``),
    ``suggestion_probability`` (its highest sentence's) and ``suggestion_sentence``.
    ``sentence_probability(list[str]) -> np.ndarray`` scores sentences."""
    from voicelake.models.pyfunc import prepare_text, split_sentences, strip_quoted_reply

    sentences, owner = [], []
    for i, text in enumerate(texts):
        prepared, status = prepare_text(strip_quoted_reply(text))
        if status != "ok":
            continue
        for sentence in split_sentences(prepared):
            sentences.append(sentence)
            owner.append(i)
    p = sentence_probability(sentences) if sentences else np.zeros(0)
    best = np.full(len(texts), np.nan)
    best_sentence: list[str | None] = [None] * len(texts)
    for j, i in enumerate(owner):
        if np.isnan(best[i]) or p[j] > best[i]:
            best[i], best_sentence[i] = p[j], sentences[j]
    is_suggestion = [bool(b >= threshold) if not np.isnan(b) else False for b in best]
    return pd.DataFrame({"is_suggestion": is_suggestion,
                         "suggestion_probability": [None if np.isnan(b) else float(b) for b in best],
                         "suggestion_sentence": [s if flag else None for s, flag in zip(best_sentence, is_suggestion,
                                                                                       strict=True)]})


def head_to_json(head: SuggestionHead) -> dict[str, Any]:
    """Everything the head needs to predict, as plain JSON (no pickles in the registry)."""
    return {"vocabulary": {k: int(v) for k, v in head.vectorizer.vocabulary_.items()},
            "idf": head.vectorizer.idf_.tolist(), "coef": head.classifier.coef_[0].tolist(),
            "intercept": float(head.classifier.intercept_[0]), "threshold": head.threshold,
            "ngram_range": list(head.vectorizer.ngram_range)}


class FittedSuggestionHead:
    """A head restored from `head_to_json`: the same features and probabilities, no sklearn fit state."""

    def __init__(self, state: dict[str, Any]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizer = TfidfVectorizer(ngram_range=tuple(state["ngram_range"]), sublinear_tf=True, lowercase=True,
                                          vocabulary=state["vocabulary"])
        self.vectorizer.idf_ = np.asarray(state["idf"])
        self.coef = np.asarray(state["coef"])
        self.intercept = float(state["intercept"])
        self.threshold = float(state["threshold"])

    def probability(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        if not len(texts):
            return np.zeros(0)
        words = self.vectorizer.transform(texts)
        n_words = words.shape[1]
        logit = words @ self.coef[:n_words] + embeddings @ self.coef[n_words:] + self.intercept
        return 1.0 / (1.0 + np.exp(-np.asarray(logit).ravel()))


class SuggestionDetector:
    """Encoder + head: sentence probabilities and per-message decisions."""

    def __init__(self, encoder: Any, head: Any) -> None:
        self.encoder, self.head = encoder, head

    def sentence_probability(self, sentences: Sequence[str]) -> np.ndarray:
        sentences = list(sentences)
        return self.head.probability(sentences, self.encoder.encode(sentences))

    def messages(self, texts: Sequence[str | None]) -> pd.DataFrame:
        return message_suggestions(texts, self.sentence_probability, self.head.threshold)


def load_head(path: str | Path) -> FittedSuggestionHead:
    return FittedSuggestionHead(json.loads(Path(path).read_text()))


# -- MLflow ----------------------------------------------------------------------------------

class SuggestionPyfunc(PythonModel):
    """The registered detector: ``text`` in; ``is_suggestion``, ``suggestion_probability`` and
    ``suggestion_sentence`` out (a message is a suggestion when one of its sentences is)."""

    def load_context(self, context: Any) -> None:
        from voicelake.models.topics import SentenceEncoder
        from voicelake.models.train import resolve_encoder

        config = context.model_config or {}
        encoder = SentenceEncoder(resolve_encoder(str(config.get("encoder", DEFAULT_ENCODER))),
                                  int(config.get("max_length", 64)), int(config.get("batch_size", 64)))
        self.detector = SuggestionDetector(encoder, load_head(context.artifacts["head"]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        return self.detector.messages(list(model_input["text"]))
