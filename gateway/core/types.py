"""Fixed vocabularies of the domain, shared by every layer."""

from __future__ import annotations

from typing import Final, Literal, get_args

Category = Literal["necessary", "preferences", "analytics", "marketing"]
# `implied`: the categories a `notice` or `none` region grants before the visitor decides.
Action = Literal["accept_all", "reject_all", "custom", "withdraw", "gpc", "erase", "implied"]
Source = Literal["banner", "preferences", "api", "gpc", "region"]
Language = Literal["nl", "en", "de", "fr"]

CATEGORIES: Final[tuple[Category, ...]] = get_args(Category)
OPTIONAL_CATEGORIES: Final[tuple[Category, ...]] = tuple(c for c in CATEGORIES if c != "necessary")
ACTIONS: Final[tuple[Action, ...]] = get_args(Action)
SOURCES: Final[tuple[Source, ...]] = get_args(Source)
LANGUAGES: Final[tuple[Language, ...]] = get_args(Language)

# Actions a browser may send to POST /consent (`gpc` when the script sees
# navigator.globalPrivacyControl, `implied` from a snippet in a `notice`/`none` region);
# withdraw and erase have endpoints of their own.
VISITOR_ACTIONS: Final[tuple[Action, ...]] = (
    "accept_all", "reject_all", "custom", "gpc", "implied")
