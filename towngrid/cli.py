"""The ``towngrid`` command: every Django management command plus towngrid's own.

``--data-dir DIR`` (anywhere on the line) or ``TOWNGRID_DATA_DIR`` selects the data directory,
so ``towngrid demo``, ``towngrid migrate`` and ``towngrid shell`` all read the same database.
"""

import os
import sys


def _take_data_dir(argv: list[str]) -> list[str]:
    out: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg == "--data-dir":
            value = next(it, None)
            if value is None:
                sys.exit("towngrid: --data-dir needs a directory")
            os.environ["TOWNGRID_DATA_DIR"] = value
        elif arg.startswith("--data-dir="):
            os.environ["TOWNGRID_DATA_DIR"] = arg.split("=", 1)[1]
        else:
            out.append(arg)
    return out


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    argv = [argv[0], *_take_data_dir(argv[1:])]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "towngrid.settings")
    from django.core.management import execute_from_command_line

    argv[0] = "towngrid"
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
