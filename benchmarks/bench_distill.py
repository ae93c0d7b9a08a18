"""Stage-2 epoch time, side by side on the same data:

1. cached f_I features vs re-encoding the frames with the frozen ResNet-18 every step (target >= 10x);
2. the Ray Train engine (TorchTrainer, 1 worker, Ray Data streaming) vs a plain PyTorch loop (target <= 1.10x).

    python benchmarks/bench_distill.py --workspace /path/to/ws [--dataset ego4d] [--rows 1024] [--epochs 3]

The workspace needs clips + teacher features (`egodistill ingest`, `egodistill features`); the student
inputs (both frame pools: cached features and JPEG frames) are built on first use. The training rows
are tiled to ``--rows`` so an epoch is long enough to time. Both sides of each comparison run the same
task step (:class:`egodistill.methods.egodistill.steps.EgoDistillTask`), batch size and model;
"re-encode" decodes the JPEGs once up front and runs f_I on the N selected frames each step (so it
measures the encoder, not JPEG decoding). Epoch time on the Ray side is the engine's own
``train_sec`` (streaming + compute, without the worker-group start-up, which is printed apart).
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import torch


def rows_of(view, cfg, teacher: str, rows: int) -> dict[str, np.ndarray]:
    """The split's student tensors (as the engine sees them), tiled to ``rows``."""
    from egodistill.student.stream import student_dataset

    d = cfg.data
    ds = student_dataset(view, d.train_split, num_frames=d.num_frames, strategy=d.strategy, seed=0, teacher=teacher)
    batches = list(ds.iter_batches(batch_size=None, batch_format="numpy"))
    data = {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
    n = len(data["label"])
    idx = np.tile(np.arange(n), int(np.ceil(rows / n)))[:rows]
    return {k: v[idx] for k, v in data.items()}


def plain_epochs(task, data: dict[str, np.ndarray], epochs: int, batch: int) -> list[float]:
    """A plain PyTorch loop over in-memory arrays with the same task step as the engine."""
    from egodistill.training.loop import StepContext

    torch.manual_seed(0)
    model = task.build_model()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    ctx = StepContext(torch.device("cpu"), False, torch.Generator().manual_seed(0))
    n = len(data["label"])
    rng = np.random.default_rng(0)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        order = rng.permutation(n)
        for i in range(0, n, batch):
            sl = order[i : i + batch]
            out = task.step(model, {k: torch.from_numpy(np.ascontiguousarray(v[sl])) for k, v in data.items()}, ctx)
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            opt.step()
        times.append(time.perf_counter() - t0)
    return times


def ray_epochs(data: dict[str, np.ndarray], cfg, scfg) -> tuple[list[float], float]:
    """The same epochs through the engine on Ray Train (1 worker), from a Ray Dataset of the same rows."""
    import pyarrow as pa
    import ray
    from mlflow.tracking import MlflowClient
    from ray.data.extensions import ArrowTensorArray

    from egodistill import tracking
    from egodistill.methods.egodistill.steps import train_loop
    from egodistill.training import ray_wiring

    table = pa.table({k: ArrowTensorArray.from_numpy(v) if v.ndim > 1 else pa.array(v) for k, v in data.items()})
    ds = ray.data.from_arrow([table.slice(i, 64) for i in range(0, table.num_rows, 64)])
    with tracking.tracked_run(cfg.tracking, workspace=cfg.ws(), job="bench-distill") as run:
        loop_config = {"job": cfg.model_dump(mode="json"), "stage": "distill", "student": scfg.model_dump(mode="json"),
                       "from_frames": False, "has_val": False, "run_ref": run}  # fmt: skip
        trainer = ray_wiring.build_trainer(train_loop, loop_config, cfg.trainer, workspace=cfg.ws(),
                                           name=f"bench-distill-{time.time():.0f}", datasets={"train": ds})  # fmt: skip
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

    from egodistill.methods.egodistill.config import DistillJobConfig
    from egodistill.methods.egodistill.steps import EgoDistillTask
    from egodistill.runtime import ensure_ray
    from egodistill.student.driver import prepare
    from egodistill.student.products import StudentInputsConfig, run_student_inputs

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
    fcfg = DistillJobConfig(**{**base, "student": {**base["student"], "freeze_image_encoder": False}}, efficiency=False)
    for c in (cfg, fcfg):
        run_student_inputs(StudentInputsConfig.for_job(c.workspace, c.data, c.student))
    prep = prepare(cfg, needs_teacher=True, evaluates=False)
    fprep = prepare(fcfg, needs_teacher=True, evaluates=False)
    cached = rows_of(prep.train, cfg, prep.teacher_model, args.rows)
    frames = rows_of(fprep.train, fcfg, fprep.teacher_model, args.rows)
    scfg = prep.student
    print(f"data: {len(cached['label'])} rows (tiled from {prep.train_rows}), {args.variant}, N={args.frames}, "
          f"batch {args.batch}, {args.epochs} epochs, {args.threads} torch thread(s)")  # fmt: skip

    t_cached = plain_epochs(EgoDistillTask("distill", cfg, scfg), cached, args.epochs, args.batch)
    # frozen f_I run on the frames every step: the student as configured with the cache's f_I weights
    frame_scfg = scfg.model_copy(update={"freeze_image_encoder": True})
    re_epochs = max(1, min(args.epochs, 2))
    t_frames = plain_epochs(EgoDistillTask("distill", cfg, frame_scfg, from_frames=True), frames, re_epochs, args.batch)
    c, f = float(np.median(t_cached)), float(np.median(t_frames))
    print(f"[1] stage-2 epoch, plain loop: cached features {c:.3f} s vs re-encoding frames {f:.3f} s "
          f"({f / c:.1f}x faster with the cache; target >= 10x); frame size {frames['pool'].shape[2]} px")  # fmt: skip

    if args.skip_ray:
        return
    t_ray, wall = ray_epochs(cached, cfg, scfg)
    r = float(np.median(t_ray[1:] if len(t_ray) > 1 else t_ray))
    c2 = float(np.median(t_cached[1:] if len(t_cached) > 1 else t_cached))
    print(f"[2] stage-2 epoch, cached features: Ray Train {r:.3f} s vs plain PyTorch {c2:.3f} s "
          f"(ratio {r / c2:.2f}; target <= 1.10); Ray per-epoch {[f'{t:.3f}' for t in t_ray]}, "
          f"plain {[f'{t:.3f}' for t in t_cached]}; TorchTrainer wall incl. start-up {wall:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
