"""Settings → Lab server…: where this window keeps corrections (the folder's file or the lab server).

The URL goes to the settings file; a password never does: libpq finds it in
``~/.pgpass`` or a service file, or the user types it here and it stays in
memory until the app closes. "Test" connects from a worker thread.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)

HELP = ("Empty: corrections stay in each image folder (one workstation).<br>"
        "A lab server: <tt>postgresql://server/embryograde</tt>; add <tt>?sslmode=verify-full</tt> "
        "for TLS. Your user name and password come from <tt>~/.pgpass</tt> or a service file "
        "(<tt>postgresql:///?service=lab</tt>), or type the password below: it is kept in memory only. "
        "Applies at once, to the open folder too (its unsaved edits are saved first). "
        "See docs/lab-server.md.")


class _Relay(QObject):
    done = Signal(str)


class LabServerDialog(QDialog):
    def __init__(self, url: str, password: str | None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Lab server")
        self.url_edit = QLineEdit(url)
        self.url_edit.setPlaceholderText("postgresql://server/embryograde  (empty: this folder only)")
        self.password_edit = QLineEdit(password or "")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setPlaceholderText("only if ~/.pgpass has none")
        self.result_label = QLabel("")
        self.result_label.setWordWrap(True)
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.test)
        form = QFormLayout()
        form.addRow("Server URL", self.url_edit)
        form.addRow("Password", self.password_edit)
        hint = QLabel(HELP)
        hint.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        for w in (hint,):
            lay.addWidget(w)
        lay.addLayout(form)
        lay.addWidget(self.test_button)
        lay.addWidget(self.result_label)
        lay.addWidget(buttons)
        self._relay = _Relay(self)
        self._relay.done.connect(self._tested)

    @property
    def url(self) -> str:
        return self.url_edit.text().strip()

    @property
    def password(self) -> str | None:
        return self.password_edit.text() or None

    def problem(self) -> str:
        """Why the URL cannot be saved ('' when it can)."""
        from app.core.server_schema import has_password
        from app.core.store_api import is_server_url

        if not self.url:
            return ""
        if not is_server_url(self.url):
            return "the URL must start with postgresql://"
        if has_password(self.url):
            return "remove the password from the URL: it would be written to the settings file"
        return ""

    def accept(self) -> None:
        msg = self.problem()
        if msg:
            self.result_label.setText(f"⚠ {msg}")
            return
        super().accept()

    def test(self) -> None:
        msg = self.problem() or ("" if self.url else "no server set: corrections stay in the folder")
        if msg:
            self.result_label.setText(msg)
            return
        self.test_button.setEnabled(False)
        self.result_label.setText("connecting…")
        url, password, relay = self.url, self.password, self._relay
        threading.Thread(target=lambda: relay.done.emit(check_connection(url, password)), daemon=True).start()

    def _tested(self, text: str) -> None:
        self.test_button.setEnabled(True)
        self.result_label.setText(text)


def check_connection(url: str, password: str | None) -> str:
    """One line: who we are on the server and whether the app can write there (worker thread)."""
    from app.core.server_schema import ServerError, check_schema, connect, redact

    try:
        with connect(url, password) as conn:
            check_schema(conn)
            user = conn.execute("SELECT session_user").fetchone()[0]
            ssl = conn.pgconn.ssl_in_use
        return f"✓ connected to {redact(url)} as {user}{' (TLS)' if ssl else ' (no TLS)'}"
    except ServerError as exc:
        return f"⚠ {exc}"
    except Exception as exc:  # the server's own refusal: shown, never a crash
        return f"⚠ {str(exc).strip() or type(exc).__name__}"
