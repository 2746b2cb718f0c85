"""Training, registering and promoting the suggestion detector (``voicelake-suggestions``).

One MLflow run per training: parameters (encoder, regularisation, the chosen threshold, what
trained it), metrics (F1, precision and recall of the suggestion class on the evaluation set,
the TF-IDF baseline's F1 on the same set, the development F1, rows per source), the head as a
JSON artifact, the registered pyfunc as ``@challenger``. Promotion follows the emotion model's
rule: the first version becomes ``@champion`` only if it beats the baseline; a later one only
if its eval F1 beats the champion's on the same evaluation set (re-scored when the champion was
evaluated on another) by ``suggestions.promotion_margin``.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from voicelake.config import Config
from voicelake.models.datasets import frame_hash
from voicelake.models.suggestions import (
    SuggestionData,
    SuggestionDetector,
    SuggestionHead,
    SuggestionPyfunc,
    best_threshold,
    f1_of_suggestions,
    head_to_json,
    suggestion_training_data,
    train_tfidf_baseline,
    training_weights,
)


@dataclass(frozen=True)
class SuggestionTraining:
    run_id: str
    version: str
    metrics: dict[str, float]
    promoted: bool
    reason: str
    sources: tuple[str, ...]


def evaluate(detector: Any, evaluation: pd.DataFrame) -> dict[str, float]:
    """Suggestion-class precision, recall and F1 of ``detector.messages`` on ``text, label``."""
    predicted = detector.messages(list(evaluation["text"]))["is_suggestion"].astype(int)
    return f1_of_suggestions(list(evaluation["label"]), list(predicted))


SMALL_TRAINING_SET = 2000  # fewer sentences: the threshold comes from cross-validation, not a dev split


def fit_detector(data: SuggestionData, encoder: Any, regularization: float, seed: int,
                 seed_share: float = 0.0) -> SuggestionDetector:
    """The head on the training sentences (the seed set weighted to ``seed_share``), its
    threshold chosen on the development ones, weighted the same way. A small training set (the
    seed set alone) leaves a development split of a few dozen sentences, too few to place a
    threshold: the head is then fitted on training and development sentences together and the
    threshold chosen on their 5-fold out-of-fold probabilities."""
    if len(data.train) + len(data.dev) < SMALL_TRAINING_SET:
        return _fit_small(data, encoder, regularization, seed)
    train_texts, dev_texts = list(data.train["text"]), list(data.dev["text"])
    head = SuggestionHead(C=regularization, seed=seed).fit(train_texts, encoder.encode(train_texts),
                                                          list(data.train["label"]),
                                                          training_weights(data.train["source"], seed_share))
    if len(dev_texts) and data.dev["label"].nunique() == 2:
        head.threshold = best_threshold(list(data.dev["label"]),
                                        head.probability(dev_texts, encoder.encode(dev_texts)),
                                        training_weights(data.dev["source"], seed_share))
    return SuggestionDetector(encoder, head)


def _fit_small(data: SuggestionData, encoder: Any, regularization: float, seed: int) -> SuggestionDetector:
    from sklearn.model_selection import StratifiedKFold

    both = pd.concat([data.train, data.dev], ignore_index=True)
    texts, labels = list(both["text"]), both["label"].astype(int).to_numpy()
    vectors = encoder.encode(texts)
    folds = min(5, int(np.bincount(labels, minlength=2).min()))
    out_of_fold = np.zeros(len(texts))
    if folds >= 2:
        for fit_rows, held in StratifiedKFold(folds, shuffle=True, random_state=seed).split(texts, labels):
            head = SuggestionHead(C=regularization, seed=seed).fit([texts[i] for i in fit_rows], vectors[fit_rows],
                                                                  labels[fit_rows])
            out_of_fold[held] = head.probability([texts[i] for i in held], vectors[held])
    head = SuggestionHead(C=regularization, seed=seed).fit(texts, vectors, labels)
    if folds >= 2:
        head.threshold = best_threshold(labels, out_of_fold)
    return SuggestionDetector(encoder, head)


def train_suggestions(config: Config, log: Callable[[str], None] = print) -> SuggestionTraining:
    """Train, evaluate and register a detector; promote it when it is better (module doc)."""
    import mlflow
    from mlflow import MlflowClient

    from voicelake.models.registry import configure_mlflow
    from voicelake.models.topics import SentenceEncoder
    from voicelake.models.train import resolve_encoder

    settings = config.suggestions
    configure_mlflow(config)
    data = suggestion_training_data(settings.data_dir, settings.dev_fraction)
    log(f"suggestion detector: {len(data.train)} training sentences ({', '.join(data.sources)}), "
        f"{len(data.dev)} development, {len(data.eval)} evaluation ({data.eval_name})")
    encoder = SentenceEncoder(resolve_encoder(settings.encoder), settings.max_length, settings.batch_size)
    started = time.perf_counter()
    detector = fit_detector(data, encoder, settings.regularization, settings.seed, settings.seed_share)
    train_seconds = time.perf_counter() - started
    scores = evaluate(detector, data.eval)
    baseline = train_tfidf_baseline(data.train, settings.seed)
    baseline_scores = f1_of_suggestions(list(data.eval["label"]),
                                        [int(x) for x in baseline.predict(list(data.eval["text"]))])
    dev_scores = evaluate(detector, data.dev) if len(data.dev) else {"f1": float("nan")}
    metrics = {"eval_f1": scores["f1"], "eval_precision": scores["precision"], "eval_recall": scores["recall"],
               "baseline_eval_f1": baseline_scores["f1"], "dev_f1": dev_scores["f1"],
               "train_rows": float(len(data.train)), "eval_rows": float(len(data.eval)),
               "train_seconds": train_seconds}
    log(f"eval ({data.eval_name}) F1 {scores['f1']:.3f} (precision {scores['precision']:.3f}, recall "
        f"{scores['recall']:.3f}); TF-IDF baseline F1 {baseline_scores['f1']:.3f}")
    name = settings.model_name
    with mlflow.start_run(run_name="suggestions") as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tags({"voicelake.model": name, "eval_set": data.eval_name, "eval_hash": frame_hash(data.eval),
                         "train_hash": frame_hash(data.train[["text", "label"]])})
        rows = data.train["source"].value_counts().to_dict()
        mlflow.log_params({"encoder": settings.encoder, "max_length": settings.max_length,
                           "regularization": settings.regularization, "threshold": detector.head.threshold,
                           "seed_share": settings.seed_share,
                           "features": "tfidf word 1-2 grams + sentence embedding", "sources": ",".join(data.sources),
                           **{f"train_rows_{k}": v for k, v in rows.items()}})
        mlflow.log_metrics(metrics)
        head_path = Path(tmp) / "head.json"
        head_path.write_text(json.dumps(head_to_json(detector.head)))
        eval_path = Path(tmp) / "eval_set.parquet"
        data.eval.to_parquet(eval_path)  # public sentences or the project's seed: no customer text
        mlflow.log_artifact(str(eval_path), "evaluation")
        example = pd.DataFrame({"text": ["It would be great to have a dark mode.", "Should I restart it?"]})
        info = mlflow.pyfunc.log_model(
            name="model", python_model=SuggestionPyfunc(), artifacts={"head": str(head_path)},
            model_config={"encoder": settings.encoder, "max_length": settings.max_length,
                          "batch_size": settings.batch_size},
            input_example=example, registered_model_name=name)
        version = str(info.registered_model_version)
        client = MlflowClient()
        client.set_registered_model_alias(name, config.mlflow.challenger_alias, version)
    promoted, reason = promote_suggestions(config, version, metrics, data)
    log(f"registered {name} v{version} as @{config.mlflow.challenger_alias}: {reason}")
    return SuggestionTraining(run.info.run_id, version, metrics, promoted, reason, data.sources)


def promote_suggestions(config: Config, version: str, metrics: dict[str, float],
                        data: SuggestionData) -> tuple[bool, str]:
    """Make ``version`` @champion when it beats the baseline (no champion yet) or the champion
    on the same evaluation set; returns (promoted, why)."""
    import mlflow
    from mlflow import MlflowClient

    from voicelake.models.registry import version_by_alias

    settings = config.suggestions
    name, client = settings.model_name, MlflowClient()
    champion = version_by_alias(config, config.mlflow.champion_alias, name)
    score = metrics["eval_f1"]
    if champion is None:
        reference, what = metrics["baseline_eval_f1"], "the TF-IDF baseline"
    else:
        run = client.get_run(champion.run_id)
        if run.data.tags.get("eval_hash") == frame_hash(data.eval):
            reference = float(run.data.metrics["eval_f1"])
        else:  # evaluated on another set: score the champion on this one
            model = mlflow.pyfunc.load_model(f"models:/{name}/{champion.version}")
            predicted = model.predict(data.eval[["text"]])["is_suggestion"].astype(int)
            reference = f1_of_suggestions(list(data.eval["label"]), list(predicted))["f1"]
        what = f"champion v{champion.version}"
    better = bool(np.isfinite(score)) and score > reference + settings.promotion_margin
    if better:
        client.set_registered_model_alias(name, config.mlflow.champion_alias, version)
        client.set_model_version_tag(name, version, "promoted_over", what)
    return better, (f"eval F1 {score:.4f} vs {what} {reference:.4f} (margin {settings.promotion_margin}): "
                    + ("promoted to @champion" if better else "kept the current champion"))


def list_suggestion_versions(config: Config) -> list[dict[str, Any]]:
    """Every registered version of the detector with its aliases, F1 and what trained it."""
    from voicelake.models.registry import registered_versions

    name = config.suggestions.model_name
    rows = []
    for v in registered_versions(config, name):
        metrics = v.run.data.metrics if v.run else {}
        rows.append({"model": name, "version": v.version, "aliases": v.aliases,
                     "eval_f1": metrics.get("eval_f1"), "baseline_eval_f1": metrics.get("baseline_eval_f1"),
                     "eval_set": v.run.data.tags.get("eval_set") if v.run else None,
                     "trained_on": v.run.data.params.get("sources") if v.run else None,
                     "run_id": v.run.info.run_id if v.run else None})
    return rows
