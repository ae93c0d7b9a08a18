"""A random kitchen per video: a textured room plus box-shaped objects.

Frames are world coordinates (see ``trajectory.py``): ``z`` up, the counter along the north
(``+y``) wall. Every surface is textured (floor tiles, painted walls with posters, a tiled
backsplash, ceiling panels, checkered objects) so that head rotation and translation produce real,
trackable image motion. Textures are generated once per video from its random stream.

Objects are oriented boxes. The ones that verbs move (``door``, ``box``, ``knife``, ``spoon``,
``cup``) get their pose over time from ``world.py``; the rest are static.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TEXTURE_SIZE = 256
FACE_NAMES = ("west", "east", "south", "north", "floor", "ceiling")
"""Room faces in atlas order: axis*2 + (ray direction > 0), i.e. -x, +x, -y, +y, -z, +z."""


@dataclass
class Box:
    """An oriented box: pose ``center`` + ``rot`` (local->world), half sizes, per-face colours."""

    object_id: int
    label: str
    half: np.ndarray
    colors: np.ndarray  # (6, 3) float32 in [0, 1], faces -x, +x, -y, +y, -z, +z (local)
    cell: float  # checker cell size in metres (surface texture)
    center: np.ndarray
    rot: np.ndarray = field(default_factory=lambda: np.eye(3))
    dynamic: bool = False


@dataclass
class Room:
    lo: np.ndarray
    hi: np.ndarray
    atlas: np.ndarray  # (6, T, T, 3) uint8, lighting baked in


@dataclass
class Scene:
    room: Room
    objects: list[Box]
    spots_x: list[float]  # standing positions along the counter (x)
    stand_y: float  # standing distance line (y)
    eye_height: float
    hinge_side: int  # +1: door hinge on its west edge (opens to the west), -1: east edge
    hinge_x: float
    door_width: float
    door_front_y: float
    door_open_angle: float  # rad, fully open angle used by open/close

    def index(self, label: str) -> int:
        for i, o in enumerate(self.objects):
            if o.label == label:
                return i
        raise KeyError(f"scene has no object labelled {label!r}")

    def get(self, label: str) -> Box:
        return self.objects[self.index(label)]


def hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    i = int(h * 6.0) % 6
    f = h * 6.0 - int(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i], dtype=np.float32)


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Bilinearly upsampled random grid: low-frequency noise in about [-1, 1], shape (size, size)."""
    g = rng.normal(0.0, 1.0, (cells + 1, cells + 1))
    x = np.linspace(0.0, cells, size, endpoint=False)
    i = x.astype(int)
    f = x - i
    rows = g[i] * (1 - f)[:, None] + g[i + 1] * f[:, None]
    return (rows[:, i] * (1 - f) + rows[:, i + 1] * f) / 1.5


def _face_texture(
    rng: np.random.Generator, kind: str, extent_u: float, extent_v: float, base: np.ndarray
) -> np.ndarray:
    """Float texture (T, T, 3); row index = v (upward / northward), column = u."""
    t = TEXTURE_SIZE
    u = (np.arange(t) + 0.5) / t * extent_u
    v = (np.arange(t) + 0.5) / t * extent_v
    uu, vv = np.meshgrid(u, v)
    img = np.broadcast_to(base, (t, t, 3)).copy()
    img *= (1.0 + 0.12 * _smooth_noise(rng, t, 6))[..., None]
    img *= (1.0 + 0.05 * _smooth_noise(rng, t, 24))[..., None]
    if kind == "floor":
        s = rng.uniform(0.3, 0.6)
        iu, iv = np.floor(uu / s).astype(int), np.floor(vv / s).astype(int)
        tile_shade = 1.0 + 0.18 * ((iu + iv) % 2) + 0.08 * np.sin(iu * 12.9898 + iv * 78.233)
        img *= tile_shade[..., None]
        grout = (np.mod(uu / s, 1.0) < 0.05) | (np.mod(vv / s, 1.0) < 0.05)
        img[grout] *= 0.45
    elif kind == "ceiling":
        s = rng.uniform(0.5, 0.8)
        lines = (np.mod(uu / s, 1.0) < 0.03) | (np.mod(vv / s, 1.0) < 0.03)
        img[lines] *= 0.7
    else:  # wall: skirting, posters, optional tiled backsplash behind the counter
        img[vv < 0.1] *= 0.55
        if kind == "north":
            s = rng.uniform(0.08, 0.15)
            band = (vv > 0.9) & (vv < 1.45)
            tile = hsv_to_rgb(rng.random(), rng.uniform(0.1, 0.4), rng.uniform(0.7, 0.95))
            img[band] = tile * (1.0 + 0.1 * ((np.floor(uu / s) + np.floor(vv / s)) % 2))[band][:, None]
            gl = band & ((np.mod(uu / s, 1.0) < 0.08) | (np.mod(vv / s, 1.0) < 0.08))
            img[gl] *= 0.6
        for _ in range(int(rng.integers(3, 7))):
            w, h = rng.uniform(0.3, 0.9), rng.uniform(0.25, 0.7)
            cu, cv = rng.uniform(w / 2, max(w / 2 + 1e-3, extent_u - w / 2)), rng.uniform(1.5, 2.3)
            inside = (np.abs(uu - cu) < w / 2) & (np.abs(vv - cv) < h / 2)
            col = hsv_to_rgb(rng.random(), rng.uniform(0.4, 0.9), rng.uniform(0.35, 0.95))
            col2 = hsv_to_rgb(rng.random(), rng.uniform(0.3, 0.9), rng.uniform(0.2, 0.9))
            period = rng.uniform(0.05, 0.15)
            pattern = np.sin((uu * rng.uniform(-1, 1) + vv) / period) > 0.2
            img[inside] = np.where(pattern[inside][:, None], col, col2)
            frame = inside & ~((np.abs(uu - cu) < w / 2 - 0.025) & (np.abs(vv - cv) < h / 2 - 0.025))
            img[frame] = 0.12
    return img


def _faces(colors: list[np.ndarray]) -> np.ndarray:
    return np.stack(colors).astype(np.float32)


def _solid(col: np.ndarray, top: np.ndarray | None = None) -> np.ndarray:
    c = [col * 0.92, col * 0.92, col * 0.85, col * 0.85, col * 0.7, top if top is not None else col]
    return _faces(c)


def _rand_color(rng: np.random.Generator, s: tuple[float, float] = (0.5, 0.95), v=(0.45, 0.95)) -> np.ndarray:
    return hsv_to_rgb(rng.random(), rng.uniform(*s), rng.uniform(*v))


def build_scene(rng: np.random.Generator) -> Scene:
    """A random kitchen: room size, textures, colours and object placement all drawn from ``rng``."""
    width, depth, height = rng.uniform(4.0, 6.5), rng.uniform(4.0, 6.0), rng.uniform(2.5, 3.0)
    lo = np.array([-width / 2, -depth / 2, 0.0])
    hi = np.array([width / 2, depth / 2, height])
    north = depth / 2

    wall_base = hsv_to_rgb(rng.random(), rng.uniform(0.05, 0.35), rng.uniform(0.7, 0.95))
    floor_base = hsv_to_rgb(rng.random(), rng.uniform(0.1, 0.5), rng.uniform(0.4, 0.8))
    ceil_base = hsv_to_rgb(rng.random(), rng.uniform(0.0, 0.1), rng.uniform(0.85, 1.0))
    light = [0.80, 0.92, 0.86, 1.0, 0.85, 1.0]
    faces = [
        _face_texture(rng, "west", depth, height, wall_base),
        _face_texture(rng, "east", depth, height, wall_base),
        _face_texture(rng, "south", width, height, wall_base),
        _face_texture(rng, "north", width, height, wall_base),
        _face_texture(rng, "floor", width, depth, floor_base),
        _face_texture(rng, "ceiling", width, depth, ceil_base),
    ]
    atlas = np.stack([np.clip(f * k, 0.0, 1.0) for f, k in zip(faces, light, strict=True)])
    room = Room(lo=lo, hi=hi, atlas=(atlas * 255.0 + 0.5).astype(np.uint8))

    # standing spots along the counter, 0.35-0.5 m in front of it
    counter_depth, counter_h = 0.6, 0.9
    stand_y = north - counter_depth - rng.uniform(0.35, 0.5)
    n_spots = int(rng.integers(2, 4))
    usable = width - 1.8
    spacing = min(rng.uniform(1.2, 1.8), usable / max(n_spots - 1, 1))
    x0 = rng.uniform(-width / 2 + 0.9, width / 2 - 0.9 - spacing * (n_spots - 1))
    spots = [float(x0 + i * spacing) for i in range(n_spots)]

    objects: list[Box] = []

    def add(label: str, half, colors, center, cell=0.05, rot=None, dynamic=False) -> Box:
        b = Box(
            object_id=len(objects),
            label=label,
            half=np.asarray(half, dtype=np.float64),
            colors=colors,
            cell=float(cell),
            center=np.asarray(center, dtype=np.float64),
            rot=np.eye(3) if rot is None else rot,
            dynamic=dynamic,
        )
        objects.append(b)
        return b

    wood = hsv_to_rgb(rng.uniform(0.05, 0.12), rng.uniform(0.3, 0.6), rng.uniform(0.45, 0.8))
    front = _rand_color(rng, (0.05, 0.5), (0.5, 0.9))
    add(
        "counter",
        [width / 2 - 0.2, counter_depth / 2, counter_h / 2],
        _faces([front * 0.9, front * 0.9, front, front, front * 0.6, wood]),
        [0.0, north - counter_depth / 2, counter_h / 2],
        cell=0.12,
    )

    # upper cabinet with the hinged door (open/close) and a decoy cabinet that stays shut
    span_lo, span_hi = spots[0] - 0.5, spots[-1] + 0.5
    cab_w = rng.uniform(0.35, 0.45)
    cab_x = rng.uniform(span_lo + cab_w / 2, span_hi - cab_w / 2)
    cab_d, cab_z0, cab_z1 = 0.35, rng.uniform(1.4, 1.5), rng.uniform(2.05, 2.2)
    cab_col = _rand_color(rng, (0.1, 0.7), (0.5, 0.95))
    interior = np.full(3, 0.12, dtype=np.float32)
    add(
        "cabinet",
        [cab_w / 2, cab_d / 2, (cab_z1 - cab_z0) / 2],
        _faces([cab_col * 0.9, cab_col * 0.9, interior, cab_col, cab_col * 0.7, cab_col]),
        [cab_x, north - cab_d / 2, (cab_z0 + cab_z1) / 2],
        cell=0.2,
    )
    door_col = _rand_color(rng, (0.3, 0.9), (0.45, 0.95))
    hinge_side = int(rng.choice([-1, 1]))
    door_w = cab_w - 0.01
    door_front_y = north - cab_d
    hinge_x = cab_x - hinge_side * cab_w / 2
    add(
        "door",
        [door_w / 2, 0.01, (cab_z1 - cab_z0) / 2 - 0.005],
        _solid(door_col),
        [hinge_x + hinge_side * door_w / 2, door_front_y - 0.01, (cab_z0 + cab_z1) / 2],
        cell=0.06,
        dynamic=True,
    )
    # shelf (target of "look") beside the cabinet on the side with more room; decoy on the other
    shelf_side = 1 if cab_x < 0 else -1
    shelf_x = cab_x + shelf_side * rng.uniform(0.9, 1.2)
    shelf_z = rng.uniform(1.75, min(2.1, height - 0.3))
    decoy_x = cab_x - shelf_side * (cab_w + 0.02)
    add(
        "cabinet",
        [cab_w / 2, cab_d / 2 + 0.01, (cab_z1 - cab_z0) / 2],
        _faces([cab_col * 0.9, cab_col * 0.9, door_col * 0.9, cab_col, cab_col * 0.7, cab_col]),
        [decoy_x, north - cab_d / 2 - 0.01, (cab_z0 + cab_z1) / 2],
        cell=0.2,
    )
    shelf_col = _rand_color(rng, (0.1, 0.5), (0.4, 0.8))
    add("shelf", [0.3, 0.12, 0.015], _solid(shelf_col), [shelf_x, north - 0.12, shelf_z], cell=0.1)
    for k in (-1, 1):
        jar_col = _rand_color(rng)
        add(
            "jar",
            [0.04, 0.04, 0.07],
            _solid(jar_col, jar_col * 1.1),
            [shelf_x + k * rng.uniform(0.08, 0.22), north - 0.12, shelf_z + 0.085],
            cell=0.03,
        )

    # counter-top work area: groups placed along x in random order
    top = counter_h
    y_lo, y_hi = north - counter_depth + 0.18, north - 0.22
    groups = ["board", "bowl", "box", "plate", "bottle"]
    widths = {"board": 0.42, "bowl": 0.42, "box": 0.2, "plate": 0.22, "bottle": 0.1}
    order = [groups[i] for i in rng.permutation(len(groups))]
    lo_x, hi_x = max(spots[0] - 0.7, -width / 2 + 0.3), min(spots[-1] + 0.7, width / 2 - 0.3)
    free = max((hi_x - lo_x) - sum(widths.values()), 0.0)
    gaps = rng.dirichlet(np.ones(len(groups) + 1)) * free
    x = lo_x
    centers = {}
    for g, gap in zip(order, gaps[:-1], strict=True):
        x += gap
        centers[g] = x + widths[g] / 2
        x += widths[g]

    bx, by = centers["board"], rng.uniform(y_lo, y_hi)
    board_col = hsv_to_rgb(rng.uniform(0.06, 0.12), rng.uniform(0.3, 0.6), rng.uniform(0.6, 0.9))
    add("board", [0.18, 0.12, 0.01], _solid(board_col), [bx, by, top + 0.01], cell=0.04)
    carrot = hsv_to_rgb(rng.uniform(0.04, 0.09), 0.9, rng.uniform(0.8, 1.0))
    add("carrot", [0.08, 0.013, 0.013], _solid(carrot), [bx + 0.03, by + 0.02, top + 0.033], cell=0.02)
    steel = np.array([0.72, 0.74, 0.78], dtype=np.float32)
    add(
        "knife",
        [0.11, 0.004, 0.02],
        _faces([steel * 0.3, steel * 0.8, steel, steel, steel, steel * 0.9]),
        [bx - 0.06, by - 0.06, top + 0.04],
        cell=0.03,
        dynamic=True,
    )

    wx, wy = centers["bowl"] - 0.08, rng.uniform(y_lo, y_hi)
    bowl_col = _rand_color(rng)
    add("bowl", [0.08, 0.08, 0.04], _solid(bowl_col, bowl_col * 0.6), [wx, wy, top + 0.04], cell=0.04)
    spoon_col = _rand_color(rng, (0.6, 1.0), (0.5, 0.95))
    add("spoon", [0.012, 0.006, 0.11], _solid(spoon_col), [wx, wy, top + 0.12], cell=0.03, dynamic=True)
    cup_col = _rand_color(rng)
    add(
        "cup",
        [0.035, 0.035, 0.05],
        _solid(cup_col, cup_col * 0.4),
        [wx + 0.17, wy + rng.uniform(-0.05, 0.05), top + 0.05],
        cell=0.025,
        dynamic=True,
    )

    box_col = _rand_color(rng)
    add(
        "box",
        [0.08, 0.06, 0.06],
        _solid(box_col, _rand_color(rng)),
        [centers["box"], rng.uniform(y_lo, y_hi), top + 0.06],
        cell=0.04,
        dynamic=True,
    )
    plate_col = _rand_color(rng, (0.0, 0.3), (0.8, 1.0))
    add("plate", [0.1, 0.1, 0.01], _solid(plate_col), [centers["plate"], rng.uniform(y_lo, y_hi), top + 0.01])
    bottle_col = _rand_color(rng)
    add(
        "bottle",
        [0.035, 0.035, 0.12],
        _solid(bottle_col),
        [centers["bottle"], rng.uniform(y_lo, y_hi), top + 0.12],
    )

    return Scene(
        room=room,
        objects=objects,
        spots_x=spots,
        stand_y=float(stand_y),
        eye_height=float(rng.uniform(1.5, 1.75)),
        hinge_side=hinge_side,
        hinge_x=float(hinge_x),
        door_width=float(door_w),
        door_front_y=float(door_front_y),
        door_open_angle=float(np.deg2rad(rng.uniform(80.0, 110.0))),
    )
