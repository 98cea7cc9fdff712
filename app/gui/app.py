"""Creating the QApplication, the splash while the model loads, and running the window."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QSplashScreen

from app.core.resources import demo_images_dir
from app.version import APP_NAME, RESEARCH_NOTICE, __version__

SAMPLES = demo_images_dir()


def get_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
        app.setApplicationName(APP_NAME)
        app.setOrganizationName("EmbryoGrade")
        app.setApplicationVersion(__version__)
    return app


def make_splash() -> QSplashScreen:
    pix = QPixmap(460, 200)
    pix.fill(QColor("#202124"))
    p = QPainter(pix)
    p.setPen(QColor("white"))
    f = QFont()
    f.setPointSize(20)
    f.setBold(True)
    p.setFont(f)
    p.drawText(pix.rect().adjusted(0, 40, 0, 0), Qt.AlignmentFlag.AlignHCenter, APP_NAME)
    f.setPointSize(10)
    f.setBold(False)
    p.setFont(f)
    p.drawText(pix.rect().adjusted(0, 90, 0, 0), Qt.AlignmentFlag.AlignHCenter,
               f"version {__version__} · {RESEARCH_NOTICE}")
    p.end()
    splash = QSplashScreen(pix)
    splash.showMessage("loading the model…", Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignHCenter,
                       QColor("#bbbbbb"))
    return splash


def create_window(settings=None, device: str | None = None, model: str | None = None, editing: bool = True):
    """The main window with its parts installed: lab server, mask editing, report export, fine-tuning.

    Each part is installed on its own; one that fails to install is reported
    in the status bar and the rest of the window keeps working.
    """
    from app.gui.editing_integration import install_editing
    from app.gui.export_dialog import install_export
    from app.gui.finetuning import install_finetuning
    from app.gui.lab_server import install_lab_server
    from app.gui.main_window import MainWindow

    win = MainWindow(settings=settings, device=device, model_path=model)
    # The lab server first: the editing part asks it for each folder's store.
    parts = [("lab_server", "lab server", install_lab_server),
             ("editing", "mask editing", install_editing if editing else None),
             ("export", "report export", install_export),
             ("finetuning", "fine-tuning", install_finetuning)]
    for attr, label, install in parts:
        setattr(win, attr, None)
        if install is None:
            continue
        try:
            setattr(win, attr, install(win))
        except Exception as exc:  # the viewer still works without this part
            win.show_message(f"⚠ {label} unavailable: {type(exc).__name__}: {exc}")
    return win


def run_gui(folder: str | None = None, model: str | None = None, device: str | None = None,
            settings=None, exec_loop: bool = True):
    """Show the window on ``folder`` (default: the demo images). Returns the exit code, or the window."""
    app = get_app()
    splash = make_splash()
    splash.show()
    app.processEvents()

    win = create_window(settings=settings, device=device, model=model)  # imports behind the splash
    target = Path(folder) if folder else SAMPLES
    if not target.is_dir() and not folder:
        last = win.settings.last_folder()
        target = Path(last) if last and Path(last).is_dir() else None
    if target is not None:
        win.open_folder(target)
    else:
        win.show_message("no demo images found: File → Open folder…, or drop a folder on the window")

    def done(*_a):
        splash.finish(win)

    win.model_choice.loaded.connect(done)
    win.model_choice.failed.connect(done)
    QTimer.singleShot(8000, win, done)  # never keep the splash up for long (cancelled with the window)
    win.show()
    if not exec_loop:
        return win
    return app.exec()
