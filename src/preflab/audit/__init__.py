"""preflab.audit (see DESIGN.md)."""

from __future__ import annotations

# --- judge and score audits (issue 5) ------------------------------------------------------
from preflab.audit._judge import (
    Agreement,
    JudgeAudit,
    PositionBias,
    SelfPreference,
    Transitivity,
    audit_judge,
    default_family,
    majority_labels,
)
from preflab.audit._judge_plot import plot_judge_audit
from preflab.audit._judge_stats import (
    LengthBias,
    LogisticFit,
    bootstrap_kappa,
    cohen_kappa,
    cyclic_triads,
    length_bias,
    logistic_fit,
    wilson_interval,
)
from preflab.audit._scores import (
    Correlation,
    CorrelationSet,
    ScoreAudit,
    audit_scores,
    correlations,
)

__all__: list[str] = [
    "Agreement",
    "Correlation",
    "CorrelationSet",
    "JudgeAudit",
    "LengthBias",
    "LogisticFit",
    "PositionBias",
    "ScoreAudit",
    "SelfPreference",
    "Transitivity",
    "audit_judge",
    "audit_scores",
    "bootstrap_kappa",
    "cohen_kappa",
    "correlations",
    "cyclic_triads",
    "default_family",
    "length_bias",
    "logistic_fit",
    "majority_labels",
    "plot_judge_audit",
    "wilson_interval",
]
# --- end of judge and score audits (issue 5); other areas: extend with `__all__ += [...]` ---


# --- benchmark audit (issue 4) --------------------------------------------------------------
from preflab.audit._benchmark import (  # noqa: E402
    BenchmarkAudit,
    CorrelationCI,
    ScoreBoard,
    agreement,
    audit_benchmark,
    brier_score,
    correlation,
    read_board,
    separability,
    separated,
)

__all__ += [
    "BenchmarkAudit",
    "CorrelationCI",
    "ScoreBoard",
    "agreement",
    "audit_benchmark",
    "brier_score",
    "correlation",
    "read_board",
    "separability",
    "separated",
]
# --- end of benchmark audit (issue 4) -------------------------------------------------------
