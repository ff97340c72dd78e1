"""The examples run and say something true: coverage grows with the budget, bounds hold."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_budget_curve_script(tmp_path: Path, sample_tile: Path) -> None:
    sys.path.insert(0, str(EXAMPLES))
    try:
        from budget_curve import budget_curve
    finally:
        sys.path.remove(str(EXAMPLES))
    rows = budget_curve([sample_tile], [1, 3, 6], tmp_path, time_limit_s=3.0)
    fractions = [r["covered_fraction"] for r in rows]
    assert fractions == sorted(fractions) and fractions[-1] > fractions[0] > 0
    for r in rows:
        assert r["cameras"] <= r["budget"]
        assert r["bound_fraction"] >= r["covered_fraction"] - 1e-9
        assert 0.0 <= r["gap"] <= 1.0
    assert json.loads((tmp_path / "curve.json").read_text()) == rows
    assert (tmp_path / "curve.svg").read_text().startswith("<svg")
    assert (tmp_path / "scene.png").stat().st_size > 10_000


def test_notebook_cells_are_valid_python() -> None:
    nb = json.loads((EXAMPLES / "budget_curve.ipynb").read_text())
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(code) >= 6
    for src in code:
        ast.parse(src)
    joined = "\n".join(code)
    for api in ("read_citygml", "compute_coverage", "max_coverage", "min_cover", "render_png"):
        assert api in joined, api


def test_the_top_level_names_are_typed_and_listed() -> None:
    """``import placement; placement.read_citygml`` is what the README shows: each public
    name is imported for type checkers too (else mypy sees Any), and dir() lists it."""
    import importlib

    import placement

    src = Path(placement.__file__).read_text(encoding="utf-8")
    typed: set[str] = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom)
                typed |= {a.asname or a.name for a in imp.names}
    public = set(placement.__all__) - {"__version__"}
    assert public == typed
    assert public <= set(dir(placement))
    for name in sorted(public - {"optimise"}):
        module, attr = placement._LAZY[name]
        assert getattr(placement, name) is getattr(importlib.import_module(module), attr)


def test_the_sample_is_what_make_sample_writes(tmp_path: Path, sample_tile: Path) -> None:
    import runpy

    main = runpy.run_path(str(sample_tile.parent / "make_sample.py"))["main"]
    out = tmp_path / "again.gml"
    main([str(out)])  # the path given, not the repository's file
    assert out.read_bytes() == sample_tile.read_bytes()
