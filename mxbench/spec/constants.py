"""The fixed vocabulary of a task spec: kinds, functions, reserved ids and names, size caps, random streams."""

from __future__ import annotations

KINDS = ("tabular", "image", "text")
TARGETS = ("regression", "classification")
UNIQUE_FNS = ("identity", "tanh", "step")
SYNERGY_OPS = ("product", "xor", "and")
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
