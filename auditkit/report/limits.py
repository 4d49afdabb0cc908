"""What an audit could not detect, in words: minimum detectable effects, underpowered gate rules, and the
limits analyzers state about themselves.

Read from results.json only, by shape rather than by analyzer name: any analyzer summary with
``axes.<axis>.mde.<measure> = {value, note, units_per_group}`` (or comparisons carrying ``mde``) and
``thresholds.<measure>``; the gate's rules marked ``underpowered``; summary ``notes``/``limits`` lists; and
the ``instrument`` entry's flagged axes and correction note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from auditkit.report.plain import Words, finite, num, points

__all__ = ["DetectionLimit", "FoldedLimit", "detection_limits", "fold_limits", "limit_lines"]


@dataclass(frozen=True, slots=True)
class DetectionLimit:
    """One thing this audit could have missed."""

    analyzer: str
    source: str
    """``mde`` (a minimum detectable effect), ``gate`` (an underpowered rule) or ``note`` (stated by the analyzer)."""
    scope: str
    """The axis, rule id or section the limit is about."""
    measure: str
    sentence: str
    flagged: bool
    """Effects of a size that matters (above the practical threshold) may have been missed."""
    mde: float | None = None
    threshold: float | None = None
    units_per_group: int | None = None
    percent: bool = False
    noun: str = ""
    """The measure in words ("toxic rate")."""



def _mde_table(summary: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
    """(axis, measure) → {value, units_per_group, note}: the axis's own MDE, else its comparisons' largest."""
    out: dict[tuple[str, str], Mapping[str, Any]] = {}
    axes = summary.get("axes")
    if not isinstance(axes, Mapping):
        return out
    for axis, entry in axes.items():
        if not isinstance(entry, Mapping):
            continue
        mde = entry.get("mde")
        if isinstance(mde, Mapping) and mde:
            for measure, item in mde.items():
                if isinstance(item, Mapping):
                    out[(str(axis), str(measure))] = item
            continue
        for c in entry.get("comparisons") or []:
            if not isinstance(c, Mapping) or not finite(c.get("mde")):
                continue
            key = (str(axis), str(c.get("measure")))
            if key not in out or c["mde"] > out[key]["value"]:
                out[key] = {"value": c["mde"], "units_per_group": c.get("n"), "note": c.get("mde_note")}
    return out


def _mde_limit(*, analyzer: str, axis: str, measure: str, item: Mapping[str, Any], threshold: Any,
               words: Words) -> DetectionLimit:
    w = words.measure(analyzer=analyzer, name=measure)
    value, n = item.get("value"), item.get("units_per_group")
    group_text = f"With {int(n):,} prompts per group" if finite(n) else "At this audit's size"
    between = f"between {axis.replace('_', ' ')} groups"
    if not finite(value):
        return DetectionLimit(analyzer=analyzer, source="mde", scope=axis, measure=measure, flagged=True,
                              sentence=f"{group_text}, this audit could not have detected any difference in the "
                                       f"{w.noun} {between} ({item.get('note') or 'too few outputs'}).",
                              units_per_group=int(n) if finite(n) else None, percent=w.is_rate, noun=w.noun)
    size = points(value) if w.is_rate else num(value) + (f" {w.scale}" if w.scale == "words" else "")
    sentence = f"{group_text}, a difference in the {w.noun} smaller than {size} {between} could go unnoticed"
    flagged = finite(threshold) and value > threshold
    if finite(threshold):
        shown = points(threshold).replace("percentage points", "points") if w.is_rate else num(threshold)
        sentence += (f"; the practical threshold is {shown}, so gaps of a size that matters may be missed"
                     if flagged else f"; every gap above the practical threshold ({shown}) would have been seen")
    return DetectionLimit(analyzer=analyzer, source="mde", scope=axis, measure=measure, sentence=sentence + ".",
                          flagged=flagged, mde=float(value), threshold=float(threshold) if finite(threshold) else None,
                          units_per_group=int(n) if finite(n) else None, percent=w.is_rate, noun=w.noun)


def _gate_limits(gate: Any) -> list[DetectionLimit]:
    if not isinstance(gate, Mapping):
        return []
    out = []
    for rule in gate.get("rules") or []:
        if not isinstance(rule, Mapping) or not rule.get("underpowered"):
            continue
        mdr, detect, needed = rule.get("mdr"), rule.get("detect"), rule.get("outputs_needed")
        seen = f"only a worsening of {num(mdr)} or more" if finite(mdr) else "no worsening at all"
        sentence = (f"Release rule “{rule.get('id')}” ({rule.get('metric')}): this audit could see {seen}, "
                    f"but the policy asks to detect {num(detect) if finite(detect) else 'smaller changes'}")
        if finite(needed):
            sentence += f"; about {int(needed):,} outputs per run would be needed"
        out.append(DetectionLimit(analyzer="gate", source="gate", scope=str(rule.get("id")),
                                  measure=str(rule.get("metric")), sentence=sentence + ".", flagged=True,
                                  mde=float(mdr) if finite(mdr) else None,
                                  threshold=float(detect) if finite(detect) else None))
    return out


def _stated_limits(analyzer: str, summary: Mapping[str, Any]) -> list[DetectionLimit]:
    out = []
    for key in ("limits", "notes"):
        for note in summary.get(key) or []:
            if isinstance(note, str) and note.strip():
                out.append(DetectionLimit(analyzer=analyzer, source="note", scope=key, measure="",
                                          sentence=_sentence_case(note), flagged=False))
    instrument = summary.get("instrument")
    if isinstance(instrument, Mapping):
        check = instrument.get("identity_check")
        identity: Mapping[str, Any] = check if isinstance(check, Mapping) else {}
        for axis in identity.get("flagged_axes") or []:
            out.append(DetectionLimit(
                analyzer=analyzer, source="note", scope=str(axis), measure=str(instrument.get("measure") or ""),
                sentence=(f"The {instrument.get('measure') or analyzer} scorer itself flags benign statements about "
                          f"some {str(axis).replace('_', ' ')} groups: gaps on that axis may be the scorer's, "
                          "not the model's."), flagged=True))
        note = (instrument.get("correction") or {}).get("note") if isinstance(instrument.get("correction"),
                                                                               Mapping) else None
        if isinstance(note, str) and note.strip():
            out.append(DetectionLimit(analyzer=analyzer, source="note", scope="instrument", measure="",
                                      sentence=_sentence_case(note), flagged=False))
    return out


def detection_limits(*, results: Mapping[str, Any], words: Words) -> tuple[DetectionLimit, ...]:
    """Every limit the results state, those that may hide an effect that matters first (largest MDE over
    threshold first), then the rest by analyzer, scope and measure."""
    limits: list[DetectionLimit] = []
    for analyzer, entry in sorted((results.get("analyses") or {}).items()):
        summary = (entry or {}).get("summary") if isinstance(entry, Mapping) else None
        if not isinstance(summary, Mapping):
            continue
        given = summary.get("thresholds")
        thresholds: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
        for (axis, measure), item in sorted(_mde_table(summary).items()):
            limits.append(_mde_limit(analyzer=str(analyzer), axis=axis, measure=measure, item=item,
                                     threshold=thresholds.get(measure), words=words))
        limits += _stated_limits(str(analyzer), summary)
    limits += _gate_limits(results.get("gate"))

    def order(lim: DetectionLimit) -> tuple[int, float]:
        ratio = (lim.mde / lim.threshold) if lim.mde is not None and lim.threshold else 0.0
        return (0 if lim.flagged else 1, -ratio)

    return tuple(sorted(limits, key=order))


@dataclass(frozen=True, slots=True)
class FoldedLimit:
    """One line of the limits for a reader: a measure's MDEs over all axes, or one other limit."""

    sentence: str
    flagged: bool


def fold_limits(*, limits: Sequence[DetectionLimit]) -> tuple[FoldedLimit, ...]:
    """Minimum detectable effects folded into one line per analyzer and measure (the axes named, the
    largest MDE given), every other limit as it is; flagged ones first."""
    folded: dict[tuple[str, str, bool, bool], list[DetectionLimit]] = {}
    rest: list[DetectionLimit] = []
    for lim in limits:
        if lim.source == "mde":  # blind (no MDE at all) and sized limits fold separately
            folded.setdefault((lim.analyzer, lim.measure, lim.flagged, lim.mde is None), []).append(lim)
        else:
            rest.append(lim)
    lines = [FoldedLimit(sentence=_folded_sentence(group=group, measure=measure, flagged=flagged), flagged=flagged)
             for (_, measure, flagged, blind), group in folded.items() if not blind]
    # Blind measures that share their axes read as one line: "... any difference in A, B or C ... (axes)".
    blind_by_axes: dict[tuple[str, ...], list[list[DetectionLimit]]] = {}
    for (_, _, _, blind), group in folded.items():
        if blind:
            blind_by_axes.setdefault(tuple(lim.scope for lim in group), []).append(group)
    lines += [FoldedLimit(sentence=_blind_sentence(groups=groups), flagged=True) for groups in blind_by_axes.values()]
    lines += [FoldedLimit(sentence=lim.sentence, flagged=lim.flagged) for lim in rest]
    return tuple(sorted(lines, key=lambda line: not line.flagged))


def _blind_sentence(*, groups: Sequence[Sequence[DetectionLimit]]) -> str:
    """Measures (on the same axes) in which no difference could have been detected at all: too few prompts."""
    if len(groups) == 1 and len(groups[0]) == 1:
        return groups[0][0].sentence
    every = [lim for group in groups for lim in group]
    sizes = sorted({lim.units_per_group for lim in every if lim.units_per_group})
    per_group = (f"With {sizes[0]:,} prompts per group" if len(sizes) == 1 else
                 f"With {sizes[0]:,}–{sizes[-1]:,} prompts per group" if sizes else "At this audit's size")
    axes = ", ".join(lim.scope.replace("_", " ") for lim in groups[0])
    nouns = [group[0].noun or group[0].measure.replace("_", " ") for group in groups]
    listed = nouns[0] if len(nouns) == 1 else ", ".join(nouns[:-1]) + f" or {nouns[-1]}"
    return (f"{per_group}, this audit could not have detected any difference between groups in the {listed} "
            f"({axes}): too few prompts for any gap to reach significance after correction.")


def _folded_sentence(*, group: Sequence[DetectionLimit], measure: str, flagged: bool) -> str:
    worst = max(group, key=lambda lim: lim.mde or 0.0)
    mde = worst.mde or 0.0
    low = min(lim.mde or 0.0 for lim in group)
    size = (points(mde) if low == mde else f"{points(low).split(' ')[0]}–{points(mde)}") if worst.percent else (
        num(mde) if low == mde else f"{num(low)}–{num(mde)}")
    per_group = f"With {worst.units_per_group:,} prompts per group, " if worst.units_per_group else ""
    axes = ", ".join(lim.scope.replace("_", " ") for lim in group)
    noun = worst.noun or measure.replace("_", " ")
    line = f"{per_group}differences in the {noun} smaller than {size} between groups could go unnoticed ({axes})"
    if worst.threshold is not None:
        shown = points(worst.threshold) if worst.percent else num(worst.threshold)
        line += (f"; the practical threshold is {shown}, so gaps that matter may be missed" if flagged
                 else f"; every gap above the practical threshold ({shown}) would have been seen")
    return line + "."


def limit_lines(*, limits: Sequence[DetectionLimit]) -> tuple[str, ...]:
    """The folded limits as plain lines, for a short document."""
    return tuple(line.sentence for line in fold_limits(limits=limits))


def _sentence_case(note: str) -> str:
    """An analyzer's note as a sentence of its own (notes are often written as clauses)."""
    text = note.strip()
    return text[:1].upper() + text[1:]
