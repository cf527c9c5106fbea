"""Small models that solve planted tasks, trained under masking and certified against the planted game."""

from mxbench.models.base import PlayerTokens, TaskModel, mask_modality
from mxbench.models.common import ARCHITECTURES, ModelError, architecture, build, resolve_config
from mxbench.models.train import sample_coalitions, train
from mxbench.models.trained import Certificate, ModelGame, TrainedModel, load
from mxbench.models.exact import EXACT, ExactModel, ExactModule, exact_model

__all__ = ["TaskModel", "PlayerTokens", "mask_modality", "ModelError", "ARCHITECTURES", "architecture", "build",
           "resolve_config", "sample_coalitions", "train", "Certificate", "ModelGame", "TrainedModel", "load",
           "EXACT", "ExactModel", "ExactModule", "exact_model"]
