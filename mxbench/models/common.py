"""What training and trained models share: architectures by name, building one, and feeding it numpy inputs."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from mxbench.errors import MxbenchError


class ModelError(MxbenchError):
    """A model argument, folder or weights file is wrong; the message names what.

    Examples
    --------
    >>> from mxbench.models import ModelError
    >>> issubclass(ModelError, ValueError)
    True
    """


#: Architecture name -> (module, class), imported on first use.
ARCHITECTURES = {
    "fusion_mlp": ("mxbench.models.fusion_mlp", "FusionMLP"),
    "transformer": ("mxbench.models.transformer", "TokenTransformer"),
    "fl_i2moe": ("mxbench.models.fl_i2moe", "FLI2MoE"),
}


def architecture(arch: str) -> type:
    """The model class of an architecture name.

    Examples
    --------
    >>> architecture("fusion_mlp").__name__
    'FusionMLP'
    """
    import importlib

    if arch not in ARCHITECTURES:
        raise ModelError(f"arch: unknown architecture {arch!r} (choose from {', '.join(ARCHITECTURES)})")
    module, name = ARCHITECTURES[arch]
    return getattr(importlib.import_module(module), name)


def resolve_config(arch: str, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An architecture's whole constructor config: the values given, the class's defaults for the rest.

    :func:`mxbench.models.train` stores this with the model and keys its cache on it, so a saved
    model names every size it was built with and still loads after a version that changes a default.

    Parameters
    ----------
    arch : str
        The architecture name.
    config : dict, optional
        Keyword arguments for the architecture's constructor.

    Returns
    -------
    dict
        Every constructor keyword (after the modalities), in signature order.

    Raises
    ------
    ModelError
        An unknown architecture or a keyword the constructor does not take.

    Examples
    --------
    >>> resolve_config("fusion_mlp", {"hidden": 64})
    {'player_dim': 8, 'encoder_hidden': 16, 'hidden': 64, 'layers': 2, 'activation': 'gelu'}
    """
    import inspect

    params = list(inspect.signature(architecture(arch).__init__).parameters.values())[2:]  # after self, modalities
    if config is not None and not isinstance(config, Mapping):
        raise ModelError(f"config: expected a mapping of {arch} options, got {type(config).__name__}")
    given = dict(config or {})
    unknown = sorted(set(given) - {p.name for p in params})
    if unknown:
        raise ModelError(f"config: {arch} takes no option {unknown[0]!r} "
                         f"(options: {', '.join(p.name for p in params)})")
    return {p.name: given.get(p.name, p.default) for p in params}


def build(arch: str, task_or_modalities: Any, config: Mapping[str, Any] | None = None) -> nn.Module:
    """Build an untrained model of an architecture for a task's modalities.

    Examples
    --------
    >>> import mxbench
    >>> task = mxbench.generate("smoke", instances=8)[0]
    >>> type(build("fusion_mlp", task)).__name__
    'FusionMLP'
    """
    cls = architecture(arch)
    modalities = getattr(getattr(task_or_modalities, "spec", None), "modalities", task_or_modalities)
    try:
        return cls(tuple(modalities), **resolve_config(arch, config))
    except TypeError as e:
        raise ModelError(f"config: {e}") from None


def keep_rate_coalitions(rng: np.random.Generator, n_rows: int, n_players: int) -> np.ndarray:
    """Random coalitions ``(n_rows, n_players)`` with a keep rate drawn uniformly per row.

    The certificate's "random coalitions" regime; training validates on it too.

    Examples
    --------
    >>> import numpy as np
    >>> c = keep_rate_coalitions(np.random.default_rng(0), 2000, 10)
    >>> c.shape, round(float(c.mean()), 1)
    ((2000, 10), 0.5)
    """
    return rng.random((n_rows, n_players)) < rng.random((n_rows, 1))


def to_tensors(inputs: Mapping[str, np.ndarray], device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Raw numpy inputs as model tensors: float32 columns and pixels, int64 tokens.

    Examples
    --------
    >>> import numpy as np
    >>> t = to_tensors({"a": np.zeros((2, 3), np.float32), "w": np.zeros((2, 4), np.int32)})
    >>> t["a"].dtype, t["w"].dtype
    (torch.float32, torch.int64)
    """
    out = {}
    for k, v in inputs.items():
        a = np.ascontiguousarray(v)
        t = torch.from_numpy(a if a.flags.writeable else a.copy())  # torch wants writable memory
        out[k] = (t.long() if t.dtype in (torch.int32, torch.int64) else t.float()).to(device)
    return out


def predict_batches(module: nn.Module, x: Mapping[str, torch.Tensor], batch_size: int) -> torch.Tensor:
    """The module's outputs on tensor inputs ``x``, run ``batch_size`` rows at a time and concatenated.

    Examples
    --------
    >>> import mxbench, numpy as np
    >>> task = mxbench.generate("smoke", instances=8)[0]
    >>> module = build("fusion_mlp", task).eval()
    >>> x = to_tensors({k: v[:5] for k, v in task.inputs.items()})
    >>> predict_batches(module, x, 2).shape
    torch.Size([5])
    """
    n = next(iter(x.values())).shape[0]
    return torch.cat([module({k: v[s:s + batch_size] for k, v in x.items()}) for s in range(0, n, batch_size)])
