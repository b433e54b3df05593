"""``python -m modelplane.crd [--check] DIR...``: write (or check) the generated CRDs in each directory."""

from __future__ import annotations

import sys
from pathlib import Path

from modelplane.crd.files import check_crds, write_crds


def main(argv: list[str]) -> int:
    check = "--check" in argv
    directories = [Path(arg) for arg in argv if arg != "--check"] or [Path("crds")]
    problems: list[str] = []
    for directory in directories:
        if check:
            problems.extend(check_crds(directory))
        else:
            for path in write_crds(directory):
                print(f"wrote {path}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("CRDs are out of date with the API types: run `make crds`", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
