"""The ONNX export and its int8 quantisation, on the tiny random encoder (no Spark, no MLflow):
the exported graph computes the torch logits at every batch and sequence length, the calibrated
quantisation keeps the MatMuls that move the logits most in fp32 and says so, and the scorer
runs the same way on either runtime (and in bf16, the GPU path's precision, on CPU)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from voicelake.config import OnnxConfig
from voicelake.models.onnx_export import (
    calibration_sentences,
    encode_batches,
    export_onnx,
    onnx_logits,
    quantize_int8,
    weight_matmuls,
)
from voicelake.models.pyfunc import EmotionClassifier

LABELS = ["anger", "gratitude", "neutral"]
TEXTS = ["Thanks a lot, that fixed it!", "This is the third time I ask and it is still broken, I'm furious.",
         "ok", "Where do I find the reset button? " * 6, "", "😡😡", "I was charged twice. Please refund me. Now."]


def calibration_texts() -> list[str]:
    rng = np.random.default_rng(5)
    words = "refund broken thanks angry router waiting charged twice great app crash slow help please".split()
    return [" ".join(rng.choice(words, size=rng.integers(3, 14))) + "." for _ in range(150)]


@pytest.fixture(scope="module")
def classifier_dir(tiny_encoder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny classifier whose first two labels split the calibration sentences in half, so that
    many lie close to the boundary and int8 noise flips some: the calibration loop has work."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(3)
    target = tmp_path_factory.mktemp("tiny-classifier")
    tokenizer = AutoTokenizer.from_pretrained(tiny_encoder)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_encoder, num_labels=len(LABELS)).eval()
    encoded = tokenizer(calibration_texts(), padding=True, return_tensors="pt")
    with torch.no_grad():
        margin = model(**encoded).logits[:, 1] - model(**encoded).logits[:, 0]
        model.classifier.bias[1] -= margin.median()
        model.classifier.bias[2] -= 100.0
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


@pytest.fixture(scope="module")
def exported(classifier_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(classifier_dir, tmp_path_factory.mktemp("onnx") / "model.fp32.onnx")


def torch_logits(classifier_dir: Path, batches: list[dict[str, np.ndarray]]) -> np.ndarray:
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(classifier_dir).eval()
    with torch.inference_mode():
        return np.concatenate([model(**{k: torch.from_numpy(v) for k, v in b.items()}).logits.numpy()
                               for b in batches])


def test_the_exported_graph_computes_the_torch_logits_at_any_batch_and_length(classifier_dir: Path,
                                                                                exported: Path) -> None:
    """The TorchScript exporter baked the example's length into the attention mask (its logits were
    wrong on other lengths); these batches differ from the export example in size and length."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(classifier_dir)
    sentences = [t for t in TEXTS if t] + ["a " * 60, "b"]
    batches = [dict(tokenizer(sentences[:k], padding=True, truncation=True, max_length=48, return_tensors="np"))
               for k in (1, 3, len(sentences))]
    assert len({b["input_ids"].shape[1] for b in batches}) == 3
    np.testing.assert_allclose(onnx_logits(exported, batches), torch_logits(classifier_dir, batches),
                               rtol=1e-4, atol=1e-4)


def test_calibrated_quantisation_keeps_the_most_sensitive_matmuls_in_fp32(classifier_dir: Path, exported: Path,
                                                                          tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(classifier_dir)
    sentences = calibration_sentences(calibration_texts(), 120)
    assert len(sentences) == 120 and all(s.strip() for s in sentences)
    batches = encode_batches(tokenizer, sentences, 32)
    nodes = weight_matmuls(exported)
    assert len(nodes) >= 2 * 4  # 2 layers x (query, key, value, output, 2 feed-forward) and the head

    # agreement 1.0 demanded: the loop keeps up to 3 nodes in fp32, ranked by how far each moves the logits
    strict = replace(OnnxConfig(), calibration_agreement=1.0, max_fp32_nodes=3)
    logged: list[str] = []
    report = quantize_int8(exported, tmp_path / "strict.onnx", batches, strict, logged.append)
    assert report.matmuls == len(nodes) and report.calibration_sentences == len(sentences)
    assert report.agreement_all_int8 < 1.0  # the close head makes sure the calibration loop runs
    if report.agreement_all_int8 < 1.0:
        assert set(report.sensitivity) == set(nodes)
        ranked = sorted(nodes, key=lambda n: -report.sensitivity[n])
        assert report.kept_fp32 == ranked[:len(report.kept_fp32)] and len(report.kept_fp32) <= 3
        assert report.calibration_agreement >= report.agreement_all_int8
    assert logged[0].startswith(f"int8, all {len(nodes)} MatMuls")
    int8 = onnx_logits(tmp_path / "strict.onnx", batches)
    fp32 = onnx_logits(exported, batches)
    assert float((int8.argmax(1) == fp32.argmax(1)).mean()) == pytest.approx(report.calibration_agreement)

    # none may stay fp32: every weight MatMul is int8 (MatMulInteger / DynamicQuantizeMatMul in the graph)
    everything = quantize_int8(exported, tmp_path / "all.onnx", batches, replace(strict, max_fp32_nodes=0))
    assert everything.kept_fp32 == [] and weight_matmuls(tmp_path / "all.onnx") == []
    assert (tmp_path / "all.onnx").stat().st_size < exported.stat().st_size
    with pytest.raises(ValueError, match="calibration sentences"):
        quantize_int8(exported, tmp_path / "none.onnx", [], strict)


def test_the_scorer_gives_the_same_result_on_either_runtime_and_in_bf16(classifier_dir: Path, exported: Path) -> None:
    torch_scorer = EmotionClassifier(str(classifier_dir), LABELS, ["gratitude"], ["anger"], max_length=32,
                                     batch_size=2, device="cpu", sentences=True)
    onnx_scorer = EmotionClassifier(str(classifier_dir), LABELS, ["gratitude"], ["anger"], max_length=32,
                                    batch_size=2, sentences=True, onnx_model=str(exported), threads=1)
    a, b = torch_scorer.predict(TEXTS), onnx_scorer.predict(TEXTS)
    assert list(a.columns) == list(b.columns)
    assert list(a["label"]) == list(b["label"]) and list(a["input_status"]) == list(b["input_status"])
    np.testing.assert_allclose(a[[f"p_{x}" for x in LABELS]], b[[f"p_{x}" for x in LABELS]], atol=1e-5)
    assert onnx_scorer.seconds["tokenize"] > 0 and onnx_scorer.seconds["model"] > 0
    # the GPU path's precision runs on CPU too (a GPU executor adds pinned memory and large batches)
    bf16 = EmotionClassifier(str(classifier_dir), LABELS, ["gratitude"], ["anger"], max_length=32, device="cpu",
                             precision="bf16")
    assert bf16.logits.precision == "bf16" and bf16.batch_size == 64  # a CPU keeps the configured batch
    np.testing.assert_allclose(bf16.predict(TEXTS)["valence"], torch_scorer.predict(TEXTS)["valence"], atol=0.05)
    with pytest.raises(ValueError, match="precision must be one of"):
        EmotionClassifier(str(classifier_dir), LABELS, ["gratitude"], ["anger"], device="cpu", precision="int4")

