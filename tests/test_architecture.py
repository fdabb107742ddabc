"""The layer rule of DEVELOPERS.md, enforced: an import inside femopt only points down the
layer order, and a module stays under 400 lines (one idea per module)."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "femopt"

#: bottom to top, as in DEVELOPERS.md
LAYERS = ["mesh", "fem", "physics", "assembly", "solvers", "problem", "functionals", "sensitivity", "design",
          "optimize", "calibration", "distributed", "viz", "benchmarks", "cli"]
MAX_LINES = 400


def layer(parts):
    return parts[0] if parts and parts[0] in LAYERS else None


def imports(tree, module_parts):
    """Dotted targets (inside femopt, without the 'femopt.' prefix) imported by a module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = module_parts[:-node.level]
            yield node.lineno, base + (node.module.split(".") if node.module else [])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("femopt."):
            yield node.lineno, node.module.split(".")[1:]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("femopt."):
                    yield node.lineno, alias.name.split(".")[1:]


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, list(path.relative_to(PACKAGE).with_suffix("").parts)


def test_imports_point_down_the_layers():
    upward = []
    for path, parts in modules():
        here = layer(parts)
        if here is None:
            continue
        for line, target in imports(ast.parse(path.read_text()), parts):
            there = layer(target)
            if there is not None and LAYERS.index(there) > LAYERS.index(here):
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {here} imports {'.'.join(target)}")
    assert not upward, "imports pointing up the layers:\n" + "\n".join(upward)


def test_modules_stay_small():
    large = [f"{path.relative_to(PACKAGE.parent)}: {path.read_text().count(chr(10))} lines"
             for path, _ in modules() if path.read_text().count("\n") > MAX_LINES]
    assert not large, "split these modules by idea:\n" + "\n".join(large)


def test_every_subpackage_has_a_layer():
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(LAYERS), f"subpackages without a place in the layer order: {packages - set(LAYERS)}"
