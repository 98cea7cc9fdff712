import math
import threading

import numpy as np
import pytest

from app.core.imaging import list_images, read_image
from model.grading import get_scheme
from model.predictor import Predictor


@pytest.fixture(scope="module")
def predictor(tiny_checkpoint):
    return Predictor.from_checkpoint(tiny_checkpoint, device="cpu", threads=1)


def _check(pred, shape):
    h, w = shape[:2]
    assert pred.class_mask.shape == (h, w) and pred.class_mask.dtype == np.uint8
    assert set(np.unique(pred.class_mask)) <= {0, 1, 2}
    assert pred.probabilities.shape == (h, w, 3)
    np.testing.assert_allclose(pred.probabilities.sum(2), 1.0, atol=1e-4)
    assert set(pred.attention) == {"gate_stride8", "gate_stride4"}
    for a in pred.attention.values():
        assert a.shape == (h, w) and a.min() >= 0 and a.max() <= 1
    assert 0.0 <= pred.fraction_mask <= 1.0
    assert 0.0 <= pred.fraction_regression <= 1.0
    assert pred.grade == get_scheme(pred.scheme).grade(pred.fragment_pct_mask)
    assert pred.uncertainty >= 0 and not math.isnan(pred.uncertainty)
    frag = np.count_nonzero(pred.class_mask == 2)
    cyto = frag + np.count_nonzero(pred.class_mask == 1)
    assert pred.fraction_mask == pytest.approx(frag / cyto if cyto else 0.0)


def test_real_frames_full_resolution(predictor, real_data):
    paths = list_images(real_data / "images")
    assert len(paths) >= 1
    for path in paths[:2]:
        img = read_image(path)
        assert img.shape == (800, 800)
        _check(predictor.predict(img), img.shape)


def test_uint16_and_rgb_inputs(predictor, real_data):
    img8 = read_image(list_images(real_data / "images")[0])
    img16 = img8.astype(np.uint16) * 257
    rgb = np.stack([img8, img8, (img8 * 0.9).astype(np.uint8)], axis=2)
    _check(predictor.predict(img16), img16.shape)
    _check(predictor.predict(rgb), rgb.shape)
    # 16-bit scaling of the same picture is the same picture to the model.
    np.testing.assert_array_equal(predictor.predict(img16).class_mask, predictor.predict(img8).class_mask)


def test_same_input_same_output_and_batch_equals_single(predictor):
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 255, (120, 160), dtype=np.uint8) for _ in range(3)]
    single = [predictor.predict(i) for i in imgs]
    batch = predictor.predict_batch(imgs, batch_size=2)
    for a, b in zip(single, batch):
        np.testing.assert_array_equal(a.class_mask, b.class_mask)
        assert a.fraction_regression == pytest.approx(b.fraction_regression, abs=1e-5)
    again = predictor.predict(imgs[0])
    np.testing.assert_array_equal(again.class_mask, single[0].class_mask)
    assert again.summary() == single[0].summary()


def test_regrade_changes_only_the_grade(predictor):
    pred = predictor.predict(np.full((100, 100), 128, np.uint8))
    eqc = pred.regrade("eqc")
    assert eqc.scheme == "eqc" and eqc.grade == get_scheme("eqc").grade(pred.fragment_pct_mask)
    assert eqc.class_mask is pred.class_mask


def test_bad_inputs_are_refused_clearly(predictor):
    with pytest.raises(ValueError, match="too small"):
        predictor.predict(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="pixel type"):
        predictor.predict(np.zeros((64, 64), np.int64))
    with pytest.raises(KeyError, match="unknown grading scheme"):
        predictor.predict(np.zeros((64, 64), np.uint8), scheme="nope")


def test_records_the_thread_that_ran_the_model(predictor):
    seen = {}

    def work():
        predictor.predict(np.zeros((64, 64), np.uint8))
        seen["id"] = threading.get_ident()

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert predictor.last_thread == seen["id"] != threading.get_ident()


def test_explicit_unavailable_device_is_refused(tiny_checkpoint):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(RuntimeError, match="not available"):
        Predictor.from_checkpoint(tiny_checkpoint, device="cuda")


@pytest.mark.cuda
def test_cuda_matches_cpu(tiny_checkpoint):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    img = np.random.default_rng(1).integers(0, 255, (200, 200), dtype=np.uint8)
    cpu = Predictor.from_checkpoint(tiny_checkpoint, device="cpu").predict(img)
    gpu = Predictor.from_checkpoint(tiny_checkpoint, device="cuda").predict(img)
    assert abs(cpu.fraction_mask - gpu.fraction_mask) < 0.02


def test_embryo_count_of_the_coarse_pass():
    from model.predictor import _embryo_count

    fg = np.zeros((64, 64), bool)
    fg[10:30, 10:30] = True  # one embryo
    fg[12:16, 34:38] = True  # a fragment beside it: too small
    assert _embryo_count(fg) == 1
    fg[24:34, 24:40] = True  # a split-off cell within reach: still one embryo
    assert _embryo_count(fg) == 1
    tiles = np.zeros((64, 64), bool)
    for y in (2, 36):
        for x in (2, 36):
            tiles[y:y + 22, x:x + 22] = True
    assert _embryo_count(tiles) == 4
    assert _embryo_count(np.zeros((8, 8), bool)) == 0


def test_a_tiled_image_of_real_embryos_is_not_graded_as_one(real_data):
    """The bundled model's coarse pass sees several embryos; one real frame alone is one."""
    from app.core.embryo_presence import SEVERAL, presence_of
    from app.core.resources import bundled_model_path

    p = Predictor.from_checkpoint(bundled_model_path(), device="cpu", threads=1)
    frames = [read_image(x) for x in list_images(real_data / "images")][:4]
    if len(frames) < 2:
        pytest.skip("needs two real frames")
    assert presence_of(p.predict(frames[0])) is None
    pair = p.predict(np.hstack(frames[:2]))
    assert presence_of(pair) == SEVERAL and "2 embryo-sized objects" in pair.warnings[0]
