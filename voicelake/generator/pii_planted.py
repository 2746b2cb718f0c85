"""A planted PII set: support messages with known entity spans, and hard negatives (order
numbers, versions, dates, prices, error codes) that must stay as they are. Used by the PII
tests (precision/recall) and bench/bench_pii.py.

    python -m voicelake.generator.pii_planted 300   # prints JSON Lines {text, spans}
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass

FIRST = ("Bob", "Anna", "Maria", "James", "Sophie", "Lukas", "Priya", "Omar", "Claire", "Tom")
LAST = ("Smith", "Keller", "Novak", "Garcia", "Brown", "Okafor", "Tanaka", "Dubois")
EMAILS = ("anna.keller7@example.com", "bob_smith@mail.co.uk", "p.sharma+support@example.org", "tomk@firma.de")
PHONES = ("5551234567", "+447946095812", "07946 095812", "(555) 123-4567", "+49 30 1234567",
          "+1 415 555 0132", "020 7946 0958", "+33 1 42 68 53 00")
CARDS = ("4539 1488 0343 6467", "4539148803436467", "5555 5555 5555 4444", "4111-1111-1111-1111")
IBANS = ("DE89 3704 0044 0532 0130 00", "de89370400440532013000", "GB82 WEST 1234 5698 7654 32",
         "gb82west12345698765432", "NL91ABNA0417164300")
ADDRESSES = ("221B Baker Street, London NW1 6XE", "12 Oak Avenue", "742 Evergreen Terrace",
             "Hauptstraße 5, 10115 Berlin", "1600 Amphitheatre Parkway, Mountain View, CA 94043",
             "15 Station Road, Leeds LS1 4DY")
IPS = ("192.168.1.200", "10.0.0.12", "203.0.113.45")

# (template, slot -> entity type); {x} slots are filled and their spans recorded.
TEMPLATES: tuple[tuple[str, dict[str, str]], ...] = (
    ("Hi {p}, my router keeps dropping the connection.", {"p": "PERSON"}),
    ("Dear Ms {l}, thanks for the quick refund.", {"l": "PERSON"}),
    ("My name is {pl} and I was charged twice.", {"pl": "PERSON"}),
    ("The app crashes on login. Thanks, {p}", {"p": "PERSON"}),
    ("Hello {p}, can you call me back on {ph}?", {"p": "PERSON", "ph": "PHONE_NUMBER"}),
    ("You can reach me at {e} or {ph}.", {"e": "EMAIL_ADDRESS", "ph": "PHONE_NUMBER"}),
    ("My number is {ph}, please call after 5pm.", {"ph": "PHONE_NUMBER"}),
    ("My card {c} was charged.", {"c": "CREDIT_CARD"}),
    ("Please refund to IBAN {i}.", {"i": "IBAN_CODE"}),
    ("please refund to {i} asap", {"i": "IBAN_CODE"}),
    ("Send the replacement to {a} please.", {"a": "ADDRESS"}),
    ("I moved, my new address is {a}.", {"a": "ADDRESS"}),
    ("The server at {ip} refuses my connection.", {"ip": "IP_ADDRESS"}),
    ("Mr {l} said to email {e} about the invoice.", {"l": "PERSON", "e": "EMAIL_ADDRESS"}),
    ("Cheers, {p}", {"p": "PERSON"}),
)
NEGATIVES = (
    "Where is my refund for order {o}?", "Order number is {o16}.", "I'm using version {v}.",
    "The update {v} broke sync on {d}.", "It costs {price} per month since {d}.",
    "It says error {err} now.", "Tracking {o} hasn't moved in a week.", "Invoice {o16} is wrong.",
    "Ticket {o10} is still open.", "Hello team, the new Dashboard looks great!",
    "Thanks for the help, the Router works again.", "Version {v} was released at 10:30 on {d}.",
)


@dataclass(frozen=True)
class PlantedText:
    text: str
    spans: tuple[tuple[str, int, int], ...]  # (entity type, start, end)


def _fill(rng: random.Random, slot: str) -> str:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    values = {"p": first, "l": last, "pl": f"{first} {last}", "e": rng.choice(EMAILS), "ph": rng.choice(PHONES),
              "c": rng.choice(CARDS), "i": rng.choice(IBANS), "a": rng.choice(ADDRESSES), "ip": rng.choice(IPS),
              "o": str(rng.randint(100000, 999999)), "o10": str(rng.randint(10**9, 10**10 - 1)),
              "v": f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
              "d": f"2026-0{rng.randint(1, 9)}-{rng.randint(10, 28)}", "price": f"${rng.randint(5, 99)}.99",
              "err": str(rng.randint(400, 599))}
    if slot == "o16":  # 16 digits failing the Luhn check: an order number, not a card
        while True:
            digits = str(rng.randint(10**15, 10**16 - 1))
            if not _luhn(digits):
                return digits
    return values[slot]


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _render(rng: random.Random, template: str, kinds: dict[str, str]) -> PlantedText:
    text, spans, rest = "", [], template
    while "{" in rest:
        before, _, after = rest.partition("{")
        slot, _, rest = after.partition("}")
        text += before
        value = _fill(rng, slot)
        if slot in kinds:
            spans.append((kinds[slot], len(text), len(text) + len(value)))
        text += value
    return PlantedText(text + rest, tuple(spans))


def planted_texts(n: int = 300, seed: int = 7) -> list[PlantedText]:
    """``n`` texts: about two thirds with PII (every entity type), the rest hard negatives."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 3 == 2:
            out.append(_render(rng, NEGATIVES[(i // 3) % len(NEGATIVES)], {}))
        else:
            template, kinds = TEMPLATES[(i - i // 3) % len(TEMPLATES)]
            out.append(_render(rng, template, kinds))
    return out


def score(texts: Sequence[PlantedText], found: Sequence[Sequence[tuple[str, int, int]]]) -> dict[str, float]:
    """Span-level precision and recall: a found span is right when it overlaps a planted span
    of the same type; a planted span is recalled when such a found span overlaps it."""
    tp_found = n_found = tp_planted = n_planted = 0
    for planted, spans in zip(texts, found, strict=True):
        def overlaps(a: tuple[str, int, int], pool: Sequence[tuple[str, int, int]]) -> bool:
            return any(a[0] == b[0] and a[1] < b[2] and b[1] < a[2] for b in pool)
        n_found += len(spans)
        tp_found += sum(overlaps(s, planted.spans) for s in spans)
        n_planted += len(planted.spans)
        tp_planted += sum(overlaps(s, spans) for s in planted.spans)
    return {"precision": tp_found / n_found if n_found else 1.0,
            "recall": tp_planted / n_planted if n_planted else 1.0,
            "found": float(n_found), "planted": float(n_planted)}


if __name__ == "__main__":
    for item in planted_texts(int(sys.argv[1]) if len(sys.argv) > 1 else 300):
        print(json.dumps({"text": item.text, "spans": item.spans}))
