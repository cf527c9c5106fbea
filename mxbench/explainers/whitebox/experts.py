"""FL-I2MoE expert-wise maps: one attribution map per expert, mixed by the routing weights."""

from __future__ import annotations

from typing import Any

import numpy as np

from mxbench.explainers.whitebox.attention import _attention_grad_maps, _forward_maps, _importance, rollout
from mxbench.explainers.params import check_choice
from mxbench.explainers.whitebox.base import TARGETS, WhiteBoxExplainer, _check_steps, _sign
from mxbench.explainers.whitebox.gradients import _path_gradients

#: Per-expert attribution methods of :class:`ExpertMaps`.
EXPERT_METHODS = ("attention_grad", "rollout", "integrated_gradients")


class ExpertMaps(WhiteBoxExplainer):
    """FL-I2MoE expert-wise maps: one attribution map per expert, mixed by the routing weights.

    Each expert ``e`` (``uni:<modality>``, ``syn``, ``red``) is explained on its **own output**
    ``out_e`` by the chosen method, giving a map ``a_e`` ``(n,)``; the attributions are the
    routing-weighted sum ``Σ_e w_e a_e`` with the instance's routing weights ``w``, the mixture
    rule of the model's output ``y = Σ_e w_e out_e``. Methods (``method``):

    - ``"attention_grad"`` (default, as Decor's default ``attnXgrad``): :class:`AttentionGrad`'s
      rollout of ``ReLU(A_e) * ReLU(d out_e / dA_e)`` over expert ``e``'s own maps. Each map is
      non-negative and sums to 1, and so do the attributions. Differs from
      :class:`AttentionGrad` on FL-I2MoE, which differentiates the mixture and averages the
      experts without weights.
    - ``"rollout"``: :class:`AttentionRollout` of each expert; the weighted sum is exactly
      :class:`AttentionRollout`'s attributions.
    - ``"integrated_gradients"``: :class:`IntegratedGradients` of each expert's output along the
      same path (one batch, one backward pass per expert): ``a_e`` sums to
      ``out_e(x) - out_e(x')``. The routing weights also change along the path, so the weighted
      sum is not the IG of the mixture.

    Which expert-wise form FL-I2MoE itself reports is not public (``docs/reconstructions.md`` §5).
    ``extras["experts"]`` holds ``{expert name: (n,) map}``, ``extras["routing"]``
    ``{expert name: weight}`` and ``extras["expert_outputs"]`` ``{expert name: out_e(x)}``.
    ``n_queries`` is 1 for the attention methods, the path points for IG.

    Parameters
    ----------
    method : {"attention_grad", "rollout", "integrated_gradients"}, default "attention_grad"
        The per-expert attribution method.
    target : {"output", "predicted"}, default "output"
        ``"predicted"`` negates every expert's output where the mixture output is negative.
    steps : int, default 32
        Path points for ``"integrated_gradients"`` (trapezoid rule).

    Examples
    --------
    >>> import mxbench, numpy as np
    >>> from mxbench.models import train
    >>> task = mxbench.generate("smoke", instances=300)[0]
    >>> model = train(task, "fl_i2moe", epochs=1, certify=False, examples_per_epoch=256,
    ...               config={"dim": 8, "heads": 2, "rw_hidden": 8})
    >>> e = ExpertMaps().explain(model, task, 0)
    >>> sorted(e.extras["experts"])
    ['red', 'syn', 'uni:tab', 'uni:txt']
    >>> mix = sum(e.extras["routing"][k] * v for k, v in e.extras["experts"].items())
    >>> bool(np.allclose(mix, e.attributions))
    True
    """

    name = "expert_maps"
    #: Per-expert maps mixed by routing weights: no index of the game.
    target_index = "ExpertMaps"

    def __init__(self, method: str = "attention_grad", target: str = "output", steps: int = 32) -> None:
        self.method = method
        self.target = target
        self.steps = steps

    def _unsupported(self, module, task):
        from mxbench.models.fl_i2moe import FLI2MoE

        return None if isinstance(module, FLI2MoE) else "only the fl_i2moe architecture has experts"

    def _check_params(self) -> None:
        check_choice("method", self.method, EXPERT_METHODS)
        check_choice("target", self.target, TARGETS)
        _check_steps(self.steps, "riemann_trapezoid")

    def _explain(self, module, task, raw):
        names = list(module.expert_names)
        if self.method == "integrated_gradients":
            r = _path_gradients(module, task, raw, "riemann_trapezoid", int(self.steps), outputs="experts")
            sign = _sign(self.target, r["y"])
            maps, ends, w, n_queries = list(sign * r["ig"]), sign * r["ends"], r["routing"], r["n_queries"]
            extras: dict[str, Any] = {"delta": {k: float(m.sum() - (e[0] - e[1])) for k, m, e in zip(names, maps, ends)}}
            outputs = r["ends"][:, 0]
        else:
            grad = self.method == "attention_grad"
            f = _forward_maps(module, raw, grad=grad)
            if grad:
                sign = _sign(self.target, f["y"])
                rs = [rollout(_attention_grad_maps(per, g, sign)) for per, g in zip(f["maps"], f["expert_grads"])]
            else:
                rs = [rollout([a.mean(0) for a in per]) for per in f["maps"]]
            maps, w, n_queries, extras = [_importance(r, module)[0] for r in rs], f["routing"], 1, {}
            outputs = f["expert_outputs"]
        attr = np.sum([wi * m for wi, m in zip(w, maps)], axis=0)
        extras.update({"experts": dict(zip(names, maps)), "routing": dict(zip(names, map(float, w))),
                       "expert_outputs": dict(zip(names, map(float, outputs)))})
        return {"attributions": attr, "n_queries": n_queries, "extras": extras}
