"""The fixed vocabulary of a task spec: kinds, functions, reserved ids and names, size caps, random streams."""

from __future__ import annotations

KINDS = ("tabular", "image", "text")
TARGETS = ("regression", "classification")
UNIQUE_FNS = ("identity", "tanh", "step")
SYNERGY_OPS = ("product", "xor", "and")
#: The term functions that are differentiable in their latents (a unique term's ``fn``, a
#: synergy term's ``op``); ``step``, ``xor``, ``and`` and redundancy's ``max-magnitude`` are
#: not (gradients there are zero or select one branch: :mod:`mxbench.models.exact`).
SMOOTH_OPS = ("identity", "tanh", "product")
PLACEMENTS = ("any", "within", "cross")
MAX_MODALITIES = 8
MAX_TERM_PLAYERS = {"unique": (1, 1), "synergy": (2, 3), "redundancy": (2, 4)}
#: The text vocabulary's reserved ids: 0 is ``[MASK]``, 1..N_NEUTRAL are neutral tokens.
MASK_ID = 0
N_NEUTRAL = 3
MIN_VALUE_TOKENS = 4
#: Names a modality cannot take: they are columns of the instances table.
RESERVED_NAMES = ("instance_id", "split", "target", "f")
#: The most characters a name (the task's or a modality's) may have.
MAX_NAME_LENGTH = 100
#: Size caps, so that a spec cannot ask for absurd memory: players in all, instances, values
#: of one instance's raw input summed over modalities (features + channels * size * size +
#: length), text vocabulary size and image channels.
MAX_PLAYERS = 4096
MAX_INSTANCES = 100_000_000
MAX_INPUT_VALUES = 16384
MAX_VOCAB = 1_000_000
MAX_CHANNELS = 16
#: Caps on the counts a spec lists, derived from memory. The writer works in blocks of 4096
#: instances (``mxbench.task.BLOCK``); at the caps above, one block's raw inputs are at most
#: 4096 x 16384 float64 (512 MiB) and its attributions table 4096 x 4096 rows (one per instance
#: and player). The caps below keep every other per-block table at or below those sizes:
#:
#: - ``MAX_PAIRS``: explicit ``pairs``. Each pair is one row per instance in the pairs table (and
#:   one SII column in the oracle), so at 4096 pairs that table has as many rows as the
#:   attributions table at the player cap. Without a cap a 1 MB spec (~50,000 pairs) asked for
#:   more than 3 GiB.
#: - ``MAX_TERMS``: explicit ``terms`` and each ``random_terms`` count. A player is read by at most
#:   one term, so a valid spec never has more terms than players; the cap refuses a longer list
#:   before parsing it.
MAX_PAIRS = 4096
MAX_TERMS = 4096
#: The largest spec file read (1 MiB): a spec within every cap above is far smaller; a file
#: is read at most this many bytes + 1, so ``/dev/zero`` or a huge file is refused, not read.
MAX_SPEC_BYTES = 1 << 20
#: The largest seed (a 64-bit unsigned integer; a much longer one could not even be hashed).
MAX_SEED = 2**64 - 1
#: The largest absolute value of a term weight, the intercept and the noise levels: larger ones
#: make the generated data overflow to inf or NaN.
MAX_MAGNITUDE = 1e6
#: The smallest absolute value of a term weight.
MIN_WEIGHT = 1e-9
#: The smallest ``random_terms.weight`` low: drawn weights are rounded to 6 decimals.
MIN_RANDOM_WEIGHT = 1e-3
#: Independent random streams derived from the spec's seed.
STREAM_TERMS, STREAM_CODEBOOK, STREAM_CALIBRATION, STREAM_DATA = 1, 2, 3, 4
