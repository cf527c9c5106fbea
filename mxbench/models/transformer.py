"""The early-fusion token transformer: every player is a token; exact attention maps are exposed."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from mxbench.models.base import Inputs, PlayerTokens, TaskModel
from mxbench.spec import ModalitySpec


class _SelfAttention(nn.Module):
    """Multi-head self-attention written out, so that it returns its exact probabilities."""

    def __init__(self, dim: int, heads: int, tokens: int = 0) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(heads, tokens, tokens)) if tokens else None
        if dim % heads:
            raise ValueError(f"dim: expected a multiple of heads={heads}, got {dim!r}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, d = x.shape
        q, k, v = self.qkv(x).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d // self.heads))
        if self.bias is not None:
            scores = scores + self.bias
        probs = scores.softmax(dim=-1)  # (B, heads, T, T), rows sum to 1
        mixed = (probs @ v).transpose(1, 2).reshape(b, t, d)
        return self.out(mixed), probs


class _GLU(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.up = nn.Linear(dim, 2 * hidden)
        self.down = nn.Linear(hidden, dim)

    def forward(self, x):
        a, b = self.up(x).chunk(2, dim=-1)
        return self.down(nn.functional.gelu(a) * b)


class _Block(nn.Module):
    """A pre-LN transformer block: ``x + attn(LN(x))``, then ``x + MLP(LN(x))``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int, glu: bool = False, tokens: int = 0) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = _SelfAttention(dim, heads, tokens)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = _GLU(dim, mlp_ratio * dim) if glu else nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, probs = self.attn(self.ln1(x))
        x = x + a
        return x + self.mlp(self.ln2(x)), probs


class TokenTransformer(TaskModel):
    """Early fusion: every player is a token, a small pre-LN transformer reads them all.

    Players become ``dim``-vectors with :class:`~mxbench.models.base.PlayerTokens` (modality and
    position embeddings added). With ``pool="readout"`` a learned readout token is appended
    after the players and the output is a linear map of its final state; with ``pool="mean"``
    the players' final states are averaged. No dropout.

    After each forward pass ``model.attention`` holds one tensor per layer, ``(B, heads, T, T)``,
    of the exact attention probabilities (each row sums to 1): token ``j < n_players`` is player
    ``j`` (players in modality order), and with ``pool="readout"`` token ``T - 1 = n_players`` is
    the readout token (``model.readout_index``). The stored maps are the very tensors of the
    autograd graph (not copies), so gradients with respect to them can be had:

    - set ``model.retain_attention_grad = True``; every forward pass with gradients enabled then
      calls ``retain_grad()`` on the maps, and after ``output.sum().backward()`` each
      ``model.attention[l].grad`` holds ``d output / d attention``; or
    - call ``map.retain_grad()`` yourself on ``model.attention[l]`` after the forward pass and
      before ``backward()``; or
    - use :meth:`attention_gradients`, which does all this for one batch.

    Parameters
    ----------
    modalities : sequence of ModalitySpec
        The task's modalities, in player order.
    dim : int, default 64
        Token width (a multiple of ``heads``).
    layers : int, default 2
        Number of transformer blocks.
    heads : int, default 4
        Attention heads per block.
    mlp_ratio : int, default 4
        Width of each block's MLP as a multiple of ``dim``.
    pool : {"readout", "mean"}, default "readout"
        How the tokens become one output.

    Attributes
    ----------
    attention : list of Tensor
        The attention probabilities of the last forward pass, one ``(B, heads, T, T)`` per layer.
    retain_attention_grad : bool
        Whether forward passes call ``retain_grad()`` on the attention maps (default False).
    readout_index : int or None
        The readout token's index in the attention maps, None with ``pool="mean"``.
    default_lr : float
        The Adam learning rate this model trains best with.

    Examples
    --------
    >>> import torch
    >>> from mxbench.spec import ModalitySpec
    >>> mods = (ModalitySpec("tab", "tabular", features=3), ModalitySpec("txt", "text", length=2, vocab=16))
    >>> _ = torch.manual_seed(0)
    >>> model = TokenTransformer(mods, dim=16)
    >>> out = model({"tab": torch.randn(4, 3), "txt": torch.randint(0, 16, (4, 2))})
    >>> out.shape, len(model.attention), model.attention[0].shape
    (torch.Size([4]), 2, torch.Size([4, 4, 6, 6]))
    >>> bool(torch.allclose(model.attention[1].sum(-1), torch.ones(4, 4, 6)))
    True
    """

    default_lr = 3e-3

    def __init__(self, modalities: Sequence[ModalitySpec], dim: int = 64, layers: int = 2, heads: int = 4,
                 mlp_ratio: int = 4, pool: str = "readout", head_hidden: int = 0, stem: bool = False, glu: bool = False, pair_bias: bool = False) -> None:
        super().__init__(modalities)
        if pool not in ("readout", "mean", "flatten"):
            raise ValueError(f"pool: expected 'readout' or 'mean', got {pool!r}")
        if layers < 1:
            raise ValueError(f"layers: expected at least 1, got {layers!r}")
        self.pool = pool
        self.n_players = sum(m.n_players for m in self.modalities)
        self.tokens = PlayerTokens(self.modalities, dim)
        self.readout = nn.Parameter(torch.randn(1, 1, dim) * 0.02) if pool == "readout" else None
        self.blocks = nn.ModuleList(_Block(dim, heads, mlp_ratio, glu, (self.n_players + (pool == "readout")) if pair_bias else 0) for _ in range(layers))
        self.ln = nn.LayerNorm(dim)
        hin = dim * self.n_players if pool == "flatten" else dim
        hl = getattr(type(self), "_head_layers", 1)
        mods = [nn.Linear(hin, head_hidden), nn.GELU()]
        for _ in range(hl - 1):
            mods += [nn.Linear(head_hidden, head_hidden), nn.GELU()]
        self.head = (nn.Sequential(*mods, nn.Linear(head_hidden, 1)) if head_hidden
                     else nn.Linear(dim, 1))
        self.stem = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim)) if stem else None
        self.attention: list[torch.Tensor] = []
        self.retain_attention_grad = False

    @property
    def readout_index(self) -> int | None:
        """The readout token's index in the attention maps (``n_players``), or None with mean pooling."""
        return self.n_players if self.pool == "readout" else None

    def forward(self, inputs: Inputs) -> torch.Tensor:
        """One output per instance, ``(B,)``; stores the attention maps in ``self.attention``."""
        x = self.tokens(inputs)
        if self.stem is not None:
            x = x + self.stem(x)
        if self.readout is not None:
            x = torch.cat([x, self.readout.expand(x.shape[0], -1, -1)], dim=1)
        maps = []
        for block in self.blocks:
            x, probs = block(x)
            if self.retain_attention_grad and probs.requires_grad:
                probs.retain_grad()
            maps.append(probs)
        self.attention = maps
        mode = getattr(self, "_final_ln", "token")
        if mode == "token":
            x = self.ln(x)
        pooled = x[:, -1] if self.readout is not None else (x.flatten(1) if self.pool == "flatten" else x.mean(dim=1))
        if mode == "pooled":
            pooled = self.ln(pooled)
        return self.head(pooled).squeeze(1)

    def attention_gradients(self, inputs: Inputs) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """The output, the attention maps and the gradient of the output with respect to them.

        Each instance's output depends only on its own maps, so the gradient of the summed
        output gives every instance's own ``d output_b / d attention_b``. The model's
        parameter gradients are left untouched.

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
            ``d output / d map``, same shapes as ``maps``.

        Examples
        --------
        >>> import torch
        >>> from mxbench.spec import ModalitySpec
        >>> _ = torch.manual_seed(0)
        >>> model = TokenTransformer((ModalitySpec("t", "tabular", features=3),), dim=8, heads=2)
        >>> out, maps, grads = model.attention_gradients({"t": torch.randn(2, 3)})
        >>> grads[0].shape, maps[0].shape
        (torch.Size([2, 2, 4, 4]), torch.Size([2, 2, 4, 4]))
        """
        with torch.enable_grad():
            out = self(inputs)
            maps = self.attention
            grads = torch.autograd.grad(out.sum(), maps, allow_unused=True)
        grads = [torch.zeros_like(m) if g is None else g for m, g in zip(maps, grads)]
        self.attention = [m.detach() for m in maps]
        return out.detach(), list(self.attention), grads
