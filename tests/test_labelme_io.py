"""labelme codec: exact agreement with the CleavageEmbryo masks and exact round trips."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.core.imaging import read_image
from app.core.labelme_io import mask_to_shapes, rasterize, read_labelme, write_labelme

# The shared real frames, beside the checkout (as in conftest.REAL_DATA).
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cleavage-embryo"
needs_data = pytest.mark.skipif(not (DATA / "labelme").is_dir(), reason="real data absent")


@needs_data
def test_real_labelme_rasterises_to_the_published_masks():
    files = sorted((DATA / "labelme").glob("*.json"))
    assert files
    for f in files:
        ann = read_labelme(f)
        ref = read_image(DATA / "masks" / f"{f.stem}.png")
        assert ann.image.shape == ref.shape
        assert np.array_equal(ann.mask, ref), f.name
        assert ann.image_bytes[:2] == b"\xff\xd8"  # the embedded JPEG, kept byte for byte
        assert ann.ignored == []


@needs_data
def test_real_masks_survive_export_and_import(tmp_path):
    for f in sorted((DATA / "masks").glob("*.png")):
        mask = read_image(f)
        image = read_image(DATA / "images" / f.name)
        out = tmp_path / f"{f.stem}.json"
        write_labelme(out, mask, image, f.name)
        back = read_labelme(out)
        assert np.array_equal(back.mask, mask), f.name
        assert np.array_equal(back.image, image)
        labels = {s["label"] for s in json.loads(out.read_text())["shapes"]}
        assert labels == {"cell", "fragment"}


def _round_trip(mask):
    shapes = mask_to_shapes(mask)
    back, ignored = rasterize(shapes, *mask.shape)
    assert ignored == []
    return shapes, back


def test_simple_shapes_round_trip_exactly():
    m = np.zeros((64, 64), np.uint8)
    cv2.circle(m, (20, 20), 12, 1, -1)
    cv2.circle(m, (28, 22), 4, 2, -1)  # fragment on the cell's edge
    cv2.rectangle(m, (40, 40), (60, 60), 1, -1)
    m[48:52, 48:52] = 0  # background hole in a cell: needs a keyhole
    m[44:46, 44:46] = 2  # fragment inside a cell: the cell stays one polygon
    m[5, 60] = 2  # single-pixel fragment
    m[2:4, 2:30] = 1  # thin line
    shapes, back = _round_trip(m)
    assert np.array_equal(back, m)
    assert all(len(s["points"]) >= 3 for s in shapes)


def test_fragment_with_a_cell_inside_round_trips():
    m = np.zeros((40, 40), np.uint8)
    cv2.circle(m, (20, 20), 15, 2, -1)
    cv2.circle(m, (20, 20), 5, 1, -1)
    m[20, 20] = 0
    assert np.array_equal(_round_trip(m)[1], m)


def test_random_masks_round_trip_exactly():
    rng = np.random.default_rng(1)
    for _ in range(60):
        m = np.zeros((48, 48), np.uint8)
        for _ in range(int(rng.integers(1, 8))):
            v = int(rng.integers(0, 3))
            c = tuple(int(x) for x in rng.integers(0, 48, 2))
            r = int(rng.integers(1, 15))
            if rng.random() < 0.5:
                cv2.circle(m, c, r, v, -1)
            else:
                cv2.rectangle(m, c, (c[0] + r, c[1] + int(rng.integers(1, 15))), v, -1)
        if rng.random() < 0.4:
            m[rng.random(m.shape) < 0.05] = int(rng.integers(0, 3))
        assert np.array_equal(_round_trip(m)[1], m)


def test_image_beside_json_and_unknown_labels(tmp_path):
    img = np.full((32, 32), 90, np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), img)
    doc = {"version": "5.2.1", "flags": {}, "imagePath": "a.png", "imageData": None,
           "imageHeight": 32, "imageWidth": 32,
           "shapes": [{"label": "fragment", "points": [[5, 5], [10, 5], [10, 10]],
                       "shape_type": "polygon"},
                      {"label": "cell", "points": [[2, 2], [20, 2], [20, 20], [2, 20]],
                       "shape_type": "polygon"},
                      {"label": "zona", "points": [[0, 0], [3, 3]], "shape_type": "rectangle"}]}
    (tmp_path / "a.json").write_text(json.dumps(doc))
    ann = read_labelme(tmp_path / "a.json")
    assert np.array_equal(ann.image, img)
    assert ann.mask[7, 9] == 2 and ann.mask[15, 15] == 1 and ann.mask[25, 25] == 0
    assert any("zona" in s for s in ann.ignored)
    doc["imageData"] = base64.b64encode((tmp_path / "a.png").read_bytes()).decode()
    doc["imagePath"] = "gone.png"
    (tmp_path / "b.json").write_text(json.dumps(doc))
    assert np.array_equal(read_labelme(tmp_path / "b.json").mask, ann.mask)


@needs_data
def test_cli_import_list_export(tmp_path, capsys):
    import argparse
    import shutil

    from app.cli import annotations_cmd
    from app.core.store import AnnotationStore

    def cli(*argv):
        parser = argparse.ArgumentParser()
        annotations_cmd.add_arguments(parser)
        return annotations_cmd.run(parser.parse_args(argv))

    folder = tmp_path / "imgs"
    folder.mkdir()
    for p in sorted((DATA / "images").glob("*.png"))[:2]:
        shutil.copy(p, folder / p.name)
    store = folder / ".embryograde" / "annotations.h5"
    assert cli("import", "--from", str(DATA / "labelme"), "--store", str(store)) == 0
    with AnnotationStore(store, readonly=True) as s:
        revs = s.current_all()
        n = len(list((DATA / "labelme").glob("*.json")))
        assert len(revs) == n
        paths = {r.path for r in revs.values()}
        # Keyed by the folder's PNGs where they exist (same pixels), else the embedded JPEG.
        assert sum(p.endswith(".png") for p in paths) == 2
        assert all(r.annotator == "labelme-import" and r.model_version == "imported"
                   for r in revs.values())
    assert cli("list", "--store", str(store)) == 0
    out = capsys.readouterr().out
    assert out.count("corrected") == n and "labelme-import" in out
    dst = tmp_path / "out"
    assert cli("export", "--store", str(store), "--to", str(dst)) == 0
    for f in sorted((DATA / "masks").glob("*.png")):
        assert np.array_equal(read_image(dst / "masks" / f.name), read_image(f))
        assert np.array_equal(read_labelme(dst / f"{f.stem}.json").mask, read_image(f))
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"")
    assert cli("list", "--store", str(bad)) == 2
    assert "damaged" in capsys.readouterr().err
    assert bad.read_bytes() == b""
