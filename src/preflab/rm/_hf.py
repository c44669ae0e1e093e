r"""The ``transformers`` backend: any ``AutoModelForSequenceClassification`` checkpoint on disk
with one output (a value head), trained with the Bradley-Terry loss on ``prompt + reply``
texts, i.e. the implicit-prompt ``chosen``/``rejected`` format of TRL's ``RewardTrainer``
[vonWerra20]_ (a pair file exported with ``preflab export pairs --format trl`` trains both).

Runs on GPU when ``torch.cuda.is_available()``. torch and transformers are imported here
only; without them the error says ``pip install 'preflab[rm]'``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from preflab._errors import PreflabError
from preflab.rm._embed import require_torch
from preflab.rm._model import plot_curves, validation_mask
from preflab.rm._pairs import PreferencePairs
from preflab.rm._util import as_rng

log = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]
CONFIG = "preflab_rm.json"


def _load(path: str | Path) -> tuple[Any, Any]:
    _, transformers = require_torch()
    p = Path(path)
    if not (p / "config.json").exists():
        raise PreflabError(f"{p} is not a model checkpoint directory (no config.json)")
    tok = transformers.AutoTokenizer.from_pretrained(p, local_files_only=True)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        p, num_labels=1, local_files_only=True)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tok.pad_token_id
    tok.truncation_side = "left"  # keep the reply when prompt + reply is too long
    return tok, model


@dataclass
class TransformersRewardModel:
    """A sequence-classification model whose single logit is the reward of ``prompt + reply``."""

    tokenizer: Any
    model: Any
    info: dict[str, Any] = field(default_factory=dict)
    curves: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    name: str = "transformers"
    max_length: int = 512
    backend: str = "transformers"

    @property
    def aspects(self) -> tuple[str, ...]:
        return ("overall",)

    def _device(self) -> Any:
        return next(self.model.parameters()).device

    def logits(self, prompts: Sequence[str], texts: Sequence[str]) -> Any:
        """Rewards as a torch tensor (with gradients when the model is in training mode)."""
        batch = self.tokenizer([p + t for p, t in zip(prompts, texts, strict=True)],
                               padding=True, truncation=True, max_length=self.max_length,
                               return_tensors="pt").to(self._device())
        return self.model(**batch).logits[:, 0]

    def score(self, prompts: Sequence[str], texts: Sequence[str], *, aspect: str | None = None,
              images: Sequence[str | None] | None = None, batch_size: int = 16) -> FloatArray:
        """Rewards of ``texts`` answering ``prompts``."""
        torch, _ = require_torch()
        if aspect not in (None, "overall"):
            raise PreflabError(f"the transformers reward model has no '{aspect}' head")
        self.model.eval()
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                out.append(self.logits(prompts[i:i + batch_size], texts[i:i + batch_size])
                           .float().cpu().numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)

    def save(self, directory: str | Path) -> Path:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(d)
        self.tokenizer.save_pretrained(d)
        (d / CONFIG).write_text(json.dumps({"preflab_reward_model": 1, "backend": self.backend,
                                            "name": self.name, "max_length": self.max_length,
                                            "info": self.info}, indent=2, default=float))
        (d / "curve.json").write_text(json.dumps(self.curves, indent=1))
        plot_curves(self.curves, d / "curve.png")
        return d

    @staticmethod
    def load(directory: str | Path) -> TransformersRewardModel:
        d = Path(directory)
        cfg = json.loads((d / CONFIG).read_text()) if (d / CONFIG).exists() else {}
        tok, model = _load(d)
        torch, _ = require_torch()
        model.to("cuda" if torch.cuda.is_available() else "cpu")
        curves = json.loads((d / "curve.json").read_text()) if (d / "curve.json").exists() else {}
        return TransformersRewardModel(tok, model, cfg.get("info", {}), curves,
                                       cfg.get("name", d.name), int(cfg.get("max_length", 512)))


def train_transformers(
    pairs: PreferencePairs, *, base_model: str | Path, validation: float = 0.2,
    margin: float = 0.0, ties: str = "half", epochs: int = 1, batch_size: int = 8,
    lr: float = 2e-5, patience: int = 3, rng: np.random.Generator | int | None = 0,
    name: str = "transformers", max_length: int = 512,
    progress: Callable[..., None] | None = None,
) -> TransformersRewardModel:
    """Fine-tune ``base_model`` with the Bradley-Terry loss (see
    :func:`preflab.rm.train_reward_model`); early stopping on the validation loss after each
    epoch keeps the best weights."""
    torch, _ = require_torch()
    gen = as_rng(rng)
    torch.manual_seed(int(gen.integers(2**31)))
    if ties == "drop":
        pairs = pairs.take(~pairs.tie)
    tok, model = _load(base_model)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    rm = TransformersRewardModel(tok, model, name=name, max_length=max_length)
    is_val = (validation_mask(pairs, validation, gen) if validation > 0
              else np.zeros(len(pairs), bool))
    tr, va = pairs.take(~is_val), pairs.take(is_val)
    m_tr = margin * np.clip(tr.strength - 1, 0, None)
    m_va = margin * np.clip(va.strength - 1, 0, None)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    fn = torch.nn.functional

    def batch_loss(p: PreferencePairs, idx: Any, m: FloatArray) -> Any:
        sub = p.take(idx)
        d = (rm.logits(sub.prompt, sub.chosen) - rm.logits(sub.prompt, sub.rejected))
        tie = torch.as_tensor(sub.tie, device=d.device)
        mt = torch.as_tensor(m[idx], dtype=d.dtype, device=d.device)
        win = -fn.logsigmoid(d - mt)
        half = -0.5 * fn.logsigmoid(d) - 0.5 * fn.logsigmoid(-d)
        return torch.where(tie, half, win), d

    def val_stats() -> tuple[float, float]:
        if len(va) == 0:
            return float("nan"), float("nan")
        model.eval()
        losses, correct = [], []
        with torch.inference_mode():
            for s in range(0, len(va), batch_size):
                idx = np.arange(s, min(s + batch_size, len(va)))
                loss, d = batch_loss(va, idx, m_va)
                losses.append(loss.float().cpu().numpy())
                dd = d.float().cpu().numpy()[~va.tie[idx]]
                correct.append((dd > 0) + 0.5 * (dd == 0))
        return float(np.concatenate(losses).mean()), float(np.concatenate(correct).mean())

    best: tuple[float, dict[str, Any] | None, int] = (np.inf, None, 0)
    curve: list[dict[str, float]] = []
    bad = 0
    for epoch in range(1, epochs + 1):
        model.train()
        order = gen.permutation(len(tr))
        total = 0.0
        for s in range(0, len(tr), batch_size):
            loss, _ = batch_loss(tr, order[s:s + batch_size], m_tr)
            opt.zero_grad()
            loss.mean().backward()
            opt.step()
            total += float(loss.detach().sum())
        vl, vacc = val_stats()
        row = {"epoch": float(epoch), "train_loss": total / max(len(tr), 1)}
        if len(va):
            row.update(val_loss=vl, val_accuracy=vacc)
        curve.append(row)
        if progress is not None:
            progress(advance=1, **{k: v for k, v in row.items() if k != "epoch"})
        score = vl if len(va) else row["train_loss"]
        if score < best[0] - 1e-6:
            best = (score, {k: v.detach().clone() for k, v in model.state_dict().items()}, epoch)
            bad = 0
        else:
            bad += 1
            if bad >= patience:
                break
    if best[1] is not None:
        model.load_state_dict(best[1])
    model.eval()
    rm.curves = {"overall": curve}
    rm.info.update({"n_pairs": len(pairs), "n_validation": int(is_val.sum()),
                    "best_epoch": best[2], "base_model": str(base_model), "device": device,
                    "ties": ties, "margin": margin})
    return rm
