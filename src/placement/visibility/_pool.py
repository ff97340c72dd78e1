"""Worker processes for the chunks: a forkserver pool fed alongside this process."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from typing import Any

from placement.visibility._chunks import _ChunkResult, _init_worker, _run_chunk, _worker_ready
from placement.visibility._task import _Task


def _run_pool(
    task: _Task,
    jobs: list[tuple[int, int, int]],
    n_pool: int,
    collect: Callable[[_ChunkResult], None],
) -> None:
    """Run ``jobs`` on ``n_pool`` worker processes and on this one.

    The pool is fed a few chunks at a time from the front of the list while this process
    takes chunks from the back, so the workers' start-up (about 0.1 s) overlaps useful
    work here and nobody waits at the end for long.
    """
    from collections import deque
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

    # Never fork: the parent may hold threads (OR-Tools, VTK, BLAS) whose locks a forked
    # child inherits mid-use, which hangs or kills workers. A forkserver starts workers
    # from a clean single-threaded process; a dead worker raises instead of hanging.
    ctx: Any
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        # Import the worker's module (with the package: numpy, scipy) and Embree once in
        # the server, not in every worker: about 0.4 s per worker. Only takes effect if
        # the server is not running.
        ctx.set_forkserver_preload(
            [
                "__main__",
                _run_chunk.__module__,
                "embreex.rtcore_scene",
                "embreex.mesh_construction",
            ]
        )
    else:
        ctx = mp.get_context("spawn")
    queue = deque(jobs)
    pending: set[Future[_ChunkResult]] = set()
    with ProcessPoolExecutor(
        n_pool, mp_context=ctx, initializer=_init_worker, initargs=(task,)
    ) as pool:
        while queue or pending:
            while queue and len(pending) < 2 * n_pool:
                pending.add(pool.submit(_run_chunk, queue.popleft()))
            if not _worker_ready():
                _init_worker(task)  # after the first submit, which starts the workers
            if queue:
                collect(_run_chunk(queue.pop()))
                finished = {f for f in pending if f.done()}
            else:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                pending.discard(fut)
                collect(fut.result())
