"""python -m hack.docs [metrics|configuration|api|all] [--check]

Writes the generated reference pages from the code: docs/operations/metrics.md (the daemons' metrics),
docs/operations/configuration.md (every daemon flag and role variable) and the "Fields" section of each
docs/api-reference page (from the CRDs). With --check nothing is written: it exits 1 and names each page
that differs from what the code gives (CI runs this through tests/unit/test_generated_docs.py).
"""

from __future__ import annotations

import argparse
import sys

from . import generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hack.docs", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("what", nargs="?", default="all", choices=["all", *generate.PAGES])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when a page is stale")
    args = parser.parse_args(argv)
    names = list(generate.PAGES) if args.what == "all" else [args.what]
    stale = []
    for name in names:
        for path, text in generate.PAGES[name]().items():
            if path.exists() and path.read_text() == text:
                continue
            if args.check:
                stale.append(str(path.relative_to(generate.REPO)))
            else:
                path.write_text(text)
                print(f"wrote {path.relative_to(generate.REPO)}", file=sys.stderr)
    if stale:
        print("stale generated docs (run `python -m hack.docs`): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
