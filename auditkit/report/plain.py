"""Findings in plain English: one sentence a reviewer without statistics training understands, and one
line that says in words how sure the audit is.

Sentences are made from each finding's ``kind`` and ``details`` (data, not the analyzer's name); the words
for a measure come from the analyzer's declared ``plain_measures``. A kind without a phraser (a plugin's)
reads as its own title. Numbers: rates as "1 in N" or percentages, differences of rates as percentage
points, no p-values in the sentence (the how-sure line carries certainty in words).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from auditkit.analyzers.plain_words import PlainMeasure, plain_measure

__all__ = [
    "PHRASERS",
    "Phrase",
    "Phraser",
    "PlainInterval",
    "Words",
    "certainty",
    "chance",
    "count_of",
    "finite",
    "num",
    "one_in",
    "pct",
    "people",
    "phrase_finding",
    "points",
]


@dataclass(frozen=True, slots=True)
class PlainInterval:
    """A number with its interval, for a bar: where the estimate is, how far it may be off, what matters."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    threshold: float | None = None
    """The practical threshold (the size that matters), in the same units, if any."""
    percent: bool = False
    """The numbers are fractions best shown as percentages."""
    label: str = ""
    """What the number is: "gap in the toxic rate", "share of outputs"."""


@dataclass(frozen=True, slots=True)
class Phrase:
    sentence: str
    how_sure: str
    interval: PlainInterval | None


class Words:
    """Looks up what the run knows about a measure: its plain words and its per-group values."""

    def __init__(self, *, results: Mapping[str, Any]) -> None:
        self._results = results
        self._declared: dict[str, dict[str, PlainMeasure]] = {}
        self._metrics: dict[tuple[str, str, str], Mapping[str, Any]] = {}
        for m in results.get("metrics") or []:
            if isinstance(m, Mapping):
                key = (str(m.get("analyzer")), str(m.get("name")), _group_key(m.get("group")))
                self._metrics.setdefault(key, m)

    def measure(self, *, analyzer: str, name: str) -> PlainMeasure:
        if analyzer not in self._declared:
            self._declared[analyzer] = {p.name: p for p in _declared_words(analyzer)}
        return plain_measure(name=name, declared=self._declared[analyzer])

    def metric(self, *, analyzer: str, name: str, group: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        return self._metrics.get((analyzer, name, _group_key(group)))

    def group_value(self, *, analyzer: str, measure: str, group: Mapping[str, Any]) -> float | None:
        """A group's value of a measure, from the analyzer's per-group metric (``<measure>_rate``/``_mean``)."""
        for suffix in ("_rate", "_mean"):
            m = self.metric(analyzer=analyzer, name=measure + suffix, group=group)
            if m is not None and finite(m.get("value")):
                return float(m["value"])
        return None


def _declared_words(analyzer: str) -> tuple[PlainMeasure, ...]:
    from auditkit.analyzers.base import analyzer_info, analyzers
    from auditkit.errors import AuditkitError

    try:
        return analyzer_info(name=analyzer).plain_measures if analyzer in analyzers else ()
    except (AuditkitError, ImportError):  # a broken plugin: its measures read by their names
        return ()


def _group_key(group: Any) -> str:
    if not isinstance(group, Mapping):
        return ""
    return "|".join(f"{k}={group[k]}" for k in sorted(group))


def finite(value: Any) -> TypeGuard[float]:
    """A real, finite number (not a bool, not NaN): what may be shown or computed with."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# ---- numbers for people ---------------------------------------------------------------------------

def num(value: float, digits: int = 2) -> str:
    """A plain number: thousands separated, small ones to ``digits`` significant digits, minus as "−"."""
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}".rstrip("0").rstrip(".")
    else:
        text = f"{value:.{digits}g}"
    return text.replace("-", "−")


def pct(value: float) -> str:
    """A fraction as a percentage: whole numbers from 10%, one decimal below."""
    p = value * 100
    if p == 0:
        return "0%"
    text = f"{p:.0f}" if abs(p) >= 9.95 else f"{p:.1f}"
    return (text[:-2] if text.endswith(".0") and abs(p) >= 1 else text) + "%"


def points(value: float) -> str:
    """A difference of two fractions in percentage points."""
    p = abs(value) * 100
    text = f"{p:.0f}" if p >= 9.5 else f"{p:.1f}".rstrip("0").rstrip(".")
    return f"{text} percentage point{'' if text == '1' else 's'}"


def one_in(rate: float) -> str:
    """"1 in 7" for a rate; "half" and percentages above 1 in 2."""
    if rate <= 0:
        return "none"
    if rate >= 0.5:
        return pct(rate)
    return f"1 in {round(1 / rate):,}"


def count_of(count: Any, n: Any) -> str:
    return f"{int(count):,} of {int(n):,}"


def chance(p: float) -> str:
    """How often chance alone would give a result this extreme, in words."""
    if p < 0.001:
        return "less than 1 time in 1,000"
    if p >= 0.5:
        return "about half the time or more"
    return f"about 1 time in {round(1 / p):,}"


def certainty(p: float | None) -> str:
    if p is None:
        return "Measured"
    if p < 0.001:
        return "Very likely real"
    if p < 0.01:
        return "Likely real"
    if p < 0.05:
        return "Probably real, but could be chance"
    return "Could well be chance"


def people(group: str) -> str:
    """A group named for a sentence: "gay person" → "gay people", "woman" → "women", else quoted."""
    g = group.strip()
    lower = g.lower()
    if lower.endswith(" person"):
        return g[: -len(" person")] + " people"
    plural = {"man": "men", "woman": "women", "person": "people"}.get(lower)
    return plural or f"“{g}”"


def _axis(axis: str) -> str:
    return axis.replace("_", " ")


def _other(other: str, axis: str) -> str:
    return f"other {_axis(axis)} groups" if other in ("rest", "") else people(other)


# ---- phrasers by finding kind ---------------------------------------------------------------------

Phraser = Callable[[Mapping[str, Any], Words], "Phrase | None"]


def _group_gap(f: Mapping[str, Any], words: Words) -> Phrase | None:
    d = f.get("details") or {}
    groups = [g for g in f.get("groups") or [] if isinstance(g, Mapping)]
    gap = d.get("gap", f.get("effect_size"))
    if not groups or not finite(gap) or "group" not in groups[0]:
        return None
    analyzer = str(f.get("analyzer"))
    measure = str(d.get("measure") or str(d.get("metric") or "").removesuffix("_mean").removesuffix("_rate"))
    if not measure:
        return None
    axis, worse = str(groups[0].get("axis", "")), str(groups[0]["group"])
    other = str(groups[1].get("group", "rest")) if len(groups) > 1 else "rest"
    w = words.measure(analyzer=analyzer, name=measure)
    a = words.group_value(analyzer=analyzer, measure=measure, group={"axis": axis, "group": worse})
    b = (a - gap) if a is not None and other == "rest" else words.group_value(
        analyzer=analyzer, measure=measure, group={"axis": axis, "group": other})
    low, high, threshold = d.get("ci_low"), d.get("ci_high"), d.get("threshold")
    if w.is_rate:
        values = f" ({pct(a)} vs {pct(b)})" if a is not None and b is not None else ""
        sentence = (f"Outputs about {people(worse)} {w.verb} {points(gap)} {'more' if gap > 0 else 'less'} often "
                    f"than outputs about {_other(other, axis)}{values}.")
        size = lambda x: points(x).replace("percentage points", "").strip()  # noqa: E731
        unit = " percentage points"
    else:
        scale = f", {w.scale}" if w.scale else ""
        values = f" ({num(a)} vs {num(b)}{scale})" if a is not None and b is not None else f" ({w.scale})" * bool(
            w.scale)
        sentence = (f"{w.noun[:1].upper() + w.noun[1:]} was {num(abs(gap))} {'higher' if gap > 0 else 'lower'} "
                    f"for outputs about {people(worse)} than for outputs about {_other(other, axis)}{values}.")
        size, unit = (lambda x: num(abs(x))), ""
    how = _gap_how_sure(p=f.get("p_value"), low=low, high=high, threshold=threshold, size=size, unit=unit,
                        method=str(d.get("method") or ""), sign=1 if gap > 0 else -1)
    label = f"gap in the {w.noun} ({worse} − {'others' if other == 'rest' else other})"
    return Phrase(sentence=sentence, how_sure=how,
                  interval=PlainInterval(value=float(gap), ci_low=_num_or_none(low), ci_high=_num_or_none(high),
                                         threshold=_num_or_none(threshold), percent=w.is_rate, label=label))


def _gap_how_sure(*, p: Any, low: Any, high: Any, threshold: Any, size: Callable[[float], str], unit: str,
                  method: str, sign: int) -> str:
    pv = float(p) if finite(p) else None
    parts = [certainty(pv)]
    text = parts[0]
    if finite(low) and finite(high):
        lo, hi = sorted((abs(low), abs(high))) if low * high > 0 else (0.0, max(abs(low), abs(high)))
        where = "in 95% of resamples" if "bootstrap" in method.lower() else "with 95% confidence"
        text += f": the gap stays between {size(lo)} and {size(hi)}{unit} {where}"
        if pv is not None:
            text += f", and chance alone would give one this large {chance(pv)}"
        if finite(threshold) and threshold > 0:
            near = min(abs(low), abs(high)) if low * high > 0 else 0.0
            text += (f"; even its smallest plausible size is above the practical threshold of {size(threshold)}{unit}"
                     if near > threshold else f"; it may be below the practical threshold of {size(threshold)}{unit}")
    elif pv is not None:
        text += f": chance alone would give a gap this large {chance(pv)}"
    return text + "."


def _absolute_harm(f: Mapping[str, Any], words: Words) -> Phrase | None:
    d = f.get("details") or {}
    count, n, rate = d.get("count"), d.get("n"), d.get("rate", f.get("effect_size"))
    if not (finite(count) and finite(n) and n and finite(rate)):
        return None
    w = words.measure(analyzer=str(f.get("analyzer")), name=str(d.get("measure") or ""))
    verb = w.verb or f"scored high on {w.noun}"
    groups = [g for g in f.get("groups") or [] if isinstance(g, Mapping) and "group" in g]
    if groups:
        sentence = (f"{count_of(count, n)} outputs about {people(str(groups[0]['group']))} {verb} "
                    f"({pct(rate)}).")
    elif count < 20:
        sentence = f"{count_of(count, n)} outputs about people {verb} ({pct(rate)})."
    else:
        sentence = f"About {one_in(rate)} outputs about people {verb} ({count_of(count, n)}, {pct(rate)})."
    return Phrase(sentence=sentence, how_sure=_rate_how_sure(d),
                  interval=PlainInterval(value=float(rate), ci_low=_num_or_none(d.get("ci_low")),
                                         ci_high=_num_or_none(d.get("ci_high")),
                                         threshold=_num_or_none(d.get("threshold")), percent=True,
                                         label=f"share of outputs ({w.noun})"))


def _rate_how_sure(d: Mapping[str, Any]) -> str:
    low, high, threshold = d.get("ci_low"), d.get("ci_high"), d.get("threshold")
    conf = float(d["confidence"]) if finite(d.get("confidence")) else 0.95
    if not (finite(low) and finite(high)):
        return "Counted directly in the cited outputs."
    wide = " (a wider range, because many groups were checked)" if conf > 0.951 else ""
    where = f"the true rate is between {pct(low)} and {pct(high)} with {conf:.1%} confidence{wide}".replace(
        "95.0%", "95%")
    if not finite(threshold):
        return f"Measured: {where}."
    if low > threshold:
        return (f"Very likely real: {where}; even its lowest plausible value is above the "
                f"{pct(threshold)} the audit accepts.")
    return f"Possibly real: {where}; it may not exceed the {pct(threshold)} the audit accepts."


def _slice(group: Mapping[str, Any]) -> str:
    if not group:
        return "outputs"
    key, value = next(iter(group.items()))
    if key == "group":
        return f"outputs about {people(str(value))}"
    if key == "axis":
        return f"outputs on the {_axis(str(value))} axis"
    return f"outputs with {_axis(str(key))} “{value}”"


def _toxic_outputs(f: Mapping[str, Any], words: Words) -> Phrase | None:
    d = f.get("details") or {}
    rate = f.get("effect_size")
    if not finite(rate):
        return None
    groups = [g for g in f.get("groups") or [] if isinstance(g, Mapping)]
    group = groups[0] if groups else {}
    metric = words.metric(analyzer=str(f.get("analyzer")), name=str(d.get("metric") or ""), group=group or None)
    n = int(metric["n"]) if metric and finite(metric.get("n")) else None
    counted = f" ({count_of(round(rate * n), n)})" if n else ""
    cutoff = f" (score ≥ {num(d['threshold'])})" if finite(d.get("threshold")) else ""
    if group:
        rest = d.get("rest_rate")
        against = f", against {pct(rest)} in the rest of the run" if finite(rest) else ""
        sentence = f"{pct(rate)} of {_slice(group)}{counted} were judged toxic by the scorer{against}."
    else:
        counted = f" ({count_of(round(rate * n), n)}, {pct(rate)})" if n else f" ({pct(rate)})"
        sentence = f"About {one_in(rate)} outputs{counted} was judged toxic by the scorer{cutoff}."
    p = d.get("p_adjusted")
    low, high = d.get("ci_low"), d.get("ci_high")
    conf = float(d["confidence"]) if finite(d.get("confidence")) else 0.95
    how = certainty(float(p)) if finite(p) else "Measured"
    if finite(p):
        how += (f": chance alone would give a difference this large {chance(float(p))}, even allowing for every "
                "slice checked")
    if finite(low) and finite(high):
        how += (": " if not finite(p) else "; ") + f"the true rate is between {pct(low)} and {pct(high)}" + (
            " (95% confidence)" if conf <= 0.951 else " (a wide range, because many slices were checked)")
    return Phrase(sentence=sentence, how_sure=how + ".",
                  interval=PlainInterval(value=float(rate), ci_low=_num_or_none(low), ci_high=_num_or_none(high),
                                         percent=True, label="share of outputs judged toxic"))


def _stereotype_preference(f: Mapping[str, Any], words: Words) -> Phrase | None:
    d = f.get("details") or {}
    k, n = d.get("k"), d.get("n")
    if not (finite(k) and finite(n) and n):
        return None
    share = k / n
    metric = words.metric(analyzer=str(f.get("analyzer")), name=str(d.get("metric") or ""), group=None)
    sentence = (f"In {pct(share)} of {int(n):,} sentence pairs the model found the more stereotypical sentence "
                f"the more likely one; a model without this bias would be at 50%.")
    p = f.get("p_value")
    how = certainty(float(p)) if finite(p) else "Measured"
    if finite(p):
        how += f": chance alone would give a share this far from 50% {chance(float(p))}"
    interval = None
    if metric and finite(metric.get("ci_low")) and finite(metric.get("ci_high")):
        how += (f"{': ' if not finite(p) else '; '}the true share is between {pct(metric['ci_low'])} and "
                f"{pct(metric['ci_high'])}")
        interval = PlainInterval(value=share, ci_low=float(metric["ci_low"]), ci_high=float(metric["ci_high"]),
                                 threshold=0.5, percent=True, label="share of pairs where the stereotype wins")
    return Phrase(sentence=sentence, how_sure=how + ".", interval=interval)


def _stereotype_reliance(f: Mapping[str, Any], words: Words) -> Phrase | None:
    d = f.get("details") or {}
    value, low, high = f.get("effect_size"), d.get("ci_low"), d.get("ci_high")
    if not finite(value):
        return None
    condition = str(d.get("context_condition") or "")
    when = {"ambig": "When a question gives too little information to answer",
            "disambig": "When a question states the answer"}.get(condition[:5] if condition.startswith("ambig")
                                                                  else condition[:8], "In these questions")
    lean = "toward" if value > 0 else "away from"
    sentence = (f"{when}, the model's answers lean {lean} social stereotypes (bias score {value:+.2f}, "
                "where 0 is unbiased and +1 always picks the stereotype).").replace("-", "−")
    how = "Measured"
    if finite(low) and finite(high):
        excludes = low > 0 or high < 0
        how = (("Very likely real" if excludes else "Could well be chance")
               + f": the true score is between {low:+.2f} and {high:+.2f} in 95% of resamples").replace("-", "−")
    return Phrase(sentence=sentence, how_sure=how + ".",
                  interval=PlainInterval(value=float(value), ci_low=_num_or_none(low), ci_high=_num_or_none(high),
                                         threshold=0.0, label="bias score (0 is unbiased)"))


PHRASERS: Mapping[str, Phraser] = {
    "group_gap": _group_gap,
    "absolute_harm": _absolute_harm,
    "toxic_outputs": _toxic_outputs,
    "stereotype_preference": _stereotype_preference,
    "stereotype_reliance": _stereotype_reliance,
}
"""Finding kinds with their own wording; every other kind reads as its title (those are plain already:
extraction, pii, canary exposure, scorer errors...)."""


def _num_or_none(value: Any) -> float | None:
    return float(value) if finite(value) else None


def phrase_finding(*, finding: Mapping[str, Any], words: Words) -> Phrase:
    """The plain sentence, how-sure line and interval of one results.json finding."""
    phraser = PHRASERS.get(str(finding.get("kind", "")))
    found = None
    if phraser is not None:
        try:
            found = phraser(finding, words)
        except (TypeError, ValueError, KeyError, ZeroDivisionError):  # odd details: fall back, never break
            found = None
    return found or _fallback(finding)


def _fallback(f: Mapping[str, Any]) -> Phrase:
    title = str(f.get("title") or f.get("kind") or "A finding").strip()
    d = f.get("details") or {}
    p = f.get("p_value")
    low, high = d.get("ci_low"), d.get("ci_high")
    how = certainty(float(p)) if finite(p) else "See the evidence"
    if finite(p):
        how += f": chance alone would give a result like this {chance(float(p))}"
    if finite(low) and finite(high):
        how += f"{'; ' if finite(p) else ': '}the value is between {num(low)} and {num(high)} (95% interval)"
    elif not finite(p):
        how += ": the cited outputs show it directly"
    value = f.get("effect_size")
    interval = PlainInterval(value=float(value), ci_low=float(low), ci_high=float(high)) if (
        finite(value) and finite(low) and finite(high)) else None
    return Phrase(sentence=title if title.endswith((".", "!", "?", ")")) else title + ".",
                  how_sure=how + ".", interval=interval)
