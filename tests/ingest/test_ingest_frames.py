"""Resize/crop geometry and JPEG round trips."""

from __future__ import annotations

import numpy as np
import pytest
from ingestfakes import frame_index, pattern

from egodistill.ingest.frames import FrameTransform, decode_jpeg, encode_jpeg


@pytest.mark.parametrize(
    ("short", "crop", "src", "resized", "out"),
    [
        (224, 224, (640, 480), (299, 224), (224, 224)),
        (224, 224, (480, 640), (224, 299), (224, 224)),
        (48, 48, (64, 48), (64, 48), (48, 48)),
        (32, None, (64, 48), (43, 32), (43, 32)),
        (None, None, (64, 48), (64, 48), (64, 48)),
        (None, 40, (64, 48), (64, 48), (40, 40)),
    ],
)
def test_output_geometry(short, crop, src, resized, out):
    t = FrameTransform(short, crop)
    assert t.resized_size(*src) == resized
    assert t.output_size(*src) == out
    img = np.zeros((src[1], src[0], 3), np.uint8)
    assert t.apply_array(img).shape == (out[1], out[0], 3)


def test_crop_larger_than_resize_is_rejected():
    with pytest.raises(ValueError, match="larger than short_side"):
        FrameTransform(32, 48)
    with pytest.raises(ValueError, match="does not fit"):
        FrameTransform(None, 100).output_size(64, 48)


def test_identity_transform_keeps_pixels():
    img = pattern(77)
    assert np.array_equal(FrameTransform(None, None).apply_array(img), img)


def test_jpeg_round_trip_keeps_the_pattern_and_is_deterministic():
    img = FrameTransform(32, 32).apply_array(pattern(201))
    data = encode_jpeg(img, quality=90)
    assert data[:2] == b"\xff\xd8" and data == encode_jpeg(img, quality=90)
    back = decode_jpeg(data)
    assert back.shape == (32, 32, 3) and back.dtype == np.uint8
    assert frame_index(back) == 201
    assert np.abs(back.astype(int) - img.astype(int)).mean() < 4


def test_jpeg_rejects_wrong_arrays():
    with pytest.raises(ValueError, match="uint8"):
        encode_jpeg(np.zeros((4, 4), np.uint8))
