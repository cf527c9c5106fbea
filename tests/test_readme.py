"""Every code block of the README runs: the Python blocks in order, the JSON specs generated, the bash commands.

The rules, by the fence's language:

- ``python``: the blocks run in order in one namespace (later blocks use the names of earlier
  ones: ``mxbench``, ``task``, ``game``, ``e``, ``model``), in a temporary working folder. The
  calls and arguments are the README's own, with the sizes shrunk so the whole README runs in
  seconds: ``mxbench.generate`` makes at most :data:`INSTANCES` instances, ``train`` runs one
  epoch, and ``runner.validate`` runs on the first smoke task with one test instance, in this
  process, without the metrics that re-run the explainer. The block that tests "your explainer"
  imports ``mypackage``, a placeholder for the reader's package: it gets the ``MyShapley`` of
  ``docs/testing.md`` (that block runs too), and the test functions it defines are called.
- ``json``: each block is a task spec; it is validated by :meth:`TaskSpec.from_dict` and the JSON
  Schema (``mxbench schema``) and generated at its full size.
- ``bash``: a block that installs (``pip install``: it creates a virtual environment and then runs
  the main job or the test suite, minutes) is excluded; every other bash block runs with
  ``bash -e`` in a temporary folder, the virtual environment's ``bin`` first on ``PATH``.

Any other fence language fails :func:`test_every_block_is_covered`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import mxbench

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TESTING_DOC = ROOT / "docs" / "testing.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
RUNS = ("python", "json", "bash")
#: The most instances ``mxbench.generate`` makes while the README's Python blocks run.
INSTANCES = 256


def blocks(path: Path = README) -> list[tuple[str, str, int]]:
    """The fenced code blocks of a Markdown file: (language, code, line of the opening fence)."""
    text = path.read_text(encoding="utf-8")
    return [(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1) for m in FENCE.finditer(text)]


def installs(code: str) -> bool:
    """The exclusion rule for bash blocks: a block that installs the package."""
    return "pip install" in code


def _exec(code: str, line: int, namespace: dict, path: Path = README) -> None:
    exec(compile(code, f"{path.name}:{line}", "exec"), namespace)


def test_blocks_are_found():
    found = blocks()
    assert [lang for lang, _, _ in found].count("python") >= 5
    assert [lang for lang, _, _ in found].count("json") >= 1
    assert all(code.strip() for _, code, _ in found)
    assert any(lang == "python" and "class MyShapley" in code for lang, code, _ in blocks(TESTING_DOC))


def test_every_block_is_covered():
    langs = {lang for lang, _, _ in blocks()}
    assert langs <= set(RUNS), f"README blocks of languages no rule covers: {sorted(langs - set(RUNS))}"
    excluded = [code for lang, code, _ in blocks() if lang == "bash" and installs(code)]
    # the install blocks: the main job and the test suite on a fresh machine
    assert len(excluded) == 2
    assert any("mxbench run --suite smoke" in code for code in excluded)
    assert any("pytest" in code for code in excluded)


# --------------------------------------------------------------------------- python


def _shrunk(monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    """Patch the README's heavy calls to run small (see the module docstring)."""
    import mxbench.bench.runner as runner
    import mxbench.models
    from mxbench.models import train as real_train
    from mxbench.validation import METRICS

    real_generate = mxbench.generate

    def generate(spec, *, instances=None, seed=None):
        return real_generate(spec, instances=min(instances or INSTANCES, INSTANCES), seed=seed)

    def train(task, arch="fusion_mlp", **kwargs):
        return real_train(task, arch, **{**kwargs, "epochs": 1})

    real_validate = runner.validate

    def validate(suite="smoke", **kwargs):
        tasks = real_generate(suite, instances=INSTANCES)[:1] if isinstance(suite, str) else suite
        kwargs.update(instances=1, n_jobs=1, progress=False, cache_dir=cache, train_options={"epochs": 1},
                      metrics=kwargs.get("metrics") or [m for m in METRICS if m not in runner.RERUN_METRICS])
        return real_validate(tasks, **kwargs)

    monkeypatch.setattr(mxbench, "generate", generate)
    monkeypatch.setattr(mxbench.models, "train", train)
    monkeypatch.setattr(runner, "validate", validate)
    # the placeholder of the testing block: docs/testing.md's MyShapley
    doc = next(code for lang, code, _ in blocks(TESTING_DOC) if lang == "python" and "class MyShapley" in code)
    mine = types.ModuleType("mypackage")
    _exec(doc, 0, mine.__dict__, TESTING_DOC)
    monkeypatch.setitem(sys.modules, "mypackage", mine)


@pytest.fixture(scope="module")
def readme(tmp_path_factory):
    """The Python blocks of the README run in order: the namespace after each (a shallow copy), and the folder."""
    folder = tmp_path_factory.mktemp("readme")
    namespace: dict = {"__name__": "readme"}
    after = []
    with pytest.MonkeyPatch.context() as mp:
        _shrunk(mp, folder / "cache")
        mp.chdir(folder)
        for lang, code, line in blocks():
            if lang == "python":
                _exec(code, line, namespace)
                after.append(dict(namespace))
    return after, folder


def _after(readme, first_line: str) -> dict:
    """The namespace after the Python block whose code starts with ``first_line``."""
    python = [code for lang, code, _ in blocks() if lang == "python"]
    index = next(k for k, code in enumerate(python) if code.startswith(first_line))
    return readme[0][index]


def test_from_python_block(readme):
    ns = _after(readme, "import numpy as np\nimport mxbench\n")
    task, game, oracle = ns["task"], ns["game"], ns["oracle"]
    n = game.n_players
    assert (task.n_instances, n) == (INSTANCES, 30)
    np.testing.assert_allclose(game(np.ones((1, n), bool)), task.f[:1], rtol=0, atol=1e-9)  # "= task.f[0]"
    assert oracle.shapley().shape == (INSTANCES, n)
    assert oracle.pair_values([(9, 24)], "SII").shape == (INSTANCES, 1)
    assert task.spec.player_names[9] == "img:3" and task.spec.player_names[24] == "txt:2"
    assert mxbench.load(readme[1] / "out" / "mix").spec == task.spec  # written, checked and read back


def test_models_block(readme):
    ns = _after(readme, "from mxbench.models import")
    model, exact, task = ns["model"], ns["exact"], ns["task"]
    assert model.certificate is not None and isinstance(model.certificate.passed, bool)
    assert ns["game"].n_players == task.n_players == 12
    assert (readme[1] / "out" / "model" / "config.json").is_file()
    full = np.ones((1, task.n_players), bool)
    np.testing.assert_allclose(exact.game(task, 0)(full), task.f[:1], atol=1e-9)  # "a torch model equal to f*"


def test_explainers_block(readme):
    ns = _after(readme, "from mxbench.explainers import")
    e = ns["e"]
    assert 0 < e.n_queries <= 64  # "n_queries <= budget, always"
    assert len(e.attributions) == ns["task"].n_players
    np.testing.assert_allclose(np.sum(e.modality_shares()), 1.0, atol=1e-9)


def test_validation_block(readme):
    ns = _after(readme, "from mxbench.validation import")
    frame, results = ns["frame"], ns["results"]
    assert set(frame["metric"]) >= {"auroc", "modality_share_error", "deletion"}
    assert set(results["model"]) == {"planted", "transformer"}
    assert {"lemon", "kernelshap"} <= set(results["explainer"])
    assert set(results["seed"]) == {0, 1}


def test_testing_block(readme):
    from mxbench.testing.checks import PlantedCase, check_tasks

    ns = _after(readme, "# test_my_explainer.py")
    marks = [m for m in ns["test_mxbench_checks"].pytestmark if m.name == "parametrize"]
    cases = marks[0].args[1]
    assert len(cases) == 6  # explains + the five claims
    for case in cases:
        ns["test_mxbench_checks"](*case.values)  # raises AssertionError naming the check on failure
    for task in check_tasks():  # what the plugin's planted_game fixture gives, one game per check task
        ns["test_close_to_exact"](PlantedCase(task, 0))


# --------------------------------------------------------------------------- json


@pytest.mark.parametrize("code", [c for lang, c, _ in blocks() if lang == "json"])
def test_json_spec_blocks_generate(code):
    from jsonschema import Draft202012Validator

    from mxbench.spec import TaskSpec, spec_schema

    d = json.loads(code)
    assert list(Draft202012Validator(spec_schema()).iter_errors(d)) == []
    spec = TaskSpec.from_dict(d)
    task = mxbench.generate(spec)
    assert task.n_instances == spec.instances
    if spec.random_terms is not None:
        rt = spec.random_terms
        assert len(task.terms) == len(spec.terms) + rt.unique + rt.synergy + rt.redundancy + rt.synergy3
        if rt.placement == "cross":  # each drawn term's players sit in different modalities
            for t in task.terms[len(spec.terms):]:
                mods = [spec.modality_of[i] for i in t.ids]
                assert len(set(mods)) == len(mods)
    if spec.shares is not None:
        for name, want in spec.shares.items():
            assert abs(task.shares["achieved"][name] - want) < 0.01


# --------------------------------------------------------------------------- bash


@pytest.mark.parametrize("code", [c for lang, c, _ in blocks() if lang == "bash" and not installs(c)])
def test_bash_blocks_run(code, tmp_path):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(["bash", "-e", "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120)
    assert (result.returncode, result.stderr) == (0, "")
    if "spec.schema.json" in code:
        from mxbench.spec import spec_schema

        assert json.loads((tmp_path / "spec.schema.json").read_text()) == spec_schema()
    if "suites --json" in code:
        assert [s["name"] for s in json.loads(result.stdout)["suites"]] == ["smoke", "standard", "specialisation",
                                                                             "paper"]
