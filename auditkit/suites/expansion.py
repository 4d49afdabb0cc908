"""Expansion of a resolved suite into ``Prompt`` records, with stable ids.

One probe expands to rows × cartesian(axes) × (each counterfactual axis × its groups) × samples prompts.
Ids are the first 16 hex digits of sha256 over canonical JSON:

- ``id``: (suite id, probe id, every variable value, sample index);
- ``base_id``: the same without the sample index (the k samples of one prompt share it);
- ``pair``: (suite id, probe id, every variable but ``group``, the counterfactual axis): siblings that
  differ only in their group, and all their samples, share it.

Template wording is not part of the ids, so a reworded prompt keeps its id (caches key on the text).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

from auditkit.errors import SuiteError
from auditkit.records import Message, Prompt
from auditkit.suites.hashing import short_digest as _digest
from auditkit.suites.model import Probe, Suite

__all__ = ["MAX_PROMPTS", "check_size", "expand", "expand_suites"]

MAX_PROMPTS = 1_000_000
"""Expansions larger than this are refused: almost always a mistaken axis, and too big to run anyway."""


def expand(*, suite: Suite, samples: int | None = None) -> list[Prompt]:
    """Every prompt of ``suite``. ``samples`` (``--samples``) overrides the suite's, not a probe's pin."""
    check_size(suite=suite, samples=samples)
    prompts: list[Prompt] = []
    seen: dict[str, str] = {}
    for probe in suite.probes:
        for prompt, origin in _expand_probe(probe=probe, samples=samples):
            first = seen.get(prompt.id)
            if first is not None:
                raise SuiteError(
                    f"{probe.file}:{probe.line}: probe '{probe.id}' makes the same prompt twice ({first} and "
                    f"{origin} have equal variables). Remove the duplicate row."
                )
            seen[prompt.id] = origin
            prompts.append(prompt)
    return prompts


def check_size(*, suite: Suite, samples: int | None = None) -> None:
    """Refuse, before building anything, an expansion over ``MAX_PROMPTS`` (naming the probe to cut)."""
    if samples is not None and samples < 1:
        raise SuiteError(f"--samples must be at least 1 (got {samples}).")
    total = 0
    for probe in suite.probes:
        count = probe.count(samples=samples)
        if count > MAX_PROMPTS:
            raise SuiteError(
                f"{probe.file}:{probe.line}: probe '{probe.id}' expands to {count:,} prompts, more than the "
                f"{MAX_PROMPTS:,} allowed. Cut its axes, rows or samples."
            )
        total += count
    if total > MAX_PROMPTS:
        raise SuiteError(
            f"Suite '{suite.id}' expands to {total:,} prompts, more than the {MAX_PROMPTS:,} allowed. "
            "Cut axes, rows or samples."
        )


def expand_suites(*, suites: Sequence[Suite], samples: int | None = None) -> list[Prompt]:
    """Prompts of several suites in order; one reached twice (via ``standard`` and ``bias``) comes once."""
    prompts: dict[str, Prompt] = {}
    for suite in suites:
        for prompt in expand(suite=suite, samples=samples):
            first = prompts.setdefault(prompt.id, prompt)
            if first != prompt:
                raise SuiteError(
                    f"Prompt {prompt.id} (suite '{prompt.suite}', probe '{prompt.template}') differs between "
                    "two of the suites given: they define one suite id differently. Run them separately."
                )
    return list(prompts.values())


def _expand_probe(*, probe: Probe, samples: int | None) -> Iterator[tuple[Prompt, str]]:
    k = probe.samples_for(samples=samples)
    names = [name for name, _ in probe.axes]
    combos = list(itertools.product(*(values for _, values in probe.axes)))
    choices: list[tuple[str, str] | None] = [
        (axis, group) for axis, groups in probe.counterfactual for group in groups
    ] or [None]
    for row, row_origin in zip(probe.rows, probe.row_origins, strict=True):
        for combo in combos:
            axis_values = dict(zip(names, combo, strict=True))
            for choice in choices:
                variables = {**row, **axis_values}
                attributes = dict(axis_values)
                pair = None
                if choice is not None:
                    variables["axis"], variables["group"] = choice
                    attributes["axis"], attributes["group"] = choice
                    context = {k_: v for k_, v in variables.items() if k_ != "group"}
                    pair = _digest(
                        {"suite": probe.suite, "probe": probe.id, "variables": context, "axis": choice[0]}
                    )
                origin = ", ".join(
                    part
                    for part in (row_origin, ", ".join(f"{k_}={v}" for k_, v in attributes.items()))
                    if part
                )
                for name, template in probe.attributes:
                    attributes[name] = template.render(variables=variables, context=origin)
                text = probe.prompt.render(variables=variables, context=origin) if probe.prompt else None
                messages = None
                if probe.messages is not None:
                    messages = tuple(
                        Message(role=role, content=template.render(variables=variables, context=origin))  # type: ignore[arg-type]
                        for role, template in probe.messages
                    )
                reference = (
                    probe.reference.render(variables=variables, context=origin) if probe.reference else None
                )
                identity = {"suite": probe.suite, "probe": probe.id, "variables": variables}
                base_id = _digest(identity)
                for sample in range(k):
                    prompt = Prompt(
                        id=_digest({**identity, "sample": sample}),
                        suite=probe.suite,
                        template=probe.id,
                        sample=sample,
                        prompt=text,
                        messages=messages,
                        attributes=dict(attributes),
                        pair=pair,
                        base_id=base_id,
                        reference=reference,
                        analyzers=probe.analyzers,
                        generation=dict(probe.generation),
                    )
                    yield prompt, origin or "the probe"
