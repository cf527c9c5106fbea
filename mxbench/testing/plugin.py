"""The mxbench pytest plugin: fixtures ``planted_game`` and ``planted_task`` with exact truth, no setup code.

Installed with mxbench under the ``pytest11`` entry point (``mxbench = mxbench.testing.plugin``),
so any test of yours may ask for the fixtures:

- ``planted_game``: a :class:`~mxbench.testing.checks.PlantedCase` — the planted game of one
  instance of each check task (:func:`~mxbench.testing.checks.check_games`, 3 to 8 players,
  every term kind, 1 to 3 modalities). The test runs once per game (ids ``unique-3#0``, ...);
  ``planted_game.truth`` holds the exact Shapley values, SII, ``delta = v(N) - v(∅)``, dummies
  and symmetric pairs, and ``planted_game.describe()`` prints the game for an assertion message.
- ``planted_task``: each check :class:`~mxbench.task.Task` (two instances; ``task.game(i)``,
  ``task.oracle()``, ``task.players()``, ``task.pairs()``).

Example test file (no imports from mxbench needed but your explainer)::

    import numpy as np

    def test_efficient(planted_game):
        e = MyExplainer(budget=64).explain(planted_game)
        assert np.isclose(e.attributions.sum(), planted_game.truth.delta), planted_game.describe()

Without the installed entry point, enable it with ``pytest_plugins = ["mxbench.testing.plugin"]``
in a ``conftest.py``. The plugin imports mxbench's checks only when a test uses a fixture.
"""

from __future__ import annotations

from typing import Any

import pytest

FIXTURES = ("planted_game", "planted_task")


def _already_parametrized(metafunc: Any, name: str) -> bool:
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", "")
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        if name in names:
            return True
    return False


def pytest_generate_tests(metafunc: Any) -> None:
    """Run each test that uses a fixture once per check game / task (indirect parametrization)."""
    wanted = [f for f in FIXTURES if f in metafunc.fixturenames and not _already_parametrized(metafunc, f)]
    if not wanted:
        return
    from mxbench.testing.checks import CHECK_SPECS

    ids = [s["name"] for s in CHECK_SPECS]
    for name in wanted:
        metafunc.parametrize(name, range(len(CHECK_SPECS)), indirect=True,
                             ids=[f"{i}#0" for i in ids] if name == "planted_game" else ids)


def _index(request: Any) -> int:
    return int(getattr(request, "param", 0))


@pytest.fixture
def planted_game(request: Any) -> Any:
    """The planted game (instance 0) of one check task, fresh for each test; ``.truth`` is exact."""
    from mxbench.testing.checks import PlantedCase, check_tasks

    return PlantedCase(check_tasks()[_index(request)], 0)


@pytest.fixture
def planted_task(request: Any) -> Any:
    """One check task (shared, generated once per process: do not modify it)."""
    from mxbench.testing.checks import check_tasks

    return check_tasks()[_index(request)]
