"""What a time-lapse file name tells: embryo, slide, well, run, focal plane, hours.

EmbryoScope-style names look like ``D2024.10.20_S01055_I4778_P_WELL06_RUN141``
or ``D2013.01.28_S0717_I132_WELL7_RUN1_F-15``; hours after insemination are
not part of those names, but exports that append them (``..._35.2h``) are
read too. The embryo key is the name before ``_RUN``: frames of one embryo
must never be split between training and validation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_DATE = re.compile(r"(?:^|_)D(\d{4})[.\-_]?(\d{2})[.\-_]?(\d{2})(?=_|$)")
_SLIDE = re.compile(r"(?:^|_)S(\d+)(?=_|$)")
_INSTRUMENT = re.compile(r"(?:^|_)I(\d+)(?=_|$)")
_WELL = re.compile(r"(?:^|_)(?:P[-_]?)?WELL[-_]?(\d+)(?=_|$)|(?:^|_)P-(\d+)(?=_|$)", re.IGNORECASE)
_RUN = re.compile(r"_RUN(\d+)", re.IGNORECASE)
_FOCAL = re.compile(r"(?:^|_)F([+-]?\d+)(?=_|$)")
_EXTENSIONS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".json", ".npz", ".h5"}
# CleavageEmbryo (Zhang et al. 2024) frames: <date>-<patient>-<embryo>-F<focal>-<frame>,
# e.g. 20230306-2559-6-F0-197 or 20230304-17097-4-F-15-233.
_CLEAVAGE = re.compile(r"^(\d{8}-\d+-\d+)-F([+-]?\d+)-(\d+)$")
_HOURS = re.compile(r"(?:^|[_\s-])(\d{1,3}(?:\.\d+)?)\s*h(?:pi)?(?=$|[_\s.-])", re.IGNORECASE)


@dataclass(frozen=True)
class TimelapseInfo:
    stem: str
    embryo_id: str
    date: str | None = None  # ISO yyyy-mm-dd
    slide: str | None = None
    instrument: str | None = None
    well: int | None = None
    run: int | None = None
    focal_plane: int | None = None
    hours: float | None = None

    @property
    def is_timelapse(self) -> bool:
        return self.well is not None or self.run is not None


def parse_name(name: str | Path) -> TimelapseInfo:
    # Time-lapse names hold dots (D2024.10.20_...): strip only a real file
    # extension, never cut at the date's first dot.
    p = Path(name)
    stem = p.stem if p.suffix.lower() in _EXTENSIONS else p.name
    ce = _CLEAVAGE.match(stem)
    if ce:
        d = ce.group(1)
        return TimelapseInfo(stem=stem, embryo_id=d, date=f"{d[:4]}-{d[4:6]}-{d[6:8]}",
                             run=int(ce.group(3)), focal_plane=int(ce.group(2)))
    run = _RUN.search(stem)
    embryo = stem[: run.start()] if run else stem
    if run is None:  # no run index: drop per-frame parts so frames of one embryo share a key
        embryo = _HOURS.sub("", _FOCAL.sub("", embryo))
    date = _DATE.search(stem)
    slide, inst, well = _SLIDE.search(stem), _INSTRUMENT.search(stem), _WELL.search(stem)
    focal, hours = _FOCAL.search(stem), _HOURS.search(stem)
    return TimelapseInfo(
        stem=stem,
        embryo_id=embryo,
        date=f"{date.group(1)}-{date.group(2)}-{date.group(3)}" if date else None,
        slide=slide.group(1) if slide else None,
        instrument=inst.group(1) if inst else None,
        well=int(well.group(1) or well.group(2)) if well else None,
        run=int(run.group(1)) if run else None,
        focal_plane=int(focal.group(1)) if focal else None,
        hours=float(hours.group(1)) if hours else None,
    )


def embryo_key(name: str | Path) -> str:
    return parse_name(name).embryo_id
