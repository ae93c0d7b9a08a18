"""The teacher zoo: heavy clip-based video models Ω behind one builder, :func:`build_teacher`.

Every teacher takes a clip as a float tensor laid out **(B, C=3, T, H, W)**, RGB, normalised with its
:class:`~egodistill.models.config.InputSpec` (``teacher.input_spec.normalize(clip, channel_dim=1)``),
and exposes

* ``features(clip) -> (B, D)``: the clip feature z_V that the student's fused feature regresses (eq. 3),
* ``classify(features) -> (B, C)``: the classification head on that feature,
* ``logits(clip) -> (B, C)``: ``classify(features(clip))``, the soft targets of eq. 4,
* ``forward(clip) -> TeacherOutput(features, logits)``: both at once (one backbone pass),

plus ``feature_dim`` (D), ``num_classes`` (C) and ``input_spec``.

=============  =====  ==========================================  ==============================
name           D      feature                                     default input (T x rate, crop)
=============  =====  ==========================================  ==============================
mvit_v2_s      768    class token after the final norm            16 x 4, 224 (exactly)
r2plus1d_18    512    global average of layer4                    16 x 4, 112
r3d_18         512    global average of layer4                    16 x 4, 112
s3d            1024   global average of the last Inception stage  16 x 4, 224
swin3d_t       768    global average after the final norm         16 x 4, 224
tiny3d         8w     global average of a 4-conv 3-D CNN          8 x 8, 64 (demo/tests, CPU)
=============  =====  ==========================================  ==============================

``mvit_v2_s`` stands in for the paper's MotionFormer (same 768-d clip feature). The seed paper uses
16 frames at sample rate 4; crop size, resize and mean/std come from each torchvision weights enum's
inference transforms. S3D: torchvision pools with a (2, 7, 7) window and averages the classifier over
what is left; we take the global average, which is identical at 16 x 224 x 224 and lets smaller clips
through.

Weights (``cfg.weights``): ``"torchvision"`` loads the Kinetics-400 enum, then replaces the 400-way head
with a fresh ``num_classes`` head; ``"none"`` is random; a path loads a local state dict, either a
torchvision-style backbone (any head size; the head is replaced when it differs from ``num_classes``)
or a checkpoint of this teacher (``TeacherModel.state_dict()``, keys prefixed ``net.``).
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable
from typing import NamedTuple

import torch
import torchvision.models.video as tvv
from torch import nn

from egodistill.models.config import KINETICS_MEAN, KINETICS_STD, InputSpec, TeacherConfig
from egodistill.models.weights import (
    fetch_torchvision_state_dict,
    load_state_dict_strict,
    read_checkpoint,
    weights_kind,
)

log = logging.getLogger(__name__)

#: The seed paper's teacher clip: 16 frames, one every 4 (section 4.1).
PAPER_NUM_FRAMES = 16
PAPER_SAMPLE_RATE = 4
KINETICS_CLASSES = 400


class TeacherOutput(NamedTuple):
    features: torch.Tensor  # (B, D)
    logits: torch.Tensor  # (B, C)


class TeacherModel(nn.Module, metaclass=abc.ABCMeta):
    """Base class: a wrapped network ``net`` plus how to read its feature and apply its head."""

    name: str = ""

    def __init__(self, net: nn.Module, feature_dim: int, num_classes: int, input_spec: InputSpec) -> None:
        super().__init__()
        self.net = net
        self.feature_dim = feature_dim
        self.num_classes = num_classes
        self.input_spec = input_spec

    # --- per-family pieces -------------------------------------------------------------------------
    @abc.abstractmethod
    def _features(self, clip: torch.Tensor) -> torch.Tensor:
        """Backbone features ``(B, D)`` of a checked clip."""

    @abc.abstractmethod
    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """Class logits from clip features ``(B, D)``."""

    @abc.abstractmethod
    def head_weight_key(self) -> str:
        """State-dict key (inside ``net``) of the classifier weight; its first dim is the class count."""

    @abc.abstractmethod
    def _set_head(self, num_classes: int) -> None:
        """Replace the classifier with a fresh one for ``num_classes``."""

    # --- public API --------------------------------------------------------------------------------
    def features(self, clip: torch.Tensor) -> torch.Tensor:
        """Clip feature z_V, ``(B, D)``, from a clip ``(B, 3, T, H, W)``."""
        self._check_clip(clip)
        return self._features(clip)

    def logits(self, clip: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(clip))

    def forward(self, clip: torch.Tensor) -> TeacherOutput:
        feats = self.features(clip)
        return TeacherOutput(feats, self.classify(feats))

    def replace_head(self, num_classes: int) -> None:
        """Swap the classifier for a freshly initialised ``num_classes``-way one (e.g. Kinetics 400 -> C)."""
        self._set_head(num_classes)
        self.num_classes = num_classes

    def _check_clip(self, clip: torch.Tensor) -> None:
        spec = self.input_spec
        if clip.dim() != 5 or clip.shape[1] != 3:
            raise ValueError(
                f"{self.name} expects a clip (B, 3, T, H, W) (channels before time), got {tuple(clip.shape)}"
            )
        if spec.exact_size and tuple(clip.shape[2:]) != (spec.num_frames, spec.crop_size, spec.crop_size):
            raise ValueError(
                f"{self.name} was built for clips of exactly T={spec.num_frames}, H=W={spec.crop_size} "
                f"(its positional embeddings are sized for them), got T, H, W = {tuple(clip.shape[2:])}"
            )


class _VideoResNetTeacher(TeacherModel):
    def _features(self, clip):
        n = self.net
        x = n.layer4(n.layer3(n.layer2(n.layer1(n.stem(clip)))))
        return n.avgpool(x).flatten(1)

    def classify(self, features):
        return self.net.fc(features)

    def head_weight_key(self):
        return "fc.weight"

    def _set_head(self, num_classes):
        self.net.fc = nn.Linear(self.net.fc.in_features, num_classes)


class _MViTTeacher(TeacherModel):
    def _features(self, clip):
        n = self.net
        x = n.conv_proj(clip).flatten(2).transpose(1, 2)
        x = n.pos_encoding(x)
        thw = (n.pos_encoding.temporal_size,) + tuple(n.pos_encoding.spatial_size)
        for block in n.blocks:
            x, thw = block(x, thw)
        return n.norm(x)[:, 0]

    def classify(self, features):
        return self.net.head(features)

    def head_weight_key(self):
        return "head.1.weight"

    def _set_head(self, num_classes):
        self.net.head[1] = nn.Linear(self.net.head[1].in_features, num_classes)


class _S3DTeacher(TeacherModel):
    def _features(self, clip):
        return self.net.features(clip).mean(dim=(2, 3, 4))

    def classify(self, features):
        return self.net.classifier(features[:, :, None, None, None]).flatten(1)

    def head_weight_key(self):
        return "classifier.1.weight"

    def _set_head(self, num_classes):
        old = self.net.classifier[1]
        self.net.classifier[1] = nn.Conv3d(old.in_channels, num_classes, kernel_size=1, stride=1, bias=True)


class _SwinTeacher(TeacherModel):
    def _features(self, clip):
        n = self.net
        x = n.norm(n.features(n.pos_drop(n.patch_embed(clip))))  # (B, T', H', W', C)
        return n.avgpool(x.permute(0, 4, 1, 2, 3)).flatten(1)

    def classify(self, features):
        return self.net.head(features)

    def head_weight_key(self):
        return "head.weight"

    def _set_head(self, num_classes):
        self.net.head = nn.Linear(self.net.head.in_features, num_classes)


class Tiny3DNet(nn.Module):
    """A small 3-D CNN that trains in minutes on 2 CPU cores (demo and tests).

    Four Conv3d-BN-ReLU stages with widths w, 2w, 4w, 8w; the stem keeps time and halves space
    (kernel 3x5x5), the next two halve time and space, the last halves space only; then a global
    average and a dropout + linear head. Feature dim = 8w.
    """

    def __init__(self, num_classes: int, width: int = 32, dropout: float = 0.2) -> None:
        super().__init__()

        def stage(cin: int, cout: int, kernel, stride, padding) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv3d(cin, cout, kernel, stride=stride, padding=padding, bias=False),
                nn.BatchNorm3d(cout),
                nn.ReLU(inplace=True),
            )

        w = width
        self.features = nn.Sequential(
            stage(3, w, (3, 5, 5), (1, 2, 2), (1, 2, 2)),
            stage(w, 2 * w, 3, (2, 2, 2), 1),
            stage(2 * w, 4 * w, 3, (2, 2, 2), 1),
            stage(4 * w, 8 * w, 3, (1, 2, 2), 1),
        )
        self.feature_dim = 8 * w
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(8 * w, num_classes))

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(clip).mean(dim=(2, 3, 4)))


class _Tiny3DTeacher(TeacherModel):
    def _features(self, clip):
        return self.net.features(clip).mean(dim=(2, 3, 4))

    def classify(self, features):
        return self.net.head(features)

    def head_weight_key(self):
        return "head.1.weight"

    def _set_head(self, num_classes):
        self.net.head[1] = nn.Linear(self.net.feature_dim, num_classes)


class _Entry(NamedTuple):
    cls: type[TeacherModel]
    builder: Callable[..., nn.Module] | None
    weights_enum: object | None
    feature_dim: int


_ZOO: dict[str, _Entry] = {
    "mvit_v2_s": _Entry(_MViTTeacher, tvv.mvit_v2_s, tvv.MViT_V2_S_Weights.KINETICS400_V1, 768),
    "r2plus1d_18": _Entry(_VideoResNetTeacher, tvv.r2plus1d_18, tvv.R2Plus1D_18_Weights.KINETICS400_V1, 512),
    "r3d_18": _Entry(_VideoResNetTeacher, tvv.r3d_18, tvv.R3D_18_Weights.KINETICS400_V1, 512),
    "s3d": _Entry(_S3DTeacher, tvv.s3d, tvv.S3D_Weights.KINETICS400_V1, 1024),
    "swin3d_t": _Entry(_SwinTeacher, tvv.swin3d_t, tvv.Swin3D_T_Weights.KINETICS400_V1, 768),
    "tiny3d": _Entry(_Tiny3DTeacher, None, None, -1),
}
TEACHER_NAMES = tuple(_ZOO)


def teacher_input_spec(cfg: TeacherConfig) -> InputSpec:
    """The input a teacher expects (layout (B, 3, T, H, W)), with the config's overrides applied."""
    entry = _ZOO[cfg.name]
    if entry.weights_enum is not None:
        t = entry.weights_enum.transforms()
        crop = int(t.crop_size[0])
        resize = tuple(int(s) for s in t.resize_size)
        mean, std = tuple(t.mean), tuple(t.std)
        source = f"{entry.weights_enum} transforms; frames: seed paper (16 x rate 4)"
        frames, rate = PAPER_NUM_FRAMES, PAPER_SAMPLE_RATE
    else:  # tiny3d: small clips for CPU demos, same 64-frame span as 16 x 4
        crop, resize, mean, std = 64, (72,), KINETICS_MEAN, KINETICS_STD
        frames, rate = 8, 8
        source = "tiny3d defaults (CPU demo); Kinetics mean/std"
    spec = InputSpec(
        num_frames=cfg.num_frames or frames,
        sample_rate=cfg.sample_rate or rate,
        crop_size=cfg.crop_size or crop,
        resize_size=resize if cfg.crop_size is None else (round(cfg.crop_size * 8 / 7),),
        mean=mean,
        std=std,
        layout="B,C,T,H,W",
        exact_size=cfg.name == "mvit_v2_s",
        source=source,
    )
    if cfg.name == "mvit_v2_s" and (spec.num_frames, spec.crop_size) != (PAPER_NUM_FRAMES, 224):
        raise ValueError(
            f"mvit_v2_s takes exactly 16 frames at 224 px (torchvision builds its relative position "
            f"tables for that size), but the config asks for {spec.num_frames} frames at {spec.crop_size} px"
        )
    return spec


def build_teacher(cfg: TeacherConfig) -> TeacherModel:
    """Build a teacher from the zoo, load its weights (see module docstring) and size its head."""
    entry = _ZOO[cfg.name]
    spec = teacher_input_spec(cfg)
    kind = weights_kind(cfg.weights)
    if entry.builder is None:
        net = Tiny3DNet(num_classes=KINETICS_CLASSES, width=cfg.tiny_width)
        feature_dim = net.feature_dim
    else:
        net = entry.builder(weights=None)
        feature_dim = entry.feature_dim
    teacher = entry.cls(net, feature_dim, KINETICS_CLASSES, spec)
    teacher.name = cfg.name

    if kind == "torchvision":
        if entry.weights_enum is None:
            raise ValueError(
                f'{cfg.name} has no torchvision weights; use weights: "none" or a local checkpoint path'
            )
        state = fetch_torchvision_state_dict(
            entry.weights_enum, allow_download=cfg.allow_download, timeout_s=cfg.download_timeout_s
        )
        load_state_dict_strict(teacher.net, state, f"{entry.weights_enum} ({entry.weights_enum.url})")
        log.info("teacher %s: loaded %s", cfg.name, entry.weights_enum)
    elif kind == "path":
        state = read_checkpoint(cfg.weights)
        key = teacher.head_weight_key()
        if key in state:
            teacher.replace_head(int(state[key].shape[0]))
        load_state_dict_strict(teacher.net, state, cfg.weights)
        log.info("teacher %s: loaded local checkpoint %s", cfg.name, cfg.weights)
    else:
        log.info("teacher %s: random initialisation (weights: none)", cfg.name)

    if teacher.num_classes != cfg.num_classes or kind == "none":
        if kind != "none":
            log.info(
                "teacher %s: replacing the %d-way head with a new %d-way head",
                cfg.name,
                teacher.num_classes,
                cfg.num_classes,
            )
        teacher.replace_head(cfg.num_classes)
    return teacher
