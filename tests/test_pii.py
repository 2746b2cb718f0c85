"""voicelake.pii: the planted failures, precision/recall on the planted set, no network use."""

from __future__ import annotations

import hashlib
import hmac
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from voicelake import pii
from voicelake.generator.pii_planted import planted_texts, score
from voicelake.secrets import MissingSecretError, PseudonymKeyRef, read_pseudonym_key


@pytest.fixture(scope="module")
def offline() -> Iterator[list[Any]]:
    """Any connection to another host while Presidio loads and runs is recorded and refused.

    Loopback connections go through: the same test worker may hold a Spark session from
    an earlier module, whose py4j gateway threads talk to the local JVM at any time."""
    attempts: list[Any] = []
    real_connect, real_create = socket.socket.connect, socket.create_connection

    def is_loopback(address: Any) -> bool:  # a Unix socket path is local too
        return not isinstance(address, tuple) or address[0] in {"127.0.0.1", "::1", "localhost"}

    def refuse_connect(sock: socket.socket, address: Any) -> Any:
        if is_loopback(address):
            return real_connect(sock, address)
        attempts.append(address)
        raise OSError("network disabled in this test")

    def refuse_create(address: Any, *args: Any, **kwargs: Any) -> Any:
        if is_loopback(address):
            return real_create(address, *args, **kwargs)
        attempts.append(address)
        raise OSError("network disabled in this test")

    socket.socket.connect = refuse_connect  # type: ignore[method-assign]
    socket.create_connection = refuse_create  # type: ignore[assignment]
    try:
        pii.analyzer.cache_clear()
        pii.redact_text("Hi Bob, write to bob@example.com")  # loads everything under the guard
        yield attempts
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.create_connection = real_create


@pytest.mark.parametrize("text, expected", [
    ("Hi Bob, my router is down", "Hi [PERSON], my router is down"),
    ("call me on 5551234567", "call me on [PHONE]"),
    ("or +447946095812 or 07946 095812", "or [PHONE] or [PHONE]"),
    ("refund to de89 3704 0044 0532 0130 00 please", "refund to [IBAN] please"),
    ("send it to 221B Baker Street, London NW1 6XE.", "send it to [ADDRESS]."),
    ("order 4539148803436468 is late", "order 4539148803436468 is late"),  # fails Luhn: no card
    ("card 4539 1488 0343 6467 charged", "card [CARD] charged"),
    ("server 192.168.1.200 is down", "server [IP] is down"),
    ("Dear Ms Smith, thanks. Regards, Anna", "Dear Ms [PERSON], thanks. Regards, [PERSON]"),
    ("mail me at anna.keller7@example.com please", "mail me at [EMAIL] please"),
    ("call +49 30 1234567 now", "call [PHONE] now"),
    ("IBAN DE89 3704 0044 0532 0130 00 thanks", "IBAN [IBAN] thanks"),
    ("order 123456 from 2026-01-03 at 10:30, version 4.2.0 costs $49.99",
     "order 123456 from 2026-01-03 at 10:30, version 4.2.0 costs $49.99"),
    ("Hello team, thanks for the help", "Hello team, thanks for the help"),
])
def test_redact_text_fixes_the_planted_failures(offline: list[Any], text: str, expected: str) -> None:
    assert pii.redact_text(text) == expected


def test_precision_and_recall_on_the_planted_set(offline: list[Any], capsys: pytest.CaptureFixture[str]) -> None:
    texts = planted_texts(300)
    assert len(texts) >= 200 and {e for t in texts for e, _, _ in t.spans} == set(pii.ENTITIES)
    result = score(texts, [pii.find_pii(t.text) for t in texts])
    regex_only = score(texts, [[] for _ in texts])
    with capsys.disabled():
        print(f"\nPII planted set: {len(texts)} texts, {result['planted']:.0f} spans, "
              f"precision {result['precision']:.3f}, recall {result['recall']:.3f}")
    assert result["precision"] >= 0.95 and result["recall"] >= 0.95
    assert regex_only["recall"] == 0.0  # the scorer can fail
    negatives = [t.text for t in texts if not t.spans]
    assert [pii.redact_text(t) for t in negatives] == negatives  # order numbers, versions, dates, prices


def test_no_network_while_loading_or_redacting(offline: list[Any]) -> None:
    assert pii.redact_text("write to someone@example.co.uk") == "write to [EMAIL]"
    assert offline == []


def test_the_network_guard_records_a_connection_to_another_host(offline: list[Any]) -> None:
    with pytest.raises(OSError, match="network disabled"):
        socket.create_connection(("192.0.2.1", 443), timeout=0.1)  # TEST-NET-1, never routed
    assert offline.pop() == ("192.0.2.1", 443)


def test_the_analyzer_loads_without_torch_and_leaves_it_importable() -> None:
    """A fresh process (a new Spark worker) builds the analyzer without importing torch or
    transformers (they cost ~12 s per worker), and the scoring UDF can import them afterwards."""
    code = ("import sys; from voicelake import pii; pii.analyzer();"
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules));"
            "import torch; print(pii.redact_text('Hi Bob, mail bob@x.com'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["[]", "Hi [PERSON], mail [EMAIL]"]


def test_cheap_pass_flags_only_possible_pii() -> None:
    assert pii.is_candidate("Hi Bob") and pii.is_candidate("order 12") and pii.is_candidate("a@b")
    assert not pii.is_candidate("the router is broken again") and not pii.is_candidate(None)


def test_pseudonym_key_is_read_from_the_environment_or_the_dev_file(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Any) -> None:
    read_pseudonym_key.cache_clear()
    monkeypatch.setenv("VL_TEST_KEY", "from-env")
    assert read_pseudonym_key(PseudonymKeyRef("VL_TEST_KEY", None)) == b"from-env"
    (tmp_path / "k").write_text("from-file\n")
    assert read_pseudonym_key(PseudonymKeyRef("VL_TEST_KEY_UNSET", str(tmp_path / "k"))) == b"from-file"
    with pytest.raises(MissingSecretError, match="VL_TEST_KEY_MISSING"):
        read_pseudonym_key(PseudonymKeyRef("VL_TEST_KEY_MISSING", None))
    assert pii.hmac_pseudonym("C1", b"k") == hmac.new(b"k", b"C1", hashlib.sha256).hexdigest()[:32]
