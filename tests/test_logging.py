"""Where the library's warnings go: a notebook's stderr when nobody configured logging, and
each run's own summary when runs go side by side in threads."""

from __future__ import annotations

import logging
import threading

import pytest

import placement  # noqa: F401  (installs the fallback handler)
from placement.citygml._sources import input_paths
from placement.errors import CityGMLError, OptionError
from placement.pipeline import RunOptions, _Notes, run


def test_warnings_print_when_nobody_configured_logging(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    top = logging.getLogger("placement")
    # As in a notebook: nothing above the library's logger (pytest's root handlers cut off).
    monkeypatch.setattr(top, "propagate", False)
    logging.getLogger("placement.sites").warning("far.csv: 1 of 2 sites left out")
    logging.getLogger("placement.sites").info("not shown")
    assert capsys.readouterr().err == "placement: WARNING: far.csv: 1 of 2 sites left out\n"
    # Once the caller has a handler (logging.basicConfig, the command line's), it alone
    # shows them: nothing twice.
    mine = logging.StreamHandler()
    top.addHandler(mine)
    try:
        logging.getLogger("placement.sites").warning("once")
    finally:
        top.removeHandler(mine)
    assert capsys.readouterr().err == "once\n"
    # A run's notes collect and show nothing: the fallback still prints.
    with _Notes() as notes:
        logging.getLogger("placement.optimise").warning("clock-cut")
    assert notes.messages == ["clock-cut"]
    assert capsys.readouterr().err == "placement: WARNING: clock-cut\n"


def test_runs_in_threads_keep_their_own_warnings() -> None:
    log = logging.getLogger("placement.sites")
    ready = threading.Barrier(2)
    done = threading.Barrier(2)
    got: dict[str, list[str]] = {}

    def one(name: str) -> None:
        with _Notes() as notes:
            ready.wait()  # both runs are under way
            log.warning("from %s", name)
            done.wait()
        got[name] = notes.messages

    threads = [threading.Thread(target=one, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == {"a": ["from a"], "b": ["from b"]}
    # A run alone keeps its helper threads' warnings too.
    with _Notes() as notes:
        helper = threading.Thread(target=log.warning, args=("from a helper",))
        helper.start()
        helper.join()
    assert notes.messages == ["from a helper"]


def test_wrong_inputs_and_options_are_one_line_errors() -> None:
    assert input_paths("a.gml") == ["a.gml"]
    with pytest.raises(CityGMLError, match="got NoneType"):
        input_paths(None)
    with pytest.raises(CityGMLError, match=r"got list .*\(a list inside the list\?\)"):
        input_paths([["a.gml", "b.gml"]])
    with pytest.raises(CityGMLError, match="got int 3"):
        input_paths(["a.gml", 3])
    with pytest.raises(OptionError, match=r"opts must be a RunOptions, got dict \(RunOptions"):
        run("a.gml", {"budget": 2})  # type: ignore[arg-type]
    assert RunOptions(budget=2).budget == 2
