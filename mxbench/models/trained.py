"""A trained model: its certificate against the planted game, its games, saving and loading."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from mxbench.errors import MxbenchError
from mxbench.models.common import ModelError, build, keep_rate_coalitions, predict_batches, to_tensors
from mxbench.oracles.moebius import MoebiusGame, first_order_from_moebius, moebius_from_table, subset_masks
from mxbench.spec.fields import loads_unique
from mxbench.task import InputGame, Task

FORMAT = "mxbench-model"
SCHEMA_VERSION = 1
R2_THRESHOLD = 0.95
SHARE_TOLERANCE = 0.05
INTEGRITY_KEY = "config_sha256"  # the field of config.json that holds the hash of the rest
RECHECK_INSTANCES = 128  # held-out instances on which load re-measures a certified model's R²
RECHECK_SLACK = 0.05  # how far below its claimed R² a re-measured certified model may fall
SHAPLEY_MAX_PLAYERS = 16  # above this the certificate's per-instance Shapley error is not computed (None)
SHAPLEY_INSTANCES = 32  # the most held-out instances whose exact Shapley values the certificate enumerates
SHAPLEY_ROWS = 2**12  # ... and the most forward rows it spends on them (fewer instances on larger tasks,
#   at least one: a 16-player task enumerates one instance, 2^16 rows)
SHAPLEY_CHUNK_ROWS = 2**14  # the most forward rows per pass (whole instances: all 2^n coalitions of several at once)
SHAPLEY_ESTIMATE_ABOVE = 64  # above this many players the certificate estimates the Shapley error by default
SHAPLEY_PERMUTATIONS = 16  # ... from this many permutations per instance (antithetic pairs: each order and its reverse)
SHAPLEY_ESTIMATE_ROWS = 2**15  # ... on as many of the first held-out instances as this many forward rows pay for
#   (at most SHAPLEY_INSTANCES, at least one; an instance costs permutations * (n - 1) + 2 rows)
SHAPLEY_METHODS = ("exact", "permutation")  # the values of Certificate.shapley_method
QUANTILES = ("median", "p90", "max")  # the keys of the certificate's per-instance distributions


def spread(errors: Any) -> dict[str, float]:
    """The median, 90th percentile (linear interpolation) and max of per-instance errors.

    Examples
    --------
    >>> spread([0.0, 1.0, 2.0, 3.0, 4.0])
    {'median': 2.0, 'p90': 3.6, 'max': 4.0}
    """
    e = np.asarray(errors, dtype=np.float64)
    return {"median": float(np.median(e)), "p90": float(np.percentile(e, 90)), "max": float(np.max(e))}


def instance_share_errors(phi_model: np.ndarray, phi_truth: np.ndarray) -> np.ndarray:
    """Per instance, the largest absolute difference of the modality shares ``|Φ_m| / Σ_k |Φ_k|``.

    Both arguments are exact modality Shapley values, shape ``(N, M)``; an instance whose
    modality values are all zero has all shares zero.

    Examples
    --------
    >>> import numpy as np
    >>> instance_share_errors(np.array([[1.0, 1.0], [0.0, 0.0]]), np.array([[3.0, 1.0], [0.0, 2.0]])).tolist()
    [0.25, 1.0]
    """
    def shares(phi: np.ndarray) -> np.ndarray:
        a = np.abs(np.asarray(phi, dtype=np.float64))
        total = a.sum(axis=1, keepdims=True)
        return np.divide(a, total, out=np.zeros_like(a), where=total > 0)

    return np.max(np.abs(shares(phi_model) - shares(phi_truth)), axis=1)


def shapley_error(phi_model: np.ndarray, phi_truth: np.ndarray) -> np.ndarray:
    """``‖φ_model − φ_truth‖₂ / ‖φ_truth‖₂`` over the last axis (the denominator floored at 1e-12).

    Examples
    --------
    >>> import numpy as np
    >>> shapley_error(np.array([3.0, 4.0]), np.array([0.0, 5.0])).round(6).tolist()
    0.632456
    """
    diff = np.linalg.norm(np.asarray(phi_model, np.float64) - np.asarray(phi_truth, np.float64), axis=-1)
    return diff / np.maximum(np.linalg.norm(np.asarray(phi_truth, np.float64), axis=-1), 1e-12)


def config_digest(doc: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a model's ``config.json`` without its ``config_sha256`` field.

    The config holds ``weights_sha256``, so this one hash covers the architecture, the config,
    the certificate and the weights.

    Examples
    --------
    >>> config_digest({"a": 1, "config_sha256": "x"}) == config_digest({"a": 1})
    True
    """
    rest = {k: v for k, v in doc.items() if k != INTEGRITY_KEY}
    text = json.dumps(json.loads(json.dumps(rest)), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def r2_score(pred: np.ndarray, truth: np.ndarray) -> float:
    """``1 - SS_res / SS_tot`` of predictions against the truth.

    Examples
    --------
    >>> import numpy as np
    >>> r2_score(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    1.0
    """
    truth = np.asarray(truth, dtype=np.float64)
    ss_tot = float(np.sum((truth - truth.mean()) ** 2))
    ss_res = float(np.sum((np.asarray(pred, dtype=np.float64) - truth) ** 2))
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)


@dataclass
class Certificate:
    """How well a trained model's game matches the planted game, on held-out instances.

    Attributes
    ----------
    r2_unmasked : float
        R² of the model against ``f*`` on the unmasked instances.
    r2_ablated : dict
        R² with each single modality ablated (set to its baseline).
    r2_random : float
        R² under random coalitions (the headline figure).
    shares_model, shares_truth : dict
        Dataset-level modality shares ``mean |Φ_m|`` from the model's exact modality game and
        from the oracle.
    share_error : float
        The largest absolute difference between the two.
    term_errors : list of float
        For each planted term, the relative error of the model's local Möbius coefficients
        over the term's players (other players present) against the planted ones.
    instances : int
        The number of held-out instances used.
    passed : bool
        ``r2_random >= 0.95`` and ``share_error <= 0.05``. The per-instance figures below are
        reported, never part of this rule.
    instance_share_error : dict or None
        ``{"median", "p90", "max"}`` over the held-out instances of the per-instance modality-share
        error: on each instance, the largest absolute difference between the modality shares
        ``|Φ_m| / Σ|Φ|`` of the model's exact modality game and of the planted one
        (:func:`instance_share_errors`). None in certificates saved before it existed.
    shapley_error : dict or None
        ``{"median", "p90", "max"}`` of ``‖φ_model − φ_planted‖₂ / ‖φ_planted‖₂``, the player
        Shapley values of the model's game against the planted ones, on the instances of
        ``shapley_instances``: exact (all ``2^n`` coalitions enumerated) on tasks of at most 16
        players (:data:`SHAPLEY_MAX_PLAYERS`), estimated (``shapley_method``) on tasks of more than
        64 (:data:`SHAPLEY_ESTIMATE_ABOVE`). None in between (unless asked for), or in older
        certificates.
    shapley_errors : list of float or None
        That error on each of those instances, in their order.
    shapley_instances : list of int or None
        The task instance numbers (the first held-out ones) of ``shapley_errors``: at most 32,
        and, when exact, at most ``2^12 / 2^n`` (at least one) so enumeration costs at most
        ``max(2^12, 2^n)`` forward rows; when estimated, as many as ``2^15`` forward rows pay for.
    shapley_method : {"exact", "permutation"} or None
        How ``shapley_error`` was obtained: ``"permutation"`` is an estimate from
        ``shapley_permutations`` random player orders per instance (antithetic: each order and its
        reverse) of the game *model minus planted* on the same coalitions, whose Shapley values
        are ``φ_model − φ_planted``; the planted ones in the denominator are exact (the oracle).
        None in older certificates.
    shapley_permutations : int or None
        The permutations per instance of an estimate (None when exact).
    shapley_standard_errors : list of float or None
        Per instance, the standard error of the estimated error (delta method over the
        antithetic pairs; None when exact). The estimate is biased upward by the sampling noise
        (``E‖φ̂‖² = ‖φ‖² + Σ Var φ̂_i``), so it never flatters a model.

    Examples
    --------
    >>> c = Certificate(0.99, {"a": 0.98}, 0.97, {"a": 1.0}, {"a": 1.0}, 0.0, [0.1], 100, True)
    >>> c.to_dict()["passed"]
    True
    """

    r2_unmasked: float
    r2_ablated: dict[str, float]
    r2_random: float
    shares_model: dict[str, float]
    shares_truth: dict[str, float]
    share_error: float
    term_errors: list[float]
    instances: int
    passed: bool
    instance_share_error: dict[str, float] | None = None
    shapley_error: dict[str, float] | None = None
    shapley_errors: list[float] | None = None
    shapley_instances: list[int] | None = None
    shapley_method: str | None = None
    shapley_permutations: int | None = None
    shapley_standard_errors: list[float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The certificate as a JSON-serialisable dict."""
        return asdict(self)

    def rows(self) -> list[dict[str, str]]:
        """The certificate as table rows ``{"check", "value", "goal"}`` for printing.

        Examples
        --------
        >>> c = Certificate(0.99, {"a": 0.98}, 0.97, {"a": 1.0}, {"a": 1.0}, 0.0, [0.1], 100, True)
        >>> [r["check"] for r in c.rows()][:3]
        ['R² unmasked', 'R² random coalitions', 'R² without a']
        """
        rows = [{"check": "R² unmasked", "value": f"{self.r2_unmasked:.4f}", "goal": ""},
                {"check": "R² random coalitions", "value": f"{self.r2_random:.4f}", "goal": f">= {R2_THRESHOLD}"}]
        rows += [{"check": f"R² without {m}", "value": f"{v:.4f}", "goal": ""} for m, v in self.r2_ablated.items()]
        rows += [{"check": f"share {m}", "value": f"{self.shares_model[m]:.3f} (truth {self.shares_truth[m]:.3f})",
                  "goal": ""} for m in self.shares_model]
        rows.append({"check": "max share error", "value": f"{self.share_error:.4f}", "goal": f"<= {SHARE_TOLERANCE}"})
        rows += [{"check": f"term {k} Möbius rel. error", "value": f"{e:.3f}", "goal": ""}
                 for k, e in enumerate(self.term_errors)]
        if self.instance_share_error is not None:
            rows.append({"check": "share error per instance", "value": _spread_text(self.instance_share_error, 4),
                         "goal": f"reported ({self.instances} instances)"})
        if self.shapley_error is not None:
            count = len(self.shapley_errors) if self.shapley_errors is not None else "?"
            if self.shapley_method == "permutation":
                se = self.shapley_standard_errors or [float("nan")]
                rows.append({"check": "Shapley rel. error per instance (estimated)",
                             "value": _spread_text(self.shapley_error, 3) + f", s.e. <= {max(se):.3f}",
                             "goal": f"reported ({count} instances, {self.shapley_permutations} permutations each)"})
            else:
                rows.append({"check": "Shapley rel. error per instance", "value": _spread_text(self.shapley_error, 3),
                             "goal": f"reported ({count} instances)"})
        elif self.instance_share_error is not None:  # a new certificate without it: the task is too large
            rows.append({"check": "Shapley rel. error per instance", "value": "not computed",
                         "goal": f"needs <= {SHAPLEY_MAX_PLAYERS} players (or an estimate)"})
        rows.append({"check": "certified", "value": "yes" if self.passed else "NO", "goal": ""})
        return rows


def _spread_text(d: Mapping[str, float], digits: int) -> str:
    return " / ".join(f"{d[q]:.{digits}f}" for q in QUANTILES) + " (median / p90 / max)"


class TrainedModel:
    """A trained model with its architecture, config, certificate and provenance.

    Get one from :func:`mxbench.models.train` or :func:`mxbench.models.load`.

    Examples
    --------
    >>> import mxbench, numpy as np
    >>> from mxbench.models import train
    >>> task = mxbench.generate("smoke", instances=300)[0]
    >>> model = train(task, "fusion_mlp", epochs=1, certify=False)
    >>> game = model.game(task, 0)
    >>> game(np.ones((2, task.n_players), bool)).shape, game.n_queries
    ((2,), 2)
    """

    def __init__(self, arch: str, config: Mapping[str, Any], module: nn.Module, spec_hash: str, task_name: str,
                 random_state: int, history: list[dict[str, float]], settings: Mapping[str, Any],
                 certificate: Certificate | None = None, seconds: float = 0.0) -> None:
        self.arch = arch
        self.config = dict(config)
        self.module = module
        self.spec_hash = spec_hash
        self.task_name = task_name
        self.random_state = random_state
        self.history = list(history)
        self.settings = dict(settings)
        self.certificate = certificate
        self.seconds = seconds

    def __repr__(self) -> str:
        status = "uncertified" if self.certificate is None else (
            "certified" if self.certificate.passed else "FAILED certificate")
        return f"TrainedModel({self.arch!r}, task={self.task_name!r}, {status})"

    @property
    def certified(self) -> bool:
        """True when the model has a certificate and passed it."""
        return self.certificate is not None and self.certificate.passed

    @property
    def device(self) -> torch.device:
        """The device the weights are on."""
        return next(self.module.parameters()).device

    def to(self, device: str | torch.device) -> "TrainedModel":
        """Move the weights to a device (``"cpu"``, ``"cuda"``); returns self."""
        self.module.to(device)
        return self

    def _check_task(self, task: Task) -> None:
        if task.spec.spec_hash() != self.spec_hash:
            raise ModelError(f"task: the model was trained on task {self.task_name!r} (spec {self.spec_hash[:12]}...), "
                             f"not on {task.spec.name!r} (spec {task.spec.spec_hash()[:12]}...)")

    def predict(self, inputs: Mapping[str, np.ndarray], batch_size: int = 4096) -> np.ndarray:
        """The model's output on raw numpy inputs, in batches under ``torch.no_grad``.

        Examples
        --------
        >>> import mxbench
        >>> from mxbench.models import train
        >>> task = mxbench.generate("smoke", instances=300)[0]
        >>> model = train(task, "fusion_mlp", epochs=1, certify=False)
        >>> model.predict({k: v[:5] for k, v in task.inputs.items()}).shape
        (5,)
        """
        self.module.eval()
        with torch.no_grad():
            out = predict_batches(self.module, to_tensors(inputs, self.device), batch_size)
        return out.double().cpu().numpy()

    def game(self, task: Task, instance: int, batch_size: int = 4096) -> "ModelGame":
        """The model's game on one instance: coalitions ``(B, n)`` -> outputs ``(B,)``.

        The same interface as ``task.game(i)``: absent players are masked by the one
        masking rule, the batch goes through the model under ``torch.no_grad``, queries are
        counted.
        """
        self._check_task(task)
        if not isinstance(instance, (int, np.integer)) or not 0 <= instance < task.n_instances:
            raise ModelError(f"instance: expected 0..{task.n_instances - 1}, got {instance!r}")
        return ModelGame(self, task, int(instance), batch_size)

    # ------------------------------------------------------------------ certificate
    def certify(self, task: Task, instances: int = 512, random_coalitions: int = 8,
                random_state: int = 0, shapley_instances: int = SHAPLEY_INSTANCES,
                shapley_rows: int | None = None, shapley_estimate: bool | None = None,
                shapley_permutations: int = SHAPLEY_PERMUTATIONS) -> Certificate:
        """Compare the model's game with the planted game on held-out instances; store and return it.

        Held-out instances come from the test split (the validation split if there is no
        test split), at most ``instances`` of them. Besides the dataset-level figures that
        decide ``passed``, it reports per-instance distributions: the modality-share error on
        every held-out instance, and the normalised error of the model's Shapley values on the
        first ``shapley_instances`` of them (0 skips it). On tasks of at most 16 players the
        values are exact (at most ``shapley_rows / 2^n`` instances, at least one; default
        ``2^12`` rows); on tasks of more than 64 players (or with ``shapley_estimate=True``) they
        are estimated by antithetic permutation sampling of the game *model minus planted*,
        ``shapley_permutations`` orders per instance, on as many instances as ``shapley_rows``
        forward rows pay for (default ``2^15``), with a standard error per instance (see
        :class:`Certificate`). ``shapley_estimate=False`` never estimates. Defaults keep the
        extra time to about a second per model on the smoke tasks (a few seconds for FL-I2MoE,
        whose forward pass runs ``M + 2`` experts). ``passed`` never depends on these figures.

        Examples
        --------
        >>> import mxbench
        >>> from mxbench.models import train
        >>> task = mxbench.generate("smoke", instances=300)[0]
        >>> model = train(task, "fusion_mlp", epochs=1, certify=False)
        >>> c = model.certify(task, instances=32, shapley_estimate=True, shapley_rows=2 * (16 * 11 + 2))
        >>> c.shapley_method, c.shapley_permutations, len(c.shapley_errors), len(c.shapley_standard_errors)
        ('permutation', 16, 2, 2)
        """
        if shapley_estimate is not None and not isinstance(shapley_estimate, bool):
            raise ModelError(f"shapley_estimate: expected true, false or None, got {shapley_estimate!r}")
        if isinstance(shapley_permutations, bool) or not isinstance(shapley_permutations, (int, np.integer)) \
                or shapley_permutations < 2 or shapley_permutations % 2:
            raise ModelError(f"shapley_permutations: expected an even integer >= 2 (antithetic pairs), "
                             f"got {shapley_permutations!r}")
        self._check_task(task)
        plan = task.plan
        rows = task.split_indices("test")
        if len(rows) == 0:
            rows = task.split_indices("val")
        if len(rows) == 0:
            raise ModelError(f"task {task.spec.name!r} has no test or validation split to certify on")
        rows = rows[:instances]
        raw = {k: v[rows] for k, v in task.inputs.items()}
        n, names = task.n_players, task.modality_names

        def evaluate(present: np.ndarray, base_rows: np.ndarray = np.arange(len(rows))) -> tuple[np.ndarray, np.ndarray]:
            masked = plan.mask({k: v[base_rows] for k, v in raw.items()}, present)
            return self.predict(masked), plan.f_star(plan.decode(masked))

        full = np.ones((len(rows), n), dtype=bool)
        r2_unmasked = r2_score(*evaluate(full))
        r2_ablated = {}
        for k, name in enumerate(names):
            present = full.copy()
            present[:, task.modality_of == k] = False
            r2_ablated[name] = r2_score(*evaluate(present))
        rng = np.random.default_rng([random_state, 9])
        rep = np.repeat(np.arange(len(rows)), random_coalitions)
        coal = keep_rate_coalitions(rng, len(rep), n)
        r2_random = r2_score(*evaluate(coal, rep))

        # the model's exact modality game: all 2^M modality coalitions
        n_mod = len(names)
        mod_masks = subset_masks(n_mod)
        present = mod_masks[:, task.modality_of]  # (2^M, n)
        rep = np.repeat(np.arange(len(rows)), 2**n_mod)
        values, _ = evaluate(np.tile(present, (len(rows), 1)), rep)
        model_phi = MoebiusGame(n_mod, np.zeros(len(rows)), [np.arange(n_mod)],
                                [values.reshape(len(rows), 2**n_mod)]).shapley()
        truth_phi = plan.oracle(task.latents[rows]).modality_shapley()
        share_m = np.abs(model_phi).mean(axis=0)
        share_t = np.abs(truth_phi).mean(axis=0)
        per_instance_share = spread(instance_share_errors(model_phi, truth_phi))
        share_m, share_t = share_m / max(share_m.sum(), 1e-300), share_t / max(share_t.sum(), 1e-300)

        term_errors = []
        for t in plan.terms:
            k = len(t.ids)
            sub = subset_masks(k)
            cp = np.ones((len(rows) * 2**k, n), dtype=bool)
            cp[:, list(t.ids)] = np.tile(sub, (len(rows), 1))
            values, _ = evaluate(cp, np.repeat(np.arange(len(rows)), 2**k))
            m_model = moebius_from_table(values.reshape(len(rows), 2**k))[:, 1:]
            m_true = moebius_from_table(t.table(task.latents[rows][:, list(t.ids)]))[:, 1:]
            term_errors.append(float(np.linalg.norm(m_model - m_true) / max(np.linalg.norm(m_true), 1e-12)))

        estimate = shapley_estimate if shapley_estimate is not None else n > SHAPLEY_ESTIMATE_ABOVE
        sv_se = None
        if estimate:
            sv_rows, sv_errors, sv_se = self._shapley_estimates(
                task, rows, shapley_instances, SHAPLEY_ESTIMATE_ROWS if shapley_rows is None else shapley_rows,
                int(shapley_permutations), random_state)
        else:
            sv_rows, sv_errors = self._shapley_errors(task, rows, shapley_instances,
                                                      SHAPLEY_ROWS if shapley_rows is None else shapley_rows)
        method = None if sv_errors is None else ("permutation" if estimate else "exact")

        share_error = float(np.max(np.abs(share_m - share_t)))
        self.certificate = Certificate(
            r2_unmasked=r2_unmasked, r2_ablated=r2_ablated, r2_random=r2_random,
            shares_model=dict(zip(names, map(float, share_m))), shares_truth=dict(zip(names, map(float, share_t))),
            share_error=share_error, term_errors=term_errors, instances=len(rows),
            passed=bool(r2_random >= R2_THRESHOLD and share_error <= SHARE_TOLERANCE),
            instance_share_error=per_instance_share,
            shapley_error=None if sv_errors is None else spread(sv_errors),
            shapley_errors=None if sv_errors is None else [float(e) for e in sv_errors],
            shapley_instances=None if sv_rows is None else [int(r) for r in sv_rows],
            shapley_method=method,
            shapley_permutations=int(shapley_permutations) if method == "permutation" else None,
            shapley_standard_errors=None if sv_se is None else [float(e) for e in sv_se])
        return self.certificate

    def _shapley_errors(self, task: Task, rows: np.ndarray, limit: int,
                        budget: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Exact Shapley values of the model's game against the planted ones on the first held-out rows.

        All ``2^n`` coalitions of as many instances as fit :data:`SHAPLEY_CHUNK_ROWS` go through
        the model in one pass; the planted values come from the task's oracle. ``(None, None)``
        above :data:`SHAPLEY_MAX_PLAYERS` players or when ``limit`` is 0.
        """
        n = task.n_players
        if n > SHAPLEY_MAX_PLAYERS or limit <= 0:
            return None, None
        size = 2**n
        count = max(1, min(int(limit), len(rows), int(budget) // size))
        picked = np.asarray(rows[:count])
        coalitions = subset_masks(n)
        per_pass = max(1, SHAPLEY_CHUNK_ROWS // size)
        values = []
        for s in range(0, count, per_pass):
            chunk = picked[s:s + per_pass]
            base = np.repeat(chunk, size)
            masked = task.plan.mask({k: v[base] for k, v in task.inputs.items()}, np.tile(coalitions, (len(chunk), 1)))
            values.append(self.predict(masked, batch_size=len(base)).reshape(len(chunk), size))
        phi_model = first_order_from_moebius(moebius_from_table(np.concatenate(values)), "SV")
        phi_truth = task.plan.oracle(task.latents[picked]).shapley()
        return picked, shapley_error(phi_model, phi_truth)

    def _shapley_estimates(self, task: Task, rows: np.ndarray, limit: int, budget: int, permutations: int,
                           random_state: int) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """Estimated Shapley errors of the model's game on the first held-out rows, with standard errors.

        Per instance: ``permutations / 2`` random orders of the players and their reverses; along
        each order, the coalitions of its first ``1 .. n-1`` players, plus the empty and the full
        coalition, are masked and go through the model; the planted game ``f*`` of the same
        masked inputs is subtracted, so the walks give marginal contributions of the difference
        game, whose Shapley values are ``φ_model − φ_planted`` (a control variate: the noise
        shrinks with the model's error). ``φ̂`` is the mean over the antithetic pairs; the error is
        ``‖φ̂‖ / ‖φ_planted‖`` with ``φ_planted`` exact (the oracle), its standard error by the
        delta method from the spread of the pairs. Orders are seeded by ``random_state`` and the
        instance number, so an instance's figure does not depend on how many are estimated.
        ``(None, None, None)`` when ``limit`` is 0.
        """
        n, plan = task.n_players, task.plan
        if limit <= 0:
            return None, None, None
        pairs = permutations // 2
        per_instance = permutations * (n - 1) + 2
        count = max(1, min(int(limit), len(rows), int(budget) // per_instance))
        picked = np.asarray(rows[:count])
        # prefix[k, j]: is the player at position j of an order among its first k + 1?
        prefix = np.arange(n)[None, :] <= np.arange(n - 1)[:, None]  # (n - 1, n)
        per_pass = max(1, SHAPLEY_CHUNK_ROWS // per_instance)
        phi, var = [], []
        for s in range(0, count, per_pass):
            chunk = picked[s:s + per_pass]
            orders, coalitions = [], []
            for r in chunk:
                rng = np.random.default_rng([random_state, 12, int(r)])
                half = np.argsort(rng.random((pairs, n)), axis=1)
                order = np.concatenate([half, half[:, ::-1]])  # (permutations, n): pair q is (q, q + pairs)
                coal = np.zeros((permutations, n - 1, n), dtype=bool)
                np.put_along_axis(coal, np.broadcast_to(order[:, None, :], coal.shape),
                                  np.broadcast_to(prefix[None], coal.shape), axis=2)
                orders.append(order)
                coalitions += [np.zeros((1, n), bool), np.ones((1, n), bool), coal.reshape(-1, n)]
            base = np.repeat(chunk, per_instance)
            masked = plan.mask({k: v[base] for k, v in task.inputs.items()}, np.concatenate(coalitions))
            diff = (self.predict(masked) - plan.f_star(plan.decode(masked))).reshape(len(chunk), per_instance)
            for d, order in zip(diff, orders):
                walk = np.concatenate([np.full((permutations, 1), d[0]), d[2:].reshape(permutations, n - 1),
                                       np.full((permutations, 1), d[1])], axis=1)  # (permutations, n + 1)
                contrib = np.empty((permutations, n))
                np.put_along_axis(contrib, order, np.diff(walk, axis=1), axis=1)
                paired = (contrib[:pairs] + contrib[pairs:]) / 2  # (pairs, n), independent draws
                phi.append(paired.mean(axis=0))
                var.append(paired.var(axis=0, ddof=1) / pairs if pairs > 1 else np.zeros(n))
        phi_diff, var_diff = np.array(phi), np.array(var)
        truth_norm = np.maximum(np.linalg.norm(plan.oracle(task.latents[picked]).shapley(), axis=1), 1e-12)
        diff_norm = np.linalg.norm(phi_diff, axis=1)
        errors = diff_norm / truth_norm
        # delta method: d‖φ‖/dφ_i = φ_i / ‖φ‖; at φ = 0 the spread of ‖φ̂‖ is about sqrt(Σ Var φ̂_i)
        spread_num = np.where(diff_norm > 0, np.sqrt(np.sum(phi_diff**2 * var_diff, axis=1))
                              / np.maximum(diff_norm, 1e-300), np.sqrt(var_diff.sum(axis=1)))
        return picked, errors, spread_num / truth_norm

    # ------------------------------------------------------------------ saving
    def save(self, folder: str | Path, overwrite: bool = False) -> Path:
        """Write ``weights.pt`` (a state dict) and ``config.json`` to a new folder, atomically.

        ``config.json`` records the SHA-256 of the weights and, in ``config_sha256``, the
        SHA-256 of its own canonical JSON without that field (see :func:`load`).

        Examples
        --------
        >>> import mxbench, tempfile, os
        >>> from mxbench.models import load, train
        >>> task = mxbench.generate("smoke", instances=300)[0]
        >>> model = train(task, "fusion_mlp", epochs=1, certify=False)
        >>> out = model.save(os.path.join(tempfile.mkdtemp(), "m"))
        >>> load(out, task).arch
        'fusion_mlp'
        """
        from mxbench._version import __version__
        from mxbench.data.writer import atomic_dir, sha256_file

        with atomic_dir(folder, overwrite, markers=("config.json",)) as tmp:
            state = {k: v.detach().cpu().contiguous() for k, v in self.module.state_dict().items()}
            torch.save(state, tmp / "weights.pt")
            doc = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "mxbench_version": __version__,
                   "arch": self.arch, "config": self.config,
                   "modalities": [m.to_dict() for m in self.module.modalities], "spec_hash": self.spec_hash, "task": self.task_name,
                   "random_state": self.random_state, "settings": self.settings, "history": self.history,
                   "seconds": self.seconds, "weights_sha256": sha256_file(tmp / "weights.pt"),
                   "certificate": None if self.certificate is None else self.certificate.to_dict()}
            doc[INTEGRITY_KEY] = config_digest(doc)
            (tmp / "config.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        return Path(folder)


def load(folder: str | Path, task: Task | None = None, device: str = "cpu", *, recheck: bool = True) -> TrainedModel:
    """Load a model folder written by :meth:`TrainedModel.save`.

    Checks, before the model is returned:

    - ``config.json``'s ``config_sha256`` equals the SHA-256 of the canonical JSON of the rest
      of the file (architecture, config, spec hash, history, certificate, ``weights_sha256``),
      so an edited config or certificate is refused; a folder without it (saved by an
      older mxbench) is refused too: re-save or retrain it;
    - ``weights.pt`` has the recorded SHA-256; it is read with ``torch.load(weights_only=True)``;
    - the certificate is consistent: ``passed`` is what its own R² and share error give;
    - with ``task`` and ``recheck``, for a certified model: the model's R² against ``f*`` under
      random coalitions, re-measured on up to 128 held-out instances, is within 0.05 of the
      certificate's ``r2_random`` claim (about 1024 forward rows).

    A hash only detects accidents and naive edits: whoever can write the folder can also
    recompute the hashes, so a forged, re-hashed certificate is caught only by the
    re-measurement, which needs the task and checks only the headline R² (shares and term
    errors are taken as written). Keep model folders where only you can write, or call
    :meth:`TrainedModel.certify` again.

    Parameters
    ----------
    folder : str or Path
        The model folder.
    task : Task, optional
        When given, the model must have been trained on this task's spec.
    device : str
        Where to put the weights.
    recheck : bool
        Re-measure a certified model's R² on the task (default True; needs ``task``).

    Raises
    ------
    ModelError
        A file is missing, unreadable or altered (the message names it), another format, an
        inconsistent or disproved certificate, or a task of another spec.
    """
    folder = Path(folder)
    try:
        return _load(folder, task, device, recheck)
    except OSError as e:  # an unreadable folder or file: name it, never a bare PermissionError
        name = e.filename if e.filename is not None else folder
        raise ModelError(f"{str(name)!r}: cannot be read ({e.strerror or type(e).__name__})") from None


def _load(folder: Path, task: Task | None, device: str, recheck: bool) -> TrainedModel:
    from mxbench.data.writer import sha256_file

    path = folder / "config.json"
    if not path.is_file():
        raise ModelError(f"{str(folder)!r} is not a model folder: config.json is missing")
    try:
        doc = loads_unique(path.read_text(encoding="utf-8"),
                           lambda field, message: ModelError(f"config.json: {field}: {message}"), "config.json")
        if not isinstance(doc, dict):
            raise TypeError("expected a JSON object")
        if doc.get("format") != FORMAT or doc.get("schema_version") != SCHEMA_VERSION:
            raise ModelError(f"config.json: format {doc.get('format')!r} / schema_version "
                             f"{doc.get('schema_version')!r}, expected {FORMAT!r} / {SCHEMA_VERSION}")
    except ModelError:
        raise
    except (OSError, UnicodeDecodeError, ValueError, RecursionError, TypeError) as e:
        raise ModelError(f"config.json: unreadable or malformed ({e!r})") from None
    try:
        arch, config, spec_hash = doc["arch"], doc["config"], doc["spec_hash"]
        cert = doc.get("certificate")
        certificate = Certificate(**cert) if cert is not None else None
    except (KeyError, TypeError, AttributeError) as e:
        raise ModelError(f"config.json: unreadable or malformed ({e!r})") from None
    if certificate is not None:
        _check_certificate(certificate)
    try:
        module = build(arch, _modalities_of(doc), config)
    except ModelError as e:  # a malformed config names its field; only then is the hash checked
        raise ModelError(f"config.json: {e}") from None
    recorded = doc.get(INTEGRITY_KEY)
    if not isinstance(recorded, str):
        raise ModelError(f"config.json: no {INTEGRITY_KEY} integrity hash (saved by an older mxbench, or removed); "
                         "re-save or retrain the model")
    if config_digest(doc) != recorded:
        raise ModelError(f"config.json: SHA-256 of its contents does not match its {INTEGRITY_KEY} "
                         "(the config or the certificate was altered)")
    weights = folder / "weights.pt"
    if not weights.is_file():
        raise ModelError(f"weights.pt: missing from {str(folder)!r}")
    try:
        digest = sha256_file(weights)
    except OSError as e:
        raise ModelError(f"weights.pt: cannot be read ({e.strerror or type(e).__name__})") from None
    if digest != doc.get("weights_sha256"):
        raise ModelError("weights.pt: SHA-256 does not match config.json (the file is corrupt or was altered)")
    try:
        state = torch.load(weights, map_location=device, weights_only=True)
        module.load_state_dict(state, strict=True)
    except Exception as e:  # torch raises many kinds on bad files; all mean the same here
        raise ModelError(f"weights.pt: cannot be loaded into a {arch} model ({type(e).__name__}: {e})") from None
    module.to(device).eval()
    model = TrainedModel(arch, config, module, spec_hash, doc.get("task", ""), doc.get("random_state", 0),
                         doc.get("history", []), doc.get("settings", {}), certificate, doc.get("seconds", 0.0))
    if task is not None:
        model._check_task(task)
        if recheck and model.certified:
            _recheck_certificate(model, task)
    return model


def _check_certificate(c: Certificate) -> None:
    """The certificate's verdict must follow from its own figures."""
    try:
        passed = bool(float(c.r2_random) >= R2_THRESHOLD and float(c.share_error) <= SHARE_TOLERANCE)
    except (TypeError, ValueError) as e:
        raise ModelError(f"config.json: certificate has non-numeric figures ({e})") from None
    if c.shapley_method not in (None, *SHAPLEY_METHODS):
        raise ModelError(f"config.json: certificate shapley_method must be null or one of {SHAPLEY_METHODS}, "
                         f"got {c.shapley_method!r}")
    for name in ("instance_share_error", "shapley_error"):  # reported figures: only their shape is checked
        d = getattr(c, name)
        if d is not None and not (isinstance(d, dict) and set(d) == set(QUANTILES)
                                  and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in d.values())):
            raise ModelError(f"config.json: certificate {name} must be null or {{median, p90, max}} numbers, got {d!r}")
    if bool(c.passed) != passed or not isinstance(c.passed, bool):
        raise ModelError(f"config.json: certificate says passed={c.passed!r} but its r2_random {c.r2_random!r} and "
                         f"share_error {c.share_error!r} give passed={passed} (the certificate was altered)")


def _recheck_certificate(model: TrainedModel, task: Task) -> float:
    """Re-measure R² under random coalitions on a few held-out instances; ModelError if far below the claim."""
    cert = model.certificate
    assert cert is not None
    plan = task.plan
    rows = task.split_indices("test")
    if len(rows) == 0:
        rows = task.split_indices("val")
    rows = rows[:min(RECHECK_INSTANCES, max(int(cert.instances), 1))]
    if len(rows) < 8:
        return float("nan")  # too few held-out instances to say anything
    rep = np.repeat(rows, 8)
    coal = keep_rate_coalitions(np.random.default_rng([model.random_state, 11]), len(rep), task.n_players)
    masked = plan.mask({k: v[rep] for k, v in task.inputs.items()}, coal)
    r2 = r2_score(model.predict(masked), plan.f_star(plan.decode(masked)))
    if not r2 >= float(cert.r2_random) - RECHECK_SLACK:
        raise ModelError(f"config.json: certificate claims R² {float(cert.r2_random):.4f} under random coalitions, "
                         f"but the model scores {r2:.4f} on {len(rows)} held-out instances of {task.spec.name!r} "
                         "(the certificate was forged, or belongs to other weights)")
    return r2


def _modalities_of(doc: Mapping[str, Any]):
    from mxbench.spec import ModalitySpec

    try:
        return tuple(ModalitySpec.from_dict(m, f"modalities[{k}]") for k, m in enumerate(doc["modalities"]))
    except (KeyError, TypeError, MxbenchError) as e:
        raise ModelError(f"config.json: modalities are missing or malformed ({e})") from None


class ModelGame(InputGame):
    """A trained model's game on one instance (see :meth:`TrainedModel.game`).

    An :class:`~mxbench.task.InputGame` of the instance's inputs and the model: each batch of
    at most ``batch_size`` coalitions is masked and goes through the model in one forward pass.

    Examples
    --------
    >>> import mxbench, numpy as np
    >>> from mxbench.models import train
    >>> task = mxbench.generate("smoke", instances=300)[0]
    >>> game = train(task, "fusion_mlp", epochs=1, certify=False).game(task, 1)
    >>> game(np.zeros((3, game.n_players), bool)).shape
    (3,)
    """

    def __init__(self, model: TrainedModel, task: Task, instance: int, batch_size: int = 4096) -> None:
        super().__init__(task, {k: v[instance] for k, v in task.inputs.items()}, model, batch_size)
        self.instance = instance
