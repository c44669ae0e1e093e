"""LLM judges and verifiers: an async, cached, resumable judge runner for any OpenAI-compatible
endpoint, built-in templates and parsers, and code/math verifiers (see DESIGN.md).

Example::

    from preflab.judge import JudgeConfig, load_template, run_judge

    judge = JudgeConfig(model="llama-3.1-70b", base_url="http://127.0.0.1:8000/v1",
                        api_key_env=None, concurrency=32, price_input=0.6, price_output=0.6)
    run = run_judge(pairs, judge, cache="judge.sqlite", log="judge.jsonl", budget=5.0)
    run.comparisons   # two games per pair, Arena-Hard weights; model_a = shown first
    run.verdicts      # every judgment with status ok / unparsed / failed / pending and raw reply
    rubric = judge.with_(template=load_template("ice-usefulness-ref-steps"))
    run_judge(responses, rubric, cache="judge.sqlite").scores

Re-running with the same cache pays only for answers not yet received (also after kill -9).
"""

from __future__ import annotations

from preflab.judge._cache import AnswerCache, CachedAnswer, cache_key
from preflab.judge._client import (
    CallError,
    ChatClient,
    ChatResult,
    TokenBucket,
    retry_after_seconds,
)
from preflab.judge._config import JudgeConfig, judge_from_dict, load_judge
from preflab.judge._engine import Call, EngineStats, Outcome, execute, run_calls
from preflab.judge._pairs import pairs_from_responses, verdicts_to_comparisons
from preflab.judge._parse import (
    PAIRWISE_LABELS,
    PAIRWISE_VALUE,
    PARSERS,
    Verdict,
    aggregate,
    get_parser,
    parse_arena_hard,
    parse_prometheus,
    score_parser,
)
from preflab.judge._runner import JudgeRun, arun_judge, run_judge
from preflab.judge._templates import (
    BUILTIN_TEMPLATES,
    REFERENCE_TEMPLATE,
    Template,
    load_template,
    template_from_dict,
)
from preflab.judge._verifiers import VerifierRun, run_verifier, scores_to_pairs
from preflab.judge._verify_code import CodeResult, TestResult, verify_code, verify_code_many
from preflab.judge._verify_math import (
    MathResult,
    answers_equivalent,
    extract_answer,
    normalize_answer,
    verify_math,
)

__all__ = [
    "BUILTIN_TEMPLATES",
    "PAIRWISE_LABELS",
    "PAIRWISE_VALUE",
    "PARSERS",
    "REFERENCE_TEMPLATE",
    "AnswerCache",
    "CachedAnswer",
    "Call",
    "CallError",
    "ChatClient",
    "ChatResult",
    "CodeResult",
    "EngineStats",
    "JudgeConfig",
    "JudgeRun",
    "MathResult",
    "Outcome",
    "Template",
    "TestResult",
    "TokenBucket",
    "Verdict",
    "VerifierRun",
    "aggregate",
    "answers_equivalent",
    "arun_judge",
    "cache_key",
    "execute",
    "extract_answer",
    "get_parser",
    "judge_from_dict",
    "load_judge",
    "load_template",
    "normalize_answer",
    "pairs_from_responses",
    "parse_arena_hard",
    "parse_prometheus",
    "retry_after_seconds",
    "run_calls",
    "run_judge",
    "run_verifier",
    "score_parser",
    "scores_to_pairs",
    "template_from_dict",
    "verdicts_to_comparisons",
    "verify_code",
    "verify_code_many",
    "verify_math",
]
