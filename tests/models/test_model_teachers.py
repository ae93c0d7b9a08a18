"""The teacher zoo at small input sizes, checkpoints and weight-loading errors (no network)."""

from __future__ import annotations

import socket
import urllib.error
import warnings

import pytest
import torch

from egodistill.models import weights as weights_mod
from egodistill.models.config import TeacherConfig
from egodistill.models.image import IMAGE_WEIGHTS, ImageEncoder
from egodistill.models.teachers import TEACHER_NAMES, build_teacher, teacher_input_spec
from egodistill.models.weights import CheckpointMismatchError, WeightsUnavailableError, torchvision_cache_path

SMALL = (2, 3, 8, 64, 64)  # (B, C, T, H, W)


@pytest.mark.parametrize(
    ("name", "dim"),
    [("tiny3d", 256), ("r3d_18", 512), ("r2plus1d_18", 512), ("s3d", 1024), ("swin3d_t", 768)],
)
def test_teacher_runs_at_small_size(name, dim):
    teacher = build_teacher(TeacherConfig(name=name, weights="none", num_classes=5)).eval()
    clip = torch.randn(*SMALL, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = teacher(clip)
        assert out.features.shape == (2, dim) and out.logits.shape == (2, 5)
        torch.testing.assert_close(teacher.features(clip), out.features)
        torch.testing.assert_close(teacher.logits(clip), out.logits)
        if name != "s3d":  # torchvision's own S3D forward needs >= 16 x 224 x 224 (its (2, 7, 7) pooling)
            # our feature/head split reproduces the torchvision model's own forward
            torch.testing.assert_close(out.logits, teacher.net(clip))
    assert teacher.feature_dim == dim and teacher.num_classes == 5


def test_input_specs():
    for name in TEACHER_NAMES:
        spec = teacher_input_spec(TeacherConfig(name=name, weights="none"))
        assert spec.layout == "B,C,T,H,W" and len(spec.mean) == len(spec.std) == 3
    mvit = teacher_input_spec(TeacherConfig(name="mvit_v2_s"))
    assert (mvit.num_frames, mvit.sample_rate, mvit.crop_size, mvit.exact_size) == (16, 4, 224, True)
    assert mvit.mean == (0.45, 0.45, 0.45)
    r21 = teacher_input_spec(TeacherConfig(name="r2plus1d_18"))
    assert (r21.num_frames, r21.crop_size, r21.resize_size) == (16, 112, (128, 171))
    tiny = teacher_input_spec(TeacherConfig(name="tiny3d", weights="none", num_frames=16, crop_size=96))
    assert (tiny.num_frames, tiny.crop_size) == (16, 96)
    with pytest.raises(ValueError, match="16 frames at 224 px"):
        teacher_input_spec(TeacherConfig(name="mvit_v2_s", num_frames=8))
    x = torch.full((1, 3, 2, 4, 4), 0.45)
    assert torch.allclose(mvit.normalize(x, channel_dim=1), torch.zeros_like(x), atol=1e-6)


def test_clip_layout_is_checked():
    teacher = build_teacher(TeacherConfig(name="tiny3d", weights="none"))
    with pytest.raises(ValueError, match=r"\(B, 3, T, H, W\)"):
        teacher.features(torch.zeros(1, 8, 3, 64, 64))


def test_local_checkpoint_round_trip(tmp_path):
    cfg = TeacherConfig(name="tiny3d", weights="none", num_classes=4, tiny_width=8)
    a = build_teacher(cfg).eval()
    path = tmp_path / "teacher.pt"
    torch.save(a.state_dict(), path)  # keys prefixed "net."
    b = build_teacher(cfg.model_copy(update={"weights": str(path)})).eval()
    clip = torch.randn(1, 3, 8, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(a(clip).logits, b(clip).logits)


def test_backbone_checkpoint_with_other_head_gets_a_new_head(tmp_path):
    """A Kinetics-style backbone state dict (400-way head) loads and the head is resized to C."""
    src = build_teacher(TeacherConfig(name="tiny3d", weights="none", num_classes=400, tiny_width=8))
    path = tmp_path / "kinetics_tiny.pth"
    torch.save(src.net.state_dict(), path)
    dst = build_teacher(TeacherConfig(name="tiny3d", weights=str(path), num_classes=6, tiny_width=8)).eval()
    assert dst.num_classes == 6 and dst.net.head[1].out_features == 6
    clip = torch.randn(1, 3, 8, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(src.eval().features(clip), dst.features(clip))


def test_mismatched_checkpoint_names_file_and_keys(tmp_path):
    src = build_teacher(TeacherConfig(name="tiny3d", weights="none", num_classes=4, tiny_width=8))
    path = tmp_path / "narrow.pt"
    torch.save(src.state_dict(), path)
    with pytest.raises(
        CheckpointMismatchError, match=r"(?s)narrow\.pt.*shape mismatches: features\.0\.0\.weight"
    ):
        build_teacher(TeacherConfig(name="tiny3d", weights=str(path), num_classes=4, tiny_width=16))
    state = src.state_dict()
    state["net.extra.weight"] = torch.zeros(1)
    del state["net.features.1.1.running_mean"]
    torch.save(state, path)
    with pytest.raises(CheckpointMismatchError) as err:
        build_teacher(TeacherConfig(name="tiny3d", weights=str(path), num_classes=4, tiny_width=8))
    assert "missing keys: features.1.1.running_mean" in str(err.value)
    assert "unexpected keys: extra.weight" in str(err.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_teacher(TeacherConfig(name="tiny3d", weights=str(tmp_path / "nope.pt")))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointMismatchError, match="cannot read checkpoint"):
        build_teacher(TeacherConfig(name="tiny3d", weights=str(tmp_path / "junk.pt")))


def test_tiny3d_has_no_torchvision_weights():
    with pytest.raises(ValueError, match="no torchvision weights"):
        build_teacher(TeacherConfig(name="tiny3d", weights="torchvision"))


# --- torchvision weights that cannot be fetched (never touches the network) -----------------------


@pytest.fixture
def empty_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    return tmp_path / "torch_home"


def test_uncached_weights_with_downloads_disabled(empty_torch_home):
    with pytest.raises(WeightsUnavailableError) as err:
        build_teacher(TeacherConfig(name="r3d_18", weights="torchvision", allow_download=False))
    msg = str(err.value)
    assert "R3D_18_Weights.KINETICS400_V1" in msg and str(empty_torch_home) in msg
    assert "local" in msg and "checkpoint" in msg


def test_failed_download_raises_clear_error(empty_torch_home, monkeypatch):
    seen = {}

    def no_network(url, **kwargs):
        seen["timeout"] = socket.getdefaulttimeout()
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(weights_mod.torch.hub, "load_state_dict_from_url", no_network)
    before = socket.getdefaulttimeout()
    with pytest.raises(WeightsUnavailableError, match=r"(?s)could not fetch.*IMAGENET1K_V1.*no internet"):
        ImageEncoder("torchvision", download_timeout_s=7.0)
    assert seen["timeout"] == 7.0 and socket.getdefaulttimeout() == before


def test_cached_torchvision_weights_load_without_network(empty_torch_home, monkeypatch):
    monkeypatch.setattr(weights_mod.torch.hub, "load_state_dict_from_url", pytest.fail)
    import torchvision

    reference = torchvision.models.resnet18(weights=None)
    cached = torchvision_cache_path(IMAGE_WEIGHTS)
    assert cached.parent == empty_torch_home / "hub" / "checkpoints"
    cached.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), cached)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no random-weights warning: weights were loaded
        enc = ImageEncoder("torchvision")
    torch.testing.assert_close(enc.net.conv1.weight, reference.conv1.weight)


def test_random_image_encoder_warns_loudly():
    with pytest.warns(RuntimeWarning, match="RANDOM weights"):
        ImageEncoder("none")


def test_measuring_a_student_builds_f_i_without_the_random_weights_warning():
    """GMACs/latency rows and export loads build f_I as "none" on purpose: no false alarm in a
    run whose f_I was pretrained (every efficiency row of an experiment said RANDOM weights)."""
    from egodistill.methods.egodistill.jobs import student_efficiency
    from egodistill.models.config import StudentConfig
    from egodistill.models.weights import random_init_expected

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        cost = student_efficiency(StudentConfig(variant="visonly", num_classes=3, image_weights="torchvision"), 32, 1)
        with random_init_expected():
            ImageEncoder("none")
    assert cost["gmacs"] > 0
    with pytest.warns(RuntimeWarning, match="RANDOM weights"):  # outside the context it still warns
        ImageEncoder("none")
