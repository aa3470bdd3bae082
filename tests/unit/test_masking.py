"""PII masks: never more than two digits of a phone, one letter of an email's parts."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.masking import mask_email, mask_phone, mask_reason, mask_text


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("+91 98450 71623", "+91********23"),
        ("919845071623", "91********23"),
        ("098450-71623", "09*******23"),
        ("5550123", "*****23"),
        ("1234", "***"),
        ("", "***"),
    ],
)
def test_mask_phone(raw: str, masked: str) -> None:
    assert mask_phone(raw) == masked


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("asha.rao@example.com", "a***@e***.com"),
        ("A@b", "A***@b***"),
        ("not-an-email", "n***"),
        ("@example.com", "@***"),
        ("", "***"),
    ],
)
def test_mask_email(raw: str, masked: str) -> None:
    assert mask_email(raw) == masked


def test_mask_text_masks_emails_and_phones_inside_messages() -> None:
    text = mask_text("line 12: asha.rao@example.com called from +91 98450 71623 (event_id: longer than 128)")
    assert "asha.rao" not in text and "98450" not in text and "71623" not in text
    assert "line 12" in text and "128" in text


def test_mask_text_keeps_dates() -> None:
    assert mask_text("occurred_at: before 2000-01-01") == "occurred_at: before 2000-01-01"


@given(st.text(alphabet="0123456789 +-()", max_size=30))
def test_a_masked_phone_shows_at_most_four_digits(raw: str) -> None:
    assert len(re.findall(r"\d", mask_phone(raw))) <= 4


@given(st.emails())
def test_a_masked_email_never_contains_the_local_part(raw: str) -> None:
    local = raw.rpartition("@")[0]
    masked = mask_email(raw)
    assert masked.count("@") == 1
    # A local part of one character and asterisks ("0*") reads as the mask itself: it shows nothing more.
    # The top-level domain is kept on purpose, and a short local part may be part of it
    # (``sC@A.sCHOOL`` -> ``s***@A***.sCHOOL``): the rest of the mask must not show it.
    shown = masked.rpartition(".")[0] if "." in masked.rpartition("@")[2] else masked
    if len(local) > 1 and local[1:].strip("*"):
        assert local not in shown


def test_a_ticket_reference_in_a_reason_is_kept_and_a_mobile_after_letters_is_not() -> None:
    """Operators write ticket references, not people (README): ``DSR-2026-881`` stays readable."""
    assert mask_text("erase: DSR-2026-881, INC0012345, JIRA_7654321") == "erase: DSR-2026-881, INC0012345, JIRA_7654321"
    assert "9845071623" not in mask_text("Mob-9845071623") and "45071" not in mask_text("Mob-9845071623")
    assert "98450 71623" not in mask_text("ref 98450 71623") and mask_text("x+919845071623").endswith("23")


@pytest.mark.parametrize(
    "reason",
    [
        "unknown_schema_id: schema id 1000018 is not in the registry",
        "truncated: 2700000 bytes, the header alone needs 5",
        "invalid: name: longer than 4096 characters (1200000)",
        "unknown_fingerprint: fingerprint 1234567890abcdef is not a known CustomerInteraction version",
        "invalid: attributes: more than 64 entries",
    ],
)
def test_a_reason_keeps_the_numbers_its_template_labels(reason: str) -> None:
    """Schema ids, byte lengths, limits read as numbers, not as ``*****18`` (A7a)."""
    assert mask_reason(reason) == reason


@pytest.mark.parametrize(
    ("reason", "hidden"),
    [
        ("invalid: asha.rao@example.com +91 98450 71623", "98450"),
        ("invalid: 9845071623 bytes", "45071"),  # as long as a mobile's: masked even when labelled
        ("invalid: 98450 71623 bytes", "98450"),  # a split phone: its second half is not a length
        ("invalid: schema id 98450 71623", "98450"),
        ("invalid: +9845071 bytes", "45071"),
        ("invalid: 1234567 apples", "34567"),  # not labelled: masked as before
        ("invalid: name asha.rao@example.com 2700000 bytes", "asha.rao"),
    ],
)
def test_a_reason_still_masks_what_its_template_does_not_label(reason: str, hidden: str) -> None:
    assert hidden not in mask_reason(reason)


@given(st.text(alphabet="0123456789 +-()abcdehity", max_size=40))
def test_a_masked_reason_shows_no_phone_run_mask_text_would_hide(text: str) -> None:
    """Every digit run of ten or more digits that `mask_text` hides, `mask_reason` hides too."""
    for run in re.findall(r"\+?\d(?:[\s().-]{0,2}\d){9,}", text):
        if run not in mask_text(text):
            assert run not in mask_reason(text)
