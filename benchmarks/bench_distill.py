"""Stage-2 epoch time, side by side on the same data:

1. cached f_I features vs re-encoding the frames with the frozen ResNet-18 every step (target >= 10x);
2. the Ray Train loop (TorchTrainer, 1 worker, Ray Data streaming) vs a plain PyTorch loop (target <= 1.10x).

    python benchmarks/bench_distill.py --workspace /path/to/ws [--dataset ego4d] [--rows 1024] [--epochs 3]

The workspace needs clips + teacher features (`egodistill ingest`, `egodistill features`); the image
cache is built on first use. The training rows are tiled to ``--rows`` so an epoch is long enough to time.
Both sides of each comparison run the same step function (:func:`egodistill.training.distill_loop.distill_step`),
batch size and model; "re-encode" decodes the JPEGs once up front and runs f_I on the N selected frames
each step (so it measures the encoder, not JPEG decoding). Epoch time on the Ray side is the loop's
own ``train_sec`` (streaming + compute, without the worker-group start-up, which is printed apart).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time

import numpy as np
import torch


def tile(inputs, rows: int):
    reps = int(np.ceil(rows / inputs.num_rows))
    idx = np.tile(np.arange(inputs.num_rows), reps)[:rows]

    def t(a):
        return None if a is None else a[idx]

    return dataclasses.replace(
        inputs,
        clip_id=[inputs.clip_id[i] for i in idx],
        segment_id=[inputs.segment_id[i] for i in idx],
        label=t(inputs.label),
        imu=t(inputs.imu),
        pool=t(inputs.pool),
        pool_times=t(inputs.pool_times),
        start=t(inputs.start),
        end=t(inputs.end),
        fps=t(inputs.fps),
        select=t(inputs.select),
        teacher_feature=t(inputs.teacher_feature),
        teacher_logits=t(inputs.teacher_logits),
    )


def plain_epochs(inputs, job, student_cfg, epochs: int, batch: int, from_frames: bool) -> list[float]:
    """A plain PyTorch loop over in-memory arrays with the same step as the Ray Train loop."""
    from egodistill.models.student import build_student
    from egodistill.training.distill_loop import distill_step

    torch.manual_seed(0)
    model = build_student(student_cfg)
    if not from_frames:
        model.image_encoder = None
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    step = distill_step(job, student_cfg.model_dump(mode="json"), from_frames, True)
    times = []
    rng = np.random.default_rng(0)
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        order = rng.permutation(inputs.num_rows)
        for i in range(0, inputs.num_rows, batch):
            sl = order[i : i + batch]
            b = {
                "label": torch.from_numpy(inputs.label[sl]),
                "imu": torch.from_numpy(inputs.imu[sl]),
                "pool": torch.from_numpy(inputs.pool[sl]),
                "select": torch.from_numpy(inputs.select[sl]),
                "teacher_feature": torch.from_numpy(inputs.teacher_feature[sl]),
                "teacher_logits": torch.from_numpy(inputs.teacher_logits[sl]),
            }
            loss, _ = step(model, b)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t0)
    return times


def ray_epochs(inputs, cfg, job, student_cfg, epochs: int) -> tuple[list[float], float]:
    from mlflow.tracking import MlflowClient

    from egodistill import tracking
    from egodistill.training import ray_wiring
    from egodistill.training.distill_loop import train_loop
    from egodistill.training.student_data import to_ray_dataset

    with tracking.tracked_run(cfg.tracking, workspace=cfg.ws(), job="bench-distill") as run:
        trainer = ray_wiring.build_trainer(
            train_loop,
            {
                "job": job,
                "student": student_cfg.model_dump(mode="json"),
                "from_frames": False,
                "run_ref": run,
            },
            cfg.trainer,
            workspace=cfg.ws(),
            name=f"bench-distill-{time.time():.0f}",
            datasets={"train": to_ray_dataset(inputs)},
        )
        t0 = time.perf_counter()
        result = trainer.fit()
        wall = time.perf_counter() - t0
        if result.error:
            raise result.error
    hist = MlflowClient(tracking_uri=run.tracking_uri).get_metric_history(run.run_id, "train_sec")
    return [m.value for m in sorted(hist, key=lambda m: m.step)], wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workspace", required=True)
    p.add_argument("--dataset", default="ego4d")
    p.add_argument("--rows", type=int, default=1024)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--frames", type=int, default=1)
    p.add_argument("--size", type=int, default=None, help="f_I input size (default: stored size)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (both loops)")
    p.add_argument("--variant", default="egodistill", choices=("egodistill", "visonly_distill"))
    p.add_argument("--skip-ray", action="store_true", help="only the cache comparison")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)

    from egodistill.ingest.pipeline import ensure_ray
    from egodistill.training.student_jobs import DistillJobConfig, _loop_job, prepare_inputs

    ensure_ray(2)
    base = {
        "workspace": args.workspace,
        "student": {"variant": args.variant, "image_weights": "none"},
        "data": {"dataset": args.dataset, "num_frames": args.frames, "image_size": args.size},
        "optim": {"epochs": args.epochs, "batch_size": args.batch, "lr": 1e-3, "milestones": [], "eval_every": 10**6},
        "trainer": {"scaling": {"num_workers": 1, "cpus_per_worker": 1}, "torch_threads": args.threads,
                    "find_unused_parameters": True},
    }  # fmt: skip
    cfg = DistillJobConfig(**base, efficiency=False)
    prep = prepare_inputs(cfg, need_teacher=True, with_eval=False)
    cached = tile(prep.train, args.rows)
    job = _loop_job(cfg, "distill")
    scfg = prep.student
    print(f"data: {cached.num_rows} rows (tiled from {prep.train.num_rows}), {args.variant}, N={args.frames}, batch {args.batch}, "
          f"{args.epochs} epochs, {args.threads} torch thread(s)")  # fmt: skip

    t_cached = plain_epochs(cached, job, scfg, args.epochs, args.batch, from_frames=False)
    fcfg = DistillJobConfig(**{**base, "student": {**base["student"], "image_weights": scfg.image_weights,
                                                   "freeze_image_encoder": False}}, efficiency=False)  # fmt: skip
    frames = tile(prepare_inputs(fcfg, need_teacher=True, with_eval=False).train, args.rows)
    frame_scfg = scfg.model_copy(update={"freeze_image_encoder": True})  # frozen f_I, run on frames each step
    re_epochs = max(1, min(args.epochs, 2))
    t_frames = plain_epochs(frames, job, frame_scfg, re_epochs, args.batch, from_frames=True)
    c, f = float(np.median(t_cached)), float(np.median(t_frames))
    print(f"[1] stage-2 epoch, plain loop: cached features {c:.3f} s vs re-encoding frames {f:.3f} s "
          f"({f / c:.1f}x faster with the cache; target >= 10x); frame size {frames.pool.shape[2]} px")  # fmt: skip

    if args.skip_ray:
        return
    t_ray, wall = ray_epochs(cached, cfg, job, scfg, args.epochs)
    r = float(np.median(t_ray[1:] if len(t_ray) > 1 else t_ray))
    c2 = float(np.median(t_cached[1:] if len(t_cached) > 1 else t_cached))
    print(f"[2] stage-2 epoch, cached features: Ray Train {r:.3f} s vs plain PyTorch {c2:.3f} s "
          f"(ratio {r / c2:.2f}; target <= 1.10); Ray per-epoch {[f'{t:.3f}' for t in t_ray]}, "
          f"plain {[f'{t:.3f}' for t in t_cached]}; TorchTrainer wall incl. start-up {wall:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
