"""Child interpreters that answer pickled calls: the loader's parallel workers.

Not :mod:`multiprocessing`: its spawn and forkserver children re-import the caller's
script, so a planner's script without an ``if __name__ == "__main__":`` guard runs again
in each child (its side effects too) and the pool then breaks; and a plain fork would
inherit the locks of the caller's threads (BLAS, VTK, OR-Tools) mid-use. A worker here is
``python -m placement._workers``: it imports only what the calls need.

Workers are started on first use and kept for the rest of the process (an idle worker
costs its imports' memory, about 100 MB), so later calls skip the start-up (about half a
second). Requests and answers are length-prefixed pickles on the child's stdin / stdout.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import IO, Any

_HEADER = struct.Struct("<Q")
# Thread pools of BLAS and OpenMP runtimes, set to one thread in a worker.
_THREAD_VARS = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


class WorkerError(RuntimeError):
    """A worker died or answered nothing (its call should be run here instead)."""


def _send(stream: IO[bytes], obj: object) -> None:
    """Write ``obj`` as a pickle whose large arrays follow it out of band (protocol 5): a
    coverage matrix of 100 million pairs is written from its own memory, not first copied
    into one pickle of its size."""
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    views = [b.raw() for b in buffers]
    stream.write(_HEADER.pack(len(data)))
    stream.write(_HEADER.pack(len(views)))
    for v in views:
        stream.write(_HEADER.pack(v.nbytes))
    stream.write(data)
    for v in views:
        stream.write(v)
    stream.flush()


def _read_exactly(stream: IO[bytes], size: int) -> bytearray:
    out = bytearray(size)
    view = memoryview(out)
    got = 0
    while got < size:
        n = stream.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            raise EOFError("the other side closed the pipe mid-message")
        got += n
    return out


def _receive(stream: IO[bytes]) -> Any:
    head = stream.read(2 * _HEADER.size)
    if len(head) < 2 * _HEADER.size:
        raise EOFError("the other side closed the pipe")
    (size,) = _HEADER.unpack(head[: _HEADER.size])
    (n_buffers,) = _HEADER.unpack(head[_HEADER.size :])
    sizes = [_HEADER.unpack(_read_exactly(stream, _HEADER.size))[0] for _ in range(n_buffers)]
    data = _read_exactly(stream, size)
    buffers = [_read_exactly(stream, n) for n in sizes]
    return pickle.loads(data, buffers=buffers)


class Worker:
    """One child interpreter; :meth:`call` runs ``module.function(*args)`` there."""

    def __init__(self) -> None:
        if not sys.executable:
            raise OSError("no Python executable to start a worker with")
        env = dict(os.environ)
        # The child finds placement (and anything else) where this process found it.
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if isinstance(p, str) and p)
        # A worker is one core's worth of work beside this process. A BLAS pool of its own
        # would oversubscribe the cores, and its threads wait on each other at every call
        # (numpy's dot of the LP phase's subgradient: 8 ms a step alone, 110 ms beside a
        # busy caller, so the 3 x 3 Osaka block's bound missed its deadline).
        for var in _THREAD_VARS:
            env[var] = "1"
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "placement._workers"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )

    def call(self, module: str, function: str, *args: Any) -> Any:
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        try:
            _send(stdin, (module, function, args))
            ok, value = _receive(stdout)
        except (OSError, EOFError, pickle.UnpicklingError) as e:
            self.close()
            raise WorkerError(f"worker process failed: {e!r}") from None
        if not ok:
            raise WorkerError(f"worker call {module}.{function} failed: {value}")
        return value

    def kill(self) -> None:
        """Stop it now (a caller mid-call gets a :class:`WorkerError`)."""
        with contextlib.suppress(OSError):
            self._proc.kill()
        self._proc.wait()

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


_idle: list[Worker] = []
_lock = threading.Lock()


@contextlib.contextmanager
def workers(n: int) -> Iterator[list[Worker]]:
    """``n`` workers for the duration of the block (kept afterwards for reuse; a worker
    that failed is dropped)."""
    got: list[Worker] = []
    with _lock:
        while _idle and len(got) < n:
            w = _idle.pop()
            if w.alive:
                got.append(w)
    try:
        while len(got) < n:
            got.append(Worker())
        yield got
    finally:
        with _lock:
            _idle.extend(w for w in got if w.alive)


@atexit.register
def _close_all() -> None:
    with _lock:
        try:
            for w in _idle:
                w.close()
        except KeyboardInterrupt:  # Ctrl-C while the process ends: stop them now, quietly
            for w in _idle:
                w.kill()
        _idle.clear()


def _serve() -> None:
    """The child's loop: answer calls until the parent closes stdin."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # Nothing else may write to the answer pipe: prints go to stderr.
    sys.stdout = sys.stderr
    # The parent reports what matters; a worker's own log records print nowhere (the
    # library's stderr fallback would print them past the command line's -q).
    top = logging.getLogger("placement")
    for h in list(top.handlers):
        top.removeHandler(h)
    top.addHandler(logging.NullHandler())
    top.propagate = False
    # Ctrl-C reaches the whole process group: the parent reports it and stops this worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            module, function, args = _receive(stdin)
        except EOFError:
            return
        try:
            answer: tuple[bool, Any] = (
                True,
                getattr(importlib.import_module(module), function)(*args),
            )
        except Exception as e:  # reported to the parent, which runs the call itself
            answer = (False, repr(e))
        _send(stdout, answer)


if __name__ == "__main__":
    _serve()
