"""Synthetic sentiment classification: a stand-in for SST with frozen word vectors.

Schuessler et al. (2020, NeurIPS, §5) train an LSTM on binary SST sentiment with frozen GloVe
embeddings; neither can be downloaded here, so rnnrank generates the same kind of problem offline:
a fixed vocabulary of ``vocab`` words with random embeddings (dimension ``embed``, drawn once from
``vocab_seed``), a fraction of them carrying a valence ±1 (the rest neutral), and ``negators`` that
flip the valence of the next word. A sentence is ``length`` words drawn uniformly; its label is
positive when the summed (negation-adjusted) valence is > 0; a tie is decided by the last valenced
word (so word order matters, as it does in SST's phrase structure); a sentence without any valenced
word is labelled by a coin (the only unlearnable case, probability (1 − valenced)^length).

Inputs [T, B, embed] are the word vectors; targets are one-hot over 2 classes (negative, positive)
at the last word only (mask 1 there); score = accuracy of the argmax output at the last word.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .base import Batch, Task, register_task


class WordClassification(Task):
    """Base of the sentence tasks: inputs are word vectors [T, B, embed], the label (negative,
    positive) is a one-hot target at the last word only, scored by the accuracy of the argmax."""

    embed: int
    score_name = "accuracy"

    @property
    def n_in(self) -> int:
        return self.embed

    @property
    def n_out(self) -> int:
        return 2

    @staticmethod
    def last_word_batch(emb: Tensor, words: Tensor, label: Tensor, **info: Tensor) -> Batch:
        """The batch of sentences ``words`` [T, B] (indices into ``emb``) labelled ``label`` [B]."""
        T, B = words.shape
        targets = torch.zeros(T, B, 2)
        targets[-1, torch.arange(B), label] = 1.0
        mask = torch.zeros_like(targets)
        mask[-1] = 1.0
        return Batch(emb[words], targets, mask, {"label": label, "words": words.T, **info})

    def score(self, outputs: Tensor, batch: Batch) -> Tensor:
        label = batch.info["label"].to(outputs.device)  # [B] broadcasts against [..., B]
        return (outputs[-1].argmax(-1) == label).to(outputs.dtype).mean(-1)


@register_task("sentiment")
@dataclass(frozen=True)
class Sentiment(WordClassification):
    vocab: int = 200
    embed: int = 32
    length: int = 20
    valenced: float = 0.3
    negators: int = 3
    vocab_seed: int = 0
    dt: float = 0.2  # one word per step; only a RateRNN reads it (an LSTM has no time constant)

    def __post_init__(self) -> None:
        if self.vocab < self.negators + 2:
            raise ValueError(f"vocab must exceed negators + 1, got vocab={self.vocab}")
        if not 0.0 < self.valenced <= 1.0:
            raise ValueError(f"valenced must be in (0, 1], got {self.valenced}")

    def lexicon(self) -> tuple[Tensor, Tensor]:
        """(embeddings [vocab, embed], valence [vocab] in {−1, 0, +1}; negators have valence 0)."""
        gen = torch.Generator().manual_seed(self.vocab_seed)
        emb = torch.randn(self.vocab, self.embed, generator=gen) / self.embed**0.5
        val = torch.where(torch.rand(self.vocab, generator=gen) < self.valenced,
                          torch.randint(0, 2, (self.vocab,), generator=gen) * 2 - 1, 0)
        val[: self.negators] = 0
        return emb, val

    def sample(self, batch_size: int, *, generator: torch.Generator | None = None) -> Batch:
        emb, val = self.lexicon()
        words = torch.randint(0, self.vocab, (self.length, batch_size), generator=generator)
        negate = torch.zeros_like(words, dtype=torch.bool)
        negate[1:] = words[:-1] < self.negators
        signed = torch.where(negate, -val[words], val[words])  # [T, B]
        total = signed.sum(0)
        # last non-zero valence of each sentence (0 when there is none)
        idx = torch.where(signed != 0, torch.arange(self.length)[:, None], -1).amax(0)
        last = signed.gather(0, idx.clamp(min=0)[None])[0] * (idx >= 0)
        coin = torch.randint(0, 2, (batch_size,), generator=generator)
        decided = torch.where(total != 0, total, last)
        label = torch.where(decided == 0, coin, (decided > 0).long())
        return self.last_word_batch(emb, words, label)
