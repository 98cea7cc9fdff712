"""Model → Fine-tune from corrections…, Models…, rollback and the review-queue dock on the window.

``install_finetuning(window)`` adds them; the dialog itself is ``finetune_dialog.FineTuneDialog``.
"""

from __future__ import annotations

from pathlib import Path

from app.core.registry import Registry
from app.gui.finetune_dialog import FineTuneDialog


class FineTuning:
    """What ``install_finetuning`` adds to a window; kept as ``window.finetuning``."""

    def __init__(self, window, registry: Registry | None = None):
        from PySide6.QtCore import Qt
        from PySide6.QtGui import QAction

        from app.gui.review_queue_panel import ReviewQueuePanel

        self.window, self.registry, self.dialog = window, registry or Registry(), None
        menu = window.model_choice.menu
        menu.addSection("Fine-tuning")
        self.finetune_action = QAction("Fine-tune from corrections…", window)
        self.models_action = QAction("Models…", window)
        self.rollback_action = QAction("Roll back to the previous model", window)
        self.finetune_action.triggered.connect(self.open_finetune)
        self.models_action.triggered.connect(self.open_models)
        self.rollback_action.triggered.connect(self.rollback)
        for a in (self.finetune_action, self.models_action, self.rollback_action):
            menu.addAction(a)
        self.queue_panel = ReviewQueuePanel(window)
        self.queue_panel.source = self._queue_source
        self.queue_panel.path_selected.connect(window.folder_panel.select_path)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.queue_panel)
        # Hidden until asked for (Model → Review queue): docked open, it takes
        # the width the image needs on a 1366-1600 px workstation screen.
        self.queue_panel.hide()
        toggle = self.queue_panel.toggleViewAction()
        toggle.setText("Review queue (most uncertain first)")
        menu.addAction(toggle)
        self.queue_panel.visibilityChanged.connect(self._queue_shown)
        window.controller.folder_opened.connect(lambda _f: self.queue_panel.refresh())
        window.model_choice.loaded.connect(lambda _p: self.queue_panel.refresh())
        # Refreshing on every result would re-read the folder per image; once a batch ends is enough.
        window.queue.batch_finished.connect(lambda _c: self.queue_panel.refresh())

    def _queue_shown(self, visible: bool) -> None:
        if visible:
            self.queue_panel.refresh()

    def _store_path(self) -> Path | str | None:
        """The folder's store as the window names it: the lab server's URL or the folder's file."""
        from app.core.store import default_store_path

        folder, lab = self.window.controller.folder, getattr(self.window, "lab_server", None)
        if folder is None:
            return None
        return lab.store_spec(folder) if lab is not None else default_store_path(folder)

    def _queue_store(self, folder: Path):
        """The window's open store of the folder, else an opener the queue's worker calls."""
        from app.core.store_api import open_for_folder

        lab = getattr(self.window, "lab_server", None)
        if lab is not None:
            return lab.window_store(folder) or (lambda: lab.open_readonly(folder))
        return lambda: open_for_folder(folder, readonly=True)

    def _queue_source(self):
        c = self.window.controller
        if c.folder is None:
            return None
        paths = [e.path for e in self.window.folder_panel.model.entries]
        version = c.predictor.version if c.predictor is not None else None
        return paths, c.cache, version, self._queue_store(c.folder)

    def _sync_recorder(self) -> None:
        # Model changes are the lab's when the window works against a lab server (lab admins only).
        lab = getattr(self.window, "lab_server", None)
        self.registry.recorder = lab.model_recorder() if lab is not None else None

    def open_finetune(self) -> FineTuneDialog | None:
        self._sync_recorder()
        store = self._store_path()
        if store is None:
            self.window.show_message("open a folder first: fine-tuning learns from its corrections")
            return None
        if self.dialog is not None and self.dialog.is_running():
            self.dialog.raise_()
            return self.dialog
        from PySide6.QtWidgets import QApplication

        self.dialog = FineTuneDialog(store, self.registry, parent=self.window, read_in_worker=True)
        self.dialog.model_activated.connect(self._use_model)
        # Quitting mid-training must end the trainer the clean way, not leave an orphan.
        QApplication.instance().aboutToQuit.connect(self.dialog.close)
        self.dialog.show()  # modeless: grading and editing go on while it trains
        return self.dialog

    def open_models(self):
        from app.gui.model_registry_dialog import ModelRegistryDialog

        self._sync_recorder()
        d = ModelRegistryDialog(self.registry, self.window)
        d.active_changed.connect(self._use_model)
        d.show()
        return d

    def rollback(self) -> None:
        from app.core.registry import RegistryError
        from app.gui.workers import GeneratorWorker, start

        self._sync_recorder()
        if self.registry.recorder is None:
            try:
                e = self.registry.rollback()
            except RegistryError as exc:
                self.window.show_message(f"⚠ {exc}")
                return
            self._use_model(self.registry.path_of(e))
            return
        self.window.show_message("rolling back: recording it on the lab server…")
        w = GeneratorWorker(self.registry.rollback)  # a round trip, and a lab admin's decision
        w.signals.returned.connect(lambda e: self._use_model(self.registry.path_of(e)))
        w.signals.errored.connect(lambda exc: self.window.show_message(f"⚠ {exc}"))
        self._rollback_worker = w
        start(w)

    def _use_model(self, path) -> None:
        # '' is the window's own spelling of "the bundled model".
        bundled = Path(path) == self.registry.bundled_path
        self.window.model_choice.set_model_path("" if bundled else str(path))
        self.window.show_message(f"model {Path(path).stem if not bundled else 'bundled'} is now active")


def install_finetuning(window) -> FineTuning:
    """Add "Fine-tune from corrections…", "Models…", rollback and the review-queue dock to a MainWindow.

    Uses only public attributes: ``model_choice`` (menu, loaded, set_model_path), ``controller``
    (folder, cache, predictor, folder_opened), ``queue.batch_finished``, ``folder_panel`` (model.entries,
    select_path), ``addDockWidget``, ``show_message``.
    """
    window.finetuning = FineTuning(window)
    return window.finetuning
