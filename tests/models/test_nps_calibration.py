"""The NPS calibration recovers the population's NPS when respondents are biased (no Spark)."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from voicelake.models.nps_calibration import (
    CalibrationModel,
    calibration_error,
    estimate_response_rates,
    fit_calibration,
    fit_logit,
    nps_class,
    segment_index,
)

FEATURES = ("mean_valence", "min_valence", "contacts")
RESPONSE_RATE = {0: 0.35, 1: 0.02, 2: 0.12}  # the unhappy and the delighted answer, the middle rarely


def population(n: int, seed: int, passive_share: float = 0.5) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    other = (1 - passive_share) / 2
    y = rng.choice(3, size=n, p=[other, passive_share, other])
    centre = np.array([-0.5, 0.05, 0.5])[y]
    frame = pd.DataFrame({
        "mean_valence": centre + rng.normal(0, 0.35, n),
        "min_valence": centre - 0.3 + rng.normal(0, 0.45, n),
        "contacts": rng.poisson(np.array([3.0, 1.5, 1.2])[y]).astype(float),
    })
    answered = rng.random(n) < np.vectorize(RESPONSE_RATE.get)(y)
    return frame, y, answered


def nps(classes: np.ndarray) -> float:
    return 100 * (np.mean(classes == 2) - np.mean(classes == 0))


def index(model: CalibrationModel, frame: pd.DataFrame, y: np.ndarray, answered: np.ndarray) -> float:
    """Respondents count with their answer, everyone else with their non-respondent posterior."""
    p = model.predict_proba(frame, nonrespondent=True)
    value = np.where(answered, (y == 2).astype(float) - (y == 0), p[:, 2] - p[:, 0])
    return 100 * float(value.mean())


def test_the_corrected_index_recovers_the_population_nps_that_respondents_miss() -> None:
    frame, y, answered = population(20000, seed=1)
    model = fit_calibration(frame[answered], y[answered], frame[~answered], FEATURES)
    truth, survey = nps(y), nps(y[answered])
    assert abs(survey - truth) >= 15  # the planted non-response bias
    corrected_error = abs(index(model, frame, y, answered) - truth)
    assert corrected_error <= 3
    # without the correction the model inherits the respondents' mix
    raw = fit_logit(frame[answered], y[answered], FEATURES)
    p_raw = raw.predict_proba(frame, corrected=False)
    assert abs(100 * (p_raw[:, 2] - p_raw[:, 0]).mean() - truth) > corrected_error + 1
    # calibration of P(promoter) over the whole population
    p = model.predict_proba(frame)
    assert calibration_error(p[:, 2], y == 2) <= 0.05
    assert calibration_error(p_raw[:, 2], y == 2) > calibration_error(p[:, 2], y == 2)


def test_a_segment_with_another_mix_is_recovered_with_its_interval() -> None:
    frame, y, answered = population(20000, seed=2)
    model = fit_calibration(frame[answered], y[answered], frame[~answered], FEATURES)
    # a segment hit by a bad release: far more detractors than the population the model saw
    seg, y2, answered2 = population(1500, seed=3, passive_share=0.3)
    rng = np.random.default_rng(4)
    y2[(y2 == 2) & (rng.random(len(y2)) < 0.6)] = 0
    centre = np.array([-0.5, 0.05, 0.5])[y2]
    seg["mean_valence"] = centre + rng.normal(0, 0.35, len(y2))
    seg["min_valence"] = centre - 0.3 + rng.normal(0, 0.45, len(y2))
    seg["contacts"] = rng.poisson(np.array([3.0, 1.5, 1.2])[y2]).astype(float)
    answers = np.where(answered2, y2, -1)
    result = segment_index(model, model.predict_proba(seg, corrected=False), answers, replicates=100)
    truth = nps(y2)
    assert abs(result.index - truth) <= 5
    assert result.low <= truth <= result.high and result.high - result.low < 20
    assert result.customers == 1500 and result.respondents == int(answered2.sum())
    # a global correction alone misses the segment's shift
    p = model.predict_proba(seg)
    assert abs(100 * (p[:, 2] - p[:, 0]).mean() - truth) > abs(result.index - truth)


def test_a_small_segment_is_shrunk_toward_the_population_by_its_prior_strength() -> None:
    """Forty customers, five answers all from promoters: alone they would make the segment
    a promoter crowd (each answer stands for 1 / response rate customers); a prior worth
    100 customers keeps it near the population, and the interval is narrower."""
    frame, y, answered = population(20000, seed=1)
    model = fit_calibration(frame[answered], y[answered], frame[~answered], FEATURES)
    seg, _, _ = population(40, seed=9)
    answers = np.full(40, -1)
    answers[:5] = 2
    base = model.predict_proba(seg, corrected=False)
    alone = segment_index(model, base, answers, replicates=100)
    shrunk = segment_index(model, base, answers, replicates=100, prior_strength=100)
    population_index = 100 * (model.population_prior[2] - model.population_prior[0])
    assert abs(shrunk.index - population_index) < abs(alone.index - population_index)
    assert shrunk.high - shrunk.low < alone.high - alone.low
    assert sum(shrunk.shares) == pytest.approx(1.0) and shrunk.respondents == 5


@pytest.mark.parametrize("signal", [1.0, 0.3])
def test_each_class_response_rate_is_recovered_even_from_weak_features(signal: float) -> None:
    """Who answered and who did not identify P(answer | class); with messages that say little
    about the class (signal 0.3) the estimate still lands near the planted rates."""
    frame, y, answered = population(20000, seed=1)
    noise = np.random.default_rng(0).normal(0, 1 - signal, frame.shape) if signal < 1 else 0.0
    frame = frame * signal + noise
    model = fit_logit(frame[answered], y[answered], FEATURES)
    rates = estimate_response_rates(model, frame[answered], frame[~answered])
    np.testing.assert_allclose(rates, [RESPONSE_RATE[k] for k in range(3)], atol=0.03)


def test_customers_asked_more_often_are_weighted_by_their_chances_to_answer() -> None:
    """Every contact is a survey invitation, and the unhappy write more often: who answered
    then depends on how many times they were asked as well as on their class. Counting the
    contacts recovers each class's per-contact response rate and the population's NPS, and
    the interval (a posterior predictive of these customers' own classes) holds it; a model
    that takes everyone as asked once reads 'wrote often' as 'answers often' and misses."""
    rng = np.random.default_rng(11)
    n = 30000
    y = rng.choice(3, size=n, p=[0.3, 0.45, 0.25])
    contacts = 1 + rng.poisson(np.array([1.5, 0.4, 0.3])[y])
    centre = np.array([-0.4, 0.0, 0.4])[y]
    frame = pd.DataFrame({"mean_valence": centre + rng.normal(0, 0.5, n),
                          "min_valence": centre - 0.3 + rng.normal(0, 0.6, n),
                          "contacts": contacts.astype(float)})
    per_contact = np.array([0.25, 0.03, 0.12])
    answered = rng.random(n) < 1 - (1 - per_contact[y]) ** contacts
    truth = nps(y)
    counted = fit_calibration(frame[answered], y[answered], frame[~answered], FEATURES, contacts="contacts")
    once = fit_calibration(frame[answered], y[answered], frame[~answered], FEATURES)
    np.testing.assert_allclose(counted.response_rate, per_contact, atol=0.03)
    answers = np.where(answered, y, -1)
    result = segment_index(counted, counted.predict_proba(frame, corrected=False), answers, contacts,
                           replicates=50)
    naive = segment_index(once, once.predict_proba(frame, corrected=False), answers, replicates=50)
    assert abs(result.index - truth) <= 2 and result.low <= truth <= result.high
    assert abs(naive.index - truth) > abs(result.index - truth) + 2


def test_coefficients_round_trip_and_classes() -> None:
    frame, y, answered = population(3000, seed=7)
    model = fit_calibration(frame[answered], y[answered], frame[~answered], FEATURES)
    again = CalibrationModel.from_coefficients(model.coefficients())
    np.testing.assert_allclose(again.predict_proba(frame), model.predict_proba(frame))
    assert nps_class([0, 6, 7, 8, 9, 10]).tolist() == [0, 0, 1, 1, 2, 2]
    with pytest.raises(ValueError, match="passive"):
        fit_logit(frame[y != 1], y[y != 1], FEATURES)


def _segments_with_unseen_shifts(segments: int, size: int, shift_sd: float, seed: int) -> tuple[
        pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Customers in segments whose class mix moves in ways their messages do not show: in a
    segment with shift e, a share |e| of customers turn promoter (e > 0) or detractor (e < 0)
    while their features stay those of their old class."""
    frames, classes, answered, keys = [], [], [], []
    rng = np.random.default_rng(seed)
    for j in range(segments):
        frame, y, _ = population(size, seed=seed * 1000 + j)
        shift = rng.normal(0, shift_sd)
        turned = rng.random(size) < abs(shift)
        y = np.where(turned, 2 if shift > 0 else 0, y)
        frames.append(frame)
        classes.append(y)
        answered.append(rng.random(size) < np.vectorize(RESPONSE_RATE.get)(y))
        keys.append(np.full(size, f"week-{j}"))
    return (pd.concat(frames, ignore_index=True), np.concatenate(classes), np.concatenate(answered),
            np.concatenate(keys))


def test_the_interval_carries_the_models_own_error_on_a_segment() -> None:
    """A week whose customers' class moved without their messages showing it misses the model's
    estimate as a whole: the error measured on respondents per segment widens every interval
    by what sampling does not explain, and the intervals hold the truth as often as they say."""
    frame, y, answered, keys = _segments_with_unseen_shifts(segments=30, size=600, shift_sd=0.12, seed=5)
    model = fit_calibration(frame[answered], y[answered], frame[~answered], FEATURES, segments=keys[answered])
    assert 0.05 <= model.segment_error <= 0.25  # planted: a share ~N(0, 0.12) of customers turned
    again = CalibrationModel.from_coefficients(model.coefficients())
    assert again.segment_error == pytest.approx(model.segment_error)
    blind = replace(model, segment_error=0.0)
    covered = {"with": 0, "without": 0}
    for key in np.unique(keys):
        mask = keys == key
        truth = nps(y[mask])
        base = model.predict_proba(frame[mask], corrected=False)
        answers = np.where(answered[mask], y[mask], -1)
        for name, m in (("with", model), ("without", blind)):
            result = segment_index(m, base, answers, replicates=60, seed=1)
            covered[name] += result.low <= truth <= result.high
    assert covered["with"] >= 0.85 * 30
    assert covered["without"] < covered["with"]
    # without unseen shifts the error is sampling alone, and the estimate says so
    steady, y0, answered0, keys0 = _segments_with_unseen_shifts(segments=30, size=600, shift_sd=0.0, seed=6)
    fitted = fit_calibration(steady[answered0], y0[answered0], steady[~answered0], FEATURES,
                             segments=keys0[answered0])
    assert fitted.segment_error <= 0.04
