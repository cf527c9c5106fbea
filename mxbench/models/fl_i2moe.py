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
- **Decorrelation regularisers** (Decor ``src/imoe/regularizers.py``; ``regularizer``): a penalty
  on the similarity of the experts' latents ``z_e`` of the full pass (the whole batch), added as
  ``+ w * R``: ``"rep-cos"`` (:func:`rep_cos`: mean over expert pairs of the mean squared cosine
  of the latents, weight 3e-3), ``"rep-barlow"`` (:func:`rep_barlow`: mean over expert pairs of the
  mean squared off-diagonal entry of the cross-correlation of batch-standardised latents, weight
  10, warmed up linearly over 5 epochs: ``w * min(1, epoch / 4)``, so 0 in the first epoch),
  ``"rep-cka"`` (:func:`rep_cka`: mean over expert pairs of linear CKA). The weights are the Decor
  defaults, except rep-cka's (below); ``regularizer_weight`` overrides them.

**Reconstructed or changed here** (FL-I2MoE's own code is not public):

- **Knock-out by the baseline by default; the authors' noise as an option.** Decor replaces the
  projected tokens of modality ``i`` by ``randn_like`` noise. By default (``perturbation=
  "baseline"``) modality ``i`` is knocked out by mxbench's one masking rule,
  :func:`~mxbench.models.base.mask_modality` (absent = baseline: zero columns, zero patches,
  ``[MASK]`` tokens), and re-encoded. The planted game and every explainer query the model on
  baseline-masked inputs; ``N(0, 1)`` noise ignores the scale of the features and would train the
  experts on inputs off the data manifold the explainers query, so the interaction losses would
  shape the experts' behaviour where it is never looked at, and not where it is.
  ``perturbation="noise"`` is the authors' rule at the authors' level: the *content* part of
  modality ``i``'s tokens (the encoder's output, where Decor's projected encoder features are)
  is replaced by ``N(0, 1)`` noise (``torch.randn_like``), and the learned position and modality
  embeddings are added back, as Decor's fusion transformer adds its position encoding after the
  replacement. Differences: one noise draw per knock-out pass is shared by all experts (they run
  as one stacked batch; Decor draws per expert), and the draws come from torch's global
  generator, which :func:`~mxbench.models.train` seeds, so training stays deterministic. Noise on
  the raw inputs was not taken: text inputs are token ids, and Decor perturbs after its encoders.
- **rep-cka's default weight.** Decor's code gives rep-cka weight 0 unless a weight is passed
  (a zero weight skips the term) and its scripts sweep 1e-5 to 10 for every regulariser; a default
  of 0 would make ``"rep-cka"`` the same model as ``"none"``. mxbench uses 3e-3, rep-cos's default:
  both are mean pairwise similarities in [0, 1] of the same latents. The warm-up is Decor's
  (rep-barlow only); outside :func:`~mxbench.models.train`, which calls :meth:`FLI2MoE.set_epoch`
  every epoch, no warm-up applies.
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

#: How the interaction losses knock a modality out: mxbench's masking rule, or Decor's noise.
PERTURBATIONS = ("baseline", "noise")
#: The decorrelation regularisers on the experts' latents (Decor ``src/imoe/regularizers.py``).
REGULARIZERS = ("none", "rep-cos", "rep-barlow", "rep-cka")
#: Each regulariser's default weight: Decor's for rep-cos and rep-barlow; rep-cka's is
#: mxbench's (Decor's code defaults it to 0, see the module docstring).
REGULARIZER_WEIGHTS = {"none": 0.0, "rep-cos": 3e-3, "rep-barlow": 10.0, "rep-cka": 3e-3}
#: Epochs of linear warm-up of each regulariser's weight (Decor: 5 for rep-barlow, else none).
REGULARIZER_WARMUP = {"none": 0, "rep-cos": 0, "rep-barlow": 5, "rep-cka": 0}


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
    perturbation : {"baseline", "noise"}
        How the interaction losses knock modality ``i`` out: mxbench's masking rule (the
        default), or the authors' ``N(0, 1)`` noise in place of its tokens' content (module
        docstring).
    regularizer : {"none", "rep-cos", "rep-barlow", "rep-cka"}
        The decorrelation penalty on the experts' latents added to :meth:`training_loss`
        (:func:`rep_cos`, :func:`rep_barlow`, :func:`rep_cka`).
    regularizer_weight : float, optional
        Its weight (at least 0); None: :data:`REGULARIZER_WEIGHTS` (rep-cos 3e-3, rep-barlow 10,
        rep-cka 3e-3). rep-barlow's weight is warmed up over 5 epochs (:meth:`set_epoch`).

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
    #: The options that take one of a few values, checked by
    #: :func:`~mxbench.models.common.resolve_config` before anything is built.
    option_choices = {"perturbation": PERTURBATIONS, "regularizer": REGULARIZERS}

    def __init__(self, modalities: Sequence[ModalitySpec], dim: int = 32, heads: int = 2, layers: int = 2,
                 mlp_ratio: int = 2, rw_hidden: int = 64, rw_layers: int = 2, temperature: float = 1.0,
                 lambda_int: float = 0.1, interaction_batch: int = 32, shared_init: bool = True,
                 token_init: float = 1.0, perturbation: str = "baseline", regularizer: str = "none",
                 regularizer_weight: float | None = None) -> None:
        super().__init__(modalities)
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        for name, value in (("perturbation", perturbation), ("regularizer", regularizer)):
            if value not in self.option_choices[name]:
                raise ValueError(f"{name}: expected one of {', '.join(map(repr, self.option_choices[name]))}, "
                                 f"got {value!r}")
        if regularizer_weight is not None and (isinstance(regularizer_weight, bool) or not isinstance(
                regularizer_weight, (int, float)) or not math.isfinite(regularizer_weight) or regularizer_weight < 0):
            raise ValueError(f"regularizer_weight: expected None or a finite number >= 0, got {regularizer_weight!r}")
        self.config = dict(dim=dim, heads=heads, layers=layers, mlp_ratio=mlp_ratio, rw_hidden=rw_hidden,
                           rw_layers=rw_layers, temperature=temperature, lambda_int=lambda_int,
                           interaction_batch=interaction_batch, shared_init=shared_init,
                           token_init=token_init, perturbation=perturbation, regularizer=regularizer,
                           regularizer_weight=regularizer_weight)
        self.perturbation = perturbation
        self.regularizer = regularizer
        self.regularizer_weight = float(REGULARIZER_WEIGHTS[regularizer] if regularizer_weight is None
                                        else regularizer_weight)
        self.epoch: int | None = None
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
        self._full_latents: torch.Tensor | None = None

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
        self.latents = self._full_latents = z[:, :b]
        self.expert_attention = [[a if a.shape[0] == b else a[:b] for a in per_layer] for per_layer in attn]
        return (self.routing * self.expert_outputs).sum(dim=1)

    # ------------------------------------------------------------------ losses
    def _knockout_tokens(self, inputs: Inputs, b: int, per_mod: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Tokens ``(b, T, dim)`` of the first ``b`` instances with each modality knocked out in turn:
        masked by the one rule and re-encoded, or (``perturbation="noise"``) its tokens' content
        replaced by ``N(0, 1)`` noise, position and modality embeddings kept."""
        if self.perturbation == "noise":
            out, start = [], 0
            for k, m in enumerate(self.modalities):
                parts = [t[:b] for t in per_mod]
                noise = torch.randn_like(parts[k])
                parts[k] = noise + self.tokens.position[start:start + m.n_players] + self.tokens.modality[k]
                out.append(torch.cat(parts, dim=1))
                start += m.n_players
            return out
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
        x = torch.cat([torch.cat(per_mod, dim=1)] + self._knockout_tokens(inputs, b, per_mod), dim=0)
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
        weight = self.effective_regularizer_weight()
        if weight > 0:  # as Decor: a zero weight (none, or the warm-up's first epoch) adds nothing
            loss = loss + weight * self.decorrelation(self._full_latents)
        return loss

    # ------------------------------------------------------------------ decorrelation
    def set_epoch(self, epoch: int) -> None:
        """Tell the model which training epoch (from 0) runs now, for the regulariser's warm-up.

        :func:`mxbench.models.train` calls it at the start of every epoch.

        Examples
        --------
        >>> from mxbench.spec import ModalitySpec
        >>> model = FLI2MoE((ModalitySpec("a", "tabular", features=2),), dim=8, heads=2, regularizer="rep-barlow")
        >>> [model.set_epoch(e) or model.effective_regularizer_weight() for e in range(6)]
        [0.0, 2.5, 5.0, 7.5, 10.0, 10.0]
        """
        self.epoch = int(epoch)

    def effective_regularizer_weight(self) -> float:
        """The regulariser's weight in this epoch: ``regularizer_weight`` times the warm-up factor.

        The factor is Decor's ``min(1, epoch / (warmup - 1))`` with ``warmup`` from
        :data:`REGULARIZER_WARMUP` (5 epochs for rep-barlow); 1 without warm-up or before any
        :meth:`set_epoch`.

        Examples
        --------
        >>> from mxbench.spec import ModalitySpec
        >>> FLI2MoE((ModalitySpec("a", "tabular", features=2),), dim=8, heads=2,
        ...         regularizer="rep-cos").effective_regularizer_weight()
        0.003
        """
        if self.regularizer == "none":
            return 0.0
        warmup = REGULARIZER_WARMUP[self.regularizer]
        if warmup <= 1 or self.epoch is None:
            return self.regularizer_weight
        return self.regularizer_weight * min(1.0, max(0.0, self.epoch / float(warmup - 1)))

    def decorrelation(self, latents: torch.Tensor) -> torch.Tensor:
        """The configured regulariser's value (unweighted) on latents ``(E, N, D)``; 0 for ``"none"``.

        Examples
        --------
        >>> import torch
        >>> from mxbench.spec import ModalitySpec
        >>> model = FLI2MoE((ModalitySpec("a", "tabular", features=2),), dim=8, heads=2, regularizer="rep-cos")
        >>> _ = model({"a": torch.randn(6, 2)})
        >>> model.decorrelation(model.latents).item() == rep_cos(model.latents).item()
        True
        """
        fn = {"rep-cos": rep_cos, "rep-barlow": rep_barlow, "rep-cka": rep_cka}.get(self.regularizer)
        return latents.new_zeros(()) if fn is None else fn(latents)


def _pairs(values: torch.Tensor) -> torch.Tensor:
    """The mean over expert pairs ``e < f`` of an ``(E, E)`` matrix (0 for one expert)."""
    e = values.shape[0]
    if e < 2:
        return values.new_zeros(())
    i, j = torch.triu_indices(e, e, offset=1)
    return values[i, j].mean()


def _check_latents(latents: torch.Tensor) -> torch.Tensor:
    if not isinstance(latents, torch.Tensor) or latents.dim() != 3:
        raise ValueError(f"latents: expected a tensor (experts, rows, width), got "
                         f"{tuple(latents.shape) if isinstance(latents, torch.Tensor) else type(latents).__name__}")
    return latents


def rep_cos(latents: torch.Tensor) -> torch.Tensor:
    """Decor's rep-cos: the mean over expert pairs of the mean squared cosine of their latents.

    ``R = mean_{e<f} mean_n cos(z_e[n], z_f[n])^2`` (latents L2-normalised with ``F.normalize``);
    in [0, 1]: 1 when all experts' latents point the same way, 0 when orthogonal.

    Parameters
    ----------
    latents : Tensor
        ``(E, N, D)``: each expert's latent on each of ``N`` rows.

    Returns
    -------
    Tensor
        A scalar (0 with one expert).

    Examples
    --------
    >>> import torch
    >>> z = torch.randn(1, 5, 4)
    >>> round(float(rep_cos(torch.cat([z, 2 * z]))), 6)  # the same directions
    1.0
    >>> float(rep_cos(torch.tensor([[[1.0, 0.0]], [[0.0, 3.0]]])))  # orthogonal
    0.0
    """
    zn = F.normalize(_check_latents(latents), p=2, dim=2)
    cos = torch.einsum("end,fnd->efn", zn, zn)
    return _pairs(cos.pow(2).mean(dim=2))


def rep_barlow(latents: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Decor's rep-barlow: the mean over expert pairs of the mean squared off-diagonal cross-correlation.

    Each expert's latents are standardised over the batch (``(z - mean) / (std + eps)``, the
    biased std); for experts ``e, f`` the cross-correlation is ``C = z_e^T z_f / N`` ``(D, D)``
    and the penalty is the mean of ``C_jk^2`` over ``j != k``.

    Parameters
    ----------
    latents : Tensor
        ``(E, N, D)``.
    eps : float
        Added to the standard deviation (Decor: 1e-5).

    Returns
    -------
    Tensor
        A scalar (0 with one expert or ``D = 1``).

    Examples
    --------
    >>> import torch
    >>> a = torch.tensor([[1.0, 1.0], [-1.0, -1.0]])  # two perfectly correlated columns
    >>> round(float(rep_barlow(torch.stack([a, a]), eps=0.0)), 6)
    1.0
    >>> b = torch.tensor([[1.0, -1.0], [-1.0, 1.0]])
    >>> round(float(rep_barlow(torch.stack([a, b]), eps=0.0)), 6)  # anti-correlated: squared, still 1
    1.0
    """
    z = _check_latents(latents)
    z = z - z.mean(dim=1, keepdim=True)
    z = z / (z.std(dim=1, unbiased=False, keepdim=True) + eps)
    d = z.shape[2]
    if d < 2:
        return z.new_zeros(())
    c = torch.einsum("enj,fnk->efjk", z, z) / z.shape[1]
    off = c.pow(2).sum(dim=(2, 3)) - torch.diagonal(c, dim1=2, dim2=3).pow(2).sum(dim=2)
    return _pairs(off / (d * d - d))


def rep_cka(latents: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Decor's rep-cka: the mean over expert pairs of linear CKA between their latents.

    ``CKA(X, Y) = ||X^T Y||_F^2 / (||X^T X||_F ||Y^T Y||_F + eps)`` with ``X``, ``Y`` centred over
    the batch (Kornblith et al. 2019, arXiv 1905.00414); in [0, 1], 1 for a matrix and itself
    (or any rotation and scaling of it).

    Parameters
    ----------
    latents : Tensor
        ``(E, N, D)``.
    eps : float
        Added to the denominator (Decor: 1e-8).

    Returns
    -------
    Tensor
        A scalar (0 with one expert).

    Examples
    --------
    >>> import torch
    >>> x = torch.randn(1, 20, 3, dtype=torch.float64)
    >>> round(float(rep_cka(torch.cat([x, 5 * x]))), 6)
    1.0
    >>> a = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    >>> b = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    >>> round(float(rep_cka(torch.stack([a, b]))), 6)  # b keeps one of a's two directions
    0.707107
    """
    z = _check_latents(latents)
    z = z - z.mean(dim=1, keepdim=True)
    cross = torch.einsum("enj,fnk->efjk", z, z).pow(2).sum(dim=(2, 3))  # ||Z_e^T Z_f||_F^2
    norm = torch.diagonal(cross).sqrt()  # ||Z_e^T Z_e||_F
    return _pairs(cross / (norm[:, None] * norm[None, :] + eps))


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
