"""PII detectors for model outputs: patterns plus the checks that make them precise.

Each detector is a regular expression followed by a validator, because patterns alone flood a report
with false alarms (any 16-digit number looks like a card). Choices, documented in docs/memorization.md:

- ``email``: ``local@domain.tld`` (RFC 5322's common subset).
- ``phone``: international ``+CC ...`` numbers with 8–15 digits, or North-American ``(NXX) NXX-XXXX``
  with separators and valid area/exchange codes (first digit 2–9). Bare digit runs are not phones.
- ``credit_card``: 13–19 digits (spaces or dashes allowed) with a known issuer prefix and a valid Luhn
  check digit.
- ``iban``: country code + 2 check digits + BBAN, the length registered for that country, and
  ISO 13616 mod-97 == 1.
- ``ip_address``: IPv4 with octets ≤ 255, not preceded by a version marker (``v``, ``version``) and not
  part of a longer dotted run (``1.2.3.4.5``); IPv6 validated by :mod:`ipaddress`. Unspecified and
  loopback addresses (``0.0.0.0``, ``127.0.0.1``, ``::1``) identify nobody and are ignored.
- ``us_ssn``: ``AAA-GG-SSSS`` (dashes or spaces) with SSA validity rules: area not 000, 666 or 900–999;
  group not 00; serial not 0000. Undelimited 9-digit runs are not matched (too many false alarms).

Optional: Microsoft Presidio's recognizers when ``presidio_analyzer`` and its spaCy model are installed
(``detect_pii(..., presidio=True)``); their matches are added with kind ``presidio:<ENTITY>``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PII_KINDS",
    "PiiMatch",
    "detect_pii",
    "iban_valid",
    "luhn_valid",
    "mask_pii",
    "presidio_available",
    "ssn_valid",
]

PII_KINDS: tuple[str, ...] = ("credit_card", "email", "iban", "ip_address", "phone", "us_ssn")


@dataclass(frozen=True, slots=True)
class PiiMatch:
    """One PII value found in a text."""

    kind: str
    """One of :data:`PII_KINDS`, or ``presidio:<ENTITY>``."""
    start: int
    end: int
    """``text[start:end]`` is the matched value."""
    value: str


def luhn_valid(*, digits: str) -> bool:
    """The Luhn (mod 10) check used by payment card numbers."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# ISO 13616 registry lengths (SWIFT IBAN registry), by country code.
_IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}


def iban_valid(*, iban: str) -> bool:
    """Registered length for the country and ISO 7064 mod-97 == 1 (spaces ignored)."""
    compact = iban.replace(" ", "").upper()
    if _IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def ssn_valid(*, ssn: str) -> bool:
    """SSA rules for an issued-format SSN: area ∉ {000, 666, 900–999}, group ≠ 00, serial ≠ 0000."""
    digits = re.sub(r"[\s-]", "", ssn)
    if len(digits) != 9 or not digits.isdigit():
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
_PHONE_INTL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?![\w])")
_PHONE_NANP = re.compile(
    r"(?<![\w+])(?:\+?1[ .-]?)?(?:\(([2-9]\d{2})\) ?|([2-9]\d{2})[ .-])([2-9]\d{2})[ .-](\d{4})(?!\w)"
)
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])([A-Z]{2})(\d{2})(?=[ ]?[A-Z0-9])")
_SSN = re.compile(r"(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])")
_IPV4 = re.compile(r"(?<![\w.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\w]|\.\d)")
_VERSION_MARK = re.compile(r"(?:\bv|\bver\.?|\bversion|\brelease)\s*$", re.IGNORECASE)
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_CARD_PREFIXES = ("34", "37", "30", "36", "38", "39", "4", "51", "52", "53", "54", "55", "2", "6011", "62",
                  "64", "65", "35")


def _emails(text: str) -> Iterable[PiiMatch]:
    for m in _EMAIL.finditer(text):
        yield PiiMatch("email", m.start(), m.end(), m.group())


def _phones(text: str) -> Iterable[PiiMatch]:
    for m in _PHONE_NANP.finditer(text):
        yield PiiMatch("phone", m.start(), m.end(), m.group())
    for m in _PHONE_INTL.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 8 <= len(digits) <= 15:
            yield PiiMatch("phone", m.start(), m.end(), m.group())


def _cards(text: str) -> Iterable[PiiMatch]:
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and digits.startswith(_CARD_PREFIXES) and luhn_valid(digits=digits):
            yield PiiMatch("credit_card", m.start(), m.end(), m.group())


def _ibans(text: str) -> Iterable[PiiMatch]:
    for m in _IBAN_START.finditer(text):
        length = _IBAN_LENGTHS.get(m.group(1))
        if length is None:
            continue
        # Consume exactly the registered length, allowing single spaces (printed groups of four).
        chars, pos = 0, m.start()
        while pos < len(text) and chars < length:
            ch = text[pos]
            if ch.isascii() and ch.isalnum():
                chars += 1
            elif not (ch == " " and chars and pos + 1 < len(text) and text[pos + 1].isalnum()):
                break
            pos += 1
        if chars != length or (pos < len(text) and text[pos].isalnum()):
            continue
        value = text[m.start() : pos]
        if iban_valid(iban=value):
            yield PiiMatch("iban", m.start(), pos, value)


def _ssns(text: str) -> Iterable[PiiMatch]:
    for m in _SSN.finditer(text):
        if ssn_valid(ssn=m.group()):
            yield PiiMatch("us_ssn", m.start(), m.end(), m.group())


def _ips(text: str) -> Iterable[PiiMatch]:
    for m in _IPV4.finditer(text):
        if any(int(o) > 255 or (len(o) > 1 and o[0] == "0") for o in m.groups()):
            continue
        if _VERSION_MARK.search(text[max(0, m.start() - 12) : m.start()]):
            continue
        address = ipaddress.IPv4Address(m.group())
        if not (address.is_unspecified or address.is_loopback):
            yield PiiMatch("ip_address", m.start(), m.end(), m.group())
    for m in _IPV6.finditer(text):
        try:
            address6 = ipaddress.IPv6Address(m.group())
        except ValueError:
            continue
        if not (address6.is_unspecified or address6.is_loopback):
            yield PiiMatch("ip_address", m.start(), m.end(), m.group())


# Checked-digit detectors first: when spans overlap (a card number also looks like a phone), the more
# specific, validated reading wins.
_DETECTORS: dict[str, Callable[[str], Iterable[PiiMatch]]] = {
    "credit_card": _cards,
    "iban": _ibans,
    "us_ssn": _ssns,
    "email": _emails,
    "ip_address": _ips,
    "phone": _phones,
}


def presidio_available() -> bool:
    """True when ``presidio_analyzer`` can be imported (its spaCy model may still be missing)."""
    import importlib.util

    return importlib.util.find_spec("presidio_analyzer") is not None


_PRESIDIO_ENGINE: Any = None


def _presidio(text: str) -> Iterable[PiiMatch]:
    global _PRESIDIO_ENGINE
    if _PRESIDIO_ENGINE is None:
        from presidio_analyzer import AnalyzerEngine

        _PRESIDIO_ENGINE = AnalyzerEngine()
    for r in _PRESIDIO_ENGINE.analyze(text=text, language="en"):
        yield PiiMatch(f"presidio:{r.entity_type}", r.start, r.end, text[r.start : r.end])


def detect_pii(
    *, text: str, kinds: Iterable[str] | None = None, presidio: bool = False
) -> list[PiiMatch]:
    """All PII matches in ``text``, sorted by position; overlapping matches keep the first detector's.

    ``kinds`` restricts the built-in detectors (default: all of :data:`PII_KINDS`).
    """
    wanted = PII_KINDS if kinds is None else tuple(kinds)
    unknown = sorted(set(wanted) - set(PII_KINDS))
    if unknown:
        raise ValueError(f"unknown PII kinds {unknown}; known: {', '.join(PII_KINDS)}")
    taken: list[PiiMatch] = []
    for kind, detector in _DETECTORS.items():
        if kind not in wanted:
            continue
        for match in detector(text):
            if not any(match.start < t.end and t.start < match.end for t in taken):
                taken.append(match)
    if presidio:
        for match in _presidio(text):
            if not any(match.start < t.end and t.start < match.end for t in taken):
                taken.append(match)
    return sorted(taken, key=lambda m: (m.start, m.end))


def mask_pii(*, value: str, kind: str) -> str:
    """A display form that identifies the kind but not the person: ``j***@example.com``, ``***-**-6789``."""
    if kind == "email" and "@" in value:
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    if kind == "ip_address":
        sep = ":" if ":" in value else "."
        return f"{value.split(sep)[0]}{sep}***"
    if kind == "iban":
        compact = value.replace(" ", "")
        return f"{compact[:2]}** **** {compact[-4:]}"
    keep = 4 if kind in ("credit_card", "us_ssn", "phone") else 2
    visible = re.sub(r"\W", "", value)[-keep:]
    return f"***{visible}" if len(value) > keep else "***"
