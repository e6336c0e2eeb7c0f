"""Consent-log exports (gateway/core/consent/export.py): a cell a spreadsheet would run gets
a leading apostrophe, and an export signed before a key rotation still verifies."""

from __future__ import annotations

import hashlib

import pytest

from gateway.core.consent.export import csv_cell, verify_export


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@A1", "\tx", "\rx"])
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_apostrophe(text: str) -> None:
    assert csv_cell(text) == "'" + text


def test_ordinary_cells_are_left_alone() -> None:
    assert [csv_cell(v) for v in ("/shop", "a=b", 7, True, None, ("necessary", "analytics"))] \
        == ["/shop", "a=b", "7", "true", "", "necessary analytics"]


def test_an_export_signed_before_a_key_rotation_still_verifies() -> None:
    from gateway.core.consent.export import sign_export

    data = b"seq,hash\r\n1,abc\r\n"
    summary = {"format": "csv", "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    old_key, new_key = "o" * 32, "n" * 32
    signature = sign_export(summary, [old_key])
    assert verify_export(data, signature, [new_key, old_key])
    assert not verify_export(data, signature, [new_key])
    assert signature["key_id"] != sign_export(summary, [new_key])["key_id"]
