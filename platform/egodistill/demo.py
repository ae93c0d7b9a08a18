"""``egodistill demo``: the whole pipeline on a fresh synthetic world, one Ray job per stage.

Stages, each the job a user runs (``jobs/<name>.py`` with the flags printed before it): synth →
index → ingest for every layout, then for the training layouts: teacher (with the single-frame
baseline it is compared with) → teacher features → students (``experiment``: stage-1 pretraining,
stage-2 training of VisOnly, VisOnly-Distill, VisIMU and EgoDistill, per-segment evaluation over
dense clips, results and efficiency tables, plot) → optionally a Ray Tune sweep.

Runners (``runner``):

- ``submit`` (default, what ``make demo`` runs): start a private Ray head on this machine
  (:mod:`egodistill.launch.local_head`), ``ray job submit --working-dir . -- python jobs/X.py ...``
  every stage to it, then stop that head (and only it). With ``address`` set, submit to that
  running cluster instead and start nothing.
- ``local``: call every job in this process against one local ``ray.init()``.

Everything is written under ``out`` in the workspace layout of docs/architecture.md.

Why this module is long: it is the demo's whole plan in order (config, stage list, the two runners,
the final summary); each part is a short function.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from egodistill.config import StrictConfig, add_config_arguments, load_config

HELP = "run the pipeline end to end on a fresh synthetic dataset (ray job submit on a local head)"

Layout = Literal["ego4d", "epic"]


class DemoConfig(StrictConfig):
    """Size of the demo world and of the stored frames; defaults finish in minutes on 2 cores."""

    out: str = "demo_out"
    layouts: list[Layout] = ["ego4d", "epic"]
    videos: int = Field(4, ge=1)
    seconds: float = Field(60.0, ge=5.0)
    seed: int = 0
    width: int = 160
    height: int = 120
    frame_size: int = Field(
        48,
        ge=16,
        description="stored frames, what the student sees: short side and centre crop (px); the "
        "teacher decodes the videos at its own 112 px, so it stays >= 20x the student's GMACs",
    )
    train_layouts: list[Layout] = Field(["ego4d"], description="layouts that go on to teacher and students")
    world: dict[str, Any] = Field(
        default_factory=dict,
        description="more knobs of the synthetic world, passed to `synth --set` (motion_correlation, "
        "imu_noise_scale, head_sway_scale, ...: egodistill/synthetic/config.py)",
    )
    preset: Literal["demo", "bench", "smoke"] = Field("demo", description="teacher and student presets")
    image_weights: str = Field(
        "standin",
        description="the students' frozen f_I: standin (train `egodistill pretrain-image`'s ResNet-18 on a "
        "separate synthetic pool once, then load it) | torchvision (ImageNet, where it can be fetched) | "
        "a checkpoint path | none (random, smoke only)",
    )
    teacher_pretrain: bool = Field(
        False,
        description="pretrain the teacher on a separate, larger world (seed + 1000, 2x the videos) and "
        "fine-tune it on this one, as the paper's teacher is Kinetics-pretrained. Off by default: it is "
        "one more teacher training on twice the data (402 s per pool epoch of the bench world on 2 cores)",
    )
    teacher_epochs: int | None = Field(None, ge=1, description="None: the teacher's preset")
    sweep_trials: int = Field(0, ge=0, description="> 0: also run a Ray Tune sweep of this many trials")
    correspondence: bool = Field(
        False, description="also run seed 002 (video/IMU correspondence) + a dog-profile world"
    )
    students: bool = Field(True, description="run the EgoDistill students (features, inputs, experiment)")
    multimodal: bool = Field(
        False, description="also run seed 001's multimodal distillation (`egodistill multimodal`)"
    )
    runner: Literal["submit", "local"] = "submit"
    address: str | None = Field(
        None, description="submit runner: a running cluster's dashboard URL; None: start a private local head"
    )
    num_cpus: int | None = Field(None, ge=1, description="CPUs of the local head / local Ray; None = all")


@dataclass(frozen=True)
class Stage:
    """One job of the demo: ``python jobs/<job>.py *args``."""

    name: str
    job: str
    args: tuple[str, ...]

    def command(self) -> str:
        import shlex

        return shlex.join(["python", f"jobs/{self.job.replace('-', '_')}.py", *self.args])


def teacher_name(cfg: DemoConfig, root: Path, layout: str) -> str:
    """The name the teacher job gives its export (features and students refer to it)."""
    from egodistill.teacher.config import PRESETS, TeacherJobConfig

    teacher = load_config(
        TeacherJobConfig,
        base=PRESETS[cfg.preset],
        dotted={"data.clips": str(root / "clips"), "data.dataset": layout, "workspace": str(root)},
    )
    return teacher.name


TEACHER_POOL_SEED_OFFSET = 1000


def image_weights_path(cfg: DemoConfig) -> str:
    """What the students' f_I loads: the stand-in's checkpoint path for ``standin``, else as given."""
    if cfg.image_weights != "standin":
        return cfg.image_weights
    from egodistill.pretraining.config import load_pretrain_config, require_distinct_seed

    root = Path(cfg.out).expanduser().absolute()
    pre = load_pretrain_config(cfg.preset, dotted={"workspace": str(root), "pool.image_size": cfg.frame_size})
    require_distinct_seed(pre, [cfg.seed, cfg.seed + 1, cfg.seed + TEACHER_POOL_SEED_OFFSET])
    return str(pre.checkpoint_path())


def _teacher_pool_stages(cfg: DemoConfig, root: Path, layout: str, name: str) -> tuple[list[Stage], str]:
    """Synth + index a separate, larger world and pretrain the teacher on it; returns the weights path."""
    from egodistill.teacher.export import export_dir

    pool_dir, manifest = (
        root / "pretrained" / "teacher_pool" / layout,
        root / "manifests" / f"{layout}_pool.parquet",
    )
    seed = cfg.seed + TEACHER_POOL_SEED_OFFSET
    pool_name = f"{name}-pool"
    todo = [
        Stage(f"synth teacher pool {layout}", "synth", (
            "--layout", layout, "--out", str(pool_dir), "--videos", str(2 * cfg.videos), "--seconds", str(cfg.seconds),
            "--seed", str(seed), "--width", str(cfg.width), "--height", str(cfg.height),
            *(a for k, v in sorted(cfg.world.items()) for a in ("--set", f"{k}={v}")))),
        Stage(f"index teacher pool {layout}", "index", ("--dataset", layout, "--root", str(pool_dir), "--out",
                                                         str(manifest),
                                                         *(("--set", "split.rule=random_participants") if layout == "epic" else ()))),
        Stage(f"teacher pretrain {layout}", "teacher", ("--manifest", str(manifest), "--dataset", layout, "--workspace",
                                                         str(root), "--preset", cfg.preset, "--model-name", pool_name)),
    ]  # fmt: skip
    return todo, str(export_dir(root, layout, pool_name) / "teacher.pt")


def stages(cfg: DemoConfig) -> list[Stage]:
    """Every stage's job and flags; paths are absolute (a submitted job runs in a copy of the repo)."""
    from egodistill.teacher.export import export_dir

    root = Path(cfg.out).expanduser().absolute()
    ws, clips = str(root), str(root / "clips")
    out: list[Stage] = []
    for layout in cfg.layouts:
        data_dir = str(root / "data" / layout)
        manifest = str(root / "manifests" / f"{layout}.parquet")
        out.append(Stage(f"synth {layout}", "synth", (
            "--layout", layout, "--out", data_dir, "--videos", str(cfg.videos), "--seconds", str(cfg.seconds),
            "--seed", str(cfg.seed), "--width", str(cfg.width), "--height", str(cfg.height),
            *(a for k, v in sorted(cfg.world.items()) for a in ("--set", f"{k}={v}")))))  # fmt: skip
        # the synthetic camera-wearers are P01..: split EPIC by a seeded share of participants
        # instead of the paper's P30/P35/P37 (the default for the real dataset)
        split = ("--set", "split.rule=random_participants") if layout == "epic" else ()
        out.append(Stage(f"index {layout}", "index", ("--dataset", layout, "--root", data_dir, "--out", manifest,
                                                      *split)))  # fmt: skip
        size = str(cfg.frame_size)
        out.append(Stage(f"ingest {layout}", "ingest", (
            "--manifest", manifest, "--out", clips, "--set", f"frames.short_side={size}",
            "--set", f"frames.crop_size={size}", "--set", "resources.progress_bars=false")))  # fmt: skip
    dog_manifest = str(root / "manifests" / "dog.parquet")
    if cfg.correspondence:  # the second domain of seed 002's transfer table, same layout and size
        dog_dir = str(root / "data" / "dog")
        out.append(Stage("synth dog", "synth", (
            "--profile", "dog", "--layout", "ego4d", "--out", dog_dir, "--videos", str(cfg.videos),
            "--seconds", str(cfg.seconds), "--seed", str(cfg.seed + 1), "--width", str(cfg.width),
            "--height", str(cfg.height))))  # fmt: skip
        out.append(
            Stage("index dog", "index", ("--dataset", "ego4d", "--root", dog_dir, "--out", dog_manifest))
        )
    image_weights = image_weights_path(cfg)
    if (cfg.students or cfg.multimodal) and cfg.image_weights == "standin":  # once, shared by every layout
        out.append(Stage("pretrain f_I (stand-in)", "pretrain-image", ("--workspace", ws, "--preset", cfg.preset,
                                                                     "--image-size", str(cfg.frame_size))))  # fmt: skip
    for layout in cfg.train_layouts:
        name = teacher_name(cfg, root, layout)
        epochs = ("--epochs", str(cfg.teacher_epochs)) if cfg.teacher_epochs else ()
        start: tuple[str, ...] = ()
        if cfg.teacher_pretrain:
            pool_stages, weights = _teacher_pool_stages(cfg, root, layout, name)
            out.extend(pool_stages)
            start = ("--weights", weights)
        out.append(Stage(f"teacher {layout}", "teacher", ("--clips", clips, "--dataset", layout, "--workspace", ws,
                                                          "--preset", cfg.preset, "--compare-single-frame", *epochs, *start)))  # fmt: skip
        if cfg.correspondence:
            out.append(Stage(f"correspondence {layout}", "correspondence", (
                "--workspace", ws, "--dataset", layout, "--preset", "demo", "--transfer-manifest", dog_manifest,
                "--supervised-teacher", str(export_dir(root, layout, name)))))  # fmt: skip
        if cfg.multimodal:
            out.append(Stage(f"multimodal {layout}", "multimodal", ("--workspace", ws, "--dataset", layout,
                                                                    "--preset", "demo", "--set", f"student.image_weights={image_weights}")))  # fmt: skip
        if not cfg.students:
            continue
        out.append(Stage(f"features {layout}", "features", ("--clips", clips, "--workspace", ws, "--dataset", layout,
                                                            "--teacher-dir", str(export_dir(root, layout, name)))))  # fmt: skip
        out.append(Stage(f"student inputs {layout}", "student-inputs", ("--workspace", ws, "--dataset", layout,
                                                                        "--image-weights", image_weights)))  # fmt: skip
        out.append(Stage(f"students {layout}", "experiment", ("--workspace", ws, "--dataset", layout,
                                                              "--preset", cfg.preset, "--teacher-model", name, "--image-weights", image_weights,
                                                              "--set", f"efficiency_size={cfg.frame_size}")))  # fmt: skip
        if cfg.sweep_trials:
            out.append(Stage(f"sweep {layout}", "sweep", (
                "--workspace", ws, "--dataset", layout, "--preset", "demo" if cfg.preset == "bench" else cfg.preset,
                "--name", f"demo-{layout}",
                "--trials", str(cfg.sweep_trials), "--set", f"job.data.teacher_model={name}")))  # fmt: skip
    return out


class StageFailed(RuntimeError):
    """A stage's job exited non-zero (its own output above says why)."""


def run_local(cfg: DemoConfig, todo: list[Stage]) -> None:
    """Every stage in this process against one local ``ray.init()`` (also what `reproduce` uses)."""
    from egodistill.cli import main
    from egodistill.runtime import ensure_ray

    ensure_ray(cfg.num_cpus)
    t_all = time.perf_counter()
    for i, stage in enumerate(todo):
        _announce(stage, "", i, len(todo))
        t0 = time.perf_counter()
        rc = main([stage.job, *stage.args])
        _finish(stage, rc, t0, i, len(todo), t_all)


def _run_submitted(cfg: DemoConfig, todo: list[Stage]) -> None:
    from egodistill.launch.local_head import local_head
    from egodistill.launch.submit import submit_job

    def run_all(address: str) -> None:
        t_all = time.perf_counter()
        for i, stage in enumerate(todo):
            _announce(stage, f"ray job submit --address {address} --working-dir . -- ", i, len(todo))
            t0 = time.perf_counter()
            rc = submit_job(address, stage.job, stage.args)
            _finish(stage, rc, t0, i, len(todo), t_all)

    if cfg.address:
        run_all(cfg.address)
        return
    print("starting a private local Ray head (ray start --head --dashboard-host 127.0.0.1) ...", flush=True)
    t0 = time.perf_counter()
    # the jobs' output goes to a log, not a terminal: no Ray Data progress bars
    with local_head(cfg.num_cpus, env={"RAY_DATA_DISABLE_PROGRESS_BARS": "1"}) as head:
        print(f"head up in {time.perf_counter() - t0:.0f} s: dashboard {head.dashboard_url}, logs {head.temp_dir}",
              flush=True)  # fmt: skip
        run_all(head.dashboard_url)
        print(f"\nstopping the local head {head.dashboard_url} (only the one this demo started)", flush=True)


def _announce(stage: Stage, prefix: str, i: int, n: int) -> None:
    print(f"\n=== [{i + 1}/{n}] {stage.name} ===\n$ {prefix}{stage.command()}", flush=True)


def _finish(stage: Stage, rc: int, t0: float, i: int, n: int, t_all: float) -> None:
    if rc != 0:
        raise StageFailed(f"stage {stage.name!r} failed (exit {rc}): {stage.command()}")
    from egodistill.progress import duration

    print(f"--- [{i + 1}/{n}] {stage.name}: {time.perf_counter() - t0:.1f} s "
          f"({duration(time.perf_counter() - t_all)} so far)", flush=True)  # fmt: skip


def summary_lines(cfg: DemoConfig) -> list[str]:
    """Where the results are: the results tables, plots, MLflow store (read back from the workspace)."""
    root = Path(cfg.out).expanduser().absolute()
    lines = ["", "=== demo finished ===", f"workspace: {root}", weights_line(cfg)]
    for layout in cfg.train_layouts:
        report = root / "reports" / "students" / layout
        for table in ("results", "efficiency"):
            path = report / f"{table}.md"
            if path.is_file():
                lines += [f"\n{layout} {table} ({path}):", path.read_text().rstrip()]
        mm = root / "reports" / "multimodal" / layout / "results.md"
        if mm.is_file():
            lines += [f"\n{layout} multimodal ({mm}):", mm.read_text().rstrip()]
        for name in ("accuracy_vs_gmacs.png", "comparison.png"):
            if (report / name).is_file():
                lines.append(f"plot: {report / name}")
        warn = report / "WARNINGS.txt"  # e.g. random f_I weights: said again here, not only mid-log
        if warn.is_file():
            lines += ["", *warn.read_text().rstrip().splitlines()]
        best = root / "sweeps" / f"demo-{layout}" / "best.yaml"
        if best.is_file():
            lines.append(f"best sweep config: {best}")
    lines += [
        "",
        f"MLflow runs of every stage: mlflow ui --backend-store-uri sqlite:///{root}/mlflow.db  "
        "(then open http://127.0.0.1:5000)",
    ]
    if cfg.image_weights == "none" and not any(line.startswith("WARNING") for line in lines):
        lines.append(
            "WARNING: the students' f_I used RANDOM weights (--image-weights none): smoke figures only"
        )
    return lines


def weights_line(cfg: DemoConfig) -> str:
    """Which f_I and which teacher start the run used (the results mean little without it)."""
    f_i = {"none": "RANDOM (smoke only: the features carry no pretrained semantics)",
           "torchvision": "torchvision ImageNet ResNet-18 (IMAGENET1K_V1)"}.get(cfg.image_weights)  # fmt: skip
    if f_i is None:
        path = image_weights_path(cfg)
        f_i = (
            f"stand-in pretrained on a separate synthetic pool: {path}"
            if cfg.image_weights == "standin"
            else path
        )
    teacher = ("pretrained on a separate world (seed + 1000, 2x videos), fine-tuned here" if cfg.teacher_pretrain
               else "trained from scratch on this world")  # fmt: skip
    return f"f_I weights: {f_i}\nteacher: {teacher}"


def run_demo(cfg: DemoConfig) -> None:
    """Run every stage with the configured runner; raise :class:`StageFailed` on the first failure."""
    t0 = time.perf_counter()
    todo = stages(cfg)
    if cfg.runner == "submit" and cfg.address:  # a dead cluster fails here, in a second, naming the address
        from egodistill.runtime import require_reachable

        require_reachable(cfg.address, "--address")
    (_run_submitted if cfg.runner == "submit" else run_local)(cfg, todo)
    print("\n".join(summary_lines(cfg)))
    print(f"total: {time.perf_counter() - t0:.0f} s")


def world_knobs(items: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` flags -> knobs of the synthetic world, checked against its config (one-line errors)."""
    from egodistill.synthetic.config import SynthConfig

    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--world expects KEY=VALUE, got {item!r}")
        if key not in SynthConfig.model_fields or key in ("out", "videos", "seconds", "seed", "layout"):
            raise ValueError(
                f"--world {key!r} is not a knob of the synthetic world (see synthetic/config.py)"
            )
        out[key] = value
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="workspace directory (default demo_out)")
    add_config_arguments(parser, "DemoConfig", "teacher_epochs=4")
    parser.add_argument("--videos", type=int, help="videos per layout (default 4)")
    parser.add_argument("--seconds", type=float, help="seconds per video (default 60)")
    parser.add_argument("--seed", type=int, help="world seed (default 0)")
    parser.add_argument("--runner", choices=("submit", "local"), help="submit (default) or local")
    parser.add_argument("--address", help="submit to this cluster's dashboard URL instead of a local head")
    parser.add_argument("--sweep-trials", type=int, help="also run a Ray Tune sweep of N trials")
    parser.add_argument("--correspondence", action="store_const", const=True,
                        help="also run seed 002: a dog-profile world and `egodistill correspondence`")  # fmt: skip
    parser.add_argument("--no-students", dest="students", action="store_const", const=False,
                        help="skip the EgoDistill student stages (features, student inputs, experiment)")  # fmt: skip
    parser.add_argument(
        "--preset", choices=("demo", "bench", "smoke"), help="teacher/student presets (default demo)"
    )
    parser.add_argument(
        "--world",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a synthetic-world knob for synth (e.g. motion_correlation=0.6); repeatable",
    )
    parser.add_argument(
        "--multimodal", action="store_const", const=True, help="also run `egodistill multimodal`"
    )
    parser.add_argument(
        "--image-weights", help="students' f_I: standin (default) | torchvision | path | none"
    )
    parser.add_argument("--teacher-pretrain", dest="teacher_pretrain", action=argparse.BooleanOptionalAction,
                        default=None, help="pretrain the teacher on a separate larger world, then fine-tune "
                        "(off by default: it doubles the teacher's cost)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    keys = ("out", "videos", "seconds", "seed", "runner", "address", "sweep_trials", "preset", "correspondence",
            "students", "multimodal", "image_weights", "teacher_pretrain")  # fmt: skip
    values = {k: getattr(args, k) for k in keys}
    try:
        values["world"] = world_knobs(args.world) or None
    except ValueError as e:
        print(f"egodistill demo: {e}")
        return 2
    cfg = load_config(DemoConfig, args.config, args.overrides, **values)
    try:
        run_demo(cfg)
    except StageFailed as e:
        print(f"egodistill demo: {e}")
        return 1
    return 0
