"""Who is annotating: asked once, remembered in QSettings, stamped on every saved revision.

Records are meant to be attributable (21 CFR 11-style audit trail), so a
save without a name is refused rather than stored as "unknown".
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QInputDialog, QLineEdit, QWidget

KEY = "annotation/annotator"


def _settings(settings: QSettings | None) -> QSettings:
    if settings is not None:
        return settings
    from app.gui.settings import Settings  # the app's one settings file

    return Settings().qs


def stored_name(settings: QSettings | None = None) -> str:
    v = _settings(settings).value(KEY, "")
    return str(v or "").strip()


def set_name(name: str, settings: QSettings | None = None) -> None:
    qs = _settings(settings)
    qs.setValue(KEY, name.strip())
    qs.sync()


def ask_name(parent: QWidget | None = None, current: str = "") -> str | None:
    text, ok = QInputDialog.getText(
        parent, "Annotator",
        "Your name or initials, stored with every correction you save:",
        QLineEdit.EchoMode.Normal, current)
    return text.strip() if ok and text.strip() else None


class Annotator:
    """``annotator()`` returns the name, asking once if none is stored yet."""

    def __init__(self, parent: QWidget | None = None, settings: QSettings | None = None,
                 prompt: Callable[[QWidget | None, str], str | None] = ask_name):
        self.parent = parent
        self.settings = settings
        self.prompt = prompt

    def __call__(self) -> str | None:
        name = stored_name(self.settings)
        if not name:
            name = self.change()
        return name or None

    def change(self) -> str | None:
        """Ask again (menu "Change annotator…")."""
        name = self.prompt(self.parent, stored_name(self.settings))
        if name:
            set_name(name, self.settings)
        return name
