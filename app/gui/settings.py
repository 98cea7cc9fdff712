"""Persistent user settings (QSettings, INI format), typed.

Everything the window remembers goes through this class, so the keys are
in one place. Tests redirect the file with ``Settings(path=tmp / "x.ini")``
or with ``redirect_user_settings(tmp)`` (which points QSettings' user scope
at a temp folder for every ``Settings()`` made afterwards).
"""

from __future__ import annotations

import os

from PySide6.QtCore import QByteArray, QSettings

from app.version import APP_NAME

MAX_RECENT = 10
ORG = "EmbryoGrade"


def redirect_user_settings(folder) -> None:
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, os.fspath(folder))


class Settings:
    def __init__(self, path=None):
        if path is not None:
            self.qs = QSettings(os.fspath(path), QSettings.Format.IniFormat)
        else:
            self.qs = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORG, APP_NAME)

    # -- generic --------------------------------------------------------------------------
    def _get(self, key: str, default, typ):
        v = self.qs.value(key, default)
        if v is None:
            return default
        try:
            if typ is bool:
                return v if isinstance(v, bool) else str(v).lower() in ("1", "true", "yes")
            return typ(v)
        except (TypeError, ValueError):
            return default

    def sync(self) -> None:
        self.qs.sync()

    @property
    def file_name(self) -> str:
        return self.qs.fileName()

    # -- window ---------------------------------------------------------------------------
    def geometry(self) -> QByteArray | None:
        v = self.qs.value("window/geometry")
        return v if isinstance(v, QByteArray) else None

    def set_geometry(self, data: QByteArray) -> None:
        self.qs.setValue("window/geometry", data)

    def window_state(self) -> QByteArray | None:
        v = self.qs.value("window/state")
        return v if isinstance(v, QByteArray) else None

    def set_window_state(self, data: QByteArray) -> None:
        self.qs.setValue("window/state", data)

    # -- folders --------------------------------------------------------------------------
    def last_folder(self) -> str:
        return self._get("folders/last", "", str)

    def recent_folders(self) -> list[str]:
        v = self.qs.value("folders/recent", [])
        if isinstance(v, str):
            v = [v] if v else []
        return [str(x) for x in (v or [])][:MAX_RECENT]

    def add_recent_folder(self, folder: str) -> None:
        folder = os.fspath(folder)
        rec = [f for f in self.recent_folders() if f != folder]
        self.qs.setValue("folders/recent", [folder, *rec][:MAX_RECENT])
        self.qs.setValue("folders/last", folder)

    # -- overlays -------------------------------------------------------------------------
    def mask_opacity(self) -> float:
        return self._get("overlay/mask_opacity", 0.45, float)

    def set_mask_opacity(self, v: float) -> None:
        self.qs.setValue("overlay/mask_opacity", float(v))

    def attention_opacity(self, gate: str) -> float:
        return self._get(f"overlay/attention_{gate}", 0.0, float)

    def set_attention_opacity(self, gate: str, v: float) -> None:
        self.qs.setValue(f"overlay/attention_{gate}", float(v))

    def outline(self) -> bool:
        return self._get("overlay/outline", False, bool)

    def set_outline(self, v: bool) -> None:
        self.qs.setValue("overlay/outline", bool(v))

    # -- model ----------------------------------------------------------------------------
    def device(self) -> str:
        return self._get("model/device", "auto", str)

    def set_device(self, v: str) -> None:
        self.qs.setValue("model/device", v)

    def model_path(self) -> str:
        """'' means the bundled model."""
        return self._get("model/path", "", str)

    def set_model_path(self, v: str) -> None:
        self.qs.setValue("model/path", os.fspath(v) if v else "")

    def scheme(self) -> str:
        return self._get("grading/scheme", "istanbul", str)

    def set_scheme(self, v: str) -> None:
        self.qs.setValue("grading/scheme", v)
