"""The offline sentiment task: its labels follow the stated rule (checked word by word)."""

from __future__ import annotations

import torch

import rnnrank as rr


def test_labels_follow_the_rule_brute_force():
    task = rr.tasks.make("sentiment", length=6, vocab=30, negators=3)
    batch = task.sample(400, generator=torch.Generator().manual_seed(0))
    _, valence = task.lexicon()
    checked = 0
    for words, label in zip(batch.info["words"].tolist(), batch.info["label"].tolist(),
                            strict=True):
        signed = [(-1 if i > 0 and words[i - 1] < task.negators else 1) * int(valence[w])
                  for i, w in enumerate(words)]
        nonzero = [v for v in signed if v]
        if not nonzero:
            continue  # a coin decides: nothing to check
        decided = sum(signed) if sum(signed) else nonzero[-1]  # a tie: the last valenced word
        assert label == int(decided > 0)
        checked += 1
    assert checked > 300
    # one-hot target at the last word only
    assert batch.mask[:-1].sum() == 0 and bool((batch.targets[-1].sum(-1) == 1).all())
