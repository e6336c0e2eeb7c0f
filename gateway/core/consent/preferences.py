"""The preferences page: the whole choice as a plain HTML form, for visitors without
JavaScript (pure; every text is escaped, it comes from configuration)."""

from __future__ import annotations

from html import escape
from typing import Final, cast

from gateway.core.consent.banner import BannerView
from gateway.core.consent.cookie import Consent
from gateway.core.types import Category

# The page runs no script and loads only our stylesheet.
PAGE_CSP: Final = (
    "default-src 'none'; style-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def render_preferences(
    view: BannerView,
    consent: Consent | None,
    *,
    return_to: str,
    css_url: str,
    subject_id: str | None = None,
    erased: bool = False,
) -> str:
    texts = view.texts
    prefix = view.settings["prefix"]
    hidden = f'<input type="hidden" name="return_to" value="{escape(return_to)}">'
    withdraw = (
        f'<form method="post" action="{escape(prefix)}/withdraw">{hidden}'
        f'<button type="submit" class="cg-btn">{escape(texts["withdraw"])}</button></form>'
        if consent is not None and consent.explicit and consent.granted - {"necessary"}
        else ""
    )
    return f"""<!doctype html>
<html lang="{escape(view.language)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(texts["reopen"])}</title>
<link rel="stylesheet" href="{escape(css_url)}">
</head>
<body class="cg-page">
<main class="cg-prefs" aria-labelledby="cg-title">
<h1 id="cg-title">{escape(texts["reopen"])}</h1>
<p>{escape(texts["body"])} <a class="cg-link" href="{escape(view.site.privacy_statement_url)}">{
    escape(texts["privacy_link"])}</a></p>
<form method="post" action="{escape(prefix)}/preferences">
{hidden}
<fieldset class="cg-settings">
<legend>{escape(texts["title"])}</legend>
{"".join(_category_row(category, consent, texts["always_on"]) for category in view.categories)}
</fieldset>
<div class="cg-actions">
<button type="submit" name="action" value="accept_all" class="cg-btn">{
    escape(texts["accept_all"])}</button>
<button type="submit" name="action" value="reject_all" class="cg-btn">{
    escape(texts["reject_all"])}</button>
<button type="submit" name="action" value="custom" class="cg-btn">{
    escape(texts["save"])}</button>
</div>
</form>
{withdraw}
{_own_data_section(view, subject_id, hidden, erased=erased)}
<p><a class="cg-link" href="{escape(return_to)}">{escape(texts["back"])}</a></p>
</main>
</body>
</html>
"""


def _own_data_section(
    view: BannerView, subject_id: str | None, hidden_fields: str, *, erased: bool
) -> str:
    """Download and erase (GDPR art. 15, 17, 20) for a visitor whose cookie names them,
    and the consent id to quote when writing in."""
    if subject_id is None and not erased:
        return ""
    texts, prefix = view.texts, escape(view.settings["prefix"])
    parts = [f'<section class="cg-your-data" id="cg-your-data" aria-labelledby="cg-data-title">'
             f'<h2 id="cg-data-title">{escape(texts["your_data"])}</h2>']
    if erased:
        parts.append(f'<p class="cg-notice" role="status">{escape(texts["erased"])}</p>')
    if subject_id is not None:
        parts.append(
            f'<p>{escape(texts["consent_id_label"])}: <code>{escape(subject_id)}</code></p>'
            f'<p><a class="cg-link" href="{prefix}/me" download>'
            f'{escape(texts["download_data"])}</a></p>'
            f'<form method="post" action="{prefix}/me/erase">{hidden_fields}'
            f'<p id="cg-erase-explain">{escape(texts["erase_explain"])}</p>'
            f'<button type="submit" class="cg-btn" aria-describedby="cg-erase-explain">'
            f'{escape(texts["erase_data"])}</button></form>'
        )
    return "".join(parts) + "</section>"


def _category_row(category: dict[str, str], consent: Consent | None, always_on: str) -> str:
    name = category["id"]
    locked = name == "necessary"
    chosen = consent is not None and consent.explicit and consent.allows(cast(Category, name))
    checked = locked or chosen
    attributes = " checked" if checked else ""
    attributes += " disabled" if locked else ""
    note = f' <span class="cg-always-on">{escape(always_on)}</span>' if locked else ""
    return (
        f'<div class="cg-cat"><div class="cg-cat-head">'
        f'<input type="checkbox" class="cg-switch" id="cg-cat-{name}" name="{name}" '
        f'aria-describedby="cg-cat-{name}-desc"{attributes}>'
        f'<label class="cg-cat-title" for="cg-cat-{name}">{escape(category["title"])}</label>'
        f"{note}</div>"
        f'<p class="cg-cat-desc" id="cg-cat-{name}-desc">{escape(category["description"])}</p>'
        f"</div>"
    )
