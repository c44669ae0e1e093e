"""Reward models: train on preference pairs, evaluate, score, judge, best-of-N, step-level
(process) preferences, and export of pairs for DPO/TRL (see DESIGN.md).

``import preflab.rm`` needs only numpy/scipy/scikit-learn; torch and transformers are
imported when a transformers backend or sentence embeddings are used.
"""

from __future__ import annotations

from preflab.rm._backend import RewardBackend, StubImageBackend
from preflab.rm._eval import Accuracy, EvalResult, evaluate, evaluate_diffs, wilson_interval
from preflab.rm._export import ExportResult, export_from_comparisons, export_from_scores
from preflab.rm._features import FeatureConfig, Featurizer
from preflab.rm._model import EmbeddedRewardModel
from preflab.rm._pairs import PreferencePairs, pairs_from_tables, read_pairs
from preflab.rm._process import (
    BestOfNResult,
    ProcessBenchResult,
    StepNode,
    StepPair,
    best_of_n_gain,
    evaluate_processbench,
    processbench_scores,
    solution_scores,
    step_pairs_from_tree,
    step_pairs_to_preferences,
    step_rewards,
)
from preflab.rm._process_io import read_first_error, read_step_pairs, read_trees, step_candidates
from preflab.rm._train import load_reward_model, train_reward_model
from preflab.rm._use import best_of_n, rm_judge, score_responses

__all__ = [
    "Accuracy",
    "BestOfNResult",
    "EmbeddedRewardModel",
    "EvalResult",
    "ExportResult",
    "FeatureConfig",
    "Featurizer",
    "PreferencePairs",
    "ProcessBenchResult",
    "RewardBackend",
    "StepNode",
    "StepPair",
    "StubImageBackend",
    "best_of_n",
    "best_of_n_gain",
    "evaluate",
    "evaluate_diffs",
    "evaluate_processbench",
    "export_from_comparisons",
    "export_from_scores",
    "load_reward_model",
    "pairs_from_tables",
    "processbench_scores",
    "read_first_error",
    "read_pairs",
    "read_step_pairs",
    "read_trees",
    "rm_judge",
    "score_responses",
    "solution_scores",
    "step_candidates",
    "step_pairs_from_tree",
    "step_pairs_to_preferences",
    "step_rewards",
    "train_reward_model",
    "wilson_interval",
]
