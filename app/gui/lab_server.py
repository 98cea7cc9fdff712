"""The window's lab server: Settings → Lab server…, the store for a folder, and the status bar.

``install_lab_server(window)`` adds the menu entry and a permanent status-bar
label. When a server URL is set, ``open_store(folder)`` returns a
``ServerStore`` that touches no network on the GUI thread: a worker thread
connects, sends the local journal and refreshes the index (right away and
every ``SYNC_MS``); the GUI thread then only reads memory to update the
label, the folder list's statuses, and to show who else changed an image.
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
            self.window.settings.qs.setValue(KEY, dlg.url)
            self.window.settings.sync()
            self.password = dlg.password
            self._show_url()
            self.window.show_message("lab server set: it applies to the next folder you open"
                                     if dlg.url else "corrections stay in each image folder")

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
        # The folder list shows reviewed/corrected from the store: corrections made on other
        # workstations appear as the index learns of them (memory only, no network here).
        from app.gui import editing_integration

        # The editing part's store-status -> list-status map (named SHOWN_STATUS since its rework).
        shown = getattr(editing_integration, "SHOWN_STATUS", None) or editing_integration.LIST_STATUS
        model = self.window.folder_panel.model
        for entry in list(model.entries):
            rev = store.current(entry.sha256, masks=False) if entry.sha256 in store else None
            status = shown.get(rev.status) if rev is not None else None
            if rev is not None and status != entry.review_status:
                entry.review_status = status
                model.entry_changed(entry.path)


def install_lab_server(window) -> LabServer:
    return LabServer(window)
