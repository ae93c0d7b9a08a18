"""The extra modalities as pure functions: optical flow, audio log-mel, object layout.

Why these choices:

* **Flow**: OpenCV's DIS (``cv2.DISOpticalFlow``, preset MEDIUM), a maintained CPU implementation, on
  consecutive stored frames; kept at the stored frame size and fed to the teacher as a 3-channel
  image (u, v, 0) like the reference code feeds EPIC's u/v JPEGs.
* **Audio**: PyAV decodes and resamples the track to 16 kHz mono; torchaudio's ``MelSpectrogram``
  (the transform the authors use: n_fft 1024, win 160, hop 80, 128 HTK bands) computes the mel.
  torchaudio 2.11.1 installs with torch 2.14.1 and its transforms are plain torch ops (no compiled
  extension is loaded for them), where librosa would pull numba/llvmlite for the same numbers.
* **Layout**: per sampled frame and per object class (a fixed vocabulary), presence and the normalised
  box (cx, cy, w, h), from the boxes the synthetic world writes (``synthetic_boxes/``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

AUDIO_RATE = 16_000
MEL = {"n_fft": 1024, "win_length": 160, "hop_length": 80, "n_mels": 128}
LAYOUT_FIELDS = 5  # present, cx, cy, w, h (fractions of the frame)


class ModalityError(ValueError):
    """A clip whose modality cannot be computed; ``reason`` is the quarantine code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def optical_flow(frames: np.ndarray, method: str = "dis") -> np.ndarray:
    """Flow between consecutive frames: (T, H, W, 3) uint8 RGB -> (T-1, H, W, 2) float32 pixels (u right, v down)."""
    import cv2

    if frames.ndim != 4 or frames.shape[0] < 2:
        raise ModalityError("too_few_frames", f"flow needs >= 2 frames, got shape {tuple(frames.shape)}")
    gray = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames]
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        flows = [dis.calc(a, b, None) for a, b in zip(gray[:-1], gray[1:], strict=True)]
    elif method == "farneback":
        flows = [cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 9, 3, 5, 1.1, 0)
                 for a, b in zip(gray[:-1], gray[1:], strict=True)]  # fmt: skip
    else:
        raise ValueError(f"flow method {method!r} is not dis or farneback")
    return np.stack(flows).astype(np.float32)


def read_audio(path: str, start_sec: float, end_sec: float, rate: int = AUDIO_RATE) -> np.ndarray:
    """Mono float32 samples of ``[start_sec, end_sec)`` of a video's audio track, resampled to ``rate``."""
    import av

    want = int(round((end_sec - start_sec) * rate))
    try:
        container = av.open(path)
    except (OSError, av.error.FFmpegError) as e:
        raise ModalityError("video_unreadable", f"{path}: {e}") from e
    with container:
        if not container.streams.audio:
            raise ModalityError("no_audio_stream", f"{path} has no audio track")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        container.seek(
            max(0, int((start_sec - 0.5) / stream.time_base)), stream=stream, any_frame=False, backward=True
        )
        chunks: list[np.ndarray] = []
        first: float | None = None
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                t = float(out.pts * out.time_base) if out.pts is not None else None
                if first is None:
                    first = t if t is not None else 0.0
                chunks.append(out.to_ndarray().reshape(-1))
            if first is not None and first + sum(len(c) for c in chunks) / rate >= end_sec:
                break
    if first is None or not chunks:
        raise ModalityError("no_audio_samples", f"{path}: no audio decoded near {start_sec:.2f} s")
    samples = np.concatenate(chunks)
    i = int(round((start_sec - first) * rate))
    out = samples[max(i, 0) : max(i, 0) + want]
    if i < 0:
        out = np.concatenate([np.zeros(-i, np.float32), out])[:want]
    if len(out) < want:
        out = np.concatenate([out, np.zeros(want - len(out), np.float32)])
    return out.astype(np.float32)


def log_mel(samples: np.ndarray, rate: int = AUDIO_RATE, time_bins: int | None = None):
    """Log-mel (dB) of mono samples: (n_mels, frames) float32, optionally mean-pooled to ``time_bins``."""
    import torch
    import torchaudio

    mel = torchaudio.transforms.MelSpectrogram(sample_rate=rate, **MEL)
    spec = torchaudio.transforms.AmplitudeToDB(top_db=80.0)(
        mel(torch.as_tensor(samples, dtype=torch.float32))
    )
    if time_bins is not None and spec.shape[1] != time_bins:
        spec = torch.nn.functional.adaptive_avg_pool1d(spec[None], time_bins)[0]
    return spec.numpy().astype(np.float32)


def boxes_file(video_path: str, video_id: str) -> Path | None:
    """The synthetic world's boxes of a video: ``<root>/synthetic_boxes/<video_id>.parquet`` above the video."""
    for parent in Path(video_path).parents:
        candidate = parent / "synthetic_boxes" / f"{video_id}.parquet"
        if candidate.is_file():
            return candidate
    return None


def layout_features(boxes, frame_index: Sequence[int], vocabulary: Sequence[str], width: float,
                    height: float) -> np.ndarray:  # fmt: skip
    """(T, K, 5): per sampled frame and object class, present + normalised (cx, cy, w, h) of its largest box."""
    out = np.zeros((len(frame_index), len(vocabulary), LAYOUT_FIELDS), np.float32)
    slot = {name: k for k, name in enumerate(vocabulary)}
    fi = np.asarray(boxes.column("frame_index").to_numpy(), np.int64)
    labels = boxes.column("label").to_pylist()
    xywh = np.stack([boxes.column(c).to_numpy().astype(np.float32) for c in ("x", "y", "w", "h")], 1)
    rows_of: dict[int, list[int]] = {}
    for r, f in enumerate(fi):
        rows_of.setdefault(int(f), []).append(r)
    for t, f in enumerate(frame_index):
        area: dict[int, float] = {}
        for r in rows_of.get(int(f), []):
            k = slot.get(labels[r])
            x, y, w, h = xywh[r]
            if k is None or w * h <= area.get(k, 0.0):
                continue
            area[k] = float(w * h)
            out[t, k] = (1.0, (x + w / 2) / width, (y + h / 2) / height, w / width, h / height)
    return out


__all__ = ["AUDIO_RATE", "LAYOUT_FIELDS", "MEL", "ModalityError", "boxes_file", "layout_features", "log_mel",
           "optical_flow", "read_audio"]  # fmt: skip
