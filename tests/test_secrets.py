"""Secret setting names are recognised in one place, and every writer of user settings agrees on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditkit.adapters.base import AdapterIdentity
from auditkit.adapters.python import make_python
from auditkit.engine.manifest import redact_command
from auditkit.report.context import redact
from auditkit.secrets import SECRET_WORDS, is_secret_key, public_settings, redact_value

SECRET_NAMES = ["api_key", "HF_TOKEN", "client_secret", "db_password", "Authorization", "gcp_credentials"]
PLAIN_NAMES = ["dtype", "device", "base_url", "suffix", "chat"]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_names_are_recognised(name: str) -> None:
    assert is_secret_key(name=name)
    assert redact_value(name=name, value="v", mask="***") == "***"


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_plain_names_are_kept(name: str) -> None:
    assert not is_secret_key(name=name)
    assert redact_value(name=name, value="v", mask="***") == "v"


def test_every_word_counts_and_the_settings_filter_drops_them() -> None:
    assert "credential" in SECRET_WORDS
    assert public_settings(settings=dict.fromkeys(SECRET_WORDS, "x") | {"dtype": "float32"}) == {"dtype": "float32"}


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_identity_manifest_and_report_agree(name: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="secrets"):
        AdapterIdentity(adapter="x", model="m", settings={name: "v"})
    assert redact_command(["auditkit", "run", "--model-arg", f"{name}=v"])[-1] == f"{name}=***"
    assert redact(name, "v") == "[redacted]"
    module = tmp_path / "secret_model.py"
    module.write_text("def make(**options):\n    return lambda prompts: list(prompts)\n", encoding="utf-8")
    adapter = make_python(target=f"{module}:make", options={name: "v", "suffix": "!"})
    assert dict(adapter.identity.settings) == {"suffix": "!"}
