"""Contract tests over every shipped suite (each ``*.yaml`` directly under the probes data folder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditkit.analyzers.base import analyzers
from auditkit.resources import data_dir
from auditkit.suites import builtin_suites, expand, load_suite
from tests.fixtures_suites import SUITES_DIR

BUILTIN_FILES = sorted(data_dir("probes").glob("*.yaml"))
FIXTURES = [SUITES_DIR / name for name in ("good.yaml", "rows.yaml", "include_parent.yaml")]


def _check_contract(path: Path) -> None:
    suite = load_suite(ref=path)
    prompts = expand(suite=suite)
    assert prompts, f"{path} expands to no prompts"
    ids = [p.id for p in prompts]
    assert len(set(ids)) == len(ids), f"{path}: duplicate prompt ids"
    assert [p.id for p in expand(suite=load_suite(ref=path))] == ids, f"{path}: ids are not stable"
    for prompt in prompts:
        assert (prompt.prompt is None) != (prompt.messages is None)
        assert prompt.text.strip(), f"{path}: {prompt.template} renders an empty prompt"
        assert prompt.base_id and prompt.suite and prompt.template
        assert all(isinstance(v, str) for v in prompt.attributes.values())
        if "bias" in prompt.analyzers:
            assert {"axis", "group"} <= set(prompt.attributes), (
                f"{path}: bias prompt {prompt.template} lacks axis/group"
            )
            assert prompt.pair, f"{path}: bias prompt {prompt.template} has no counterfactual pair"
    if any("bias" in p.analyzers for p in prompts):
        siblings: dict[str, set[str]] = {}
        for prompt in prompts:
            if "bias" in prompt.analyzers:
                siblings.setdefault(prompt.pair or "", set()).add(prompt.attributes["group"])
        assert all(len(groups) >= 2 for groups in siblings.values()), f"{path}: a pair with a single group"


@pytest.mark.parametrize("path", BUILTIN_FILES, ids=[p.stem for p in BUILTIN_FILES])
def test_builtin_suite_contract(path: Path) -> None:
    _check_contract(path)
    suite = load_suite(ref=path.stem)
    assert suite.id == path.stem, "a built-in suite's id is its file name"
    assert suite.description.strip(), "built-in suites describe themselves for `auditkit suites list`"
    used = {name for probe in suite.probes for name in probe.analyzers}
    known = set(analyzers.names())
    assert used and used <= known, f"unknown analyzers {sorted(used - known)}"


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture_suite_contract(path: Path) -> None:
    _check_contract(path)


def test_builtin_listing_matches_files() -> None:
    assert [info.name for info in builtin_suites()] == [p.stem for p in BUILTIN_FILES]
    ids = [load_suite(ref=p).id for p in BUILTIN_FILES]
    assert len(set(ids)) == len(ids), "built-in suite ids must be unique"
