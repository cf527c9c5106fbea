"""The ``mxbench`` command line: generate, verify, inspect, list suites, print the spec schema, train, validate, run.

Conventions shared by every sub-command:

- results go to stdout, errors to stderr as one line ``mxbench: error: ...`` with exit status 2;
- ``-q`` / ``--quiet`` (before or after the sub-command) turns off progress bars, notes and
  warnings, never results or errors; progress bars are drawn only when stderr is a terminal;
- ``--json`` (``suites``, ``inspect``, ``verify``) prints one JSON document on stdout instead of
  the text, with the same information;
- when stdout is a pipe that closes early (``mxbench verify DIR | head -1``) the command stops
  quietly with exit status 141 (128 + SIGPIPE, what a shell reports for ``cat`` in the same
  place), without a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import warnings
from typing import Any, NoReturn, Sequence

from mxbench._version import __version__
from mxbench.errors import MxbenchError

#: The exit status when stdout is a pipe that closed early: 128 + SIGPIPE (13), as a shell reports a
#: command killed by SIGPIPE (``cat``, ``yes`` before ``| head``).
EXIT_BROKEN_PIPE = 141


def _table(rows: list[dict], columns: Sequence[str]) -> str:
    """A plain-text table with aligned columns."""
    cells = [[str(c) for c in columns]] + [[str(r[c]) for c in columns] for r in rows]
    widths = [max(len(row[k]) for row in cells) for k in range(len(columns))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _progress(args: argparse.Namespace) -> bool:
    """Whether to draw progress bars: not ``--quiet``, and stderr (where tqdm draws) is a terminal."""
    stderr = sys.stderr
    return not args.quiet and stderr is not None and stderr.isatty()


def _print_json(doc: Any) -> None:
    """Print one JSON document on stdout (2-space indent, keys in the order built; NaN refused)."""
    print(json.dumps(doc, indent=2, allow_nan=False))


def _cmd_generate(args: argparse.Namespace) -> int:
    from mxbench.data import write
    from mxbench.spec import TaskSpec

    spec = args.suite if args.suite else TaskSpec.from_json(args.spec)
    out = write(spec, args.out, instances=args.instances, seed=args.seed, overwrite=args.overwrite,
                progress=_progress(args), shards=args.shards, scheduler=args.scheduler)
    print(f"wrote {out}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from mxbench.data import verify_all

    reports = verify_all(args.dir, regenerate=not args.no_regenerate)
    ok = all(r.ok for r in reports)
    if args.json:
        _print_json({"ok": ok, "reports": [
            {"path": r.path, "ok": r.ok, "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in r.checks]}
            for r in reports]})
        return 0 if ok else 1
    for report in reports:
        print(report)
    print("all checks passed" if ok else "verification FAILED")
    return 0 if ok else 1


def _cmd_suites(args: argparse.Namespace) -> int:
    from mxbench.generators.suites import list_suites

    suites = list_suites()
    if args.json:
        _print_json({"suites": suites})
        return 0
    print(_table(suites, ["name", "tasks", "instances", "players", "modalities", "description"]))
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from mxbench.data import dataset_folders, summary

    rows, summaries = [], []
    for folder in dataset_folders(args.dir):
        s = summary(folder)
        summaries.append({"path": str(folder), **s, "roles": {k: int(v) for k, v in sorted(s["roles"].items())}})
        rows.append({
            "task": s["name"], "instances": s["instances"], "players": s["players"],
            "modalities": ", ".join(f"{k}:{v}" for k, v in s["modalities"].items()),
            "terms": len(s["terms"]),
            "roles": ", ".join(f"{k} {v}" for k, v in sorted(s["roles"].items())),
            "shares": ", ".join(f"{k} {v:.2f}" for k, v in s["shares"].items()),
        })
        details = s
    if args.json:
        _print_json({"datasets": summaries})
        return 0
    print(_table(rows, ["task", "instances", "players", "modalities", "terms", "roles", "shares"]))
    if len(rows) == 1:
        print("\nterms:\n" + "\n".join(f"  {t}" for t in details["terms"]))
    return 0


def _config(text: str | None) -> dict[str, Any] | None:
    """``--config``: a JSON object of constructor options (None when not given)."""
    if text is None:
        return None
    try:
        config = json.loads(text)
    except ValueError as e:
        where = f" at character {e.pos + 1}" if isinstance(e, json.JSONDecodeError) else ""
        raise MxbenchError(f"--config: not valid JSON ({getattr(e, 'msg', e)}{where}): {text!r}") from None
    if not isinstance(config, dict):
        raise MxbenchError(f"--config: expected a JSON object of options, got {text!r}")
    return config


def _cmd_train(args: argparse.Namespace) -> int:
    import mxbench
    from mxbench.models import resolve_config, train

    config = _config(args.config)
    resolve_config(args.arch, config)  # a bad option fails here, before the data is read or anything written
    task = mxbench.load(args.dir)
    model = train(task, args.arch, config=config, random_state=args.seed, epochs=args.epochs,
                  progress=_progress(args))
    model.save(args.out, overwrite=args.overwrite)
    assert model.certificate is not None
    print(_table(model.certificate.rows(), ["check", "value", "goal"]))
    print(f"trained {args.arch} on {task.spec.name} in {model.seconds:.1f} s "
          f"({len(model.history)} epochs): {'certified' if model.certified else 'NOT certified'}; wrote {args.out}")
    return 0


def _split(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _models(value: str | None) -> list[str] | None:
    """``--models``: comma-separated model specs, each a name with optional JSON options (commas inside kept)."""
    from mxbench.explainers.wrap import split_explainers

    if value is None:
        return None
    try:
        return split_explainers(value)
    except MxbenchError as e:
        raise MxbenchError("--models: " + str(e).removeprefix("explainers: ")) from None


def _explainers(value: str | None) -> list[str] | None:
    """``--explainers``: comma-separated specs, each a name with optional JSON parameters (commas inside kept)."""
    from mxbench.explainers.wrap import split_explainers

    return None if value is None else split_explainers(value)


def _budgets(value: str | None) -> list[int | None]:
    if value is None:
        return [None]
    out: list[int | None] = []
    for v in value.split(","):
        v = v.strip()
        if v in ("default", "none"):
            out.append(None)
            continue
        try:
            out.append(int(v))
        except ValueError:
            raise MxbenchError(f"--budgets: expected integers or 'default', got {v!r}") from None
    return out


def _cmd_validate(args: argparse.Namespace) -> int:
    from mxbench.bench.runner import DEFAULT_EXPLAINERS, DEFAULT_MODELS, validate, write_results

    results = validate(args.suite, models=_models(args.models) or list(DEFAULT_MODELS),
                       explainers=_explainers(args.explainers) or list(DEFAULT_EXPLAINERS),
                       budgets=_budgets(args.budgets),
                       seeds=[int(s) for s in (_split(args.seeds) or ["0"])], instances=args.instances,
                       metrics=_split(args.metrics), cache_dir=args.cache, n_jobs=args.jobs, progress=_progress(args),
                       scheduler=args.scheduler)
    path = write_results(results, args.out)
    print(f"wrote {len(results)} rows to {path}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from mxbench.bench.report import write_report

    import shlex

    command = shlex.join(["mxbench", *getattr(args, "argv", [])])  # the provenance of the report
    print(f"report: {write_report(args.results, args.out, command=command)}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    import shlex
    import time

    from mxbench.bench.main import run

    start = time.perf_counter()
    # the main job prints its notes (models skipped, explainers skipped) on stdout: --quiet drops them
    notes = contextlib.redirect_stdout(io.StringIO()) if args.quiet else contextlib.nullcontext()
    chosen = {} if args.explainers is None else {"explainers": _explainers(args.explainers)}
    with notes:
        path = run(args.suite, args.out, instances=args.instances, n_jobs=args.jobs, progress=_progress(args), **chosen,
                   cache_dir=args.cache, scheduler=args.scheduler,
                   command=shlex.join(["mxbench", *getattr(args, "argv", [])]))
    print(f"done in {time.perf_counter() - start:.0f} s; report: {path}")
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from mxbench.spec.json_schema import spec_schema

    print(json.dumps(spec_schema(), indent=2, sort_keys=True))
    return 0


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, ``mxbench: error: ...``, exit status 2 (no usage block).

    Sub-command parsers are of this class too (``add_subparsers`` makes them with the parent's class);
    their errors name the sub-command: ``mxbench: error: generate: ...``.
    """

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        command = self.prog.partition(" ")[2]
        where = f"{command}: " if command else ""
        text = " ".join(f"{where}{message}".split())  # one line, whatever argparse put in the message
        self.exit(2, f"mxbench: error: {text}\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``mxbench`` command.

    Returns
    -------
    argparse.ArgumentParser
        A parser with ``--version``, ``-q`` / ``--quiet`` and the sub-commands ``generate``,
        ``verify``, ``suites``, ``inspect``, ``schema``, ``train``, ``validate``, ``report`` and
        ``run``; each sets ``func`` to the function that runs it, and each takes ``-q`` too.

    Examples
    --------
    >>> build_parser().parse_args(["suites"]).command
    'suites'
    >>> args = build_parser().parse_args(["verify", "DIR", "-q", "--json"])
    >>> args.quiet, args.json
    (True, True)
    >>> build_parser().parse_args(["-q", "suites"]).quiet
    True
    """
    parser = _Parser(prog="mxbench", description="Synthetic multimodal tasks with known explanations.")
    parser.add_argument("--version", action="version", version=f"mxbench {__version__}",
                        help="print the version (mxbench X.Y.Z) and exit")
    quiet_help = "no progress bars, notes or warnings (results and errors are printed)"
    parser.add_argument("-q", "--quiet", action="store_true", help=quiet_help)
    # each sub-command takes -q too; SUPPRESS keeps `mxbench -q COMMAND` from being reset by the sub-parser
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=quiet_help)
    json_help = "print one JSON document on stdout instead of the text"
    explainers_help = ("comma-separated explainers (default: the main job's): registry names (kernelshap), adapters "
                       "(shap:KernelExplainer, shapiq:KernelSHAPIQ, captum:IntegratedGradients), import paths "
                       "(mypkg.mod:MyExplainer, a class or a function of the game); each optionally followed by its "
                       "parameters as a JSON object: 'mypkg.mod:MyExplainer{\"budget\": 64}'")
    scheduler_help = ("run the jobs on a Dask cluster: a scheduler address (tcp://host:8786) or local:N (N local "
                      "worker processes); default $MXBENCH_SCHEDULER, else the local process pool")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = sub.add_parser("generate", parents=[common], help="generate a task or a suite as Parquet datasets")
    src = gen.add_mutually_exclusive_group(required=True)
    src.add_argument("--suite", help="a suite name (see `mxbench suites`)")
    src.add_argument("--spec", help="a JSON task spec file")
    gen.add_argument("--out", required=True, help="the folder to create")
    gen.add_argument("--instances", type=int, help="override the number of instances")
    gen.add_argument("--seed", type=int, help="override the seed")
    gen.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    gen.add_argument("--shards", type=int, default=1, metavar="K",
                     help="split each task's instances into K shards, one file per shard of each per-instance table "
                          "(default 1: one file per table)")
    gen.add_argument("--scheduler", metavar="ADDRESS|local:N",
                     help="generate the shards on a Dask cluster: a scheduler's address, or local:N worker "
                          "processes here (default: $MXBENCH_SCHEDULER, else in this process)")
    gen.set_defaults(func=_cmd_generate)

    ver = sub.add_parser("verify", parents=[common],
                         help="check hashes, schema and the truth recomputed from terms.parquet")
    ver.add_argument("dir", help="a dataset or suite folder")
    ver.add_argument("--no-regenerate", action="store_true",
                     help="skip regenerating the data from the spec (and the mxbench version check)")
    ver.add_argument("--json", action="store_true", help=json_help)
    ver.set_defaults(func=_cmd_verify)

    sui = sub.add_parser("suites", parents=[common], help="list the suites with their sizes")
    sui.add_argument("--json", action="store_true", help=json_help)
    sui.set_defaults(func=_cmd_suites)

    tra = sub.add_parser("train", parents=[common], help="train a model on a dataset under masking and certify it")
    tra.add_argument("dir", help="a dataset folder")
    tra.add_argument("--arch", required=True, choices=["fusion_mlp", "transformer", "fl_i2moe"])
    tra.add_argument("--out", required=True, help="the model folder to create")
    tra.add_argument("--seed", type=int, default=0, help="random_state of the training (default 0)")
    tra.add_argument("--epochs", type=int, default=None,
                     help="at most this many epochs (default: the architecture's, 40 for fl_i2moe, else 60)")
    tra.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    tra.add_argument("--config", metavar="JSON",
                     help='constructor options of the architecture as a JSON object, e.g. \'{"regularizer": '
                          '"rep-cos"}\' (checked before training; recorded in the model\'s config.json)')
    tra.set_defaults(func=_cmd_train)

    ins = sub.add_parser("inspect", parents=[common],
                         help="a short table of the tasks, players, terms and modality shares")
    ins.add_argument("dir", help="a dataset or suite folder")
    ins.add_argument("--json", action="store_true", help=json_help)
    ins.set_defaults(func=_cmd_inspect)

    sch = sub.add_parser("schema", parents=[common], help="print the JSON Schema (draft 2020-12) of task specs")
    sch.set_defaults(func=_cmd_schema)

    val = sub.add_parser("validate", parents=[common],
                         help="run explainers on tasks and models, score them, write results.parquet")
    val.add_argument("suite", help="a suite name or a dataset / suite folder")
    val.add_argument("--out", default="results.parquet", help="the results file (default results.parquet)")
    val.add_argument("--models", help="comma-separated: planted, exact (a torch model equal to f*) and architectures, "
                                      "each optionally with constructor options as JSON: "
                                      "'fl_i2moe{\"regularizer\": \"rep-cos\"}' (default: all)")
    val.add_argument("--explainers", help=explainers_help)
    val.add_argument("--budgets", help="comma-separated budgets, 'default' for each explainer's own")
    val.add_argument("--seeds", help="comma-separated random_state values (default 0)")
    val.add_argument("--metrics", help="comma-separated metric names (default: all)")
    val.add_argument("--instances", type=int, default=4, help="test instances per task (default 4)")
    val.add_argument("--cache", help="the model cache: a folder or an fsspec URL (file://, s3://, ...); on a cluster, "
                                     "one every worker reads (default .mxbench-cache/models)")
    val.add_argument("--jobs", type=int, help="parallel processes (default: all cores)")
    val.add_argument("--scheduler", metavar="ADDRESS|local:N", help=scheduler_help)
    val.set_defaults(func=_cmd_validate)

    rep = sub.add_parser("report", parents=[common], help="write report.md and plots from a results file")
    rep.add_argument("results", help="a results.parquet written by `mxbench validate` or `mxbench run`")
    rep.add_argument("--out", required=True, help="the report folder")
    rep.set_defaults(func=_cmd_report)

    run = sub.add_parser("run", parents=[common], help="the main job: generate, train, explain, validate and report")
    run.add_argument("--suite", default="smoke",
                     help="a suite name (default smoke; paper, beyond the models' size, runs on the planted games)")
    run.add_argument("--out", default="mxbench-run", help="the output folder (default mxbench-run)")
    run.add_argument("--instances", type=int, default=4, help="test instances explained per task (default 4)")
    run.add_argument("--explainers", help=explainers_help)
    run.add_argument("--jobs", type=int, help="parallel processes (default: all cores)")
    run.add_argument("--cache", help="the model cache: a folder or an fsspec URL (file://, s3://, ...); on a cluster, "
                                     "one every worker reads (default OUT/models)")
    run.add_argument("--scheduler", metavar="ADDRESS|local:N", help=scheduler_help)
    run.set_defaults(func=_cmd_run)
    return parser


def _stdout_to_devnull() -> None:
    """Point file descriptor 1 at the null device, so the interpreter's last flush of stdout cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no file descriptor: a captured or replaced stdout
        pass
    finally:
        os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mxbench`` command; returns the exit status (2 on bad input).

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 1 when ``verify`` finds a failed check, 2 on bad input (an
        :class:`~mxbench.errors.MxbenchError` or a bad ``--instances`` / ``--seed``), 130
        when interrupted, 141 (:data:`EXIT_BROKEN_PIPE`) when stdout is a pipe closed before
        the output was written (nothing more is printed, stderr included). Every error is one
        line on stderr, ``mxbench: error: ...``.

    Raises
    ------
    SystemExit
        With status 2 on an argument argparse refuses (unknown, missing, not an integer, not a
        choice, ``--spec`` with ``--suite``), after printing its one line; 0 after ``--help``
        or ``--version``.

    Examples
    --------
    >>> main(["suites"])  # doctest: +ELLIPSIS
    name ...
    0
    >>> main(["suites", "--json"])  # doctest: +ELLIPSIS
    {
      "suites": [
        {
          "name": "smoke",
    ...
    0
    """
    try:
        try:
            status = _main(argv)
        except SystemExit:  # --help, --version, an argument error: their output is flushed here too
            sys.stdout.flush()
            raise
        sys.stdout.flush()  # a closed pipe shows here at the latest, not at the interpreter's exit
        return status
    except BrokenPipeError:
        _stdout_to_devnull()
        return EXIT_BROKEN_PIPE


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # an argument error: one line on stderr, SystemExit(2)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command line, for the report's provenance
    for name, least in (("instances", 1), ("seed", 0), ("epochs", 1), ("jobs", 1)):
        value = getattr(args, name, None)
        if value is not None and value < least:
            print(f"mxbench: error: --{name}: must be at least {least}, got {value}", file=sys.stderr)
            return 2
    try:
        with warnings.catch_warnings():
            if args.quiet:
                warnings.simplefilter("ignore")
            return args.func(args)
    except MxbenchError as e:
        print(f"mxbench: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        raise
    except OSError as e:  # a path the system refuses: too long, not permitted, ...
        where = f" {e.filename!r}" if e.filename else ""
        print(f"mxbench: error:{where} {e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mxbench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
