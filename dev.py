#!/usr/bin/env python3
"""Set-up in one command: ``python3 dev.py demo`` or ``python3 dev.py test``.

Creates ``.venv`` beside this file on first use (and again whenever pyproject.toml changes),
installs towngrid with its development extras into it, then runs:

    demo [ARGS]   towngrid demo ARGS: build the Beicai demo town once, serve it on 127.0.0.1:8000
    test [ARGS]   the whole test suite (pytest ARGS)
    <anything>    any other towngrid subcommand, e.g. ``python3 dev.py grids stats``
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".towngrid-installed"


def ensure_environment() -> None:
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("towngrid: creating .venv …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("towngrid: installing towngrid and its dependencies into .venv …", flush=True)
    subprocess.run(
        [
            str(BIN / "python"),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-q",
            "-e",
            f"{ROOT}[dev]",
        ],
        check=True,
    )
    STAMP.write_text(wanted)


def main() -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs before the venv exists
        sys.exit("towngrid needs Python 3.11 or newer")
    args = sys.argv[1:] or ["demo"]
    ensure_environment()
    os.chdir(ROOT)
    if args[0] == "test":
        return subprocess.call([str(BIN / "python"), "-m", "pytest", *args[1:]])
    return subprocess.call([str(BIN / "towngrid"), *args])


if __name__ == "__main__":
    sys.exit(main())
