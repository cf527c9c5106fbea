"""Exact ground truth: the exact engine and the brute-force enumeration reference.

The engine (:mod:`mxbench.oracles.moebius`) holds the Möbius transforms and every index, on dense
tables and on sparse Möbius games; :mod:`mxbench.oracles.bruteforce` computes them by definition.
"""

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
from mxbench.oracles.moebius import (
    INDICES,
    MoebiusGame,
    bit_matrix,
    coalition_index,
    first_order_from_moebius,
    indices_from_values,
    interaction_matrix_from_moebius,
    modality_table,
    moebius_from_table,
    superset_sums,
    table_from_moebius,
)

__all__ = [
    "INDICES", "MoebiusGame", "moebius_from_table", "table_from_moebius", "superset_sums", "first_order_from_moebius",
    "interaction_matrix_from_moebius", "indices_from_values", "modality_table", "bit_matrix", "coalition_index",
    "all_coalitions", "enumerate_game", "shapley_values", "banzhaf_values", "sii_matrix", "bii_matrix", "stii_matrix",
    "stii_first_order", "ksii_first_order", "moebius_transform",
]
