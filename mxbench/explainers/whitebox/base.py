"""The white-box base class, :class:`WhiteBoxExplainer` (``explain(model, task, i)``), and its methods' helpers."""

from __future__ import annotations

import time
from typing import Any, Mapping

import numpy as np
import torch

from mxbench.errors import ExplainerError
from mxbench.explainers.base import Explainer, Explanation, modality_sums
from mxbench.explainers.params import check_int

#: What the gradient explainers differentiate: the raw output, or the evidence for the prediction.
TARGETS = ("output", "predicted")


class WhiteBoxExplainer:
    """Base class of the white-box explainers: ``explain(model, task, i) -> Explanation``.

    Subclasses store their constructor arguments under the same names, set :attr:`name`, and
    implement :meth:`_check_params` (raise :class:`~mxbench.errors.ExplainerError` on a bad
    parameter), :meth:`_unsupported` (why a model's module does not suit the method, or None)
    and :meth:`_explain`, which gets the model's torch module, the task and the instance's raw
    inputs (a batch of one) and returns a dict with ``attributions`` ``(n,)``, ``n_queries`` and
    optionally ``modality`` and ``extras``. :meth:`explain` checks the parameters, the model, the
    task and the instance before any work, puts the module in eval mode, times the call and
    fills in the :class:`~mxbench.explainers.base.Explanation`. Every white-box explainer is
    deterministic (no ``random_state``: nothing is drawn).

    Examples
    --------
    >>> import mxbench, numpy as np
    >>> from mxbench.models import train
    >>> class Output(WhiteBoxExplainer):
    ...     name = "output"
    ...     def _explain(self, module, task, raw):
    ...         y = float(module(_tensors(raw, module)).detach()[0])
    ...         return {"attributions": np.full(task.n_players, y / task.n_players), "n_queries": 1}
    >>> task = mxbench.generate("smoke", instances=300)[0]
    >>> model = train(task, "fusion_mlp", epochs=1, certify=False, examples_per_epoch=256, config={"hidden": 16})
    >>> e = Output().explain(model, task, 0)
    >>> e.attributions.shape, e.n_queries, e.explainer
    ((12,), 1, 'output')
    >>> bool(np.isclose(e.attributions.sum(), model.predict({k: v[:1] for k, v in task.inputs.items()})[0]))
    True
    """

    #: The explainer's name in results and reports.
    name: str = "whitebox"
    #: Whether the attributions sum to ``f(x) - f(baseline)`` (approximately, for IG).
    efficient: bool = False
    #: The method's label, recorded as :attr:`Explanation.index` (no game index: a model's internals).
    target_index: str | None = None

    get_params = Explainer.get_params
    set_params = Explainer.set_params
    __repr__ = Explainer.__repr__

    def explain(self, model: Any, task: Any, i: int) -> Explanation:
        """Explain the model's output on instance ``i`` of ``task``.

        Parameters
        ----------
        model : TrainedModel
            A trained model (:func:`mxbench.models.train` or :func:`mxbench.models.load`).
        task : Task
            The task the model was trained on.
        i : int
            The instance number, ``0..task.n_instances - 1``.

        Returns
        -------
        Explanation
            Per-player attributions; ``modality`` sums them per modality.

        Raises
        ------
        ExplainerError
            A bad parameter, a model that is not a trained model or whose architecture the
            method does not apply to, a task of another spec, or a bad instance number.
        """
        from mxbench.models.trained import TrainedModel
        from mxbench.task import Task

        self._check_params()
        if not isinstance(model, TrainedModel):
            raise ExplainerError(f"model: expected a TrainedModel (mxbench.models.train or load), "
                                 f"got {type(model).__name__}")
        if not isinstance(task, Task):
            raise ExplainerError(f"task: expected an mxbench Task, got {type(task).__name__}")
        if task.spec.spec_hash() != model.spec_hash:
            raise ExplainerError(f"task: the model was trained on task {model.task_name!r}, not on {task.spec.name!r} "
                                 "(the specs differ)")
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < task.n_instances:
            raise ExplainerError(f"i: expected an instance number 0..{task.n_instances - 1}, got {i!r}")
        module = model.module
        why = self._unsupported(module, task)
        if why is not None:
            raise ExplainerError(f"model: {type(self).__name__} does not apply to architecture {model.arch!r} "
                                 f"({type(module).__name__}): {why}")
        module.eval()
        raw = {k: v[int(i):int(i) + 1] for k, v in task.inputs.items()}
        start = time.perf_counter()
        out = self._explain(module, task, raw)
        seconds = time.perf_counter() - start
        n_mod = len(task.modality_names)
        attributions = np.asarray(out["attributions"], dtype=np.float64)
        modality = out.get("modality")
        if modality is None:
            modality = modality_sums(attributions, task.modality_of, n_mod)
        return Explanation(attributions=attributions, modality=np.asarray(modality, dtype=np.float64),
                           modality_names=tuple(task.modality_names), modality_of=task.modality_of,
                           interactions=None, n_queries=int(out["n_queries"]), seconds=seconds,
                           explainer=self.name, params=self.get_params(deep=False),
                           player_names=list(task.player_names), extras=dict(out.get("extras", {})),
                           index=self.target_index)

    def unsupported_reason(self, model: Any, task: Any) -> str | None:
        """Why this method does not apply to a trained model's architecture (None: it does).

        Parameters
        ----------
        model : TrainedModel
            A trained model.
        task : Task
            Its task.

        Returns
        -------
        str or None

        Examples
        --------
        >>> import mxbench
        >>> from mxbench.models import train
        >>> from mxbench.explainers import AttentionRollout
        >>> task = mxbench.generate("smoke", instances=200)[0]
        >>> model = train(task, "fusion_mlp", epochs=1, certify=False)
        >>> AttentionRollout().unsupported_reason(model, task)[:26]
        'it has no attention maps; '
        """
        return self._unsupported(model.module, task)

    def _unsupported(self, module: torch.nn.Module, task: Any) -> str | None:
        """Why the method does not apply to this module (None: it does)."""
        return None

    def _check_params(self) -> None:
        """Raise ExplainerError on a bad parameter (called before any work)."""

    def _explain(self, module: torch.nn.Module, task: Any, raw: Mapping[str, np.ndarray]) -> Mapping[str, Any]:  # pragma: no cover
        raise NotImplementedError


def _tensors(raw: Mapping[str, np.ndarray], module: torch.nn.Module, one_hot: bool = False) -> dict[str, torch.Tensor]:
    """Raw numpy inputs as the module's tensors; text as float one-hot rows when ``one_hot``."""
    device = next(module.parameters()).device
    out = {}
    for m in module.modalities:
        x = torch.from_numpy(np.array(raw[m.name], copy=True)).to(device)
        if m.kind == "text":
            x = x.long()
            if one_hot:
                x = torch.nn.functional.one_hot(x, m.vocab).float()
        else:
            x = x.float()
        out[m.name] = x
    return out


def _check_steps(steps: Any, method: str) -> None:
    low = 2 if method == "riemann_trapezoid" else 1
    check_int("steps", steps, low, expected=f"an integer >= {low} for method {method!r}")


def _release(module: torch.nn.Module) -> None:
    """Detach the maps a forward pass left on the module, so no autograd graph stays alive."""
    if hasattr(module, "attention"):
        module.attention = [a.detach() for a in module.attention]
    if hasattr(module, "expert_attention"):
        module.expert_attention = [[a.detach() for a in per] for per in module.expert_attention]
        for k in ("routing", "expert_outputs", "latents"):
            if getattr(module, k, None) is not None:
                setattr(module, k, getattr(module, k).detach())


def _sign(target: str, y: float) -> float:
    return -1.0 if target == "predicted" and y < 0 else 1.0
