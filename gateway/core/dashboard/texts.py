"""The dashboard's words and number formats in Dutch and English (pure).

Site owners read the dashboard, not visitors, so it speaks the two languages its admins use
whatever languages the banner offers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final, Literal, get_args

DashboardLanguage = Literal["nl", "en"]
DASHBOARD_LANGUAGES: Final[tuple[DashboardLanguage, ...]] = get_args(DashboardLanguage)
_MAX_ACCEPT_LANGUAGE: Final = 512

_MONTHS: Final[dict[DashboardLanguage, tuple[str, ...]]] = {
    "nl": ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
           "september", "oktober", "november", "december"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}

TEXTS: Final[dict[DashboardLanguage, dict[str, str]]] = {
    "en": {
        "product": "Consent Gateway",
        "title": "Dashboard",
        "language_nav": "Language",
        "filters": "Site and period",
        "site": "Site",
        "from": "From",
        "to": "To",
        "show": "Show",
        "traffic": "Overview",
        "visitors": "Visitors",
        "visits": "Visits",
        "pageviews": "Pageviews",
        "bounce_rate": "Bounce rate",
        "visit_duration": "Visit duration",
        "decisions": "Consent decisions",
        "consent_rate": "Consent rate",
        "consent_rate_help": "Share of the decisions accept all, reject all, custom and GPC "
                             "that allowed analytics. Withdrawals and erasures are shown in the "
                             "chart but not counted.",
        "no_rate": "none yet",
        "visitors_per_day": "Visitors and pageviews per day",
        "visitors_chart_desc": "Bars per day: visitors and pageviews from {first} to {last}.",
        "decisions_per_day": "Consent decisions per day",
        "decisions_chart_desc": "Stacked bars per day: consent decisions by action from "
                                "{first} to {last}.",
        "rate_per_day": "Consent rate per day",
        "decisions_by_action": "Decisions by action",
        "action": "Choice",
        "count": "Number",
        "share": "Share",
        "rate_chart_desc": "Line per day: the share of decisions that allowed analytics, "
                           "from {first} to {last}.",
        "as_table": "Show the numbers",
        "date": "Date",
        "total": "Total",
        "pages": "Top pages",
        "referrers": "Referrers",
        "utm_sources": "UTM sources",
        "utm_campaigns": "UTM campaigns",
        "countries": "Countries",
        "browsers": "Browsers",
        "os": "Operating systems",
        "devices": "Devices",
        "events": "Custom events",
        "searches": "Site searches",
        "search": "Search term",
        "time_on_page": "Time on page",
        "page": "Page",
        "referrer": "Referring site",
        "source": "Source",
        "campaign": "Campaign",
        "country": "Country",
        "browser": "Browser",
        "system": "System",
        "device": "Device",
        "event": "Event",
        "uses": "Count",
        "no_data": "No data in this period.",
        "other": "Other",
        "direct": "Direct / none",
        "device_desktop": "Desktop",
        "device_mobile": "Mobile",
        "device_tablet": "Tablet",
        "cookies": "Cookies your site sets",
        "cookies_help": "Every cookie name seen in a response from your site, or in a "
                        "request though your site never set it (a page script wrote it), "
                        "since the gateway started recording; names and attributes only, "
                        "never values.",
        "cookie": "Cookie",
        "cookie_table": "Table of cookies",
        "category": "Category",
        "category_from": "Category from",
        "from_rule": "your [[cookies]] rule",
        "from_catalogue": "tracker catalogue",
        "from_database": "cookie database",
        "from_unknown": "nothing: unknown",
        "set_by_script": "written by a page script",
        "purpose": "Purpose (cookie database)",
        "retention": "Retention",
        "where": "Domain and path",
        "seen": "Times seen",
        "first_seen": "First seen",
        "last_seen": "Last seen",
        "http_only": "HttpOnly",
        "yes": "yes",
        "no": "no",
        "no_cookies": "No cookies seen yet.",
        "unknown_warning_one": "1 cookie matches no [[cookies]] rule and is not in the "
                               "shipped cookie data. Until you give it a category it is "
                               "treated as unknown: {policy}",
        "unknown_warning": "{count} cookies match no [[cookies]] rule and are not in the "
                           "shipped cookie data. Until you give them a category they are "
                           "treated as unknown: {policy}",
        "policy_block": "blocked, unless a visitor accepts every optional category.",
        "policy_allow": "let through for every visitor (consent.unknown_cookie_policy = "
                        "\"allow\").",
        "category_necessary": "Necessary",
        "category_preferences": "Preferences",
        "category_analytics": "Analytics",
        "category_marketing": "Marketing",
        "category_unknown": "Unknown",
        "action_accept_all": "Accept all",
        "action_reject_all": "Reject all",
        "action_custom": "Custom",
        "action_gpc": "GPC signal",
        "action_implied": "Implied (region)",
        "mode_opt-in": "opt-in",
        "mode_notice": "notice",
        "mode_none": "no banner",
        "action_withdraw": "Withdrawn",
        "action_erase": "Erased",
        "scan": "Last consent scan",
        "scan_summary": "{url}, scanned on {date}: {pages} page(s).",
        "scan_passed": "Passed: nothing but necessary cookies and requests before a decision "
                       "and after a refusal.",
        "scan_failed": "Failed: {count} thing(s) not necessary happened before a decision or "
                       "after a refusal.",
        "scan_moment": "Moment",
        "scan_before": "Before any decision",
        "scan_rejected": "After “Reject all”",
        "scan_accepted": "After “Accept all”",
        "scan_hosts": "Third-party and tracker hosts",
        "scan_cookies": "Cookies",
        "scan_not_necessary": "of which not necessary",
        "scan_not_recorded": "not recorded: no banner found",
        "scan_problem_request": "request to {name} ({category})",
        "scan_problem_cookie": "cookie {name} ({category})",
        "scan_problem_storage": "localStorage key {name} ({category})",
        "scan_more": "and {count} more",
        "scan_help": "Run consent-gateway scan URL --save again after a change to the site; "
                     "--html FILE writes the whole report.",
        "folded_note": "Rows with fewer than {min} visitors are folded into “Other”, so nobody "
                       "is singled out.",
        "bots_note": "Bots filtered out in this period: {bots}.",
        "times_note": "Days are UTC; a visit counts on the day it starts.",
        "estimates_note": "Visitors in the tables are exact up to {exact} per row and "
                          "estimated above that (about ±{error} %); totals and days are exact.",
    },
    "nl": {
        "product": "Consent Gateway",
        "title": "Dashboard",
        "language_nav": "Taal",
        "filters": "Site en periode",
        "site": "Site",
        "from": "Van",
        "to": "Tot en met",
        "show": "Toon",
        "traffic": "Overzicht",
        "visitors": "Bezoekers",
        "visits": "Bezoeken",
        "pageviews": "Paginaweergaven",
        "bounce_rate": "Bouncepercentage",
        "visit_duration": "Bezoekduur",
        "decisions": "Toestemmingskeuzes",
        "consent_rate": "Toestemmingspercentage",
        # Soft hyphens: the long words may break in a narrow card.
        "kpi_decisions": "Toestemmings\u00adkeuzes",
        "kpi_consent_rate": "Toestemmings\u00adpercentage",
        "kpi_bounce_rate": "Bounce\u00adpercentage",
        "consent_rate_help": "Aandeel van de keuzes alles accepteren, alles weigeren, eigen "
                             "keuze en GPC dat statistieken toestond. Intrekkingen en wissingen "
                             "staan in de grafiek maar tellen niet mee.",
        "no_rate": "nog geen",
        "visitors_per_day": "Bezoekers en paginaweergaven per dag",
        "visitors_chart_desc": "Staven per dag: bezoekers en paginaweergaven van {first} tot "
                               "en met {last}.",
        "decisions_per_day": "Toestemmingskeuzes per dag",
        "decisions_chart_desc": "Gestapelde staven per dag: toestemmingskeuzes per soort van "
                                "{first} tot en met {last}.",
        "rate_per_day": "Toestemmingspercentage per dag",
        "decisions_by_action": "Keuzes per soort",
        "action": "Keuze",
        "count": "Aantal",
        "share": "Aandeel",
        "rate_chart_desc": "Lijn per dag: het aandeel keuzes dat statistieken toestond, van "
                           "{first} tot en met {last}.",
        "as_table": "Toon de cijfers",
        "date": "Datum",
        "total": "Totaal",
        "pages": "Populaire pagina's",
        "referrers": "Verwijzers",
        "utm_sources": "UTM-bronnen",
        "utm_campaigns": "UTM-campagnes",
        "countries": "Landen",
        "browsers": "Browsers",
        "os": "Besturingssystemen",
        "devices": "Apparaten",
        "events": "Eigen gebeurtenissen",
        "searches": "Zoekopdrachten op de site",
        "search": "Zoekterm",
        "time_on_page": "Tijd op pagina",
        "page": "Pagina",
        "referrer": "Verwijzende site",
        "source": "Bron",
        "campaign": "Campagne",
        "country": "Land",
        "browser": "Browser",
        "system": "Systeem",
        "device": "Apparaat",
        "event": "Gebeurtenis",
        "uses": "Aantal",
        "no_data": "Geen gegevens in deze periode.",
        "other": "Overig",
        "direct": "Direct / geen",
        "device_desktop": "Desktop",
        "device_mobile": "Mobiel",
        "device_tablet": "Tablet",
        "cookies": "Cookies die uw site plaatst",
        "cookies_help": "Elke cookienaam die in een antwoord van uw site is gezien, of in "
                        "een verzoek terwijl uw site hem nooit plaatste (een script op de "
                        "pagina schreef hem), sinds de gateway dit bijhoudt; alleen namen en "
                        "kenmerken, nooit waarden.",
        "cookie": "Cookie",
        "cookie_table": "Tabel met cookies",
        "category": "Categorie",
        "category_from": "Categorie volgens",
        "from_rule": "uw [[cookies]]-regel",
        "from_catalogue": "trackercatalogus",
        "from_database": "cookiedatabase",
        "from_unknown": "niets: onbekend",
        "set_by_script": "geschreven door een script op de pagina",
        "purpose": "Doel (cookiedatabase, Engels)",
        "retention": "Bewaartermijn",
        "where": "Domein en pad",
        "seen": "Keer gezien",
        "first_seen": "Eerst gezien",
        "last_seen": "Laatst gezien",
        "http_only": "HttpOnly",
        "yes": "ja",
        "no": "nee",
        "no_cookies": "Nog geen cookies gezien.",
        "unknown_warning_one": "1 cookie valt onder geen enkele [[cookies]]-regel en staat "
                               "niet in de meegeleverde cookiegegevens. Zolang u die geen "
                               "categorie geeft, geldt hij als onbekend: {policy}",
        "unknown_warning": "{count} cookies vallen onder geen enkele [[cookies]]-regel en "
                           "staan niet in de meegeleverde cookiegegevens. Zolang u ze geen "
                           "categorie geeft, gelden ze als onbekend: {policy}",
        "policy_block": "geblokkeerd, tenzij een bezoeker alle optionele categorieën accepteert.",
        "policy_allow": "doorgelaten voor elke bezoeker (consent.unknown_cookie_policy = "
                        "\"allow\").",
        "category_necessary": "Noodzakelijk",
        "category_preferences": "Voorkeuren",
        "category_analytics": "Statistieken",
        "category_marketing": "Marketing",
        "category_unknown": "Onbekend",
        "action_accept_all": "Alles geaccepteerd",
        "action_reject_all": "Alles geweigerd",
        "action_custom": "Eigen keuze",
        "action_gpc": "GPC-signaal",
        "action_implied": "Afgeleid (regio)",
        "mode_opt-in": "opt-in",
        "mode_notice": "melding",
        "mode_none": "geen banner",
        "action_withdraw": "Ingetrokken",
        "action_erase": "Gewist",
        "scan": "Laatste toestemmingsscan",
        "scan_summary": "{url}, gescand op {date}: {pages} pagina('s).",
        "scan_passed": "Geslaagd: vóór een keuze en na een weigering niets dan noodzakelijke "
                       "cookies en verzoeken.",
        "scan_failed": "Niet geslaagd: {count} keer gebeurde vóór een keuze of na een weigering "
                       "iets wat niet noodzakelijk is.",
        "scan_moment": "Moment",
        "scan_before": "Vóór een keuze",
        "scan_rejected": "Na “Alles weigeren”",
        "scan_accepted": "Na “Alles accepteren”",
        "scan_hosts": "Externe hosts en trackers",
        "scan_cookies": "Cookies",
        "scan_not_necessary": "waarvan niet noodzakelijk",
        "scan_not_recorded": "niet vastgelegd: geen banner gevonden",
        "scan_problem_request": "verzoek naar {name} ({category})",
        "scan_problem_cookie": "cookie {name} ({category})",
        "scan_problem_storage": "localStorage-sleutel {name} ({category})",
        "scan_more": "en nog {count}",
        "scan_help": "Voer consent-gateway scan URL --save opnieuw uit na een wijziging van de "
                     "site; --html BESTAND schrijft het hele rapport.",
        "folded_note": "Rijen met minder dan {min} bezoekers zijn samengevoegd onder "
                       "“Overig”, zodat niemand herkenbaar is.",
        "bots_note": "Bots weggefilterd in deze periode: {bots}.",
        "times_note": "Dagen zijn in UTC; een bezoek telt op de dag waarop het begint.",
        "estimates_note": "Bezoekers in de tabellen zijn exact tot {exact} per rij en daarboven "
                          "geschat (ongeveer ±{error} %); totalen en dagen zijn exact.",
    },
}


def requested_language(value: str | None) -> DashboardLanguage | None:
    """`?lang=nl|en`; None when absent, ValueError when it names another language."""
    if value is None:
        return None
    for language in DASHBOARD_LANGUAGES:
        if value == language:
            return language
    raise ValueError(f"lang must be one of {', '.join(DASHBOARD_LANGUAGES)}")


def negotiated_language(accept_language: str | None, default: str) -> DashboardLanguage:
    """The best `Accept-Language` match of nl/en, else `default` if that is one, else en."""
    ranked: list[tuple[float, int, str]] = []
    items = (accept_language or "")[:_MAX_ACCEPT_LANGUAGE].split(",")
    for position, item in enumerate(items):
        tag, _, params = item.strip().partition(";")
        quality = _quality(params)
        if quality > 0:
            ranked.append((-quality, position, tag.split("-")[0].strip().lower()))
    for _, _, primary in sorted(ranked):
        for language in DASHBOARD_LANGUAGES:
            if primary == language:
                return language
    return "nl" if default == "nl" else "en"


def _quality(params: str) -> float:
    params = params.strip()
    if not params.startswith("q="):
        return 1.0
    try:
        return float(params[2:])
    except ValueError:
        return 0.0


def format_number(value: float, language: DashboardLanguage, *, decimals: int = 0) -> str:
    """1,234.5 in English, 1.234,5 in Dutch."""
    text = f"{value:,.{decimals}f}"
    if language == "nl":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return text


def format_percent(value: float | None, language: DashboardLanguage) -> str:
    if value is None:
        return "–"
    decimals = 0 if value == round(value) else 1
    return format_number(value, language, decimals=decimals) + "%"


def format_duration(seconds: float) -> str:
    """`4m 05s`: the same in both languages."""
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m {rest:02d}s" if minutes else f"{rest}s"


def short_date(day: date, language: DashboardLanguage) -> str:
    """An axis label: `1 nov` / `Nov 1`."""
    month = _MONTHS[language][day.month - 1][:3]
    return f"{day.day} {month.lower()}" if language == "nl" else f"{month} {day.day}"


def long_date(day: date, language: DashboardLanguage) -> str:
    month = _MONTHS[language][day.month - 1]
    return f"{day.day} {month} {day.year}"


@dataclass(frozen=True, slots=True)
class Words:
    """The texts and formats of one language, handed to every part of the page."""

    language: DashboardLanguage

    def __getitem__(self, key: str) -> str:
        return TEXTS[self.language][key]

    def get(self, key: str, default: str) -> str:
        return TEXTS[self.language].get(key, default)

    def number(self, value: float) -> str:
        return format_number(value, self.language)

    def percent(self, value: float | None) -> str:
        return format_percent(value, self.language)

    def short_date(self, day: date) -> str:
        return short_date(day, self.language)

    def long_date(self, day: date) -> str:
        return long_date(day, self.language)
