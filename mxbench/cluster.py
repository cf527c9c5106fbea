"""Where mxbench's parallel work runs: the local process pool, or a Dask cluster.

The local pool needs nothing beyond mxbench's own dependencies. A Dask cluster is named by a
*scheduler* string: ``"local:N"`` starts a :class:`distributed.LocalCluster` of ``N`` worker
processes on this machine (one thread each, shut down afterwards), and anything else is the
address of a running scheduler (``tcp://host:8786``, or whatever ``distributed.Client``
accepts), which ``dask-jobqueue`` (SLURM, PBS) or the Dask Kubernetes operator prints. The
environment variable :data:`SCHEDULER_ENV` gives the default. Dask is the optional extra
``mxbench[dask]``.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator

from mxbench.errors import MxbenchError

#: The environment variable naming the default scheduler (unset or empty: the local pool).
SCHEDULER_ENV = "MXBENCH_SCHEDULER"


class SchedulerError(MxbenchError):
    """A scheduler that cannot be used: a malformed ``local:N``, Dask not installed, no connection.

    Examples
    --------
    >>> issubclass(SchedulerError, MxbenchError)
    True
    """


def resolve_scheduler(scheduler: str | None = None) -> str | None:
    """The scheduler to use: ``scheduler`` if given, else :data:`SCHEDULER_ENV`, else None (local pool).

    Parameters
    ----------
    scheduler : str, optional
        ``"local:N"`` or a scheduler address.

    Returns
    -------
    str or None

    Raises
    ------
    SchedulerError
        ``local:N`` whose ``N`` is not a positive integer, or an empty string.

    Examples
    --------
    >>> resolve_scheduler("local:2")
    'local:2'
    >>> resolve_scheduler("local:zero")
    Traceback (most recent call last):
    ...
    mxbench.cluster.SchedulerError: scheduler: expected 'local:N' with N a positive integer, got 'local:zero'
    """
    value = scheduler if scheduler is not None else (os.environ.get(SCHEDULER_ENV) or None)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise SchedulerError(f"scheduler: expected 'local:N' or a scheduler address, got {value!r}")
    if value.startswith("local:"):
        n = value[len("local:"):]
        if not n.isdigit() or int(n) < 1:
            raise SchedulerError(f"scheduler: expected 'local:N' with N a positive integer, got {value!r}")
    return value


@contextmanager
def dask_client(scheduler: str, timeout: float = 30.0) -> Iterator[Any]:
    """A :class:`distributed.Client` on ``scheduler``; a cluster it started is shut down on exit.

    Parameters
    ----------
    scheduler : str
        ``"local:N"`` (a :class:`~distributed.LocalCluster` of ``N`` single-threaded worker
        processes) or a scheduler address.
    timeout : float
        Seconds to wait for the connection.

    Yields
    ------
    distributed.Client

    Raises
    ------
    SchedulerError
        Dask is not installed, the scheduler string is malformed, or no scheduler answers.

    Examples
    --------
    >>> with dask_client("local:1") as client:  # doctest: +SKIP
    ...     client.submit(sum, [1, 2]).result()
    3
    """
    scheduler = resolve_scheduler(scheduler)
    if scheduler is None:
        raise SchedulerError("scheduler: none given")
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SchedulerError("scheduler: Dask is not installed; install the extra: pip install 'mxbench[dask]'") from None
    cluster = None
    try:
        if scheduler.startswith("local:"):
            cluster = LocalCluster(n_workers=int(scheduler[len("local:"):]), threads_per_worker=1, processes=True,
                                   dashboard_address=":0")
            client = Client(cluster, timeout=timeout)
        else:
            client = Client(scheduler, timeout=timeout)
    except OSError as e:
        if cluster is not None:
            cluster.close()
        raise SchedulerError(f"scheduler: cannot connect to {scheduler!r}: {e}") from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
