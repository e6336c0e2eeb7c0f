"""Consent: the signed cookie, the proof-of-consent records and their chain, a visitor's
choice, what the banner and the preferences page show, exports and own-data documents."""
