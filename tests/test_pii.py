"""PII detectors: true positives, and near misses that must not fire (bad checksums, version strings)."""

from __future__ import annotations

import pytest

from auditkit.analyzers.pii import PII_KINDS, detect_pii, iban_valid, luhn_valid, mask_pii, ssn_valid


def kinds(text: str) -> list[tuple[str, str]]:
    return [(m.kind, m.value) for m in detect_pii(text=text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Write to jane.doe+news@mail.example.org today.", [("email", "jane.doe+news@mail.example.org")]),
        ("Visa 4111 1111 1111 1111 expires soon", [("credit_card", "4111 1111 1111 1111")]),
        ("Amex 3782-822463-10005.", [("credit_card", "3782-822463-10005")]),
        ("pay to GB82 WEST 1234 5698 7654 32.", [("iban", "GB82 WEST 1234 5698 7654 32")]),
        ("IBAN DE89370400440532013000", [("iban", "DE89370400440532013000")]),
        ("server at 203.0.113.7, port 22", [("ip_address", "203.0.113.7")]),
        ("v6 host 2001:db8::8a2e:370:7334 up", [("ip_address", "2001:db8::8a2e:370:7334")]),
        ("SSN 123-45-6789 on file", [("us_ssn", "123-45-6789")]),
        ("call (415) 555-2671 now", [("phone", "(415) 555-2671")]),
        ("or +44 20 7946 0958 in London", [("phone", "+44 20 7946 0958")]),
    ],
)
def test_true_positives(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112",  # Luhn fails
        "order 1234567812345678",  # Luhn fails, and no issuer prefix check passes by chance
        "account GB82 WEST 1234 5698 7654 33",  # mod-97 fails
        "DE89370400440532013001",  # mod-97 fails
        "FR14200410100505000013M0260 is one char short",  # shorter than the 27 registered for FR
        "released in version 1.2.3.4 yesterday",  # version string, not an address
        "see v10.0.1.2 notes",
        "OID 1.2.840.113549.1.1.1",  # longer dotted run
        "bad 256.1.1.1 address",
        "localhost 127.0.0.1 and 0.0.0.0",  # identify nobody
        "SSN 000-12-3456",  # area 000 never issued
        "SSN 666-12-3456",
        "SSN 912-12-3456",
        "SSN 123-00-4567",
        "SSN 123-45-0000",
        "pi is 3.14159 and e is 2.71828",
        "meeting 12:30:45 sharp",
        "zip 94107-1234 and isbn 978-3-16-148410-0",
        "a@b",
    ],
)
def test_near_misses_do_not_fire(text: str) -> None:
    assert kinds(text) == []


def test_validators_known_answers() -> None:
    assert luhn_valid(digits="79927398713") and not luhn_valid(digits="79927398710")
    assert iban_valid(iban="NL91 ABNA 0417 1643 00") and not iban_valid(iban="NL91 ABNA 0417 1643 01")
    assert ssn_valid(ssn="078-05-1121") and not ssn_valid(ssn="078-05-0000")


def test_overlap_prefers_the_validated_reading() -> None:
    # A card number with dashes could also parse as digit groups; it must be reported once, as a card.
    matches = detect_pii(text="number 5555-5555-5555-4444 here")
    assert [m.kind for m in matches] == ["credit_card"]


def test_spans_point_at_the_value() -> None:
    text = "a: x@y.io; b: 198.51.100.9"
    for m in detect_pii(text=text):
        assert text[m.start : m.end] == m.value


def test_kind_filter_and_unknown_kind() -> None:
    assert detect_pii(text="x@y.io 198.51.100.9", kinds=["ip_address"])[0].kind == "ip_address"
    with pytest.raises(ValueError, match="unknown PII kinds"):
        detect_pii(text="", kinds=["passport"])
    assert set(PII_KINDS) == {"credit_card", "email", "iban", "ip_address", "phone", "us_ssn"}


@pytest.mark.parametrize(
    ("value", "kind", "masked", "hidden"),
    [
        ("john@example.com", "email", "j***@example.com", "john"),
        ("4111 1111 1111 1111", "credit_card", "***1111", "4111 1111"),
        ("123-45-6789", "us_ssn", "***6789", "123-45"),
        ("GB82 WEST 1234 5698 7654 32", "iban", "GB** **** 5432", "WEST"),
        ("203.0.113.7", "ip_address", "203.***", "113"),
    ],
)
def test_mask_hides_the_value(value: str, kind: str, masked: str, hidden: str) -> None:
    assert mask_pii(value=value, kind=kind) == masked
    assert hidden not in mask_pii(value=value, kind=kind)
