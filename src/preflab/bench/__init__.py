"""preflab.bench: benchmark curation, BenchBuilder-style (see DESIGN.md).

From a pile of prompts to a small, hard, separable benchmark: deduplicate, embed, cluster,
annotate quality with an LLM judge (seven criteria), select, report; then evaluate models on
it with two-game pairwise judging and audit its separability [Li24]_.
"""

from __future__ import annotations

from preflab.bench._build import BenchBuild, build_benchmark
from preflab.bench._cluster import Clustering, cluster_prompts
from preflab.bench._dedup import Dedup, deduplicate, normalize_text
from preflab.bench._embed import Embedder, SentenceEmbedderAdapter, TfidfSvdEmbedder, get_embedder
from preflab.bench._evaluate import (
    BenchEvaluation,
    answers_from_table,
    battles_from_comparisons,
    board_to_scoreboard,
    evaluate_benchmark,
    read_answers,
)
from preflab.bench._input import PromptSet, prompts_from_table, read_prompts
from preflab.bench._quality import (
    CRITERIA,
    QUALITY_PARSER,
    QUALITY_TEMPLATE,
    Quality,
    annotate_quality,
    parse_criteria,
    parse_criteria_set,
)
from preflab.bench._report import build_sections, write_build_report
from preflab.bench._select import REASONS, Selection, select_prompts

__all__ = [
    "CRITERIA",
    "QUALITY_PARSER",
    "QUALITY_TEMPLATE",
    "REASONS",
    "BenchBuild",
    "BenchEvaluation",
    "Clustering",
    "Dedup",
    "Embedder",
    "PromptSet",
    "Quality",
    "Selection",
    "SentenceEmbedderAdapter",
    "TfidfSvdEmbedder",
    "annotate_quality",
    "answers_from_table",
    "battles_from_comparisons",
    "board_to_scoreboard",
    "build_benchmark",
    "build_sections",
    "cluster_prompts",
    "deduplicate",
    "evaluate_benchmark",
    "get_embedder",
    "normalize_text",
    "parse_criteria",
    "parse_criteria_set",
    "prompts_from_table",
    "read_answers",
    "read_prompts",
    "select_prompts",
    "write_build_report",
]
