"""White-box explainers: integrated gradients, attention rollout, attention x gradient, FL-I2MoE expert maps.

A white-box explainer reads a trained model's insides, so it is called as
``explainer.explain(model, task, i)`` (a :class:`~mxbench.models.trained.TrainedModel`, the task
it was trained on, an instance number) rather than on a game. It returns the same
:class:`~mxbench.explainers.base.Explanation` as every black-box explainer: one attribution per
**player** (a column, an image patch, a token slot), ``modality`` = the attributions summed per
modality, ``n_queries`` = the number of model forward passes of the instance (inputs run through
the model, e.g. the points of the integration path), the seconds, the name and the parameters.

How positions map to players. Every model here encodes player ``j`` (players numbered in modality
order; patches row-major) as its ``j``-th token: :class:`~mxbench.models.base.PlayerTokens` emits
the tokens of each modality in player order and the transformers add no class token. The only
extra token is the readout token of a ``TokenTransformer(pool="readout")``, the last one
(``readout_index = n_players``); it is never a player. Input-space gradients are mapped back to
players directly: a column is a player, the pixels of a patch are summed to their patch, and the
one-hot row of a token slot is summed to its slot.

The methods follow the Decor code of the FL-I2MoE authors (``research/fl_i2moe.md`` §3), with
mxbench's one masking rule as the baseline (Decor uses a zero baseline) and without Decor's final
min-max normalisation per modality (it would erase the comparison between modalities that the
modality contributions are scored on):

- :class:`IntegratedGradients` (Sundararajan et al. 2017), any architecture;
- :class:`AttentionRollout` (Abnar & Zuidema 2020), token transformer and FL-I2MoE;
- :class:`AttentionGrad` (Chefer et al. 2021, as Decor's ``attnXgrad``), the same models;
- :class:`ExpertMaps`, one map per FL-I2MoE expert, mixed by the routing weights.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

import numpy as np
import torch

from mxbench.errors import ExplainerError
from mxbench.explainers.base import Explainer, Explanation, modality_sums
from mxbench.models.base import image_patches

__all__ = ["WhiteBoxExplainer", "IntegratedGradients", "AttentionRollout", "AttentionGrad", "ExpertMaps",
           "ig_path", "rollout", "IG_METHODS", "TARGETS", "EXPERT_METHODS"]

#: Quadrature rules of :class:`IntegratedGradients` (Captum's names).
IG_METHODS = ("riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle", "gausslegendre")
#: What the gradient explainers differentiate: the raw output, or the evidence for the prediction.
TARGETS = ("output", "predicted")
#: Per-expert attribution methods of :class:`ExpertMaps`.
EXPERT_METHODS = ("attention_grad", "rollout", "integrated_gradients")


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

    get_params = Explainer.get_params
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
                           explainer=self.name, params=self.get_params(), player_names=list(task.player_names),
                           extras=dict(out.get("extras", {})))

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


# ---------------------------------------------------------------------- helpers
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


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ExplainerError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")


def _check_steps(steps: Any, method: str) -> None:
    low = 2 if method == "riemann_trapezoid" else 1
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < low:
        raise ExplainerError(f"steps: expected an integer >= {low} for method {method!r}, got {steps!r}")


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
    _check_choice("method", method, IG_METHODS)
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


def _release(module: torch.nn.Module) -> None:
    """Detach the maps a forward pass left on the module, so no autograd graph stays alive."""
    if hasattr(module, "attention"):
        module.attention = [a.detach() for a in module.attention]
    if hasattr(module, "expert_attention"):
        module.expert_attention = [[a.detach() for a in per] for per in module.expert_attention]
        for k in ("routing", "expert_outputs", "latents"):
            if getattr(module, k, None) is not None:
                setattr(module, k, getattr(module, k).detach())


def _forward_maps(module: torch.nn.Module, raw: Mapping[str, np.ndarray], grad: bool) -> dict[str, Any]:
    """One forward pass of the instance; its attention maps (per expert for FL-I2MoE) and, when
    ``grad``, the gradient of the output (of each expert's output, ``expert_grads``) w.r.t. them.

    All inputs are fed as floats that require grad (text as one-hot rows), so the maps lie on
    the autograd path even when the parameters are frozen.
    """
    from mxbench.models.fl_i2moe import FLI2MoE

    x = {k: v.requires_grad_(True) for k, v in _tensors(raw, module, one_hot=True).items()}
    moe = isinstance(module, FLI2MoE)
    with torch.enable_grad():
        y = module(x)
        maps = module.expert_attention if moe else [module.attention]  # [expert][layer] (1, heads, T, T)
        out: dict[str, Any] = {"y": float(y[0].detach()), "maps": [[a[0].detach() for a in per] for per in maps]}
        if moe:
            out["routing"] = module.routing[0].detach().double().cpu().numpy()
            out["expert_outputs"] = module.expert_outputs[0].detach().double().cpu().numpy()
        if grad:
            flat = [a for per in maps for a in per]
            g = torch.autograd.grad(y.sum(), flat, retain_graph=moe)
            out["grads"] = _regroup([t[0] for t in g], maps)
            if moe:  # expert e's output depends on expert e's maps only: one pass gives every d out_e / d A_e
                g = torch.autograd.grad(module.expert_outputs.sum(), flat)
                out["expert_grads"] = _regroup([t[0] for t in g], maps)
    _release(module)
    return out


def _regroup(flat: list[torch.Tensor], like: list[list[torch.Tensor]]) -> list[list[torch.Tensor]]:
    out, k = [], 0
    for per in like:
        out.append(flat[k:k + len(per)])
        k += len(per)
    return out


def rollout(maps: list[torch.Tensor], row_normalize: bool = True) -> np.ndarray:
    """Roll per-layer token relevance out through the layers: ``R = Â_L ... Â_1``, ``Â_l = norm(A_l + I)``.

    Parameters
    ----------
    maps : list of Tensor
        One ``(T, T)`` head-averaged map per layer, first layer first (row = query).
    row_normalize : bool
        Divide each row of ``A_l + I`` by its sum (Abnar & Zuidema; Decor). False gives
        Chefer et al.'s ``R = (I + A_L) ... (I + A_1)``.

    Returns
    -------
    ndarray of float64, shape (T, T)
        Row ``i`` is how much token ``i`` at the top reads from each input token; with
        ``row_normalize`` and non-negative maps every row sums to 1.

    Examples
    --------
    >>> import torch
    >>> a = torch.tensor([[0.5, 0.5], [0.0, 1.0]])
    >>> rollout([a, a]).round(4).tolist()
    [[0.5625, 0.4375], [0.0, 1.0]]
    """
    t = maps[0].shape[-1]
    eye = torch.eye(t, dtype=torch.float64, device=maps[0].device)
    r = eye.clone()
    for a in maps:
        a = a.double() + eye
        if row_normalize:
            a = a / a.sum(-1, keepdim=True)
        r = a @ r
    return r.cpu().numpy()


def _query_rows(module: torch.nn.Module) -> np.ndarray:
    """The tokens the model's head reads: the readout token, or every player token."""
    readout = getattr(module, "readout_index", None)
    n = sum(m.n_players for m in module.modalities)
    return np.array([readout]) if readout is not None else np.arange(n)


def _importance(r: np.ndarray, module: torch.nn.Module) -> tuple[np.ndarray, float]:
    """Player importance ``mean over query rows of R[:, players]`` and the share left on non-players."""
    n = sum(m.n_players for m in module.modalities)
    rows = r[_query_rows(module)].mean(axis=0)
    return rows[:n], float(rows[n:].sum())


def _attention_grad_maps(maps: list[torch.Tensor], grads: list[torch.Tensor], sign: float) -> list[torch.Tensor]:
    """Per layer, the head mean of ``ReLU(A) * ReLU(sign * dy/dA)``."""
    return [(a.clamp(min=0) * (sign * g).clamp(min=0)).mean(0) for a, g in zip(maps, grads)]


def _sign(target: str, y: float) -> float:
    return -1.0 if target == "predicted" and y < 0 else 1.0


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
    batch. Decor (``research/fl_i2moe.md`` §3) uses a zero baseline, 16 steps and |IG| averaged
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
    efficient = True

    def __init__(self, steps: int = 32, method: str = "riemann_trapezoid", target: str = "output") -> None:
        self.steps = steps
        self.method = method
        self.target = target

    def _check_params(self) -> None:
        _check_choice("method", self.method, IG_METHODS)
        _check_steps(self.steps, self.method)
        _check_choice("target", self.target, TARGETS)

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


class _AttentionExplainer(WhiteBoxExplainer):
    def _unsupported(self, module, task):
        from mxbench.models.fl_i2moe import FLI2MoE
        from mxbench.models.transformer import TokenTransformer

        if isinstance(module, (TokenTransformer, FLI2MoE)):
            return None
        return ("it has no attention maps; attention explainers apply to the transformer and fl_i2moe "
                "architectures, IntegratedGradients to every one")


class AttentionRollout(_AttentionExplainer):
    """Attention rollout (Abnar & Zuidema 2020), as the Decor code computes it.

    For each layer the attention probabilities are averaged over the heads, the identity is
    added (the residual stream) and each row is divided by its sum; the layers' maps are
    multiplied, ``R = Â_L ... Â_1`` (:func:`rollout`). A player's importance is its column of
    ``R`` averaged over the query rows the model's head reads: every player token (the token
    transformer's ``"flatten"`` and ``"mean"`` pools, and FL-I2MoE, whose experts mean-pool every
    modality), or the readout token alone (``pool="readout"``; the readout token's own column is
    not a player and its share is reported as ``extras["readout_share"]``).

    FL-I2MoE: each expert's rollout ``R_e`` is computed from its own maps and the experts are
    combined by the instance's routing weights, ``R = Σ_e w_e R_e`` (``research/fl_i2moe.md`` §3).

    Every row of ``R`` is a probability vector, so the attributions are non-negative and sum to
    1 (to ``1 - readout_share`` with a readout token). They carry no sign and no size: they
    rank players, they do not add up to the output. ``n_queries`` is 1 (one forward pass).
    ``extras["rollout"]`` holds ``R`` ``(T, T)``; for FL-I2MoE ``extras["routing"]`` holds the
    routing weights by expert name.

    Examples
    --------
    >>> import mxbench, numpy as np
    >>> from mxbench.models import train
    >>> task = mxbench.generate("smoke", instances=300)[0]
    >>> model = train(task, "transformer", epochs=1, certify=False, examples_per_epoch=256,
    ...               config={"dim": 8, "heads": 2, "head_hidden": 16})
    >>> e = AttentionRollout().explain(model, task, 0)
    >>> bool((e.attributions >= 0).all()), round(float(e.attributions.sum()), 6), e.n_queries
    (True, 1.0, 1)
    """

    name = "attention_rollout"

    def __init__(self) -> None:
        pass

    def _explain(self, module, task, raw):
        f = _forward_maps(module, raw, grad=False)
        rs = [rollout([a.mean(0) for a in per]) for per in f["maps"]]
        extras: dict[str, Any] = {}
        if "routing" in f:
            r = sum(w * re for w, re in zip(f["routing"], rs))
            extras["routing"] = dict(zip(module.expert_names, map(float, f["routing"])))
        else:
            r = rs[0]
        attr, rest = _importance(r, module)
        extras["rollout"] = r
        if getattr(module, "readout_index", None) is not None:
            extras["readout_share"] = rest
        return {"attributions": attr, "n_queries": 1, "extras": extras}


class AttentionGrad(_AttentionExplainer):
    """Attention x gradient rollout (Chefer, Gur & Wolf 2021), as Decor's default ``attnXgrad``.

    One forward and one backward pass give each layer's attention probabilities ``A`` and the
    gradient of the score ``s`` with respect to them; each layer's map is the head mean of
    ``ReLU(A) * ReLU(ds/dA)``, plus the identity, each row divided by its sum, and the layers
    are rolled out, ``R = Â_L ... Â_1`` (:func:`rollout`). Player importance is ``R``'s player
    columns averaged over the query rows the head reads (as in :class:`AttentionRollout`).
    ``row_normalize=False`` gives Chefer et al.'s own rule ``R = (I + Ā_L) ... (I + Ā_1)``.

    The score ``s`` is the model's output (``target="output"``: the regression value or the
    logit) or the evidence for the prediction (``target="predicted"``: the output, negated
    where it is negative, i.e. the logit of the predicted class, as Decor's target logit).

    FL-I2MoE: the score is the mixture output ``y = Σ_e w_e out_e``, so each expert's gradient
    ``dy/dA_e = w_e d out_e / dA_e`` already carries its routing weight; each expert is rolled
    out from its own maps and the experts' rollouts are **averaged** without routing weights
    (Decor sums them; the mean is the same ranking with rows that sum to 1).

    With ``row_normalize`` the attributions are non-negative and sum to 1 (to ``1 -
    readout_share`` with a readout token). ``n_queries`` is 1. ``extras["rollout"]`` holds ``R``.

    Parameters
    ----------
    target : {"output", "predicted"}, default "output"
        What the gradient is taken of (see above).
    row_normalize : bool, default True
        Row-normalise ``Ā + I`` before rolling out (Decor) or not (Chefer et al.).

    Examples
    --------
    >>> import mxbench, numpy as np
    >>> from mxbench.models import train
    >>> task = mxbench.generate("smoke", instances=300)[0]
    >>> model = train(task, "transformer", epochs=1, certify=False, examples_per_epoch=256,
    ...               config={"dim": 8, "heads": 2, "head_hidden": 16})
    >>> e = AttentionGrad().explain(model, task, 0)
    >>> bool((e.attributions >= 0).all()), round(float(e.attributions.sum()), 6)
    (True, 1.0)
    """

    name = "attention_grad"

    def __init__(self, target: str = "output", row_normalize: bool = True) -> None:
        self.target = target
        self.row_normalize = row_normalize

    def _check_params(self) -> None:
        _check_choice("target", self.target, TARGETS)
        if not isinstance(self.row_normalize, (bool, np.bool_)):
            raise ExplainerError(f"row_normalize: expected True or False, got {self.row_normalize!r}")

    def _explain(self, module, task, raw):
        f = _forward_maps(module, raw, grad=True)
        sign = _sign(self.target, f["y"])
        rs = [rollout(_attention_grad_maps(per, g, sign), bool(self.row_normalize))
              for per, g in zip(f["maps"], f["grads"])]
        r = sum(rs) / len(rs)
        attr, rest = _importance(r, module)
        extras: dict[str, Any] = {"rollout": r}
        if "routing" in f:
            extras["routing"] = dict(zip(module.expert_names, map(float, f["routing"])))
        if getattr(module, "readout_index", None) is not None:
            extras["readout_share"] = rest
        return {"attributions": attr, "n_queries": 1, "extras": extras}


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

    Which expert-wise form FL-I2MoE itself reports is not public (``research/fl_i2moe.md`` §3).
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

    def __init__(self, method: str = "attention_grad", target: str = "output", steps: int = 32) -> None:
        self.method = method
        self.target = target
        self.steps = steps

    def _unsupported(self, module, task):
        from mxbench.models.fl_i2moe import FLI2MoE

        return None if isinstance(module, FLI2MoE) else "only the fl_i2moe architecture has experts"

    def _check_params(self) -> None:
        _check_choice("method", self.method, EXPERT_METHODS)
        _check_choice("target", self.target, TARGETS)
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
