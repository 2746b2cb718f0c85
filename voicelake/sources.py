"""Source mappings: how each raw source is read and renamed onto its canonical schema.

Loaded from the YAML file that ``sources.mapping_file`` names (``conf/sources.yaml`` by
default), so a user's own exports or Delta tables are ingested without code changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from voicelake.config import Config, ConfigError
from voicelake.schemas import SOURCES

FORMATS = ("jsonl", "csv", "delta")


@dataclass(frozen=True)
class SourceMapping:
    name: str
    format: str
    location: str | None
    table: str | None
    columns: Mapping[str, str]
    timestamp_format: str | None
    csv_options: Mapping[str, str] = field(default_factory=dict)

    def source_column(self, canonical: str) -> str:
        """Column name in the user's data for a canonical field."""
        return self.columns.get(canonical, canonical)


def _location(path: str | None, landing: str) -> str | None:
    if path is None:
        return None
    if "://" in path or Path(path).is_absolute():
        return path
    return f"{landing.rstrip('/')}/{path}"


def parse_source_mappings(data: Mapping[str, Any], landing: str) -> dict[str, SourceMapping]:
    """Validate a mapping document and return one SourceMapping per configured source."""
    defaults = data.get("defaults") or {}
    sources = data.get("sources") or {}
    out: dict[str, SourceMapping] = {}
    for name, spec in sources.items():
        if name not in SOURCES:
            raise ConfigError(f"sources.{name}: unknown source; known: {sorted(SOURCES)}")
        spec = spec or {}
        fmt = spec.get("format", "jsonl")
        if fmt not in FORMATS:
            raise ConfigError(f"sources.{name}.format must be one of {FORMATS}, not {fmt!r}")
        columns = {str(k): str(v) for k, v in (spec.get("columns") or {}).items()}
        unknown = sorted(set(columns) - set(SOURCES[name].field_names))
        if unknown:
            raise ConfigError(f"sources.{name}.columns maps unknown fields {unknown}")
        if fmt == "delta" and not (spec.get("path") or spec.get("table")):
            raise ConfigError(f"sources.{name}: a delta source needs `path` or `table`")
        out[name] = SourceMapping(
            name=name,
            format=fmt,
            location=_location(spec.get("path", name if fmt != "delta" else None), landing),
            table=spec.get("table"),
            columns=columns,
            timestamp_format=spec.get("timestamp_format", defaults.get("timestamp_format")),
            csv_options={**(defaults.get("csv") or {}), **(spec.get("csv") or {})},
        )
    return out


def load_source_mappings(config: Config) -> dict[str, SourceMapping]:
    """Read the mapping file named by the config."""
    path = Path(config.sources_mapping_file)
    if not path.exists():
        raise ConfigError(f"source mapping file not found: {path}")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return parse_source_mappings(data, config.lake.landing)
