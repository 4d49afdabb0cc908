"""Model specs parse into scheme, target and options; identities never carry secrets."""

from __future__ import annotations

import pytest

from auditkit.adapters.base import AdapterIdentity, parse_model_spec
from auditkit.errors import ConfigError


def test_scheme_target_and_options():
    spec = parse_model_spec(spec="hf:org/model", model_args=["dtype=float32", "revision = abc"])
    assert (spec.scheme, spec.target) == ("hf", "org/model")
    assert spec.options == {"dtype": "float32", "revision": "abc"}


def test_target_may_contain_colons():
    spec = parse_model_spec(spec="python:my.module:factory")
    assert (spec.scheme, spec.target) == ("python", "my.module:factory")


def test_bare_scheme_has_empty_target():
    assert parse_model_spec(spec="smollm2").target == ""


@pytest.mark.parametrize("bad", ["", "   "])
def test_empty_spec_is_a_usage_error(bad):
    with pytest.raises(ConfigError, match="--model is empty"):
        parse_model_spec(spec=bad)


def test_model_arg_without_equals_is_a_usage_error():
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_model_spec(spec="hf:x", model_args=["dtype"])


def test_identity_refuses_secret_settings():
    with pytest.raises(ValueError, match="secrets"):
        AdapterIdentity(adapter="openai", model="m", settings={"api_key": "sk-123"})


def test_identity_key_is_stable_and_sensitive_to_settings():
    a = AdapterIdentity(adapter="hf", model="m", settings={"dtype": "float32"})
    b = AdapterIdentity(adapter="hf", model="m", settings={"dtype": "float32"})
    c = AdapterIdentity(adapter="hf", model="m", settings={"dtype": "bfloat16"})
    assert a.key == b.key != c.key
