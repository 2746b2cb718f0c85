"""Source mappings: how each raw source is read, renamed and reshaped onto its canonical schema.

Loaded from the YAML file that ``sources.mapping_file`` names (``conf/sources.yaml`` by
default), so a user's own exports or Delta tables are ingested without code changes. Besides
renaming (``columns``) a mapping may cast values, map values, set constants, fill a missing
field from another one and derive roles (``jobs/transforms/mapping.py`` applies those);
``docs/sources.md`` documents every key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from voicelake.config import Config, ConfigError
from voicelake.schemas import SOURCES

FORMATS = ("jsonl", "csv", "delta")
CASTS = ("int", "trim", "lower", "upper")
ROLES = ("customer", "agent", "bot")
# the field that says who wrote a record, for the sources that have one
ROLE_FIELDS = {"ticket_comments": "author_role", "chat_messages": "author_role", "emails": "from_role",
               "call_utterances": "speaker", "social_posts": "author_role"}
SOURCE_KEYS = ("format", "path", "table", "columns", "timestamp_format", "csv", "casts", "values",
               "constants", "fallbacks", "roles")
DOCUMENT_KEYS = ("defaults", "sources")
DEFAULT_KEYS = ("timestamp_format", "csv")
ROLES_KEYS = ("rules", "customer_id", "agent_id")
RULE_KEYS = ("role", "when", "matches")
# a day name in a datetime pattern (EEE, EEEE) and what follows it up to the next field
DAY_NAME_PATTERN = re.compile(r"E+[,.]?\s*")


@dataclass(frozen=True)
class RoleRule:
    """Records whose columns equal ``when`` (any listed value, case-insensitive) and match
    ``matches`` (regular expressions) get ``role``; a rule with neither is the default."""

    role: str
    when: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    matches: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceMapping:
    name: str
    format: str
    location: str | None
    table: str | None
    columns: Mapping[str, str]
    timestamp_format: str | None
    csv_options: Mapping[str, str] = field(default_factory=dict)
    casts: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    constants: Mapping[str, str] = field(default_factory=dict)
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    role_rules: tuple[RoleRule, ...] = ()
    role_ids: Mapping[str, str] = field(default_factory=dict)
    strip_day_name: bool = False   # the pattern had a day name: dropped from pattern and values

    @property
    def role_field(self) -> str | None:
        """The canonical field holding the author's role, if the source has one."""
        return ROLE_FIELDS.get(self.name)

    @property
    def reshapes(self) -> bool:
        """Whether anything beyond renaming applies to this source's records."""
        return bool(self.casts or self.values or self.constants or self.fallbacks or self.role_rules
                    or self.role_ids or self.strip_day_name)

    def source_column(self, canonical: str) -> str:
        """Column name in the user's data for a canonical field."""
        return self.columns.get(canonical, canonical)


def _location(path: str | None, landing: str) -> str | None:
    if path is None:
        return None
    if "://" in path or Path(path).is_absolute():
        return path
    return f"{landing.rstrip('/')}/{path}"


def _text(value: Any) -> str:
    """A YAML scalar as the text it matches in an export (YAML's True is the export's true)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_keys(where: str, spec: Mapping[str, Any], known: tuple[str, ...]) -> None:
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where} must be a mapping, not {spec!r}")
    unknown = sorted(str(k) for k in spec if k not in known)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; known keys: {list(known)}")


def _check_fields(where: str, source: str, names: Any) -> None:
    unknown = sorted(str(n) for n in names if n not in SOURCES[source].field_names)
    if unknown:
        raise ConfigError(f"{where}: {unknown[0]!r} is not a field of {source} "
                          f"(fields: {SOURCES[source].field_names})")


def day_name_free(pattern: str | None) -> tuple[str | None, bool]:
    """The pattern without day-name fields (``EEE``), and whether it had one.

    Spark 3+'s datetime parser cannot parse day names (it asks for the legacy parser policy);
    the day name is redundant with the date, so it is dropped from pattern and values.
    """
    if not pattern:
        return pattern, False
    parts = pattern.split("'")  # odd parts are quoted literals
    if not any("E" in p for p in parts[::2]):
        return pattern, False
    return "'".join(DAY_NAME_PATTERN.sub("", p) if i % 2 == 0 else p for i, p in enumerate(parts)).strip(), True


def _role_rules(where: str, spec: Any) -> tuple[RoleRule, ...]:
    if not isinstance(spec, list):
        raise ConfigError(f"{where} must be a list of rules, not {spec!r}")
    rules = []
    for i, rule in enumerate(spec):
        _check_keys(f"{where}[{i}]", rule, RULE_KEYS)
        role = str(rule.get("role", ""))
        if role not in ROLES:
            raise ConfigError(f"{where}[{i}].role must be one of {list(ROLES)}, not {role!r}")
        when = {str(c): tuple(_text(v).strip().lower() for v in (vs if isinstance(vs, list) else [vs]))
                for c, vs in (rule.get("when") or {}).items()}
        matches = {str(c): str(p) for c, p in (rule.get("matches") or {}).items()}
        for column, regex in matches.items():
            try:
                re.compile(regex)
            except re.error as exc:
                raise ConfigError(f"{where}[{i}].matches.{column}: bad regular expression: {exc}") from exc
        rules.append(RoleRule(role, when, matches))
    return tuple(rules)


def _reshaping(name: str, spec: Mapping[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    """The value-level settings of one source: casts, values, constants, fallbacks, roles."""
    where = f"sources.{name}"
    casts = {str(k): str(v) for k, v in (spec.get("casts") or {}).items()}
    _check_fields(f"{where}.casts", name, casts)
    for f, cast in casts.items():
        if cast not in CASTS:
            raise ConfigError(f"{where}.casts.{f}: unknown cast {cast!r}; known: {list(CASTS)}")
    values = {}
    for f, table in (spec.get("values") or {}).items():
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where}.values.{f} must map export values to values, not {table!r}")
        values[str(f)] = {_text(k).strip().lower(): _text(v) for k, v in table.items()}
    _check_fields(f"{where}.values", name, values)
    constants = {str(k): _text(v) for k, v in (spec.get("constants") or {}).items()}
    _check_fields(f"{where}.constants", name, constants)
    both = sorted(set(constants) & set(columns))
    if both:
        raise ConfigError(f"{where}: {both[0]!r} is both a constant and a mapped column")
    fallbacks = {str(k): tuple(str(x) for x in (v if isinstance(v, list) else [v]))
                 for k, v in (spec.get("fallbacks") or {}).items()}
    _check_fields(f"{where}.fallbacks", name, fallbacks)
    for f, others in fallbacks.items():
        _check_fields(f"{where}.fallbacks.{f}", name, others)
    roles = spec.get("roles") or {}
    _check_keys(f"{where}.roles", roles, ROLES_KEYS)
    if roles and name not in ROLE_FIELDS:
        raise ConfigError(f"{where}.roles: {name} has no role field (sources with one: {sorted(ROLE_FIELDS)})")
    role_ids = {k: str(roles[k]) for k in ("customer_id", "agent_id") if roles.get(k)}
    _check_fields(f"{where}.roles", name, role_ids)
    return {"casts": casts, "values": values, "constants": constants, "fallbacks": fallbacks,
            "role_rules": _role_rules(f"{where}.roles.rules", roles.get("rules") or []),
            "role_ids": role_ids}


def parse_source_mappings(data: Mapping[str, Any], landing: str) -> dict[str, SourceMapping]:
    """Validate a mapping document and return one SourceMapping per configured source."""
    _check_keys("source mapping file", data, DOCUMENT_KEYS)
    defaults = data.get("defaults") or {}
    _check_keys("defaults", defaults, DEFAULT_KEYS)
    sources = data.get("sources") or {}
    out: dict[str, SourceMapping] = {}
    for name, spec in sources.items():
        if name not in SOURCES:
            raise ConfigError(f"sources.{name}: unknown source; known: {sorted(SOURCES)}")
        spec = spec or {}
        _check_keys(f"sources.{name}", spec, SOURCE_KEYS)
        fmt = spec.get("format", "jsonl")
        if fmt not in FORMATS:
            raise ConfigError(f"sources.{name}.format must be one of {FORMATS}, not {fmt!r}")
        columns = {str(k): str(v) for k, v in (spec.get("columns") or {}).items()}
        unknown = sorted(set(columns) - set(SOURCES[name].field_names))
        if unknown:
            raise ConfigError(f"sources.{name}.columns maps unknown fields {unknown}")
        if fmt == "delta" and not (spec.get("path") or spec.get("table")):
            raise ConfigError(f"sources.{name}: a delta source needs `path` or `table`")
        pattern, strip_day_name = day_name_free(spec.get("timestamp_format", defaults.get("timestamp_format")))
        out[name] = SourceMapping(
            name=name,
            format=fmt,
            location=_location(spec.get("path", name if fmt != "delta" else None), landing),
            table=spec.get("table"),
            columns=columns,
            timestamp_format=pattern,
            csv_options={**(defaults.get("csv") or {}), **(spec.get("csv") or {})},
            strip_day_name=strip_day_name,
            **_reshaping(name, spec, columns),
        )
    return out


def load_source_mappings(config: Config) -> dict[str, SourceMapping]:
    """Read the mapping file named by the config."""
    path = Path(config.sources_mapping_file)
    if not path.exists():
        raise ConfigError(f"source mapping file not found: {path}")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return parse_source_mappings(data, config.lake.landing)
