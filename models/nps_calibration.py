"""The NPS calibration model: from a customer's message emotions to P(detractor / passive / promoter).

It is fitted on the customers who answered an NPS survey and applied to every active
customer. Respondents are not a random sample: the unhappy and the delighted answer far
more often than the middle, so P(class | emotions) learnt on respondents overstates the
extremes. Because the selection depends on the class (not on the messages once the class
is known), it is a prior shift (Saerens, Latinne and Decaestecker 2002): the response
rate of each class is estimated by maximum likelihood from who answered and who did not
(`estimate_response_rates`), and becomes a fixed offset on the model's logits, so every
segment is corrected the same way; a segment's own class shares are then re-estimated by
EM with its respondents' answers as known (`segment_index`).

The model is a standardised multinomial logistic regression (scikit-learn), small enough
to apply in Spark as plain column expressions (`CalibrationModel.coefficients`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

NPS_CLASSES = ("detractor", "passive", "promoter")


def nps_class(scores: Sequence[float] | np.ndarray) -> np.ndarray:
    """0 = detractor (0-6), 1 = passive (7-8), 2 = promoter (9-10)."""
    s = np.asarray(scores, dtype=float)
    return np.where(s >= 9, 2, np.where(s >= 7, 1, 0))


@dataclass(frozen=True)
class CalibrationModel:
    """Standardised multinomial logit plus a per-class non-response offset on the logits."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray            # (3, n_features) on standardised features
    intercept: np.ndarray       # (3,)
    response_offset: np.ndarray = field(default_factory=lambda: np.zeros(3))  # log(1 / response rate)
    nonresponse_offset: np.ndarray = field(default_factory=lambda: np.zeros(3))  # log(1 - response rate)
    respondents_prior: np.ndarray = field(default_factory=lambda: np.full(3, 1 / 3))  # class shares it was fitted on
    population_prior: np.ndarray = field(default_factory=lambda: np.full(3, 1 / 3))  # class shares of everyone

    def logits(self, frame: pd.DataFrame, corrected: bool = True, nonrespondent: bool = False) -> np.ndarray:
        x = (frame[list(self.features)].to_numpy(dtype=float) - self.mean) / self.scale
        z = x @ self.coef.T + self.intercept
        if corrected:
            z = z + self.response_offset
        return z + self.nonresponse_offset if nonrespondent else z

    def predict_proba(self, frame: pd.DataFrame, corrected: bool = True, nonrespondent: bool = False) -> np.ndarray:
        """(n, 3) class probabilities of a customer of the population (``corrected``), or of a
        customer known not to have answered (``nonrespondent``); raw respondent posteriors
        with ``corrected=False``."""
        return _softmax(self.logits(frame, corrected, nonrespondent))

    def coefficients(self) -> dict[str, object]:
        """Plain numbers for logging and for applying the model as Spark column expressions:
        logit_k = intercept_k + offset_k + sum_j coef_kj * (x_j - mean_j) / scale_j."""
        return {"classes": list(NPS_CLASSES), "features": list(self.features), "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "coef": self.coef.tolist(), "intercept": self.intercept.tolist(),
                "response_offset": self.response_offset.tolist(),
                "nonresponse_offset": self.nonresponse_offset.tolist(),
                "respondents_prior": self.respondents_prior.tolist(),
                "population_prior": self.population_prior.tolist()}

    @classmethod
    def from_coefficients(cls, data: dict[str, object]) -> CalibrationModel:
        """Inverse of `coefficients`."""
        def arr(key: str) -> np.ndarray:
            return np.asarray(data[key], dtype=float)
        return cls(tuple(data["features"]), arr("mean"), arr("scale"), arr("coef"),  # type: ignore[arg-type]
                   arr("intercept"), arr("response_offset"), arr("nonresponse_offset"),
                   arr("respondents_prior"), arr("population_prior"))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_logit(frame: pd.DataFrame, labels: np.ndarray, features: Sequence[str], c: float = 1.0) -> CalibrationModel:
    """Fit the standardised multinomial logit on respondents (no non-response correction)."""
    from sklearn.linear_model import LogisticRegression

    x = frame[list(features)].to_numpy(dtype=float)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    present = set(np.unique(labels).astype(int).tolist())
    if present != {0, 1, 2}:
        missing = [NPS_CLASSES[k] for k in range(3) if k not in present]
        raise ValueError(f"the NPS calibration needs answers of every class; none for {missing}")
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit((x - mean) / scale, labels)
    order = np.argsort(model.classes_)
    coef, intercept = model.coef_[order], model.intercept_[order]
    return CalibrationModel(tuple(features), mean, scale, coef, intercept)


def estimate_response_rates(model: CalibrationModel, respondents: pd.DataFrame, nonrespondents: pd.DataFrame,
                            ridge: float = 1.0) -> np.ndarray:
    """P(answer | class k), k = detractor, passive, promoter, by maximum likelihood.

    With ``q_k(x)`` the respondents' posteriors (the model) and selection depending on the
    class only, the odds of not answering given the messages are
    ``P(S=0 | x) / P(S=1 | x) = sum_k q_k(x) * theta_k`` with ``theta_k = (1 - r_k) / r_k``
    (Bayes' rule on P(x | k), which respondents and non-respondents share). The three
    ``theta_k`` are fitted on who answered and who did not, a convex problem in
    ``log theta`` solved directly (an EM on the population's priors converges too slowly
    to reach it when the messages say little about the class). ``ridge`` pulls the three
    towards the overall odds, which is all the data can say when the features carry no
    class information.
    """
    from scipy.optimize import minimize

    q1 = model.predict_proba(respondents, corrected=False)
    q0 = model.predict_proba(nonrespondents, corrected=False)
    if len(q0) == 0:
        return np.ones(3)
    centre = np.log(len(q0) / len(q1))

    def objective(phi: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.exp(phi)
        g1, g0 = q1 @ theta, q0 @ theta
        value = np.log1p(g1).sum() - (np.log(g0) - np.log1p(g0)).sum() + ridge * ((phi - centre) ** 2).sum()
        grad = theta * ((q1 / (1 + g1)[:, None]).sum(axis=0)
                        - (q0 * (1 / g0 - 1 / (1 + g0))[:, None]).sum(axis=0)) + 2 * ridge * (phi - centre)
        return float(value), grad

    result = minimize(objective, np.full(3, centre), jac=True, method="L-BFGS-B", bounds=[(-12.0, 12.0)] * 3)
    return np.asarray(1.0 / (1.0 + np.exp(result.x)))


def fit_calibration(respondents: pd.DataFrame, labels: np.ndarray, nonrespondents: pd.DataFrame,
                    features: Sequence[str], c: float = 1.0) -> CalibrationModel:
    """The full model: logit on respondents, then the response rate of each class from who
    answered and who did not (`estimate_response_rates`).

    A customer of the population has posteriors proportional to q_k(x) / r_k; one known not
    to have answered, to q_k(x) * (1 - r_k) / r_k. Both frames hold customers whose
    messages were heard (the features mean the same thing in both).
    """
    logit = fit_logit(respondents, labels, features, c)
    counts = np.bincount(labels.astype(int), minlength=3)
    rates = np.clip(estimate_response_rates(logit, respondents, nonrespondents), 1e-4, 1 - 1e-4)
    model = replace(logit, response_offset=-np.log(rates), nonresponse_offset=np.log1p(-rates),
                    respondents_prior=counts / len(labels))
    heard = model.predict_proba(nonrespondents, nonrespondent=True).sum(axis=0) if len(nonrespondents) else 0.0
    return replace(model, population_prior=(counts + heard) / (len(labels) + len(nonrespondents)))


def calibration_error(probability: np.ndarray, outcome: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of a probability against 0/1 outcomes (equal-width bins)."""
    p = np.asarray(probability, dtype=float)
    y = np.asarray(outcome, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            error += mask.mean() * abs(p[mask].mean() - y[mask].mean())
    return float(error)


@dataclass(frozen=True)
class SegmentIndex:
    """The emotion index of one segment: 100 * (P(promoter) - P(detractor)) over its customers."""

    customers: int
    respondents: int
    index: float
    low: float
    high: float
    shares: tuple[float, float, float]  # detractor, passive, promoter shares of the segment's customers


def _segment_shares(base: np.ndarray, known: np.ndarray, answered: np.ndarray, ratio: np.ndarray,
                    keep: np.ndarray, weights: np.ndarray, population: np.ndarray, strength: float,
                    start: np.ndarray, iterations: int, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """(segment prior, the segment's class shares) by MAP-EM: a Dirichlet prior worth
    ``strength`` customers at the population's shares."""
    prior = start.copy()
    total = weights.sum()
    known_mass = (weights[answered, None] * known[answered]).sum(axis=0)
    rest = ~answered

    def posteriors(p: np.ndarray) -> np.ndarray:
        q = base[rest] * (p * ratio * keep)
        return np.asarray((weights[rest, None] * (q / q.sum(axis=1, keepdims=True))).sum(axis=0))

    for _ in range(iterations):
        new = (known_mass + posteriors(prior) + strength * population) / (total + strength)
        done = np.abs(new - prior).max() < tol
        prior = new
        if done:
            break
    return prior, (known_mass + posteriors(prior)) / total


def segment_index(model: CalibrationModel, base: np.ndarray, answers: np.ndarray, replicates: int = 200,
                  seed: int = 0, iterations: int = 100, tol: float = 1e-6,
                  prior_strength: float = 0.0) -> SegmentIndex:
    """The segment's class shares by EM, its customers' own answers taken as known.

    ``base`` holds the respondents-model posteriors (uncorrected) of the segment's customers,
    ``answers`` their NPS class (0-2) where they answered in the window, else -1. The
    segment's class prior is re-estimated (a prior shift: a segment hit by a bad release has
    more detractors than the population the model saw), customers who did not answer
    weighted by 1 - their class's response rate, and shrunk toward the population's by a
    Dirichlet prior worth ``prior_strength`` customers: a small segment's few answers, each
    standing for 1 / (response rate) customers, do not swing it alone. The shares are the
    segment's own customers: answers where known, posteriors elsewhere. The interval is a
    Poisson bootstrap over customers (``replicates`` EM runs, warm-started).
    """
    base = np.asarray(base, dtype=float)
    answers = np.asarray(answers, dtype=int)
    n = len(base)
    answered = answers >= 0
    known = np.zeros((n, 3))
    known[answered, answers[answered]] = 1.0
    ratio = 1.0 / np.clip(model.respondents_prior, 1e-9, None)
    keep = np.exp(model.nonresponse_offset)
    population = np.asarray(model.population_prior, dtype=float)
    prior, shares = _segment_shares(base, known, answered, ratio, keep, np.ones(n), population, prior_strength,
                                    population, iterations, tol)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(replicates):
        w = rng.poisson(1.0, n).astype(float)
        if w.sum() == 0:
            continue
        _, p = _segment_shares(base, known, answered, ratio, keep, w, population, prior_strength, prior,
                               iterations, tol)
        draws.append(100 * (p[2] - p[0]))
    index = float(100 * (shares[2] - shares[0]))
    low, high = (np.percentile(draws, [2.5, 97.5]) if draws else (np.nan, np.nan))
    # a percentile interval of a skewed small segment can miss its own estimate: widen to hold it
    low, high = min(float(low), index), max(float(high), index)
    return SegmentIndex(n, int(answered.sum()), index, float(low), float(high),
                        (float(shares[0]), float(shares[1]), float(shares[2])))
