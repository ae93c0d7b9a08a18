"""The stand-in f_I: config validation, labels, the checkpoint round trip, the job, the linear probe."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from egodistill.config import ConfigError
from egodistill.pretraining.config import PretrainImageConfig, load_pretrain_config, require_distinct_seed
from egodistill.pretraining.pool import CENTER_CLASSES, OBJECT_LABELS, ROOM, frame_labels


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("pool.val_worlds=4", "pool.val_worlds"),
        ("pool.image_size=64", "image_size"),
        ("pool.width=63", "even"),
        ("pool.seed=-1", "pool.seed"),
        ("center_weight=0", "nothing to train"),
        ("pool.colour=1", "pool.colour"),
    ],
)
def test_bad_configs_fail_with_one_line_naming_the_key(override, needle):
    over = [override, "visible_weight=0"] if override.startswith("center_weight") else [override]
    with pytest.raises(ConfigError, match=needle):
        load_pretrain_config("smoke", overrides=over)


def test_unknown_preset_and_shared_seed_are_config_errors():
    with pytest.raises(ConfigError, match="unknown preset"):
        load_pretrain_config("imagenet")
    cfg = load_pretrain_config("smoke", dotted={"pool.seed": 1})
    with pytest.raises(ConfigError, match="separate pool"):
        require_distinct_seed(cfg, [0, 1])


def test_checkpoint_name_follows_what_shapes_the_weights(tmp_path):
    a = load_pretrain_config("smoke", dotted={"workspace": str(tmp_path)})
    b = load_pretrain_config("smoke", dotted={"workspace": str(tmp_path), "tracking.enabled": False})
    c = load_pretrain_config("smoke", dotted={"workspace": str(tmp_path), "optim.epochs": 3})
    assert a.checkpoint_path() == b.checkpoint_path() != c.checkpoint_path()
    assert a.checkpoint_path().parent == tmp_path.absolute() / "pretrained" / "image"


def test_frame_labels_are_objects_not_verbs():
    ids = np.full((16, 16), -1, np.int16)
    ids[:, :8] = 0  # a counter on the left half
    ids[7:9, 7:9] = 1  # a jar at the fixation point
    visible, centre = frame_labels(ids, ["counter", "jar"], visible_fraction=0.003)
    assert visible[OBJECT_LABELS.index("counter")] == 1 and visible[OBJECT_LABELS.index("jar")] == 1
    assert visible.sum() == 2 and CENTER_CLASSES[centre] == "jar"
    _, room = frame_labels(np.full((16, 16), -1, np.int16), ["counter"], 0.003)
    assert CENTER_CLASSES[room] == ROOM


def test_trunk_checkpoint_loads_through_the_students_image_weights_path(tmp_path):
    from egodistill.models.config import StudentConfig
    from egodistill.models.image import ImageEncoder
    from egodistill.pretraining.task import StandInNet

    torch.manual_seed(3)
    net = StandInNet().eval()
    path = tmp_path / "standin.pt"
    torch.save(net.trunk_state(), path)
    assert not any(k.startswith("fc.") for k in torch.load(path, weights_only=True))
    enc = ImageEncoder(StudentConfig(image_weights=str(path)).image_weights, frozen=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(enc(x), net.net(x), atol=1e-5)


@pytest.mark.ray
@pytest.mark.slow  # a Ray Train run: ~30 s when the machine is idle, minutes when shared
def test_job_writes_a_loadable_checkpoint_and_reuses_it(ray_session, tmp_path, monkeypatch):
    from egodistill.models.image import ImageEncoder
    from egodistill.pretraining.job import run_pretrain_image

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = load_pretrain_config("smoke", dotted={"workspace": str(tmp_path), "pool.worlds": 3,
                                                "pool.frames_per_world": 16, "optim.epochs": 1})  # fmt: skip
    first = run_pretrain_image(cfg)
    assert not first.reused and first.checkpoint == str(cfg.checkpoint_path())
    ImageEncoder(first.checkpoint, frozen=True)
    import json

    info = json.loads(cfg.info_path().read_text())
    assert info["pool"]["seed"] == cfg.pool.seed and "never the verbs" in info["objective"]
    assert (tmp_path / "mlflow.db").is_file()
    again = run_pretrain_image(PretrainImageConfig.model_validate(cfg.model_dump()))
    assert again.reused and again.checkpoint == first.checkpoint


@pytest.mark.slow  # trains a stand-in for a few minutes on 2 CPU cores
def test_stand_in_beats_a_random_f_i_on_a_linear_probe_of_held_out_frames(tmp_path):
    """The stand-in's features must carry more about unseen worlds than a random ResNet-18's."""
    from egodistill.features.image_cache import ImageCacheConfig, effective_weights
    from egodistill.pretraining.probe import features, probe_accuracy, probe_frames
    from egodistill.pretraining.task import StandInNet, augment, normalise

    cfg = load_pretrain_config("demo", dotted={"pool.worlds": 8, "pool.frames_per_world": 120})
    from egodistill.pretraining.pool import render_world

    parts = [render_world(cfg.pool, i) for i in range(cfg.pool.worlds)]
    images = torch.as_tensor(np.concatenate([p["image"] for p in parts]))
    visible = torch.as_tensor(np.concatenate([p["visible"] for p in parts]))
    centre = torch.as_tensor(np.concatenate([p["center"] for p in parts]))
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    net = StandInNet()
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    for _ in range(4):  # the same objective and augmentation as the job, without Ray (120 steps)
        for idx in torch.randperm(len(images), generator=gen).split(32):
            v_logits, c_logits = net(augment(normalise(images[idx]), cfg.augment, gen))
            loss = torch.nn.functional.binary_cross_entropy_with_logits(v_logits, visible[idx])
            loss = loss + torch.nn.functional.cross_entropy(c_logits, centre[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    standin = tmp_path / "standin.pt"
    torch.save(net.trunk_state(), standin)
    random = effective_weights(ImageCacheConfig(clips="unused", weights="none", out=str(tmp_path / "f")))

    probe = probe_frames(cfg.pool.model_copy(update={"frames_per_world": 100}), worlds=6, test_worlds=2)
    f_standin, f_random = features(str(standin), probe.images), features(random, probe.images)
    label = probe.labels["center"]  # the object at the fixation point, in worlds neither net saw
    acc_standin = probe_accuracy(f_standin, label, probe.train)
    acc_random = probe_accuracy(f_random, label, probe.train)
    acting = probe.labels["verb"] != ""  # and the verb, on the frames inside an action
    verb = [
        probe_accuracy(f[acting], probe.labels["verb"][acting], probe.train[acting])
        for f in (f_standin, f_random)
    ]
    print(f"linear probe on held-out worlds: object at fixation stand-in {acc_standin:.3f} vs random "
          f"{acc_random:.3f}; verb stand-in {verb[0]:.3f} vs random {verb[1]:.3f}")  # fmt: skip
    assert acc_standin > acc_random
