"""installers/embryograde.spec carries the lab server (psycopg with its binary libpq, the SQL
migrations), and a frozen bundle finds the migrations where the spec puts them. Runs without
PyInstaller: the spec's own functions are executed, the frozen layout is rebuilt from them."""

from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "installers" / "embryograde.spec"


def _tree() -> ast.Module:
    return ast.parse(SPEC.read_text("utf-8"))


def _spec_function(name: str):
    fn = next(n for n in _tree().body if isinstance(n, ast.FunctionDef) and n.name == name)
    scope = {"ROOT": ROOT, "Path": Path}
    exec(compile(ast.Module([fn], []), str(SPEC), "exec"), scope)
    return scope[name]


def _collected(call_name: str) -> set[str]:
    """The package names passed to collect_submodules / collect_dynamic_libs anywhere in the spec."""
    return {n.args[0].value for n in ast.walk(_tree())
            if isinstance(n, ast.Call) and getattr(n.func, "id", None) == call_name
            and n.args and isinstance(n.args[0], ast.Constant)}


def _analysis_keywords() -> dict[str, str]:
    call = next(n for n in ast.walk(_tree()) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "Analysis")
    return {k.arg: ast.unparse(k.value) for k in call.keywords}


def _hidden_names() -> set[str]:
    return {n.value for n in ast.walk(_tree()) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def test_spec_collects_psycopg_and_its_binary_wrapper():
    import importlib
    import pkgutil

    import psycopg

    assert psycopg.pq.__impl__ == "binary"  # the wrapper the requirements install is the one bundled
    assert "psycopg" in _collected("collect_submodules")
    assert "psycopg_binary" in _collected("collect_dynamic_libs")
    binary = importlib.import_module("psycopg_binary")
    modules = {f"psycopg_binary.{m.name}" for m in pkgutil.iter_modules(binary.__path__)}
    assert {"psycopg_binary", *modules} <= _hidden_names()  # every module, extensions included
    kw = _analysis_keywords()
    assert "lab_server_binaries" in kw["binaries"] and "server_sql_datas()" in kw["datas"]


def test_spec_ships_every_migration_where_the_frozen_app_looks(tmp_path, monkeypatch):
    from app.core import server_schema

    datas = _spec_function("server_sql_datas")()
    shipped = sorted(Path(src).name for src, _dest in datas)
    assert shipped == sorted(p.name for p in (ROOT / "app" / "core" / "server_sql").glob("*.sql"))
    assert shipped and all(dest == server_schema.SQL_RELATIVE for _src, dest in datas)
    # The bundle's contents folder as PyInstaller lays it out from these entries.
    bundle = tmp_path / "_internal"
    for src, dest in datas:
        (bundle / dest).mkdir(parents=True, exist_ok=True)
        shutil.copy(src, bundle / dest)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    found = server_schema.migrations()
    assert [p.parent for _v, p in found] == [bundle / "app" / "core" / "server_sql"] * len(datas)
    assert found[-1][0] == server_schema.SCHEMA_VERSION
