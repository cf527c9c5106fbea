"""The early-fusion token transformer: every player is a token; exact attention maps are exposed."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from mxbench.models.base import Inputs, PlayerTokens, TaskModel, row_softmax
from mxbench.spec import ModalitySpec

POOLS = ("flatten", "mean", "readout")


class SelfAttention(nn.Module):
    """Multi-head self-attention written out, returning its exact attention probabilities.

    Parameters
    ----------
    dim : int
        Token width, a multiple of ``heads``.
    heads : int
        Number of heads.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> out, probs = SelfAttention(8, heads=2)(torch.randn(3, 5, 8))
    >>> out.shape, probs.shape
    (torch.Size([3, 5, 8]), torch.Size([3, 2, 5, 5]))
    >>> bool(torch.allclose(probs.sum(-1), torch.ones(3, 2, 5)))
    True
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if heads < 1 or dim % heads:
            raise ValueError(f"dim: expected a multiple of heads={heads}, got {dim!r}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        #: Put the probabilities in the autograd graph even when nothing upstream requires grad.
        self.track = False

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(output (B, T, dim), probabilities (B, heads, T, T))`` of tokens ``x (B, T, dim)``."""
        b, t, d = x.shape
        q, k, v = self.qkv(x).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        # einsum, not q @ k^T: on CPU it runs these many tiny products about twice as fast
        scores = torch.einsum("bhtc,bhsc->bhts", q, k) * (1.0 / math.sqrt(d // self.heads))
        probs = row_softmax(scores)  # rows sum to 1: row i is what token i reads from each token
        if self.track and not probs.requires_grad and torch.is_grad_enabled():
            probs.requires_grad_()  # nothing upstream needs grad: make the map a leaf of the graph
        mixed = torch.einsum("bhts,bhsc->bthc", probs, v).reshape(b, t, d)
        return self.out(mixed), probs


class Block(nn.Module):
    """A pre-LN transformer block: ``x + attn(LN(x))``, then ``x + MLP(LN(x))``; no dropout.

    Parameters
    ----------
    dim : int
        Token width.
    heads : int
        Attention heads.
    mlp_ratio : int
        Width of the MLP as a multiple of ``dim``.

    Examples
    --------
    >>> import torch
    >>> out, probs = Block(8, heads=2, mlp_ratio=2)(torch.zeros(1, 3, 8))
    >>> out.shape, probs.shape
    (torch.Size([1, 3, 8]), torch.Size([1, 2, 3, 3]))
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(new tokens, attention probabilities)`` of tokens ``x (B, T, dim)``."""
        a, probs = self.attn(self.ln1(x))
        x = x + a
        return x + self.mlp(self.ln2(x)), probs


class TokenTransformer(TaskModel):
    """Early fusion: every player is a token and a small pre-LN transformer reads them all.

    Players become ``dim``-vectors with :class:`~mxbench.models.base.PlayerTokens` (modality and
    position embeddings added); ``layers`` pre-LN blocks with ``heads``-head self-attention over
    the tokens of all modalities mix them from the first layer on; a final LayerNorm, a pooling
    and an MLP head give one output per instance. No dropout.

    Pooling (``pool``):

    - ``"flatten"`` (default): the players' final tokens are concatenated in player order and
      read by the MLP head (as in TabTransformer). Trains fastest: certified on every smoke task.
    - ``"mean"``: the average of the players' final tokens.
    - ``"readout"``: a learned readout token is appended after the players; its final state is
      read. With ``"mean"`` and ``"readout"`` every interaction between players has to be formed
      by attention; they learn pairs well but a product of three players (``smoke-mix3``) only
      after thousands of steps, since softmax attention spreads evenly at the start.

    Attention maps: after each forward pass ``model.attention`` holds one tensor per layer,
    ``(B, heads, T, T)``, of the exact attention probabilities (each row sums to 1; row ``i`` is
    what token ``i`` reads from every token). Token ``j < n_players`` is player ``j`` (players in
    modality order); with ``pool="readout"`` token ``T - 1 = n_players`` is the readout token
    (``model.readout_index``). The stored maps are the very tensors of the autograd graph, not
    copies, so gradients with respect to them can be had in three ways:

    - set ``model.retain_attention_grad = True``: every forward pass with gradients enabled then
      calls ``retain_grad()`` on the maps (or makes them leaves that require grad, when the
      parameters are frozen), and after ``output.sum().backward()`` each
      ``model.attention[l].grad`` holds ``d output / d attention`` (each instance's output only
      depends on its own maps);
    - call ``model.attention[l].retain_grad()`` yourself after the forward pass, before
      ``backward()``;
    - or call :meth:`attention_gradients`, which does it for one batch and leaves the
      parameters' gradients alone.

    Parameters
    ----------
    modalities : sequence of ModalitySpec
        The task's modalities, in player order.
    dim : int, default 16
        Token width (a multiple of ``heads``).
    layers : int, default 2
        Number of transformer blocks.
    heads : int, default 4
        Attention heads per block.
    mlp_ratio : int, default 2
        Width of each block's MLP as a multiple of ``dim``.
    pool : {"flatten", "mean", "readout"}, default "flatten"
        How the final tokens become the head's input (see above).
    head_hidden : int, default 256
        Width of the head's hidden layer; 0 makes the head linear.

    Attributes
    ----------
    attention : list of Tensor
        The attention probabilities of the last forward pass, one ``(B, heads, T, T)`` per layer.
    retain_attention_grad : bool
        Whether forward passes call ``retain_grad()`` on the attention maps (default False).
    n_players : int
        The number of players (player tokens).
    default_lr : float
        The Adam learning rate this model trains best with.
    large_task_config : dict
        Options :func:`~mxbench.models.train` uses on tasks of more than 64 players unless given
        (``heads=1``).
    large_task_epochs : int
        :func:`~mxbench.models.train` 's epoch limit on those tasks.

    Examples
    --------
    >>> import torch
    >>> from mxbench.spec import ModalitySpec
    >>> mods = (ModalitySpec("tab", "tabular", features=3), ModalitySpec("txt", "text", length=2, vocab=16))
    >>> _ = torch.manual_seed(0)
    >>> model = TokenTransformer(mods, dim=16, head_hidden=32)
    >>> out = model({"tab": torch.randn(4, 3), "txt": torch.randint(0, 16, (4, 2))})
    >>> out.shape, len(model.attention), model.attention[0].shape
    (torch.Size([4]), 2, torch.Size([4, 4, 5, 5]))
    >>> bool(torch.allclose(model.attention[1].sum(-1), torch.ones(4, 4, 5)))
    True
    >>> model.attention[0].retain_grad()
    >>> out.sum().backward()
    >>> model.attention[0].grad.shape
    torch.Size([4, 4, 5, 5])
    """

    default_lr = 3e-3
    accepts_one_hot_text = True
    #: Options :func:`~mxbench.models.train` uses on tasks of more than 64 players unless given:
    #: one head. At 292 players a head's attention map holds 85k entries per instance and layer, and
    #: the element-wise work on the maps (softmax, scaling and their gradients) dominates a step:
    #: a training step of 256 instances took 24 ms per instance with 4 heads, 8 with one (2 cores).
    large_task_config = {"heads": 1}
    #: The epoch limit there: epochs of 8,192 fresh instances take 37 s on one core at 292 players,
    #: and on ``paper-tab-img-txt`` the validation R² levels off near 0.49 by then (0.49 after 19).
    large_task_epochs = 12

    def __init__(self, modalities: Sequence[ModalitySpec], dim: int = 16, layers: int = 2, heads: int = 4,
                 mlp_ratio: int = 2, pool: str = "flatten", head_hidden: int = 256) -> None:
        super().__init__(modalities)
        if pool not in POOLS:
            raise ValueError(f"pool: expected one of {POOLS}, got {pool!r}")
        if layers < 1:
            raise ValueError(f"layers: expected at least 1, got {layers!r}")
        if head_hidden < 0:
            raise ValueError(f"head_hidden: expected 0 or more, got {head_hidden!r}")
        self.pool = pool
        self.n_players = sum(m.n_players for m in self.modalities)
        self.tokens = PlayerTokens(self.modalities, dim)
        self.readout = nn.Parameter(torch.randn(1, 1, dim) * 0.02) if pool == "readout" else None
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio) for _ in range(layers))
        self.ln = nn.LayerNorm(dim)
        n_in = dim * self.n_players if pool == "flatten" else dim
        self.head = (nn.Sequential(nn.Linear(n_in, head_hidden), nn.GELU(), nn.Linear(head_hidden, 1))
                     if head_hidden else nn.Linear(n_in, 1))
        self.attention: list[torch.Tensor] = []
        self.retain_attention_grad = False

    def activation_floats_per_row(self) -> int:
        """About how many float32 activations one instance holds in an inference pass.

        Each layer keeps its attention map and, while computing it, the scores and their
        exponentials (``3 * heads * T^2``), plus the tokens and the MLP's hidden units
        (``T * dim * (2 * mlp_ratio + 8)``); ``T`` counts the readout token. Inference cuts its
        batches to stay under :data:`~mxbench.models.common.INFERENCE_FLOATS`.

        Examples
        --------
        >>> from mxbench.spec import ModalitySpec
        >>> TokenTransformer((ModalitySpec("t", "tabular", features=10),), dim=8, heads=2).activation_floats_per_row()
        3120
        """
        t = self.n_players + (1 if self.readout is not None else 0)
        blocks = list(self.blocks)
        heads, dim = blocks[0].attn.heads, self.tokens.dim
        ratio = blocks[0].mlp[0].out_features // dim
        return len(blocks) * (3 * heads * t * t + t * dim * (2 * ratio + 8))

    def __getstate__(self) -> dict:
        # copies and pickles keep the maps, detached (graph tensors cannot be deep-copied)
        state = dict(super().__getstate__())
        state["attention"] = [a.detach() for a in self.attention]
        return state

    @property
    def readout_index(self) -> int | None:
        """The readout token's index in the attention maps (``n_players``), or None without one.

        Examples
        --------
        >>> from mxbench.spec import ModalitySpec
        >>> mods = (ModalitySpec("t", "tabular", features=3),)
        >>> TokenTransformer(mods, dim=8, pool="readout").readout_index
        3
        >>> TokenTransformer(mods, dim=8).readout_index is None
        True
        """
        return self.n_players if self.readout is not None else None

    def forward(self, inputs: Inputs) -> torch.Tensor:
        """One output per instance, ``(B,)``; stores the attention maps in ``self.attention``."""
        x = self.tokens(inputs)
        if self.readout is not None:
            x = torch.cat([x, self.readout.expand(x.shape[0], -1, -1)], dim=1)
        maps = []
        for block in self.blocks:
            block.attn.track = self.retain_attention_grad
            x, probs = block(x)
            if self.retain_attention_grad and probs.requires_grad and not probs.is_leaf:
                probs.retain_grad()
            maps.append(probs)
        self.attention = maps
        x = self.ln(x)
        if self.pool == "flatten":
            pooled = x.flatten(1)
        elif self.pool == "mean":
            pooled = x.mean(dim=1)
        else:
            pooled = x[:, -1]
        return self.head(pooled).squeeze(1)

    def attention_gradients(self, inputs: Inputs) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """The outputs, the attention maps and the gradient of the outputs with respect to the maps.

        Each instance's output depends only on its own maps, so the gradient of the summed
        output gives every instance's own ``d output_b / d attention_b``. The parameters'
        ``.grad`` are left untouched, and ``model.attention`` is left holding the detached maps.

        Parameters
        ----------
        inputs : dict of str to Tensor
            The raw inputs of each modality.

        Returns
        -------
        output : Tensor
            ``(B,)``, detached.
        maps : list of Tensor
            One ``(B, heads, T, T)`` per layer, detached.
        grads : list of Tensor
            ``d output / d map``, the same shapes as ``maps``.

        Examples
        --------
        >>> import torch
        >>> from mxbench.spec import ModalitySpec
        >>> _ = torch.manual_seed(0)
        >>> model = TokenTransformer((ModalitySpec("t", "tabular", features=3),), dim=8, heads=2)
        >>> out, maps, grads = model.attention_gradients({"t": torch.randn(2, 3)})
        >>> out.shape, maps[0].shape, grads[1].shape
        (torch.Size([2]), torch.Size([2, 2, 3, 3]), torch.Size([2, 2, 3, 3]))
        """
        keep = self.retain_attention_grad
        self.retain_attention_grad = True  # so that the maps are in the graph even if nothing else is
        try:
            with torch.enable_grad():
                out = self(inputs)
                maps = self.attention
                grads = torch.autograd.grad(out.sum(), maps, allow_unused=True)
        finally:
            self.retain_attention_grad = keep
        grads = [torch.zeros_like(m) if g is None else g for m, g in zip(maps, grads)]
        self.attention = [m.detach() for m in maps]
        return out.detach(), list(self.attention), grads
