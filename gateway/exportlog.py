"""Consent-log exports (pure): CSV and NDJSON rows, and the signature over an export."""
