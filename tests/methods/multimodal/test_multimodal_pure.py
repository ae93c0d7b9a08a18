"""The seed-001 pure functions against hand-computed values (docs: reference-methods.md, issue 15).

KD: teacher [ln 3, 0] -> p_t = [0.75, 0.25], student [0, 0] -> [0.5, 0.5];
KL = 0.75 ln 1.5 + 0.25 ln 0.5 = 0.130812; at T = 2 with T²: 4 · KL(softmax([ln3/2, 0]) ‖ u) = 0.145363.
Per-sample weights: CE_A = ln(4/3), CE_B = ln 2 -> softmin = [3/4, 1/2] / (5/4) = [0.6, 0.4].
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from egodistill.losses import kd_loss
from egodistill.methods.multimodal.calibration import (
    ece_interval,
    expected_calibration_error,
    summarise,
    wilson,
)
from egodistill.methods.multimodal.ensemble import dataset_weights, ensemble_logits, per_sample_weights
from egodistill.methods.multimodal.modalities import layout_features, log_mel, optical_flow

T_LOGITS = torch.tensor([[math.log(3.0), 0.0]])
S_LOGITS = torch.zeros(1, 2)


def test_kd_reference_values():
    assert float(kd_loss(S_LOGITS, T_LOGITS, temperature=1.0)) == pytest.approx(0.130812, abs=1e-6)
    assert float(kd_loss(S_LOGITS, T_LOGITS, temperature=2.0)) == pytest.approx(0.145363, abs=1e-6)


def test_per_sample_weights_and_ensemble():
    logits = torch.tensor([[[math.log(3.0), 0.0], [0.0, 0.0]]])  # (B=1, K=2, C=2)
    y = torch.tensor([0])
    w = per_sample_weights(logits, y, 1.0)
    assert w[0].tolist() == pytest.approx([0.6, 0.4], abs=1e-6)
    assert per_sample_weights(logits, y, 0.5)[0].tolist() == pytest.approx([0.692308, 0.307692], abs=1e-6)
    assert ensemble_logits(logits, "per_sample", y)[0].tolist() == pytest.approx([0.659167, 0.0], abs=1e-6)
    assert ensemble_logits(logits, "uniform")[0].tolist() == pytest.approx([math.log(3) / 2, 0.0], abs=1e-6)


def test_weights_sum_to_one_per_sample():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 4, 5, generator=g) * 3
    y = torch.randint(0, 5, (7,), generator=g)
    for t in (0.25, 1.0, 4.0):
        assert per_sample_weights(logits, y, t).sum(1).tolist() == pytest.approx([1.0] * 7, abs=1e-6)
    w = dataset_weights([math.log(4 / 3), math.log(2)])
    assert w == pytest.approx([0.6, 0.4]) and sum(w) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="labels"):
        ensemble_logits(logits, "per_sample")


def test_ece_off_bin_edges():
    # confidences 0.30 (wrong), 0.50 (right), 0.70 and 0.71 (right, one bin), 0.95 (wrong), 15 bins:
    # (0.30 + 0.50 + 2·|0.705 − 1| + 0.95) / 5 = 0.468
    probs = np.array([[0.30, 0.25, 0.25, 0.20], [0.50, 0.20, 0.20, 0.10], [0.10, 0.70, 0.10, 0.10],
                      [0.71, 0.09, 0.10, 0.10], [0.95, 0.02, 0.02, 0.01]])  # fmt: skip
    y = np.array([1, 0, 1, 0, 3])
    assert expected_calibration_error(probs, y, 15) == pytest.approx(0.468, abs=1e-9)
    s = summarise(probs, y)
    assert s["segments"] == 5 and s["top1"] == pytest.approx(0.6) and s["ece"] == pytest.approx(46.8)


def test_ece_reference_example_lower_exclusive():
    probs = np.array([[.25, .20, .55], [.55, .05, .40], [.10, .30, .60], [.90, .05, .05]])  # fmt: skip
    y = np.array([0, 1, 2, 0])
    assert expected_calibration_error(probs, y, 3) == pytest.approx(0.2)
    assert expected_calibration_error(probs, y, 15) == pytest.approx(0.2)  # (lo, hi]: 0.6 is in bin 8


def test_ece_interval_brackets_the_ece_and_narrows_with_segments():
    rng = np.random.default_rng(0)

    def overconfident(n: int) -> tuple[np.ndarray, np.ndarray]:  # conf 0.9, accuracy 0.6: ECE ≈ 0.3
        probs = np.full((n, 4), 0.1 / 3)
        y = rng.integers(0, 4, n)
        pred = np.where(rng.random(n) < 0.6, y, (y + 1) % 4)
        probs[np.arange(n), pred] = 0.9
        return probs, y

    small, large = overconfident(40), overconfident(1000)
    lo_s, hi_s = ece_interval(*small)
    lo_l, hi_l = ece_interval(*large)
    assert lo_s <= expected_calibration_error(*small) <= hi_s and lo_l < 0.3 < hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 2
    s = summarise(*small)
    assert s["ece_lo"] == pytest.approx(100 * lo_s) and s["ece_hi"] == pytest.approx(100 * hi_s)


def test_wilson_interval():
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)


def test_flow_of_a_pan_points_along_the_pan():
    rng = np.random.default_rng(0)
    import cv2

    world = cv2.GaussianBlur((rng.random((64, 128)) * 255).astype(np.uint8), (5, 5), 1.5)
    shift = 2  # the camera pans left, so the scene moves right by 2 px per frame
    frames = np.stack([np.repeat(world[:, 40 - k * shift : 104 - k * shift, None], 3, 2) for k in range(4)])
    flow = optical_flow(frames)
    assert flow.shape == (3, 64, 64, 2)
    inner = flow[:, 8:-8, 8:-8]
    assert np.median(inner[..., 0]) == pytest.approx(shift, abs=0.3)
    assert abs(np.median(inner[..., 1])) < 0.3
    farneback = optical_flow(frames, "farneback")[:, 8:-8, 8:-8]
    assert np.median(farneback[..., 0]) == pytest.approx(shift, abs=0.5)


def test_mel_of_a_1khz_tone_peaks_in_its_band():
    t = np.arange(17856) / 16000.0  # 1.116 s: 224 frames at hop 80, centred
    spec = log_mel(np.sin(2 * np.pi * 1000.0 * t).astype(np.float32))
    assert spec.shape == (128, 224)
    assert int(spec.mean(1).argmax()) == 44  # HTK mels 0-8 kHz: 1 kHz falls in filter 44
    assert log_mel(np.zeros(1600, np.float32), time_bins=8).shape == (128, 8)


def test_layout_takes_each_class_largest_box():
    import pyarrow as pa

    boxes = pa.table({"frame_index": [0, 0, 0, 2], "label": ["cup", "cup", "knife", "knife"],
                      "x": [0.0, 10.0, 5.0, 0.0], "y": [0.0, 0.0, 0.0, 0.0], "w": [4.0, 20.0, 2.0, 50.0],
                      "h": [4.0, 10.0, 2.0, 20.0]})  # fmt: skip
    out = layout_features(boxes, [0, 1, 2], ["cup", "knife", "door"], 100.0, 50.0)
    assert out.shape == (3, 3, 5)
    assert out[0, 0].tolist() == pytest.approx([1.0, 0.2, 0.1, 0.2, 0.2])
    assert out[1].sum() == 0 and out[2, 1, 0] == 1 and out[:, 2].sum() == 0


def test_teacher_batch_of_only_heldout_clips_keeps_its_shape():
    """A flow batch whose clips are all held out (filtered away) still has the teacher's input rank."""
    import pyarrow as pa

    from egodistill.methods.multimodal.teachers import ModalityTensors

    rows = pa.table({"clip_id": ["held"], "video_id": ["v"], "split": ["train"], "label": [1],
                     "value": [np.zeros(2 * 4 * 4 * 2, np.float32).tolist()], "shape": [[2, 4, 4, 2]]})  # fmt: skip
    kept = ModalityTensors("flow", frozenset({"held"}), [3, 2, 4, 4])(rows)
    assert kept["x"].shape == (1, 3, 2, 4, 4)
    empty = ModalityTensors("flow", frozenset({"other"}), [3, 2, 4, 4])(rows)
    assert empty["x"].shape == (0, 3, 2, 4, 4) and empty["label"].shape == (0,)


def test_layout_teacher_takes_clips_with_more_frames():
    """Dense evaluation clips store more frames than training clips: the layout teacher resamples time."""
    from egodistill.methods.multimodal.teachers import ModalityTeacher, resample_steps

    ramp = torch.arange(9, dtype=torch.float32).view(1, 9, 1, 1).expand(1, 9, 2, 5)
    assert torch.allclose(resample_steps(ramp, 5)[0, :, 0, 0], torch.tensor([0.0, 2.0, 4.0, 6.0, 8.0]))
    teacher = ModalityTeacher("layout", 4, [9, 2, 5]).eval()
    _, logits = teacher(torch.rand(3, 37, 2, 5))
    assert logits.shape == (3, 4)
