#!/usr/bin/env python3
"""Prints the check ids infra/checks.toml skips for one tool, comma-separated.

    skips.py cfn-lint|checkov
"""

import pathlib
import sys
import tomllib

CHECKS = pathlib.Path(__file__).resolve().parent.parent / "checks.toml"


def skips(tool):
    with open(CHECKS, "rb") as f:
        entries = tomllib.load(f)["skip"]
    for e in entries:
        missing = {"tool", "id", "resources", "why"} - e.keys()
        if missing or not e["why"].strip():
            raise SystemExit(f"{CHECKS}: the skip of {e.get('id')} lacks {sorted(missing) or ['a reason']}")
    return sorted(e["id"] for e in entries if e["tool"] == tool)


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("cfn-lint", "checkov"):
        raise SystemExit(__doc__)
    print(",".join(skips(sys.argv[1])))
