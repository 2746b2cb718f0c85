"""The NPS calibration model: from a customer's message emotions to P(detractor / passive / promoter).

It is fitted on the customers who answered an NPS survey and applied to every active
customer. Respondents are not a random sample: the unhappy and the delighted answer far
more often than the middle, so P(class | emotions) learnt on respondents overstates the
extremes. Because the selection depends on the class and on how many times the customer
was asked (each contact can bring a survey), not on the messages once those are known, it
is a prior shift (Saerens, Latinne and Decaestecker 2002) per contact count: the response
rate per contact of each class is estimated by maximum likelihood from who answered and who
did not (`estimate_response_rates`) and corrects the model's logits; a segment's own class
shares are then re-estimated by EM with its respondents' answers as known, and its interval
is a posterior predictive of its customers' classes (`segment_index`), widened by the
model's own error on a segment: how far its respondents' NPS falls from the model's
prediction beyond sampling noise (`estimate_segment_error`).

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
    """Standardised multinomial logit plus each class's survey response rate per contact."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray            # (3, n_features) on standardised features
    intercept: np.ndarray       # (3,)
    response_rate: np.ndarray = field(default_factory=lambda: np.ones(3))  # P(answer | class) per contact
    contacts: str | None = None  # the feature counting a customer's contacts (survey invitations); None: one
    population_prior: np.ndarray = field(default_factory=lambda: np.full(3, 1 / 3))  # class shares of everyone
    segment_error: float = 0.0  # SD of the model's error on a segment's NPS (-1..1) beyond sampling noise

    def response_probability(self, frame: pd.DataFrame) -> np.ndarray:
        """(n, 3) P(the customer answered in the window | class): every contact is a chance
        to be asked, so ``1 - (1 - rate_k) ** contacts``."""
        return answer_probability(self.response_rate, contact_counts(frame, self.contacts))

    def logits(self, frame: pd.DataFrame, corrected: bool = True, nonrespondent: bool = False) -> np.ndarray:
        x = (frame[list(self.features)].to_numpy(dtype=float) - self.mean) / self.scale
        z = x @ self.coef.T + self.intercept
        if not corrected:
            return z
        r = self.response_probability(frame)
        return z - np.log(r) + (np.log1p(-r) if nonrespondent else 0.0)

    def predict_proba(self, frame: pd.DataFrame, corrected: bool = True, nonrespondent: bool = False) -> np.ndarray:
        """(n, 3) class probabilities of a customer of the population (``corrected``), or of a
        customer known not to have answered (``nonrespondent``); raw respondent posteriors
        with ``corrected=False``."""
        return _softmax(self.logits(frame, corrected, nonrespondent))

    def coefficients(self) -> dict[str, object]:
        """Plain numbers for logging and for applying the model as Spark column expressions:
        logit_k = intercept_k + sum_j coef_kj * (x_j - mean_j) / scale_j (respondent posteriors;
        the response rates per contact correct them for who answers)."""
        return {"classes": list(NPS_CLASSES), "features": list(self.features), "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "coef": self.coef.tolist(), "intercept": self.intercept.tolist(),
                "response_rate": self.response_rate.tolist(), "contacts": self.contacts,
                "population_prior": self.population_prior.tolist(), "segment_error": self.segment_error}

    @classmethod
    def from_coefficients(cls, data: dict[str, object]) -> CalibrationModel:
        """Inverse of `coefficients`."""
        def arr(key: str) -> np.ndarray:
            return np.asarray(data[key], dtype=float)
        contacts = data.get("contacts")
        return cls(tuple(data["features"]), arr("mean"), arr("scale"), arr("coef"),  # type: ignore[arg-type]
                   arr("intercept"), arr("response_rate"), None if contacts is None else str(contacts),
                   arr("population_prior"), float(data.get("segment_error", 0.0)))  # type: ignore[arg-type]


def at_least_one_contact(counts: np.ndarray | Sequence[float] | None, n: int) -> np.ndarray:
    """Contacts per customer, at least one (a customer heard had one; a missing count is one);
    all ones without counts."""
    if counts is None:
        return np.ones(n)
    return np.maximum(1.0, np.nan_to_num(np.asarray(counts, dtype=float), nan=1.0))


def contact_counts(frame: pd.DataFrame, contacts: str | None) -> np.ndarray:
    """`at_least_one_contact` of the frame's ``contacts`` feature (all ones without one)."""
    return at_least_one_contact(None if contacts is None else frame[contacts].to_numpy(dtype=float), len(frame))


def answer_probability(rate: np.ndarray, contacts: np.ndarray) -> np.ndarray:
    """(n, 3): ``1 - (1 - rate_k) ** contacts_i``, kept inside (0, 1)."""
    r = 1.0 - (1.0 - np.asarray(rate, dtype=float))[None, :] ** np.asarray(contacts, dtype=float)[:, None]
    return np.clip(r, 1e-6, 1 - 1e-6)


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
    """P(a contact's survey is answered | class k), k = detractor, passive, promoter, by
    maximum likelihood.

    With ``q_k(x)`` the respondents' posteriors (the model) and the answer depending on the
    class and on how many contacts asked (``model.contacts``), not on the messages otherwise,
    the odds of not answering given the messages are
    ``P(S=0 | x) / P(S=1 | x) = sum_k q_k(x) * theta_k(x)`` with
    ``theta_k = (1 - r_k) / r_k`` and ``r_k = 1 - (1 - rate_k) ** contacts`` (Bayes' rule on
    P(x | k), which respondents and non-respondents share once the contacts are known). The
    three rates are fitted on who answered and who did not, directly on the likelihood (an
    EM on the population's priors converges too slowly to reach it when the messages say
    little about the class). ``ridge`` pulls their logits together, which is all the data can
    say when the features carry no class information. Counting contacts matters: a customer
    who wrote three times was asked three times, and more often in a bad week.
    """
    from scipy.optimize import minimize

    q1 = model.predict_proba(respondents, corrected=False)
    q0 = model.predict_proba(nonrespondents, corrected=False)
    if len(q0) == 0:
        return np.ones(3)
    n1 = contact_counts(respondents, model.contacts)
    n0 = contact_counts(nonrespondents, model.contacts)
    share = len(q1) / (len(q1) + len(q0))
    start = np.log(share / (1 - share)) - np.log(max(1.0, float(np.mean(np.r_[n1, n0]))))

    def objective(phi: np.ndarray) -> float:
        rate = 1.0 / (1.0 + np.exp(-phi))
        r1, r0 = answer_probability(rate, n1), answer_probability(rate, n0)
        g1, g0 = (q1 * (1 - r1) / r1).sum(axis=1), (q0 * (1 - r0) / r0).sum(axis=1)
        return float(np.log1p(g1).sum() - (np.log(g0) - np.log1p(g0)).sum() + ridge * ((phi - phi.mean()) ** 2).sum())

    result = minimize(objective, np.full(3, start), method="L-BFGS-B", bounds=[(-12.0, 12.0)] * 3)
    return np.asarray(1.0 / (1.0 + np.exp(-result.x)))


def estimate_segment_error(model: CalibrationModel, respondents: pd.DataFrame, labels: np.ndarray,
                           segments: Sequence[object] | np.ndarray, min_respondents: int = 10) -> float:
    """SD of the model's error on a segment's NPS (-1..1) that sampling does not explain.

    Per segment with at least ``min_respondents`` respondents, the gap d between their NPS
    and the mean of the model's respondent posteriors P(promoter) - P(detractor); each
    gap holds sampling noise of variance v = sum_i Var(y_i) / n^2 under the model. The
    between-segment variance tau^2 is the DerSimonian-Laird random-effects estimate
    (weights 1/v, so that a segment of ten answers does not count like one of a thousand),
    floored at 0: a week whose incident the messages understate misses the whole segment at
    once, which no per-customer draw covers. Measured on respondents, the only customers
    whose class is known; 0 with fewer than two such segments.
    """
    q = model.predict_proba(respondents, corrected=False)
    predicted = q[:, 2] - q[:, 0]
    frame = pd.DataFrame({"segment": np.asarray(segments, dtype=object),
                          "gap": ((labels == 2).astype(float) - (labels == 0)) - predicted,
                          "variance": q[:, 2] + q[:, 0] - predicted ** 2})
    per_segment = frame.groupby("segment").agg(n=("gap", "size"), gap=("gap", "mean"), variance=("variance", "sum"))
    per_segment = per_segment[per_segment["n"] >= min_respondents]
    if len(per_segment) < 2:
        return 0.0
    gap = per_segment["gap"].to_numpy()
    weight = per_segment["n"].to_numpy() ** 2 / np.clip(per_segment["variance"].to_numpy(), 1e-9, None)
    centre = (weight * gap).sum() / weight.sum()
    q = (weight * (gap - centre) ** 2).sum()
    tau2 = (q - (len(gap) - 1)) / (weight.sum() - (weight ** 2).sum() / weight.sum())
    return float(np.sqrt(max(0.0, tau2)))


def fit_calibration(respondents: pd.DataFrame, labels: np.ndarray, nonrespondents: pd.DataFrame,
                    features: Sequence[str], c: float = 1.0, contacts: str | None = None,
                    segments: Sequence[object] | np.ndarray | None = None) -> CalibrationModel:
    """The full model: logit on respondents, then the response rate of each class per
    contact from who answered and who did not (`estimate_response_rates`).

    A customer of the population has posteriors proportional to q_k(x) / r_k(x); one known
    not to have answered, to q_k(x) * (1 - r_k(x)) / r_k(x). Both frames hold customers whose
    messages were heard (the features mean the same thing in both). ``contacts`` names the
    feature that counts each customer's contacts (None: one each); ``segments`` gives each
    respondent's segment (e.g. week and product) for `estimate_segment_error` (None: 0).
    """
    logit = replace(fit_logit(respondents, labels, features, c), contacts=contacts)
    counts = np.bincount(labels.astype(int), minlength=3)
    rates = np.clip(estimate_response_rates(logit, respondents, nonrespondents), 1e-4, 1 - 1e-4)
    model = replace(logit, response_rate=rates)
    heard = model.predict_proba(nonrespondents, nonrespondent=True).sum(axis=0) if len(nonrespondents) else 0.0
    error = 0.0 if segments is None else estimate_segment_error(model, respondents, labels, segments)
    return replace(model, population_prior=(counts + heard) / (len(labels) + len(nonrespondents)),
                   segment_error=error)


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


def _nonrespondent_posteriors(base: np.ndarray, prior: np.ndarray, odds: np.ndarray) -> np.ndarray:
    """P(class | messages, did not answer) in a segment whose class prior is ``prior``:
    proportional to q_k(x) * prior_k / population_k * (1 - r_k(x)) / r_k(x); ``odds`` holds
    the last two factors."""
    q = base * prior * odds
    return np.asarray(q / q.sum(axis=1, keepdims=True))


def _segment_prior(base: np.ndarray, known_mass: np.ndarray, rest: np.ndarray, odds: np.ndarray,
                   weights: np.ndarray, population: np.ndarray, strength: float, start: np.ndarray,
                   iterations: int, tol: float) -> np.ndarray:
    """The segment's class prior by MAP-EM: a Dirichlet prior worth ``strength`` customers at
    the population's shares; ``known_mass`` is the (weighted) answers of respondents."""
    prior = start.copy()
    total = weights.sum()
    for _ in range(iterations):
        post = _nonrespondent_posteriors(base[rest], prior, odds[rest])
        new = (known_mass + (weights[rest, None] * post).sum(axis=0) + strength * population) / (total + strength)
        done = np.abs(new - prior).max() < tol
        prior = new
        if done:
            break
    return prior


def _residual_segment_error(tau: float, respondents_base: np.ndarray) -> float:
    """SD of the segment's own model error left once its respondents are seen: the
    random-effects posterior sqrt(tau^2 v / (tau^2 + v)), v the sampling variance of the
    respondents' NPS under the model (the segment's EM reads its shift from them); tau
    itself for a segment without respondents."""
    if tau <= 0:
        return 0.0
    n = len(respondents_base)
    if n == 0:
        return tau
    v = float((respondents_base[:, 2] + respondents_base[:, 0] - (respondents_base[:, 2] - respondents_base[:, 0]) ** 2)
              .sum()) / n ** 2
    return float(np.sqrt(tau ** 2 * v / (tau ** 2 + v))) if v > 0 else 0.0


def segment_index(model: CalibrationModel, base: np.ndarray, answers: np.ndarray,
                  contacts: np.ndarray | None = None, replicates: int = 200, seed: int = 0,
                  iterations: int = 100, tol: float = 1e-6, prior_strength: float = 0.0) -> SegmentIndex:
    """The segment's class shares by EM, its customers' own answers taken as known.

    ``base`` holds the respondents-model posteriors (uncorrected) of the segment's customers,
    ``answers`` their NPS class (0-2) where they answered in the window, else -1, and
    ``contacts`` how many contacts each had (None: one). The segment's class prior is
    re-estimated (a prior shift: a segment hit by a bad release has more detractors than the
    population the model saw), customers who did not answer weighted by the odds of not
    answering for their class and contacts, and shrunk toward the population's by a
    Dirichlet prior worth ``prior_strength`` customers: a small segment's few answers, each
    standing for several customers, do not swing it alone. The shares are the segment's own
    customers: answers where known, posteriors elsewhere.

    The interval combines the two uncertainties: each of ``replicates`` draws takes a Poisson
    bootstrap of the customers (the sampling error of the segment's mix and of its prior,
    re-estimated on the draw) and draws every non-respondent's class from their posterior
    under that prior (the uncertainty of each customer's own class, which weak signals leave
    wide); the draw's index is the bootstrap-weighted NPS of those classes, shifted on its
    share of customers who did not answer by a normal draw of the model's segment error
    that the segment's own answers leave (`_residual_segment_error`).
    """
    base = np.asarray(base, dtype=float)
    answers = np.asarray(answers, dtype=int)
    n = len(base)
    answered = answers >= 0
    rest = ~answered
    known = np.zeros((n, 3))
    known[answered, answers[answered]] = 1.0
    population = np.asarray(model.population_prior, dtype=float)
    r = answer_probability(model.response_rate, at_least_one_contact(contacts, n))
    odds = (1 - r) / r / np.clip(population, 1e-9, None)
    ones = np.ones(n)
    prior = _segment_prior(base, known.sum(axis=0), rest, odds, ones, population, prior_strength, population,
                           iterations, tol)
    post = _nonrespondent_posteriors(base[rest], prior, odds[rest])
    shares = (known.sum(axis=0) + post.sum(axis=0)) / n
    rng = np.random.default_rng(seed)
    effect_sd = _residual_segment_error(model.segment_error, base[answered])
    known_value = known[:, 2] - known[:, 0]
    draws = []
    for _ in range(replicates):
        w = rng.poisson(1.0, n).astype(float)
        if w.sum() == 0:
            continue
        p = _segment_prior(base, (w[:, None] * known).sum(axis=0), rest, odds, w, population, prior_strength,
                           prior, iterations, tol)
        cumulative = _nonrespondent_posteriors(base[rest], p, odds[rest]).cumsum(axis=1)
        u = rng.random(int(rest.sum()))
        drawn = (u > cumulative[:, 0]).astype(int) + (u > cumulative[:, 1]).astype(int)
        value = known_value.copy()
        value[rest] = (drawn == 2).astype(float) - (drawn == 0)
        shift = rng.normal(0.0, effect_sd) * w[rest].sum() if effect_sd > 0 else 0.0
        draws.append(100 * float(((w * value).sum() + shift) / w.sum()))
    index = float(100 * (shares[2] - shares[0]))
    low, high = (np.percentile(draws, [2.5, 97.5]) if draws else (np.nan, np.nan))
    # a percentile interval of a skewed small segment can miss its own estimate: widen to hold it
    low, high = min(float(low), index), max(float(high), index)
    return SegmentIndex(n, int(answered.sum()), index, float(low), float(high),
                        (float(shares[0]), float(shares[1]), float(shares[2])))
