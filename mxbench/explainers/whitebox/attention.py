"""Attention explainers of the token transformer and FL-I2MoE: attention rollout and attention x gradient."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from mxbench.explainers.params import check_bool, check_choice
from mxbench.explainers.whitebox.base import TARGETS, WhiteBoxExplainer, _release, _sign, _tensors


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
    combined by the instance's routing weights, ``R = Σ_e w_e R_e`` (``docs/reconstructions.md`` §5).

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
    #: Attention rollout: no index of the game.
    target_index = "AttentionRollout"

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
    #: Attention times gradient: no index of the game.
    target_index = "AttentionGrad"

    def __init__(self, target: str = "output", row_normalize: bool = True) -> None:
        self.target = target
        self.row_normalize = row_normalize

    def _check_params(self) -> None:
        check_choice("target", self.target, TARGETS)
        check_bool("row_normalize", self.row_normalize)

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
