"""Where mxbench's parallel work runs: the local process pool, or a Dask cluster.

The local pool needs nothing beyond mxbench's own dependencies. A Dask cluster is named by a
*scheduler* string: ``"local:N"`` starts a :class:`distributed.LocalCluster` of ``N`` worker
processes on this machine (one thread each, shut down afterwards), and anything else is the
address of a running scheduler (``tcp://host:8786``, or whatever ``distributed.Client``
accepts), which ``dask-jobqueue`` (SLURM, PBS) or the Dask Kubernetes operator prints. The
environment variable :data:`SCHEDULER_ENV` gives the default. Dask is the optional extra
``mxbench[dask]``.

On a cluster the trained models live where every worker reads them (:func:`storage_location`):
a local path (a shared file system) or an fsspec URL (``s3://...``), written by
:func:`upload_folder` and read through :func:`local_copy`.
"""

from __future__ import annotations

import os
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
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


def resolve_scheduler(scheduler: Any = None) -> Any:
    """The scheduler to use: ``scheduler`` if given, else :data:`SCHEDULER_ENV`, else None (local pool).

    Parameters
    ----------
    scheduler : str or distributed.Client, optional
        ``"local:N"``, a scheduler address, or a client already connected (returned as it is).

    Returns
    -------
    str, distributed.Client or None

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
    if value is None or _is_client(value):
        return value
    if not isinstance(value, str) or not value.strip():
        raise SchedulerError(f"scheduler: expected 'local:N' or a scheduler address, got {value!r}")
    if value.startswith("local:"):
        n = value[len("local:"):]
        if not n.isdigit() or int(n) < 1:
            raise SchedulerError(f"scheduler: expected 'local:N' with N a positive integer, got {value!r}")
    return value


def _is_client(value: Any) -> bool:
    """Whether ``value`` is a :class:`distributed.Client` (without importing distributed for a string)."""
    if value is None or isinstance(value, str):
        return False
    try:
        from distributed import Client
    except ImportError:
        return False
    return isinstance(value, Client)


@contextmanager
def dask_client(scheduler: Any, timeout: float | None = None) -> Iterator[Any]:
    """A :class:`distributed.Client` on ``scheduler``; a cluster it started is shut down on exit.

    Parameters
    ----------
    scheduler : str or distributed.Client
        ``"local:N"`` (a :class:`~distributed.LocalCluster` of ``N`` single-threaded worker
        processes), a scheduler address, or a client (yielded as it is and left open).
    timeout : float, optional
        Seconds to wait for the connection (default: Dask's ``distributed.comm.timeouts.connect``,
        30 s unless configured, e.g. by the environment variable
        ``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT``).

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
    if _is_client(scheduler):
        yield scheduler
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SchedulerError("scheduler: Dask is not installed; install the extra: "
                             "pip install 'mxbench[dask]'") from None
    cluster = None
    wait = {} if timeout is None else {"timeout": timeout}
    try:
        if scheduler.startswith("local:"):
            cluster = LocalCluster(n_workers=int(scheduler[len("local:"):]), threads_per_worker=1, processes=True,
                                   dashboard_address=":0")
            client = Client(cluster, **wait)
        else:
            client = Client(scheduler, **wait)
    except (OSError, ValueError, TypeError) as e:  # refused, timed out, not an address
        if cluster is not None:
            cluster.close()
        text = " ".join(str(e).split()) or type(e).__name__
        raise SchedulerError(f"scheduler: cannot connect to {scheduler!r}: {text}") from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# ---------------------------------------------------------------------------------------------
# Storage every worker reads: the model cache as a local path or an fsspec URL
# ---------------------------------------------------------------------------------------------
# On a cluster a worker must never read another worker's local disk, so trained models live
# where every worker reads them: a path on a shared file system (SLURM), or an fsspec URL
# (``s3://``, ``gs://``, ``memory://``...). A ``file://`` URL is a local path. Training jobs write
# a model folder there (``config.json`` last, so a folder with ``config.json`` is complete);
# units copy a remote folder into a local temporary folder of their worker process once
# (re-fetched when its ``config.json`` changes) and load it from there.

_FETCHED: dict[str, Any] = {}  # URL -> local copy, per process
_FETCH_LOCK = threading.Lock()
_FETCH_ROOT: list[str] = []  # the process's temporary folder of copies, made on first use
#: The file of a model folder written last and checked first: a folder holding it is complete.
MARKER = "config.json"


def is_url(location: Any) -> bool:
    """Whether ``location`` is an fsspec URL other than ``file://`` (``s3://``, ``memory://``, ...).

    Examples
    --------
    >>> is_url("s3://bucket/models"), is_url("file:///shared/models"), is_url("models")
    (True, False, False)
    """
    return isinstance(location, str) and "://" in location and not location.startswith("file://")


def storage_location(location: Any) -> Any:
    """A cache location as the runner keeps it: a :class:`~pathlib.Path` for a local path or a
    ``file://`` URL, else the URL as a string without a trailing slash.

    Parameters
    ----------
    location : str or Path
        A local path, ``file:///...``, or an fsspec URL such as ``s3://bucket/models``.

    Returns
    -------
    Path or str

    Examples
    --------
    >>> storage_location("file:///shared/models")
    PosixPath('/shared/models')
    >>> storage_location("s3://bucket/models/")
    's3://bucket/models'
    """
    if is_url(location):
        return location.rstrip("/")
    if isinstance(location, str) and location.startswith("file://"):
        from urllib.parse import unquote, urlparse

        return Path(unquote(urlparse(location).path))
    return Path(location)


def join_location(location: Any, name: str) -> Any:
    """``location / name`` for a local path, ``location + "/" + name`` for a URL.

    Examples
    --------
    >>> join_location("memory://models", "m1")
    'memory://models/m1'
    >>> join_location("models", "m1")
    PosixPath('models/m1')
    """
    location = storage_location(location)
    return f"{location}/{name}" if is_url(location) else location / name


def folder_complete(location: Any) -> bool:
    """Whether the folder at ``location`` (local path or URL) holds its :data:`MARKER` file.

    Examples
    --------
    >>> folder_complete("memory://nothing/here"), folder_complete("no/such/folder")
    (False, False)
    """
    location = storage_location(location)
    if not is_url(location):
        return (location / MARKER).is_file()
    fs, path = _fs(location)
    return bool(fs.isfile(f"{path}/{MARKER}"))


def upload_folder(local: Any, location: Any) -> Any:
    """Copy the files of the local folder ``local`` to ``location``, :data:`MARKER` last.

    A local ``location`` is written atomically (a temporary folder, then a rename); a URL file
    by file, the marker last, so a reader never takes a half-written folder for a complete one.

    Returns
    -------
    Path or str
        ``location`` (:func:`storage_location`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> src = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (src / "weights.pt").write_bytes(b"w"), (src / "config.json").write_text("{}")
    >>> upload_folder(src, "memory://doc-upload/m")
    'memory://doc-upload/m'
    >>> folder_complete("memory://doc-upload/m"), (local_copy("memory://doc-upload/m") / "weights.pt").read_bytes()
    (True, b'w')
    >>> sorted(p.name for p in upload_folder(src, src.parent / (src.name + "-copy")).iterdir())
    ['config.json', 'weights.pt']
    """
    import shutil

    local, location = Path(local), storage_location(location)
    files = sorted(p for p in local.rglob("*") if p.is_file())
    files.sort(key=lambda p: p.relative_to(local).as_posix() == MARKER)  # the marker last
    if not is_url(location):
        location.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{location.name}.", dir=location.parent))
        try:
            for p in files:
                (tmp / p.relative_to(local)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(p, tmp / p.relative_to(local))
            if location.exists():
                shutil.rmtree(location)
            os.replace(tmp, location)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return location
    fs, path = _fs(location)
    fs.makedirs(path, exist_ok=True)
    for p in files:
        fs.put_file(str(p), f"{path}/{p.relative_to(local).as_posix()}")
    return location


def local_copy(location: Any) -> Path:
    """A local folder with the files of the folder at ``location``.

    A local path is returned as it is. A URL is copied into a temporary folder of this
    process, once: the copy is reused while the remote :data:`MARKER` file is unchanged, and
    removed when the process exits.

    Examples
    --------
    >>> local_copy("models/m1")
    PosixPath('models/m1')
    """
    location = storage_location(location)
    if not is_url(location):
        return location
    fs, path = _fs(location)
    marker = fs.cat_file(f"{path}/{MARKER}")
    with _FETCH_LOCK:
        have = _FETCHED.get(location)
        if have is not None and (have / MARKER).is_file() and (have / MARKER).read_bytes() == marker:
            return have
        if not _FETCH_ROOT:
            import atexit
            import shutil

            _FETCH_ROOT.append(tempfile.mkdtemp(prefix="mxbench-models-"))
            atexit.register(shutil.rmtree, _FETCH_ROOT[0], True)
        dest = Path(tempfile.mkdtemp(dir=_FETCH_ROOT[0]))
        for remote in sorted(fs.find(path)):
            rel = remote[len(path):].lstrip("/")
            if rel == MARKER:
                continue
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(remote, str(dest / rel))
        (dest / MARKER).write_bytes(marker)  # the marker read above: the copy is of that version
        _FETCHED[location] = dest
        return dest


def _fs(url: str) -> tuple[Any, str]:
    """The fsspec file system of ``url`` and the path in it."""
    try:
        import fsspec
    except ImportError:
        raise SchedulerError(f"cache: {url!r} is a URL, which needs fsspec; install the extra: "
                             "pip install 'mxbench[dask]'") from None
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as e:
        raise SchedulerError(f"cache: cannot open {url!r}: {e}") from None
    return fs, path.rstrip("/")
