"""Pure transformation applying a source mapping's value rules to freshly read records.

Input: the raw shape a landing reader returns (canonical fields as strings, already renamed
through ``columns``, plus ``_raw``). `apply_mapping` then, in this order, casts values
(``casts``), maps values (``values``), drops day names from timestamps whose pattern had one,
fills blank fields from other fields (``fallbacks``), sets constants (``constants``) and
derives roles and role-bound ids (``roles``). It runs before bronze validation, so a mapped
record is validated like any other. No reads, writes or actions here.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from voicelake.schemas import SOURCES
from voicelake.sources import SourceMapping

# day names (English, abbreviated or full) as a timestamp value may carry them
DAY_NAMES = r"(?i)\b(mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(day|sday|nesday|rsday|urday)?\b[,.]?\s*"
INTEGRAL = r"^\s*([+-]?\d+)\.0*\s*$"


def _blank(col: Column) -> Column:
    return col.isNull() | (F.trim(col) == "")


def source_value(name: str, mapping: SourceMapping) -> Column:
    """A field of the source's schema by canonical name, else the export's own column of that
    name read from the raw record (JSON object for every reader)."""
    if name in SOURCES[mapping.name].field_names:
        return F.col(name)
    return F.get_json_object(F.col("_raw"), "$['" + name.replace("'", "\\'") + "']")


def cast_value(col: Column, cast: str) -> Column:
    """One of the simple casts: ``int`` (``3.0`` -> ``3``), ``trim``, ``lower``, ``upper``."""
    if cast == "int":
        return F.regexp_replace(col, INTEGRAL, "$1")
    if cast == "trim":
        return F.trim(col)
    if cast == "lower":
        return F.lower(col)
    if cast == "upper":
        return F.upper(col)
    raise ValueError(f"unknown cast {cast!r}")


def map_values(col: Column, table: Mapping[str, str]) -> Column:
    """Replace values found in ``table`` (keys lower-cased, matched trimmed and case-insensitively);
    other values are kept as they are."""
    key = F.lower(F.trim(col))
    expr = col
    for source, target in table.items():
        expr = F.when(key == F.lit(source), F.lit(target)).otherwise(expr)
    return expr


def _rule_condition(mapping: SourceMapping, when: Mapping[str, tuple[str, ...]],
                    matches: Mapping[str, str]) -> Column:
    cond: Column = F.lit(True)
    for column, allowed in when.items():
        cond = cond & F.coalesce(F.lower(F.trim(source_value(column, mapping))).isin(*allowed), F.lit(False))
    for column, regex in matches.items():
        cond = cond & F.coalesce(source_value(column, mapping).rlike(regex), F.lit(False))
    return cond


def apply_mapping(df: DataFrame, mapping: SourceMapping) -> DataFrame:
    """Apply the mapping's casts, value maps, fallbacks, constants and role rules to raw records."""
    if not mapping.reshapes:
        return df
    schema = SOURCES[mapping.name]
    for name, cast in mapping.casts.items():
        df = df.withColumn(name, cast_value(F.col(name), cast))
    for name, table in mapping.values.items():
        df = df.withColumn(name, map_values(F.col(name), table))
    if mapping.strip_day_name:
        for f in schema.fields:
            if f.type == "timestamp":
                df = df.withColumn(f.name, F.trim(F.regexp_replace(F.col(f.name), DAY_NAMES, "")))
    for name, others in mapping.fallbacks.items():
        filled = F.col(name)
        for other in others:
            filled = F.when(_blank(filled), F.col(other)).otherwise(filled)
        df = df.withColumn(name, filled)
    for name, value in mapping.constants.items():
        df = df.withColumn(name, F.lit(value))
    role_field = mapping.role_field
    if role_field and mapping.role_rules:
        role = F.col(role_field)
        for rule in reversed(mapping.role_rules):
            role = F.when(_rule_condition(mapping, rule.when, rule.matches),
                          F.lit(rule.role)).otherwise(role)
        df = df.withColumn(role_field, role)
    if role_field and mapping.role_ids:
        role_now = F.lower(F.trim(F.col(role_field)))
        for id_field, column in mapping.role_ids.items():
            wanted = "customer" if id_field == "customer_id" else "agent"
            df = df.withColumn(id_field, F.when(role_now == wanted, source_value(column, mapping))
                               .otherwise(F.col(id_field)))
    return df
