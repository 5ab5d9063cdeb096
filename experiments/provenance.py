"""Which code made a result: the git commit of this checkout and whether its tree was clean.

Recorded in every batch's manifest (``code``). Without git, or outside a git checkout (an
installed wheel), it says so and never fails.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["code_state"]

CHECKOUT = Path(__file__).resolve().parent.parent


def code_state() -> dict[str, object]:
    """``{"commit": sha, "clean": bool}`` of the checkout this package runs from.

    ``clean`` is False when tracked files differ from the commit (untracked files, such as
    ``results/``, do not count). Without git or a checkout: ``{"commit": None, "clean": None,
    "note": why}``.
    """
    try:
        commit = _git("rev-parse", "HEAD")
        changed = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError) as error:
        note = "git not found" if isinstance(error, FileNotFoundError) else "not a git checkout"
        return {"commit": None, "clean": None, "note": note}
    return {"commit": commit, "clean": changed == ""}


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(CHECKOUT), *args],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return done.stdout.strip()
