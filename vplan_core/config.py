"""Validate a workflow configuration against schemas/config.schema.yaml.

jsonschema's own messages name neither the dotted key nor the YAML pitfall behind the most common
mistake (``1e-4`` is read as a string), so errors are rewritten here to name both.
"""
from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A configuration value breaks the schema; the message names every offending key."""


def _key(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "<top level>"


def _describe(error: jsonschema.ValidationError) -> str:
    key, value, schema = _key(error), error.instance, error.schema
    if error.validator == "type" and isinstance(value, str) and schema.get("type") in ("number", "integer"):
        return (f"config key '{key}': {value!r} is a string, expected a {schema['type']} "
                "(YAML reads 1e-4 as a string: write 1.0e-4)")
    if error.validator == "additionalProperties":
        allowed = ", ".join(sorted(schema.get("properties", {})))
        return f"config key '{key or '<top level>'}': {error.message}; allowed keys: {allowed}"
    if error.validator == "enum":
        return f"config key '{key}': {value!r} is not one of {schema['enum']}"
    if error.validator in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        bounds = {k: schema[k] for k in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum") if k in schema}
        return f"config key '{key}': {value!r} is out of range (allowed: {bounds})"
    return f"config key '{key}': {error.message}"


def validate_config(config: dict, schema_path: Path = SCHEMA_PATH) -> None:
    """Raise ConfigError listing every schema violation, each naming its key."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(_describe(e) for e in errors))
