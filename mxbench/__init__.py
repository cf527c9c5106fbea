"""mxbench: synthetic multimodal tasks with known explanations, and checks of explainers against them."""

from mxbench.errors import DatasetError, GameError, MxbenchError, SpecError
from mxbench.games import FunctionGame, Game
from mxbench.spec import ModalitySpec, TaskSpec, Term
from mxbench.task import PlantedGame, Task, TaskPlan, generate

__version__ = "0.1.0"


def load(path):
    """Load a dataset folder written by ``mxbench generate`` as a :class:`Task`.

    Checks the schema version and every file's SHA-256 against the manifest first.

    Parameters
    ----------
    path : str or Path
        A dataset folder (holding ``manifest.json``).

    Returns
    -------
    Task

    Raises
    ------
    DatasetError
        The folder is missing, corrupt, tampered with or of another schema version.

    Examples
    --------
    >>> import mxbench, tempfile
    >>> out = tempfile.mkdtemp() + "/ds"
    >>> _ = mxbench.write_dataset("smoke", out, instances=20)
    >>> mxbench.load(out + "/smoke-tab-txt").n_instances
    20
    """
    from mxbench.data import load_dataset

    return load_dataset(path)


def write_dataset(spec, out, *, instances=None, seed=None, progress=False):
    """Generate a task (or a suite, given its name) straight to Parquet; see :func:`mxbench.data.write`."""
    from mxbench.data import write

    return write(spec, out, instances=instances, seed=seed, progress=progress)


__all__ = [
    "DatasetError", "GameError", "MxbenchError", "SpecError", "FunctionGame", "Game", "ModalitySpec", "TaskSpec",
    "Term", "PlantedGame", "Task", "TaskPlan", "generate", "load", "write_dataset", "__version__",
]
