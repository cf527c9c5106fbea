"""Exact ground truth: the sparse Möbius oracle and the brute-force enumeration reference."""

from mxbench.oracles.bruteforce import (
    all_coalitions,
    banzhaf_values,
    bii_matrix,
    enumerate_game,
    ksii_first_order,
    moebius_transform,
    shapley_values,
    sii_matrix,
    stii_first_order,
    stii_matrix,
)
from mxbench.oracles.moebius import INDICES, MoebiusGame, moebius_from_table, table_from_moebius

__all__ = [
    "INDICES", "MoebiusGame", "moebius_from_table", "table_from_moebius", "all_coalitions", "enumerate_game",
    "shapley_values", "banzhaf_values", "sii_matrix", "bii_matrix", "stii_matrix", "stii_first_order",
    "ksii_first_order", "moebius_transform",
]
