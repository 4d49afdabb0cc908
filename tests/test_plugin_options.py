"""Adapters and analyzers refuse a bad option in the same words: the plugin, the option, what was wrong,
and the options it does take."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from auditkit.adapters.hf import parse_hf_options
from auditkit.analyzers.base import build_analyzer
from auditkit.errors import ConfigError


def _message(call: Callable[[], object]) -> str:
    with pytest.raises(ConfigError) as info:
        call()
    return str(info.value)


def test_an_unknown_option_reads_the_same_for_an_adapter_and_an_analyzer() -> None:
    adapter = _message(lambda: parse_hf_options(options={"dtyp": "bfloat16"}))
    analyzer = _message(lambda: build_analyzer(name="toxicity", options={"treshold": "0.4"}))
    shape = (r"^Unknown (\w+) option\(s\) '(\w+)' \(did you mean '(\w+)' for '\2'\?\): the '\1' (adapter|analyzer) "
             r"does not take them, and an unknown option is refused rather than ignored\. Valid options: .*\.$")
    assert re.match(shape, adapter) and "'dtype' for 'dtyp'" in adapter and "device" in adapter, adapter
    assert re.match(shape, analyzer) and "'threshold' for 'treshold'" in analyzer, analyzer


def test_a_bad_value_names_how_it_was_set_and_what_is_wrong() -> None:
    adapter = _message(lambda: parse_hf_options(options={"max_length": "many"}))
    analyzer = _message(lambda: build_analyzer(name="toxicity", options={"threshold": "high"}))
    assert adapter.startswith("--model-arg max_length='many' for the 'hf' adapter: ")
    assert analyzer.startswith(
        "--analyzer-arg toxicity.threshold='high' for the 'toxicity' analyzer: must be a number.")
    assert "Valid options: " in adapter and "Valid options: " in analyzer
