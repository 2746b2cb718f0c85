"""F1 of the suggestion detector on SemEval-2019 Task 9's trial-test file, against baselines,
and its speed.

    .venv/bin/python bench/bench_suggestions.py [--data ../shared/data/suggestions]

Trains what `voicelake train-suggestions` trains (TF-IDF + sentence embedding, threshold
chosen on a development split of the training data) and, on the same split, a TF-IDF-only
baseline and an embedding-only head; prints the suggestion class's precision, recall and F1 of
each on the trial-test file, the detector's decisions on hard negatives and out-of-domain
suggestions written for this bench (not in any training file), and sentences per second.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

HARD_NEGATIVES = [  # modal verbs and wishes that ask for nothing; none is in the seed set
    "I probably should have checked the size chart first.",
    "Should we bring our own towels to the spa?",
    "You should get a text with the code in a minute or two.",
    "It would've been easier if I had kept the receipt.",
    "I wish the weather had been better during our stay.",
    "Could you confirm my booking for Friday?",
    "Please unlock my card, I typed the PIN wrong three times.",
    "Would it be possible for someone to call me back today?",
    "Perhaps the problem is on my side, my cable looks old.",
    "The card should have arrived by now, but nothing came.",
]
OTHER_DOMAINS = [  # suggestions from hotels, banking, games, public transport
    "It would be great if the hotel offered late checkout on Sundays.",
    "Please add a way to freeze my card from the banking app.",
    "The game needs a button to skip the intro cutscene.",
    "Trains at night should run every 15 minutes instead of every hour.",
    "You could put a water fountain in the lobby.",
    "I'd love to see a vegetarian option on the room service menu.",
    "Why not let us pay the parking fee with the app?",
    "Consider adding subtitles to the tutorial videos.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
                                              / "suggestions"))
    args = parser.parse_args()

    from voicelake.models.suggestion_registry import evaluate, fit_detector
    from voicelake.models.suggestions import (
        SEMEVAL_TRAIN,
        SuggestionDetector,
        best_threshold,
        f1_of_suggestions,
        suggestion_training_data,
        train_tfidf_baseline,
    )
    from voicelake.models.topics import SentenceEncoder
    from voicelake.models.train import resolve_encoder

    if not (Path(args.data) / SEMEVAL_TRAIN).exists():
        raise SystemExit(f"no SemEval files in {args.data}")
    from voicelake.config import load_config

    settings = load_config("local").suggestions  # what `voicelake train-suggestions` uses
    data = suggestion_training_data(args.data, settings.dev_fraction)
    print(f"training {len(data.train)} sentences ({', '.join(data.sources)}), development {len(data.dev)}, "
          f"evaluation {len(data.eval)} ({data.eval_name}, {int(data.eval['label'].sum())} suggestions)")
    encoder = SentenceEncoder(resolve_encoder(settings.encoder), settings.max_length, settings.batch_size)
    t0 = time.perf_counter()
    detector = fit_detector(data, encoder, settings.regularization, settings.seed, settings.seed_share)
    print(f"detector trained in {time.perf_counter() - t0:.0f} s (threshold {detector.head.threshold:.3f})")
    t0 = time.perf_counter()
    scores = evaluate(detector, data.eval)
    rate = len(data.eval) / (time.perf_counter() - t0)
    print(f"detector (TF-IDF + embedding): precision {scores['precision']:.3f}, recall {scores['recall']:.3f}, "
          f"F1 {scores['f1']:.3f} on the trial-test file; {rate:.0f} sentences/s on 2 cores")

    baseline = train_tfidf_baseline(data.train, 13)
    base = f1_of_suggestions(list(data.eval["label"]), [int(x) for x in baseline.predict(list(data.eval["text"]))])
    print(f"baseline (TF-IDF + LR, threshold 0.5): precision {base['precision']:.3f}, recall {base['recall']:.3f}, "
          f"F1 {base['f1']:.3f}")

    from sklearn.linear_model import LogisticRegression

    train_x = encoder.encode(list(data.train["text"]))
    only = LogisticRegression(max_iter=3000, class_weight="balanced").fit(train_x, data.train["label"])
    dev_p = only.predict_proba(encoder.encode(list(data.dev["text"])))[:, 1]
    threshold = best_threshold(list(data.dev["label"]), dev_p)
    eval_p = only.predict_proba(encoder.encode(list(data.eval["text"])))[:, 1]
    emb = f1_of_suggestions(list(data.eval["label"]), list((eval_p >= threshold).astype(int)))
    print(f"embedding only (LR, dev threshold {threshold:.3f}): precision {emb['precision']:.3f}, recall "
          f"{emb['recall']:.3f}, F1 {emb['f1']:.3f}")

    assert isinstance(detector, SuggestionDetector)
    hard = detector.messages(HARD_NEGATIVES)
    other = detector.messages(OTHER_DOMAINS)
    print(f"hard negatives called suggestions: {int(hard['is_suggestion'].sum())} of {len(HARD_NEGATIVES)}"
          + "".join(f"\n  - {t}" for t, s in zip(HARD_NEGATIVES, hard["is_suggestion"], strict=True) if s))
    print(f"other-domain suggestions found: {int(other['is_suggestion'].sum())} of {len(OTHER_DOMAINS)}"
          + "".join(f"\n  - missed: {t}" for t, s in zip(OTHER_DOMAINS, other["is_suggestion"], strict=True)
                    if not s))
    print(f"baseline on them: hard negatives {int(np.sum(baseline.predict(HARD_NEGATIVES)))} of "
          f"{len(HARD_NEGATIVES)} called suggestions, other-domain {int(np.sum(baseline.predict(OTHER_DOMAINS)))} "
          f"of {len(OTHER_DOMAINS)} found")


if __name__ == "__main__":
    main()
