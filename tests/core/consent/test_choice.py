"""A visitor's choice (gateway/core/consent/choice.py): decisions from JSON and from the
preferences form, checked field by field, and return paths that stay on the site."""

from __future__ import annotations

import pytest

from gateway.core.consent.choice import choice_from_form, choice_from_json, safe_return_path
from gateway.core.errors import BadRequest, InvalidField
from gateway.core.types import OPTIONAL_CATEGORIES


def test_accept_all_grants_every_optional_category() -> None:
    assert choice_from_json({"action": "accept_all"}).granted == frozenset(OPTIONAL_CATEGORIES)


def test_reject_all_grants_nothing_even_with_ticked_categories() -> None:
    choice = choice_from_json({"action": "reject_all", "categories": {"analytics": True}})
    assert choice.granted == frozenset()


def test_custom_grants_exactly_the_categories_set_true() -> None:
    choice = choice_from_json({"action": "custom",
                               "categories": {"analytics": True, "marketing": False}})
    assert choice.granted == {"analytics"}


def test_custom_accepts_necessary_true_without_counting_it_as_optional() -> None:
    choice = choice_from_json({"action": "custom", "categories": {"necessary": True}})
    assert choice.granted == frozenset()


def test_a_custom_choice_without_categories_is_refused() -> None:
    with pytest.raises(InvalidField) as caught:
        choice_from_json({"action": "custom"})
    assert caught.value.field == "categories"


def test_an_unknown_category_is_refused_by_its_field() -> None:
    with pytest.raises(InvalidField) as caught:
        choice_from_json({"action": "custom", "categories": {"tracking": True}})
    assert caught.value.field == "categories.tracking"


@pytest.mark.parametrize("action", ["accept", "withdraw", "erase", "", None, 1])
def test_an_action_a_visitor_may_not_send_is_refused(action: object) -> None:
    with pytest.raises(InvalidField) as caught:
        choice_from_json({"action": action})
    assert caught.value.field == "action"


def test_refusing_necessary_is_refused() -> None:
    with pytest.raises(InvalidField) as caught:
        choice_from_json({"action": "custom", "categories": {"necessary": False}})
    assert caught.value.field == "categories.necessary"


@pytest.mark.parametrize("value", ["true", 1, None, ["yes"]])
def test_a_category_value_must_be_a_boolean(value: object) -> None:
    with pytest.raises(InvalidField) as caught:
        choice_from_json({"action": "custom", "categories": {"analytics": value}})
    assert caught.value.field == "categories.analytics"


def test_an_unknown_top_level_field_is_refused_by_name() -> None:
    with pytest.raises(InvalidField) as caught:
        choice_from_json({"action": "accept_all", "ip": "81.2.69.142"})
    assert caught.value.field == "ip"


def test_a_body_that_is_not_an_object_is_a_bad_request() -> None:
    with pytest.raises(BadRequest):
        choice_from_json(["accept_all"])


def test_the_page_keeps_only_the_path() -> None:
    choice = choice_from_json({"action": "accept_all",
                               "page": "/bestellen/bevestiging?email=jan%40example.nl#top"})
    assert choice.page == "/bestellen/bevestiging"


def test_a_full_url_as_page_keeps_only_its_path() -> None:
    choice = choice_from_json({"action": "reject_all",
                               "page": "https://fietsen.example/zoeken?q=bakfiets"})
    assert choice.page == "/zoeken"


def test_a_form_grants_the_ticked_checkboxes() -> None:
    choice = choice_from_form([("action", "custom"), ("preferences", "on"),
                               ("analytics", "off"), ("page", "/fietsen?kleur=rood")])
    assert choice.granted == {"preferences"}
    assert choice.page == "/fietsen"
    assert choice.source == "preferences"


def test_a_form_with_an_unknown_field_is_refused_by_name() -> None:
    with pytest.raises(InvalidField) as caught:
        choice_from_form([("action", "accept_all"), ("tracking", "on")])
    assert caught.value.field == "tracking"


def test_a_form_refusing_necessary_is_refused() -> None:
    with pytest.raises(InvalidField) as caught:
        choice_from_form([("action", "custom"), ("necessary", "off")])
    assert caught.value.field == "necessary"


def test_a_form_sends_the_visitor_back_to_a_local_path() -> None:
    choice = choice_from_form([("action", "reject_all"), ("return_to", "/fietsen?p=2")])
    assert choice.return_to == "/fietsen?p=2"


@pytest.mark.parametrize("target", ["//evil.example", "//evil.example/fietsen", "https://evil",
                                    "/\\evil.example", "\\\\evil.example", "javascript:alert(1)",
                                    "/fietsen\r\nSet-Cookie: x=1", "evil.example", ""])
def test_a_return_path_leading_off_site_becomes_the_home_page(target: str) -> None:
    assert safe_return_path(target) == "/"


def test_a_form_cannot_redirect_off_site() -> None:
    choice = choice_from_form([("action", "accept_all"), ("return_to", "//evil.example")])
    assert choice.return_to == "/"
