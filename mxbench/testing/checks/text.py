"""How the checks write numbers, arrays, planted terms and errors into their messages."""

from __future__ import annotations

from typing import Any

import numpy as np


def _fmt(x: float) -> str:
    return f"{float(x):.4g}"


def _fmt_array(a: Any) -> str:
    return "[" + ", ".join(_fmt(x) for x in np.asarray(a, dtype=np.float64).ravel()) + "]"


def _term_formula(term: Any) -> str:
    p = [f"s[{name}]" for name in term.players]
    if term.kind == "unique":
        body = {"identity": p[0], "tanh": f"tanh({p[0]})", "step": f"1[{p[0]} > 0]"}[term.op]
    elif term.kind == "synergy":
        body = {"product": "*".join(p), "xor": "xor(" + ", ".join(f"{x} > 0" for x in p) + ")",
                "and": "*".join(f"1[{x} > 0]" for x in p)}[term.op]
    else:
        body = "maxmag(" + ", ".join(p) + ")"
    return f"{term.weight:g}*{body}"


def _error_text(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"
