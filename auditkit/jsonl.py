"""One streaming JSONL reader for every JSONL input: prompt sources, rows files, replay files, outputs.

Each line is decoded on its own (bytes → UTF-8 → JSON), so a 100k-line file is never held in memory and
a problem is reported at its place: ``FILE:LINE: what is wrong``, as an ``InputError`` (exit 2). Blank
lines are skipped; line numbers count every line of the file, blank ones included::

    for number, record in read_jsonl(path=Path("prompts.jsonl"), hint=" Lines look like {\\"id\\": ...}."):
        ...

``scan_jsonl`` yields problems instead of raising them, for readers that list the first few problems
of a file at once (the replay adapter), and can feed every raw line to a running hash.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from auditkit.errors import InputError

__all__ = ["JsonlProblem", "read_jsonl", "scan_jsonl"]

# A lone surrogate can only come from a "\ud800"-style escape (the UTF-8 decoder refuses raw ones), so
# lines without such an escape skip the costlier re-encoding check.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


class _Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...


@dataclass(frozen=True, slots=True)
class JsonlProblem:
    """A line that could not be read, yielded by ``scan_jsonl`` in place of its value."""

    line: int
    """1-based line number in the file."""
    message: str
    """The whole message, starting with ``FILE:LINE:``."""


def read_jsonl(
    *,
    path: Path,
    display: str | None = None,
    hint: str = "",
    objects_only: bool = True,
    text_only: bool = False,
    bad_json: str = "not valid JSON",
    error: type[InputError] = InputError,
) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` per non-blank line; the first problem raises ``error`` naming FILE:LINE.

    ``display``: the file as named in messages (default ``str(path)``). ``hint``: appended to every
    message (what a line should look like). ``objects_only``: refuse values other than JSON objects.
    ``text_only``: refuse escapes of unpaired UTF-16 surrogates, which no UTF-8 file or hash can hold.
    ``bad_json``: how a line that does not parse is called (the wording earlier messages used).
    """
    for number, value in scan_jsonl(
        path=path, display=display, hint=hint, objects_only=objects_only, text_only=text_only,
        bad_json=bad_json, error=error,
    ):
        if isinstance(value, JsonlProblem):
            raise error(value.message)
        yield number, value


def scan_jsonl(
    *,
    path: Path,
    display: str | None = None,
    hint: str = "",
    objects_only: bool = True,
    text_only: bool = False,
    bad_json: str = "not valid JSON",
    digest: _Digest | None = None,
    error: type[InputError] = InputError,
) -> Iterator[tuple[int, Any]]:
    """Like ``read_jsonl`` but yields a ``JsonlProblem`` for a bad line and reads on.

    ``digest`` (e.g. ``hashlib.sha256()``) is updated with every raw line read, blank ones included.
    A file that cannot be opened raises ``error`` at once.
    """
    shown = str(path) if display is None else display
    try:
        handle = Path(path).open("rb")  # noqa: SIM115 - closed by the `with` below, after the error cases
    except FileNotFoundError:
        raise error(f"{shown}: no such file.{hint}") from None
    except OSError as exc:
        raise error(f"{shown}: cannot read the file ({exc.strerror or exc}).") from None
    offset = 0
    with handle:
        for number, raw in enumerate(handle, start=1):
            if digest is not None:
                digest.update(raw)
            line_offset, offset = offset, offset + len(raw)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield number, JsonlProblem(number, (
                    f"{shown}:{number}: not valid UTF-8 at byte offset {line_offset + exc.start} of the file "
                    f"(byte 0x{raw[exc.start]:02x}); save the file as UTF-8.{hint}"
                ))
                continue
            if not text.strip():
                continue
            # The happy path stays inline (no call, no message text built): replay files run to 100k+ lines.
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                where = f"{shown}:{number}"
                value = JsonlProblem(number, f"{where}: {bad_json} ({exc.msg} at column {exc.colno}).{hint}")
            except RecursionError:  # the C decoder recurses per bracket; a hostile line exhausts it
                value = JsonlProblem(number, f"{shown}:{number}: JSON nested too deeply to read.{hint}")
            else:
                if text_only and _SURROGATE_ESCAPE.search(text) and not _encodable(value):
                    value = JsonlProblem(number, (
                        f"{shown}:{number}: holds an escape for an unpaired UTF-16 surrogate (\\ud800-\\udfff), "
                        "which is not text; fix or drop the line."
                    ))
                elif objects_only and not isinstance(value, dict):
                    value = JsonlProblem(number, (
                        f"{shown}:{number}: expected a JSON object, found {type(value).__name__}.{hint}"
                    ))
            yield number, value


def _encodable(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
