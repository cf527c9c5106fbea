"""The planted function as a torch model: decoders and terms written out, no training.

:func:`exact_model` returns an :class:`ExactModel`, a :class:`~mxbench.models.TrainedModel` with
architecture ``"exact"`` whose module (:class:`ExactModule`) maps a task's raw inputs (columns,
pixels, token ids or one-hot token rows) to ``f*`` with the task's own decoders and terms, in
float64 and in the same order of operations as :class:`~mxbench.task.TaskPlan` (``decode`` then
``f_star``), so its game is the planted game bit for bit on CPU (up to float rounding on other
devices). It is the control of the model axis: an explainer's error on it is the explainer's
error alone, and a white-box method (integrated gradients) can run on it.

Gradients
---------
The module is differentiable wherever ``f*`` is, and its gradient there is the exact gradient
(decoders are linear; ``identity``, ``tanh`` and ``product`` terms are smooth; ``tanh`` is the
same deterministic polynomial as :func:`mxbench.exactmath.tanh`, with the gradient
``1 - tanh^2`` of the computed value, also at 0). The terms that are not differentiable stay
exact in value and take these gradients:

- ``step`` (``1[s > 0]``), synergy ``xor`` (signs) and ``and`` (``prod 1[s > 0]``): zero
  everywhere. That is their derivative almost everywhere; the jump at ``s = 0`` (a Dirac) is
  dropped, so gradient methods see nothing of these terms (integrated gradients' completeness
  fails by their jump along the path).
- redundancy ``max-magnitude`` (``w * s_j`` with ``j`` the copy of largest magnitude, first on
  ties): ``w`` for the selected copy, zero for the others (the gradient of the selected branch,
  exact away from ties ``|s_i| = |s_j|``, where the function has a kink or jump).

Every player is connected to the output with a zero gradient, so gradients exist (as zeros)
for players no term reads.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from mxbench.models.base import Inputs, TaskModel, image_patches
from mxbench.models.common import ModelError
from mxbench.models.trained import TrainedModel

#: The architecture name of the exact model (in results frames and ``validate(models=[...])``).
EXACT = "exact"

_KINDS = {"unique": ("identity", "tanh", "step"), "synergy": ("product", "xor", "and"),
          "redundancy": ("max-magnitude",)}

# mxbench.exactmath's constants: the same Cody-Waite reduction and Taylor polynomial, in torch
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_TAYLOR = [1.0 / float(np.prod(np.arange(1, k + 1, dtype=np.float64))) for k in range(0, 18)]


def _poly(r: torch.Tensor, first: int, last: int) -> torch.Tensor:
    acc = torch.full_like(r, _TAYLOR[last])
    for k in range(last - 1, first - 1, -1):
        acc = acc * r + _TAYLOR[k]
    return acc


def _exp(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(-700.0, 700.0)
    k = torch.round(x * _INV_LN2)  # round half to even, as numpy's rint
    r = (x - k * _LN2_HI) - k * _LN2_LO
    return torch.ldexp(_poly(r, 0, 17), k)


def _tanh_value(x: torch.Tensor) -> torch.Tensor:
    y = torch.clamp(2.0 * x.abs(), max=80.0)
    small = y < 0.5
    em1 = torch.where(small, y * _poly(torch.where(small, y, torch.zeros_like(y)), 1, 17), _exp(y) - 1.0)
    return torch.copysign(em1 / (em1 + 2.0), x)


class _ExactTanh(torch.autograd.Function):
    """Forward: :func:`mxbench.exactmath.tanh`'s bits; backward: ``1 - tanh(x)^2`` of that value."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        y = _tanh_value(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (y,) = ctx.saved_tensors
        return grad * (1.0 - y * y)


def exact_tanh(x: torch.Tensor) -> torch.Tensor:
    """:func:`mxbench.exactmath.tanh` in torch (float64): the same bits, gradient ``1 - tanh^2``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from mxbench import exactmath
    >>> x = np.array([-3.0, -1e-8, 0.0, 0.3, 2.0, 40.0])
    >>> exact_tanh(torch.from_numpy(x)).numpy().tolist() == exactmath.tanh(x).tolist()
    True
    >>> t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    >>> torch.autograd.grad(exact_tanh(t).sum(), t)[0].tolist()
    [1.0]
    """
    return _ExactTanh.apply(x)


class ExactModule(TaskModel):
    """``f*`` of a task plan as a torch module: raw inputs ``->`` latents ``->`` intercept + terms.

    Decoders: tabular columns as they are; image patches projected on their modality's template,
    ``sum_j x_j t_j`` accumulated in float64 in index order and divided by ``<t, t>`` (as
    :class:`~mxbench.generators.image.ImageRenderer`); text tokens looked up in the value table
    (ids ``(B, L)``), or one-hot rows ``(B, L, vocab)`` times the table. Terms as
    :meth:`mxbench.spec.Term.evaluate`. The output is float64 ``(B,)``. The decoder tables and
    the term weights are frozen parameters (``requires_grad=False``): nothing here is trained.

    Parameters
    ----------
    plan : TaskPlan
        The task's plan (its modalities, renderers, terms and intercept).

    Raises
    ------
    ModelError
        A modality, term kind or op the module cannot express (named).

    Examples
    --------
    >>> import mxbench, numpy as np, torch
    >>> task = mxbench.generate("smoke", instances=16)[0]
    >>> m = ExactModule(task.plan)
    >>> x = {k: torch.from_numpy(np.asarray(v[:4])) for k, v in task.inputs.items()}
    >>> m(x).numpy().tolist() == task.plan.f_star(task.plan.decode({k: v[:4] for k, v in task.inputs.items()})).tolist()
    True
    """

    accepts_one_hot_text = True

    def __init__(self, plan: Any) -> None:
        super().__init__(plan.spec.modalities)
        from mxbench.generators.image import ImageRenderer
        from mxbench.generators.tabular import TabularRenderer
        from mxbench.generators.text import TextRenderer

        self.intercept = nn.Parameter(torch.tensor(float(plan.spec.intercept), dtype=torch.float64),
                                      requires_grad=False)
        tables = {}
        for m, r in zip(self.modalities, plan.renderers):
            if m.kind == "tabular" and isinstance(r, TabularRenderer):
                continue
            if m.kind == "image" and isinstance(r, ImageRenderer):
                tables[m.name] = nn.Parameter(torch.as_tensor(np.asarray(r.template, dtype=np.float64)),
                                              requires_grad=False)
            elif m.kind == "text" and isinstance(r, TextRenderer):
                tables[m.name] = nn.Parameter(torch.as_tensor(np.asarray(r.values, dtype=np.float64)),
                                              requires_grad=False)
            else:
                raise ModelError(f"exact model: modality {m.name!r} of kind {m.kind!r} with decoder "
                                 f"{type(r).__name__} cannot be expressed (tabular, image and text decoders only)")
        self.tables = nn.ParameterDict(tables)
        # <t, t> of each template, in the renderer's fixed order (a python float: exact)
        self._tt = {m.name: float(plan.renderers[k]._tt) for k, m in enumerate(self.modalities) if m.kind == "image"}
        terms = []
        for k, t in enumerate(plan.terms):
            if t.kind not in _KINDS or t.op not in _KINDS[t.kind]:
                supported = "; ".join(f"{a}: {', '.join(b)}" for a, b in _KINDS.items())
                raise ModelError(f"exact model: term {k} ({t.kind} {t.op!r} over {', '.join(t.players)}) cannot be "
                                 f"expressed (supported: {supported})")
            if len(t.ids) != len(t.players) or not t.ids:
                raise ModelError(f"exact model: term {k} has no resolved player ids")
            terms.append((t.kind, t.op, tuple(int(i) for i in t.ids)))
        self.terms = tuple(terms)
        self.weights = nn.Parameter(torch.tensor([float(t.weight) for t in plan.terms], dtype=torch.float64),
                                    requires_grad=False)

    def decode(self, inputs: Inputs) -> torch.Tensor:
        """The latents ``(B, n_players)`` float64 of raw inputs, as ``TaskPlan.decode``."""
        parts = []
        for m in self.modalities:
            x = inputs[m.name]
            if m.kind == "tabular":
                parts.append(x.to(torch.float64))
            elif m.kind == "image":
                patches = image_patches(x, m)  # (B, n_patches, C*P*P), the renderer's layout
                t = self.tables[m.name]
                acc = torch.zeros(patches.shape[:-1], dtype=torch.float64, device=patches.device)
                for j in range(t.shape[0]):  # index order, no fused multiply-add: the renderer's bits
                    acc = acc + patches[..., j].to(torch.float64) * t[j]
                parts.append(acc / self._tt[m.name])
            else:
                values = self.tables[m.name]
                if x.is_floating_point():  # one-hot rows (B, L, vocab): a straight line in value space
                    if x.dim() != 3 or x.shape[-1] != values.shape[0]:
                        raise ModelError(f"{m.name}: expected token ids (B, L) or one-hot rows "
                                         f"(B, L, {values.shape[0]}), got a float tensor of shape {tuple(x.shape)}")
                    parts.append(x.to(torch.float64) @ values)
                else:
                    parts.append(values[x.long()])
        return torch.cat(parts, dim=1)

    def f_star(self, s: torch.Tensor) -> torch.Tensor:
        """``intercept + sum of terms`` of latents ``(B, n)``, as ``TaskPlan.f_star`` (same order)."""
        # every player reaches the output with a zero gradient (and adds an exact 0 to the value)
        out = self.intercept + (s * 0.0).sum(dim=1)
        for k, (kind, op, ids) in enumerate(self.terms):
            w = self.weights[k]
            cols = [s[:, i] for i in ids]
            if kind == "unique":
                x = cols[0]
                if op == "identity":
                    v = w * x
                elif op == "tanh":
                    v = w * exact_tanh(x)
                else:
                    v = w * (x > 0).to(torch.float64)
            elif kind == "synergy":
                if op == "product":
                    acc = cols[0]
                    for c in cols[1:]:
                        acc = acc * c
                    v = w * acc
                elif op == "xor":
                    acc = torch.sign(cols[0])
                    for c in cols[1:]:
                        acc = acc * torch.sign(c)
                    v = (w * (-1.0) ** (len(cols) + 1)) * acc
                else:
                    acc = (cols[0] > 0).to(torch.float64)
                    for c in cols[1:]:
                        acc = acc * (c > 0)
                    v = w * acc
            else:  # max-magnitude: the first copy of largest |s| (torch.argmax returns the first maximum)
                sub = torch.stack(cols, dim=1)
                pick = torch.argmax(sub.detach().abs(), dim=1, keepdim=True)
                v = w * sub.gather(1, pick)[:, 0]
            out = out + v
        return out

    def forward(self, inputs: Inputs) -> torch.Tensor:
        return self.f_star(self.decode(inputs))


class ExactModel(TrainedModel):
    """The exact model of a task (see :func:`exact_model`): a TrainedModel of architecture ``"exact"``.

    ``game``, ``predict``, ``certify`` and the white-box explainers work as on a trained model.
    It is not saved (:meth:`save` raises :class:`ModelError`): it is a pure function of the task's
    plan, rebuilt by :func:`exact_model` in milliseconds, and :func:`mxbench.models.load` builds
    only the trainable architectures.
    """

    def save(self, folder: Any, overwrite: bool = False):  # type: ignore[override]
        raise ModelError("the exact model is not saved: it is rebuilt from the task by "
                         "mxbench.models.exact_model(task) (no weights to keep)")

    def __repr__(self) -> str:
        status = "uncertified" if self.certificate is None else (
            "certified" if self.certificate.passed else "FAILED certificate")
        return f"ExactModel(task={self.task_name!r}, {status})"


def exact_model(task: Any, *, certify: bool = True, device: str = "cpu") -> ExactModel:
    """The planted function of ``task`` as a model: ``f*`` of the raw inputs, exactly.

    Its game equals ``task.game(i)`` to float precision (bit for bit on CPU). The certificate is
    **computed**, not constructed: :meth:`TrainedModel.certify` runs on the task's held-out
    instances like for a trained model (R² 1 and share error ~1e-16 up to rounding, so it
    passes). A task with neither a test nor a validation split gets no certificate
    (``certificate`` None) rather than a made-up one.

    Parameters
    ----------
    task : Task
        The task.
    certify : bool
        Compute the certificate (default True).
    device : str
        Where the module's tables live.

    Raises
    ------
    ModelError
        ``task`` is not a Task, or its spec has a modality or term the module cannot express.

    Examples
    --------
    >>> import mxbench, numpy as np
    >>> task = mxbench.generate("smoke", instances=64)[0]
    >>> model = exact_model(task)
    >>> model.arch, model.certified
    ('exact', True)
    >>> c = np.random.default_rng(0).random((8, task.n_players)) < 0.5
    >>> bool(np.allclose(model.game(task, 3)(c), task.game(3)(c), rtol=0, atol=1e-12))
    True
    """
    from mxbench.task import Task

    if not isinstance(task, Task):
        raise ModelError(f"task: expected an mxbench Task, got {type(task).__name__}")
    module = ExactModule(task.plan).to(device).eval()
    model = ExactModel(EXACT, {"terms": [t.to_dict() for t in task.terms], "intercept": float(task.spec.intercept)},
                       module, task.spec.spec_hash(), task.spec.name, 0, [], {"exact": True})
    has_heldout = len(task.split_indices("test")) > 0 or len(task.split_indices("val")) > 0
    if certify and has_heldout:
        model.certify(task)
    return model
