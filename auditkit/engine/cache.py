"""The run cache: a SQLite file mapping (model, decoding config, prompt) to a stored Generation, and
(analyzer identity, prompt, generation) to that analyzer's scores of the output.

Why SQLite: one file, safe for concurrent readers (WAL), and a committed transaction survives a SIGKILL —
the engine commits once per finished batch, so an interrupted run loses at most one batch and a rerun
resumes where it stopped. Failed generations are never stored, so a rerun retries them.

The key covers everything that changes an output: the adapter identity (model, revision, weights hash,
output-relevant settings), the effective ``GenerationConfig``, the prompt id and a hash of the rendered
prompt content (so editing a template's text misses even if its id did not change).

Scores live in a second table of the same file, for analyzers that declare ``cache_scores = True``
(their scores of an output depend on nothing but their identity and options, the prompt and the
generation). The score key hashes exactly those; a rerun over cached generations then re-aggregates
without loading a scorer. Scores with ``error`` set are never stored, so a transient scorer failure is
retried by the next run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from auditkit.errors import CacheError
from auditkit.records import Generation, GenerationConfig, Prompt, Score

__all__ = [
    "GenerationCache",
    "GenerationStore",
    "NullCache",
    "analyzer_key",
    "cache_key",
    "default_cache_path",
    "open_cache",
    "output_digest",
    "score_key",
]

# The scores table was added without a version bump: ``CREATE TABLE IF NOT EXISTS`` upgrades a version 1
# file in place, and an older auditkit simply ignores the table.
SCHEMA_VERSION = 1
# Bump when the meaning of a cached score changes in a way identities do not capture.
_SCORE_KEY_VERSION = 1
# SQLite's default limit on host parameters is 999 in old builds; stay well below it.
_CHUNK = 500


def default_cache_path() -> Path:
    """``$AUDITKIT_CACHE_DIR/cache.sqlite``, else the user cache dir (``~/.cache/auditkit`` on Linux)."""
    env = os.environ.get("AUDITKIT_CACHE_DIR")
    if env:
        return Path(env).expanduser() / "cache.sqlite"
    import platformdirs

    return Path(platformdirs.user_cache_dir("auditkit")) / "cache.sqlite"


def cache_key(*, identity_key: str, config: GenerationConfig, prompt: Prompt) -> str:
    """sha256 over adapter identity, decoding config, prompt id and the rendered prompt content."""
    if prompt.messages is not None:
        content = json.dumps([[m.role, m.content] for m in prompt.messages], ensure_ascii=False)
    else:
        content = json.dumps(prompt.prompt, ensure_ascii=False)
    if prompt.continuations is not None:  # a likelihood prompt: its candidates are part of what is asked
        content += json.dumps(list(prompt.continuations), ensure_ascii=False)
    content_hash = hashlib.sha256(content.encode()).hexdigest()
    blob = json.dumps(
        [identity_key, config.to_dict(), prompt.id, content_hash], sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _hash(value: object) -> str:
    # default=str: identities may hold paths or other plain objects; their text is what identifies them.
    # ASCII escapes: a lone surrogate (not text, but possible in a prompt) must not break hashing.
    blob = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def analyzer_key(*, name: str, identity: Mapping[str, Any], options: Mapping[str, Any]) -> str:
    """sha256 over the analyzer's name, identity (scorer, version, weights hash) and effective options.

    The options are hashed whole (not only those the identity repeats): an option that changes scores but
    not the identity (bias ``mask_group``, ``refusal_patterns``) must miss too. The auditkit version is
    included because the per-output code of the built-in analyzers ships with it.
    """
    from auditkit import __version__

    return _hash([_SCORE_KEY_VERSION, __version__, name, dict(identity), dict(options)])


# Fields of a generation that are its content; ``cached`` is bookkeeping of the run that read it.
_GENERATION_CONTENT = tuple(f.name for f in dataclasses.fields(Generation) if f.name != "cached")
_PROMPT_CONTENT = tuple(f.name for f in dataclasses.fields(Prompt) if f.name != "analyzers")
_SCORE_FIELDS = tuple(f.name for f in dataclasses.fields(Score))


def _score_fields(score: Score) -> dict[str, Any]:
    # What Score.to_dict gives once through JSON, without asdict's deep copy of every details mapping.
    return {name: getattr(score, name) for name in _SCORE_FIELDS}


def _numpy_plain(value: Any) -> Any:
    """numpy scalars and arrays (analyzers' usual non-JSON values) as the plain values they hold."""
    if callable(getattr(value, "tolist", None)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def output_digest(*, prompt: Prompt, generation: Generation) -> str:
    """sha256 over the prompt record and the generation's content: what an output's scores depend on,
    besides the analyzer.

    The prompt's ``analyzers`` list is left out: naming one more analyzer in a probe must not throw away
    the other analyzers' scores. Built field by field (tuples serialise as lists), not with ``to_dict``:
    ``dataclasses.asdict`` deep-copies every token list, a measurable cost on every rerun.
    """
    prompt_data = {f: getattr(prompt, f) for f in _PROMPT_CONTENT}
    if prompt.messages is not None:
        prompt_data["messages"] = [[m.role, m.content] for m in prompt.messages]
    if prompt.continuations is None:  # keeps the digests of ordinary outputs as they were
        del prompt_data["continuations"]
    generation_data = {f: getattr(generation, f) for f in _GENERATION_CONTENT}
    if generation.loglikelihoods is None:
        del generation_data["loglikelihoods"]
    else:
        generation_data["loglikelihoods"] = [r.to_dict() for r in generation.loglikelihoods]
    return _hash([prompt_data, generation_data])


def score_key(*, analyzer: str, output: str) -> str:
    """The key of one output's scores: an ``analyzer_key`` and an ``output_digest``."""
    return hashlib.sha256(f"{analyzer}:{output}".encode()).hexdigest()


class GenerationStore(Protocol):
    """What the engine needs from a cache (the SQLite one, or ``NullCache`` for ``--no-cache``)."""

    def get_many(self, keys: Sequence[str]) -> dict[str, Generation]: ...

    def put_many(self, items: Iterable[tuple[str, Generation]]) -> int: ...

    def present_scores(self, keys: Sequence[str]) -> set[str]: ...

    def get_scores(self, keys: Sequence[str]) -> dict[str, tuple[Score, ...]]: ...

    def put_scores(self, items: Iterable[tuple[str, str, Sequence[Score]]]) -> int: ...

    def close(self) -> None: ...


class NullCache:
    """``--no-cache``: remembers nothing."""

    path: Path | None = None

    def get_many(self, keys: Sequence[str]) -> dict[str, Generation]:
        return {}

    def put_many(self, items: Iterable[tuple[str, Generation]]) -> int:
        return 0

    def present_scores(self, keys: Sequence[str]) -> set[str]:
        return set()

    def get_scores(self, keys: Sequence[str]) -> dict[str, tuple[Score, ...]]:
        return {}

    def put_scores(self, items: Iterable[tuple[str, str, Sequence[Score]]]) -> int:
        return 0

    def close(self) -> None:
        pass


class GenerationCache:
    """A SQLite-backed ``GenerationStore``. Open with ``open_cache(path=...)``."""

    def __init__(self, *, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: transactions are opened explicitly, one per batch, in put_many.
            self._db = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise self._error(f"cannot be opened ({exc})") from None
        try:
            self._setup()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise self._error(f"is not a usable SQLite database ({exc})") from None

    def _error(self, what: str) -> CacheError:
        return CacheError(
            f"The generation cache {self.path} {what}. Delete the file to start a fresh cache, "
            "or run with --no-cache, or point --cache at another file."
        )

    def _setup(self) -> None:
        db = self._db
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL survives process crashes (SIGKILL) in WAL mode; only an OS crash may lose a commit.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
            db.execute(
                "CREATE TABLE IF NOT EXISTS generations ("
                " key TEXT PRIMARY KEY, prompt_id TEXT NOT NULL, data TEXT NOT NULL,"
                " created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
            )
            row = db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif row[0] != str(SCHEMA_VERSION):
                db.execute("ROLLBACK")
                raise self._error(f"has schema version {row[0]}, this auditkit uses {SCHEMA_VERSION}")
            db.execute(
                "CREATE TABLE IF NOT EXISTS scores ("
                " key TEXT PRIMARY KEY, analyzer TEXT NOT NULL, data TEXT NOT NULL,"
                " created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
            )
            db.execute("COMMIT")
        except sqlite3.DatabaseError:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _select(self, sql: str, keys: Sequence[str]) -> Iterator[tuple[Any, ...]]:
        """Rows of ``sql`` (a ``... WHERE key IN ({marks})`` query) over ``keys``, chunked."""
        unique = list(dict.fromkeys(keys))
        try:
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                yield from self._db.execute(sql.format(marks=",".join("?" * len(chunk))), chunk)
        except sqlite3.DatabaseError as exc:
            raise self._error(f"could not be read ({exc})") from None

    def _write(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """``rows`` in one transaction: a batch is stored whole or not at all."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(sql, rows)
            self._db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise self._error(f"could not be written ({exc})") from None

    def get_many(self, keys: Sequence[str]) -> dict[str, Generation]:
        """Stored generations for those ``keys`` that are present (marked ``cached=True``)."""
        found: dict[str, Generation] = {}
        try:
            for key, data in self._select("SELECT key, data FROM generations WHERE key IN ({marks})", keys):
                payload = json.loads(data)
                payload["cached"] = True
                found[key] = Generation.from_dict(payload)
        except (ValueError, TypeError) as exc:
            raise self._error(f"holds an unreadable entry ({exc})") from None
        return found

    def put_many(self, items: Iterable[tuple[str, Generation]]) -> int:
        """Store successful generations in one transaction; errors are skipped so reruns retry them."""
        rows = [
            (key, gen.prompt_id, json.dumps({**gen.to_dict(), "cached": False}, ensure_ascii=False))
            for key, gen in items
            if gen.ok
        ]
        if rows:
            self._write("INSERT OR REPLACE INTO generations (key, prompt_id, data) VALUES (?, ?, ?)", rows)
        return len(rows)

    def present_scores(self, keys: Sequence[str]) -> set[str]:
        """Those ``keys`` that have stored scores (nothing is decoded: a cheap pre-generation check)."""
        return {key for (key,) in self._select("SELECT key FROM scores WHERE key IN ({marks})", keys)}

    def get_scores(self, keys: Sequence[str]) -> dict[str, tuple[Score, ...]]:
        """Stored scores of one output per present key (possibly none: an output may have no scores)."""
        found: dict[str, tuple[Score, ...]] = {}
        try:
            for key, data in self._select("SELECT key, data FROM scores WHERE key IN ({marks})", keys):
                # Score(**item), not from_dict: rows hold exactly Score's fields (the key covers the
                # auditkit version, so no other version's rows are read), and a rerun decodes thousands.
                found[key] = tuple(Score(**item) for item in json.loads(data))
        except (ValueError, TypeError) as exc:
            raise self._error(f"holds an unreadable entry ({exc})") from None
        return found

    def put_scores(self, items: Iterable[tuple[str, str, Sequence[Score]]]) -> int:
        """Store (key, analyzer, scores of one output) in one transaction; outputs with an error score
        are skipped so a rerun scores them again, and so are outputs whose scores JSON cannot hold."""
        rows = []
        for key, analyzer, scores in items:
            if any(s.error is not None for s in scores):
                continue
            try:
                # ASCII escapes keep any lone surrogate in a detail intact through SQLite's UTF-8.
                data = json.dumps([_score_fields(s) for s in scores], default=_numpy_plain)
            except (TypeError, ValueError):
                continue  # an exotic value in details: scored again next run rather than altered
            rows.append((key, analyzer, data))
        if rows:
            self._write("INSERT OR REPLACE INTO scores (key, analyzer, data) VALUES (?, ?, ?)", rows)
        return len(rows)

    def count_scores(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM scores").fetchone()[0])

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM generations").fetchone()[0])

    def close(self) -> None:
        self._db.close()


def open_cache(*, path: Path | None, enabled: bool = True) -> GenerationCache | NullCache:
    """The SQLite cache at ``path`` (default location when ``None``), or a ``NullCache`` when disabled."""
    if not enabled:
        return NullCache()
    return GenerationCache(path=path or default_cache_path())
