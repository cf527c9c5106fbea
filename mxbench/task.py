"""Tasks: a spec's planted function, its renderers and generated instances, and each instance's game."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Iterator, Mapping

import numpy as np
import pandas as pd

from mxbench import exactmath

from mxbench.errors import GameError, SpecError
from mxbench.games import Game
from mxbench.generators import Renderer, make_renderer
from mxbench.oracles.moebius import MoebiusGame, coalition_index
from mxbench.spec import STREAM_CALIBRATION, STREAM_DATA, TaskSpec, Term

#: Instances are drawn in blocks of this size, each from its own random stream, so the first
#: N instances of a task are the same whatever the total count.
BLOCK = 4096
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Block:
    """A run of consecutive generated instances.

    Attributes
    ----------
    start : int
        The number of the block's first instance.
    inputs : dict of str to ndarray
        The raw inputs of each modality, ``(m, *shape)``.
    latents : ndarray
        The decoded latents, ``(m, n_players)``.
    f : ndarray
        The planted function on each instance, ``(m,)``.
    target : ndarray
        The regression target or the 0/1 label, ``(m,)``.
    split : ndarray of int8
        0 = train, 1 = val, 2 = test, ``(m,)``.

    Examples
    --------
    >>> from mxbench.spec import TaskSpec
    >>> spec = TaskSpec.from_dict({"name": "t", "instances": 6, "modalities": [
    ...     {"name": "a", "kind": "tabular", "features": 3}],
    ...     "terms": [{"kind": "unique", "players": ["a:0"]}]})
    >>> block = next(TaskPlan.from_spec(spec).blocks())
    >>> block.start, len(block), block.latents.shape, sorted(block.inputs)
    (0, 6, (6, 3), ['a'])
    """

    start: int
    inputs: dict[str, np.ndarray]
    latents: np.ndarray
    f: np.ndarray
    target: np.ndarray
    split: np.ndarray

    def __len__(self) -> int:
        return len(self.f)


class TaskPlan:
    """Everything about a task but its instances: resolved terms, renderers, decoders, f*.

    Build one with :meth:`from_spec`. It decodes raw inputs, masks them by the one masking
    rule, evaluates the planted function and builds the exact oracle of any latents.

    Parameters
    ----------
    spec : TaskSpec
        The task's spec.
    terms : tuple of Term
        The resolved planted terms (explicit and drawn), with their final weights and ids.
    renderers : tuple of Renderer
        One renderer per modality, in spec order.
    shares : dict, optional
        ``{"requested": {...}, "achieved": {...}}`` modality shares, when the spec asks for them.

    Examples
    --------
    >>> from mxbench.spec import TaskSpec
    >>> spec = TaskSpec.from_dict({"name": "t", "modalities": [
    ...     {"name": "a", "kind": "tabular", "features": 2}],
    ...     "terms": [{"kind": "synergy", "players": ["a:0", "a:1"], "weight": 2.0}]})
    >>> plan = TaskPlan.from_spec(spec)
    >>> plan.f_star(np.array([[1.0, 3.0]])).tolist()
    [6.0]
    """

    def __init__(self, spec: TaskSpec, terms: tuple[Term, ...], renderers: tuple[Renderer, ...],
                 shares: dict[str, dict[str, float]] | None = None) -> None:
        self.spec = spec
        self.terms = terms
        self.renderers = renderers
        self.shares = shares

    @classmethod
    def from_spec(cls, spec: TaskSpec) -> "TaskPlan":
        """Draw the random terms and codebooks and meet the requested modality shares.

        Parameters
        ----------
        spec : TaskSpec
            The spec (deterministic in its seed).

        Returns
        -------
        TaskPlan

        Examples
        --------
        >>> from mxbench.spec import TaskSpec
        >>> spec = TaskSpec.from_dict({"name": "t", "instances": 6, "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 3}],
        ...     "terms": [{"kind": "synergy", "players": ["a:0", "a:1"], "weight": 2.0}],
        ...     "pairs": [["a:0", "a:2"]]})
        >>> plan = TaskPlan.from_spec(spec)
        >>> [t.players for t in plan.terms], plan.shares
        ([('a:0', 'a:1')], None)
        """
        terms = spec.planted_terms()
        renderers = tuple(make_renderer(m, spec.seed, k) for k, m in enumerate(spec.modalities))
        plan = cls(spec, terms, renderers)
        if spec.shares is not None:
            plan = plan._meet_shares()
        return plan

    @classmethod
    def from_stored(cls, spec: TaskSpec, terms: list[dict[str, Any]], codebooks: Mapping[str, Any],
                    shares: dict | None = None) -> "TaskPlan":
        """Rebuild a plan from a dataset manifest's resolved terms and codebooks.

        Parameters
        ----------
        spec : TaskSpec
            The dataset's spec.
        terms : list of dict
            The resolved terms, in :meth:`Term.to_dict` form (``manifest["terms"]``).
        codebooks : dict
            Each modality's codebook by name (``manifest["codebooks"]``).
        shares : dict, optional
            The requested and achieved shares (``manifest["shares"]``).

        Returns
        -------
        TaskPlan

        Examples
        --------
        >>> from mxbench.spec import TaskSpec
        >>> spec = TaskSpec.from_dict({"name": "t", "instances": 6, "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 3}],
        ...     "terms": [{"kind": "synergy", "players": ["a:0", "a:1"], "weight": 2.0}],
        ...     "pairs": [["a:0", "a:2"]]})
        >>> plan = TaskPlan.from_spec(spec)
        >>> stored = TaskPlan.from_stored(spec, [t.to_dict() for t in plan.terms],
        ...                               {r.spec.name: r.codebook() for r in plan.renderers})
        >>> stored.terms == plan.terms
        True
        """
        from mxbench.spec import _parse_term

        from mxbench.errors import DatasetError

        parsed, owner = [], {}
        for k, d in enumerate(terms):
            term = _parse_term(d, f"terms[{k}]")
            parsed.append(replace(term, ids=tuple(spec.player_id(p) for p in term.players)))
            for name in term.players:
                if name in owner:
                    raise DatasetError(f"terms[{k}]: player {name!r} is already read by terms[{owner[name]}]")
                owner[name] = k
        renderers = tuple(make_renderer(m, spec.seed, k, codebooks[m.name]) for k, m in enumerate(spec.modalities))
        return cls(spec, tuple(parsed), renderers, shares)

    # ------------------------------------------------------------------ players
    @property
    def n_players(self) -> int:
        """The number of players.

        Returns
        -------
        int

        Examples
        --------
        >>> from mxbench.spec import TaskSpec
        >>> spec = TaskSpec.from_dict({"name": "t", "instances": 6, "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 3}],
        ...     "terms": [{"kind": "synergy", "players": ["a:0", "a:1"], "weight": 2.0}],
        ...     "pairs": [["a:0", "a:2"]]})
        >>> plan = TaskPlan.from_spec(spec)
        >>> plan.n_players
        3
        """
        return self.spec.n_players

    @property
    def modality_of(self) -> np.ndarray:
        """The modality number of each player.

        Returns
        -------
        ndarray of int
            Shape ``(n_players,)``.

        Examples
        --------
        >>> from mxbench.spec import TaskSpec
        >>> spec = TaskSpec.from_dict({"name": "t", "instances": 6, "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 3}],
        ...     "terms": [{"kind": "synergy", "players": ["a:0", "a:1"], "weight": 2.0}],
        ...     "pairs": [["a:0", "a:2"]]})
        >>> plan = TaskPlan.from_spec(spec)
        >>> plan.modality_of.tolist()
        [0, 0, 0]
        """
        return self.spec.modality_of

    def _slices(self) -> Iterator[tuple[Renderer, slice]]:
        offsets = self.spec.offsets
        for k, r in enumerate(self.renderers):
            yield r, slice(offsets[k], offsets[k + 1])

    # ------------------------------------------------------------------ the planted function
    def decode(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """The latent value of every player, ``(N, n_players)``, from raw inputs.

        Parameters
        ----------
        inputs : dict of str to ndarray
            The raw inputs of each modality by name, ``(N, *shape)``.

        Returns
        -------
        ndarray of float64
            Shape ``(N, n_players)``.

        Examples
        --------
        >>> from mxbench.spec import TaskSpec
        >>> spec = TaskSpec.from_dict({"name": "t", "instances": 6, "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 3}],
        ...     "terms": [{"kind": "synergy", "players": ["a:0", "a:1"], "weight": 2.0}],
        ...     "pairs": [["a:0", "a:2"]]})
        >>> plan = TaskPlan.from_spec(spec)
        >>> import numpy as np
        >>> plan.decode({"a": np.array([[1.0, 3.0, 5.0]], dtype=np.float32)}).tolist()
        [[1.0, 3.0, 5.0]]
        """
        return np.concatenate([r.decode(inputs[r.spec.name]) for r, _ in self._slices()], axis=1)

    def mask(self, inputs: Mapping[str, np.ndarray], present: np.ndarray) -> dict[str, np.ndarray]:
        """Raw inputs with the players where ``present`` (N, n) is False set to the baseline.

        Parameters
        ----------
        inputs : dict of str to ndarray
            The raw inputs of each modality by name, ``(N, *shape)``.
        present : ndarray of bool
            Which players are present, ``(N, n_players)``.

        Returns
        -------
        dict of str to ndarray
            The masked inputs; ``inputs`` is not changed.

        Examples
        --------
        >>> from mxbench.spec import TaskSpec
        >>> spec = TaskSpec.from_dict({"name": "t", "instances": 6, "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 3}],
        ...     "terms": [{"kind": "synergy", "players": ["a:0", "a:1"], "weight": 2.0}],
        ...     "pairs": [["a:0", "a:2"]]})
        >>> plan = TaskPlan.from_spec(spec)
        >>> import numpy as np
        >>> raw = {"a": np.array([[1.0, 3.0, 5.0]], dtype=np.float32)}
        >>> plan.mask(raw, np.array([[True, False, True]]))["a"].tolist()
        [[1.0, 0.0, 5.0]]
        """
        return {r.spec.name: r.mask(inputs[r.spec.name], present[:, sl]) for r, sl in self._slices()}

    def f_star(self, latents: np.ndarray) -> np.ndarray:
        """The planted function of decoded latents ``(N, n)``: intercept + sum of terms.

        Parameters
        ----------
        latents : ndarray
            Decoded latents, ``(N, n_players)``.

        Returns
        -------
        ndarray of float64
            ``f*`` of each row, ``(N,)``.

        Examples
        --------
        >>> from mxbench.spec import TaskSpec
        >>> spec = TaskSpec.from_dict({"name": "t", "instances": 6, "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 3}],
        ...     "terms": [{"kind": "synergy", "players": ["a:0", "a:1"], "weight": 2.0}],
        ...     "pairs": [["a:0", "a:2"]]})
        >>> plan = TaskPlan.from_spec(spec)
        >>> import numpy as np
        >>> plan.f_star(np.array([[1.0, 3.0, 5.0], [1.0, 0.0, 5.0]])).tolist()
        [6.0, 0.0]
        """
        out = np.full(latents.shape[0], self.spec.intercept)
        for t in self.terms:
            out = out + t.evaluate(latents[:, list(t.ids)])
        return out

    def oracle(self, latents: np.ndarray) -> MoebiusGame:
        """The exact sparse Möbius game of every instance with these latents.

        Parameters
        ----------
        latents : ndarray
            Decoded latents, ``(N, n_players)``.

        Returns
        -------
        MoebiusGame
            One instance per row of ``latents``.

        Examples
        --------
        >>> from mxbench.spec import TaskSpec
        >>> spec = TaskSpec.from_dict({"name": "t", "instances": 6, "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 3}],
        ...     "terms": [{"kind": "synergy", "players": ["a:0", "a:1"], "weight": 2.0}],
        ...     "pairs": [["a:0", "a:2"]]})
        >>> plan = TaskPlan.from_spec(spec)
        >>> import numpy as np
        >>> plan.oracle(np.array([[1.0, 3.0, 5.0]])).shapley().tolist()
        [[3.0, 3.0, 0.0]]
        """
        return MoebiusGame(
            self.n_players, np.full(latents.shape[0], self.spec.intercept),
            [np.array(t.ids) for t in self.terms], [t.table(latents[:, list(t.ids)]) for t in self.terms],
            modality_of=self.modality_of, modality_names=self.spec.modality_names)

    # ------------------------------------------------------------------ drawing instances
    def _draw(self, rng: np.random.Generator, m: int, start: int = 0) -> Block:
        spec = self.spec
        z = rng.standard_normal((m, self.n_players))
        for t in self.terms:
            if t.kind == "redundancy":
                shared = z[:, t.ids[0]].copy()
                for i in t.ids:
                    z[:, i] = shared + t.spread * rng.standard_normal(m)
        inputs = {r.spec.name: r.render(z[:, sl], rng) for r, sl in self._slices()}
        latents = self.decode(inputs)
        f = self.f_star(latents)
        eps = rng.standard_normal(m)
        if spec.target == "regression":
            target = f + spec.noise * eps
        else:
            logit = np.clip(f + spec.noise * eps, -500, 500)
            target = (rng.random(m) < 1.0 / (1.0 + exactmath.exp(-logit))).astype(np.int64)
        cuts = np.cumsum(spec.splits)[:-1]
        split = np.searchsorted(cuts, rng.random(m), side="right").astype(np.int8)
        return Block(start, inputs, latents, f, target, split)

    def blocks(self, n_instances: int | None = None, *, start: int = 0) -> Iterator[Block]:
        """Generate the task's instances block by block (deterministic in the seed).

        Block ``b`` holds instances ``b * BLOCK`` to ``(b + 1) * BLOCK - 1``, drawn whole from its own
        random stream and then cut, so any range of instances is the same whatever the range
        around it: ``start`` generates only the instances ``start..n_instances-1`` (the blocks
        that hold them, the first one cut at ``start``), which a shard of a dataset uses.

        Parameters
        ----------
        n_instances : int, optional
            Generate instances up to this count, exclusive (default: ``spec.instances``).
        start : int
            The first instance to generate (default 0).

        Yields
        ------
        Block
            Blocks of at most ``BLOCK`` instances, in order; ``block.start`` is the number of its
            first instance.

        Examples
        --------
        >>> from mxbench.spec import TaskSpec
        >>> spec = TaskSpec.from_dict({"name": "t", "instances": 5, "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 2}],
        ...     "terms": [{"kind": "unique", "players": ["a:0"]}]})
        >>> plan = TaskPlan.from_spec(spec)
        >>> [len(b) for b in plan.blocks()]
        [5]
        >>> tail = next(plan.blocks(start=3))
        >>> tail.start, len(tail), bool((tail.f == next(plan.blocks()).f[3:]).all())
        (3, 2, True)
        """
        n = self.spec.instances if n_instances is None else n_instances
        start = max(start, 0)
        if start >= n:
            return
        for b in range(start // BLOCK, -(-n // BLOCK)):
            rng = np.random.default_rng([self.spec.seed, STREAM_DATA, b])
            full = self._draw(rng, BLOCK, b * BLOCK)
            lo, m = max(start - b * BLOCK, 0), min(BLOCK, n - b * BLOCK)
            yield Block(full.start + lo, {k: v[lo:m] for k, v in full.inputs.items()}, full.latents[lo:m],
                        full.f[lo:m], full.target[lo:m], full.split[lo:m])

    # ------------------------------------------------------------------ modality shares
    def _meet_shares(self) -> "TaskPlan":
        """Scale term weights so mean |modality Shapley| over a calibration sample meets the shares."""
        spec = self.spec
        names = spec.modality_names
        target = np.array([spec.shares[n] for n in names])  # type: ignore[index]
        touched = {int(self.modality_of[i]) for t in self.terms for i in t.ids}
        for k, name in enumerate(names):
            if target[k] > 0 and k not in touched:
                raise SpecError(f"shares.{name}", f"is {target[k]} but no term reads modality {name!r}")
            if target[k] == 0 and k in touched:
                raise SpecError(f"shares.{name}", f"is 0 but a term reads modality {name!r} (weights cannot be 0)")
        latents = self._draw(np.random.default_rng([spec.seed, STREAM_CALIBRATION]), BLOCK).latents
        if not np.isfinite(latents).all():
            raise SpecError("shares", "cannot be calibrated: the calibration sample's latents are not all finite")
        per_term = np.stack([
            MoebiusGame(self.n_players, np.zeros(len(latents)), [np.array(t.ids)], [t.table(latents[:, list(t.ids)])],
                        modality_of=self.modality_of, modality_names=names).modality_shapley()
            for t in self.terms])  # (T, N, M)
        for j, t in enumerate(self.terms):
            if not np.isfinite(per_term[j]).all():
                raise SpecError("shares", f"cannot be calibrated: term {', '.join(t.players)} has non-finite "
                                "modality Shapley values on the calibration sample")
        reach = np.abs(per_term).mean(axis=1).sum(axis=0)  # (M,) what any scaling can give each modality
        for k, name in enumerate(names):
            if target[k] > 0 and not reach[k] > 0:
                raise SpecError(f"shares.{name}", f"is {target[k]} but the terms reading modality {name!r} are 0 "
                                "on every calibration instance, so no scaling of their weights gives it a share")
        term_mods = [sorted({int(self.modality_of[i]) for i in t.ids}) for t in self.terms]
        log_gamma = np.zeros(len(names))
        active = target > 0

        # Scalar logs and exps (math, not numpy's CPU-dependent SIMD loops) and an ordered sum
        # over terms (no BLAS) keep the final weights the same bits on every machine.
        def achieved(scale: list[float]) -> np.ndarray:
            phi = np.zeros(per_term.shape[1:])
            for a, contribution in zip(scale, per_term):
                phi += a * contribution
            phi = np.abs(phi).mean(axis=0)
            return phi / phi.sum()

        def scales(lg: np.ndarray) -> list[float]:
            return [math.exp(float(lg[ms].mean())) for ms in term_mods]

        def unreachable(got: np.ndarray) -> SpecError:
            """The error for shares the scaling cannot reach, naming the modality farthest off."""
            k = int(np.argmax(np.abs(got - target)))
            return SpecError(f"shares.{names[k]}", f"is {target[k]} but no scaling of the term weights reaches it "
                             "(the calibration diverged; last achieved "
                             + ", ".join(f"{n} {v:.3f}" for n, v in zip(names, got)) + ")")

        # Infeasible shares drive some log-scale without bound: scales overflow or vanish and the
        # shares turn 0/0. Stop at the first non-finite value and name the modality.
        with np.errstate(all="ignore"):
            best = achieved(scales(log_gamma))
            for _ in range(2000):
                try:
                    scale = scales(log_gamma)
                except OverflowError:
                    raise unreachable(best) from None
                got = achieved(scale)
                if not (np.isfinite(got).all() and all(0 < a < math.inf for a in scale)):
                    raise unreachable(best)
                best = got
                if np.max(np.abs(got - target)) < 1e-5:
                    break
                for k in np.flatnonzero(active):
                    log_gamma[k] += 0.5 * (math.log(target[k]) - math.log(max(float(got[k]), 1e-300)))
                log_gamma[active] -= log_gamma[active].mean()
            try:
                scale = scales(log_gamma)
            except OverflowError:
                raise unreachable(best) from None
            terms = tuple(replace(t, weight=float(np.round(t.weight * a, 9))) for t, a in zip(self.terms, scale))
            got = achieved(scale)
        if not (np.isfinite(got).all() and all(math.isfinite(t.weight) for t in terms)):
            raise unreachable(best)
        small = [t for t in terms if abs(t.weight) < 1e-6]
        if small or np.max(np.abs(got - target)) > 0.02:
            detail = (f"term {', '.join(small[0].players)} would need weight {small[0].weight!r}" if small else
                      "achieved " + ", ".join(f"{n} {v:.3f}" for n, v in zip(names, got)))
            raise SpecError("shares", f"cannot be met by scaling the term weights ({detail}); requested "
                            + ", ".join(f"{n} {v:.3f}" for n, v in zip(names, target)))
        shares = {"requested": {n: float(v) for n, v in zip(names, target)},
                  "achieved": {n: float(np.round(v, 6)) for n, v in zip(names, got)}}
        return TaskPlan(spec, terms, self.renderers, shares)

    # ------------------------------------------------------------------ description
    def players(self) -> pd.DataFrame:
        """One row per player: id, name, modality, index, role, term.

        ``role`` is the kind of the term that reads the player, or ``distractor``;
        ``term`` is that term's number, -1 for distractors.

        Returns
        -------
        pandas.DataFrame
            Columns ``player_id``, ``name``, ``modality``, ``index``, ``role`` and ``term_id``.

        Examples
        --------
        >>> from mxbench.spec import TaskSpec
        >>> spec = TaskSpec.from_dict({"name": "t", "instances": 6, "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 3}],
        ...     "terms": [{"kind": "synergy", "players": ["a:0", "a:1"], "weight": 2.0}],
        ...     "pairs": [["a:0", "a:2"]]})
        >>> plan = TaskPlan.from_spec(spec)
        >>> plan.players()["role"].tolist()
        ['synergy', 'synergy', 'distractor']
        """
        role = np.array(["distractor"] * self.n_players, dtype=object)
        term = np.full(self.n_players, -1, dtype=np.int64)
        for k, t in enumerate(self.terms):
            role[list(t.ids)] = t.kind
            term[list(t.ids)] = k
        names = self.spec.player_names
        mods = self.spec.modality_names
        return pd.DataFrame({
            "player_id": np.arange(self.n_players, dtype=np.int64),
            "name": names,
            "modality": [mods[k] for k in self.modality_of],
            "index": np.concatenate([np.arange(m.n_players) for m in self.spec.modalities]).astype(np.int64),
            "role": role.astype(str),
            "term_id": term,
        })

    def pairs(self) -> pd.DataFrame:
        """The pairs whose interactions are recorded: every pair inside a planted term, then asked pairs.

        Columns ``i``, ``j`` (player ids, ``i < j``), ``kind`` (``synergy``, ``redundancy`` or
        ``asked``) and ``term_id`` (-1 for asked pairs).

        Returns
        -------
        pandas.DataFrame
            One row per pair.

        Examples
        --------
        >>> from mxbench.spec import TaskSpec
        >>> spec = TaskSpec.from_dict({"name": "t", "instances": 6, "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 3}],
        ...     "terms": [{"kind": "synergy", "players": ["a:0", "a:1"], "weight": 2.0}],
        ...     "pairs": [["a:0", "a:2"]]})
        >>> plan = TaskPlan.from_spec(spec)
        >>> plan.pairs().values.tolist()
        [[0, 1, 'synergy', 0], [0, 2, 'asked', -1]]
        """
        rows = []
        for k, t in enumerate(self.terms):
            ids = sorted(t.ids)
            rows += [(a, b, t.kind, k) for x, a in enumerate(ids) for b in ids[x + 1:]]
        planted = {(a, b) for a, b, _, _ in rows}
        for p in self.spec.pairs:
            a, b = sorted((self.spec.player_id(p[0]), self.spec.player_id(p[1])))
            if (a, b) not in planted:
                planted.add((a, b))
                rows.append((a, b, "asked", -1))
        frame = pd.DataFrame(rows, columns=["i", "j", "kind", "term_id"])
        return frame.astype({"i": np.int64, "j": np.int64, "kind": str, "term_id": np.int64})


class Task:
    """A generated task: its plan and its instances in memory.

    Get one from :func:`mxbench.generate` or :func:`mxbench.load`. The properties ``spec``,
    ``terms``, ``shares``, ``n_players``, ``modality_of``, ``player_names`` and
    ``modality_names`` are those of the plan and its spec.

    Parameters
    ----------
    plan : TaskPlan
        The task's plan.
    inputs : dict of str to ndarray
        The raw inputs of each modality.
    target : ndarray
        The regression target or the 0/1 label of each instance.
    split : ndarray of int8
        The split of each instance.

    Attributes
    ----------
    spec : TaskSpec
        The spec it was generated from.
    terms : tuple of Term
        The planted terms with their final weights.
    inputs : dict of str to ndarray
        The raw inputs of each modality, ``(N, *shape)``: float32 columns and pixels, int32 tokens.
    target : ndarray
        The regression target or the 0/1 label.
    split : ndarray of int8
        0 = train, 1 = val, 2 = test (see ``SPLITS``).

    Examples
    --------
    >>> import mxbench
    >>> task = mxbench.generate({"name": "t", "instances": 10, "modalities": [
    ...     {"name": "a", "kind": "tabular", "features": 3}],
    ...     "terms": [{"kind": "unique", "players": ["a:0"], "weight": 2.0}]})
    >>> game = task.game(0)
    >>> bool(game([[True, False, False]])[0] == 2.0 * task.latents[0, 0])
    True
    >>> task
    Task('t', instances=10, players=3, terms=1, modalities=['a'])
    >>> task.spec.name, task.terms[0].kind, task.shares, task.n_players
    ('t', 'unique', None, 3)
    >>> task.modality_of.tolist(), task.player_names, task.modality_names
    ([0, 0, 0], ['a:0', 'a:1', 'a:2'], ('a',))
    """

    def __init__(self, plan: TaskPlan, inputs: dict[str, np.ndarray], target: np.ndarray, split: np.ndarray) -> None:
        self.plan = plan
        self.inputs = inputs
        self.target = target
        self.split = split

    # delegation to the plan
    spec = property(lambda self: self.plan.spec, doc="The task's spec.")
    terms = property(lambda self: self.plan.terms, doc="The planted terms with their final weights.")
    shares = property(lambda self: self.plan.shares, doc="Requested and achieved modality shares, or None.")
    n_players = property(lambda self: self.plan.n_players, doc="The number of players.")
    modality_of = property(lambda self: self.plan.modality_of, doc="The modality number of each player.")
    player_names = property(lambda self: self.spec.player_names, doc="Each player's name.")
    modality_names = property(lambda self: self.spec.modality_names, doc="The modality names.")

    @property
    def n_instances(self) -> int:
        """The number of instances.

        Returns
        -------
        int

        Examples
        --------
        >>> import mxbench
        >>> task = mxbench.generate({"name": "t", "instances": 6, "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 3}],
        ...     "terms": [{"kind": "synergy", "players": ["a:0", "a:1"], "weight": 2.0}],
        ...     "pairs": [["a:0", "a:2"]]})
        >>> task.n_instances, len(task)
        (6, 6)
        """
        return len(self.target)

    def __len__(self) -> int:
        return self.n_instances

    def __repr__(self) -> str:
        return (f"Task({self.spec.name!r}, instances={self.n_instances}, players={self.n_players}, "
                f"terms={len(self.terms)}, modalities={list(self.modality_names)})")

    @cached_property
    def latents(self) -> np.ndarray:
        """The decoded latent value of every player, ``(N, n_players)``.

        Returns
        -------
        ndarray of float64
            Computed once, then cached.

        Examples
        --------
        >>> import mxbench
        >>> task = mxbench.generate({"name": "t", "instances": 6, "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 3}],
        ...     "terms": [{"kind": "synergy", "players": ["a:0", "a:1"], "weight": 2.0}],
        ...     "pairs": [["a:0", "a:2"]]})
        >>> task.latents.shape
        (6, 3)
        """
        return self.plan.decode(self.inputs)

    @cached_property
    def f(self) -> np.ndarray:
        """The planted function's value on each unmasked instance (noise-free), ``(N,)``.

        Returns
        -------
        ndarray of float64
            Computed once, then cached.

        Examples
        --------
        >>> import mxbench
        >>> task = mxbench.generate({"name": "t", "instances": 6, "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 3}],
        ...     "terms": [{"kind": "synergy", "players": ["a:0", "a:1"], "weight": 2.0}],
        ...     "pairs": [["a:0", "a:2"]]})
        >>> import numpy as np
        >>> bool(np.allclose(task.f, 2.0 * task.latents[:, 0] * task.latents[:, 1]))
        True
        """
        return self.plan.f_star(self.latents)

    def oracle(self) -> MoebiusGame:
        """The exact oracle of all instances' planted games.

        Returns
        -------
        MoebiusGame
            One instance per task instance; computed once, then cached.

        Examples
        --------
        >>> import mxbench
        >>> task = mxbench.generate("smoke")[0]
        >>> task.oracle().shapley().shape == (task.n_instances, task.n_players)
        True
        """
        if "_oracle" not in self.__dict__:
            self.__dict__["_oracle"] = self.plan.oracle(self.latents)
        return self.__dict__["_oracle"]

    def game(self, i: int) -> "PlantedGame":
        """The planted game of instance ``i``: coalitions ``(B, n)`` -> values ``(B,)``.

        The game masks the instance's **rendered inputs** (absent players set to the
        baseline), decodes them and applies ``f*``: the same path a model sees.

        Parameters
        ----------
        i : int
            The instance number, ``0..n_instances-1``.

        Returns
        -------
        PlantedGame

        Raises
        ------
        IndexError
            ``i`` is not an instance number.

        Examples
        --------
        >>> import mxbench
        >>> task = mxbench.generate({"name": "t", "instances": 6, "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 3}],
        ...     "terms": [{"kind": "synergy", "players": ["a:0", "a:1"], "weight": 2.0}],
        ...     "pairs": [["a:0", "a:2"]]})
        >>> game = task.game(2)
        >>> game.instance, game.player_names
        (2, ['a:0', 'a:1', 'a:2'])
        """
        if not isinstance(i, (int, np.integer)) or not 0 <= i < self.n_instances:
            raise IndexError(f"instance: expected 0..{self.n_instances - 1}, got {i!r}")
        return PlantedGame(self, int(i))

    def players(self) -> pd.DataFrame:
        """One row per player (see :meth:`TaskPlan.players`).

        Returns
        -------
        pandas.DataFrame

        Examples
        --------
        >>> import mxbench
        >>> task = mxbench.generate({"name": "t", "instances": 6, "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 3}],
        ...     "terms": [{"kind": "synergy", "players": ["a:0", "a:1"], "weight": 2.0}],
        ...     "pairs": [["a:0", "a:2"]]})
        >>> task.players()["role"].tolist()
        ['synergy', 'synergy', 'distractor']
        """
        return self.plan.players()

    def pairs(self) -> pd.DataFrame:
        """The recorded pairs (see :meth:`TaskPlan.pairs`).

        Returns
        -------
        pandas.DataFrame

        Examples
        --------
        >>> import mxbench
        >>> task = mxbench.generate({"name": "t", "instances": 6, "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 3}],
        ...     "terms": [{"kind": "synergy", "players": ["a:0", "a:1"], "weight": 2.0}],
        ...     "pairs": [["a:0", "a:2"]]})
        >>> task.pairs()["kind"].tolist()
        ['synergy', 'asked']
        """
        return self.plan.pairs()

    def split_indices(self, name: str) -> np.ndarray:
        """The instance numbers of a split (``"train"``, ``"val"`` or ``"test"``).

        Parameters
        ----------
        name : {"train", "val", "test"}
            The split.

        Returns
        -------
        ndarray of int
            The instance numbers, increasing.

        Raises
        ------
        ValueError
            ``name`` is not a split.

        Examples
        --------
        >>> import mxbench
        >>> task = mxbench.generate("smoke")[0]
        >>> sum(len(task.split_indices(s)) for s in ("train", "val", "test")) == task.n_instances
        True
        """
        if name not in SPLITS:
            raise ValueError(f"split: expected one of {SPLITS}, got {name!r}")
        return np.flatnonzero(self.split == SPLITS.index(name))


class InputGame(Game):
    """The game of one set of raw inputs: absent players masked by the one rule, then a forward pass.

    ``v(S) = forward(mask(x, S))``: the inputs ``x`` with the players outside ``S`` set to
    their baseline (absent column = 0, zero patch, ``[MASK]`` token), evaluated in batches of
    at most ``batch_size`` coalitions. The forward pass is the planted function ``f*`` of the
    decoded masked inputs, or a model's prediction. The games of the project are all this
    class: :class:`PlantedGame` (``task.game(i)``: an instance's inputs and ``f*``),
    :class:`~mxbench.models.ModelGame` (``model.game(task, i)``: an instance's inputs and a
    trained model) and the games of perturbed inputs that unified stability explains.

    Parameters
    ----------
    task : Task
        The task (its plan masks and decodes).
    inputs : dict of str to ndarray
        One set of raw inputs per modality (no batch axis).
    model : TrainedModel, optional
        Anything with ``predict(inputs, batch_size) -> (B,)``; None = the planted function ``f*``.
    batch_size : int
        The most coalitions masked and evaluated at once.

    Examples
    --------
    >>> import numpy as np, mxbench
    >>> from mxbench.validation.truth import EXAMPLE_SPEC
    >>> task = mxbench.generate(EXAMPLE_SPEC)
    >>> g = InputGame(task, {k: v[2] for k, v in task.inputs.items()})
    >>> c = np.array([[True, False, True, True, False, True]])
    >>> bool(np.allclose(g(c), task.game(2)(c)))
    True
    >>> g.masked_inputs(c)["b"].tolist() == [[0.0, task.inputs["b"][2, 1]]]
    True
    """

    def __init__(self, task: Task, inputs: Mapping[str, np.ndarray], model: Any = None, batch_size: int = 4096) -> None:
        super().__init__(task.n_players, task.modality_of, task.modality_names, task.player_names, batch_size)
        self.task = task
        self.inputs = dict(inputs)
        self.model = model
        self.table: np.ndarray | None = None

    def with_table(self, values: np.ndarray) -> "InputGame":
        """The same game, read from its values on all ``2^n`` coalitions instead of forward passes.

        A copy with the same task, inputs, model and instance; queries are counted as before.
        The runner hands each unit on a model game of at most 20 players the table its model
        truth enumerated (:meth:`~mxbench.validation.truth.Truth.table`), so the explainers and
        the truth see the very same values and no forward pass is repeated.

        Parameters
        ----------
        values : array_like of float
            ``v(S)`` at index ``sum_i 2^i [i in S]``, shape ``(2^n,)``.

        Returns
        -------
        InputGame

        Raises
        ------
        GameError
            ``values`` does not have ``2^n`` entries.

        Examples
        --------
        >>> import numpy as np, mxbench
        >>> from mxbench.oracles.moebius import bit_matrix
        >>> from mxbench.validation.truth import EXAMPLE_SPEC
        >>> game = mxbench.generate(EXAMPLE_SPEC).game(0)
        >>> fast = game.with_table(game(bit_matrix(6)))
        >>> c = np.array([[True, False, True, True, False, True]])
        >>> bool(fast(c)[0] == game(c)[0]), fast.n_queries, fast.instance
        (True, 1, 0)
        """
        table = np.asarray(values, dtype=np.float64)
        if table.shape != (2**self.n_players,):
            raise GameError(f"values: expected {2 ** self.n_players} values (every coalition of {self.n_players} "
                            f"players), got shape {table.shape}")
        out = copy.copy(self)
        out.table, out.n_queries = table, 0
        return out

    def masked_inputs(self, coalitions: np.ndarray) -> dict[str, np.ndarray]:
        """The inputs masked by each coalition, per modality ``(B, *shape)``.

        Parameters
        ----------
        coalitions : ndarray of bool
            Shape ``(B, n_players)``.

        Returns
        -------
        dict of str to ndarray

        Examples
        --------
        >>> import numpy as np, mxbench
        >>> from mxbench.validation.truth import EXAMPLE_SPEC
        >>> game = mxbench.generate(EXAMPLE_SPEC).game(0)
        >>> game.masked_inputs(np.zeros((2, 6), bool))["a"].tolist()
        [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
        """
        b = coalitions.shape[0]
        raw = {k: np.broadcast_to(v, (b,) + v.shape) for k, v in self.inputs.items()}
        return self.task.plan.mask(raw, coalitions)

    def forward(self, masked: Mapping[str, np.ndarray]) -> np.ndarray:
        """The value of each masked input: the model's prediction, or ``f*`` of the decoded inputs.

        Parameters
        ----------
        masked : dict of str to ndarray
            Raw inputs per modality, ``(B, *shape)``.

        Returns
        -------
        ndarray of float64
            Shape ``(B,)``.

        Examples
        --------
        >>> import mxbench
        >>> from mxbench.validation.truth import EXAMPLE_SPEC
        >>> task = mxbench.generate(EXAMPLE_SPEC)
        >>> bool(task.game(0).forward({k: v[:3] for k, v in task.inputs.items()}).tolist() == task.f[:3].tolist())
        True
        """
        if self.model is not None:
            return np.asarray(self.model.predict(masked, batch_size=self.batch_size), dtype=np.float64)
        plan = self.task.plan
        return plan.f_star(plan.decode(masked))

    def _value(self, coalitions: np.ndarray) -> np.ndarray:
        if self.table is not None:
            return self.table[coalition_index(coalitions)]
        return self.forward(self.masked_inputs(coalitions))


class PlantedGame(InputGame):
    """The planted game of one instance, evaluated through the rendered inputs.

    An :class:`InputGame` of the instance's inputs and ``f*``.

    Parameters
    ----------
    task : Task
        The task.
    instance : int
        The instance number.

    Examples
    --------
    >>> import mxbench, numpy as np
    >>> task = mxbench.generate("smoke")[0]
    >>> game = task.game(3)
    >>> full = np.ones((1, game.n_players), dtype=bool)
    >>> bool(np.isclose(game(full)[0], task.f[3]))
    True
    """

    def __init__(self, task: Task, instance: int) -> None:
        super().__init__(task, {k: v[instance] for k, v in task.inputs.items()})
        self.instance = instance


def generate(spec: TaskSpec | Mapping[str, Any] | str, *, instances: int | None = None, seed: int | None = None):
    """Generate a task in memory from a spec (or every task of a suite, given its name).

    Parameters
    ----------
    spec : TaskSpec, dict or str
        A spec, a spec dict, or a suite name (``"smoke"``, ``"standard"``...).
    instances : int, optional
        Override the spec's instance count.
    seed : int, optional
        Override the spec's seed.

    Returns
    -------
    Task, or list of Task for a suite name.

    Examples
    --------
    >>> import mxbench
    >>> task = mxbench.generate({"name": "t", "instances": 50, "modalities": [
    ...     {"name": "a", "kind": "tabular", "features": 4}],
    ...     "random_terms": {"synergy": 1}})
    >>> task.n_instances, task.terms[0].kind
    (50, 'synergy')
    """
    if isinstance(spec, str):
        from mxbench.generators.suites import suite_specs

        return [generate(s, instances=instances, seed=seed) for s in suite_specs(spec)]
    if not isinstance(spec, TaskSpec):
        spec = TaskSpec.from_dict(spec)
    if instances is not None or seed is not None:
        spec = spec.with_overrides(seed=seed, instances=instances)
    plan = TaskPlan.from_spec(spec)
    blocks = list(plan.blocks())
    inputs = {k: np.concatenate([b.inputs[k] for b in blocks]) for k in blocks[0].inputs}
    task = Task(plan, inputs, np.concatenate([b.target for b in blocks]), np.concatenate([b.split for b in blocks]))
    task.__dict__["latents"] = np.concatenate([b.latents for b in blocks])
    return task
