"""Losses and metrics on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from model.training import losses as L
from model.training import metrics as M
from model.training.samples import IGNORE


def test_range_loss_zero_inside_and_growing_outside():
    iv = torch.tensor([[0.10, 0.25]] * 5)
    pred = torch.tensor([0.10, 0.2, 0.25, 0.3, 0.5])
    beta = 0.02
    per = [float(L.range_loss(pred[i:i + 1], iv[i:i + 1], beta)) for i in range(5)]
    assert per[0] == per[1] == per[2] == 0.0
    assert per[3] == pytest.approx(0.05 - beta / 2)  # linear beyond beta
    assert per[4] > per[3]
    below = float(L.range_loss(torch.tensor([0.09]), torch.tensor([[0.10, 0.25]]), beta))
    assert below == pytest.approx(0.5 * 0.01 ** 2 / beta)  # quadratic within beta


def test_range_loss_skips_nan_intervals_and_has_gradient():
    pred = torch.tensor([0.5, 0.5], requires_grad=True)
    loss = L.range_loss(pred, torch.tensor([[float("nan")] * 2, [0.0, 0.1]]))
    loss.backward()
    assert pred.grad[0] == 0 and pred.grad[1] > 0


def test_regression_loss_ignores_nan_targets():
    pred = torch.tensor([0.2, 0.9])
    assert float(L.regression_loss(pred, torch.tensor([0.2, float("nan")]))) == 0.0


def test_dice_loss_perfect_and_ignored():
    t = torch.tensor([[[0, 1], [2, 2]]])
    logits = torch.nn.functional.one_hot(t, 3).permute(0, 3, 1, 2).float() * 50
    assert float(L.dice_loss(logits, t)) == pytest.approx(0.0, abs=1e-4)
    wrong = torch.tensor([[[0, 1], [IGNORE, IGNORE]]])
    # the fragment pixels are ignored: the fragment class is absent from both and scores (eps/eps) = perfect
    assert float(L.dice_loss(logits, wrong)) < 1e-3 + float(L.dice_loss(logits, t)) + 0.5
    assert float(L.ce_loss(logits, torch.full_like(t, IGNORE))) == 0.0


def test_soft_fraction():
    logits = torch.zeros(1, 3, 2, 2)
    logits[0, 1, 0, :] = 50  # two blastomere pixels
    logits[0, 2, 1, 0] = 50  # one fragment pixel
    logits[0, 0, 1, 1] = 50
    assert float(L.soft_fraction(logits)) == pytest.approx(1 / 3, abs=1e-3)


def test_segcounter_pooled_dice_and_empty_images():
    sc = M.SegCounter(3)
    truth1 = np.array([[1, 1], [2, 0]])
    pred1 = np.array([[1, 2], [2, 0]])
    sc.update(pred1, truth1)  # fragment: tp 1, fp 1, fn 0
    sc.update(np.zeros((2, 2), int), np.zeros((2, 2), int))  # no fragment anywhere: adds nothing
    sc.update(np.array([[2, 0], [0, 0]]), np.zeros((2, 2), int))  # fragment predicted only: fp 1
    d = sc.dice()
    assert d[2] == pytest.approx(2 * 1 / (2 * 1 + 2 + 0))
    assert d[1] == pytest.approx(2 * 1 / (2 * 1 + 0 + 1))
    assert sc.iou()[2] == pytest.approx(1 / 3)
    assert (sc.fragment_fp_images, sc.fragment_absent_images, sc.fragment_fn_images) == (1, 1, 0)
    empty = M.SegCounter(3)
    empty.update(np.zeros((2, 2), int), np.zeros((2, 2), int))
    assert math.isnan(empty.dice()[2])


def test_quadratic_kappa_hand_computed():
    cm = np.array([[2, 1, 0], [0, 2, 1], [0, 0, 2]])
    # observed weighted disagreement: 2 cells off by one -> w=0.25 each, sum 0.5
    rows, cols, n = cm.sum(1), cm.sum(0), cm.sum()
    w = (np.subtract.outer(range(3), range(3)) ** 2) / 4
    expected = (w * np.outer(rows, cols) / n).sum()
    assert M.quadratic_kappa(cm) == pytest.approx(1 - 0.5 / expected)
    assert M.quadratic_kappa(np.diag([3, 4, 5])) == pytest.approx(1.0)
    assert M.accuracy(cm) == pytest.approx(6 / 8)


def test_confusion_mae_bland_altman():
    cm = M.confusion_matrix(["1", "2", "2"], ["1", "3", "2"], ["1", "2", "3"])
    assert cm.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 0]]
    assert M.mae_points([0.1, 0.2, float("nan")], [0.12, 0.2, 0.3]) == pytest.approx(1.0)
    ba = M.bland_altman([3.0, 5.0, 7.0], [2.0, 5.0, 5.0])  # differences 1, 0, 2
    assert ba["bias"] == pytest.approx(1.0)
    assert ba["sd"] == pytest.approx(1.0)
    assert ba["loa_high"] == pytest.approx(2.96)
    assert M.nan_to_none({"a": [float("nan"), 1.0]}) == {"a": [None, 1.0]}


def test_false_fragment_loss_is_the_soft_false_fragment_area():
    from model.training.losses import false_fragment_loss

    target = torch.zeros(1, 8, 8, dtype=torch.long)
    target[0, 2:6, 2:6] = 1  # 16 blastomere pixels
    target[0, 0, 0] = 2
    logits = torch.full((1, 3, 8, 8), -20.0)
    logits[:, 1] = 20.0  # sure blastomere everywhere: no false fragment
    assert float(false_fragment_loss(logits, target)) < 1e-6
    wrong = logits.clone()
    wrong[0, 2, 2:4, 2:6] = 40.0  # 8 of the 16 blastomere pixels called fragment
    assert float(false_fragment_loss(wrong, target)) == pytest.approx(0.5, abs=1e-4)
    # Fragments on background or on true fragments are not this term's business.
    bg = logits.clone()
    bg[0, 2, 0, :] = 40.0
    assert float(false_fragment_loss(bg, target)) < 1e-6
    # Its gradient lowers the fragment logit where the truth is blastomere.
    x = torch.zeros(1, 3, 8, 8, requires_grad=True)
    false_fragment_loss(x, target).backward()
    assert (x.grad[0, 2][target[0] == 1] > 0).all() and (x.grad[0, 2][target[0] != 1] == 0).all()
