"""Reading the trainer's stderr bar (steps within an epoch) for the fine-tune dialog."""

from app.core.finetune_progress import split_bar


def test_latest_bar_wins_and_other_text_is_kept():
    chunk = (b"\repoch 1/3 [seg] [##......] 2/8 loss 0.5 eta 0:00:03   "
             b"\repoch 1/3 [seg] [####....] 4/8 loss 0.4 eta 0:00:02   \nTraceback: boom\n")
    step, rest = split_bar(chunk)
    assert (step.epoch, step.epochs, step.step, step.steps) == (1, 3, 4, 8)
    assert abs(step.fraction - (0.5 / 3)) < 1e-9 and step.describe() == "epoch 1/3 · step 4/8"
    assert b"Traceback: boom" in rest and b"epoch" not in rest


def test_no_bar_no_progress():
    assert split_bar(b"plain warning\n") == (None, b"plain warning\n")
