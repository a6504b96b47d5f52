"""Executors: processes on this machine, a local Dask cluster or an existing one."""

from __future__ import annotations

import ast
import contextlib
import inspect
import os
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any


class SchedulerError(ValueError):
    """A ``--scheduler`` that is malformed, unavailable or cannot be reached."""


def check_scheduler(scheduler: str) -> str:
    """Check the syntax of a scheduler: ``local``, ``local-dask`` or ``tcp://HOST:PORT``.

    Raises
    ------
    SchedulerError
    """
    if scheduler in ("local", "local-dask"):
        return scheduler
    if scheduler.startswith("tcp://"):
        host, sep, port = scheduler[len("tcp://") :].rpartition(":")
        if sep and host and port.isdigit() and 0 < int(port) < 65536:
            return scheduler
    raise SchedulerError(f"expected local, local-dask or tcp://HOST:PORT, got {scheduler!r}")


class _SerialExecutor(Executor):
    """Runs each task in this process as it is submitted (``--workers 1``)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as exc:
            fut.set_exception(exc)
        return fut


def _init_worker(nice: int = 0) -> None:
    """Worker initializer: Ctrl-C is handled by the parent, which stops the sweep; ``nice``
    lowers the worker's scheduling priority (``os.nice``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if nice:
        with contextlib.suppress(OSError, AttributeError):
            os.nice(nice)


class LocalPool(Executor):
    """Worker processes on this machine that can be replaced when one of them dies.

    A ``concurrent.futures.ProcessPoolExecutor`` (workers forked from a server that has imported
    the engine once; Ctrl-C is left to the parent) whose :meth:`renew` replaces a pool broken by
    a killed worker, so that a sweep can go on.

    Parameters
    ----------
    workers : int
        Number of worker processes.
    nice : int, optional
        Lower the workers' scheduling priority by this much (the what-if page runs its sweeps
        and run-offs at 19, so that the live edits in the server keep the cores).
    preload : sequence of str, optional
        Modules the fork server imports once, before it forks the workers.
    """

    def __init__(
        self, workers: int, *, nice: int = 0, preload: tuple[str, ...] = ("simulator.sweep",)
    ) -> None:
        self.workers = workers
        self.nice = nice
        self.preload = list(preload)
        self._pool = self._new()

    def _new(self) -> Executor:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if ctx.get_start_method() == "forkserver":
            ctx.set_forkserver_preload(self.preload)
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(self.nice,),
        )

    @property
    def pids(self) -> list[int]:
        """Process ids of the current workers (those started so far)."""
        return list((getattr(self._pool, "_processes", None) or {}).keys())

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Submit a task to the current pool."""
        return self._pool.submit(fn, *args, **kwargs)

    def _stop(self) -> None:
        # stop at once: the workers would otherwise finish the tasks already handed to them
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            with contextlib.suppress(Exception):
                proc.terminate()

    def renew(self) -> None:
        """Replace the pool (after a worker died) with a fresh one."""
        self._stop()
        self._pool = self._new()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Wait for the tasks and stop the workers, or (``cancel_futures``) stop them at once."""
        if cancel_futures:
            self._stop()
        else:
            self._pool.shutdown(wait=wait)


def _import_dask() -> Any:
    try:
        import distributed
    except ImportError:
        raise SchedulerError(
            "needs dask.distributed; install it with: pip install 'arsim[distributed]'"
        ) from None
    return distributed


def _is_main_guard(node: ast.AST) -> bool:
    """``if __name__ == "__main__":`` (either order)."""
    if not (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)):
        return False
    sides = [node.test.left, *node.test.comparators]
    names = {s.id for s in sides if isinstance(s, ast.Name)}
    texts = {s.value for s in sides if isinstance(s, ast.Constant)}
    return names == {"__name__"} and texts == {"__main__"}


def check_main_module() -> None:
    """Refuse to start worker processes that would re-run the calling script.

    Worker processes started by ``spawn`` or ``forkserver`` import the program's main script
    again (as ``__mp_main__``): whatever its top level does outside an
    ``if __name__ == "__main__":`` block runs again in every worker, so a sweep started at the
    top level of a script would start again in each of them; and a script read from standard
    input cannot be imported at all. Programs run with ``-c`` or ``-m``, notebooks and the
    ``arsim`` command are not affected.

    Raises
    ------
    SchedulerError
        Naming the script and line, and the two ways out (the guard, or one worker).
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None or getattr(getattr(main, "__spec__", None), "name", None):
        return
    if not os.path.isfile(path):
        raise SchedulerError(
            f"worker processes import the main script again, and {path} (read from standard "
            f"input?) cannot be imported: run it from a file, or use workers=1"
        )
    frame = inspect.currentframe()
    while frame is not None and not (
        frame.f_globals is vars(main) and frame.f_code.co_name == "<module>"
    ):
        frame = frame.f_back
    if frame is None:  # not called while the script's top level runs
        return
    line = frame.f_lineno
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return
    for node in tree.body:
        if _is_main_guard(node) and node.lineno <= line <= (node.end_lineno or node.lineno):
            return
    raise SchedulerError(
        f"{path}: line {line}: the local scheduler's worker processes import this script again "
        f'and would run the sweep again: put it under `if __name__ == "__main__":`, or use '
        f"workers=1"
    )


@contextlib.contextmanager
def open_executor(
    scheduler: str = "local", workers: int | None = None
) -> Iterator[tuple[Executor, int]]:
    """An executor for the tasks of a sweep, closed (and its cluster stopped) on exit.

    Parameters
    ----------
    scheduler : str
        ``local``: processes on this machine (``concurrent.futures.ProcessPoolExecutor``; with
        one worker, this process). ``local-dask``: a Dask ``LocalCluster`` of single-threaded
        worker processes on the loopback interface, started here and closed on exit.
        ``tcp://HOST:PORT``: an existing Dask cluster (its workers must have arsim installed);
        only the client is closed on exit.
    workers : int, optional
        Worker processes for ``local`` and ``local-dask`` (default: the number of CPUs); ignored
        for an existing cluster.

    Yields
    ------
    (Executor, int)
        The executor and how many tasks it runs at once.

    Raises
    ------
    SchedulerError
        If the scheduler is malformed, Dask is not installed, or the cluster cannot be reached;
        or if local worker processes would re-run the calling script
        (:func:`check_main_module`).
    """
    check_scheduler(scheduler)
    n = max(1, int(workers or os.cpu_count() or 1))
    if scheduler == "local":
        if n == 1:
            yield _SerialExecutor(), 1
            return
        check_main_module()
        pool = LocalPool(n)
        ok = False
        try:
            yield pool, n
            ok = True
        finally:
            pool.shutdown(wait=ok, cancel_futures=not ok)
        return
    distributed = _import_dask()
    import logging

    cluster = None
    try:
        if scheduler == "local-dask":
            cluster = distributed.LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                # no dashboard; the scheduler's HTTP endpoint on a free loopback port
                dashboard_address=None,
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                silence_logs=logging.ERROR,
            )
            client = distributed.Client(cluster)
        else:
            client = distributed.Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        raise SchedulerError(f"cannot reach the Dask scheduler: {exc}") from None
    try:
        slots = sum(client.nthreads().values()) or 1
        yield client.get_executor(pure=False), slots
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
