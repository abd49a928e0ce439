"""Validate a workflow configuration against its schema (config.schema.yaml, beside this module).

jsonschema's own messages name neither the dotted key nor the YAML pitfall behind the most common
mistake (``1e-4`` is read as a string), so errors are rewritten here to name both.

Values given on the command line (``snakemake --config 'pld={alpha: 7.5}'``) arrive as strings
when nested (Snakemake parses them with YAML's BaseLoader), so those, and only those, are first
given the type the schema asks for (apply_command_line); a config file's value keeps its type,
so its type errors are still reported.

Every number of a configuration must be finite, wherever it is (validate_config): no range check
of the schema can catch NaN, which compares false with every bound, and a NaN setting trains on
silently.
"""
from __future__ import annotations

import math
from pathlib import Path

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")


class ConfigError(ValueError):
    """A configuration value breaks the schema; the message names every offending key."""


def _is_non_finite(value: object) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _non_finite(node: object, key: str = "") -> list[tuple[str, float]]:
    """(dotted key, value) of every NaN or infinite number in `node`, wherever it is: under a
    number of the schema, in a list or in a free-form mapping (models.<name>.kwargs)."""
    if _is_non_finite(node):
        return [(key, node)]
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    return [found for k, value in items for found in _non_finite(value, f"{key}.{k}" if key else str(k))]


def _key(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "<top level>"


def _describe(error: jsonschema.ValidationError, command_line: set[str]) -> str:
    key, value, schema = _key(error), error.instance, error.schema
    if error.validator == "type" and key in command_line:
        return f"config key '{key}': {value!r} (given with --config) is not a {schema['type']}"
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


def load_schema(schema_path: Path = SCHEMA_PATH) -> dict:
    """The schema, with the names that the registries own filled in: the rows, the parser
    families, each parser input's features, the pseudo-label features and each feature's
    settings block from its spec (so that adding one edits no schema). Every loss constant's
    config key (ablation.CONSTANT_KEYS) must be in it, and every row's own constants valid there."""
    from vplan_core.feature_registry import FEATURES, INPUT_ROLES, PSEUDO_LABEL_FEATURES
    from vplan_core.method.ablation import CONSTANT_KEYS, ROWS
    from vplan_core.models import FAMILIES

    schema = yaml.safe_load(Path(schema_path).read_text())
    family, properties = schema["$defs"]["family"]["properties"], schema["properties"]
    family["rows"]["items"]["enum"] = list(ROWS)
    family["family"]["enum"] = list(FAMILIES)
    family["inputs"]["properties"] = {role: {"enum": [name for name, f in FEATURES.items() if f.role == role]}
                                      for role in INPUT_ROLES}
    properties["plg"]["properties"] = {name: {"$ref": "#/$defs/plg"} for name in PSEUDO_LABEL_FEATURES}
    properties["features"]["properties"] = {name: f.settings_schema() for name, f in FEATURES.items() if f.settings}
    for constant, (section, key) in CONSTANT_KEYS.items():
        if key not in properties[section]["properties"]:
            raise ConfigError(f"ablation.CONSTANT_KEYS[{constant!r}] is config key '{section}.{key}', which the "
                              f"schema ({schema_path}) does not define")
    for row in ROWS.values():
        for constant, value in row.constants.items():
            section, key = CONSTANT_KEYS[constant]
            valid = jsonschema.Draft202012Validator({**properties[section]["properties"][key], "$defs": schema["$defs"]})
            error = next(valid.iter_errors(value), None)
            if error:
                raise ConfigError(f"row {row.name}: its {constant} {value!r} is no valid '{section}.{key}': "
                                  f"{error.message}")
    return schema


def validate_config(config: dict, schema_path: Path = SCHEMA_PATH, command_line: set[str] = frozenset()) -> None:
    """Raise ConfigError listing every schema violation, each naming its key.

    command_line: the dotted keys given with --config (their errors say so).
    """
    validator = jsonschema.Draft202012Validator(load_schema(schema_path))
    problems = [(_key(e), _describe(e, command_line)) for e in validator.iter_errors(config)
                if not _is_non_finite(e.instance)]  # named once, below
    problems += [(key, f"config key '{key}': {value}{' (given with --config)' if key in command_line else ''} "
                       "is not a finite number (NaN and infinity are refused)") for key, value in _non_finite(config)]
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(message for _, message in sorted(problems)))


def _resolve(schema: dict, root: dict) -> dict:
    ref = schema.get("$ref", "")
    if ref.startswith("#/"):
        node = root
        for part in ref[2:].split("/"):
            node = node[part]
        return {**_resolve(node, root), **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _typed(value: str, schema: dict) -> object:
    """A command-line string as the schema's scalar type; unchanged when it does not parse."""
    kind = schema.get("type")
    try:
        if kind == "number":
            return float(value)
        if kind == "integer":
            return int(value)
    except ValueError:
        return value
    if kind == "boolean" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def apply_command_line(config: dict, overrides: dict, schema_path: Path = SCHEMA_PATH) -> set[str]:
    """Give the strings that `overrides` (Snakemake's --config values, already merged into
    config) put into config the types the schema asks for. Returns the dotted keys given."""
    root = load_schema(schema_path)
    given: set[str] = set()

    def walk(node: dict, over: dict, schema: dict, prefix: str) -> None:
        resolved = _resolve(schema, root)
        properties, named = resolved.get("properties", {}), resolved.get("additionalProperties")
        others = named if isinstance(named, dict) else {}  # the schema of keys it does not list (models.<name>)
        for key, value in over.items():
            path, sub = f"{prefix}{key}", _resolve(properties.get(key, others), root)
            given.add(path)
            if isinstance(value, dict) and isinstance(node.get(key), dict):
                walk(node[key], value, sub, f"{path}.")
            elif isinstance(value, str):
                node[key] = _typed(value, sub)
            elif isinstance(value, list) and sub.get("type") == "array":
                items = _resolve(sub.get("items", {}), root)
                node[key] = [_typed(v, items) if isinstance(v, str) else v for v in value]

    walk(config, overrides or {}, root, "")
    return given
