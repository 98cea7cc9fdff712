"""Synthetic cleavage-stage embryo images with exact 0/1/2 masks.

Real labelled embryo data cannot be downloaded, so the segmentation model
learns from these. Two microscope looks (time-lapse incubator frames and
inverted Hoffman/DIC images), balanced over the Istanbul grades.

Dependencies: numpy and OpenCV only (no Qt, no torch). OpenCV is here for
what numpy cannot do fast: filling sub-pixel polygons (cells, fragments),
anti-aliased lines, Gaussian filters, burning the incubator's text into the
frame, and JPEG compression of the inverted look.

Modules: ``generator`` (generate, SynthSample), ``embryo`` (render one
embryo), ``shapes`` (cells, fragments, the mask), ``debris`` (clumps outside
the zona), ``texture`` (noise fields), ``microscope`` (the two looks),
``writer`` (a data set on disk).
"""

from model.synth.generator import STYLES, SynthSample, frame_shape, generate

__all__ = ["STYLES", "SynthSample", "frame_shape", "generate"]
