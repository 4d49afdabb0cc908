"""Make sure a headless Chromium is available for the report's browser test.

Run as ``python -m tests.setup_browser`` (the Makefile's test target does). Installs Debian's
``chromium`` package with apt-get when /usr/bin/chromium is missing and we are root; otherwise it only
says what it found. It never downloads a browser build from anywhere but the Debian archive.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["CHROMIUM", "ensure_chromium", "main"]

CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium(*, quiet: bool = False) -> Path | None:
    """The Chromium binary, installing Debian's package first when missing and possible; else None."""

    def say(message: str) -> None:
        if not quiet:
            print(f"setup_browser: {message}", flush=True)

    if CHROMIUM.exists():
        say(f"{CHROMIUM} present; nothing to do.")
        return CHROMIUM
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        say(f"using {found}.")
        return Path(found)
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("apt-get"):
        say("chromium is missing and this is not a root Debian system; install the 'chromium' package yourself.")
        return None
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
        say("running " + " ".join(command))
        result = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if result.returncode != 0:
            say(f"{' '.join(command)} failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
            return None
    if CHROMIUM.exists():
        say(f"installed {CHROMIUM}.")
        return CHROMIUM
    say("apt-get finished but /usr/bin/chromium is still missing.")
    return None


def main() -> int:
    # Exit 0 even without a browser: the browser test then skips and says why; `make test` goes on.
    ensure_chromium()
    return 0


if __name__ == "__main__":
    sys.exit(main())
