"""Run in a child process with QT_SCALE_FACTOR set: prints the image and overlay scene rects."""

import json
import sys

import numpy as np
from PySide6.QtWidgets import QApplication

app = QApplication(sys.argv[:1])
from app.gui.image_view import ImageView  # noqa: E402

view = ImageView()
view.resize(500, 400)
view.show()
img = (np.arange(120 * 90) % 65535).reshape(90, 120).astype(np.uint16)
mask = np.zeros((90, 120), np.uint8)
mask[20:60, 30:80] = 1
view.set_image(img)
# A map with contrast: a flat one is (rightly) not drawn at all.
ramp = np.tile(np.linspace(0.0, 1.0, 120, dtype=np.float32), (90, 1))
view.set_prediction_overlays(mask, {"gate_stride8": ramp})
view.set_attention_opacity("gate_stride8", 0.5)
app.processEvents()
view.view_box.scaleBy((0.37, 0.37))
view.view_box.translateBy((7.3, -3.1))
app.processEvents()


def rect(item):
    r = item.mapRectToScene(item.boundingRect())
    return [r.x(), r.y(), r.width(), r.height()]


print(json.dumps({
    "dpr": view.graphics.devicePixelRatioF(),
    "image": rect(view.image_item),
    "mask": rect(view.mask_item),
    "attention": rect(view.attention_items["gate_stride8"]),
}))
