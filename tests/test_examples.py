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
