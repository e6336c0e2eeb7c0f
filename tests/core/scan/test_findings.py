"""What a consent scan makes of what the browser saw (gateway/core/scan/findings.py): which
requests are listed, each thing's category, and the verdict."""

from __future__ import annotations

import pytest

from gateway.core.scan.findings import Observation, Problem, is_third_party, site_of
from tests.core.scan.scans import cookie, scan

HOTJAR = ("https://static.hotjar.com/c/hotjar-1234567.js?sv=6", "script")


def test_a_tracker_request_before_a_decision_fails_the_scan_naming_its_host() -> None:
    report = scan(Observation("before", requests=(HOTJAR,)))
    assert not report.passed
    assert report.problems == (Problem("before", "request", "static.hotjar.com", "analytics"),)
    (found,) = report.moments[0].requests
    assert (found.party, found.service, found.count) == ("third", "Hotjar", 1)


def test_a_host_nothing_names_is_unknown_and_fails_the_scan() -> None:
    report = scan(Observation("before", requests=(("https://cdn.elsewhere.example/a.js",
                                                    "script"),)))
    assert report.problems == (Problem("before", "request", "cdn.elsewhere.example",
                                       "unknown"),)


def test_a_request_a_rule_makes_necessary_passes() -> None:
    captcha = ("https://www.google.com/recaptcha/api.js", "script")
    report = scan(Observation("before", requests=(captcha,)))
    assert report.passed
    assert [(r.host, r.category) for r in report.moments[0].requests] == [
        ("www.google.com", "necessary")]


def test_the_sites_own_requests_are_not_listed_unless_a_rule_names_them() -> None:
    own = [("https://www.fietsen.example/app.js", "script"),
           ("https://img.fietsen.example/logo.png", "image"),
           ("https://www.fietsen.example/stats/matomo.js", "script")]
    report = scan(Observation("before", requests=tuple(own)))
    assert [(r.host, r.party, r.service) for r in report.moments[0].requests] == [
        ("www.fietsen.example", "first", "Matomo")]
    assert not report.passed


def test_requests_to_one_host_are_counted_together_keeping_the_first_url() -> None:
    later = ("https://static.hotjar.com/c/modules.js", "script")
    report = scan(Observation("before", requests=(HOTJAR, later, HOTJAR)))
    (found,) = report.moments[0].requests
    assert (found.count, found.example) == (3, HOTJAR[0])


def test_urls_that_fetch_nothing_over_the_network_are_ignored() -> None:
    report = scan(Observation("before", requests=(("data:image/png;base64,AAAA", "image"),
                                                  ("blob:https://x.example/1", "fetch"))))
    assert report.moments[0].requests == ()


def test_cookies_get_the_gateways_categories_and_our_consent_cookie_is_necessary() -> None:
    report = scan(Observation("rejected", cookies=(
        cookie("consent", http_only=True), cookie("sessionid"), cookie("_ga", expires=1.8e9),
        cookie("ab_variant"))))
    found = {c.name: (c.category, c.source) for c in report.moments[0].cookies}
    assert found == {"consent": ("necessary", "gateway"), "sessionid": ("necessary", "rule"),
                     "_ga": ("analytics", "rule"), "ab_variant": ("unknown", "unknown")}
    assert [(p.name, p.category) for p in report.problems] == [
        ("_ga", "analytics"), ("ab_variant", "unknown")]


def test_a_session_cookie_has_no_expiry_and_a_persistent_one_its_date() -> None:
    report = scan(Observation("before", cookies=(cookie("sessionid", expires=None),
                                                 cookie("csrftoken", expires=1795000000.5))))
    by_name = {c.name: c.expires for c in report.moments[0].cookies}
    assert by_name["sessionid"] is None
    assert by_name["csrftoken"] is not None and by_name["csrftoken"].year == 2026


def test_a_storage_key_fails_only_when_the_data_names_it_for_another_category() -> None:
    origin = "https://www.fietsen.example"
    report = scan(Observation("before", storage=((origin, "_hjid"), (origin, "cart-draft"))))
    assert [(s.key, s.category) for s in report.moments[0].storage] == [
        ("_hjid", "analytics"), ("cart-draft", "unknown")]
    assert report.problems == (Problem("before", "storage", "_hjid", "analytics"),)


def test_after_accept_all_everything_is_recorded_and_nothing_judged() -> None:
    report = scan(Observation("before"), Observation("rejected"),
                  Observation("accepted", requests=(HOTJAR,), cookies=(cookie("_ga"),)))
    assert report.passed
    accepted = report.moment("accepted")
    assert accepted is not None and len(accepted.requests) == len(accepted.cookies) == 1


def test_what_happens_after_a_refusal_is_judged_like_before_a_decision() -> None:
    report = scan(Observation("before"), Observation("rejected", requests=(HOTJAR,)),
                  Observation("accepted"))
    assert report.problems == (Problem("rejected", "request", "static.hotjar.com",
                                       "analytics"),)


def test_a_problem_is_named_once_per_moment() -> None:
    report = scan(Observation("before", cookies=(cookie("_ga", domain="fietsen.example"),
                                                 cookie("_ga"))))
    assert report.problems == (Problem("before", "cookie", "_ga", "analytics"),)


@pytest.mark.parametrize(("host", "site"), [
    ("www.fietsen.example", "fietsen.example"),
    ("shop.fietsen.co.uk", "fietsen.co.uk"),
    ("WWW.Fietsen.Example.", "fietsen.example"),
    ("127.0.0.1", "127.0.0.1"),
    ("[::1]", "::1"),
    ("localhost", "localhost"),
    ("analytics.localhost", "analytics.localhost"),
])
def test_the_site_of_a_host_is_its_registrable_part(host: str, site: str) -> None:
    assert site_of(host) == site


def test_other_sites_are_third_parties_and_subdomains_of_the_same_site_are_not() -> None:
    assert not is_third_party("cdn.fietsen.example", "www.fietsen.example")
    assert is_third_party("static.hotjar.com", "www.fietsen.example")
    assert is_third_party("tracker.localhost", "127.0.0.1")
    assert is_third_party("a.localhost", "b.localhost")
