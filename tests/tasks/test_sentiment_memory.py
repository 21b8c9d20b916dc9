"""The sentiment-memory task: labels follow the stated rule, and only the opening clause counts."""

from __future__ import annotations

import pytest
import torch

import rnnrank as rr


def _signed(words: list[int], clause_len: int, valence: list[int], negators: int,
            scope: int) -> list[int]:
    """Brute force, word by word: valence times (−1)^(negators among the `scope` before)."""
    signed = []
    for t in range(clause_len):
        flips = sum(1 for u in range(max(0, t - scope), t) if 1 <= words[u] <= negators)
        signed.append(valence[words[t]] * (-1) ** flips)
    return signed


def _label(words, clause_len, valence, negators, scope) -> int:
    """Sign of the summed signed valence; a tie is decided by the first valenced word."""
    signed = _signed(words, clause_len, valence, negators, scope)
    total = sum(signed)
    decided = total if total else next(v for v in signed if v)
    return int(decided > 0)


def test_labels_follow_the_rule_brute_force():
    task = rr.tasks.make("sentiment_memory", vocab=20, length=12, clause=(3, 7), scope=2,
                         negators=3, valenced=0.5)
    batch = task.sample(600, generator=torch.Generator().manual_seed(0))
    valence = task.lexicon()[1].tolist()
    words, clause_len = batch.info["words"].tolist(), batch.info["clause_len"].tolist()
    ties = negated = 0
    for w, c, label in zip(words, clause_len, batch.info["label"].tolist(), strict=True):
        assert 3 <= c <= 7 and w[c] == 0 and 0 not in w[:c] + w[c + 1:]  # one full stop, at C
        assert any(valence[x] for x in w[:c])  # every clause carries valence
        assert label == _label(w, c, valence, task.negators, task.scope)
        signed = _signed(w, c, valence, task.negators, task.scope)
        negated += signed != [valence[x] for x in w[:c]]  # a negator flipped something
        ties += sum(signed) == 0
    assert negated > 100 and ties > 20  # the rule's branches are all exercised
    assert batch.mask[:-1].sum() == 0 and bool((batch.targets[-1].sum(-1) == 1).all())
    torch.testing.assert_close(batch.inputs, task.lexicon()[0][batch.info["words"].T])


def test_label_is_held_from_the_clause_not_read_from_the_tail():
    task = rr.tasks.make("sentiment_memory", length=30, clause=(4, 8))
    batch = task.sample(4000, generator=torch.Generator().manual_seed(1))
    valence = task.lexicon()[1]
    words, label = batch.info["words"], batch.info["label"]
    # the last M = L − clause[1] − 1 words are always tail: with their valence read the way the
    # clause is read, they predict the label no better than chance (4000 trials: σ ≈ 0.008)
    M = task.length - task.clause[1] - 1
    tail = torch.tensor([_label(w[-M:], M, valence.tolist(),
                                task.negators, task.scope) if any(valence[w[-M:]]) else 0
                         for w in words.tolist()])
    assert abs(float((tail == label).float().mean()) - 0.5) < 0.05  # 6σ
    # the first word (clause only) predicts it well above chance
    first = valence[words[:, 0]]
    agree = float(((first > 0).long() == label)[first != 0].float().mean())
    assert agree > 0.6


@pytest.mark.parametrize("options, match", [
    (dict(clause=(0, 3)), "clause must be"),
    (dict(length=8, clause=(4, 8)), "length must exceed"),
    (dict(scope=0), "scope must be"),
    (dict(vocab=5, valenced=0.01), "fewer than 2 valenced"),
])
def test_bad_options(options, match):
    with pytest.raises(ValueError, match=match):
        rr.tasks.make("sentiment_memory", **options)
