"""Property tests: for any shape of probe, the prompt count is the product formula and ids are unique,
stable across loads and independent of where the file lives."""

from __future__ import annotations

import math
import tempfile
from collections import defaultdict
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditkit.suites import expand, load_suite

_value = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=6
)
_values = st.lists(_value, min_size=1, max_size=3, unique=True)


@st.composite
def probe_shapes(draw: st.DrawFn) -> dict:
    axes = {f"a{i}": draw(_values) for i in range(draw(st.integers(0, 3)))}
    groups = {f"g{i}": draw(_values) for i in range(draw(st.integers(0, 2)))}
    rows = draw(st.lists(_value, min_size=0, max_size=3, unique=True))
    return {
        "axes": axes,
        "groups": groups,
        "rows": [{"r": value} for value in rows],
        "samples": draw(st.integers(1, 3)),
        "chat": draw(st.booleans()),
    }


def _suite_yaml(shape: dict) -> str:
    variables = [*shape["axes"], *(["group"] if shape["groups"] else []), *(["r"] if shape["rows"] else [])]
    template = " | ".join("{{ " + name + " }}" for name in variables) or "constant"
    probe: dict = {"id": "p", "samples": shape["samples"]}
    if shape["chat"]:
        probe["messages"] = [{"role": "user", "content": template}]
    else:
        probe["prompt"] = template
    if shape["axes"]:
        probe["axes"] = shape["axes"]
    if shape["groups"]:
        probe["counterfactual"] = list(shape["groups"])
    if shape["rows"]:
        probe["rows"] = shape["rows"]
    suite = {"id": "prop", "groups": shape["groups"], "probes": [probe]}
    return yaml.safe_dump(suite, allow_unicode=True, sort_keys=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=probe_shapes())
def test_count_formula_unique_and_stable_ids(shape: dict) -> None:
    text = _suite_yaml(shape)
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as two:
        first_path = Path(one) / "s.yaml"
        second_path = Path(two) / "nested" / "other-name.yaml"
        second_path.parent.mkdir()
        first_path.write_text(text, encoding="utf-8")
        second_path.write_text(text, encoding="utf-8")
        first = expand(suite=load_suite(ref=first_path))
        again = expand(suite=load_suite(ref=first_path))
        moved_suite = load_suite(ref=second_path)
        moved = expand(suite=moved_suite)

    rows = max(len(shape["rows"]), 1)
    combos = math.prod(len(values) for values in shape["axes"].values())
    groups = sum(len(values) for values in shape["groups"].values()) or 1
    assert len(first) == rows * combos * groups * shape["samples"] == moved_suite.count()
    ids = [p.id for p in first]
    assert len(set(ids)) == len(ids)
    assert ids == [p.id for p in again] == [p.id for p in moved]
    assert len({p.base_id for p in first}) == len(first) // shape["samples"]
    if shape["groups"]:
        members = defaultdict(set)
        for prompt in first:
            members[prompt.pair].add(prompt.attributes["group"])
        assert len(members) == rows * combos * len(shape["groups"])
        assert all(p.attributes["axis"] in shape["groups"] for p in first)
    else:
        assert all(p.pair is None for p in first)
