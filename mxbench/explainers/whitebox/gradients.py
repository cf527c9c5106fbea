"""Integrated gradients from the fully masked input, on any architecture."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from mxbench.explainers.params import check_choice
from mxbench.explainers.whitebox.base import (TARGETS, WhiteBoxExplainer, _check_steps, _release, _sign,
                                              _tensors)
from mxbench.models.base import image_patches

#: Quadrature rules of :class:`IntegratedGradients` (Captum's names).
IG_METHODS = ("riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle", "gausslegendre")


def _to_players(per_input: Mapping[str, torch.Tensor], modalities) -> np.ndarray:
    """Sum input-space values ``(B, *input shape)`` to players ``(B, n)``: pixels to patches, one-hot rows to slots."""
    parts = []
    for m in modalities:
        x = per_input[m.name]
        if m.kind == "image":
            x = image_patches(x, m).sum(-1)
        elif m.kind == "text":
            x = x.sum(-1)
        parts.append(x)
    return torch.cat(parts, dim=1).detach().double().cpu().numpy()


def ig_path(method: str, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Points ``alpha`` in [0, 1] and weights of a quadrature rule for ``∫_0^1 g(alpha) d alpha``.

    ``riemann_trapezoid``: ``steps`` equally spaced points from 0 to 1, half weight at the ends
    (error ``O(steps^-2)`` for smooth paths); ``riemann_left`` / ``riemann_right`` /
    ``riemann_middle``: ``steps`` cells, the left end, right end or middle of each (the middle
    rule is ``O(steps^-2)``, the others ``O(steps^-1)``); ``gausslegendre``: ``steps``-point
    Gauss-Legendre (exact for polynomials of degree ``2 steps - 1``). Weights sum to 1.

    Parameters
    ----------
    method : str
        One of :data:`IG_METHODS`.
    steps : int
        The number of points (at least 2 for the trapezoid rule).

    Returns
    -------
    alphas, weights : ndarray of float64
        Shape ``(steps,)`` each.

    Examples
    --------
    >>> a, w = ig_path("riemann_trapezoid", 5)
    >>> a.tolist(), w.tolist()
    ([0.0, 0.25, 0.5, 0.75, 1.0], [0.125, 0.25, 0.25, 0.25, 0.125])
    >>> a, w = ig_path("gausslegendre", 3)
    >>> round(float((w * a**5).sum()), 12) == round(1 / 6, 12)   # exact to degree 5
    True
    """
    check_choice("method", method, IG_METHODS)
    _check_steps(steps, method)
    k = np.arange(steps, dtype=np.float64)
    if method == "riemann_trapezoid":
        alphas = k / (steps - 1)
        weights = np.full(steps, 1.0 / (steps - 1))
        weights[[0, -1]] *= 0.5
    elif method == "gausslegendre":
        x, w = np.polynomial.legendre.leggauss(int(steps))
        alphas, weights = (x + 1.0) / 2.0, w / 2.0
    else:
        shift = {"riemann_left": 0.0, "riemann_right": 1.0, "riemann_middle": 0.5}[method]
        alphas, weights = (k + shift) / steps, np.full(steps, 1.0 / steps)
    return alphas, weights


def _path_gradients(module: torch.nn.Module, task: Any, raw: Mapping[str, np.ndarray], method: str, steps: int,
                    outputs: str = "mixture") -> dict[str, Any]:
    """Integrated gradients of the output(s) along the straight line from the masked input to the input.

    Returns ``ig``, per-player IG ``(K, n)`` for ``K`` outputs (1: the model output; the experts'
    outputs when ``outputs="experts"``), ``ends`` ``(K, 2)`` the outputs at the input and at the
    baseline, ``y`` the model output at the input, ``routing`` (FL-I2MoE, at the input) and
    ``n_queries``, the number of path points run through the model (one batch).
    """
    modalities = module.modalities
    alphas, weights = ig_path(method, steps)
    # the end points give f(x) - f(baseline); add them where the rule does not evaluate them
    points = np.unique(np.concatenate([alphas, [0.0, 1.0]]))
    w = np.zeros(len(points))
    np.add.at(w, np.searchsorted(points, alphas), weights)
    x = _tensors(raw, module, one_hot=True)
    base = _tensors(task.plan.mask(raw, np.zeros((1, task.n_players), dtype=bool)), module, one_hot=True)
    a = torch.as_tensor(points, dtype=torch.float32, device=next(module.parameters()).device)
    path = {}
    for m in modalities:
        shape = (-1,) + (1,) * (x[m.name].dim() - 1)
        path[m.name] = (base[m.name] + a.view(shape) * (x[m.name] - base[m.name])).detach().requires_grad_(True)
    wt = torch.as_tensor(w, dtype=torch.float32, device=a.device)
    with torch.enable_grad():
        y = module(path)
        ys = [y] if outputs == "mixture" else list(module.expert_outputs.unbind(1))
        per_output, ends = [], []
        for k, out in enumerate(ys):
            # each path point's output depends on its own row only: one backward gives Σ_s w_s grad f(x_s)
            grads = torch.autograd.grad((wt * out).sum(), [path[m.name] for m in modalities],
                                        retain_graph=k < len(ys) - 1)
            ig = {m.name: (x[m.name] - base[m.name]) * g.sum(0, keepdim=True) for m, g in zip(modalities, grads)}
            per_output.append(_to_players(ig, modalities)[0])
            ends.append((float(out[-1].detach()), float(out[0].detach())))
    routing = getattr(module, "routing", None)
    out = {"ig": np.stack(per_output), "ends": np.array(ends), "y": float(y[-1].detach()), "n_queries": len(points),
           "routing": None if routing is None else routing[-1].detach().double().cpu().numpy()}
    _release(module)
    return out


class IntegratedGradients(WhiteBoxExplainer):
    """Integrated gradients from the fully masked input (Sundararajan, Taly & Yan 2017).

    The baseline is the instance with **every** player absent under mxbench's one masking rule
    (``task.plan.mask(raw, all False)``: zero columns, zero patches, ``[MASK]`` tokens), so the
    attributions add up to ``f(x) - f(baseline) = v(N) - v(∅)`` of the model's game, as Shapley
    values do. The path is the straight line from the baseline to the input: in input space for
    columns and pixels, in **embedding space** for tokens (text enters the model as one-hot rows,
    :func:`~mxbench.models.base.embed_tokens`, and a straight line between one-hot rows is the
    straight line between the two embeddings, so the one-hot gradient summed over a slot is the
    embedding-space IG of the slot). Attributions are ``(x - x') * ∫ grad``, summed over a
    patch's pixels and over a slot's one-hot row. The whole path runs through the model in one
    batch. Decor (``docs/reconstructions.md`` §5) uses a zero baseline, 16 steps and |IG| averaged
    over the hidden units; here the signed attribution of each player is kept.

    ``n_queries`` is the number of distinct path points run through the model (``steps``, plus
    the end points 0 and 1 if the rule does not include them). ``extras`` holds
    ``f_input`` ``f(x)``, ``f_baseline`` ``f(x')`` and ``delta`` ``= sum(attributions) -
    (f(x) - f(x'))``, the completeness error, which shrinks as ``steps`` grows (as
    ``steps^-2`` for the trapezoid and midpoint rules on these smooth models); with
    ``target="predicted"`` and a negative output all three are of the negated output.

    Parameters
    ----------
    steps : int, default 32
        Points on the path.
    method : {"riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle", "gausslegendre"}
        The quadrature rule (:func:`ig_path`); the default includes both end points.
    target : {"output", "predicted"}, default "output"
        ``"output"``: the model's output (regression value or logit); ``"predicted"``: the
        evidence for the prediction, ``-output`` where the output is negative (a classification
        task's logit of the predicted class).

    Examples
    --------
    >>> import mxbench, numpy as np
    >>> from mxbench.models import train
    >>> task = mxbench.generate("smoke", instances=300)[0]
    >>> model = train(task, "fusion_mlp", epochs=1, certify=False, examples_per_epoch=256, config={"hidden": 16})
    >>> e = IntegratedGradients(steps=16).explain(model, task, 3)
    >>> e.attributions.shape, e.n_queries
    ((12,), 16)
    >>> f = e.extras["f_input"] - e.extras["f_baseline"]
    >>> bool(abs(e.attributions.sum() - f) < 0.02 * max(1.0, abs(f)))
    True
    """

    name = "integrated_gradients"
    #: Integrated gradients of the model's input space (not the Shapley value of the game).
    target_index = "IG"
    efficient = True

    def __init__(self, steps: int = 32, method: str = "riemann_trapezoid", target: str = "output") -> None:
        self.steps = steps
        self.method = method
        self.target = target

    def _check_params(self) -> None:
        check_choice("method", self.method, IG_METHODS)
        _check_steps(self.steps, self.method)
        check_choice("target", self.target, TARGETS)

    def _unsupported(self, module, task):
        if any(m.kind == "text" for m in task.spec.modalities) and not getattr(module, "accepts_one_hot_text", False):
            return ("the task has text and the module does not take one-hot token rows "
                    "(TaskModel.accepts_one_hot_text; see mxbench.models.base.embed_tokens)")
        return None

    def _explain(self, module, task, raw):
        r = _path_gradients(module, task, raw, self.method, int(self.steps))
        sign = _sign(self.target, r["y"])  # IG is linear in the output: IG(-f) = -IG(f)
        attr = sign * r["ig"][0]
        f_x, f_0 = sign * r["ends"][0]
        return {"attributions": attr, "n_queries": r["n_queries"],
                "extras": {"f_input": float(f_x), "f_baseline": float(f_0), "delta": float(attr.sum() - (f_x - f_0))}}
