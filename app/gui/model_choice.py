"""Device and model selection (the Model menu) and loading the model off the GUI thread.

The choice is remembered in Settings: device ``auto|cpu|cuda|mps`` and a
checkpoint path ('' = the bundled ``resources/models/default.pt``). Loading
runs in a worker; the result arrives as ``loaded(Predictor)`` or
``failed(message)`` (e.g. a CheckpointError, or no bundled model yet); the
window keeps working as a viewer meanwhile.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QFileDialog, QMenu

from app.core.registry import active_model_path
from app.core.resources import bundled_model_path
from app.gui.workers import GeneratorWorker, make_pool, start
from model.device import DEVICE_CHOICES, available_devices


def load_predictor(path: Path, device: str):
    """Runs in a worker thread."""
    from model.checkpoint import CheckpointError
    from model.predictor import Predictor

    if not Path(path).is_file():
        if Path(path) == bundled_model_path():
            raise CheckpointError(f"no model available: the bundled model {path} is not installed. "
                                  "Choose a checkpoint with Model → Open checkpoint…; "
                                  "meanwhile the images can be viewed.")
        raise CheckpointError(f"{path}: checkpoint file not found")
    yield f"loading {Path(path).name}"
    return Predictor.from_checkpoint(path, device=device)


class ModelChoice(QObject):
    loading = Signal(str)
    loaded = Signal(object)  # Predictor
    failed = Signal(str)

    def __init__(self, settings, parent_widget=None, device: str | None = None, model_path: str | None = None):
        super().__init__(parent_widget)
        self.settings = settings
        self.parent_widget = parent_widget
        self.device = (device or settings.device() or "auto").lower()
        if self.device not in DEVICE_CHOICES:
            self.device = "auto"
        self.model_path = model_path if model_path is not None else settings.model_path()
        self.menu = QMenu("&Model", parent_widget)
        self._worker = None
        self.pool = make_pool(1, "model-loading")  # private: never queued behind others' work
        self._build_menu()

    @property
    def checkpoint(self) -> Path:
        return Path(self.model_path) if self.model_path else active_model_path()

    def _build_menu(self) -> None:
        self.menu.addSection("Device")
        group = QActionGroup(self)
        avail = set(available_devices())
        self.device_actions: dict[str, QAction] = {}
        for d in DEVICE_CHOICES:
            a = QAction(d.upper() if d != "auto" else "Auto", self.menu, checkable=True)
            a.setEnabled(d == "auto" or d in avail)
            if not a.isEnabled():
                a.setToolTip(f"{d} is not available on this machine")
            a.setChecked(d == self.device)
            a.triggered.connect(lambda _c=False, d=d: self.set_device(d))
            group.addAction(a)
            self.menu.addAction(a)
            self.device_actions[d] = a
        self.menu.addSection("Model")
        self.bundled_action = QAction("Bundled model", self.menu)
        self.bundled_action.triggered.connect(lambda: self.set_model_path(""))
        self.open_action = QAction("Open checkpoint…", self.menu)
        self.open_action.triggered.connect(self.ask_checkpoint)
        self.menu.addAction(self.bundled_action)
        self.menu.addAction(self.open_action)

    def set_device(self, device: str) -> None:
        self.device = device
        self.settings.set_device(device)
        if device in self.device_actions:
            self.device_actions[device].setChecked(True)
        self.load()

    def set_model_path(self, path: str) -> None:
        self.model_path = str(path) if path else ""
        self.settings.set_model_path(self.model_path)
        self.load()

    def ask_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.parent_widget, "Open model checkpoint",
                                              str(self.checkpoint.parent), "Checkpoints (*.pt *.pth);;All files (*)")
        if path:
            self.set_model_path(path)

    def load(self) -> None:
        """(Re)load the chosen model in the background."""
        if self._worker is not None:
            self._worker.cancel()
        self.loading.emit(f"loading model {self.checkpoint.name} on {self.device}…")
        w = GeneratorWorker(load_predictor, self.checkpoint, self.device)
        w.signals.returned.connect(self._on_loaded)
        w.signals.errored.connect(self._on_failed)
        self._worker = w
        start(w, self.pool)

    @Slot(object)
    def _on_loaded(self, predictor) -> None:
        if self.sender() is not None and self._worker is not None and self.sender() is not self._worker.signals:
            return  # superseded by a newer choice
        self.loaded.emit(predictor)

    @Slot(object)
    def _on_failed(self, exc) -> None:
        if self.sender() is not None and self._worker is not None and self.sender() is not self._worker.signals:
            return
        self.failed.emit(str(exc))
