"""The window's lab server: Settings → Lab server…, the store for a folder, and the status bar.

``install_lab_server(window)`` adds the menu entry and a permanent status-bar
label. When a server URL is set, ``open_store(folder)`` returns a
``ServerStore`` that touches no network on the GUI thread: a worker thread
connects, sends the local journal and refreshes the index (right away and
every ``SYNC_MS``); the GUI thread then only reads memory to update the
label, the folder list's statuses, and to show who else changed an image.

The other parts of the window (export, review queue, fine-tuning) ask here
for the folder's store (``window_store``, ``open_readonly``, ``store_spec``)
and never learn which kind it is. Changing the server in the dialog applies
to the open folder at once (``EditingIntegration.reopen_store``).
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel

from app.gui.lab_server_dialog import LabServerDialog

SYNC_MS = 15_000
KEY = "lab_server/url"


class LabServer(QObject):
    synced = Signal(object)  # the store, after a sync in the worker

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.password: str | None = None  # typed in the dialog; never written anywhere
        self.store = None
        self._busy = threading.Lock()
        self.label = QLabel("")
        window.statusBar().addPermanentWidget(self.label)
        menu = next((a.menu() for a in window.menuBar().actions() if a.text() == "&Settings"), None)
        if menu is None:
            menu = window.menuBar().addMenu("&Settings")
        self.action = QAction("Lab server…", window)
        self.action.triggered.connect(self.configure)
        menu.addAction(self.action)
        self.synced.connect(self._on_synced)
        self.timer = QTimer(self)
        self.timer.setInterval(SYNC_MS)
        self.timer.timeout.connect(self.sync_soon)
        self.timer.start()
        self._show_url()

    @property
    def url(self) -> str:
        return str(self.window.settings.qs.value(KEY, "") or "")

    def _show_url(self) -> None:
        from app.core.store_api import describe

        self.label.setText(f"lab server: {describe(self.url)}" if self.url else "")

    def configure(self) -> None:
        dlg = LabServerDialog(self.url, self.password, self.window)
        if dlg.exec():
            self.apply(dlg.url, dlg.password)

    def apply(self, url: str, password: str | None) -> None:
        """Use ``url`` ('' = each folder's own file) from now on, for the open folder too."""
        before = (self.url, self.password)
        self.window.settings.qs.setValue(KEY, url)
        self.window.settings.sync()
        self.password = password
        self._show_url()
        editing = getattr(self.window, "editing", None)
        if (url, password) != before and editing is not None and editing.reopen_store():
            return  # the editing part says where the folder's corrections go now
        self.window.show_message(f"lab server set: {self.label.text()}" if url
                                 else "corrections stay in each image folder")

    def model_recorder(self):
        """For ``Registry.recorder``: model changes logged on the lab server (None: no server)."""
        if not self.url:
            return None
        from app.core.server_models import recorder

        return recorder(self.url, self.password, ask_password=lambda _where: self.password)

    # ---- the folder's store, for the window's other parts ----------------------------------
    def store_spec(self, folder: Path):
        """What names ``folder``'s store for this window: the lab server's URL or the folder's file."""
        from app.core.store import default_store_path

        return self.url or default_store_path(folder)

    def window_store(self, folder: Path):
        """The store the window holds open for ``folder`` (the editing part's), or None."""
        store = getattr(getattr(self.window, "editing", None), "store", None)
        if store is not None and Path(store.folder).resolve() == Path(folder).resolve():
            return store
        return None

    def open_readonly(self, folder: Path):
        """A read-only store of ``folder``; call it from a worker (a server store connects)."""
        from app.core.store_api import open_for_folder

        return open_for_folder(folder, self.url or None, readonly=True, password=self.password,
                               ask_password=lambda _where: self.password)

    def open_store(self, folder: Path):
        """The folder's store for this window: the lab server's (no network here) or the folder's file."""
        from app.core.store_api import open_for_folder

        if not self.url:
            self.store = None
            return open_for_folder(folder)
        self.store = open_for_folder(folder, self.url, connect=False, password=self.password,
                                     ask_password=lambda _where: self.password)
        self.sync_soon()
        return self.store

    def sync_soon(self) -> None:
        store = self.store
        if store is None or getattr(store, "_closed", False) or not self._busy.acquire(blocking=False):
            return

        def work():
            try:
                store.sync()
            finally:
                self._busy.release()
                self.synced.emit(store)

        threading.Thread(target=work, name="lab-server-sync", daemon=True).start()

    def _on_synced(self, store) -> None:
        if store is not self.store:
            return
        msg = store.status_message()
        self.label.setText(msg or f"lab server: {store.path} ✓")
        for note in store.take_notices():
            self.window.show_message(f"⚠ {note}")
        self._refresh_statuses(store)

    def _refresh_statuses(self, store) -> None:
        # The folder list shows the store's review of each image: corrections made on other
        # workstations appear as the index learns of them (memory only, no network here).
        # A new revision can keep the status and change only the fraction, grade or name, so
        # the whole summary is compared and set, as after a local save.
        from app.core.review_summary import ReviewSummary, of_revision

        model = self.window.folder_panel.model
        editing = getattr(self.window, "editing", None)
        for entry in list(model.entries):
            rev = store.current(entry.sha256, masks=False) if entry.sha256 in store else None
            if rev is None:
                continue
            summary = of_revision(rev)
            shown = (ReviewSummary(entry.review_status, entry.review_fraction, entry.review_grade,
                                   entry.review_by) if entry.review_status is not None else None)
            if summary != shown:
                entry.set_review(summary)
                model.entry_changed(entry.path)
                if editing is not None and getattr(editing, "store", None) is store:
                    editing.note_review(entry.sha256, entry.path, summary)


def install_lab_server(window) -> LabServer:
    return LabServer(window)
