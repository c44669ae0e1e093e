"""Reward models: train on preference pairs, evaluate, score, judge, best-of-N, step-level
(process) preferences, and export of pairs for DPO/TRL (see DESIGN.md).

``import preflab.rm`` needs only numpy/scipy/scikit-learn; torch and transformers are
imported when a transformers backend or sentence embeddings are used.
"""

from __future__ import annotations

from preflab.rm._eval import Accuracy, EvalResult, evaluate, wilson_interval
from preflab.rm._features import FeatureConfig, Featurizer
from preflab.rm._model import EmbeddedRewardModel
from preflab.rm._pairs import PreferencePairs, pairs_from_tables, read_pairs
from preflab.rm._train import load_reward_model, train_reward_model

__all__ = [
    "Accuracy",
    "EmbeddedRewardModel",
    "EvalResult",
    "FeatureConfig",
    "Featurizer",
    "PreferencePairs",
    "evaluate",
    "load_reward_model",
    "pairs_from_tables",
    "read_pairs",
    "train_reward_model",
    "wilson_interval",
]
