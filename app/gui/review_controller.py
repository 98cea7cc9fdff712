"""What happens when the user moves through a folder: load, show, grade, cache. No widgets built here.

The controller owns the review state (folder, current image, predictor,
scheme, result cache) and wires the folder panel, the image view, the grade
panel and the inference queue together. The window only lays widgets out
and maps menus to the controller's methods.

Images are read in a small I/O pool (never on the GUI thread) and kept in a
short LRU with the next couple prefetched, so "next image" shows at once;
results come from the ResultCache's memory when the file's hash is known.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from app.core.cached_rows import cached_results
from app.core.imaging import list_images, read_image
from app.core.result_cache import ResultCache
from app.gui.entries import entries_for
from app.gui.workers import GeneratorWorker, make_pool, start
from model.grading import DEFAULT_SCHEME, get_scheme

IMAGE_LRU = 8
IMAGE_PREFETCH = 2


def _read_job(path: Path):
    try:
        return path, read_image(path), None
    except Exception as exc:  # ImageReadError, MemoryError on a huge file...
        return path, None, str(exc)


class ReviewController(QObject):
    message = Signal(str)  # for the status bar
    image_shown = Signal(object)  # path
    prediction_shown = Signal(object)  # path (overlays and grade panel now show its result)
    folder_opened = Signal(object)  # Path
    navigated = Signal(object)  # path: another image is current; nothing of the previous one may act
    image_failed = Signal(object, str)  # path, reason: the current image cannot be shown or graded

    def __init__(self, folder_panel, image_view, grade_panel, queue, parent=None):
        super().__init__(parent)
        self.panel, self.view, self.grades, self.queue = folder_panel, image_view, grade_panel, queue
        self.folder: Path | None = None
        self.cache: ResultCache | None = None
        self.predictor = None
        self.scheme = DEFAULT_SCHEME
        self.current: Path | None = None
        self.current_prediction = None
        self.shown_path: Path | None = None  # whose pixels the view shows (None: none)
        self.review_status = None  # optional callable(entry) -> ReviewSummary | None (the store's review)
        self.io_pool = make_pool(2, "images")
        self._images: OrderedDict[Path, object] = OrderedDict()
        self._reading: set[Path] = set()

        self.panel.current_changed.connect(self.show_path)
        self.queue.result.connect(self._on_result)
        self.queue.failed.connect(self._on_failed)
        self.grades.scheme_changed.connect(self.set_scheme)

    # -- folder / model / scheme ----------------------------------------------------------
    def open_folder(self, folder) -> None:
        folder = Path(folder).resolve()
        paths = list_images(folder)  # names only, no pixels
        self.queue.cancel_all()
        if self.cache is not None:
            self.cache.flush()
        self.folder = folder
        try:
            self.cache = ResultCache(folder, memory_items=24)
        except OSError as exc:
            self.cache = None
            self.message.emit(f"results will not be cached: {exc}")
        self.queue.set_cache(self.cache)
        self._images.clear()
        self._reading.clear()
        self.current = None
        self._clear_view()
        entries = entries_for(paths)
        if self.review_status is not None:
            for e in entries:
                e.set_review(self.review_status(e))
        self.panel.set_entries(entries)
        if not entries:
            self.view.set_image(None)
            self.grades.set_values(None, None, "no images")
        self.folder_opened.emit(folder)
        self.message.emit(f"{folder}: {len(entries)} images")
        self._list_cached()

    def set_predictor(self, predictor) -> None:
        self.queue.cancel_all()
        self.predictor = predictor
        self.queue.set_predictor(predictor)
        version = predictor.version if predictor is not None else None
        for e in self.panel.model.entries:
            if e.model_version is not None and e.model_version != version:
                e.clear_prediction()
        self.panel.model.all_changed()
        self._list_cached()
        if self.current is not None:
            self.current_prediction = None
            self.show_path(self.current, force=True)

    def set_scheme(self, scheme: str) -> None:
        self.scheme = get_scheme(scheme).key
        self.queue.scheme = self.scheme
        for e in self.panel.model.entries:
            e.regrade(self.scheme)
        self.panel.model.all_changed()
        self.panel.set_grade_labels(get_scheme(self.scheme).labels)
        if self.current_prediction is not None:
            self._show_prediction(self.current_prediction.regrade(self.scheme))

    def grade_all(self) -> int:
        todo = [e.path for e in self.panel.model.entries if not e.graded and not e.error]
        self.queue.grade_all(todo)
        return len(todo)

    def _list_cached(self) -> None:
        """Fill the rows whose results are cached (a reopened folder), off the GUI thread."""
        if self.cache is None or self.predictor is None or not self.panel.model.entries:
            return
        paths = [e.path for e in self.panel.model.entries if not e.graded]
        w = GeneratorWorker(cached_results, paths, self.cache, self.predictor.version)
        w.signals.returned.connect(self._on_cached)
        start(w, self.io_pool)

    @Slot(object)
    def _on_cached(self, rows) -> None:
        version = self.predictor.version if self.predictor is not None else None
        for path, sha, res in rows:
            entry = self.panel.model.entry(path)
            # Another folder or model meanwhile, or graded since: the row already says more.
            if entry is None or entry.graded or res.model_version != version:
                continue
            self.set_result(entry, sha, res)
            entry.regrade(self.scheme)
        if rows:
            self.panel.model.all_changed()

    def set_result(self, entry, sha: str | None, pred) -> None:
        """A row's model result and file hash. The store keeps one record per hash, so a row
        takes its review when its hash becomes known: a byte-identical copy under another name
        says what the saved one says, not "graded by model"."""
        known = entry.sha256
        entry.set_prediction(sha, pred)
        if self.review_status is not None and entry.sha256 != known:
            entry.set_review(self.review_status(entry))

    # -- navigation -----------------------------------------------------------------------
    @Slot(object)
    def show_path(self, path, force: bool = False) -> None:
        if path is None:
            return
        if path == self.current and not force:
            return
        self.current = path
        self.current_prediction = None
        self.navigated.emit(path)
        entry = self.panel.model.entry(path)
        img = self._images.get(path)
        if img is not None:
            self._images.move_to_end(path)
            self._show_image(path, img)
        else:
            # Never leave another image's pixels under this one's name, status and tools.
            self._clear_view()
            self._read(path)
        pred = self._memory_result(entry)
        if pred is not None:
            self._show_prediction(pred)
        else:
            self.view.set_prediction_overlays(None, {})
            status = entry.error if entry is not None and entry.error else (
                "grading…" if self.predictor is not None else "no model")
            self.grades.set_values(None, None, "error" if entry is not None and entry.error else status)
            if entry is not None and entry.error:
                self.message.emit(f"⚠ {entry.error}")
                self.image_failed.emit(path, entry.error)
            if self.predictor is not None and not (entry is not None and entry.error):
                self.queue.request(path, self.panel.visible_paths_after(path, self.queue.prefetch_count), img)
        for p in self.panel.visible_paths_after(path, IMAGE_PREFETCH):
            if p not in self._images:
                self._read(p)

    def _memory_result(self, entry):
        if entry is None or entry.sha256 is None or self.cache is None or self.predictor is None:
            return None
        return self.cache.get_memory(entry.sha256, self.predictor.version, self.scheme)

    def _read(self, path: Path) -> None:
        if path in self._reading:
            return
        self._reading.add(path)
        w = GeneratorWorker(_read_job, path)
        w.signals.returned.connect(self._on_image_read)
        start(w, self.io_pool)

    @Slot(object)
    def _on_image_read(self, value) -> None:
        path, img, error = value
        self._reading.discard(path)
        if error is not None:
            if path == self.current:
                self._clear_view()
            self._mark_error(path, error)
            return
        self._images[path] = img
        while len(self._images) > IMAGE_LRU:
            self._images.popitem(last=False)
        if path == self.current:
            self._show_image(path, img)
            if self.current_prediction is not None:
                self._show_prediction(self.current_prediction)

    def _show_image(self, path: Path, img) -> None:
        same_shape = self.view.image is not None and self.view.image.shape[:2] == img.shape[:2]
        self.view.set_image(img, keep_view=same_shape)
        self.shown_path = path
        self.image_shown.emit(path)

    def _clear_view(self) -> None:
        self.view.set_image(None)
        self.shown_path = None

    def _show_prediction(self, pred) -> None:
        self.current_prediction = pred
        img = self.view.image
        if self.shown_path != self.current or img is None or img.shape[:2] != pred.class_mask.shape:
            # image not read yet: numbers now, overlays once the pixels arrive
            self.grades.set_values(pred, None)
            return
        self.view.set_prediction_overlays(pred.class_mask, pred.attention)
        self.view.set_embryo_box(pred.embryo_box)
        self.grades.set_values(pred, None)
        self.prediction_shown.emit(self.current)

    # -- results --------------------------------------------------------------------------
    @Slot(object, object, object)
    def _on_result(self, path, sha, pred) -> None:
        entry = self.panel.model.entry(path)
        if entry is None:
            return
        pred = pred.regrade(self.scheme)
        self.set_result(entry, sha, pred)
        self.panel.model.entry_changed(path)
        if path == self.current:
            self._show_prediction(pred)

    @Slot(object, str)
    def _on_failed(self, path, msg) -> None:
        self._mark_error(path, msg)

    def _mark_error(self, path, msg: str) -> None:
        entry = self.panel.model.entry(path)
        if entry is not None:
            entry.error = msg
            self.panel.model.entry_changed(path)
        if path == self.current:
            self.current_prediction = None
            self.grades.set_values(None, None, "error")
            self.image_failed.emit(path, msg)
        self.message.emit(f"⚠ {msg}")
