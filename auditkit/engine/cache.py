"""The generation cache: a SQLite file mapping (model, decoding config, prompt) to a stored Generation.

Why SQLite: one file, safe for concurrent readers (WAL), and a committed transaction survives a SIGKILL —
the engine commits once per finished batch, so an interrupted run loses at most one batch and a rerun
resumes where it stopped. Failed generations are never stored, so a rerun retries them.

The key covers everything that changes an output: the adapter identity (model, revision, weights hash,
output-relevant settings), the effective ``GenerationConfig``, the prompt id and a hash of the rendered
prompt content (so editing a template's text misses even if its id did not change).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Iterable, Protocol, Sequence

from auditkit.errors import CacheError
from auditkit.records import Generation, GenerationConfig, Prompt

__all__ = [
    "GenerationCache",
    "GenerationStore",
    "NullCache",
    "cache_key",
    "default_cache_path",
    "open_cache",
]

SCHEMA_VERSION = 1
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
    content_hash = hashlib.sha256(content.encode()).hexdigest()
    blob = json.dumps(
        [identity_key, config.to_dict(), prompt.id, content_hash], sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(blob.encode()).hexdigest()


class GenerationStore(Protocol):
    """What the engine needs from a cache (the SQLite one, or ``NullCache`` for ``--no-cache``)."""

    def get_many(self, keys: Sequence[str]) -> dict[str, Generation]: ...

    def put_many(self, items: Iterable[tuple[str, Generation]]) -> int: ...

    def close(self) -> None: ...


class NullCache:
    """``--no-cache``: remembers nothing."""

    path: Path | None = None

    def get_many(self, keys: Sequence[str]) -> dict[str, Generation]:
        return {}

    def put_many(self, items: Iterable[tuple[str, Generation]]) -> int:
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
            db.execute("COMMIT")
        except sqlite3.DatabaseError:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def get_many(self, keys: Sequence[str]) -> dict[str, Generation]:
        """Stored generations for those ``keys`` that are present (marked ``cached=True``)."""
        found: dict[str, Generation] = {}
        unique = list(dict.fromkeys(keys))
        try:
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT key, data FROM generations WHERE key IN ({marks})", chunk)
                for key, data in rows:
                    payload = json.loads(data)
                    payload["cached"] = True
                    found[key] = Generation.from_dict(payload)
        except sqlite3.DatabaseError as exc:
            raise self._error(f"could not be read ({exc})") from None
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
        if not rows:
            return 0
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT OR REPLACE INTO generations (key, prompt_id, data) VALUES (?, ?, ?)", rows
            )
            self._db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise self._error(f"could not be written ({exc})") from None
        return len(rows)

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM generations").fetchone()[0])

    def close(self) -> None:
        self._db.close()


def open_cache(*, path: Path | None, enabled: bool = True) -> GenerationCache | NullCache:
    """The SQLite cache at ``path`` (default location when ``None``), or a ``NullCache`` when disabled."""
    if not enabled:
        return NullCache()
    return GenerationCache(path=path or default_cache_path())
