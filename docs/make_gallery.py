"""Make the gallery: run every script in examples/ and collect the pictures it writes.

    python docs/make_gallery.py [--size small|full]

Each example runs in a fresh temporary folder (so its ``femopt-output/`` is its own);
the PNGs it produced are copied to ``docs/gallery/`` and ``docs/gallery.md`` is written
with the example's docstring summary and its pictures. The pictures in the gallery are
therefore produced by the examples themselves.
"""
from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
GALLERY = ROOT / "docs" / "gallery"


def summary(script: Path) -> tuple[str, str]:
    """Heading (the script's name) and the first paragraph of its docstring."""
    doc = ast.get_docstring(ast.parse(script.read_text())) or ""
    first = " ".join(doc.split("\n\n")[0].split())
    return script.stem.replace("_", " "), first


def run(script: Path, size: str) -> list[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, FEMOPT_EXAMPLE_SIZE=size, MPLBACKEND="Agg")
        done = subprocess.run([sys.executable, str(script)], cwd=tmp, env=env,
                              capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            print(f"{script.name} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
            return []
        copied = []
        for png in sorted(Path(tmp).rglob("*.png")):
            target = GALLERY / f"{script.stem}__{png.name}"
            shutil.copy(png, target)
            copied.append(target)
        return copied


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=("small", "full"), default="small")
    parser.add_argument("--reuse", action="store_true",
                        help="do not run the examples; rewrite gallery.md from the pictures in docs/gallery")
    args = parser.parse_args(argv)
    GALLERY.mkdir(parents=True, exist_ok=True)
    lines = ["# Gallery", "", "Every picture here was written by the example script named above it "
             f"(`python docs/make_gallery.py --size {args.size}`).", ""]
    failures = 0
    for script in sorted(EXAMPLES.glob("*.py")):
        pictures = sorted(GALLERY.glob(f"{script.stem}__*.png")) if args.reuse else run(script, args.size)
        failures += not pictures and "png" in script.read_text().lower()
        title, text = summary(script)
        lines += [f"## {title}", "", f"`examples/{script.name}` — {text}", ""]
        lines += [f"![{p.stem}](gallery/{p.name})" for p in pictures] + [""]
    (ROOT / "docs" / "gallery.md").write_text("\n".join(lines))
    print(f"gallery: {len(list(EXAMPLES.glob('*.py')))} examples, {failures} without pictures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
