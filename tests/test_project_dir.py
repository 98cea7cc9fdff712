"""Where a folder's project data goes: inside it when it can be written, else per user."""

from __future__ import annotations

from app.core import project_dir as pd


def test_writable_folder_keeps_its_data_inside(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBRYOGRADE_DATA_DIR", str(tmp_path / "user"))
    images = tmp_path / "images"
    images.mkdir()
    assert pd.project_dir(images) == images.resolve() / pd.PROJECT_DIRNAME
    # The write probe leaves nothing behind, in the folder or in the project dir.
    assert [p.name for p in images.iterdir()] == [pd.PROJECT_DIRNAME]
    assert pd.project_dir(images) == images.resolve() / pd.PROJECT_DIRNAME
    assert list((images / pd.PROJECT_DIRNAME).iterdir()) == []


def test_folder_that_refuses_a_file_uses_the_user_data_dir(tmp_path, monkeypatch):
    # Root passes os.access everywhere, so the folder is tried, not asked;
    # here the try fails as on a read-only share.
    monkeypatch.setenv("EMBRYOGRADE_DATA_DIR", str(tmp_path / "user"))
    images = tmp_path / "share"
    images.mkdir()

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(pd.tempfile, "mkstemp", refuse)
    got = pd.project_dir(images)
    assert got.parent == tmp_path / "user" / "projects" and got.name.startswith("share-")
    assert got.is_dir() and list(images.iterdir()) == []
    # Same folder, same place: the key is the folder's absolute path.
    assert pd.project_dir(images) == got
