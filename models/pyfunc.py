"""The emotion model as an MLflow pyfunc: a transformers sequence classifier inside.

``predict`` takes a DataFrame with a ``text`` column and returns one row per text with
``label``, one ``p_<label>`` column per taxonomy label (summing to 1), ``valence`` in
[-1, 1], ``confidence`` (the top probability) and ``input_status``:

- ``ok``: scored as given;
- ``truncated``: reached ``max_length`` tokens; only the first ``max_length`` are scored;
- ``empty``: empty or whitespace-only; not run through the model: label ``neutral``
  with probability 1, valence 0, confidence 1;
- ``emoji``: only emoji/symbols; common emoji are spelled out as words first
  (for example a crying face as "sad"), so they score as the emotion they show.

With ``sentences`` on (the model config's ``sentences``; trained models turn it on), a
message is split into sentences, each is scored, and the message takes the distribution of
its most emotional sentence (the one least likely neutral): an agent's "Hi Ann, I'm so
sorry for the trouble. I've refunded the charge." shows empathy, which one score of the
whole message dilutes into neutral. ``truncated`` then means a sentence was cut.

Non-English text is scored by the same model (silver.messages carries ``language``);
expect lower confidence there.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

EMOJI_WORDS = {
    "😡": " angry ", "🤬": " furious ", "👎": " bad ", "😤": " annoyed ", "🙄": " annoyed ",
    "😩": " fed up ", "😞": " disappointed ", "😔": " sad ", "💔": " heartbroken ", "😢": " sad ",
    "😭": " very sad ", "😟": " worried ", "😰": " anxious ", "😱": " scared ", "🤔": " confused ",
    "😕": " confused ", "❓": " ? ", "🙏": " thank you ", "👍": " good ", "😊": " happy ",
    "😀": " happy ", "😃": " happy ", "😄": " happy ", "😁": " happy ", "😍": " love it ",
    "❤️": " love ", "❤": " love ", "🎉": " great ", "🥳": " great ", "😂": " funny ",
}
_EMOJI_RE = re.compile("|".join(re.escape(e) for e in sorted(EMOJI_WORDS, key=len, reverse=True)))
_WORD_RE = re.compile(r"[^\W_]", re.UNICODE)


def prepare_text(text: Any) -> tuple[str, str]:
    """(text for the model, input_status before truncation)."""
    if text is None or (isinstance(text, float) and np.isnan(text)) or not str(text).strip():
        return "", "empty"
    text = str(text)
    if not _WORD_RE.search(text):
        spelled = _EMOJI_RE.sub(lambda m: EMOJI_WORDS[m.group(0)], text).strip()
        return (spelled or text), "emoji"
    return _EMOJI_RE.sub(lambda m: EMOJI_WORDS[m.group(0)], text), "ok"


_QUOTE_HEADER = re.compile(r"^\s*(On .{4,200} wrote:|-{2,}\s*Original Message\s*-{2,})\s*$",
                           re.IGNORECASE | re.MULTILINE)


def strip_quoted_reply(text: Any) -> Any:
    """The text without the message it replies to: lines quoted with ">" and everything after
    an "On <date>, <sender> wrote:" or "-----Original Message-----" line. Non-text passes through."""
    if not isinstance(text, str) or (">" not in text and "rote:" not in text and "riginal" not in text):
        return text
    header = _QUOTE_HEADER.search(text)
    if header:
        text = text[:header.start()]
    return "\n".join(line for line in text.split("\n") if not line.lstrip().startswith(">")).strip()


# a sentence ends at . ! ? or an ellipsis followed by space, or at a line break; very short
# pieces ("Hi,", "5.1") stay with their neighbour
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\s*\n+\s*")
MIN_SENTENCE_CHARS = 12
MAX_SENTENCES = 12


def split_sentences(text: str) -> list[str]:
    """Sentences of a prepared text, short fragments merged forward, at most MAX_SENTENCES
    (the rest stays in the last one)."""
    pieces = [piece for piece in _SENTENCE_END.split(text) if piece and piece.strip()]
    sentences: list[str] = []
    carry = ""
    for piece in pieces:
        carry = f"{carry} {piece}".strip() if carry else piece.strip()
        if len(carry) >= MIN_SENTENCE_CHARS:
            sentences.append(carry)
            carry = ""
    if carry:
        if sentences:
            sentences[-1] = f"{sentences[-1]} {carry}"
        else:
            sentences.append(carry)
    if len(sentences) > MAX_SENTENCES:
        sentences = sentences[:MAX_SENTENCES - 1] + [" ".join(sentences[MAX_SENTENCES - 1:])]
    return sentences or [text]


def output_columns(labels: Sequence[str]) -> list[str]:
    return ["label", *[f"p_{x}" for x in labels], "valence", "confidence", "input_status"]


class TorchLogits:
    """The transformers model in torch: fp32 on CPU; on a CUDA device bf16 by default, fed
    from pinned host memory (``precision``: fp32 | bf16 | fp16)."""

    def __init__(self, model_dir: str, device: str, precision: str | None = None) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification

        self.torch = torch
        self.device = device
        precision = precision or ("bf16" if device.startswith("cuda") else "fp32")
        dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
        if precision not in dtypes:
            raise ValueError(f"precision must be one of {sorted(dtypes)}, not {precision!r}")
        self.precision = precision
        self.model = AutoModelForSequenceClassification.from_pretrained(
            model_dir, dtype=dtypes[precision]).to(device).eval()
        self.pinned = device.startswith("cuda") and torch.cuda.is_available()

    def __call__(self, encoded: dict[str, np.ndarray]) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            tensors = {k: torch.from_numpy(v) for k, v in encoded.items()}
            if self.pinned:  # page-locked host buffers: the copy to the GPU overlaps with work
                tensors = {k: t.pin_memory().to(self.device, non_blocking=True) for k, t in tensors.items()}
            else:
                tensors = {k: t.to(self.device) for k, t in tensors.items()}
            return self.model(**tensors).logits.float().cpu().numpy()


class OnnxLogits:
    """The same classifier exported to ONNX (models/onnx_export.py), run by ONNX Runtime on CPU."""

    def __init__(self, path: str, threads: int = 0) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(0, threads)  # 0: one per core
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def __call__(self, encoded: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(None, {k: encoded[k].astype(np.int64, copy=False) for k in self.inputs})[0]


class EmotionClassifier:
    """Tokenizer + model + taxonomy: batched, length-sorted inference with torch (CPU or GPU)
    or, given ``onnx_model``, with ONNX Runtime. ``seconds`` accumulates the time spent
    tokenizing and in the model, so a bench can tell which one bounds throughput."""

    def __init__(self, model_dir: str, labels: Sequence[str], positive: Sequence[str],
                 negative: Sequence[str], max_length: int = 128, batch_size: int = 64,
                 device: str | None = None, sentences: bool = False, onnx_model: str | None = None,
                 threads: int = 0, precision: str | None = None, gpu_batch_size: int = 512) -> None:
        from transformers import AutoTokenizer

        self.labels = list(labels)
        self.sentences = sentences
        self.max_length = max_length
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.logits: TorchLogits | OnnxLogits
        if onnx_model:
            self.device = "cpu"
            self.logits = OnnxLogits(onnx_model, threads)
        else:
            import torch

            self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
            self.logits = TorchLogits(model_dir, self.device, precision)
        # a GPU is fed large batches; length sorting keeps their padding small
        self.batch_size = max(batch_size, gpu_batch_size) if self.device.startswith("cuda") else batch_size
        self.pos = [self.labels.index(x) for x in positive]
        self.neg = [self.labels.index(x) for x in negative]
        self.seconds = {"tokenize": 0.0, "model": 0.0}

    def probabilities(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(n x labels probabilities, truncated flags) for non-empty texts.

        Every text is tokenised once, unpadded; batches are then cut from the texts sorted by
        token count and padded only to their own longest text (length bucketing: about 1% of
        a batch's tokens are padding, against a third when sorting by characters)."""
        n = len(texts)
        probs = np.zeros((n, len(self.labels)), dtype=np.float64)
        if n == 0:
            return probs, np.zeros(0, dtype=bool)
        t0 = time.perf_counter()
        ids = self.tokenizer(list(texts), truncation=True, max_length=self.max_length,
                             return_attention_mask=False, return_token_type_ids=False)["input_ids"]
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=n)
        self.seconds["tokenize"] += time.perf_counter() - t0
        # a sequence that fills max_length was (or just fits before being) cut
        truncated = lengths >= self.max_length
        order = np.argsort(lengths, kind="stable")
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            t0 = time.perf_counter()
            encoded = self._padded([ids[i] for i in idx], int(lengths[idx].max()))
            t1 = time.perf_counter()
            logits = self.logits(encoded).astype(np.float64)
            self.seconds["tokenize"] += t1 - t0
            self.seconds["model"] += time.perf_counter() - t1
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            probs[idx] = p / p.sum(axis=1, keepdims=True)
        return probs, truncated

    def _padded(self, rows: list[list[int]], width: int) -> dict[str, np.ndarray]:
        """The model's inputs for token id rows, padded to ``width`` on the tokenizer's side."""
        input_ids = np.full((len(rows), width), self.tokenizer.pad_token_id or 0, dtype=np.int64)
        attention = np.zeros((len(rows), width), dtype=np.int64)
        left = self.tokenizer.padding_side == "left"
        for r, row in enumerate(rows):
            span = slice(width - len(row), width) if left else slice(0, len(row))
            input_ids[r, span] = row
            attention[r, span] = 1
        encoded = {"input_ids": input_ids, "attention_mask": attention}
        if "token_type_ids" in self.tokenizer.model_input_names:
            encoded["token_type_ids"] = np.zeros_like(input_ids)
        return encoded

    def strongest_sentence(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Like `probabilities`, each text scored by its most emotional sentence (lowest
        P(neutral)); one length-sorted pass over every sentence of every text."""
        split = [split_sentences(t) for t in texts]
        owner = np.repeat(np.arange(len(texts)), [len(parts) for parts in split])
        p, truncated = self.probabilities([sentence for parts in split for sentence in parts])
        probs = np.zeros((len(texts), len(self.labels)), dtype=np.float64)
        cut = np.zeros(len(texts), dtype=bool)
        np.logical_or.at(cut, owner, truncated)
        neutral = p[:, self.labels.index("neutral")] if "neutral" in self.labels else -p.max(axis=1)
        best = pd.Series(neutral).groupby(owner).idxmin().to_numpy()
        probs[owner[best]] = p[best]
        return probs, cut

    def predict(self, texts: Sequence[Any]) -> pd.DataFrame:
        """Scores for each text, in input order."""
        prepared = [prepare_text(t) for t in texts]
        status = np.array([s for _, s in prepared], dtype=object)
        scored = np.flatnonzero(status != "empty")
        probs = np.zeros((len(texts), len(self.labels)), dtype=np.float64)
        probs[status == "empty", self.labels.index("neutral")] = 1.0
        if self.sentences:
            p, truncated = self.strongest_sentence([prepared[i][0] for i in scored])
        else:
            p, truncated = self.probabilities([prepared[i][0] for i in scored])
        probs[scored] = p
        status[scored[truncated]] = "truncated"
        top = probs.argmax(axis=1)
        out = pd.DataFrame({"label": [self.labels[i] for i in top]})
        for j, name in enumerate(self.labels):
            out[f"p_{name}"] = probs[:, j]
        out["valence"] = np.clip(probs[:, self.pos].sum(axis=1) - probs[:, self.neg].sum(axis=1), -1.0, 1.0)
        out["confidence"] = probs.max(axis=1)
        out["input_status"] = status.astype(str)
        return out


class EmotionModel(PythonModel):
    """MLflow pyfunc wrapper. The artifact ``model_dir`` holds the transformers model (or, for
    a version exported to ONNX, its tokenizer and config) and ``onnx_model`` the ONNX file of
    such a version; the model config's ``runtime`` says which (``torch`` when absent)."""

    def load_context(self, context: Any) -> None:
        cfg = context.model_config
        # the Spark UDF sets VOICELAKE_SCORER_THREADS to the task's cores before loading, and
        # VOICELAKE_SCORER_DEVICE to the task's GPU when Spark assigned one; on a GPU the model
        # runs in VOICELAKE_SCORER_PRECISION (default bf16) on batches of VOICELAKE_SCORER_GPU_BATCH
        threads = int(os.environ.get("VOICELAKE_SCORER_THREADS", "0"))
        if threads > 0:
            import torch

            torch.set_num_threads(threads)
        onnx_model = context.artifacts.get("onnx_model") if cfg.get("runtime") == "onnxruntime" else None
        self.classifier = EmotionClassifier(
            context.artifacts["model_dir"], cfg["labels"], cfg["positive"], cfg["negative"],
            int(cfg.get("max_length", 128)), int(cfg.get("batch_size", 64)),
            sentences=bool(cfg.get("sentences", False)), onnx_model=onnx_model, threads=threads,
            device=os.environ.get("VOICELAKE_SCORER_DEVICE") or None,
            precision=os.environ.get("VOICELAKE_SCORER_PRECISION") or None,
            gpu_batch_size=int(os.environ.get("VOICELAKE_SCORER_GPU_BATCH") or 512))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        if isinstance(model_input, pd.DataFrame):
            texts = model_input["text"] if "text" in model_input else model_input.iloc[:, 0]
        else:
            texts = pd.Series(model_input)
        return self.classifier.predict(list(texts))
