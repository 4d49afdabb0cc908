"""Hashes of model files, so a cache key changes when the weights change and only then.

A 100 MB weight file takes about half a second to hash; a run that only replays cached outputs should
not pay that every time. So each file's SHA-256 is memoised on disk, keyed by its resolved path, size,
modification time and inode: any rewrite of the file changes one of them and forces a fresh hash.

The memo lives in the auditkit cache directory (``platformdirs.user_cache_dir("auditkit")``, or
``$AUDITKIT_CACHE_DIR`` when set), which the bundled model's converted weights share.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "MODEL_DEFINITION_FILES",
    "cache_root",
    "file_sha256",
    "files_hash",
    "model_files",
]

_MEMO_NAME = "file-hashes.json"
_CHUNK = 1 << 20

MODEL_DEFINITION_FILES = (
    "added_tokens.json",
    "chat_template.jinja",
    "chat_template.json",
    "config.json",
    "generation_config.json",
    "merges.txt",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "vocab.json",
)
"""Small files next to the weights that also change outputs (architecture, tokenizer, chat template)."""


def cache_root() -> Path:
    """The auditkit cache directory: ``$AUDITKIT_CACHE_DIR`` or the platform's user cache dir."""
    override = os.environ.get("AUDITKIT_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("auditkit"))


def model_files(*, directory: Path, gguf_file: str | None = None) -> list[Path]:
    """The files of a model folder that determine its outputs, sorted by name.

    With ``gguf_file`` only that file counts (it carries weights, tokenizer and chat template). Otherwise
    the safetensors weights (or the ``.bin`` ones when there are no safetensors — transformers prefers
    safetensors and ignores the rest) plus the config and tokenizer files. Empty when there are no weights.
    """
    if gguf_file is not None:
        path = directory / gguf_file
        return [path] if path.is_file() else []
    weights = sorted(p for p in directory.glob("*.safetensors") if p.is_file())
    if not weights:
        weights = sorted(p for p in directory.glob("*.bin") if p.is_file())
    if not weights:
        return []
    extras = [directory / name for name in MODEL_DEFINITION_FILES if (directory / name).is_file()]
    return sorted(weights + extras, key=lambda p: p.name)


def files_hash(*, files: Sequence[Path]) -> str:
    """One SHA-256 over the files' names and contents (``sha256:`` + hex), stable across machines."""
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.name):
        digest.update(f"{path.name}\0{file_sha256(path=path)}\n".encode())
    return "sha256:" + digest.hexdigest()


def file_sha256(*, path: Path) -> str:
    """Hex SHA-256 of a file's content, memoised by (resolved path, size, mtime, inode)."""
    real = path.resolve()
    stat = real.stat()
    stamp = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
    memo_path = cache_root() / _MEMO_NAME
    memo = _read_memo(memo_path)
    entry = memo.get(str(real))
    if isinstance(entry, dict) and entry.get("stamp") == stamp and isinstance(entry.get("sha256"), str):
        return entry["sha256"]
    digest = hashlib.sha256()
    with real.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    value = digest.hexdigest()
    # Re-read before writing: another process may have added entries meanwhile.
    memo = _read_memo(memo_path)
    memo[str(real)] = {"stamp": stamp, "sha256": value}
    _write_memo(memo_path, memo)
    return value


def _read_memo(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_memo(path: Path, memo: dict[str, object]) -> None:
    # The memo is an optimisation: a read-only or full cache dir must never fail a run.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".hashes-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(memo, handle, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except (OSError, NameError):
            pass
