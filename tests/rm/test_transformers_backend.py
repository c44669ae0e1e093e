"""The transformers backend with a tiny BERT built here from a config (nothing downloaded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rm_helpers import synthetic_pairs

from preflab.rm import evaluate, load_reward_model, train_reward_model

torch = pytest.importorskip("torch", reason="the transformers backend needs preflab[rm]")
transformers = pytest.importorskip("transformers", reason="needs preflab[rm]")
tokenizers = pytest.importorskip("tokenizers", reason="needs preflab[rm]")


def tiny_checkpoint(directory: Path, texts: list[str]) -> Path:
    """A 2-layer BERT sequence classifier with a word-level tokenizer trained on ``texts``."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(texts, trainers.WordLevelTrainer(
        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"]))
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]")
    config = transformers.BertConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=16, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=32, max_position_embeddings=64, num_labels=1)
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config)
    model.save_pretrained(directory)
    fast.save_pretrained(directory)
    return directory


def test_tiny_bert_trains_saves_and_reloads(tmp_path: Path) -> None:
    pairs = synthetic_pairs(120, rng=0)
    test = synthetic_pairs(40, rng=9)
    base = tiny_checkpoint(tmp_path / "base", list(pairs.prompt) + list(pairs.chosen)
                           + list(pairs.rejected) + list(test.chosen) + list(test.rejected))
    loaded = transformers.AutoModelForSequenceClassification.from_pretrained(base)
    assert loaded.config.num_labels == 1
    model = train_reward_model(pairs, backend="transformers", base_model=base, epochs=4,
                               batch_size=16, lr=3e-3, max_length=64, rng=0, name="tiny")
    curve = model.curves["overall"]
    assert curve[-1]["train_loss"] < curve[0]["train_loss"] < np.log(2) + 0.1
    assert evaluate(model, test).accuracy > 0.9
    model.save(tmp_path / "rm")
    again = load_reward_model(tmp_path / "rm")
    assert again.backend == "transformers" and again.name == "tiny"
    a = model.score(test.prompt[:20], test.chosen[:20])
    b = again.score(test.prompt[:20], test.chosen[:20])
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
