"""mxbench: synthetic multimodal tasks with known explanations, and checks of explainers against them."""

from mxbench._version import __version__
from mxbench.errors import DatasetError, GameError, MxbenchError, SpecError
from mxbench.games import FunctionGame, Game
from mxbench.spec import ModalitySpec, TaskSpec, Term
from mxbench.task import PlantedGame, Task, TaskPlan, generate

from mxbench.data import load_dataset as load  # noqa: E402  (after the task types it loads)
from mxbench.data import write as write_dataset  # noqa: E402



def __getattr__(name: str):
    """``mxbench.validate`` and ``mxbench.run``, imported on first use (they pull in torch)."""
    if name == "validate":
        from mxbench.bench.runner import validate

        return validate
    if name == "run":
        from mxbench.bench.main import run

        return run
    raise AttributeError(f"module 'mxbench' has no attribute {name!r}")


__all__ = [
    "DatasetError", "GameError", "MxbenchError", "SpecError", "FunctionGame", "Game", "ModalitySpec", "TaskSpec",
    "Term", "PlantedGame", "Task", "TaskPlan", "generate", "load", "write_dataset", "validate", "run", "__version__",
]
