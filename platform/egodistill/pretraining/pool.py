"""The pretraining pool: frames of separate synthetic worlds and their generic (non-verb) labels.

Each world is :func:`~egodistill.synthetic.world.build_world` with the pool's seed, rendered in
memory at random times (no video encode: the pool is never a benchmark dataset). A frame is cropped
and resized the way ingest stores the students' frames (centre square of the short side, then
``image_size``) and labelled from the renderer's per-pixel object ids, never from the verbs:

* ``visible``: a multi-hot over :data:`OBJECT_LABELS`, the kitchen objects covering more than
  ``visible_fraction`` of the crop;
* ``center``: the object at the fixation point (majority label of the central 1/8 of the crop),
  :data:`ROOM` when it is a wall, floor or ceiling.

Rows are built by Ray Data (one task per world), so the pool renders on every core of the cluster.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from egodistill.pretraining.config import PoolSettings

#: Every object kind the synthetic kitchen places (see ``synthetic/scene.py``), in a fixed order.
OBJECT_LABELS = ("counter", "cabinet", "door", "shelf", "jar", "board", "carrot", "knife", "bowl", "spoon",
                 "cup", "box", "plate", "bottle")  # fmt: skip
ROOM = "room"
CENTER_CLASSES = (*OBJECT_LABELS, ROOM)
_PLAN_STREAM = 97  # the pool's own random stream for frame times (not one of the world's streams)


def synth_config(pool: PoolSettings):
    """The :class:`~egodistill.synthetic.config.SynthConfig` of the pool's worlds."""
    from egodistill.synthetic.config import SynthConfig

    return SynthConfig(seed=pool.seed, seconds=pool.seconds, width=pool.width, height=pool.height,
                       videos=pool.worlds, audio=False)  # fmt: skip


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))


def frame_labels(ids: np.ndarray, labels: list[str], visible_fraction: float) -> tuple[np.ndarray, int]:
    """(visible multi-hot over OBJECT_LABELS, index in CENTER_CLASSES) of one cropped id map."""
    index = {name: i for i, name in enumerate(OBJECT_LABELS)}
    kinds = np.array([index[lab] for lab in labels] + [-1], np.int64)  # object index -1 -> room
    per_pixel = kinds[ids.astype(np.int64)]  # ids == -1 picks the trailing -1
    counts = np.bincount(per_pixel[per_pixel >= 0], minlength=len(OBJECT_LABELS))
    visible = (counts / ids.size > visible_fraction).astype(np.float32)
    h, w = ids.shape
    ch, cw = max(1, h // 8), max(1, w // 8)
    centre = per_pixel[(h - ch) // 2 : (h + ch) // 2, (w - cw) // 2 : (w + cw) // 2].reshape(-1)
    centre_counts = np.bincount(centre + 1, minlength=len(OBJECT_LABELS) + 1)  # slot 0 = room
    best = int(np.argmax(centre_counts))
    return visible, (len(OBJECT_LABELS) if best == 0 else best - 1)


def render_world(pool: PoolSettings, world_index: int, seed: int | None = None) -> dict[str, np.ndarray]:
    """One world's frames and labels: ``image`` (F, S, S, 3) uint8, ``visible`` (F, K), ``center`` (F,),
    ``time_sec`` (F,); also the verb active at each frame (``verb``, "" between actions), for probes."""
    from egodistill.synthetic.world import build_world

    cfg = synth_config(pool if seed is None else pool.model_copy(update={"seed": seed}))
    world = build_world(cfg, world_index)
    rng = np.random.default_rng([cfg.seed, world_index, _PLAN_STREAM])
    times = np.sort(rng.uniform(0.0, cfg.seconds, pool.frames_per_world))
    side = min(pool.width, pool.height)
    y0, x0 = (pool.height - side) // 2, (pool.width - side) // 2
    labels = [b.label for b in world.scene.objects]
    images, visible, centre, verbs = [], [], [], []
    for t, frame in zip(times, world.frames(times), strict=True):
        images.append(_resize(frame.image[y0 : y0 + side, x0 : x0 + side], pool.image_size))
        vis, c = frame_labels(frame.ids[y0 : y0 + side, x0 : x0 + side], labels, pool.visible_fraction)
        visible.append(vis)
        centre.append(c)
        verbs.append(next((s.verb.name for s in world.segments if s.start <= t <= s.end), ""))
    return {"image": np.stack(images), "visible": np.stack(visible), "center": np.asarray(centre, np.int64),
            "time_sec": times, "verb": np.asarray(verbs, dtype=object)}  # fmt: skip


def _render_rows(batch: dict[str, np.ndarray], pool_json: dict[str, Any]) -> dict[str, np.ndarray]:
    """Ray Data ``map_batches`` body: world indices -> their frames (one row per frame)."""
    pool = PoolSettings.model_validate(pool_json)
    parts = [render_world(pool, int(i)) for i in batch["world"]]
    worlds = np.concatenate([np.full(len(p["center"]), int(i), np.int64) for i, p in zip(batch["world"], parts,
                                                                                          strict=True)])  # fmt: skip
    rows = np.concatenate([i * pool.frames_per_world + np.arange(len(p["center"])) for i, p in
                           zip(batch["world"], parts, strict=True)])  # fmt: skip
    return {"image": np.concatenate([p["image"] for p in parts]),
            "visible": np.concatenate([p["visible"] for p in parts]),
            "center": np.concatenate([p["center"] for p in parts]), "world": worlds, "row": rows}  # fmt: skip


def pool_datasets(pool: PoolSettings) -> dict[str, Any]:
    """``{"train": ..., "val": ...}`` Ray datasets of the pool, rendered once and materialised.

    Validation holds whole worlds (the last ``val_worlds``), so it measures rooms never trained on.
    """
    import ray

    cut = pool.worlds - pool.val_worlds
    out = {}
    for split, worlds in (("train", range(cut)), ("val", range(cut, pool.worlds))):
        ds = ray.data.from_items([{"world": i} for i in worlds], override_num_blocks=len(worlds))
        ds = ds.map_batches(_render_rows, batch_size=1, fn_kwargs={"pool_json": pool.model_dump(mode="json")})
        out[split] = ds.materialize()
    return out


__all__ = ["CENTER_CLASSES", "OBJECT_LABELS", "ROOM", "frame_labels", "pool_datasets", "render_world",
           "synth_config"]  # fmt: skip
