"""Intel/AMD RAPL package energy counters read from Linux powercap sysfs.

Each top-level domain ``intel-rapl:N`` (one per CPU package) exposes ``energy_uj``, a microjoule counter
that wraps to 0 after ``max_energy_range_uj``. Sub-domains (``intel-rapl:N:M``: core, uncore, dram) are
skipped because they are parts of the package and would be counted twice (CodeCarbon does the same).
Since Linux 5.10 ``energy_uj`` is readable by root only; an unreadable counter is reported, not guessed.
See https://www.kernel.org/doc/html/latest/power/powercap/powercap.html.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_ROOT", "RaplDomain", "RaplProbe", "counter_delta", "probe_rapl", "read_counters"]

DEFAULT_ROOT = Path("/sys/class/powercap")
_PACKAGE = re.compile(r"^intel-rapl:\d+$")


@dataclass(frozen=True, slots=True)
class RaplDomain:
    """One readable package counter."""

    path: Path
    name: str
    max_range_uj: int | None
    """Wrap point of ``energy_uj``; ``None`` when the kernel did not expose it (then a wrap is undetectable)."""


@dataclass(frozen=True, slots=True)
class RaplProbe:
    """What was found under the powercap root: usable domains and why others were skipped."""

    domains: tuple[RaplDomain, ...]
    skipped: tuple[str, ...]


def probe_rapl(*, root: Path = DEFAULT_ROOT) -> RaplProbe:
    """Find readable package domains under ``root`` (injectable so tests can use a fake tree)."""
    if not root.is_dir():
        return RaplProbe(domains=(), skipped=(f"{root} does not exist (no powercap/RAPL on this machine)",))
    domains: list[RaplDomain] = []
    skipped: list[str] = []
    for entry in sorted(root.iterdir()):
        if not _PACKAGE.match(entry.name):
            continue
        energy = entry / "energy_uj"
        if _read_int(energy) is None:
            skipped.append(f"{energy}: missing or unreadable (RAPL needs read access; try running as root)")
            continue
        name = _read_text(entry / "name") or entry.name
        domains.append(
            RaplDomain(path=energy, name=name, max_range_uj=_read_int(entry / "max_energy_range_uj"))
        )
    if not domains and not skipped:
        skipped.append(f"{root} has no intel-rapl:N package domain")
    return RaplProbe(domains=tuple(domains), skipped=tuple(skipped))


def read_counters(*, domains: tuple[RaplDomain, ...]) -> tuple[int | None, ...]:
    """Current ``energy_uj`` of each domain (``None`` where a read failed)."""
    return tuple(_read_int(d.path) for d in domains)


def counter_delta(*, before: int | None, after: int | None, max_range_uj: int | None) -> int | None:
    """Microjoules between two reads, undoing one wrap-around; ``None`` when it cannot be known.

    A counter that went backwards wrapped once at ``max_range_uj`` (windows are far shorter than the
    ~minutes-to-hours it takes to wrap twice). Without the wrap point a backwards step is unknowable.
    """
    if before is None or after is None:
        return None
    if after >= before:
        return after - before
    if max_range_uj is None or max_range_uj <= 0:
        return None
    return max_range_uj - before + after


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _read_int(path: Path) -> int | None:
    text = _read_text(path)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None
