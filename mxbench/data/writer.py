"""Write tasks and suites to Parquet: streamed block by block, atomically, byte-for-byte reproducible."""

from __future__ import annotations

import ctypes
import errno
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
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mxbench.data.card import dataset_card
from mxbench.data.schema import (BIT_ORDER, CARD, FORMAT, MANIFEST, SCHEMA_VERSION, SUITE_FORMAT, SUITE_MANIFEST,
                                 TABLES, schema_of)
from mxbench.errors import DatasetError
from mxbench.spec import TaskSpec, canonical_json
from mxbench.task import SPLITS, Block, TaskPlan

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
    """One streaming ParquetWriter per table, a row group per block.

    Parquet encoding and compression run on one background thread (pyarrow releases the
    GIL) while the next block is generated; at most one block waits to be written, and
    blocks are written in order, so the files are the same as with a serial writer.
    """

    def __init__(self, folder: Path, plan: TaskPlan) -> None:
        self.folder = folder
        self.plan = plan
        self.writers = {t: pq.ParquetWriter(folder / f"{t}.parquet", schema_of(t, plan.spec), **PARQUET_OPTIONS)
                        for t in TABLES if t != "players"}
        self.rows = {t: 0 for t in TABLES}
        pairs = plan.pairs()
        self.pair_ids = pairs[["i", "j"]].to_numpy()
        self.pair_kinds = pairs["kind"].to_numpy().astype(str)
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending: list[Future] = []

    def write_players(self) -> None:
        frame = self.plan.players()
        schema = schema_of("players", self.plan.spec)
        # from plain Arrow arrays: Table.from_pandas would store the pandas version in the file
        table = pa.Table.from_arrays([pa.array(frame[f.name].to_numpy()).cast(f.type) for f in schema], schema=schema)
        pq.write_table(table, self.folder / "players.parquet", **PARQUET_OPTIONS)
        self.rows["players"] = len(frame)

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


def manifest_of(plan: TaskPlan, n_instances: int) -> dict[str, Any]:
    """The manifest of a dataset, without the file hashes.

    Parameters
    ----------
    plan : TaskPlan
        The task's plan.
    n_instances : int
        The number of instances written.

    Returns
    -------
    dict
        The format and schema version, the spec and its hash, the resolved terms, the
        codebooks, the shares and the bit order; :func:`write` adds ``files``.

    Examples
    --------
    >>> from mxbench.generators.suites import suite_specs
    >>> m = manifest_of(TaskPlan.from_spec(suite_specs("smoke")[0]), 10)
    >>> m["schema_version"], m["instances"], len(m["terms"])
    (1, 10, 4)
    """
    from mxbench._version import __version__

    spec = plan.spec
    return {
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


def _write_task(plan: TaskPlan, n_instances: int, folder: Path, progress: Any = None) -> dict[str, Any]:
    writers = _TableWriters(folder, plan)
    try:
        writers.write_players()
        for block in plan.blocks(n_instances):
            writers.write_block(block)
            if progress is not None:
                progress.update(len(block))
    finally:
        writers.close()
    manifest = manifest_of(plan, n_instances)
    (folder / CARD).write_text(dataset_card(manifest), encoding="utf-8")
    files = {}
    for name in [f"{t}.parquet" for t in TABLES] + [CARD]:
        files[name] = {"sha256": sha256_file(folder / name), "bytes": (folder / name).stat().st_size,
                       "rows": writers.rows.get(name.removesuffix(".parquet"))}
    manifest["files"] = files
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def write(spec: TaskSpec | Mapping[str, Any] | str, out: str | Path, *, instances: int | None = None,
          seed: int | None = None, overwrite: bool = False, progress: bool = False) -> Path:
    """Generate a task, or every task of a named suite, straight to a Parquet dataset folder.

    Instances stream through in blocks, so memory stays flat however many there are. The
    folder appears only when everything is written (temp folder, then rename); on any
    error nothing is left behind. The same spec, seed and mxbench version give
    byte-identical files.

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

    Returns
    -------
    Path
        ``out``.

    Examples
    --------
    >>> import tempfile, os
    >>> out = write("smoke", os.path.join(tempfile.mkdtemp(), "smoke"), instances=16)
    >>> sorted(os.listdir(out))
    ['smoke-img-txt', 'smoke-mix3', 'smoke-tab-txt', 'suite.json']
    """
    from tqdm.auto import tqdm

    if isinstance(spec, str):
        from mxbench.generators.suites import suite_specs

        specs, suite = suite_specs(spec), spec
    else:
        specs, suite = [spec if isinstance(spec, TaskSpec) else TaskSpec.from_dict(spec)], None
    if instances is not None or seed is not None:
        specs = [s.with_overrides(seed=seed, instances=instances) for s in specs]
    plans = [TaskPlan.from_spec(s) for s in specs]
    total = sum(s.instances for s in specs)
    with atomic_dir(out, overwrite) as tmp, tqdm(total=total, unit="inst", disable=not progress,
                                                 desc=suite or specs[0].name) as bar:
        if suite is None:
            _write_task(plans[0], specs[0].instances, tmp, bar)
        else:
            tasks = []
            for plan in plans:
                folder = tmp / plan.spec.name
                folder.mkdir()
                _write_task(plan, plan.spec.instances, folder, bar)
                tasks.append({"name": plan.spec.name, "manifest_sha256": sha256_file(folder / MANIFEST)})
            doc = {"format": SUITE_FORMAT, "schema_version": SCHEMA_VERSION, "suite": suite, "tasks": tasks}
            (tmp / SUITE_MANIFEST).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return Path(out)


__all__ = ["write", "sha256_file", "atomic_dir", "check_replaceable", "clean_stale_temporaries", "raise_on_sigterm",
           "Terminated", "manifest_of", "canonical_json"]
