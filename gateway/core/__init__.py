"""The core (pure and synchronous): no web framework, database, GeoIP reader or clock.

Feature packages: `consent/` (cookie, record, chain, choice, banner, preferences page,
export, subjects), `enforcement/` (cookie firewall, HTML rewriting, script blocking),
`analytics/` (pipeline, events, stats, page tokens), `dashboard/`, `privacystatement/`,
`config/`; and the shared values: `types`, `errors`, `signing`, `network`, `pseudonymise`,
`ratelimit`, `retention`, `jsontext`, `version`.
"""
