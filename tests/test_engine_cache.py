"""The SQLite generation cache: keys, round trips, errors not cached, corruption, concurrent readers."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from auditkit.engine.cache import GenerationCache, NullCache, cache_key, default_cache_path, open_cache
from auditkit.errors import CacheError
from auditkit.records import Generation, GenerationConfig, Message, Prompt


def _prompt(i: int, text: str | None = None) -> Prompt:
    return Prompt(id=f"p{i}", suite="s", template="t", prompt=text or f"text {i}")


def test_key_depends_on_identity_config_id_and_text() -> None:
    base = cache_key(identity_key="m1", config=GenerationConfig(), prompt=_prompt(1))
    assert base == cache_key(identity_key="m1", config=GenerationConfig(), prompt=_prompt(1))
    assert base != cache_key(identity_key="m2", config=GenerationConfig(), prompt=_prompt(1))
    assert base != cache_key(identity_key="m1", config=GenerationConfig(max_new_tokens=65), prompt=_prompt(1))
    assert base != cache_key(identity_key="m1", config=GenerationConfig(), prompt=_prompt(1, "edited"))
    chat = Prompt(id="p1", suite="s", template="t", messages=(Message(role="user", content="text 1"),))
    assert base != cache_key(identity_key="m1", config=GenerationConfig(), prompt=chat)
    # attributes and references are not sent to the model: they do not change the key
    labelled = Prompt(id="p1", suite="s", template="t", prompt="text 1", attributes={"g": "x"}, reference="r")
    assert base == cache_key(identity_key="m1", config=GenerationConfig(), prompt=labelled)


def test_round_trip_marks_cached_and_skips_errors(tmp_path: Path) -> None:
    cache = GenerationCache(path=tmp_path / "c.sqlite")
    ok = Generation(
        prompt_id="p1",
        output="hi",
        output_tokens=1,
        token_logprobs=(-0.5,),
        tokens=("hi",),
        energy_j=1.5,
        energy_method="estimated",
    )
    bad = Generation(prompt_id="p2", output=None, error="boom")
    assert cache.put_many([("k1", ok), ("k2", bad)]) == 1
    found = cache.get_many(["k1", "k2", "k3"])
    assert list(found) == ["k1"]
    assert found["k1"].cached is True
    assert found["k1"] == Generation(
        **{**ok.to_dict(), "token_logprobs": (-0.5,), "tokens": ("hi",), "cached": True}
    )
    cache.close()
    # survives reopening (committed), and a second connection reads while the first is open
    first = GenerationCache(path=tmp_path / "c.sqlite")
    second = GenerationCache(path=tmp_path / "c.sqlite")
    assert list(second.get_many(["k1"])) == ["k1"] and first.count() == 1
    first.close()
    second.close()


def test_many_keys_are_chunked(tmp_path: Path) -> None:
    cache = GenerationCache(path=tmp_path / "c.sqlite")
    cache.put_many((f"k{i}", Generation(prompt_id=f"p{i}", output=str(i))) for i in range(1234))
    found = cache.get_many([f"k{i}" for i in range(2000)])
    assert len(found) == 1234 and found["k1233"].output == "1233"
    assert sqlite3.connect(tmp_path / "c.sqlite").execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    cache.close()


def test_corrupt_file_is_a_cache_error_with_a_way_out(tmp_path: Path) -> None:
    path = tmp_path / "broken.sqlite"
    path.write_bytes(b"this is not a database at all, just text " * 50)
    with pytest.raises(CacheError) as err:
        GenerationCache(path=path)
    message = str(err.value)
    assert str(path) in message and "--no-cache" in message and "Delete" in message and "--cache" in message
    assert err.value.exit_code == 2


def test_foreign_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    GenerationCache(path=path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '99' WHERE name = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(CacheError, match="schema version 99"):
        GenerationCache(path=path)


def test_default_path_and_null_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITKIT_CACHE_DIR", str(tmp_path / "cd"))
    assert default_cache_path() == tmp_path / "cd" / "cache.sqlite"
    cache = open_cache(path=None)
    assert isinstance(cache, GenerationCache) and cache.path == tmp_path / "cd" / "cache.sqlite"
    cache.close()
    null = open_cache(path=None, enabled=False)
    assert isinstance(null, NullCache)
    assert null.put_many([("k", Generation(prompt_id="p", output="x"))]) == 0 and null.get_many(["k"]) == {}
