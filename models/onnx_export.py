"""The emotion model as ONNX int8: exported, quantised with a calibration set, judged against the
torch model it came from, and registered as a new version of the same registered model.

- `export_onnx`: ``torch.onnx.export`` (the dynamo exporter; eager attention, so the graph is
  plain MatMul/Softmax that ONNX Runtime's transformer optimizer fuses: SkipLayerNormalization,
  BiasGelu), dynamic batch and sequence axes. The exporter of the ``optimum`` package does not
  support transformers 5, and the TorchScript exporter (``dynamo=False``) bakes the example's
  sequence length into transformers 5's attention mask: its logits were wrong on other lengths.
- `quantize_int8`: ONNX Runtime's dynamic quantisation, int8 weights per output channel, every
  MatMul with a weight, activations quantised per batch at run time. Calibrated: the int8 model's
  labels are compared with the fp32 model's on calibration sentences (unlabelled text: the lake's
  own messages when it has any); while they agree on fewer than ``calibration_agreement``, the
  MatMul whose quantisation alone moves the logits most is kept in fp32, up to ``max_fp32_nodes``.
- `register_onnx`: both the source (torch fp32) and the int8 model score the source run's own
  evaluation set; the run logs their per-slice and per-label F1, the label agreement and their
  speed on the same texts. The version carries the tags ``runtime`` and ``derived_from_version``, and
  is the @challenger: `voicelake promote` (models/registry.py) promotes an export of the champion
  when it loses at most ``max_macro_f1_loss`` macro-F1 and agrees on at least ``min_agreement``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voicelake.config import Config, OnnxConfig
from voicelake.models.pyfunc import EmotionClassifier, OnnxLogits, prepare_text, split_sentences

RUNTIME_TAG = "runtime"
DERIVED_TAG = "derived_from_version"
ONNX_RUNTIME = "onnxruntime"
WEIGHT_FILES = (".safetensors", ".bin", ".pt", ".h5", ".msgpack")


def export_onnx(model_dir: Path, target: Path, opset: int = 18) -> Path:
    """An fp32 ONNX file of the transformers classifier in ``model_dir`` (logits for input_ids,
    attention_mask and, when the tokenizer makes them, token_type_ids), optimised for ONNX Runtime."""
    import logging
    import warnings

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, attn_implementation="eager").eval()
    example = dict(tokenizer(["An example sentence of a few more words.", "A short one."], padding=True,
                             return_tensors="pt"))
    batch = torch.export.Dim("batch")
    sequence = torch.export.Dim("sequence", max=int(model.config.max_position_embeddings))
    raw = target.with_name(target.stem + ".exported.onnx")
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (), str(raw), kwargs=example, input_names=list(example), output_names=["logits"],
                          dynamic_shapes={k: {0: batch, 1: sequence} for k in example}, opset_version=opset,
                          dynamo=True, external_data=False, verbose=False)
    from onnxruntime.transformers.optimizer import MODEL_TYPES, optimize_model

    kind = str(getattr(model.config, "model_type", ""))
    if kind in MODEL_TYPES:
        optimized = optimize_model(str(raw), model_type=kind,
                                   num_heads=int(getattr(model.config, "num_attention_heads", 0) or 0),
                                   hidden_size=int(getattr(model.config, "hidden_size", 0) or 0))
        optimized.save_model_to_file(str(target))
        raw.unlink()
    else:  # no fusions known for this architecture: ONNX Runtime's own graph optimisations only
        raw.replace(target)
    return target


def encode_batches(tokenizer: Any, sentences: Sequence[str], max_length: int,
                   batch_size: int = 64) -> list[dict[str, np.ndarray]]:
    """Length-sorted, padded batches of the sentences, as the scorer makes them."""
    ordered = sorted(sentences, key=len)
    return [dict(tokenizer(ordered[i:i + batch_size], padding=True, truncation=True, max_length=max_length,
                           return_tensors="np")) for i in range(0, len(ordered), batch_size)]


def onnx_logits(path: Path, batches: Sequence[dict[str, np.ndarray]]) -> np.ndarray:
    run = OnnxLogits(str(path))
    return np.concatenate([run(b) for b in batches]) if batches else np.zeros((0, 0))


def weight_matmuls(path: Path) -> list[str]:
    """The MatMul nodes with a weight (an initializer input): those dynamic quantisation turns int8."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    weights = {i.name for i in graph.initializer}
    return [n.name for n in graph.node if n.op_type == "MatMul" and any(x in weights for x in n.input)]


def _quantize(fp32: Path, target: Path, exclude: Sequence[str] = (), only: Sequence[str] = ()) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # the fused contrib ops (SkipLayerNormalization, ...) have no type for shape inference to report
    quantize_dynamic(str(fp32), str(target), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"], nodes_to_exclude=list(exclude),
                     nodes_to_quantize=list(only) or None,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


@dataclass
class QuantizationReport:
    calibration_sentences: int
    matmuls: int
    kept_fp32: list[str]
    calibration_agreement: float
    agreement_all_int8: float
    sensitivity: dict[str, float] = field(default_factory=dict)  # node -> mean |logit change| alone

    def as_dict(self) -> dict[str, Any]:
        return {"calibration_sentences": self.calibration_sentences, "matmuls": self.matmuls,
                "kept_fp32": self.kept_fp32, "calibration_agreement": self.calibration_agreement,
                "agreement_all_int8": self.agreement_all_int8, "sensitivity": self.sensitivity}


def quantize_int8(fp32: Path, target: Path, batches: Sequence[dict[str, np.ndarray]], settings: OnnxConfig,
                  log: Callable[[str], None] = print) -> QuantizationReport:
    """Quantise ``fp32`` into ``target`` (see the module doc); ``batches`` are the calibration sentences."""
    if not batches:
        raise ValueError("quantize_int8 needs calibration sentences (none were given)")
    reference = onnx_logits(fp32, batches)
    labels = reference.argmax(axis=1)
    nodes = weight_matmuls(fp32)

    def agreement(path: Path) -> tuple[float, np.ndarray]:
        out = onnx_logits(path, batches)
        return float((out.argmax(axis=1) == labels).mean()), out

    _quantize(fp32, target)
    first, _ = agreement(target)
    report = QuantizationReport(len(reference), len(nodes), [], first, first)
    log(f"int8, all {len(nodes)} MatMuls: label agreement {first:.4f} on {len(reference)} calibration sentences")
    if first >= settings.calibration_agreement or settings.max_fp32_nodes <= 0:
        return report
    # one node quantised at a time: how far it alone moves the logits
    with tempfile.TemporaryDirectory(prefix="voicelake-onnx-") as tmp:
        single = Path(tmp) / "one.onnx"
        for node in nodes:
            _quantize(fp32, single, only=[node])
            report.sensitivity[node] = float(np.abs(agreement(single)[1] - reference).mean())
    ranked = sorted(nodes, key=lambda n: -report.sensitivity[n])
    best, k = (first, 0), 0
    for k in range(1, min(settings.max_fp32_nodes, len(ranked)) + 1):
        _quantize(fp32, target, exclude=ranked[:k])
        agreed, _ = agreement(target)
        log(f"int8 with the {k} most sensitive MatMuls in fp32: label agreement {agreed:.4f}")
        if agreed > best[0]:
            best = (agreed, k)
        if agreed >= settings.calibration_agreement:
            break
    if best[1] != k:  # the last trial was not the best: rebuild the best
        _quantize(fp32, target, exclude=ranked[:best[1]])
    report.kept_fp32, report.calibration_agreement = ranked[:best[1]], best[0]
    return report


def calibration_sentences(texts: Sequence[Any], limit: int) -> list[str]:
    """Sentences of the texts as the scorer sees them (prepared, split), at most ``limit``, evenly
    spread over the texts' order."""
    sentences = [s for t in texts for s in split_sentences(prepare_text(t)[0]) if s.strip()]
    if len(sentences) <= limit:
        return sentences
    pick = np.linspace(0, len(sentences) - 1, limit).round().astype(int)
    return [sentences[i] for i in pick]


def seed_texts() -> list[str]:
    """The project's own labelled support sentences (models/seed): calibration text for a lake
    that has no messages yet."""
    import pandas as pd

    folder = Path(__file__).parent / "seed"
    return [t for f in sorted(folder.glob("*.csv")) for t in pd.read_csv(f)["text"].astype(str)]


@dataclass(frozen=True)
class OnnxExport:
    version: str
    source_version: str
    run_id: str
    metrics: dict[str, float]
    report: QuantizationReport


def _tokenizer_dir(model_dir: Path, target: Path) -> Path:
    """The model folder without its weights: tokenizer and config, all the ONNX scorer reads."""
    shutil.copytree(model_dir, target, ignore=lambda _, names: [n for n in names if n.endswith(WEIGHT_FILES)])
    return target


def _timed_labels(classifier: EmotionClassifier, texts: list[str]) -> tuple[list[str], float]:
    started = time.perf_counter()
    labels = list(classifier.predict(texts)["label"])
    return labels, time.perf_counter() - started


@dataclass
class Int8Build:
    """An fp32 export, its calibrated int8 quantisation and a scorer for each runtime."""

    fp32: Path
    int8: Path
    tokenizer_dir: Path
    report: QuantizationReport
    torch_scorer: EmotionClassifier
    onnx_scorer: EmotionClassifier


def build_int8(model_dir: Path, model_config: dict[str, Any], texts: Sequence[Any], settings: OnnxConfig,
               folder: Path, log: Callable[[str], None] = print) -> Int8Build:
    """Export the torch model in ``model_dir`` (an emotion pyfunc's ``model_dir`` artifact, with
    that pyfunc's config) into ``folder`` and quantise it, calibrated on the sentences of ``texts``."""
    labels = list(model_config["labels"])
    fp32 = export_onnx(model_dir, folder / "model.fp32.onnx")
    torch_scorer = EmotionClassifier(str(model_dir), labels, model_config["positive"], model_config["negative"],
                                     int(model_config.get("max_length", 128)), int(model_config.get("batch_size", 64)),
                                     device="cpu", sentences=bool(model_config.get("sentences", False)))
    calibration = calibration_sentences(texts, settings.calibration_sentences)
    batches = encode_batches(torch_scorer.tokenizer, calibration, torch_scorer.max_length)
    int8 = folder / "model.int8.onnx"
    report = quantize_int8(fp32, int8, batches, settings, log)
    tokenizer_dir = _tokenizer_dir(model_dir, folder / "tokenizer")
    onnx_scorer = EmotionClassifier(str(tokenizer_dir), labels, model_config["positive"], model_config["negative"],
                                    torch_scorer.max_length, torch_scorer.batch_size,
                                    sentences=torch_scorer.sentences, onnx_model=str(int8))
    return Int8Build(fp32, int8, tokenizer_dir, report, torch_scorer, onnx_scorer)


def compare_on_slices(reference: EmotionClassifier, candidate: EmotionClassifier, slices: dict[str, Any],
                      labels: Sequence[str]) -> dict[str, float]:
    """Both scorers on the same evaluation slices: the candidate's per-slice and per-label metrics
    (as `slice_metrics` names them), the reference's with the prefix ``fp32_``, their label
    agreement, the macro-F1 lost and each one's msg/s on these texts."""
    from voicelake.models.train import slice_metrics

    texts = [t for df in slices.values() for t in df["text"]]
    for scorer in (reference, candidate):  # warm-up
        scorer.predict(texts[:64])
    ref_labels, ref_s = _timed_labels(reference, texts)
    new_labels, new_s = _timed_labels(candidate, texts)
    cut = np.cumsum([0] + [len(df) for df in slices.values()])
    bounds = list(zip(slices, cut[:-1], cut[1:], strict=True))
    ref_metrics = slice_metrics({s: ref_labels[a:b] for s, a, b in bounds}, slices, labels)
    new_metrics = slice_metrics({s: new_labels[a:b] for s, a, b in bounds}, slices, labels)
    return {**new_metrics, **{f"fp32_{k}": v for k, v in ref_metrics.items()},
            "label_agreement": float(np.mean(np.array(ref_labels) == np.array(new_labels))) if texts else 0.0,
            "macro_f1_loss": ref_metrics["eval_macro_f1"] - new_metrics["eval_macro_f1"],
            "scoring_msgs_per_second": len(texts) / max(new_s, 1e-9),
            "fp32_scoring_msgs_per_second": len(texts) / max(ref_s, 1e-9), "speedup": ref_s / max(new_s, 1e-9)}


@dataclass(frozen=True)
class TorchPyfunc:
    """What an export reads from a downloaded emotion pyfunc folder."""

    model_dir: Path              # the transformers model (the ``model_dir`` artifact)
    model_config: dict[str, Any]  # the pyfunc's config: labels, max_length, sentences, ...
    run_id: str                  # the training run (its evaluation set)


def torch_pyfunc(local: Path, what: str) -> TorchPyfunc:
    """The parts of the emotion pyfunc in ``local``; an ONNX version (nothing to export) is an error."""
    import mlflow

    info = mlflow.models.Model.load(str(local / "MLmodel"))
    flavor = info.flavors["python_function"]
    model_config = dict(flavor.get("config") or {})
    if model_config.get("runtime") == ONNX_RUNTIME:
        raise ValueError(f"{what} is already an ONNX export; export a torch version")
    return TorchPyfunc(local / flavor["artifacts"]["model_dir"]["path"], model_config, str(info.run_id))


def source_model(config: Config, version: str | None = None) -> tuple[Any, TorchPyfunc]:
    """(model version, its pyfunc's parts) of a registered torch version (default: the champion)."""
    import mlflow
    from mlflow import MlflowClient

    from voicelake.models.registry import champion_version

    name = config.mlflow.model_name
    source = MlflowClient().get_model_version(name, version) if version else champion_version(config)
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{name}/{source.version}"))
    derived = (source.tags or {}).get(DERIVED_TAG, "?")
    return source, torch_pyfunc(local, f"{name} v{source.version} (of v{derived})")


def evaluation_slices(run_id: str) -> tuple[str, dict[str, Any]]:
    """(local path, slices) of a training run's logged evaluation set."""
    import mlflow
    import pandas as pd

    path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="evaluation/eval_set.parquet")
    return path, {s: df for s, df in pd.read_parquet(path).groupby("slice") if not df.empty}


def register_onnx(config: Config, texts: Sequence[Any], version: str | None = None,
                  log: Callable[[str], None] = print) -> OnnxExport:
    """Export a registered torch version (default: the champion) to ONNX int8, judge it on the
    source run's evaluation set and register it as @challenger. ``texts``: calibration text."""
    import mlflow
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    from voicelake.models.pyfunc import EmotionModel
    from voicelake.models.registry import run_labels

    client = MlflowClient()
    name = config.mlflow.model_name
    source, pyfunc = source_model(config, version)
    source_run = client.get_run(source.run_id)
    labels = run_labels(source_run.data.params)
    settings = config.model.onnx
    eval_path, slices = evaluation_slices(source.run_id)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="voicelake-onnx-") as tmp:
        folder = Path(tmp)
        log(f"exporting {name} v{source.version} to ONNX")
        built = build_int8(pyfunc.model_dir, pyfunc.model_config, texts, settings, folder, log)
        report = built.report
        metrics = {**compare_on_slices(built.torch_scorer, built.onnx_scorer, slices, labels),
                   "calibration_agreement": report.calibration_agreement,
                   "fp32_matmuls": float(len(report.kept_fp32)), "export_seconds": time.perf_counter() - started,
                   "size_mb": os.path.getsize(built.int8) / 1e6, "fp32_size_mb": os.path.getsize(built.fp32) / 1e6}
        if "baseline_eval_macro_f1" in source_run.data.metrics:
            metrics["baseline_eval_macro_f1"] = source_run.data.metrics["baseline_eval_macro_f1"]
        log(f"eval macro-F1 fp32 {metrics['fp32_eval_macro_f1']:.4f} -> int8 {metrics['eval_macro_f1']:.4f}; "
            f"label agreement {metrics['label_agreement']:.4f}; {metrics['speedup']:.2f}x the torch scorer's "
            f"msg/s ({metrics['scoring_msgs_per_second']:.0f} vs {metrics['fp32_scoring_msgs_per_second']:.0f})")
        tags = {RUNTIME_TAG: ONNX_RUNTIME, DERIVED_TAG: str(source.version), "precision": "int8"}
        with mlflow.start_run(run_name=f"{name} v{source.version} onnx int8") as run:
            mlflow.log_params({"taxonomy_labels": json.dumps(labels), "source_version": source.version,
                               "source_run_id": source.run_id, "opset": 18, "weight_type": "QInt8",
                               "per_channel": True, "calibration_sentences": report.calibration_sentences,
                               "calibration_agreement_target": settings.calibration_agreement,
                               "max_fp32_nodes": settings.max_fp32_nodes,
                               "base_encoder": source_run.data.params.get("base_encoder", "")})
            mlflow.log_metrics(metrics)
            mlflow.set_tags({**tags, "kept_fp32": ",".join(report.kept_fp32)})
            mlflow.log_artifact(eval_path, "evaluation")
            report_path = folder / "quantization.json"
            report_path.write_text(json.dumps(report.as_dict(), indent=1))
            mlflow.log_artifact(str(report_path), "quantization")
            example = pd.DataFrame({"text": ["Thanks, that fixed it!", "I'm still waiting for my refund."]})
            info = mlflow.pyfunc.log_model(
                name="model", python_model=EmotionModel(),
                artifacts={"model_dir": str(built.tokenizer_dir), "onnx_model": str(built.int8)},
                model_config=onnx_model_config(pyfunc.model_config), input_example=example,
                signature=infer_signature(example, built.onnx_scorer.predict(list(example["text"]))),
                registered_model_name=name)
        new_version = str(info.registered_model_version)
    for key, value in tags.items():
        client.set_model_version_tag(name, new_version, key, value)
    client.set_registered_model_alias(name, config.mlflow.challenger_alias, new_version)
    log(f"registered {name} v{new_version} (ONNX int8 of v{source.version}) as @{config.mlflow.challenger_alias}")
    return OnnxExport(new_version, str(source.version), run.info.run_id, metrics, report)


def onnx_model_config(model_config: dict[str, Any]) -> dict[str, Any]:
    """The pyfunc config of an int8 export of a version with ``model_config``."""
    return {**model_config, "runtime": ONNX_RUNTIME, "precision": "int8"}
