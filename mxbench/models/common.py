"""What training and trained models share: architectures by name, building one, and feeding it numpy inputs."""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from mxbench.errors import MxbenchError
from mxbench.spec.fields import _show


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


#: The largest value of each integer size option, from memory: a ``w x w`` layer at the width cap
#: 4096 holds 16.8M float32 weights (64 MiB); token widths (``dim``, ``player_dim``) are capped at
#: 1024 because every example holds ``players x dim`` activations per layer (4096 x 1024 floats =
#: 16 MiB per example at the player cap); depth at 32, heads at 64, the MLP ratio at 16. Each
#: must be at least 1, except ``head_hidden`` (0: a linear head) and ``interaction_batch`` (0: all
#: pairs in one batch), which may be 0 (``OPTION_MIN``).
OPTION_MIN = {"head_hidden": 0, "interaction_batch": 0}
OPTION_MAX = {"player_dim": 1024, "dim": 1024, "encoder_hidden": 4096, "hidden": 4096, "head_hidden": 4096,
              "rw_hidden": 4096, "layers": 32, "rw_layers": 32, "heads": 64, "mlp_ratio": 16,
              "interaction_batch": 4096}
#: The most weights the repeated core of a model may hold (estimated from the config, before any
#: allocation: see :func:`estimate_core_parameters`): 50M float32 weights are 200 MB, and training
#: keeps about four copies (weights, gradients, Adam's two moments), 800 MB.
MAX_PARAMETERS = 50_000_000
#: Options that take a finite number of at least 0, or None where that is their default (e.g.
#: FL-I2MoE's ``regularizer_weight``: None = the regulariser's own default weight).
OPTION_NONNEGATIVE = ("regularizer_weight",)


def estimate_core_parameters(arch: str, config: Mapping[str, Any]) -> int:
    """The weights of a config's repeated layers, ignoring the (smaller) per-player parts.

    ``fusion_mlp``: ``layers * hidden**2``; ``transformer``: ``layers * dim**2 * (4 + 2 * mlp_ratio)``
    (attention and MLP); ``fl_i2moe``: the same per expert block plus ``rw_layers * rw_hidden**2``.

    Examples
    --------
    >>> estimate_core_parameters("transformer", resolve_config("transformer"))
    4096
    """
    c = config
    if arch == "fusion_mlp":
        return c["layers"] * c["hidden"] ** 2
    block = c["layers"] * c["dim"] ** 2 * (4 + 2 * c["mlp_ratio"])
    if arch == "fl_i2moe":
        return block + c["rw_layers"] * c["rw_hidden"] ** 2
    return block


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
        An unknown architecture, a keyword the constructor does not take, a size option that is not
        an integer or is outside ``OPTION_MIN``..``OPTION_MAX``, a value outside the class's
        ``option_choices`` (naming the allowed values), a negative or non-finite
        ``OPTION_NONNEGATIVE`` option, or a config whose repeated layers would hold more than
        ``MAX_PARAMETERS`` weights (checked before anything is allocated).

    Examples
    --------
    >>> resolve_config("fusion_mlp", {"hidden": 64})
    {'player_dim': 8, 'encoder_hidden': 16, 'hidden': 64, 'layers': 2, 'activation': 'gelu'}
    >>> try:
    ...     resolve_config("fl_i2moe", {"regularizer": "rep-l2"})
    ... except ModelError as e:
    ...     print(e)
    config.regularizer: expected one of 'none', 'rep-cos', 'rep-barlow', 'rep-cka', got 'rep-l2'
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
    resolved = {p.name: given.get(p.name, p.default) for p in params}
    choices = getattr(architecture(arch), "option_choices", {})
    for p in params:
        value = resolved[p.name]
        if p.name in choices:
            if not isinstance(value, str) or value not in choices[p.name]:
                raise ModelError(f"config.{p.name}: expected one of {', '.join(map(repr, choices[p.name]))}, "
                                 f"got {_show(value)}")
        elif p.name in OPTION_NONNEGATIVE:
            if not (value is None and p.default is None) and (
                    isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
                    or value < 0):
                allowed = "null or a finite number >= 0" if p.default is None else "a finite number >= 0"
                raise ModelError(f"config.{p.name}: expected {allowed}, got {_show(value)}")
        elif p.name in OPTION_MAX:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ModelError(f"config.{p.name}: expected an integer, got {_show(value)}")
            least = OPTION_MIN.get(p.name, 1)
            if not least <= value <= OPTION_MAX[p.name]:
                raise ModelError(f"config.{p.name}: expected {least} to {OPTION_MAX[p.name]} (OPTION_MAX, from memory), "
                                 f"got {_show(value)}")
        elif isinstance(p.default, bool):
            if not isinstance(value, bool):
                raise ModelError(f"config.{p.name}: expected true or false, got {_show(value)}")
        elif isinstance(p.default, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ModelError(f"config.{p.name}: expected a finite number, got {_show(value)}")
    n = estimate_core_parameters(arch, resolved)
    if n > MAX_PARAMETERS:
        sizes = ", ".join(f"{k}={resolved[k]}" for k in resolved if k in OPTION_MAX)
        raise ModelError(f"config: {arch} with {sizes} has about {n:,} weights in its repeated layers, more than "
                         f"{MAX_PARAMETERS:,} (MAX_PARAMETERS: 200 MB of float32 weights, ~800 MB to train)")
    return resolved


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


#: The most float32 activations one inference chunk may hold (2 GiB): :func:`predict_batches` runs
#: fewer rows at a time than asked when a module's ``activation_floats_per_row()`` says that many
#: would hold more. A 64-player token transformer holds about 110k floats per row, so its 4096-row
#: batches stay whole; at 292 players (85k attention entries per head and layer) a chunk is 248 rows.
INFERENCE_FLOATS = 2**29


def inference_rows(module: nn.Module, batch_size: int) -> int:
    """Rows per forward chunk: ``batch_size``, or fewer when the module's activations would pass
    :data:`INFERENCE_FLOATS`.

    Examples
    --------
    >>> import mxbench
    >>> task = mxbench.generate("smoke", instances=8)[0]
    >>> inference_rows(build("transformer", task), 4096)  # a few players: the batch stays whole
    4096
    """
    per_row = getattr(module, "activation_floats_per_row", None)
    if per_row is None:
        return int(batch_size)
    return int(max(1, min(int(batch_size), INFERENCE_FLOATS // max(1, int(per_row())))))


def predict_batches(module: nn.Module, x: Mapping[str, torch.Tensor], batch_size: int) -> torch.Tensor:
    """The module's outputs on tensor inputs ``x``, run ``batch_size`` rows at a time and concatenated.

    Fewer rows run at a time when the module's activations would otherwise pass
    :data:`INFERENCE_FLOATS` (:func:`inference_rows`).

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
    batch_size = inference_rows(module, batch_size)
    return torch.cat([module({k: v[s:s + batch_size] for k, v in x.items()}) for s in range(0, n, batch_size)])
