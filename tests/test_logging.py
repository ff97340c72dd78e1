"""Where the library's warnings go: a notebook's stderr when nobody configured logging, and
each run's own summary when runs go side by side in threads."""

from __future__ import annotations

import logging
import threading

import pytest

import placement  # noqa: F401  (installs the fallback handler)
from placement._logging import Fallback
from placement.citygml._sources import input_paths
from placement.errors import CityGMLError, OptionError
from placement.pipeline import RunOptions, _Notes, run


def _as_in_a_notebook(monkeypatch: pytest.MonkeyPatch) -> logging.Logger:
    """The library's logger as in a notebook: nothing above it (pytest's root handlers cut
    off) and no other handler (the command line's left by an earlier test, pytest's capture
    handlers of this test): the fallback alone. Called in the test, after pytest's set-up."""
    top = logging.getLogger("placement")
    monkeypatch.setattr(top, "propagate", False)
    monkeypatch.setattr(top, "handlers", [h for h in top.handlers if isinstance(h, Fallback)])
    return top


def test_warnings_print_when_nobody_configured_logging(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    top = _as_in_a_notebook(monkeypatch)
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


def test_a_quiet_handler_is_obeyed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`placement -q` keeps a handler for errors only: warnings then print nowhere."""
    top = _as_in_a_notebook(monkeypatch)
    quiet = logging.StreamHandler()
    quiet.setLevel(logging.ERROR)
    top.addHandler(quiet)
    try:
        logging.getLogger("placement.sites").warning("hidden by -q")
    finally:
        top.removeHandler(quiet)
    assert capsys.readouterr().err == ""


def test_nohup_keeps_the_hangup_ignored() -> None:
    """`nohup placement run ...`: SIGHUP stays ignored while the command runs; SIGTERM
    stops it as Ctrl-C would."""
    import signal

    from placement.cli import Terminated, _stop_on_signals

    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with _stop_on_signals():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN)
            with pytest.raises(Terminated):
                signal.raise_signal(signal.SIGTERM)
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)
