"""PII detection and redaction for free text, and keyed pseudonyms for identifiers (pure Python).

Two passes. The cheap one is a regular expression (`CANDIDATE_PATTERN`) that Spark evaluates
natively: only texts with a digit, an ``@``, a greeting, sign-off or title word, or a listed
first name can hold the PII below, so only those reach the second pass. The second pass is
Microsoft Presidio on a blank spaCy pipeline (no model is installed or downloaded): its
pattern and checksum recognizers for e-mail addresses, phone numbers (``phonenumbers``,
international formats), payment cards (Luhn), IBANs (checksum, any case) and IP addresses,
plus recognizers written here for person names (a name list and context patterns:
"Hi Bob", "Dear Ms Smith", "my name is ...", "Thanks, Anna") and postal addresses (house
number + street type, postcodes). Found spans become ``[PERSON]``, ``[EMAIL]``, ``[PHONE]``,
``[CARD]``, ``[IBAN]``, ``[ADDRESS]`` and ``[IP]``.

Presidio's e-mail recognizer checks domains with ``tldextract``, which downloads the public
suffix list by default; here it uses the snapshot bundled with tldextract and never touches
the network. Everything heavy is imported on first use, once per process.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from voicelake.imports import hidden_modules

PLACEHOLDERS = {"PERSON": "[PERSON]", "EMAIL_ADDRESS": "[EMAIL]", "PHONE_NUMBER": "[PHONE]",
                "CREDIT_CARD": "[CARD]", "IBAN_CODE": "[IBAN]", "ADDRESS": "[ADDRESS]", "IP_ADDRESS": "[IP]"}
ENTITIES = tuple(PLACEHOLDERS)

# Regions whose national formats the phone recognizer tries (international +CC works for all).
PHONE_REGIONS = ("US", "GB", "DE", "FR", "NL", "ES", "IE", "IT", "CA", "AU")

# Common first names; ambiguous words (Will, May, Joy, Grace, Mark, Bill...) are left out on
# purpose: they are caught only with a context (greeting, title, "my name is").
FIRST_NAMES = (
    "Aaron Adam Adrian Ahmed Aisha Alex Alexander Alice Alicia Amanda Amelia Amy Andrea Andrew Angela "
    "Anna Anne Anthony Antonio Ashley Barbara Ben Benjamin Bob Brian Bruno Carlos Carmen Caroline "
    "Charles Charlotte Chen Chloe Chris Christian Christina Christopher Claire Claudia Daniel David "
    "Deborah Dennis Diana Diego Dmitri Elena Elizabeth Emily Emma Eric Fatima Felix Fernando Florian "
    "Francesca Frank Gabriel George Giulia Hannah Hans Helen Henry Ian Isabella Ivan Jack Jacob James "
    "Jan Jane Jason Jennifer Jessica Joanna John Jonas Jose Joseph Juan Julia Julian Karen Katarina "
    "Kate Katharina Kevin Klaus Laura Lea Leon Linda Lisa Lucas Lucy Luis Lukas Maria Marie Marta "
    "Martin Mary Matteo Matthew Max Maximilian Mehmet Michael Michelle Mohammed Monika Natalia "
    "Nicole Nina Noah Olga Oliver Olivia Omar Pablo Patricia Paul Peter Petra Pierre Priya Rachel "
    "Rahul Raj Rebecca Richard Robert Rosa Ryan Sabine Sam Samuel Sandra Sara Sarah Sebastian Sofia "
    "Sophie Stefan Stephanie Steve Steven Susan Thomas Tim Timothy Tom Ursula Victoria Wei Yuki Zoe"
).split()

_GREETING = r"(?:hi|hello|hey|dear|morning|afternoon|evening|thanks|thank you|cheers|regards)"
_TITLE = r"(?:mr|mrs|ms|miss|dr|prof|herr|frau|mme)\.?"
_NAME = r"[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?"
NOT_NAMES = frozenset(
    "there team all everyone support customer customers again so for guys folks sir madam again you "
    "a the and in advance very much much lot again service agent billing i we this that it your my "
    "our is am was today yesterday tomorrow please ok okay sorry hello hi hey dear thanks regards "
    # sentence openers after a greeting ("Hi, Could you add ...", "Hello, Suggestion: ..."): words no
    # one is named (Will, May and Can are names: they stay redacted)
    "could would should shall might must suggestion suggestions idea why what how when where which who does do "
    "did are has have had just also quick question questions any unrelated one by oh about since after before "
    "regarding re cannot".split())

# The cheap pass (Java and Python regex syntax): a text the second pass could change matches it.
CANDIDATE_PATTERN = (r"[0-9@]|(?i:\b(?:" + _GREETING[3:-1] + r"|best|sincerely|name is|this is|i am|i'm|signed|"
                     r"mr|mrs|ms|miss|dr|prof|herr|frau|mme)\b)|\b(?:" + "|".join(FIRST_NAMES) + r")\b")

# A regex-only redactor (the fast path of earlier versions, kept for comparison and as the
# silver gate's leak patterns); order matters: IBAN and card numbers before the phone pattern.
PII_PATTERNS: tuple[tuple[str, str], ...] = (
    ("[IBAN]", r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"),
    ("[CARD]", r"\b(?:\d[ -]?){12,18}\d\b"),
    ("[EMAIL]", r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    ("[PHONE]", r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?|\b\d{2,4}[ .-])\d{3,4}[ .-]?\d{3,5}\b"),
)

_NOT_A_PHONE_BEFORE = re.compile(
    r"(?:\b(?:order|invoice|ticket|case|ref|reference|tracking|account|acct|serial|id|no)|#)\W{0,3}$", re.I)


def is_candidate(text: str | None) -> bool:
    """True when the cheap pass flags ``text`` for the Presidio pass."""
    return bool(text) and _candidate().search(text or "") is not None


@lru_cache(maxsize=1)
def _candidate() -> re.Pattern[str]:
    return re.compile(CANDIDATE_PATTERN)


def redact_regex(text: str | None) -> str | None:
    """The regex-only redaction (`PII_PATTERNS`), in Python."""
    if text is None:
        return None
    for placeholder, pattern in PII_PATTERNS:
        text = re.sub(pattern, placeholder, text)
    return text


def _recognizers() -> list[Any]:
    from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
    )

    class PersonRecognizer(EntityRecognizer):  # type: ignore[misc]
        """Person names from context patterns and a first-name list (no NER model)."""

        CONTEXT = [
            re.compile(rf"(?i:\b{_GREETING}),?[ \t]+(?:(?i:{_TITLE})[ \t]+)?(?P<name>{_NAME}(?:[ \t]+{_NAME})?)"),
            re.compile(rf"\b(?i:{_TITLE})[ \t]+(?P<name>{_NAME}(?:[ \t]+{_NAME})?)"),
            re.compile(rf"(?i:\b(?:my name is|my name's|this is|i am|i'm|signed))[ \t]+(?P<name>{_NAME}"
                       rf"(?:[ \t]+{_NAME})?)"),
            re.compile(rf"(?i:\b(?:thanks|thank you|cheers|regards|best|sincerely|yours)[ \t]*[,.!]?)\s*[-–]?\s*"
                       rf"(?P<name>{_NAME}(?:[ \t]+{_NAME})?)\s*[.!]?\s*$"),
        ]
        LISTED = re.compile(r"\b(?:" + "|".join(FIRST_NAMES) + rf")\b(?:[ \t]+{_NAME})?")

        def load(self) -> None:
            pass

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
            found: list[Any] = []
            for pattern in self.CONTEXT:
                for m in pattern.finditer(text):
                    start, end = m.span("name")
                    words = m.group("name").split()
                    while words and words[-1].lower() in NOT_NAMES:
                        end -= len(words.pop()) + 1
                    if not words or words[0].lower() in NOT_NAMES:
                        continue
                    found.append(RecognizerResult("PERSON", start, start + len(" ".join(words)), 0.85))
            for m in self.LISTED.finditer(text):
                words = m.group(0).split()
                n = len(words) if len(words) < 2 or words[1].lower() not in NOT_NAMES else 1
                found.append(RecognizerResult("PERSON", m.start(), m.start() + len(" ".join(words[:n])), 0.7))
            return found

    class NanpPhoneRecognizer(EntityRecognizer):  # type: ignore[misc]
        """North-American-shaped numbers, incl. 555 test numbers phonenumbers calls invalid
        (`find_pii` drops phones right after an order / ticket / reference word)."""

        PATTERN = re.compile(r"(?<![\w.+/-])(?:\(\d{3}\)[ ]?|\d{3}[ .-]?)\d{3}[ .-]?\d{4}(?![\w.]\d|\w)")

        def load(self) -> None:
            pass

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
            return [RecognizerResult("PHONE_NUMBER", m.start(), m.end(), 0.6) for m in self.PATTERN.finditer(text)]

    street = (r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Court|Ct|Place|Pl|"
              r"Close|Terrace|Crescent|Square|Sq|Parkway|Highway|Hwy|Row|Gardens|Hill)")
    uk_postcode = r"[A-Z]{1,2}\d[A-Z\d]?[ ]?\d[A-Z]{2}"
    town = r"(?:,?[ ]+[A-Z][a-z]+(?:[ ][A-Z][a-z]+)?)?"
    tail = rf"(?:{town}(?:,?[ ]+(?:{uk_postcode}|[A-Z]{{2}}[ ]\d{{5}}(?:-\d{{4}})?|\d{{5}}))?)?"
    address = PatternRecognizer(supported_entity="ADDRESS", name="AddressRecognizer",
                                global_regex_flags=re.DOTALL | re.MULTILINE, patterns=[
        Pattern("house number + street",
                rf"\b\d{{1,5}}[A-Za-z]?,?[ ]+(?:[A-Z][a-z]+[ ]+){{1,3}}{street}\b\.?{tail}", 0.8),
        Pattern("continental street + number",
                r"\b[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|str\.|weg|gasse|platz|allee|laan|straat|gracht)"
                r"[ ]+\d{1,4}[a-z]?(?:,[ ]*\d{4,5}(?:[ ][A-Z]{2})?[ ]+[A-ZÄÖÜ][a-zäöüß]+)?", 0.8),
        Pattern("UK postcode", rf"\b{uk_postcode}\b", 0.6),
        Pattern("US state + ZIP", r"\b(?:[A-Z][a-z]+,[ ])?[A-Z]{2}[ ]\d{5}(?:-\d{4})?\b", 0.5),
    ])
    iban = IbanRecognizer(regex_flags=re.DOTALL | re.MULTILINE | re.IGNORECASE)
    return [EmailRecognizer(), PhoneRecognizer(supported_regions=PHONE_REGIONS, leniency=1),
            NanpPhoneRecognizer(supported_entities=["PHONE_NUMBER"], name="NanpPhoneRecognizer"),
            CreditCardRecognizer(), iban, IpRecognizer(),
            PersonRecognizer(supported_entities=["PERSON"], name="PersonRecognizer"), address]


def _offline_tldextract() -> None:
    """Point Presidio's e-mail recognizer at tldextract's bundled suffix list (no download)."""
    import tldextract
    from presidio_analyzer.predefined_recognizers.generic import email_recognizer

    extractor = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class _Offline:
        extract = staticmethod(extractor)

    email_recognizer.tldextract = _Offline  # type: ignore[assignment]


@lru_cache(maxsize=1)
def analyzer() -> Any:
    """A Presidio AnalyzerEngine on a blank spaCy English pipeline with voicelake's recognizers
    (built once per process, without importing torch or transformers)."""
    with hidden_modules("torch", "transformers"):
        return _build_analyzer()


def _build_analyzer() -> Any:
    import spacy
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    class BlankSpacyEngine(SpacyNlpEngine):  # type: ignore[misc]
        """Tokenisation only: spaCy's blank English pipeline, nothing to download."""

        def load(self) -> None:
            self.nlp = {"en": spacy.blank("en")}  # type: ignore[assignment]

    _offline_tldextract()
    engine = BlankSpacyEngine(models=[{"lang_code": "en", "model_name": "blank"}])
    engine.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in _recognizers():
        registry.add_recognizer(recognizer)
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])


@lru_cache(maxsize=1)
def _anonymizer() -> tuple[Any, dict[str, Any]]:
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import OperatorConfig

    operators = {e: OperatorConfig("replace", {"new_value": p}) for e, p in PLACEHOLDERS.items()}
    return AnonymizerEngine(), operators


def find_pii(text: str) -> list[tuple[str, int, int]]:
    """Non-overlapping (entity, start, end) spans of PII in ``text``: longer spans win, then
    higher scores, then the checksum-validated entity types."""
    results = analyzer().analyze(text=text, language="en", entities=list(ENTITIES), score_threshold=0.35)
    rank = {e: i for i, e in enumerate(("IBAN_CODE", "CREDIT_CARD", "EMAIL_ADDRESS", "IP_ADDRESS",
                                        "ADDRESS", "PHONE_NUMBER", "PERSON"))}
    chosen: list[tuple[str, int, int]] = []
    results = [r for r in results if r.entity_type != "PHONE_NUMBER"
               or not _NOT_A_PHONE_BEFORE.search(text[max(0, r.start - 24):r.start])]
    for r in sorted(results, key=lambda r: (-(r.end - r.start), -r.score, rank[r.entity_type])):
        if all(r.end <= s or r.start >= e for _, s, e in chosen):
            chosen.append((r.entity_type, r.start, r.end))
    return sorted(chosen, key=lambda c: c[1])


_EMAIL = re.compile(dict((p, r) for p, r in PII_PATTERNS)["[EMAIL]"])


def redact_text(text: str | None) -> str | None:
    """``text`` with every PII span replaced by its placeholder (both passes). E-mail
    addresses whose domain is no public suffix (``.example``, ``.local``, internal hosts),
    which Presidio's recognizer rejects, are replaced by the regex afterwards."""
    if not text or not is_candidate(text):
        return text
    spans = find_pii(text)
    if spans:
        from presidio_anonymizer.entities import RecognizerResult

        engine, operators = _anonymizer()
        results = [RecognizerResult(entity_type=e, start=s, end=end, score=1.0) for e, s, end in spans]
        text = str(engine.anonymize(text=text, analyzer_results=results, operators=operators).text)
    return _EMAIL.sub("[EMAIL]", text)


def redact_texts(texts: Iterable[str | None]) -> list[str | None]:
    """`redact_text` over many texts."""
    return [redact_text(t) for t in texts]


def hmac_pseudonym(value: str | None, key: bytes) -> str | None:
    """HMAC-SHA256(key, value) as 32 hex characters: the pseudonym of an identifier."""
    if value is None:
        return None
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
