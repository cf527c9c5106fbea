"""Write tasks and suites to Parquet: streamed block by block, atomically, byte-for-byte reproducible."""

from __future__ import annotations

import ctypes
import errno
import functools
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mxbench.data.card import dataset_card
from mxbench.data.schema import (BIT_ORDER, CARD, FORMAT, MANIFEST, SCHEMA_VERSION, SHARDED_TABLES, SUITE_FORMAT,
                                 SUITE_MANIFEST, dataset_files, schema_of, shard_name)
from mxbench.errors import DatasetError, MxbenchError, SpecError
from mxbench.spec import TaskSpec, canonical_json
from mxbench.task import BLOCK, SPLITS, Block, TaskPlan

PARQUET_OPTIONS = {"compression": "zstd", "write_statistics": True}


def sha256_file(path: str | Path) -> str:
    """The SHA-256 of a file, read in 1 MiB chunks.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    str
        64 hex digits.

    Examples
    --------
    >>> import tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "x")
    >>> _ = open(f, "wb").write(b"abc")
    >>> sha256_file(f)[:16]
    'ba7816bf8f01cfea'
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


#: The prefix of the private folder a write goes to before it is renamed into place.
TMP_PREFIX = ".mxbench-tmp-"
#: The prefix of the private folder an overwritten output is moved into until the new one is in place.
OLD_PREFIX = ".mxbench-old-"
_PRIVATE_NAME = re.compile(r"^\.mxbench-(tmp|old)-(\d+)-([0-9a-f]{8})-([0-9a-f]+)$")
_MODEL_FORMAT = "mxbench-model"  # models/trained.py's FORMAT (the data package does not import the models)
_log = logging.getLogger(__name__)


class Terminated(SystemExit):
    """SIGTERM arrived while :func:`raise_on_sigterm` was in force.

    A ``SystemExit`` with code ``128 + SIGTERM`` (143 on Linux), so an uncaught one ends the
    process with the status a shell reports for a terminated command, after every ``finally``
    and ``except BaseException`` block on the way has run.

    Examples
    --------
    >>> issubclass(Terminated, SystemExit), Terminated(143).code
    (True, 143)
    """


@contextmanager
def raise_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into a :class:`Terminated` exception raised in the main thread, for the block.

    Only where it is safe and harmless: in the main thread, and only while SIGTERM has its
    default action (a handler someone else installed, e.g. the command line's, is left alone).
    The first SIGTERM raises; any further one while the block (and its clean-up) runs is
    ignored, so a second signal cannot cut the clean-up short. The previous action is restored
    on exit. :func:`atomic_dir` runs its write and its clean-up under this.

    Yields
    ------
    None

    Examples
    --------
    >>> import signal
    >>> try:
    ...     with raise_on_sigterm():
    ...         signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)  # what a SIGTERM runs
    ... except Terminated as e:
    ...     print("terminated", e.code)
    terminated 143
    >>> signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    True
    """
    if (not hasattr(signal, "SIGTERM") or threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return
    fired = False

    def handler(signum: int, frame: Any) -> None:
        nonlocal fired
        if not fired:
            fired = True
            raise Terminated(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` may exist on this machine (True when it cannot be told)."""
    if pid <= 0 or os.name == "nt":  # on Windows os.kill would end the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists but belongs to someone else
        return True
    return True


def _private_dir(parent: Path, prefix: str) -> Path:
    """A new folder ``<prefix><pid>-<host>-<random>`` in ``parent``, made by this call (never an existing one)."""
    for _ in range(100):
        path = parent / f"{prefix}{os.getpid()}-{_host_tag()}-{secrets.token_hex(6)}"
        try:
            os.mkdir(path)  # mode 0o777 & ~umask: a dataset is for sharing
        except FileExistsError:
            continue
        return path
    raise FileExistsError(errno.EEXIST, "no free temporary folder name", str(parent))


def clean_stale_temporaries(parent: str | Path) -> list[Path]:
    """Remove the temporary folders that writers which are no longer running left in ``parent``.

    A write goes to ``.mxbench-tmp-<pid>-<host>-<random>`` beside its target (``<host>``: 8 hex
    digits of the SHA-256 of the host name), and an overwritten output waits in
    ``.mxbench-old-<pid>-<host>-<random>/<name>`` until the new one is in place. A process
    killed outright (SIGKILL, power loss) leaves them behind. This removes such a folder only
    when its name has exactly that form, its host is this host and no process ``<pid>`` exists
    here; anything else (a live or unknown owner, another host sharing the folder, a name of
    another form, a file) is kept. A stale ``.mxbench-old-*`` whose ``<name>`` no longer exists
    in ``parent`` holds the only copy of an output whose replacement never arrived: it is
    renamed back to ``<name>`` instead of being removed. :func:`atomic_dir` calls this at the
    start of every write into ``parent``. These folders are private to mxbench (a random
    name that no other program writes into), so a stale one is removed whole. A reused PID
    only delays the clean-up (the folder is kept while that PID lives); on Windows nothing is
    removed. Writers that share a folder, a host name and not a PID namespace (containers
    run with the host's name) can mistake each other's live folders for stale ones: the
    write that loses its folder then fails with an error, and nothing else is removed.

    Parameters
    ----------
    parent : str or Path
        The folder to clean; a missing one is left alone.

    Returns
    -------
    list of Path
        The folders removed or restored.

    Examples
    --------
    >>> import os, subprocess, sys, tempfile
    >>> from pathlib import Path
    >>> parent = Path(tempfile.mkdtemp())
    >>> child = subprocess.Popen([sys.executable, "-c", "pass"]); _ = child.wait()
    >>> (parent / f".mxbench-tmp-{child.pid}-{_host_tag()}-00ff").mkdir()
    >>> (parent / f".mxbench-tmp-{os.getpid()}-{_host_tag()}-00ff").mkdir()
    >>> [p.name.split("-")[2] == str(child.pid) for p in clean_stale_temporaries(parent)]
    [True]
    >>> [p.split("-")[2] == str(os.getpid()) for p in os.listdir(parent)]
    [True]
    """
    parent = Path(parent)
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return []
    host, cleaned = _host_tag(), []
    for entry in entries:
        match = _PRIVATE_NAME.match(entry.name)
        if match is None or match.group(3) != host or _alive(int(match.group(2))):
            continue
        if not entry.is_dir(follow_symlinks=False):
            continue
        path = Path(entry.path)
        if match.group(1) == "old":
            try:
                inside = os.listdir(path)
            except OSError:
                continue
            if len(inside) == 1 and not os.path.lexists(parent / inside[0]):
                try:
                    _rename_noreplace(path / inside[0], parent / inside[0])
                except OSError:
                    continue
                _log.warning("restored %r from %r, left by process %s that is no longer running",
                             str(parent / inside[0]), str(path), match.group(2))
        shutil.rmtree(path, ignore_errors=True)
        cleaned.append(path)
    return cleaned


def _renameat2_noreplace(src: str, dst: str) -> int:
    """0 on success, else the errno of ``renameat2(RENAME_NOREPLACE)`` / ``renamex_np(RENAME_EXCL)``; -1 if absent."""
    global _LIBC
    if _LIBC is None:
        try:
            _LIBC = ctypes.CDLL(None, use_errno=True)
        except OSError:
            _LIBC = False
    if not _LIBC:
        return -1
    linux, mac = getattr(_LIBC, "renameat2", None), getattr(_LIBC, "renamex_np", None)
    if linux is not None:
        result = linux(-100, os.fsencode(src), -100, os.fsencode(dst), 1)  # AT_FDCWD, RENAME_NOREPLACE
    elif mac is not None:
        result = mac(os.fsencode(src), os.fsencode(dst), 4)  # RENAME_EXCL
    else:
        return -1
    return 0 if result == 0 else ctypes.get_errno()


_LIBC: Any = None
_UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, getattr(errno, "ENOTSUP", -2), getattr(errno, "EOPNOTSUPP", -2)}


def _rename_noreplace(src: str | Path, dst: str | Path) -> None:
    """Rename ``src`` to ``dst``, failing with ``FileExistsError`` if ``dst`` exists.

    Atomic where the system offers it (``renameat2(RENAME_NOREPLACE)`` on Linux,
    ``renamex_np(RENAME_EXCL)`` on macOS). Elsewhere (or on a file system that refuses the
    flag) it checks, then renames: ``rename`` itself refuses a file or a non-empty folder at
    ``dst``, so the only thing the gap can let through is an empty folder created in that
    instant, which is replaced; nothing with content is ever replaced.
    """
    src, dst = os.fspath(src), os.fspath(dst)
    code = _renameat2_noreplace(src, dst)
    if code == 0:
        return
    if code not in _UNSUPPORTED and code != -1:
        raise OSError(code, os.strerror(code), dst)
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst)
    try:
        os.rename(src, dst)
    except OSError as e:
        if e.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst) from None
        raise


class _NotOurs(Exception):
    """Why a folder is not mxbench's output (the message is the reason)."""


def _read_doc(path: Path, keys: Mapping[str, Any]) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise _NotOurs(f"its {path.name} is not readable JSON ({type(e).__name__})") from None
    if not isinstance(doc, dict):
        raise _NotOurs(f"its {path.name} is not a JSON object")
    for key, want in keys.items():
        value = doc.get(key)
        if not (value == want if isinstance(want, str) else isinstance(value, want) and not isinstance(value, bool)):
            expected = repr(want) if isinstance(want, str) else f"a {want.__name__}"
            raise _NotOurs(f"its {path.name} is not mxbench's: {key!r} is {value!r:.40}, not {expected}")
    return doc


def _plain(name: Any) -> bool:
    return isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name


def _only(folder: Path, allowed: set[str], doc: str) -> None:
    extra = sorted(set(os.listdir(folder)) - allowed)
    if extra:
        raise _NotOurs(f"it holds {extra[0]!r}, which {doc} does not list")


def _hash_matches(path: Path, sha: Any, doc: str) -> None:
    if path.is_symlink() or not path.is_file():
        raise _NotOurs(f"{path.name!r}, listed in {doc}, is missing or not a plain file")
    if sha256_file(path) != sha:
        raise _NotOurs(f"{path.name!r} does not match its SHA-256 in {doc}")


def _dataset_files(folder: Path) -> list[str]:
    doc = _read_doc(folder / MANIFEST, {"format": FORMAT, "schema_version": int, "mxbench_version": str,
                                        "files": dict})
    files = doc["files"]
    if not files or not all(_plain(n) and n != MANIFEST and isinstance(i, dict) and isinstance(i.get("sha256"), str)
                            for n, i in files.items()):
        raise _NotOurs(f"its {MANIFEST} lists no files or a malformed file entry")
    _only(folder, set(files) | {MANIFEST}, MANIFEST)
    for name, info in files.items():
        _hash_matches(folder / name, info["sha256"], MANIFEST)
    return [*files, MANIFEST]


def _suite_files(folder: Path) -> list[str]:
    doc = _read_doc(folder / SUITE_MANIFEST, {"format": SUITE_FORMAT, "schema_version": int, "tasks": list})
    tasks = doc["tasks"]
    if not tasks or not all(isinstance(t, dict) and _plain(t.get("name")) and t["name"] != SUITE_MANIFEST
                            and isinstance(t.get("manifest_sha256"), str) for t in tasks):
        raise _NotOurs(f"its {SUITE_MANIFEST} lists no tasks or a malformed task entry")
    _only(folder, {t["name"] for t in tasks} | {SUITE_MANIFEST}, SUITE_MANIFEST)
    files = []
    for task in tasks:
        sub = folder / task["name"]
        if sub.is_symlink() or not sub.is_dir():
            raise _NotOurs(f"{task['name']!r}, listed in {SUITE_MANIFEST}, is missing or not a folder")
        _hash_matches(sub / MANIFEST, task["manifest_sha256"], f"{SUITE_MANIFEST} (task {task['name']!r})")
        try:
            files += [f"{task['name']}/{name}" for name in _dataset_files(sub)]
        except _NotOurs as e:
            raise _NotOurs(f"its task {task['name']!r}: {e}") from None
    return files + [task["name"] for task in tasks] + [SUITE_MANIFEST]


def _model_files(folder: Path) -> list[str]:
    doc = _read_doc(folder / "config.json", {"format": _MODEL_FORMAT, "schema_version": int, "mxbench_version": str,
                                             "arch": str, "weights_sha256": str})
    _only(folder, {"config.json", "weights.pt"}, "config.json")
    _hash_matches(folder / "weights.pt", doc["weights_sha256"], "config.json")
    return ["weights.pt", "config.json"]


_KINDS = {MANIFEST: ("mxbench dataset", _dataset_files), SUITE_MANIFEST: ("mxbench suite", _suite_files),
          "config.json": ("mxbench model", _model_files)}


def _owned(folder: Path, markers: tuple[str, ...]) -> tuple[str, list[str]]:
    """What ``folder`` is and the entries (files, then folders, relative) mxbench wrote there; raises ``_NotOurs``."""
    try:
        if folder.is_symlink() or not folder.is_dir():
            raise _NotOurs("it is not a folder")
        if not any(folder.iterdir()):
            return "an empty folder", []
        present = [m for m in markers if (folder / m).is_file()]
        if not present:
            raise _NotOurs(f"it holds none of {', '.join(markers)}")
        reasons = []
        for marker in present:
            if marker not in _KINDS:
                reasons.append(f"mxbench writes no {marker}")
                continue
            kind, files_of = _KINDS[marker]
            try:
                return kind, files_of(folder)
            except _NotOurs as e:
                reasons.append(str(e))
        raise _NotOurs("; ".join(reasons))
    except OSError as e:
        raise _NotOurs(f"it cannot be read ({e.strerror or e})") from None


def check_replaceable(folder: str | Path, markers: tuple[str, ...] = (MANIFEST, SUITE_MANIFEST)) -> str:
    """Say what an overwrite of ``folder`` would replace, or refuse: only mxbench's own output is replaced.

    A folder qualifies when it is empty, or when it is exactly what mxbench writes, checked
    by content and not by a file's name:

    * a dataset (marker ``manifest.json``): the manifest has mxbench's ``format``,
      ``schema_version`` and ``mxbench_version``, every file it lists is there with the
      SHA-256 it records, and nothing else is in the folder;
    * a suite (``suite.json``): mxbench's suite format, and nothing but the datasets it lists,
      each passing the dataset test, its ``manifest.json`` with the SHA-256 recorded;
    * a model folder (``config.json``): mxbench's model format, keys and version, ``weights.pt``
      with the ``weights_sha256`` recorded, and nothing else.

    Parameters
    ----------
    folder : str or Path
        The existing folder.
    markers : tuple of str
        The kinds of output accepted, by their manifest's name.

    Returns
    -------
    str
        What the folder is, e.g. ``"mxbench dataset"``, ``"mxbench suite"`` or ``"an empty folder"``.

    Raises
    ------
    DatasetError
        The folder is not one of those; the message names it and says why.

    Examples
    --------
    >>> import json, os, tempfile
    >>> web = tempfile.mkdtemp()
    >>> _ = open(os.path.join(web, "manifest.json"), "w").write(json.dumps({"name": "my app"}))
    >>> try:
    ...     check_replaceable(web)
    ... except DatasetError as e:
    ...     print(str(e).split(" exists and ")[1])
    its manifest.json is not mxbench's: 'format' is None, not 'mxbench-dataset': it is not mxbench's output; refusing to overwrite it
    """
    folder = Path(folder)
    try:
        return _owned(folder, tuple(markers))[0]
    except _NotOurs as e:
        raise DatasetError(f"out: {str(folder)!r} exists and {e}: it is not mxbench's output; refusing to "
                           "overwrite it") from None


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _make_parents(parent: Path, made: list[Path]) -> None:
    """Create ``parent`` and its missing ancestors, appending to ``made`` each folder this call created."""
    missing = []
    while not os.path.lexists(parent):
        missing.append(parent)
        parent = parent.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder)
        except FileExistsError:  # made by someone else meanwhile: not ours to remove
            continue
        made.append(folder)


def _remove_listed(folder: Path, entries: list[str]) -> bool:
    """Remove the files, then the folders, ``entries`` names in ``folder``, then ``folder``; False if anything stays."""
    for name in entries:
        path = folder / name
        if not path.is_dir() or path.is_symlink():
            with suppress(FileNotFoundError):
                os.unlink(path)
    for name in sorted((n for n in entries if (folder / n).is_dir()), key=len, reverse=True):
        with suppress(OSError):
            os.rmdir(folder / name)
    try:
        os.rmdir(folder)
    except OSError:
        return False
    return True


def _set_aside(target: Path, identity: Any, markers: tuple[str, ...], out: Path) -> tuple[Path, list[str]]:
    """Move the output being overwritten into a private folder, re-checked there; put back and refuse if it changed."""
    changed = (f"out: {str(out)!r} changed while this run was writing it ({{}}); it was left as it is and this run's "
               "output was discarded")
    if _identity(target) != identity:
        raise DatasetError(changed.format("it was removed or replaced"))
    old = _private_dir(target.parent, OLD_PREFIX)
    moved = old / target.name
    try:
        os.rename(target, moved)
    except OSError as e:
        os.rmdir(old)
        if isinstance(e, FileNotFoundError):
            raise DatasetError(changed.format("it was removed or replaced")) from None
        raise
    try:
        if _identity(moved) != identity:
            raise _NotOurs("it was replaced")
        _, entries = _owned(moved, markers)
    except _NotOurs as e:
        try:
            _rename_noreplace(moved, target)
            os.rmdir(old)
        except OSError:
            raise DatasetError(changed.format(e).replace("it was left as it is", f"it is kept in {str(moved)!r}")) \
                from None
        raise DatasetError(changed.format(e)) from None
    return old, entries


@contextmanager
def atomic_dir(out: str | Path, overwrite: bool = False,
               markers: tuple[str, ...] = (MANIFEST, SUITE_MANIFEST)) -> Iterator[Path]:
    """Yield a private temporary folder beside ``out`` that becomes ``out`` only if the block succeeds.

    What it guarantees:

    * **It removes only what it created.** The block writes into
      ``.mxbench-tmp-<pid>-<host>-<random>``, a folder this call creates under a fresh name;
      on any error, KeyboardInterrupt or SIGTERM (see :func:`raise_on_sigterm`) that folder is
      removed. Parent folders this call created are removed only if they are empty by then
      (``os.rmdir``), so what other programs put there meanwhile stays.
    * **It never replaces what appeared meanwhile.** The final rename fails if ``out`` exists
      (``renameat2(RENAME_NOREPLACE)`` on Linux, ``renamex_np(RENAME_EXCL)`` on macOS; elsewhere
      check-then-rename, where ``rename`` itself refuses anything but an empty folder). Of two
      runs writing one target, the first to finish wins and the other fails with a
      ``DatasetError`` naming the target, removing nothing of the winner's.
    * **It overwrites only mxbench's own output** (``overwrite=True``): ``out`` must pass
      :func:`check_replaceable` before the write and again at the end, once moved into a private
      ``.mxbench-old-*`` folder, and still be the same folder (device and inode); otherwise it
      is put back and the write refused. Replacing is two renames in a row (old aside, new in);
      the old output is then removed file by file, only the files its manifest lists. The
      replacement is logged at INFO on this module's logger.
    * **It cleans up after killed writers**: :func:`clean_stale_temporaries` runs on the parent
      first.

    Parameters
    ----------
    out : str or Path
        The folder to create (its parent folders are created as needed).
    overwrite : bool
        Replace ``out`` if it exists (otherwise that is an error); only an empty folder or one
        that :func:`check_replaceable` accepts for ``markers`` is replaced.
    markers : tuple of str
        The kinds of mxbench output that may be replaced, by manifest name: ``manifest.json``
        (a dataset), ``suite.json`` (a suite), ``config.json`` (a model folder).

    Yields
    ------
    Path
        The temporary folder to write into.

    Raises
    ------
    DatasetError
        ``out`` exists and ``overwrite`` is False or it is not mxbench's output, it appeared or
        changed during the write, or its parent folder cannot be written.

    Examples
    --------
    >>> import tempfile, os
    >>> out = os.path.join(tempfile.mkdtemp(), "ds")
    >>> with atomic_dir(out) as tmp:
    ...     _ = (tmp / "a.txt").write_text("x")
    >>> sorted(os.listdir(out))
    ['a.txt']
    """
    out = Path(out)
    markers = tuple(markers)
    try:
        exists = os.path.lexists(out)
        here = Path.cwd().resolve()
        target = out.resolve()
    except OSError as e:
        raise DatasetError(f"out: unusable path {str(out)!r}: {e.strerror}") from None
    identity = None
    if exists:
        if not overwrite:
            raise DatasetError(f"out: {str(out)!r} already exists (choose another folder or overwrite it)")
        if target == here or target in here.parents:
            raise DatasetError(f"out: {str(out)!r} is or contains the current folder; it cannot be overwritten")
        try:
            what = _owned(target, markers)[0]
        except _NotOurs as e:
            raise DatasetError(f"out: {str(out)!r} exists and {e}: it is not mxbench's output; refusing to "
                               "overwrite it") from None
        identity = _identity(target)
    parent = target.parent
    made: list[Path] = []
    tmp: Path | None = None
    old: Path | None = None
    entries: list[str] = []
    with raise_on_sigterm():
        try:
            _make_parents(parent, made)
            clean_stale_temporaries(parent)
            tmp = _private_dir(parent, TMP_PREFIX)
            yield tmp
            if exists:
                old, entries = _set_aside(target, identity, markers, out)
            try:
                _rename_noreplace(tmp, target)
            except FileExistsError:
                raise DatasetError(f"out: {str(out)!r} appeared while this run was writing it (another run finished "
                                   "it first?); it was left as it is and this run's output was discarded") from None
            tmp = None
            if old is not None:
                _log.info("out: replaced %s %r", what, str(out))
        except BaseException as e:
            if old is not None:
                moved = old / target.name
                try:
                    _rename_noreplace(moved, target)  # put the previous output back
                    os.rmdir(old)
                except OSError:
                    _log.warning("out: the previous content of %r is kept in %r", str(out), str(moved))
                old = None
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)  # private to this call: nobody else writes there
            for folder in reversed(made):
                try:
                    os.rmdir(folder)  # only if empty: what others wrote there stays
                except OSError:
                    break
            if isinstance(e, OSError):
                raise DatasetError(f"out: cannot write {str(out)!r}: {e.strerror or e}") from None
            raise
        finally:
            if old is not None and not _remove_listed(old / target.name, entries):
                _log.warning("out: %r holds files mxbench did not write; it was left there", str(old / target.name))
            elif old is not None:
                with suppress(OSError):
                    os.rmdir(old)


def _fixed_list(values: np.ndarray, pa_type: pa.DataType) -> pa.Array:
    flat = np.ascontiguousarray(values).reshape(len(values), -1)
    return pa.FixedSizeListArray.from_arrays(pa.array(flat.ravel()), flat.shape[1])


def _strings(values: Any, indices: np.ndarray) -> pa.Array:
    """The string column ``values[indices]``, built in Arrow from a dictionary."""
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32)), pa.array(list(values))).cast(pa.string())


class _TableWriters:
    """One streaming ParquetWriter per per-instance table, a row group per block.

    Parquet encoding and compression run on one background thread (pyarrow releases the
    GIL) while the next block is generated; at most one block waits to be written, and
    blocks are written in order, so the files are the same as with a serial writer. Each
    table goes to its sink: a file path, or an in-memory stream (a shard made on a worker).
    """

    def __init__(self, plan: TaskPlan, sinks: Mapping[str, Any]) -> None:
        self.plan = plan
        self.writers = {t: pq.ParquetWriter(sinks[t], schema_of(t, plan.spec), **PARQUET_OPTIONS)
                        for t in SHARDED_TABLES}
        self.rows = {t: 0 for t in SHARDED_TABLES}
        pairs = plan.pairs()
        self.pair_ids = pairs[["i", "j"]].to_numpy()
        self.pair_kinds = pairs["kind"].to_numpy().astype(str)
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending: list[Future] = []

    def write_block(self, block: Block) -> None:
        plan = self.plan
        spec = plan.spec
        m, n = len(block), plan.n_players
        self._wait()
        ids = np.arange(block.start, block.start + m, dtype=np.int64)
        self._write("instances", [pa.array(ids), _strings(SPLITS, block.split), pa.array(block.target),
                                  pa.array(block.f)]
                    + [_fixed_list(block.inputs[mod.name], None) for mod in spec.modalities])

        terms = plan.terms
        tables = [t.table(block.latents[:, list(t.ids)]) for t in terms]
        n_terms = len(terms)
        if n_terms:
            sizes = np.array([tab.shape[1] for tab in tables])
            flat = np.concatenate(tables, axis=1).ravel()
            offsets = np.concatenate([[0], np.cumsum(np.tile(sizes, m))]).astype(np.int32)
            player_lists = [np.array(t.ids, dtype=np.int32) for t in terms]
            p_sizes = np.tile([len(p) for p in player_lists], m)
            p_offsets = np.concatenate([[0], np.cumsum(p_sizes)]).astype(np.int32)
            p_values = np.tile(np.concatenate(player_lists), m)
            self._write("terms", [
                pa.array(np.repeat(ids, n_terms)), pa.array(np.tile(np.arange(n_terms, dtype=np.int32), m)),
                _strings([t.kind for t in terms], np.tile(np.arange(n_terms), m)),
                _strings([t.op for t in terms], np.tile(np.arange(n_terms), m)),
                pa.ListArray.from_arrays(pa.array(p_offsets), pa.array(p_values, type=pa.int32())),
                pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, type=pa.float64()))])

        oracle = plan.oracle(block.latents)
        self._write("attributions", [pa.array(np.repeat(ids, n)), pa.array(np.tile(np.arange(n, dtype=np.int32), m)),
                                     pa.array(oracle.shapley().ravel()), pa.array(oracle.banzhaf().ravel())])
        n_pairs = len(self.pair_ids)
        if n_pairs:
            sii = oracle.pair_values(self.pair_ids, "SII")
            self._write("pairs", [pa.array(np.repeat(ids, n_pairs)),
                                  pa.array(np.tile(self.pair_ids[:, 0].astype(np.int32), m)),
                                  pa.array(np.tile(self.pair_ids[:, 1].astype(np.int32), m)),
                                  _strings(self.pair_kinds, np.tile(np.arange(n_pairs), m)), pa.array(sii.ravel())])
        n_mod = len(spec.modalities)
        self._write("modalities", [pa.array(np.repeat(ids, n_mod)), _strings(spec.modality_names, np.tile(np.arange(n_mod), m)),
                                   pa.array(oracle.modality_shapley().ravel()),
                                   pa.array(oracle.modality_influence().ravel())])

    def _write(self, table: str, columns: list[pa.Array]) -> None:
        schema = schema_of(table, self.plan.spec)
        batch = pa.Table.from_arrays([c.cast(f.type) for c, f in zip(columns, schema)], schema=schema)
        self._pending.append(self._pool.submit(self.writers[table].write_table, batch))
        self.rows[table] += batch.num_rows

    def _wait(self) -> None:
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()

    def close(self) -> None:
        try:
            self._wait()
        finally:
            self._pool.shutdown(wait=True)
            for w in self.writers.values():
                w.close()


def manifest_of(plan: TaskPlan, n_instances: int, shards: list[tuple[int, int]] | None = None) -> dict[str, Any]:
    """The manifest of a dataset, without the file hashes.

    Parameters
    ----------
    plan : TaskPlan
        The task's plan.
    n_instances : int
        The number of instances written.
    shards : list of (int, int), optional
        The instance range ``[start, stop)`` of each shard (:func:`shard_ranges`); with more
        than one, the manifest gets the key ``shards``, ``[{"start": ..., "stop": ...}, ...]``.
        Unsharded (the default, or one range), there is no such key.

    Returns
    -------
    dict
        The format and schema version, the spec and its hash, the resolved terms, the
        codebooks, the shares and the bit order; :func:`write` adds ``files``.

    Examples
    --------
    >>> from mxbench.generators.suites import suite_specs
    >>> m = manifest_of(TaskPlan.from_spec(suite_specs("smoke")[0]), 10)
    >>> m["schema_version"], m["instances"], len(m["terms"]), "shards" in m
    (1, 10, 4, False)
    >>> manifest_of(TaskPlan.from_spec(suite_specs("smoke")[0]), 10, [(0, 5), (5, 10)])["shards"]
    [{'start': 0, 'stop': 5}, {'start': 5, 'stop': 10}]
    """
    from mxbench._version import __version__

    spec = plan.spec
    manifest = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "mxbench_version": __version__,
        "pyarrow_version": pa.__version__,
        "name": spec.name,
        "seed": spec.seed,
        "instances": n_instances,
        "players": plan.n_players,
        "spec": spec.to_dict(),
        "spec_hash": spec.spec_hash(),
        "terms": [t.to_dict() for t in plan.terms],
        "intercept": spec.intercept,
        "codebooks": {r.spec.name: r.codebook() for r in plan.renderers},
        "shares": plan.shares,
        "splits": list(SPLITS),
        "bit_order": BIT_ORDER,
    }
    if shards is not None and len(shards) > 1:
        manifest["shards"] = [{"start": int(a), "stop": int(b)} for a, b in shards]
    return manifest


def check_shards(shards: Any, n_instances: int, task: str | None = None) -> int:
    """Check a number of shards for a task of ``n_instances`` instances and return it as an int.

    Parameters
    ----------
    shards : int
        The number of shards asked for.
    n_instances : int
        The task's number of instances: every shard holds at least one.
    task : str, optional
        The task's name, for the message.

    Returns
    -------
    int

    Raises
    ------
    SpecError
        ``shards`` is not an integer (a bool, a float, a string) or is not in ``1..n_instances``;
        the message names ``shards`` and the value.

    Examples
    --------
    >>> check_shards(4, 100)
    4
    >>> check_shards(0, 100)
    Traceback (most recent call last):
    ...
    mxbench.errors.SpecError: shards: expected an integer from 1 to 100 (the number of instances), got 0
    """
    of = f" of task {task!r}" if task else ""
    if isinstance(shards, (bool, np.bool_)) or not isinstance(shards, (int, np.integer)):
        raise SpecError("shards", f"expected an integer from 1 to {n_instances} (the number of instances{of}), "
                        f"got {shards!r}")
    if not 1 <= shards <= n_instances:
        raise SpecError("shards", f"expected an integer from 1 to {n_instances} (the number of instances{of}), "
                        f"got {int(shards)}")
    return int(shards)


def shard_ranges(n_instances: int, shards: int = 1) -> list[tuple[int, int]]:
    """The instance range ``[start, stop)`` of each shard of a task: contiguous, in order, none empty.

    Shards are cut at block boundaries (multiples of ``BLOCK``, 4096) with the blocks spread
    as evenly as they go, so a shard is a run of whole blocks (the last one possibly short, as
    unsharded). Only when there are more shards than blocks are they cut inside blocks, into
    near-equal runs of instances. Either way every instance has the values it has unsharded:
    a block is drawn whole from its own random stream and then cut.

    Parameters
    ----------
    n_instances : int
        The task's number of instances.
    shards : int
        The number of shards, ``1..n_instances`` (:func:`check_shards`).

    Returns
    -------
    list of (int, int)

    Raises
    ------
    SpecError
        ``shards`` is not an integer in ``1..n_instances``.

    Examples
    --------
    >>> shard_ranges(10_000, 2)
    [(0, 4096), (4096, 10000)]
    >>> shard_ranges(10, 3)
    [(0, 3), (3, 6), (6, 10)]
    """
    shards = check_shards(shards, n_instances)
    blocks = -(-n_instances // BLOCK)
    if shards <= blocks:
        cuts = [min(n_instances, BLOCK * (k * blocks // shards)) for k in range(shards + 1)]
    else:
        cuts = [k * n_instances // shards for k in range(shards + 1)]
    return list(zip(cuts[:-1], cuts[1:]))


def _write_players(plan: TaskPlan, path: Path) -> int:
    frame = plan.players()
    schema = schema_of("players", plan.spec)
    # from plain Arrow arrays: Table.from_pandas would store the pandas version in the file
    table = pa.Table.from_arrays([pa.array(frame[f.name].to_numpy()).cast(f.type) for f in schema], schema=schema)
    pq.write_table(table, path, **PARQUET_OPTIONS)
    return len(frame)


def _stream_shard(plan: TaskPlan, start: int, stop: int, sinks: Mapping[str, Any],
                  progress: Any = None) -> dict[str, int]:
    """Generate instances ``start..stop-1`` block by block into one sink per per-instance table; their rows."""
    writers = _TableWriters(plan, sinks)
    try:
        for block in plan.blocks(stop, start=start):
            writers.write_block(block)
            if progress is not None:
                progress.update(len(block))
    finally:
        writers.close()
    return writers.rows


def _versions() -> dict[str, str]:
    """What the bytes of a shard depend on besides the spec: the versions of mxbench, pyarrow and numpy."""
    from mxbench._version import __version__

    return {"mxbench": __version__, "pyarrow": pa.__version__, "numpy": np.__version__}


@functools.lru_cache(maxsize=4)
def _plan_of(spec_json: str) -> TaskPlan:
    return TaskPlan.from_spec(TaskSpec.from_dict(json.loads(spec_json)))


def shard_parquet(spec: Mapping[str, Any], start: int, stop: int, spec_hash: str | None = None) -> dict[str, Any]:
    """Generate instances ``start..stop-1`` of a task and return that shard's tables as Parquet bytes.

    What a Dask worker runs for ``write(..., scheduler=...)``: the bytes are those the local
    writer puts in the shard's files (the same plan, blocks and Parquet options), and the
    client writes them; a worker never touches the client's disk. The plan is drawn from the
    spec on the worker (and kept for its next shards of the same spec).

    Parameters
    ----------
    spec : dict
        The task's spec as a dict (``TaskSpec.to_dict()``, instance count included).
    start, stop : int
        The shard's instance range ``[start, stop)``.
    spec_hash : str, optional
        The spec hash the client expects; a worker whose spec hashes otherwise refuses.

    Returns
    -------
    dict
        ``tables``: table name -> the Parquet file's bytes (``SHARDED_TABLES``); ``rows``:
        table name -> rows; ``versions``: the mxbench, pyarrow and numpy versions that made
        them.

    Raises
    ------
    SpecError
        The spec is invalid or does not have ``spec_hash``.

    Examples
    --------
    >>> from mxbench.generators.suites import suite_specs
    >>> out = shard_parquet(suite_specs("smoke")[0].with_overrides(instances=10).to_dict(), 4, 10)
    >>> out["rows"]["instances"], out["tables"]["instances"][:4]
    (6, b'PAR1')
    """
    plan = _plan_of(canonical_json(dict(spec)))
    if spec_hash is not None and plan.spec.spec_hash() != spec_hash:
        raise SpecError("spec", f"hashes to {plan.spec.spec_hash()[:12]} on this worker, the client's is "
                        f"{spec_hash[:12]}")
    sinks = {t: pa.BufferOutputStream() for t in SHARDED_TABLES}
    rows = _stream_shard(plan, start, stop, sinks)
    return {"tables": {t: sinks[t].getvalue().to_pybytes() for t in SHARDED_TABLES}, "rows": rows,
            "versions": _versions()}


def _shard_file(table: str, shard: int, n_shards: int) -> str:
    return f"{table}.parquet" if n_shards == 1 else shard_name(table, shard, n_shards)


def _file_info(path: Path, rows: int | None) -> dict[str, Any]:
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size, "rows": rows}


def _local_shards(plan: TaskPlan, ranges: list[tuple[int, int]], folder: Path, progress: Any) -> dict[str, dict]:
    """Each shard in turn, streamed block by block into its files: one block in memory at a time."""
    files = {}
    for k, (start, stop) in enumerate(ranges):
        names = {t: _shard_file(t, k, len(ranges)) for t in SHARDED_TABLES}
        rows = _stream_shard(plan, start, stop, {t: folder / name for t, name in names.items()}, progress)
        files.update({name: _file_info(folder / name, rows[t]) for t, name in names.items()})
    return files


def _cluster_shards(client: Any, plan: TaskPlan, ranges: list[tuple[int, int]], folder: Path,
                    progress: Any) -> dict[str, dict]:
    """Each shard made on a Dask worker and returned as bytes; the client writes the files as they arrive.

    At most two shards per worker thread are submitted or waiting at any time, and each
    result is released once written, so neither the client nor the workers hold more than a
    few shards whatever their number.
    """
    from distributed import as_completed

    from mxbench.cluster import SchedulerError

    spec_doc, spec_hash, mine = plan.spec.to_dict(), plan.spec.spec_hash(), _versions()
    window = max(2, 2 * sum(client.nthreads().values()))
    todo = iter(enumerate(ranges))
    live: dict[str, tuple[int, Any]] = {}  # key -> (shard, future) of the shards submitted and not yet written
    running = as_completed()

    def submit() -> None:
        item = next(todo, None)
        if item is not None:
            k, (start, stop) = item
            future = client.submit(shard_parquet, spec_doc, start, stop, spec_hash,
                                   key=f"mxbench-shard-{spec_hash[:12]}-{k}-{secrets.token_hex(4)}")
            live[future.key] = (k, future)
            running.add(future)

    files = {}
    try:
        for _ in range(window):
            submit()
        for future in running:
            k, _ = live.pop(future.key)
            try:
                result = future.result()
            except MxbenchError:
                raise
            except Exception as e:  # a worker that died, cannot import mxbench, ran out of memory, ...
                raise SchedulerError(f"scheduler: shard {k} (instances {ranges[k][0]}..{ranges[k][1] - 1}) failed "
                                     f"on the cluster: {type(e).__name__}: {e}") from e
            future.release()
            if result["versions"] != mine:
                raise SchedulerError(f"scheduler: a worker runs {result['versions']}, this process {mine}: the "
                                     "shards would differ from local generation; install the same versions there")
            start, stop = ranges[k]
            for t in SHARDED_TABLES:
                name = _shard_file(t, k, len(ranges))
                data = result["tables"][t]
                (folder / name).write_bytes(data)
                files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                               "rows": result["rows"][t]}
            del result
            if progress is not None:
                progress.update(stop - start)
            submit()
    finally:
        running.clear()
        if live:
            with suppress(Exception):
                client.cancel([future for _, future in live.values()])
    return files


def _write_task(plan: TaskPlan, n_instances: int, folder: Path, progress: Any = None, shards: int = 1,
                client: Any = None) -> dict[str, Any]:
    ranges = shard_ranges(n_instances, shards)
    players = folder / "players.parquet"
    files = {players.name: _file_info(players, _write_players(plan, players))}
    if client is None:
        files.update(_local_shards(plan, ranges, folder, progress))
    else:
        files.update(_cluster_shards(client, plan, ranges, folder, progress))
    manifest = manifest_of(plan, n_instances, ranges)
    (folder / CARD).write_text(dataset_card(manifest), encoding="utf-8")
    files[CARD] = _file_info(folder / CARD, None)
    manifest["files"] = {name: files[name] for name in dataset_files(len(ranges))}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def write(spec: TaskSpec | Mapping[str, Any] | str, out: str | Path, *, instances: int | None = None,
          seed: int | None = None, overwrite: bool = False, progress: bool = False, shards: int = 1,
          scheduler: Any = None) -> Path:
    """Generate a task, or every task of a named suite, straight to a Parquet dataset folder.

    Instances stream through in blocks, so memory stays flat however many there are. The
    folder appears only when everything is written (temp folder, then rename); on any
    error nothing is left behind. The same spec, seed and mxbench version give
    byte-identical files.

    With ``shards=K`` each task's instances are split into ``K`` contiguous ranges
    (:func:`shard_ranges`) generated independently, and every per-instance table is written
    as ``K`` files in the Hugging Face layout, ``instances-00000-of-0000K.parquet`` and so on
    (``players.parquet`` stays one file); the manifest lists each file and the ranges, and the
    values are those of the unsharded dataset. ``shards=1`` writes the unsharded layout. With
    a ``scheduler`` (or :data:`~mxbench.cluster.SCHEDULER_ENV` set) the shards are generated on
    a Dask cluster, each on a worker as Parquet bytes that this process writes: the files are
    byte-identical to those written here with the same ``shards``. Without one they are
    generated here one after the other.

    Parameters
    ----------
    spec : TaskSpec, dict or str
        A spec, a spec dict, or a suite name (then ``out`` holds one dataset per task and a
        ``suite.json``).
    out : str or Path
        The folder to create.
    instances, seed : int, optional
        Overrides of the spec's instance count and seed.
    overwrite : bool
        Replace ``out`` if it exists (otherwise that is an error).
    progress : bool
        Show a progress bar on stderr.
    shards : int
        The number of shards of each task, from 1 (the default: one file per table) to its
        number of instances.
    scheduler : str or distributed.Client, optional
        ``"local:N"``, a Dask scheduler's address or a connected client
        (:func:`~mxbench.cluster.resolve_scheduler`): generate the shards on that cluster.
        Default: the environment variable ``MXBENCH_SCHEDULER``, else here.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    SpecError
        A bad spec, or ``shards`` not an integer from 1 to a task's number of instances
        (nothing is written).
    SchedulerError
        The scheduler is malformed or cannot be reached, or a worker runs other versions of
        mxbench, pyarrow or numpy (nothing is left behind).
    DatasetError
        ``out`` exists (and ``overwrite`` is False or it is not mxbench's), or cannot be written.

    Examples
    --------
    >>> import tempfile, os
    >>> out = write("smoke", os.path.join(tempfile.mkdtemp(), "smoke"), instances=16)
    >>> sorted(os.listdir(out))
    ['smoke-img-txt', 'smoke-mix3', 'smoke-tab-txt', 'suite.json']
    >>> from mxbench.generators.suites import suite_specs
    >>> out = write(suite_specs("smoke")[0], os.path.join(tempfile.mkdtemp(), "t"), instances=10, shards=2)
    >>> sorted(os.listdir(out))[:3]
    ['README.md', 'attributions-00000-of-00002.parquet', 'attributions-00001-of-00002.parquet']
    """
    from tqdm.auto import tqdm

    from mxbench.cluster import dask_client, resolve_scheduler

    if isinstance(spec, str):
        from mxbench.generators.suites import suite_specs

        specs, suite = suite_specs(spec), spec
    else:
        specs, suite = [spec if isinstance(spec, TaskSpec) else TaskSpec.from_dict(spec)], None
    if instances is not None or seed is not None:
        specs = [s.with_overrides(seed=seed, instances=instances) for s in specs]
    for s in specs:
        shards = check_shards(shards, s.instances, s.name if suite else None)
    scheduler = resolve_scheduler(scheduler)
    plans = [TaskPlan.from_spec(s) for s in specs]
    total = sum(s.instances for s in specs)
    with ExitStack() as stack:
        client = stack.enter_context(dask_client(scheduler)) if scheduler is not None else None
        tmp = stack.enter_context(atomic_dir(out, overwrite))
        bar = stack.enter_context(tqdm(total=total, unit="inst", disable=not progress, desc=suite or specs[0].name))
        if suite is None:
            _write_task(plans[0], specs[0].instances, tmp, bar, shards, client)
        else:
            tasks = []
            for plan in plans:
                folder = tmp / plan.spec.name
                folder.mkdir()
                _write_task(plan, plan.spec.instances, folder, bar, shards, client)
                tasks.append({"name": plan.spec.name, "manifest_sha256": sha256_file(folder / MANIFEST)})
            doc = {"format": SUITE_FORMAT, "schema_version": SCHEMA_VERSION, "suite": suite, "tasks": tasks}
            (tmp / SUITE_MANIFEST).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return Path(out)


__all__ = ["write", "shard_ranges", "check_shards", "shard_parquet",
           "sha256_file", "atomic_dir", "check_replaceable", "clean_stale_temporaries", "raise_on_sigterm",
           "Terminated", "manifest_of", "canonical_json"]
