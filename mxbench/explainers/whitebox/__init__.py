"""White-box explainers: integrated gradients, attention rollout, attention x gradient, FL-I2MoE expert maps.

A white-box explainer reads a trained model's insides, so it is called as
``explainer.explain(model, task, i)`` (a :class:`~mxbench.models.trained.TrainedModel`, the task
it was trained on, an instance number) rather than on a game. It returns the same
:class:`~mxbench.explainers.base.Explanation` as every black-box explainer: one attribution per
**player** (a column, an image patch, a token slot), ``modality`` = the attributions summed per
modality, ``n_queries`` = the number of model forward passes of the instance (inputs run through
the model, e.g. the points of the integration path), the seconds, the name and the parameters.

How positions map to players. Every model here encodes player ``j`` (players numbered in modality
order; patches row-major) as its ``j``-th token: :class:`~mxbench.models.base.PlayerTokens` emits
the tokens of each modality in player order and the transformers add no class token. The only
extra token is the readout token of a ``TokenTransformer(pool="readout")``, the last one
(``readout_index = n_players``); it is never a player. Input-space gradients are mapped back to
players directly: a column is a player, the pixels of a patch are summed to their patch, and the
one-hot row of a token slot is summed to its slot.

The methods follow the Decor code of the FL-I2MoE authors (``docs/reconstructions.md`` §5), with
mxbench's one masking rule as the baseline (Decor uses a zero baseline) and without Decor's final
min-max normalisation per modality (it would erase the comparison between modalities that the
modality contributions are scored on):

- :class:`IntegratedGradients` (Sundararajan et al. 2017), any architecture;
- :class:`AttentionRollout` (Abnar & Zuidema 2020), token transformer and FL-I2MoE;
- :class:`AttentionGrad` (Chefer et al. 2021, as Decor's ``attnXgrad``), the same models;
- :class:`ExpertMaps`, one map per FL-I2MoE expert, mixed by the routing weights.
"""

from mxbench.explainers.whitebox.attention import AttentionGrad, AttentionRollout, rollout
from mxbench.explainers.whitebox.base import TARGETS, WhiteBoxExplainer
from mxbench.explainers.whitebox.experts import EXPERT_METHODS, ExpertMaps
from mxbench.explainers.whitebox.gradients import IG_METHODS, IntegratedGradients, ig_path

__all__ = ["WhiteBoxExplainer", "IntegratedGradients", "AttentionRollout", "AttentionGrad", "ExpertMaps",
           "ig_path", "rollout", "IG_METHODS", "TARGETS", "EXPERT_METHODS"]
