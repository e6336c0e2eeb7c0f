"""A visitor's decision as sent to POST /consent, checked field by field (pure).

Every refusal names the field, so the banner's author (or an API client) knows what to fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, cast
from urllib.parse import urlsplit

from gateway.core.errors import BadRequest, InvalidField
from gateway.core.types import (
    CATEGORIES,
    OPTIONAL_CATEGORIES,
    SOURCES,
    VISITOR_ACTIONS,
    Action,
    Category,
    Source,
)

MAX_PAGE_CHARS: Final = 2000
_TRUE_WORDS: Final = frozenset({"on", "true", "1", "yes"})
_FALSE_WORDS: Final = frozenset({"off", "false", "0", "no", ""})
_JSON_FIELDS: Final = frozenset({"action", "categories", "page", "language", "source", "site"})
_FORM_FIELDS: Final = frozenset({"action", "page", "language", "source", "return_to"})


@dataclass(frozen=True, slots=True)
class Choice:
    action: Action
    granted: frozenset[Category]  # optional categories only; `necessary` is implied
    page: str
    language: str | None
    source: Source
    return_to: str | None = None
    site: str | None = None  # snippet mode: which site the embedding page belongs to


def grants_for(action: Action, chosen: Iterable[Category]) -> frozenset[Category]:
    if action == "accept_all":
        return frozenset(OPTIONAL_CATEGORIES)
    if action == "custom":
        return frozenset(c for c in chosen if c != "necessary")
    return frozenset()


def choice_from_json(
    data: object, *, default_source: Source = "api", fixed_action: Action | None = None
) -> Choice:
    """`fixed_action` is for endpoints whose action is their path (withdraw): then the body
    may not name an action or categories."""
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object", field="body")
    allowed = _JSON_FIELDS if fixed_action is None else _JSON_FIELDS - {"action", "categories"}
    for key in data:
        if key not in allowed:
            raise InvalidField(f"unknown field {str(key)[:64]!r}", field=str(key)[:64])
    action = fixed_action or _action(data.get("action"))
    chosen = _categories_from_json(data.get("categories", {}))
    if action == "custom" and "categories" not in data:
        raise InvalidField("a custom choice needs 'categories'", field="categories")
    return Choice(
        action=action,
        granted=grants_for(action, chosen),
        page=clean_page(data.get("page", "/")),
        language=_optional_text(data.get("language"), "language"),
        source=_source(data.get("source"), default_source, action),
        site=_optional_text(data.get("site"), "site"),
    )


def choice_from_form(
    pairs: Iterable[tuple[str, str]], *, fixed_action: Action | None = None
) -> Choice:
    """HTML form: `action`, one checkbox per category (`analytics=on`), `page`, `return_to`."""
    fields: dict[str, str] = {}
    chosen: set[Category] = set()
    for key, value in pairs:
        if key in CATEGORIES and fixed_action is None:
            if _form_bool(value, key):
                chosen.add(key)
        elif key in _FORM_FIELDS and not (key == "action" and fixed_action):
            fields[key] = value
        else:
            raise InvalidField(f"unknown field {key!r}", field=key[:64])
    action = fixed_action or _action(fields.get("action"))
    return Choice(
        action=action,
        granted=grants_for(action, chosen),
        page=clean_page(fields.get("page") or fields.get("return_to") or "/"),
        language=_optional_text(fields.get("language") or None, "language"),
        source=_source(fields.get("source"), "preferences", action),
        return_to=safe_return_path(fields.get("return_to") or fields.get("page")),
    )


def clean_page(value: object) -> str:
    """Path only: the query string and fragment may carry personal data, so they never land."""
    if not isinstance(value, str):
        raise InvalidField("'page' must be a string", field="page")
    if len(value) > MAX_PAGE_CHARS:
        raise InvalidField(f"'page' is longer than {MAX_PAGE_CHARS} characters", field="page")
    path = urlsplit(value).path or "/"
    if not path.startswith("/") or any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        raise InvalidField("'page' must be a path such as '/shop'", field="page")
    return path


def safe_return_path(value: str | None) -> str:
    """Where a form post may send the visitor back to: a path on this site, never elsewhere."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value) or len(value) > MAX_PAGE_CHARS:
        return "/"
    return value


def _action(value: object) -> Action:
    if value not in VISITOR_ACTIONS:
        allowed = ", ".join(VISITOR_ACTIONS)
        raise InvalidField(f"'action' must be one of {allowed}", field="action")
    return value


def _source(value: object, default: Source, action: Action) -> Source:
    if action in ("gpc", "implied"):
        # logged as what decided it, whoever sends it
        return "gpc" if action == "gpc" else "region"
    if value is None:
        return default
    if value not in SOURCES or value in ("gpc", "region"):
        raise InvalidField("'source' must be banner, preferences or api", field="source")
    return value


def _categories_from_json(value: object) -> set[Category]:
    if not isinstance(value, Mapping):
        raise InvalidField("'categories' must be an object of booleans", field="categories")
    chosen: set[Category] = set()
    for key, granted in value.items():
        field = f"categories.{str(key)[:64]}"
        if key not in CATEGORIES:
            raise InvalidField(f"unknown category {str(key)[:64]!r}", field=field)
        if not isinstance(granted, bool):
            raise InvalidField("must be true or false", field=field)
        if key == "necessary" and not granted:
            raise InvalidField("necessary cookies cannot be refused", field=field)
        if granted:
            chosen.add(cast(Category, key))
    return chosen


def _form_bool(value: str, key: str) -> bool:
    word = value.strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        if key == "necessary" and word != "":
            raise InvalidField("necessary cookies cannot be refused", field=key)
        return False
    raise InvalidField("must be on or off", field=key)


def _optional_text(value: object, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 35:
        raise InvalidField(f"'{field}' must be a short string", field=field)
    return value
