"""Tokenizer extension: learn frequent target-language pieces, add them, start their embeddings well.

A BPE model is trained on the corpus with the ``tokenizers`` library (words keep their leading
space, so French pieces such as `` fichier`` match where the text has them); the most frequent
pieces the base tokenizer cannot already write as one token become added tokens. Each new
embedding row starts as the mean of the rows of the sub-tokens the base tokenizer used for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from causerie.localize.errors import LocalizeError, LocalizeFailure

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

_SPACE_MARK = "\u2581"


def decode(tokenizer: PreTrainedTokenizerBase, ids: Sequence[int], *, skip_special_tokens: bool = False) -> str:
    """The text of one sequence of token ids (``decode`` is typed for batches too)."""
    text = tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens)
    assert isinstance(text, str)
    return text


def tokens_per_kchar(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str]) -> float:
    """Tokens needed per 1,000 characters of ``texts``."""
    chars = sum(len(t) for t in texts)
    if chars == 0:
        return 0.0
    tokens = sum(len(tokenizer.encode(t, add_special_tokens=False)) for t in texts)
    return 1000.0 * tokens / chars


def learn_tokens(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], count: int) -> list[str]:
    """Up to ``count`` new tokens, most frequent first, that the base tokenizer splits into several pieces."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    if count <= 0:
        return []
    learner = Tokenizer(models.BPE(unk_token=None))
    learner.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_SPACE_MARK, prepend_scheme="always")
    trainer = trainers.BpeTrainer(
        vocab_size=count * 3 + 1000, min_frequency=2, show_progress=False, max_token_length=16
    )
    learner.train_from_iterator(texts, trainer=trainer)
    vocab = sorted(learner.get_vocab().items(), key=lambda item: item[1])  # BPE ids follow merge order
    known = set(tokenizer.get_vocab())
    chosen: list[str] = []
    for piece, _ in vocab:
        text = piece.replace(_SPACE_MARK, " ")
        if len(text.strip()) < 2 or text in known or text.rstrip() != text:
            continue
        if len(tokenizer.encode(text, add_special_tokens=False)) < 2:
            continue
        chosen.append(text)
        if len(chosen) == count:
            break
    if not chosen:
        raise LocalizeError("the corpus is too small to learn new tokens from", param="extend_tokens")
    return chosen


def extend_tokenizer(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, new_tokens: Sequence[str]
) -> list[int]:
    """Add ``new_tokens`` to ``tokenizer`` and ``model``; return their ids. Rows start at their sub-tokens' mean."""
    import torch
    from tokenizers import AddedToken

    pieces = [tokenizer.encode(token, add_special_tokens=False) for token in new_tokens]
    first_new = len(tokenizer)
    added = tokenizer.add_tokens([AddedToken(t, normalized=False, special=False) for t in new_tokens])
    if added != len(new_tokens):
        raise LocalizeFailure(f"only {added} of {len(new_tokens)} new tokens could be added")
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    ids = list(range(first_new, first_new + added))
    with torch.no_grad():
        embeddings = _weight(model.get_input_embeddings())
        if embeddings is None:
            raise LocalizeError("the model has no input embeddings to extend", param="extend_tokens")
        output = _weight(model.get_output_embeddings())
        untied = output if output is not None and output.data_ptr() != embeddings.data_ptr() else None
        for new_id, sub in zip(ids, pieces, strict=True):
            embeddings[new_id] = embeddings[sub].mean(dim=0)
            if untied is not None:
                untied[new_id] = untied[sub].mean(dim=0)
    return ids


def _weight(layer: torch.nn.Module | None) -> torch.Tensor | None:
    """The weight matrix of an embedding or output layer (None without one)."""
    import torch

    weight = getattr(layer, "weight", None)
    return weight if isinstance(weight, torch.Tensor) else None
