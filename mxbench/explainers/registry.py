"""Explainers by name: the registry that results and the runner use, each class imported on first use.

:func:`get_explainer` builds an explainer from any *spec name*, and :func:`explainer_spec` turns
whatever a user gives the runner into a spec that worker processes can rebuild:

- a registry name (``"kernelshap"``, a key of :data:`EXPLAINERS`);
- an adapter name, ``shap:<explainer class>`` (``shap:KernelExplainer``,
  ``shap:PermutationExplainer``, ``shap:ExactExplainer``), ``shapiq:<approximator class>``
  (``shapiq:KernelSHAPIQ``, ``shapiq:SVARM``, ... any class of ``shapiq.approximator``, and
  ``shapiq:ExactComputer``, ``shapiq:AgnosticExplainer``, ``shapiq:TabularExplainer``) or
  ``captum:<attribution class>`` (``captum:IntegratedGradients``, ...;
  :data:`mxbench.explainers.adapters.ADAPTERS`);
- an import path ``package.module:Name`` of an explainer class, of a class with ``explain(game)``,
  of a function of the game (wrapped by :func:`~mxbench.explainers.wrap.as_explainer`) or of an
  explainer object.

Any of them may carry its parameters as a JSON object right after the name:
``'mypkg.mod:MyExplainer{"budget": 64}'``. A spec is ``(name, params)``: a string and a dict, so
it pickles to any worker process, which imports and builds the explainer itself.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import MutableMapping
from typing import Any, Iterator, Mapping


class ExplainerRegistry(MutableMapping):
    """A mapping of explainer names to classes, each class imported from its module when first looked up.

    An entry is a class or a ``"module:Class"`` string; looking a name up imports the module and
    returns the class, so names can be listed and checked without importing any explainer (the
    white-box ones import torch). Setting an entry to a class registers it.

    Examples
    --------
    >>> registry = ExplainerRegistry({"exact": "mxbench.explainers.exact:Exact"})
    >>> list(registry), registry["exact"].__name__
    (['exact'], 'Exact')
    >>> registry["mine"] = int
    >>> sorted(registry)
    ['exact', 'mine']
    """

    def __init__(self, entries: dict[str, Any] | None = None) -> None:
        self._entries: dict[str, Any] = dict(entries or {})

    def __getitem__(self, name: str) -> type:
        entry = self._entries[name]
        if isinstance(entry, str):
            module, _, attr = entry.partition(":")
            entry = self._entries[name] = getattr(importlib.import_module(module), attr)
        return entry

    def __setitem__(self, name: str, cls: Any) -> None:
        self._entries[name] = cls

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries  # without importing the class

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(self._entries)})"

    def entry(self, name: str) -> Any:
        """The entry of ``name`` as registered: a ``"module:Class"`` string or a class (nothing imported).

        Examples
        --------
        >>> ExplainerRegistry({"exact": "mxbench.explainers.exact:Exact"}).entry("exact")
        'mxbench.explainers.exact:Exact'
        """
        return self._entries[name]


#: Explainer name -> class (``sii-probe`` and ``redundancy-gap`` are the FL-I2MoE probes; results
#: name a :class:`~mxbench.explainers.unimodal.Unimodal` explainer ``"unimodal-<base>"``).
EXPLAINERS = ExplainerRegistry({
    "exact": "mxbench.explainers.exact:Exact",
    "lemon": "mxbench.explainers.lemon:LEMON",
    "lime": "mxbench.explainers.lime:LIME",
    "kernelshap": "mxbench.explainers.kernelshap:KernelSHAP",
    "permutation": "mxbench.explainers.permutation:PermutationShapley",
    "mmshap": "mxbench.explainers.permutation:MMSHAP",
    "occlusion": "mxbench.explainers.occlusion:Occlusion",
    "sii-probe": "mxbench.explainers.interactions:SIIProbe",
    "redundancy-gap": "mxbench.explainers.interactions:RedundancyGap",
    "sparse-moebius": "mxbench.explainers.support:SparseMoebius",
    "integrated_gradients": "mxbench.explainers.whitebox.gradients:IntegratedGradients",
    "attention_rollout": "mxbench.explainers.whitebox.attention:AttentionRollout",
    "attention_grad": "mxbench.explainers.whitebox.attention:AttentionGrad",
    "expert_maps": "mxbench.explainers.whitebox.experts:ExpertMaps",
    "unimodal": "mxbench.explainers.unimodal:Unimodal",
})



#: The registry as the package defines it (name -> ``"module:Class"``): every process knows these
#: names. A name registered at run time (``EXPLAINERS["mine"] = Mine``) is unknown to a fresh worker
#: process, so :func:`explainer_spec` passes it on as its class's import path.
BUILTIN: dict[str, str] = {name: EXPLAINERS.entry(name) for name in EXPLAINERS}


def _is_adapter_name(name: str) -> bool:
    from mxbench.explainers.adapters import LIBRARIES

    lib, sep, _ = name.partition(":")
    return bool(sep) and lib in LIBRARIES


def get_explainer(name: str, /, **params: Any) -> Any:
    """Build the explainer a spec name names, with ``params``.

    ``name`` is a registry name (:data:`EXPLAINERS`), an adapter name ``library:Method``
    (:func:`mxbench.explainers.adapters.make_adapter`; ``shap:``, ``shapiq:`` and ``captum:``
    name adapters) or an import path ``package.module:Name`` (a class, a function, an object:
    :func:`~mxbench.explainers.wrap.as_explainer`), optionally followed by parameters as a JSON
    object (``'kernelshap{"budget": 64}'``; ``params`` are added to them).

    Raises
    ------
    ExplainerError
        No explainer has that name, the import path does not import, the object is not an
        explainer, or a parameter its constructor does not take.

    Examples
    --------
    >>> get_explainer("kernelshap", budget=100)
    KernelSHAP(budget=100, paired=True, random_state=0)
    >>> get_explainer('shap:KernelExplainer{"budget": 64}')
    ShapExplainer(method='KernelExplainer', budget=64, interactions=False, random_state=0)
    >>> get_explainer("mxbench.testing.examples:exact_shapley").name
    'exact_shapley'
    """
    from mxbench.errors import ExplainerError
    from mxbench.explainers.wrap import as_explainer, import_path, parse_inline

    name, inline = parse_inline(name)
    params = {**inline, **params}
    if name in EXPLAINERS:
        return as_explainer(EXPLAINERS[name], **params)
    if _is_adapter_name(name):  # "shap:KernelExplainer", "shapiq:KernelSHAPIQ", "captum:Lime", ...
        from mxbench.explainers.adapters import ADAPTERS, ShapiqApproximator, make_adapter
        from mxbench.explainers.base import init_params

        cls, key = ADAPTERS.get(name, (ShapiqApproximator, "approximator"))
        for k in params:
            if k == key:
                raise ExplainerError(f"{k}: the adapter name {name} sets {k}; name another adapter instead")
            if k not in init_params(cls):
                raise ExplainerError(f"{k}: {cls.__name__} takes no parameter {k!r} (it takes "
                                     f"{', '.join(p for p in init_params(cls) if p != key)})")
        return make_adapter(name, **params)
    if ":" in name:
        return as_explainer(import_path(name), **params)
    raise ExplainerError(f"explainer: unknown explainer {name!r} (choose from {', '.join(EXPLAINERS)}; an adapter "
                         f"shap:<explainer>, shapiq:<approximator> or captum:<method>; or an import path "
                         f"package.module:Name)")


def _portable(name: str) -> str:
    """A name every process can resolve: a built-in registry name as it is, a name registered at run
    time as the import path of its class."""
    from mxbench.explainers.wrap import path_of

    if name not in EXPLAINERS:
        return name
    entry = EXPLAINERS.entry(name)
    path = entry if isinstance(entry, str) else f"{entry.__module__}:{entry.__qualname__}"
    if BUILTIN.get(name) == path:
        return name
    return path if isinstance(entry, str) else path_of(entry)


def _object_spec(obj: Any) -> tuple[str, dict[str, Any]]:
    """The spec of an explainer object, an explainer class, a function or an object with ``explain``."""
    from mxbench.explainers.adapters import ADAPTERS
    from mxbench.explainers.wrap import FunctionExplainer, _has_explain, _is_mxbench_explainer, path_of

    if isinstance(obj, type):
        return _class_name(obj), {}
    if not _is_mxbench_explainer(obj):
        if _has_explain(obj) or not hasattr(obj, "__qualname__"):  # a duck-typed object: sent by value
            path_of(type(obj))
            return path_of(FunctionExplainer), {"fn": obj}
        return path_of(obj), {}  # a function, by its import path
    params = dict(obj.get_params(deep=False))
    if isinstance(obj, FunctionExplainer):
        fn = params.pop("fn")
        if _has_explain(fn) or not hasattr(fn, "__qualname__"):
            path_of(type(fn))
            return path_of(FunctionExplainer), {"fn": fn, **params}
        return path_of(fn), params
    cls = type(obj)
    for adapter, key in {v for v in ADAPTERS.values()}:
        if cls is adapter and isinstance(params.get(key), str):  # "shap:KernelExplainer", ...
            return f"{obj.name}", {k: v for k, v in params.items() if k != key}
    return _class_name(cls), params


def _class_name(cls: type) -> str:
    """The registry name of a built-in explainer class, else the class's import path."""
    from mxbench.explainers.wrap import path_of

    path = path_of(cls)
    for name, entry in BUILTIN.items():
        if entry == path and _portable(name) == name:
            return name
    return path


def _check(name: str, params: Mapping[str, Any]) -> Any:
    """Build the explainer of a spec and check it as a worker process will use it."""
    import pickle

    from mxbench.errors import ExplainerError
    from mxbench.explainers.base import EXTRA, clone

    if _is_adapter_name(name):
        lib = name.partition(":")[0]
        for package in (lib, "torch") if lib == "captum" else (lib,):
            if importlib.util.find_spec(package) is None:
                raise ExplainerError(f"the adapter needs the package {package!r}, which is not installed; install "
                                     f"it with pip install \"mxbench[{EXTRA}]\" (or pip install {package})")
    explainer = get_explainer(name, **params)
    if not callable(getattr(explainer, "explain", None)):  # pragma: no cover - as_explainer refuses these
        raise ExplainerError(f"{type(explainer).__name__} is not an explainer (it has no explain method)")
    try:
        clone(explainer)
    except Exception as e:  # noqa: BLE001 - any failure means get_params() does not rebuild it
        raise ExplainerError(f"{type(explainer).__name__}(**get_params()) fails ({type(e).__name__}: {e}); the "
                             f"constructor must store each parameter under its own name") from None
    try:
        pickle.dumps((name, dict(params)))
    except Exception as e:  # noqa: BLE001
        raise ExplainerError(f"its parameters cannot be sent to worker processes ({type(e).__name__}: {e})") from None
    return explainer


def explainer_spec(item: Any) -> tuple[str, dict[str, Any]]:
    """The spec ``(name, params)`` of an explainer as the runner takes it, checked before anything runs.

    The spec pickles to any worker process, which builds the explainer with
    :func:`get_explainer`: nothing is looked up in a registry that only this process holds.

    Parameters
    ----------
    item : str, (str, dict), Explainer, class or function
        - a spec name (see :func:`get_explainer`), optionally with JSON parameters:
          ``"kernelshap"``, ``"shap:KernelExplainer"``, ``'mypkg.mod:MyExplainer{"budget": 64}'``;
        - a pair ``(name, params)``;
        - an explainer instance: its class's import path (its registry or adapter name where it has
          one) and its ``get_params(deep=False)``; a :class:`~mxbench.explainers.wrap.FunctionExplainer`
          gives its function's import path and its options;
        - an explainer class, a function of the game or an object with ``explain(game)``.

        A class or function must be defined at module level in an importable module; one defined
        in ``__main__`` (a script, a notebook) or inside a function is refused, since worker
        processes import it by its path (an object with ``explain`` is sent as it is, its class
        imported by path).

    Returns
    -------
    tuple
        ``(name, params)``.

    Raises
    ------
    ExplainerError
        One line naming the explainer and the reason: an unknown name, a path that does not
        import, an object that is not an explainer, parameters that are not JSON or that the
        constructor does not take, an adapter whose package is not installed, a class worker
        processes cannot import.

    Examples
    --------
    >>> from mxbench.errors import ExplainerError
    >>> from mxbench.explainers import KernelSHAP
    >>> from mxbench.explainers.adapters import ShapiqApproximator
    >>> explainer_spec('lemon{"budget": 64}')
    ('lemon', {'budget': 64})
    >>> explainer_spec(KernelSHAP(budget=32))
    ('kernelshap', {'budget': 32, 'paired': True, 'random_state': 0})
    >>> explainer_spec(ShapiqApproximator("KernelSHAPIQ", budget=32))[0]
    'shapiq:KernelSHAPIQ'
    >>> explainer_spec("mxbench.testing.examples:exact_shapley")
    ('mxbench.testing.examples:exact_shapley', {})
    >>> try:
    ...     explainer_spec('kernelshap{"budjet": 64}')
    ... except ExplainerError as e:
    ...     print(e)
    kernelshap{"budjet": 64}: budjet: KernelSHAP takes no parameter 'budjet' (it takes budget, paired, random_state)
    """
    from mxbench.errors import ExplainerError
    from mxbench.explainers.wrap import _has_explain, parse_inline

    if isinstance(item, str):
        shown = item.strip()
    elif isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str):
        shown = item[0].strip()
    else:
        shown = getattr(item, "__qualname__", None) or type(item).__name__
    try:
        if isinstance(item, str):
            name, params = parse_inline(item)
        elif isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str):
            if not isinstance(item[1], Mapping):
                raise ExplainerError(f"expected (name, params) with params a dict, got {item[1]!r}")
            name, inline = parse_inline(item[0])
            params = {**inline, **dict(item[1])}
        elif isinstance(item, type) or callable(item) or _has_explain(item):
            name, params = _object_spec(item)
        else:
            raise ExplainerError(f"expected an explainer name, a (name, params) pair, an explainer, a class or a "
                                 f"function, got {item!r:.60}")
        name = _portable(name)
        _check(name, params)
    except ExplainerError as e:
        text = str(e)
        if text.startswith("explainer: unknown explainer"):  # the message names it already
            raise ExplainerError(text.partition(": ")[2]) from None
        raise ExplainerError(text if text.startswith(f"{shown} ") else f"{shown}: {text}") from None
    return name, params


def spec_class(name: str) -> Any:
    """What a spec name resolves to before parameters: a registry class, an adapter class, or the
    object at an import path (a class, a function, an explainer object).

    Examples
    --------
    >>> spec_class("kernelshap").__name__, spec_class("captum:Lime").__name__
    ('KernelSHAP', 'CaptumExplainer')
    """
    from mxbench.explainers.wrap import import_path, parse_inline

    name = parse_inline(name)[0]
    if name in EXPLAINERS:
        return EXPLAINERS[name]
    if _is_adapter_name(name):
        from mxbench.explainers.adapters import ADAPTERS, ShapiqApproximator

        return ADAPTERS[name][0] if name in ADAPTERS else ShapiqApproximator
    return import_path(name)
