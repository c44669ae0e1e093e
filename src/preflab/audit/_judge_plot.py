"""Plot of a judge audit: accuracy and position bias per category (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from preflab.audit._judge import JudgeAudit


def plot_judge_audit(audits: Mapping[str, JudgeAudit], path: str | Path) -> Path:
    """Save a two-panel figure: per judge and category, accuracy (with its interval; needs
    truth labels) and the flip rate when the order is swapped. Returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    judges = sorted(audits)
    cats = sorted({c for a in audits.values() for c in a.by_category}) or ["all"]
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 2 + 1.2 * len(cats) * len(judges) / 2), 4.5))
    width = 0.8 / max(1, len(judges))
    for j, name in enumerate(judges):
        a = audits[name]
        acc, lo, hi, flip = [], [], [], []
        for c in cats:
            d = a.by_category.get(c)
            if c == "all" or d is None:
                ag = a.agreement
                acc_v = ag.accuracy if ag else float("nan")
                ci = ag.accuracy_ci if ag else (float("nan"), float("nan"))
                fl = a.position.flip_rate
            else:
                ag_d = d["agreement"]
                acc_v = ag_d["accuracy"] if ag_d else float("nan")
                ci = tuple(ag_d["accuracy_ci"]) if ag_d else (float("nan"), float("nan"))
                fl = d["position"]["flip_rate"]
            acc.append(acc_v)
            lo.append(acc_v - ci[0])
            hi.append(ci[1] - acc_v)
            flip.append(fl)
        xs = [i + j * width for i in range(len(cats))]
        axes[0].bar(xs, acc, width, yerr=[lo, hi], capsize=2, label=name)
        axes[1].bar(xs, flip, width, label=name)
    for ax, title in zip(axes, ("accuracy vs truth (95% CI)", "flip rate when order is swapped"),
                         strict=True):
        ax.set_xticks([i + width * (len(judges) - 1) / 2 for i in range(len(cats))])
        ax.set_xticklabels(cats, rotation=30, ha="right")
        ax.set_ylim(0, 1)
        ax.set_title(title)
    axes[0].axhline(0.5, color="grey", lw=0.8, ls="--")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
