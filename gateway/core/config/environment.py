"""`GATEWAY_<SECTION>_<KEY>` environment overrides, for any pydantic model (pure).

The walk follows the model's fields, so every key of the schema can be overridden and the
variable names need no list of their own; `schema.parse_config` applies it to
`GatewayConfig`, and `reference` names the same variables. Nothing here imports the schema.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel

from gateway.core.errors import ConfigProblem

ENV_PREFIX = "GATEWAY"


def merge_env_overrides(
    model: type[BaseModel],
    raw: Mapping[str, Any],
    environ: Mapping[str, str],
    *,
    prefix: str = ENV_PREFIX,
) -> tuple[dict[str, Any], list[ConfigProblem]]:
    """Return a copy of `raw` with every `<prefix>_...` variable applied to its key of
    `model`, and the values that could not be read."""
    merged: dict[str, Any] = json.loads(json.dumps(raw, default=str))
    problems: list[ConfigProblem] = []
    _override_model(model, merged, prefix, "", environ, problems)
    return merged, problems


def _override_model(
    model: type[BaseModel],
    node: dict[str, Any],
    env_prefix: str,
    path: str,
    environ: Mapping[str, str],
    problems: list[ConfigProblem],
) -> None:
    for name, field in model.model_fields.items():
        env = f"{env_prefix}_{name.upper()}"
        key = f"{path}{name}"
        annotation = field.annotation
        if is_model(annotation):
            child = node.get(name)
            if isinstance(child, dict) or _any_env_under(env, environ):
                node[name] = child if isinstance(child, dict) else {}
                _override_model(unwrap(annotation), node[name], env, key + ".", environ,
                                problems)
        elif model_items(annotation) is not None:
            _override_model_items(annotation, node, name, env, key, environ, problems)
        elif env in environ:
            node[name] = _env_value(environ[env], annotation, key, problems)


def _override_model_items(
    annotation: Any,
    node: dict[str, Any],
    name: str,
    env: str,
    key: str,
    environ: Mapping[str, str],
    problems: list[ConfigProblem],
) -> None:
    """Lists of tables are addressed by their `id` (`GATEWAY_SITES_SHOP_UPSTREAM`), dicts of
    tables by their key (`GATEWAY_CATEGORIES_ANALYTICS_TEXTS_EN_TITLE`)."""
    item_model = model_items(annotation)
    assert item_model is not None
    if env in environ:
        node[name] = _env_value(environ[env], list[dict[str, Any]], key, problems)
    items = node.get(name)
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                item_env = f"{env}_{_env_part(item['id'])}"
                item_key = f"{key}[{item['id']}]."
                _override_model(item_model, item, item_env, item_key, environ, problems)
    elif isinstance(items, dict):
        for item_name, item in items.items():
            if isinstance(item, dict):
                item_env = f"{env}_{_env_part(item_name)}"
                item_key = f"{key}.{item_name}."
                _override_model(item_model, item, item_env, item_key, environ, problems)


def _env_part(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def _any_env_under(env: str, environ: Mapping[str, str]) -> bool:
    return any(name.startswith(env + "_") for name in environ)


def _env_value(value: str, annotation: Any, key: str, problems: list[ConfigProblem]) -> Any:
    """Environment values are strings; lists are JSON or comma-separated."""
    if _is_sequence(annotation):
        if value.lstrip().startswith("["):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                problems.append(ConfigProblem(key, f"environment value is not JSON: {exc}"))
                return None
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _is_sequence(annotation: Any) -> bool:
    return get_origin(unwrap(annotation)) in (tuple, list)


# ------------------------------------------- field annotations, also read by `reference`


def unwrap(annotation: Any) -> Any:
    if get_origin(annotation) is Annotated:
        return get_args(annotation)[0]
    return annotation


def is_model(annotation: Any) -> bool:
    annotation = unwrap(annotation)
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def model_items(annotation: Any) -> type[BaseModel] | None:
    """The table type of a `tuple[Model, ...]` or `dict[str, Model]` field, else None."""
    annotation = unwrap(annotation)
    origin = get_origin(annotation)
    if origin in (tuple, list):
        item = get_args(annotation)[0]
    elif origin is dict:
        item = get_args(annotation)[1]
    else:
        return None
    return item if is_model(item) else None

