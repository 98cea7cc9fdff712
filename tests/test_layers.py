"""model/ and the Qt-free core must never load Qt: the CLI and training run headless."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _modules(package: str) -> list[str]:
    base = ROOT / package.replace(".", "/")
    return sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in base.rglob("*.py")
        if p.name != "__init__.py"
    )


def test_qt_free_layers_import_no_qt():
    mods = _modules("model") + _modules("app.core") + _modules("app.cli") + ["main"]
    code = (
        "import sys, importlib\n"
        f"for m in {mods!r}:\n"
        "    importlib.import_module(m)\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_model_package_imports_nothing_from_app_but_version():
    offenders = []
    for path in (ROOT / "model").rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            s = line.strip()
            if (s.startswith("from app") or s.startswith("import app")) and "app.version" not in s:
                offenders.append(f"{path.relative_to(ROOT)}: {s}")
    assert not offenders, offenders
