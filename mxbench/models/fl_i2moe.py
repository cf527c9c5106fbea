"""FL-I2MoE: interaction experts (one unique per modality, synergy, redundancy) mixed by a reweighting MLP.

The architecture and the interaction losses follow ``docs/reconstructions.md`` §4, scaled down to
train in seconds on two CPU cores. What follows the published code and what is reconstructed:

**Following the Decor code** (``dut0817/FL-I2MoE_Decor``, the authors' nearest public code, and
its parent ``Raina-Xin/I2MoE``):

- ``E = M + 2`` experts ``uni:<modality>`` (one per modality), ``syn`` and ``red``, all dense
  and always evaluated; each is the same fusion transformer with its own weights, and all start
  from the **same initial weights** (Decor ``deepcopy``-ies one fusion model; ``shared_init``).
- Each expert is a pre-LN transformer over the tokens of **all** players (joint self-attention,
  no qkv bias, scale ``head_dim ** -0.5``; a token-wise GELU MLP ``dim -> 2 dim -> dim`` shared by
  all modalities; residuals around both; no final LayerNorm), then a mean-pool per modality,
  concatenated into the latent ``z_e`` (``M * dim``), then ``Linear(M * dim -> 1)``.
- The reweighting MLP reads the mean of the *encoder* tokens of each modality, L2-normalised,
  concatenated, and maps them through ReLU layers to ``E`` logits; the weights are
  ``softmax(logits / temperature)`` and the output is ``y = sum_e w_e * out_e`` (a mixture of
  logits for classification tasks).
- The losses act on the latents ``z_e`` (as in Decor/FL, not on the logits as in I2MoE). For each
  modality ``i`` a pass with ``i`` knocked out gives ``p_e^(i)``; with anchor ``a_e`` the full pass:
  uniqueness ``L_uni_i = mean_{j != i} Triplet(a, p^(j), p^(i))`` (margin 1, L2) for expert
  ``uni:i``; synergy ``L_syn = mean_i mean cos(a, p^(i))``; redundancy
  ``L_red = mean_i mean (1 - cos(a, p^(i)))``; ``L_int = (sum_i L_uni_i + L_syn + L_red) / (M + 2)``
  and the training loss is ``L_task + lambda_int * L_int``.

**Reconstructed or changed here** (FL-I2MoE's own code is not public):

- **Knock-out by the baseline, not by noise.** Decor replaces the projected tokens of modality ``i``
  by ``N(0, 1)`` noise. Here modality ``i`` is knocked out by mxbench's one masking rule,
  :func:`~mxbench.models.base.mask_modality` (absent = baseline: zero columns, zero patches,
  ``[MASK]`` tokens), and re-encoded. The planted game and every explainer query the model on
  baseline-masked inputs; ``N(0, 1)`` noise ignores the scale of the features and would train the
  experts on inputs off the data manifold the explainers query, so the interaction losses would
  shape the experts' behaviour where it is never looked at, and not where it is.
- **Encoders.** One shared :class:`~mxbench.models.base.PlayerTokens` encoder (one token per
  column, patch or token slot, with learned modality and position embeddings) replaces the frozen
  RoBERTa / CLIP encoders plus trainable projections; it is shared by all experts and the
  reweighting MLP, as Decor shares its encoders (its experts copy only the fusion transformer).
  Sharing keeps the knock-out of a modality the same input for every expert, and is cheaper.
  The learned positions replace Decor's sinusoidal ones (whose positions shift with text padding).
- **Sizes.** ``dim`` 32, 2 layers, 2 heads, token MLP ``2 * dim``, reweighting hidden 64, no
  dropout (Decor: ``dim`` 128-256, dropout 0.5). ``dim`` 48 with 4 heads fits the smoke tasks no
  better and cost 1.65x the time per step (0.235 against 0.143 s per batch of 256 on one core,
  measured before :func:`~mxbench.models.base.row_softmax`; the step is 0.087 s since): with
  ``E = M + 2`` experts over every player token, the many tiny attention products dominate.
  The smoke tasks have 12-14 players and no noise
  in the training targets, and dropout would make the exposed attention maps differ from those
  used. ``temperature`` 1 (Decor: 1 on MIMIC, 2 on MM-IMDb/ENRICO), ``lambda_int`` 0.1 (Decor:
  0.01-0.5; on ``smoke-tab-txt`` 0.1 and 0.3 fit about as well as 0).
- **Token initialisation.** Pre-LN normalises each token before attention and the MLP. With
  :class:`~mxbench.models.base.PlayerTokens`' initialisation (positions ``N(0, 0.02)``, column
  offsets ``b_f = 0``) a column token is ``x_f * e_f`` plus almost nothing, so LayerNorm maps it to
  ``sign(x_f) * e_f / |e_f|``: attention and the MLP see neither its magnitude nor, through the
  tiny positions, which slot it is, until those parameters have grown. Drawing the positions and
  the column offsets at ``N(0, token_init = 1)`` keeps both visible from the first step; on the
  smoke task ``smoke-tab-txt`` (``dim`` 64, 20 epochs) it raised held-out R^2 from 0.76 to 0.97.
- **Sub-batch for the knock-out passes.** The ``M`` knock-out passes run on the first
  ``interaction_batch`` (32) instances of each batch (all of them when 0); the task loss uses
  the whole batch. Decor uses the whole batch. A knocked-out instance costs ``E * M`` expert runs
  against ``E`` for the full pass, so with batches of 256 this runs 2.4 (``M = 2``) to 2.9
  (``M = 3``) times fewer sequences through the experts than knocking out the whole batch.
- With a single modality there is no ``j != i``, so the uniqueness loss is 0 (Decor divides by 0).
- The L2 normalisation of the reweighting input is always applied (Decor: only when masks are
  passed).

After each forward pass the model exposes ``routing`` ``(B, E)``, ``expert_outputs`` ``(B, E)``,
``latents`` ``(E, B, M * dim)`` and ``expert_attention``: per expert, per layer, the attention
probabilities ``(B, heads, T, T)`` (T = players, rows are queries and sum to 1). They are the
exact maps the experts used, computed by this module's own attention, and after
:meth:`FLI2MoE.forward` each map lies on the autograd path to the output, so
``torch.autograd.grad(y.sum(), maps)`` gives ``d y / d A`` for attention x gradient explainers.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mxbench.models.base import Inputs, PlayerTokens, TaskModel, mask_modality, row_softmax
from mxbench.spec import ModalitySpec


class FLI2MoE(TaskModel):
    """FL-I2MoE: uniqueness, synergy and redundancy experts mixed by a reweighting MLP.

    See the module docstring for what follows the Decor code and what is reconstructed.

    Parameters
    ----------
    modalities : sequence of ModalitySpec
        The task's modalities, in player order.
    dim : int
        The token width (must be divisible by ``heads``).
    heads : int
        Attention heads per layer.
    layers : int
        Pre-LN transformer blocks per expert.
    mlp_ratio : int
        The token MLP's hidden width is ``mlp_ratio * dim``.
    rw_hidden : int
        The reweighting MLP's hidden width.
    rw_layers : int
        The reweighting MLP's linear layers (1 = a single linear map).
    temperature : float
        The routing softmax temperature ``tau``: ``w = softmax(logits / tau)``.
    lambda_int : float
        The weight of the interaction loss in :meth:`training_loss`.
    interaction_batch : int
        How many instances of each batch the ``M`` knock-out passes use (0 = all).
    shared_init : bool
        Start every expert from the same weights (as Decor's ``deepcopy``).
    token_init : float
        Standard deviation at initialisation of the encoder's position embeddings and column
        offsets ``b_f`` (``PlayerTokens`` draws them at 0.02 and 0; 0 keeps those). See the module
        docstring, "Token initialisation".

    Attributes
    ----------
    expert_names : list of str
        ``["uni:<m>" for each modality] + ["syn", "red"]``.
    routing : Tensor
        ``(B, E)`` routing weights of the last forward pass (rows sum to 1).
    expert_outputs : Tensor
        ``(B, E)`` outputs of each expert in the last forward pass.
    expert_attention : list of list of Tensor
        ``expert_attention[e][l]`` is expert ``e``'s layer-``l`` attention, ``(B, heads, T, T)``;
        after :meth:`forward` each map is on the autograd path to the output (after
        :meth:`training_loss` the values are the same but the maps are slices off that path).
    latents : Tensor
        ``(E, B, M * dim)`` the experts' pooled latents ``z_e``.

    Examples
    --------
    >>> import torch
    >>> from mxbench.spec import ModalitySpec
    >>> mods = (ModalitySpec("tab", "tabular", features=3), ModalitySpec("txt", "text", length=2, vocab=16))
    >>> _ = torch.manual_seed(0)
    >>> model = FLI2MoE(mods, dim=8, heads=2)
    >>> x = {"tab": torch.randn(4, 3), "txt": torch.randint(0, 16, (4, 2))}
    >>> model(x).shape, model.routing.shape, model.expert_names
    (torch.Size([4]), torch.Size([4, 4]), ['uni:tab', 'uni:txt', 'syn', 'red'])
    >>> model.expert_attention[0][1].shape  # expert uni:tab, layer 1: (B, heads, T, T)
    torch.Size([4, 2, 5, 5])
    """

    #: The learning rate suggested to the trainer (Adam): on ``smoke-tab-txt`` 1e-2 leaves the
    #: initial plateau (before attention finds the planted pairs) in about 3/4 of the epochs of 3e-3.
    default_lr = 1e-2
    #: The epoch limit suggested to the trainer: with the cosine schedule over 40 epochs the
    #: model certifies on ``smoke-mix3`` (random-coalition R² 0.965), where a constant rate
    #: needed all of 60.
    default_epochs = 40
    accepts_one_hot_text = True

    def __init__(self, modalities: Sequence[ModalitySpec], dim: int = 32, heads: int = 2, layers: int = 2,
                 mlp_ratio: int = 2, rw_hidden: int = 64, rw_layers: int = 2, temperature: float = 1.0,
                 lambda_int: float = 0.1, interaction_batch: int = 32, shared_init: bool = True,
                 token_init: float = 1.0) -> None:
        super().__init__(modalities)
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.config = dict(dim=dim, heads=heads, layers=layers, mlp_ratio=mlp_ratio, rw_hidden=rw_hidden,
                           rw_layers=rw_layers, temperature=temperature, lambda_int=lambda_int,
                           interaction_batch=interaction_batch, shared_init=shared_init,
                           token_init=token_init)
        self.temperature = float(temperature)
        self.lambda_int = float(lambda_int)
        self.interaction_batch = int(interaction_batch)
        n_mod = len(self.modalities)
        self.expert_names = [f"uni:{m.name}" for m in self.modalities] + ["syn", "red"]
        self.tokens = PlayerTokens(self.modalities, dim)
        if token_init > 0:
            with torch.no_grad():
                self.tokens.position.normal_(0.0, token_init)
                for m in self.modalities:
                    if m.kind == "tabular":
                        self.tokens.encoders[m.name].bias.normal_(0.0, token_init)
        self.experts = _ExpertStack(len(self.expert_names), [m.n_players for m in self.modalities], dim, heads,
                                    layers, mlp_ratio, shared_init)
        rw: list[nn.Module] = []
        width = n_mod * dim
        for _ in range(rw_layers - 1):
            rw += [nn.Linear(width, rw_hidden), nn.ReLU()]
            width = rw_hidden
        rw.append(nn.Linear(width, len(self.expert_names)))
        self.reweight = nn.Sequential(*rw)
        self.routing: torch.Tensor | None = None
        self.expert_outputs: torch.Tensor | None = None
        self.expert_attention: list[list[torch.Tensor]] = []
        self.latents: torch.Tensor | None = None

    # ------------------------------------------------------------------ passes
    def route(self, per_modality: Sequence[torch.Tensor]) -> torch.Tensor:
        """Routing weights ``(B, E)`` from the encoder tokens of each modality.

        Parameters
        ----------
        per_modality : sequence of Tensor
            The encoder tokens of each modality, ``(B, n_m, dim)`` each (``tokens.per_modality``).

        Returns
        -------
        Tensor
            ``softmax(MLP([normalize(mean_m)]_m) / temperature)``, rows summing to 1.

        Examples
        --------
        >>> import torch
        >>> from mxbench.spec import ModalitySpec
        >>> model = FLI2MoE((ModalitySpec("t", "tabular", features=2),), dim=8, heads=2)
        >>> w = model.route(model.tokens.per_modality({"t": torch.randn(3, 2)}))
        >>> w.shape, bool(torch.allclose(w.sum(1), torch.ones(3)))
        (torch.Size([3, 3]), True)
        """
        feats = torch.cat([F.normalize(t.mean(dim=1), p=2, dim=1) for t in per_modality], dim=1)
        return torch.softmax(self.reweight(feats) / self.temperature, dim=1)

    def forward(self, inputs: Inputs) -> torch.Tensor:
        """The mixture output ``(B,)``; also sets ``routing``, ``expert_outputs``, ``expert_attention``.

        Parameters
        ----------
        inputs : dict of str to Tensor
            The raw inputs of each modality (absent players already at the baseline).

        Returns
        -------
        Tensor
            ``sum_e routing[:, e] * expert_outputs[:, e]``, shape ``(B,)``.

        Examples
        --------
        >>> import torch
        >>> from mxbench.spec import ModalitySpec
        >>> _ = torch.manual_seed(0)
        >>> model = FLI2MoE((ModalitySpec("t", "tabular", features=2),), dim=8, heads=2)
        >>> y = model({"t": torch.randn(3, 2)})
        >>> bool(torch.allclose(y, (model.routing * model.expert_outputs).sum(1)))
        True
        """
        per_mod = self.tokens.per_modality(inputs)
        out, z, attn = self.experts(torch.cat(per_mod, dim=1), keep_maps=True)
        return self._mix(per_mod, out, z, attn, len(out[0]))

    def _mix(self, per_mod: Sequence[torch.Tensor], out: torch.Tensor, z: torch.Tensor,
             attn: list[list[torch.Tensor]], b: int) -> torch.Tensor:
        """Route, mix the first ``b`` rows of the expert outputs and record the exposed tensors."""
        self.routing = self.route(per_mod)
        self.expert_outputs = out[:, :b].transpose(0, 1)
        self.latents = z[:, :b]
        self.expert_attention = [[a if a.shape[0] == b else a[:b] for a in per_layer] for per_layer in attn]
        return (self.routing * self.expert_outputs).sum(dim=1)

    # ------------------------------------------------------------------ losses
    def _knockout_tokens(self, inputs: Inputs, b: int) -> list[torch.Tensor]:
        """Tokens ``(b, T, dim)`` of the first ``b`` instances with each modality masked in turn."""
        sub = {k: v[:b] for k, v in inputs.items()}
        return [torch.cat(self.tokens.per_modality(mask_modality(sub, m)), dim=1) for m in self.modalities]

    def _interaction(self, z: torch.Tensor, b: int, n: int) -> dict[str, torch.Tensor]:
        """The §2 losses on latents ``z`` ``(E, n + M*b, D)``: anchors are rows ``:b``, knock-outs after ``n``."""
        n_mod = len(self.modalities)
        anchor = z[:, :b]
        knocked = [z[:, n + i * b:n + (i + 1) * b] for i in range(n_mod)]
        parts: dict[str, torch.Tensor] = {}
        for i in range(n_mod):
            others = [j for j in range(n_mod) if j != i]
            if others:
                parts[self.expert_names[i]] = torch.stack([
                    F.triplet_margin_loss(anchor[i], knocked[j][i], knocked[i][i], margin=1.0, p=2, eps=1e-7)
                    for j in others]).mean()
            else:
                parts[self.expert_names[i]] = z.new_zeros(())
        syn, red = n_mod, n_mod + 1
        cos_syn = torch.stack([F.cosine_similarity(anchor[syn], k[syn], dim=1, eps=1e-12).mean() for k in knocked])
        cos_red = torch.stack([F.cosine_similarity(anchor[red], k[red], dim=1, eps=1e-12).mean() for k in knocked])
        parts["syn"] = cos_syn.mean()
        parts["red"] = (1.0 - cos_red).mean()
        parts["total"] = torch.stack([parts[name] for name in self.expert_names]).sum() / (n_mod + 2)
        return parts

    def _passes(self, inputs: Inputs) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One stacked run of the full pass (all rows) and the knock-out passes (a sub-batch)."""
        per_mod = self.tokens.per_modality(inputs)
        n = per_mod[0].shape[0]
        b = n if self.interaction_batch <= 0 else min(n, self.interaction_batch)
        x = torch.cat([torch.cat(per_mod, dim=1)] + self._knockout_tokens(inputs, b), dim=0)
        out, z, attn = self.experts(x, keep_maps=False)
        y = self._mix(per_mod, out, z, attn, n)
        return y, self._interaction(z, b, n)

    def interaction_losses(self, inputs: Inputs) -> dict[str, torch.Tensor]:
        """The interaction losses of §2 on a batch: one per expert, and their mean ``"total"``.

        Parameters
        ----------
        inputs : dict of str to Tensor
            The raw inputs of each modality.

        Returns
        -------
        dict of str to Tensor
            Scalars keyed by expert name (``L_uni_i``, ``L_syn``, ``L_red``) and ``"total"``
            (``L_int``). Also runs a forward pass (the exposed tensors are set).

        Examples
        --------
        >>> import torch
        >>> from mxbench.spec import ModalitySpec
        >>> mods = (ModalitySpec("a", "tabular", features=2), ModalitySpec("b", "tabular", features=2))
        >>> _ = torch.manual_seed(0)
        >>> parts = FLI2MoE(mods, dim=8, heads=2).interaction_losses({"a": torch.randn(5, 2), "b": torch.randn(5, 2)})
        >>> sorted(parts)
        ['red', 'syn', 'total', 'uni:a', 'uni:b']
        """
        return self._passes(inputs)[1]

    def training_loss(self, inputs: Inputs, target: torch.Tensor, task_loss: nn.Module) -> torch.Tensor:
        """``task_loss(y, target) + lambda_int * L_int``, from one stacked run of all passes.

        Parameters
        ----------
        inputs : dict of str to Tensor
            The raw (masked) inputs of each modality.
        target : Tensor
            ``(B,)`` targets.
        task_loss : nn.Module
            The task loss, e.g. ``nn.MSELoss()`` or ``nn.BCEWithLogitsLoss()``.

        Returns
        -------
        Tensor
            The scalar loss.

        Examples
        --------
        >>> import torch
        >>> from mxbench.spec import ModalitySpec
        >>> _ = torch.manual_seed(0)
        >>> model = FLI2MoE((ModalitySpec("a", "tabular", features=2),), dim=8, heads=2, lambda_int=0.0)
        >>> x, t = {"a": torch.randn(6, 2)}, torch.randn(6)
        >>> bool(torch.isclose(model.training_loss(x, t, torch.nn.MSELoss()),
        ...                    torch.nn.functional.mse_loss(model(x), t)))
        True
        """
        y, parts = self._passes(inputs)
        loss = task_loss(y, target)
        if self.lambda_int:
            loss = loss + self.lambda_int * parts["total"]
        return loss


class _ExpertStack(nn.Module):
    """``E`` pre-LN fusion transformers with separate weights, run together with batched matmuls.

    Input ``(N, T, dim)`` tokens (the same for every expert); returns each expert's output
    ``(E, N)``, latent ``(E, N, M * dim)`` and attention maps ``[e][l]`` ``(N, heads, T, T)``.
    """

    def __init__(self, n_experts: int, segments: Sequence[int], dim: int, heads: int, layers: int,
                 mlp_ratio: int, shared_init: bool) -> None:
        super().__init__()
        self.n_experts, self.segments, self.dim, self.heads = n_experts, list(segments), dim, heads
        e, h = n_experts, mlp_ratio * dim
        self.blocks = nn.ModuleList()
        for _ in range(layers):
            blk = nn.ParameterDict({
                "ln1_w": nn.Parameter(torch.ones(e, dim)), "ln1_b": nn.Parameter(torch.zeros(e, dim)),
                "wqkv": nn.Parameter(_init(e, dim, 3 * dim, shared_init)),
                "wo": nn.Parameter(_init(e, dim, dim, shared_init)),
                "bo": nn.Parameter(_init(e, dim, dim, shared_init, bias=True)),
                "ln2_w": nn.Parameter(torch.ones(e, dim)), "ln2_b": nn.Parameter(torch.zeros(e, dim)),
                "w1": nn.Parameter(_init(e, dim, h, shared_init)),
                "b1": nn.Parameter(_init(e, dim, h, shared_init, bias=True)),
                "w2": nn.Parameter(_init(e, h, dim, shared_init)),
                "b2": nn.Parameter(_init(e, h, dim, shared_init, bias=True)),
            })
            self.blocks.append(blk)
        width = len(self.segments) * dim
        self.head_w = nn.Parameter(_init(e, width, 1, shared_init)[..., 0])
        self.head_b = nn.Parameter(_init(e, width, 1, shared_init, bias=True).reshape(e))

    def forward(self, x: torch.Tensor, keep_maps: bool) -> tuple[torch.Tensor, torch.Tensor, list[list[torch.Tensor]]]:
        e, (n, t, d) = self.n_experts, x.shape
        hd = d // self.heads
        h = x.unsqueeze(0).expand(e, n, t, d).reshape(e, n * t, d)
        maps: list[list[torch.Tensor]] = [[] for _ in range(e)]
        for blk in self.blocks:
            u = _layer_norm(h, blk["ln1_w"], blk["ln1_b"])
            q, k, v = torch.bmm(u, blk["wqkv"]).view(e, n, t, 3, self.heads, hd).permute(3, 0, 1, 4, 2, 5)
            # einsum, not q @ k^T: on CPU it runs these many tiny products about twice as fast
            a = row_softmax(torch.einsum("enhtc,enhsc->enhts", q, k) * hd ** -0.5)  # (E, N, heads, T, T)
            if keep_maps:  # per-expert tensors on the autograd path (re-stacked), for d y / d A
                per = a.unbind(0)
                a = torch.stack(per, 0)
            else:
                per = a.unbind(0)
            for j in range(e):
                maps[j].append(per[j])
            o = torch.einsum("enhts,enhsc->enthc", a, v).reshape(e, n * t, d)
            h = h + torch.baddbmm(blk["bo"], o, blk["wo"])
            u = _layer_norm(h, blk["ln2_w"], blk["ln2_b"])
            h = h + torch.baddbmm(blk["b2"], F.gelu(torch.baddbmm(blk["b1"], u, blk["w1"])), blk["w2"])
        h = h.view(e, n, t, d)
        z = torch.cat([s.mean(dim=2) for s in h.split(self.segments, dim=2)], dim=2)  # (E, N, M*d)
        out = torch.einsum("enk,ek->en", z, self.head_w) + self.head_b[:, None]
        return out, z, maps


def _layer_norm(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """LayerNorm of ``(E, R, d)`` rows with a per-expert affine ``(E, d)``."""
    return F.layer_norm(h, h.shape[-1:]) * w[:, None, :] + b[:, None, :]


def _init(e: int, fan_in: int, fan_out: int, shared: bool, bias: bool = False) -> torch.Tensor:
    """``nn.Linear``'s default init, ``U(+-1/sqrt(fan_in))``, for ``e`` experts: ``(e, fan_in, fan_out)``
    weights or ``(e, 1, fan_out)`` biases; the same draw for every expert when ``shared``."""
    shape = (1, fan_out) if bias else (fan_in, fan_out)
    bound = 1.0 / math.sqrt(fan_in)
    draw = torch.empty((1 if shared else e, *shape)).uniform_(-bound, bound)
    return draw.expand(e, *shape).clone()
