"""GUI test fixtures: QSettings redirected to a temp folder, a folder of images, the window."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.core.imaging import write_png


@pytest.fixture(autouse=True)
def _settings_in_tmp(tmp_path, monkeypatch):
    from app.gui.settings import redirect_user_settings

    redirect_user_settings(tmp_path / "qsettings")
    monkeypatch.setenv("EMBRYOGRADE_DATA_DIR", str(tmp_path / "userdata"))


@pytest.fixture
def settings(tmp_path):
    from app.gui.settings import Settings

    return Settings(tmp_path / "settings.ini")


def embryo_like(seed: int, size: int = 96, dtype=np.uint8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.full((size, size), 150, np.float32)
    c = size // 2
    cv2.circle(img, (c, c), size // 3, 90, -1)
    for _ in range(4):
        x, y = rng.integers(size // 4, 3 * size // 4, 2)
        cv2.circle(img, (int(x), int(y)), int(rng.integers(3, size // 8)), 60, -1)
    img += rng.normal(0, 8, img.shape)
    top = 65535 if dtype == np.uint16 else 255
    return np.clip(img * (top / 255.0), 0, top).astype(dtype)


def make_folder(path, n: int = 4, broken: bool = False):
    path.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        write_png(path / f"D2024.01.02_S0001_I1_WELL{i + 1}_RUN1_{20 + i}.5h.png", embryo_like(i))
    if broken:
        (path / "broken.png").write_bytes(b"this is not a png")
    return path


@pytest.fixture
def image_folder(tmp_path):
    return make_folder(tmp_path / "images", 4)


@pytest.fixture
def make_window(qtbot, settings, tiny_checkpoint):
    """Factory: a MainWindow on the tiny model (CPU), shown, with its model loaded."""
    from app.gui.main_window import MainWindow
    from tests.gui.window_driver import close_windows, show_window

    made = []

    def make(model_path=None, wait_model=True):
        w = MainWindow(settings=settings, device="cpu", model_path=str(model_path or tiny_checkpoint))
        made.append(w)
        return show_window(qtbot, w, wait_model)

    yield make
    close_windows(made)
