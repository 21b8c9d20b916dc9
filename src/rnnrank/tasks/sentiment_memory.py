"""Sentiment held in memory: the valence of an opening clause decides a long sentence's label.

A stand-in for SST (Schuessler et al., 2020, NeurIPS, §5) whose label *needs* memory carried by
the recurrence: the offline ``sentiment`` task can be solved from the last words (an LSTM keeps
0.83 accuracy with layer 2's ΔW_hh removed), so it cannot show where truncating ΔW matters.

Vocabulary (``vocab`` words, random frozen embeddings [vocab, embed] drawn from ``vocab_seed``):
word 0 is the full stop ``"."``; words 1 … ``negators`` are negators ("not", "never", …); of the
others a fraction ``valenced`` carries a valence v = ±1, the rest are neutral (v = 0). As in GloVe,
where sentiment is roughly a direction of the embedding space, a word's vector is
e_w = z_w/√embed + ``valence_signal`` · v(w) · u, z_w standard normal, u a random unit vector; the
difficulty is the sentence (negation scope, memory), not reading a word's valence.

A sentence of ``length`` words is an opening clause, a full stop, and a tail:

    w_0 … w_{C−1}  "."  w_{C+1} … w_{L−1},        C ~ U{clause[0] … clause[1]}

Clause words are drawn uniformly from every word but the full stop, and a clause without a
valenced word gets one at a random position. Tail words are valenced distractors with probability
``tail_valenced`` and otherwise neutral words or negators (uniformly among those); with fewer
valenced words in the tail, summing every word's valence already beats chance, an easier path
from which learning finds the gating that ignores the tail.

Only the clause counts: a negator flips the valence of every word in its scope, the next
``scope`` words of the clause (two negators covering a word cancel), so the clause's signed
valence is

    s_t = v(w_t) · (−1)^{#negators among w_{t−scope} … w_{t−1}},   t < C,

and the label is positive when Σ_t s_t > 0; a tie is decided by the first valenced word (the
earliest, so that it too must be held). The tail — valenced words and negators included — is
a distractor: the label does not depend on its L − C − 1 words, which the network reads after the
clause and must not let overwrite what it holds.

Inputs [T, B, embed] are the word vectors; targets are one-hot over (negative, positive) at the
last word only (mask 1 there); score = accuracy of the argmax output at the last word.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .base import Batch, register_task
from .sentiment import WordClassification

STOP = 0  # index of the full stop in the vocabulary


@register_task("sentiment_memory")
@dataclass(frozen=True)
class SentimentMemory(WordClassification):
    vocab: int = 200
    embed: int = 32
    length: int = 20
    clause: tuple[int, int] = (3, 6)
    scope: int = 3
    valenced: float = 0.3
    negators: int = 3
    valence_signal: float = 0.5
    tail_valenced: float = 0.3
    vocab_seed: int = 0
    dt: float = 0.2  # one word per step; only a RateRNN reads it (an LSTM has no time constant)

    def __post_init__(self) -> None:
        lo, hi = self.clause
        if not 1 <= lo <= hi:
            raise ValueError(f"clause must be (lo, hi) with 1 <= lo <= hi, got {self.clause}")
        if hi + 1 >= self.length:
            raise ValueError(f"length must exceed clause[1] + 1 (a full stop and at least one "
                             f"distractor), got length={self.length}, clause={self.clause}")
        if self.scope < 1:
            raise ValueError(f"scope must be >= 1, got {self.scope}")
        if not 0.0 <= self.tail_valenced <= 1.0:
            raise ValueError(f"tail_valenced must be in [0, 1], got {self.tail_valenced}")
        if self.negators < 0 or not 0.0 < self.valenced < 1.0:
            raise ValueError(f"need negators >= 0 and 0 < valenced <= 1, got negators="
                             f"{self.negators}, valenced={self.valenced} (< 1: the tail needs "
                             "neutral words)")
        if int((self.lexicon()[1] != 0).sum()) < 2:
            raise ValueError(f"the lexicon has fewer than 2 valenced words (vocab={self.vocab}, "
                             f"valenced={self.valenced}); raise vocab or valenced")

    def lexicon(self) -> tuple[Tensor, Tensor]:
        """(embeddings [vocab, embed], valence [vocab] in {−1, 0, +1}); the full stop and the
        negators (words 0 … negators) have valence 0."""
        gen = torch.Generator().manual_seed(self.vocab_seed)
        emb = torch.randn(self.vocab, self.embed, generator=gen) / self.embed**0.5
        val = torch.where(torch.rand(self.vocab, generator=gen) < self.valenced,
                          torch.randint(0, 2, (self.vocab,), generator=gen) * 2 - 1, 0)
        val[: self.negators + 1] = 0
        u = torch.randn(self.embed, generator=gen)
        emb = emb + self.valence_signal * val[:, None] * (u / u.norm())
        return emb, val

    def sample(self, batch_size: int, *, generator: torch.Generator | None = None) -> Batch:
        emb, val = self.lexicon()
        T, B = self.length, batch_size
        lo, hi = self.clause
        words = torch.randint(1, self.vocab, (T, B), generator=generator)
        clause_len = torch.randint(lo, hi + 1, (B,), generator=generator)
        t = torch.arange(T)[:, None]
        in_clause = t < clause_len  # [T, B]
        pool = torch.nonzero(val != 0).flatten()
        calm = torch.nonzero(val == 0).flatten()[1:]  # neutral words and negators, no full stop
        tail = torch.where(torch.rand(T, B, generator=generator) < self.tail_valenced,
                           pool[torch.randint(len(pool), (T, B), generator=generator)],
                           calm[torch.randint(len(calm), (T, B), generator=generator)])
        words = torch.where(in_clause, words, tail)
        # a clause without a valenced word gets one at a random position
        pick = pool[torch.randint(len(pool), (B,), generator=generator)]
        where = (torch.rand(B, generator=generator, dtype=torch.float64)
                 * clause_len).long().clamp(max=clause_len - 1)
        empty = ~((val[words] != 0) & in_clause).any(0)
        cols = torch.nonzero(empty).flatten()
        words[where[cols], cols] = pick[cols]
        words[clause_len, torch.arange(B)] = STOP

        negator = ((words >= 1) & (words <= self.negators) & in_clause).long()
        covered = torch.zeros_like(negator)  # negators among the `scope` preceding words
        for k in range(1, self.scope + 1):
            covered[k:] += negator[:-k]
        signed = torch.where(in_clause, val[words] * (1 - 2 * (covered % 2)), 0)  # [T, B]
        total = signed.sum(0)
        first_idx = torch.where(signed != 0, t, T).amin(0)
        first = signed.gather(0, first_idx[None])[0]
        label = (torch.where(total != 0, total, first) > 0).long()

        return self.last_word_batch(emb, words, label, clause_len=clause_len)
