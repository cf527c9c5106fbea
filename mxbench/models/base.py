"""The model contract: raw modality inputs in, one output per instance out; shared player encoders."""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import nn

from mxbench.spec import MASK_ID, ModalitySpec

Inputs = Mapping[str, torch.Tensor]


class TaskModel(nn.Module):
    """Base class of mxbench's models.

    A model takes a task's raw modality inputs (tabular ``float32 (B, F)``, image
    ``float32 (B, C, H, W)``, text ``int64 (B, L)`` token ids or, equivalently, ``float32
    (B, L, vocab)`` one-hot rows, see :func:`embed_tokens`), in which absent players are
    already set to their baseline, and returns one float per instance ``(B,)``: the regression
    output or the classification logit. Subclasses implement :meth:`forward`; models with
    extra training objectives (FL-I2MoE) override :meth:`training_loss`.

    Parameters
    ----------
    modalities : sequence of ModalitySpec
        The task's modalities, in player order.

    Examples
    --------
    >>> import torch
    >>> from mxbench.spec import ModalitySpec
    >>> mods = (ModalitySpec("t", "tabular", features=2),)
    >>> class Sum(TaskModel):
    ...     def forward(self, inputs):
    ...         return inputs["t"].sum(dim=1)
    >>> Sum(mods)({"t": torch.ones(3, 2)}).tolist()
    [2.0, 2.0, 2.0]
    """

    #: Whether :meth:`forward` also takes text as float one-hot rows ``(B, L, vocab)`` (as every
    #: mxbench model does, through :func:`embed_tokens`); integrated gradients need it for text.
    accepts_one_hot_text: bool = False

    def __init__(self, modalities: Sequence[ModalitySpec]) -> None:
        super().__init__()
        self.modalities = tuple(modalities)

    def training_loss(self, inputs: Inputs, target: torch.Tensor, task_loss: nn.Module) -> torch.Tensor:
        """The loss minimised in training: by default ``task_loss(self(inputs), target)``.

        Examples
        --------
        >>> import torch
        >>> from mxbench.spec import ModalitySpec
        >>> class Zero(TaskModel):
        ...     def forward(self, inputs):
        ...         return inputs["t"][:, 0] * 0
        >>> m = Zero((ModalitySpec("t", "tabular", features=1),))
        >>> float(m.training_loss({"t": torch.ones(2, 1)}, torch.ones(2), torch.nn.MSELoss()))
        1.0
        """
        return task_loss(self(inputs), target)


def mask_modality(inputs: Inputs, modality: ModalitySpec) -> dict[str, torch.Tensor]:
    """A copy of ``inputs`` with one whole modality set to its baseline (the one masking rule).

    Examples
    --------
    >>> import torch
    >>> from mxbench.spec import ModalitySpec
    >>> m = ModalitySpec("txt", "text", length=2, vocab=16)
    >>> mask_modality({"txt": torch.tensor([[5, 7]])}, m)["txt"].tolist()
    [[0, 0]]
    >>> hot = torch.nn.functional.one_hot(torch.tensor([[5, 7]]), 16).float()  # one-hot text
    >>> mask_modality({"txt": hot}, m)["txt"].argmax(-1).tolist()
    [[0, 0]]
    """
    out = dict(inputs)
    x = inputs[modality.name]
    if modality.kind == "text" and x.is_floating_point():  # one-hot tokens (see embed_tokens)
        out[modality.name] = torch.zeros_like(x).index_fill_(-1, torch.tensor([MASK_ID], device=x.device), 1.0)
    else:
        out[modality.name] = torch.full_like(x, MASK_ID) if modality.kind == "text" else torch.zeros_like(x)
    return out


class _RowSoftmax(torch.autograd.Function):
    """Softmax over the last axis, forward and backward written out (see :func:`row_softmax`)."""

    @staticmethod
    def forward(ctx, scores: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        e = (scores - scores.amax(dim=-1, keepdim=True)).exp_()
        probs = e.div_(e.sum(dim=-1, keepdim=True))
        ctx.save_for_backward(probs)
        return probs

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (probs,) = ctx.saved_tensors
        gp = grad * probs
        return gp - probs * gp.sum(dim=-1, keepdim=True)


def row_softmax(scores: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis, for the short rows of attention scores.

    The same values as ``torch.softmax(scores, dim=-1)`` (to float rounding) and its exact
    gradient. On CPU, torch's softmax kernel pays a fixed cost per row, and attention rows here
    have only ``T = 8..16`` entries: on ``(5, 352, 2, 12, 12)`` scores (one FL-I2MoE layer on a
    training batch of ``smoke-mix3``) it took 9.9 ms forward and 14.0 ms forward + backward,
    against 2.5 and 3.7 ms for max-subtract, exp, divide and ``p * (g - sum(p * g))`` written as
    whole-tensor operations (one core, torch 2.13).

    Parameters
    ----------
    scores : Tensor
        Any shape; normalised over the last axis.

    Returns
    -------
    Tensor
        Probabilities of the same shape; each row sums to 1.

    Examples
    --------
    >>> import torch
    >>> s = torch.randn(3, 4, 5)
    >>> bool(torch.allclose(row_softmax(s), torch.softmax(s, dim=-1), atol=1e-6))
    True
    """
    return _RowSoftmax.apply(scores)


def embed_tokens(embedding: nn.Embedding, x: torch.Tensor) -> torch.Tensor:
    """Embed a text modality given as token ids ``int (B, L)`` or as one-hot rows ``float (B, L, vocab)``.

    Every model accepts a text modality in either form. One-hot rows ``h`` embed as
    ``h @ embedding.weight``, so a straight line between two one-hot inputs is the straight line
    between the two embeddings: gradients with respect to ``h`` give integrated gradients in
    embedding space (:class:`~mxbench.explainers.whitebox.IntegratedGradients`).

    Examples
    --------
    >>> import torch
    >>> emb = torch.nn.Embedding(5, 3)
    >>> ids = torch.tensor([[1, 4]])
    >>> hot = torch.nn.functional.one_hot(ids, 5).float()
    >>> bool(torch.allclose(embed_tokens(emb, ids), embed_tokens(emb, hot)))
    True
    """
    if x.is_floating_point():
        if x.dim() != 3 or x.shape[-1] != embedding.num_embeddings:
            raise ValueError(f"text inputs: expected token ids (B, L) or one-hot rows (B, L, {embedding.num_embeddings}), "
                             f"got a float tensor of shape {tuple(x.shape)}")
        return x @ embedding.weight
    return embedding(x.long())


def image_patches(x: torch.Tensor, modality: ModalitySpec) -> torch.Tensor:
    """Cut images ``(B, C, H, W)`` into row-major patches ``(B, n_patches, C*P*P)`` (channel-major).

    Examples
    --------
    >>> import torch
    >>> from mxbench.spec import ModalitySpec
    >>> m = ModalitySpec("img", "image", channels=1, size=4, patch=2)
    >>> image_patches(torch.arange(16.0).reshape(1, 1, 4, 4), m)[0, 1].tolist()
    [2.0, 3.0, 6.0, 7.0]
    """
    b, c, p = x.shape[0], modality.channels, modality.patch
    g = modality.size // p
    return x.reshape(b, c, g, p, g, p).permute(0, 2, 4, 1, 3, 5).reshape(b, g * g, c * p * p)


class PlayerTokens(nn.Module):
    """One ``dim``-vector per player, with modality and position embeddings.

    Columns: ``x_f * e_f + b_f``; patches: a shared linear map of the patch pixels; tokens:
    a token embedding. Every token gets its modality's embedding and its slot's position
    embedding added, so a player is identifiable from its token.

    Parameters
    ----------
    modalities : sequence of ModalitySpec
        The task's modalities.
    dim : int
        The token width.

    Examples
    --------
    >>> import torch
    >>> from mxbench.spec import ModalitySpec
    >>> mods = (ModalitySpec("t", "tabular", features=3), ModalitySpec("w", "text", length=2, vocab=16))
    >>> enc = PlayerTokens(mods, dim=8)
    >>> enc({"t": torch.zeros(5, 3), "w": torch.zeros(5, 2, dtype=torch.long)}).shape
    torch.Size([5, 5, 8])
    """

    def __init__(self, modalities: Sequence[ModalitySpec], dim: int) -> None:
        super().__init__()
        self.modalities = tuple(modalities)
        self.dim = dim
        enc = {}
        for m in self.modalities:
            if m.kind == "tabular":
                enc[m.name] = _ColumnTokens(m.features, dim)
            elif m.kind == "image":
                enc[m.name] = nn.Linear(m.channels * m.patch * m.patch, dim)
            else:
                enc[m.name] = nn.Embedding(m.vocab, dim)
        self.encoders = nn.ModuleDict(enc)
        n_players = sum(m.n_players for m in self.modalities)
        self.position = nn.Parameter(torch.randn(n_players, dim) * 0.02)
        self.modality = nn.Parameter(torch.randn(len(self.modalities), dim) * 0.02)
        self.register_buffer("modality_of", torch.repeat_interleave(
            torch.arange(len(self.modalities)), torch.tensor([m.n_players for m in self.modalities])), persistent=False)

    def per_modality(self, inputs: Inputs) -> list[torch.Tensor]:
        """The tokens of each modality, ``(B, n_m, dim)`` each, embeddings added."""
        out, start = [], 0
        for k, m in enumerate(self.modalities):
            x = inputs[m.name]
            if m.kind == "image":
                x = image_patches(x, m)
            tokens = embed_tokens(self.encoders[m.name], x) if m.kind == "text" else self.encoders[m.name](x)
            tokens = tokens + self.position[start:start + m.n_players] + self.modality[k]
            out.append(tokens)
            start += m.n_players
        return out

    def forward(self, inputs: Inputs) -> torch.Tensor:
        """All players' tokens, ``(B, n_players, dim)``."""
        return torch.cat(self.per_modality(inputs), dim=1)


class _ColumnTokens(nn.Module):
    """``token_f = x_f * e_f + b_f``: one learned direction and offset per column."""

    def __init__(self, features: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(features, dim) * 0.5)
        self.bias = nn.Parameter(torch.zeros(features, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, None] * self.weight + self.bias
