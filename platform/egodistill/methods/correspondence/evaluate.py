"""The paper's four evaluations on trained checkpoints (each runnable alone).

Encoders run on the driver over lazily decoded pair datasets (:mod:`.pairs`); only per-clip feature vectors
come back (hundreds of clips x a few hundred floats), never frames.

1. ``correspondence`` (Table 3 + imu2clip): held-out tiled pairs of the evaluation videos; ROC-AUC of the
   cosine similarity (diagonal = matching) for the video CNN updated and frozen, R@1/5/10 and MRR both ways.
2. ``probe`` (Table 4): softmax regression on frozen video features of labelled clips (train split -> eval
   split): SSL backbone vs the same architecture at random init vs the supervised teacher.
3. ``modalities`` (Tables 1-2): video-only (probe on the supervised teacher's features, else the SSL
   backbone's), IMU-only (probe on the SSL IMU encoder's features), ensemble (averaged probabilities);
   per class: accuracy and the clips correct by video only / IMU only / both / neither.
4. ``transfer`` (Table 5): the probe of 2. on the second domain's manifest (the dog profile).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

from egodistill.methods.correspondence import metrics, pairs
from egodistill.methods.correspondence.config import CorrespondenceJobConfig
from egodistill.methods.correspondence.encoders import CorrespondenceModel
from egodistill.teacher.augment import model_input
from egodistill.teacher.dense import ClipSpec

log = logging.getLogger(__name__)


@dataclass
class Encoders:
    """What the evaluations compare: SSL models (updated, frozen), random-init and supervised backbones."""

    ssl: dict[str, CorrespondenceModel]  # "updated", "frozen"
    video: dict[str, Any]  # "random", "supervised": TeacherModel (features(clip))
    specs: dict[str, Any] = field(default_factory=dict)  # name -> InputSpec of its video input


@dataclass
class Features:
    """Per-clip outputs of one pass: arrays keyed ``video:<name>``, ``v:<ssl>``, ``m:<ssl>``, ``imu:<ssl>``."""

    arrays: dict[str, np.ndarray]
    label: np.ndarray
    video_index: np.ndarray
    ok: np.ndarray
    quarantined: dict[str, int]

    def take(self, mask: np.ndarray) -> Features:
        return Features({k: v[mask] for k, v in self.arrays.items()}, self.label[mask], self.video_index[mask],
                        self.ok[mask], self.quarantined)  # fmt: skip


def clip_spec(spec, decode_size: int | None) -> ClipSpec:
    return ClipSpec(spec.num_frames, spec.sample_rate, decode_size or int(spec.resize_size[0]))


@torch.no_grad()
def extract(items: list[dict[str, Any]], enc: Encoders, job: CorrespondenceJobConfig) -> Features:
    """Decode the pairs of ``items`` (one pass per distinct clip spec) and run every encoder on them."""
    groups: dict[tuple[int, int, int], list[str]] = {}
    for name, spec in enc.specs.items():
        cs = clip_spec(spec, job.data.decode_size)
        groups.setdefault((cs.num_frames, cs.sample_rate, cs.size), []).append(name)
    out: dict[str, np.ndarray] = {}
    meta: dict[str, np.ndarray] = {}
    reasons: Counter[str] = Counter()
    for gi, ((t, rate, size), names) in enumerate(groups.items()):
        ds = pairs.pair_dataset(items, ClipSpec(t, rate, size), job.data.imu, min_coverage=job.data.min_imu_coverage,
                                clips_per_task=job.data.clips_per_task, num_cpus=job.data.num_cpus_per_task)  # fmt: skip
        cols: dict[str, list[np.ndarray]] = {"item": [], "label": [], "video_index": [], "ok": []}
        part: dict[str, list[np.ndarray]] = {}
        for batch in ds.iter_batches(batch_size=job.eval.batch_size, batch_format="numpy"):
            for k in cols:
                cols[k].append(batch[k])
            if gi == 0:
                reasons.update(str(r) for r, o in zip(batch["reason"], batch["ok"], strict=True) if not o)
            clips = torch.from_numpy(batch["clip"])
            imu = torch.from_numpy(batch["imu"]).float()
            for name in names:
                x = model_input(clips, enc.specs[name], train=False)
                if name in enc.ssl:
                    model = enc.ssl[name]
                    v, m, _ = model(x, imu)
                    got = {f"video:ssl-{name}": model.video_features(x), f"v:{name}": v, f"m:{name}": m,
                           f"imu:{name}": model.imu(imu)}  # fmt: skip
                else:
                    got = {f"video:{name}": enc.video[name].features(x)}
                for key, val in got.items():
                    part.setdefault(key, []).append(val.float().numpy())
        order = np.argsort(np.concatenate(cols["item"]), kind="stable")  # back to item order
        out.update({k: np.concatenate(v)[order] for k, v in part.items()})
        ok = np.concatenate(cols["ok"])[order]
        if gi == 0:
            meta = {k: np.concatenate(cols[k])[order] for k in ("label", "video_index")} | {"ok": ok}
        else:
            meta["ok"] = meta["ok"] & ok
    return Features(out, meta["label"], meta["video_index"], meta["ok"], dict(reasons))


def eval_correspondence(f: Features, resamples: int, seed: int = 0) -> dict[str, Any]:
    """ROC-AUC (with a bootstrap interval) and retrieval of every SSL model on held-out pairs."""
    ok = f.ok
    out: dict[str, Any] = {
        "pairs": int(ok.sum()),
        "pairs_quarantined": int((~ok).sum()),
        "quarantine_reasons": f.quarantined,
    }
    for key in sorted(k for k in f.arrays if k.startswith("v:")):
        name = key[2:]
        v, m = f.arrays[key][ok], f.arrays[f"m:{name}"][ok]
        sim = v @ m.T
        auc = metrics.auc_estimate(sim, resamples, seed)
        out[name] = {"roc_auc": auc.as_dict(), "video_to_imu": metrics.retrieval(sim),
                     "imu_to_video": metrics.retrieval(sim.T)}  # fmt: skip
    return out


def _probe(
    train: Features, test: Features, key: str, classes: int, c: float
) -> tuple[dict[str, Any], np.ndarray] | None:
    if key not in train.arrays:
        return None
    a, b = train.ok, test.ok
    model = metrics.fit_probe(train.arrays[key][a], train.label[a], c)
    probs = metrics.probe_probs(model, test.arrays[key][b], classes)
    correct = int((probs.argmax(1) == test.label[b]).sum())
    return {"top1": metrics.wilson(correct, int(b.sum())).as_dict(), "train_clips": int(a.sum())}, probs


PROBE_ROWS = (("random", "video:random", "random init (same architecture)"),
              ("ssl", "video:ssl-updated", "self-supervised (video/IMU correspondence)"),
              ("supervised", "video:supervised", "supervised (the trained teacher)"))  # fmt: skip


def eval_probe(train: Features, test: Features, classes: list[str], c: float) -> dict[str, Any]:
    """Table 4 / 5: the same linear probe on each backbone's frozen features."""
    out: dict[str, Any] = {"classes": classes, "test_clips": int(test.ok.sum())}
    for name, key, what in PROBE_ROWS:
        r = _probe(train, test, key, len(classes), c)
        out[name] = (
            {"representation": what, **r[0]} if r else {"representation": what, "missing": "no backbone"}
        )
    return out


def eval_modalities(train: Features, test: Features, classes: list[str], c: float) -> dict[str, Any]:
    """Tables 1-2: video-only, IMU-only and the averaged-probability ensemble, per class."""
    vkey = "video:supervised" if "video:supervised" in train.arrays else "video:ssl-updated"
    pv = _probe(train, test, vkey, len(classes), c)
    pm = _probe(train, test, "imu:updated", len(classes), c)
    assert pv is not None and pm is not None
    y = test.label[test.ok]
    hv, hm = pv[1].argmax(1) == y, pm[1].argmax(1) == y
    he = (0.5 * (pv[1] + pm[1])).argmax(1) == y
    per_class = []
    for k, name in enumerate(classes):
        sel = y == k
        n = int(sel.sum())
        per_class.append({"class": name, "clips": n,
                          "video": metrics.wilson(int(hv[sel].sum()), n).as_dict(),
                          "imu": metrics.wilson(int(hm[sel].sum()), n).as_dict(),
                          "ensemble": metrics.wilson(int(he[sel].sum()), n).as_dict(),
                          "video_only": int((hv & ~hm)[sel].sum()), "imu_only": int((hm & ~hv)[sel].sum()),
                          "both": int((hv & hm)[sel].sum()), "neither": int((~hv & ~hm)[sel].sum())})  # fmt: skip
    overall = {
        k: metrics.wilson(int(h.sum()), len(y)).as_dict()
        for k, h in (("video", hv), ("imu", hm), ("ensemble", he))
    }
    return {"video_features": vkey.split(":", 1)[1], "imu_features": "ssl-updated IMU encoder",
            "overall": overall, "per_class": per_class, "test_clips": len(y)}  # fmt: skip


def split_rows(rows: pa.Table, train_split: str, eval_split: str) -> tuple[pa.Table, pa.Table]:
    return (rows.filter(pc.equal(rows.column("split"), train_split)),
            rows.filter(pc.equal(rows.column("split"), eval_split)))  # fmt: skip


def class_names(rows: pa.Table) -> list[str]:
    from egodistill.teacher.data import class_names as names

    return names(rows)


def labelled_features(
    rows: pa.Table, enc: Encoders, job: CorrespondenceJobConfig
) -> tuple[Features, Features, list[str]]:
    """Features of the labelled clips of the train and eval splits (both passes share nothing but the encoders)."""
    train_rows, test_rows = split_rows(rows, job.data.train_split, job.data.eval_split)
    if train_rows.num_rows == 0 or test_rows.num_rows == 0:
        raise ValueError(f"probe needs labelled clips in both splits ({job.data.train_split}: {train_rows.num_rows}, "
                         f"{job.data.eval_split}: {test_rows.num_rows})")  # fmt: skip
    return (
        extract(pairs.labelled_items(train_rows), enc, job),
        extract(pairs.labelled_items(test_rows), enc, job),
        class_names(rows),
    )


def input_specs(enc_models: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: (m.video.input_spec if isinstance(m, CorrespondenceModel) else m.input_spec)
        for k, m in enc_models.items()
    }


__all__ = ["Encoders", "Features", "PROBE_ROWS", "eval_correspondence", "eval_modalities", "eval_probe", "extract",
           "input_specs", "labelled_features", "split_rows"]  # fmt: skip
