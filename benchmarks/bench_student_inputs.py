"""Driver memory and epoch time of the student inputs as the corpus grows (streamed vs today's path).

    python benchmarks/bench_student_inputs.py [--base-rows 1024] [--factors 1 4 16] [--workdir DIR]

A small synthetic world is built once (synth -> index -> ingest -> a random tiny teacher -> teacher
features -> ``student-inputs``), then its clips and sidecar tables are *tiled* (every row copied with a
suffixed ``clip_id``) to ``base-rows x factor`` training rows. For each size, in fresh processes:

* the ``student-inputs`` stage (dense clips reused, f_I cache, Ray Data join written once), and
* one stage-2 epoch of ``egodistill distill`` (EgoDistill, N = 1, cached f_I, batch 64) streaming the
  joined table to one Ray Train worker,

each reporting the driver's peak RSS (``ru_maxrss``; Ray's workers are other processes) and the
engine's own epoch time (``train_sec``). Side by side, at 1x only, the same epoch runs through
*today's path*: the code of commit ``BASELINE`` (``git archive``), which joins every input into numpy
on the driver. The last lines fit driver RSS against rows and project the driver memory of the full
corpus (``--corpus-rows``, default 6.6 M windows: one every ~2 s of 3,670 h).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

BASELINE = "1da2c58"
REPO = Path(__file__).resolve().parents[1]
STUDENT = {"image_weights": "none", "variant": "egodistill"}
OPTIM = {"epochs": 1, "batch_size": 64, "lr": 1e-3, "milestones": [], "eval_every": 1}
TRAINER = {"scaling": {"num_workers": 1, "cpus_per_worker": 1}, "find_unused_parameters": True}


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def build_world(ws: Path) -> None:
    """synth (4 videos x 60 s) -> manifest -> clips (4 frames + first/last, 32 px) -> random teacher -> features."""
    import torch

    from egodistill.datasets.config import IndexConfig
    from egodistill.datasets.manifest import build_manifest, read_manifest, write_manifest
    from egodistill.features.config import FeaturesConfig
    from egodistill.features.pipeline import run_features
    from egodistill.ingest.config import IngestConfig
    from egodistill.ingest.pipeline import run_ingest
    from egodistill.models.config import TeacherConfig
    from egodistill.models.teachers import build_teacher
    from egodistill.synthetic import SynthConfig, generate
    from egodistill.teacher.export import write_export

    generate(SynthConfig(layout="ego4d", out=str(ws / "synth"), videos=4, seconds=60, width=64, height=48,
                         audio=False, workers=1))  # fmt: skip
    icfg = IndexConfig(dataset="ego4d", root=str(ws / "synth"), min_class_instances=1)
    manifest = ws / "manifests" / "ego4d.parquet"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    write_manifest(build_manifest(icfg).manifest, str(manifest), icfg)
    run_ingest(IngestConfig(manifest=str(manifest), out=str(ws / "clips"),
                            frames={"count": 4, "short_side": 32, "crop_size": 32}, resources={"progress_bars": False}))  # fmt: skip
    n = max(read_manifest(str(manifest)).column("label").to_pylist()) + 1
    teacher = TeacherConfig(name="tiny3d", weights="none", crop_size=32, tiny_width=8, num_classes=n)
    torch.manual_seed(0)
    export = write_export(ws / "teacher", build_teacher(teacher).state_dict(), teacher,
                          {"model_name": "tiny", "clip": {"decode_size": 36}})  # fmt: skip
    run_features(FeaturesConfig(clips=str(ws / "clips"), workspace=str(ws), teacher_dir=str(export)))


def tile_tree(src: Path, dst: Path, copies: int) -> None:
    """Every Parquet file under ``src`` with its rows repeated ``copies`` times (``clip_id`` suffixed)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from egodistill.storage import stamp_rows

    for path in src.rglob("*.parquet"):
        out = dst / path.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        table = pq.read_table(path, partitioning=None)
        if "clip_id" not in table.column_names or any(p.startswith("_") for p in path.relative_to(src).parts):
            pq.write_table(table, out)
            continue
        i = table.column_names.index("clip_id")
        parts = [table] + [table.set_column(i, table.schema.field(i), pc.binary_join_element_wise(
            table.column("clip_id"), pa.scalar(f"~{k}"), "")) for k in range(1, copies)]  # fmt: skip
        pq.write_table(stamp_rows(pa.concat_tables(parts)), out)  # the row count the resume check expects


def make_workspace(base: Path, ws: Path, copies: int) -> None:
    """A workspace whose clips and sidecar tables are ``base``'s tiled ``copies`` times (dense clips shared)."""
    import shutil

    if (ws / ".ready").is_file():
        return
    tile_tree(base / "clips", ws / "clips", copies)
    for d in (base / "features" / "ego4d").iterdir():
        if d.is_dir() and not d.name.startswith("_"):
            tile_tree(d, ws / "features" / "ego4d" / d.name, copies)
    shutil.copytree(base / "features" / "_weights", ws / "features" / "_weights", dirs_exist_ok=True)
    (ws / "clips_dense").symlink_to(base / "clips_dense")
    shutil.copytree(base / "manifests", ws / "manifests", dirs_exist_ok=True)
    (ws / ".ready").write_text("")


# ----------------------------------------------------------------------------------------------
# child processes (one measurement each, fresh driver)


def child(mode: str, ws: str, out: str) -> None:
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    import egodistill

    t0 = time.perf_counter()
    result: dict = {"egodistill": egodistill.__file__}
    if mode == "stage":
        from egodistill.student.products import StudentInputsConfig, run_student_inputs

        s = run_student_inputs(StudentInputsConfig(workspace=ws, image_weights="none",
                                                   tracking={"enabled": False}))  # fmt: skip
        result["rows"] = s.sources["clips"]["rows_written"]
    elif mode == "new":
        from egodistill.methods.egodistill.config import DistillJobConfig
        from egodistill.methods.egodistill.jobs import run_distill

        cfg = DistillJobConfig(workspace=ws, name=f"bench-{os.getpid()}", student=STUDENT, optim=OPTIM, trainer=TRAINER,
                               tracking={"enabled": False}, efficiency=False)  # fmt: skip
        o = run_distill(cfg)
        result.update({"train_sec": o.metrics["train_sec"], "rows": o.metrics["train_clips"],
                       "segments": len(o.segments.label) if o.segments else 0})  # fmt: skip
    else:  # today's path (the BASELINE commit's code)
        from egodistill.training.student_jobs import DistillJobConfig, run_distill

        cfg = DistillJobConfig(workspace=ws, name=f"bench-old-{os.getpid()}", student=STUDENT, optim=OPTIM, trainer=TRAINER,
                               tracking={"enabled": False}, efficiency=False)  # fmt: skip
        o = run_distill(cfg)
        result.update({"train_sec": o.metrics["train_sec"], "rows": o.metrics["train_clips"],
                       "segments": len(o.segments.label) if o.segments else 0})  # fmt: skip
    result.update({"wall_sec": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb()})
    Path(out).write_text(json.dumps(result))


def measure(mode: str, ws: Path, pythonpath: str | None = None) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    env = {**os.environ, "RAY_DATA_DISABLE_PROGRESS_BARS": "1"}
    env.pop("RAY_ADDRESS", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    subprocess.run([sys.executable, __file__, "--child", mode, str(ws), out], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return json.loads(Path(out).read_text())


def baseline_code(dst: Path) -> str:
    """The BASELINE commit's ``platform/`` (today's path), extracted with ``git archive``."""
    if not (dst / "schemas").is_dir():
        dst.mkdir(parents=True, exist_ok=True)
        data = subprocess.run(["git", "-C", str(REPO), "archive", BASELINE, "platform", "schemas"], check=True,
                              capture_output=True).stdout  # fmt: skip
        with tempfile.TemporaryFile() as tmp:
            tmp.write(data)
            tmp.seek(0)
            with tarfile.open(fileobj=tmp) as tar:
                tar.extractall(dst, filter="data")
    return str(dst / "platform")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base-rows", type=int, default=1024, help="training rows at 1x")
    p.add_argument("--factors", type=int, nargs="+", default=[1, 4, 16])
    p.add_argument("--corpus-rows", type=float, default=6.6e6)
    p.add_argument("--workdir", default=None, help="keep the worlds here (default: a temp dir)")
    p.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(*args.child)
        return
    import numpy as np
    import pyarrow.parquet as pq

    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-student-inputs-")).absolute()
    base = work / "base"
    t0 = time.perf_counter()
    if not (base / ".ready").is_file():
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        build_world(base)
        ray.shutdown()
        measure("stage", base)  # the base world's dense clips and f_I cache, shared by every size
        (base / ".ready").write_text("")
    n_train = sum(  # file by file: no hive partition column
        pq.read_table(p, columns=["split"], partitioning=None).column("split").to_pylist().count("train")
        for p in sorted((base / "clips").rglob("*.parquet"))
        if "_quarantine" not in p.parts
    )
    print(f"world: {work} ({n_train} training clips before tiling, built in {time.perf_counter() - t0:.0f} s)")
    rows_at, rss_at, rows_list, old_list = {}, {}, [], []
    print(f"{'path':<10} {'size':>5} {'train rows':>10} {'stage s':>8} {'stage RSS MB':>12} {'epoch s':>8} "
          f"{'ms/row':>7} {'driver RSS MB':>13}")  # fmt: skip
    for f in args.factors:
        copies = max(1, round(args.base_rows * f / n_train))
        ws = work / f"x{f}"
        make_workspace(base, ws, copies)
        stage = measure("stage", ws)
        new = measure("new", ws)
        rows_at[f], rss_at[f] = new["rows"], new["peak_rss_mb"]
        rows_list.append((new["rows"], new["peak_rss_mb"]))
        print(f"{'streamed':<10} {f:>4}x {new['rows']:>10} {stage['wall_sec']:>8.1f} {stage['peak_rss_mb']:>12.0f} "
              f"{new['train_sec']:>8.2f} {1000 * new['train_sec'] / new['rows']:>7.3f} {new['peak_rss_mb']:>13.0f}",
              flush=True)  # fmt: skip
        if f in args.factors[:2]:  # today's path at the two smallest sizes (its memory grows with rows)
            old = measure("old", ws, baseline_code(work / "baseline"))
            assert "/baseline/" in old["egodistill"], old["egodistill"]
            old_list.append((old["rows"], old["peak_rss_mb"]))
            print(f"{'today':<10} {f:>4}x {old['rows']:>10} {'-':>8} {'-':>12} {old['train_sec']:>8.2f} "
                  f"{1000 * old['train_sec'] / old['rows']:>7.3f} {old['peak_rss_mb']:>13.0f}", flush=True)  # fmt: skip
    rows = np.array([r for r, _ in rows_list], float)
    rss = np.array([m for _, m in rows_list], float)
    slope, intercept = np.polyfit(rows, rss, 1) if len(rows) > 1 else (0.0, rss[0])
    lo, hi = args.factors[0], args.factors[-1]
    change = 100 * (rss_at[hi] - rss_at[lo]) / rss_at[lo]
    print(f"driver peak RSS {lo}x -> {hi}x: {rss_at[lo]:.0f} -> {rss_at[hi]:.0f} MB ({change:+.1f} %); "
          f"fitted slope {1024 * slope:.2f} KB per row")  # fmt: skip
    print(f"projected driver memory for {args.corpus_rows:.3g} rows (streamed): "
          f"{intercept + slope * args.corpus_rows:.0f} MB (intercept {intercept:.0f} MB + slope x rows)")
    if len(old_list) > 1:
        (r0, m0), (r1, m1) = old_list[:2]
        old_slope = (m1 - m0) / (r1 - r0)
        print(f"today's path: {m0:.0f} -> {m1:.0f} MB from {r0} to {r1} rows, {1024 * old_slope:.1f} KB per row; "
              f"projected for {args.corpus_rows:.3g} rows: {(m0 + old_slope * (args.corpus_rows - r0)) / 1024:.0f} GB")


if __name__ == "__main__":
    main()
