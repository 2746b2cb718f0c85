"""Import helpers shared by modules that load heavy libraries for a small part of them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def hidden_modules(*names: str) -> Iterator[None]:
    """Imports of ``names`` fail inside the block unless the process has already imported them.

    spaCy (through thinc) and Presidio (through its Hugging Face pipeline) import torch and
    transformers eagerly when installed, which costs a fresh Spark Python worker ~12 s; the
    PII pass and a stop-word list use neither. Both libraries guard those imports and work
    without them. The block only changes what this import sees: a later ``import torch`` (the
    scoring UDF in the same worker) loads it as usual."""
    hidden = [n for n in names if n not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]
