"""Vectorised numpy ray casting: pinhole camera over a textured box room and oriented boxes.

One ray per pixel, all in numpy (no per-pixel Python). Rays are ``d = R_wb (x_n, y_n, 1)`` with
normalised image coordinates, so the ray parameter of a hit equals its camera-frame depth and
the room and every object share one depth buffer. Objects are ray-cast together in one batched
slab test, but only over the image rectangles their (near-plane clipped) projections cover.

Camera model (see ``trajectory.py`` for frames): ``u = f x/z + cx``, ``v = f y/z + cy`` with
``f = (W/2) / tan(hfov/2)``, ``cx = (W-1)/2``, ``cy = (H-1)/2``; pixel centres at integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egodistill.synthetic.scene import TEXTURE_SIZE, Box, Room

LIGHT_DIR = np.array([0.3, -0.45, 0.85]) / np.linalg.norm([0.3, -0.45, 0.85])
NEAR = 0.02
_EYE = np.eye(3)
_CORNERS = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)
_EDGES = np.array([(i, i ^ bit) for i in range(8) for bit in (1, 2, 4) if i < i ^ bit])


@dataclass
class Frame:
    """A rendered frame: colour image, per-pixel object index (-1 = room) and visible boxes."""

    image: np.ndarray  # (H, W, 3) uint8
    ids: np.ndarray  # (H, W) int16
    boxes: list[tuple[int, float, float, float, float]]  # (object index, x, y, w, h) in pixels


class Renderer:
    """Renders a room + boxes for any camera pose; precomputes the per-pixel ray directions."""

    def __init__(self, room: Room, width: int, height: int, hfov_deg: float) -> None:
        self.room = room
        self.width, self.height = int(width), int(height)
        self.f = (width / 2.0) / np.tan(np.deg2rad(hfov_deg) / 2.0)
        self.cx, self.cy = (width - 1) / 2.0, (height - 1) / 2.0
        u, v = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
        self.xn = ((u - self.cx) / self.f).astype(np.float32)  # (H, W)
        self.yn = ((v - self.cy) / self.f).astype(np.float32)
        self.row_start = np.arange(height, dtype=np.int64) * width
        self.cols = np.arange(width, dtype=np.int64)
        t = TEXTURE_SIZE
        self.atlas_flat = room.atlas.reshape(-1, 3)
        lo, hi = room.lo.astype(np.float32), room.hi.astype(np.float32)
        self.lo, self.hi = lo, hi
        # per face: which world coordinate is u / v, its origin and texels per metre
        u_axis = np.array([1, 1, 0, 0, 0, 0])
        v_axis = np.array([2, 2, 2, 2, 1, 1])
        self.u_min = lo[u_axis]
        self.v_min = lo[v_axis]
        self.u_scale = (t / (hi[u_axis] - lo[u_axis])).astype(np.float32)
        self.v_scale = (t / (hi[v_axis] - lo[v_axis])).astype(np.float32)

    @property
    def intrinsics(self) -> tuple[float, float, float]:
        """(f, cx, cy) in pixels."""
        return float(self.f), float(self.cx), float(self.cy)

    def project(self, points_world: np.ndarray, origin: np.ndarray, rot: np.ndarray) -> np.ndarray:
        """(N, 3) rows ``[u, v, z]``: pixel coordinates and camera depth of world points."""
        pc = (points_world - origin) @ rot  # = R^T (p - o) per row
        z = pc[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = self.f * pc[:, 0] / z + self.cx
            v = self.f * pc[:, 1] / z + self.cy
        return np.stack([u, v, z], -1)

    def render(
        self, origin: np.ndarray, rot: np.ndarray, objects: list[tuple[Box, np.ndarray, np.ndarray]]
    ) -> Frame:
        """Render one frame from camera pose (``origin``, body->world ``rot``).

        ``objects``: (box, centre, local->world rotation) of every object at this instant.
        """
        r = rot.astype(np.float32)
        o = origin.astype(np.float32)
        xn, yn = self.xn, self.yn
        dx = r[0, 0] * xn + r[0, 1] * yn + r[0, 2]
        dy = r[1, 0] * xn + r[1, 1] * yn + r[1, 2]
        dz = r[2, 0] * xn + r[2, 1] * yn + r[2, 2]

        # room: nearest of the three walls the ray heads towards (rays start inside the room)
        lo, hi = self.lo, self.hi
        with np.errstate(divide="ignore", invalid="ignore"):
            tx = np.where(dx > 0, hi[0] - o[0], o[0] - lo[0]) / np.abs(dx)
            ty = np.where(dy > 0, hi[1] - o[1], o[1] - lo[1]) / np.abs(dy)
            tz = np.where(dz > 0, hi[2] - o[2], o[2] - lo[2]) / np.abs(dz)
        use_x = (tx <= ty) & (tx <= tz)
        use_z = ~use_x & (tz < ty)
        depth = np.minimum(np.minimum(tx, ty), tz)
        face = np.where(use_x, dx > 0, np.where(use_z, 4 + (dz > 0), 2 + (dy > 0)))
        uc = np.where(use_x, o[1] + depth * dy, o[0] + depth * dx)
        vc = np.where(use_z, o[1] + depth * dy, o[2] + depth * dz)
        t = TEXTURE_SIZE
        iu = ((uc - self.u_min[face]) * self.u_scale[face]).astype(np.int32)
        iv = ((vc - self.v_min[face]) * self.v_scale[face]).astype(np.int32)
        np.clip(iu, 0, t - 1, out=iu)
        np.clip(iv, 0, t - 1, out=iv)
        image = np.take(self.atlas_flat, (face * t + iv) * t + iu, axis=0)  # (H, W, 3) uint8
        ids = np.full((self.height, self.width), -1, dtype=np.int16)
        boxes: list[tuple[int, float, float, float, float]] = []
        if objects:
            self._render_objects(o, origin, rot, dx, dy, dz, depth, image, ids, objects, boxes)
        return Frame(image=image, ids=ids, boxes=boxes)

    def _render_objects(self, o, origin, rot, dx, dy, dz, depth, image, ids, objects, boxes) -> None:
        rects = self._screen_rects(objects, origin, rot)
        aligned = [np.array_equal(objects[i][2], _EYE) for i in range(len(objects))]
        # axis-aligned boxes first: their rays need no rotation, only the rotated tail does
        vis = [i for i, rc in enumerate(rects) if rc is not None and aligned[i]]
        n_aligned = len(vis)
        vis += [i for i, rc in enumerate(rects) if rc is not None and not aligned[i]]
        if not vis:
            return
        pix_parts, obj_parts = [], []
        for j, i in enumerate(vis):
            y0, y1, x0, x1 = rects[i]
            p = (self.row_start[y0:y1, None] + self.cols[None, x0:x1]).ravel()
            pix_parts.append(p)
            obj_parts.append(np.full(p.size, j, dtype=np.int32))
        pix = np.concatenate(pix_parts)
        oid = np.concatenate(obj_parts)

        q = np.stack([objects[i][2] for i in vis]).astype(np.float32)  # (n, 3, 3) local->world
        cen = np.stack([objects[i][1] for i in vis]).astype(np.float32)
        half = np.stack([objects[i][0].half for i in vis]).astype(np.float32)
        rel = np.einsum("nij,ni->nj", q, o[None, :] - cen)  # camera centre in each box frame
        wx, wy, wz = dx.ravel()[pix], dy.ravel()[pix], dz.ravel()[pix]
        ldir = [wx, wy, wz]
        if n_aligned < len(vis):
            r0 = int(np.searchsorted(oid, n_aligned))
            o_r, x_r, y_r, z_r = oid[r0:], wx[r0:], wy[r0:], wz[r0:]
            rotated = [
                q[:, 0, k][o_r] * x_r + q[:, 1, k][o_r] * y_r + q[:, 2, k][o_r] * z_r for k in range(3)
            ]
            ldir = [np.concatenate([d[:r0], rd]) for d, rd in zip(ldir, rotated, strict=True)]
        # slab test; a ray parallel to a slab gets +-inf from the division, which is right
        tmins, tmaxs = [], []
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for k in range(3):
                inv = 1.0 / ldir[k]
                a = (-half[:, k] - rel[:, k])[oid] * inv
                b = (half[:, k] - rel[:, k])[oid] * inv
                tmins.append(np.minimum(a, b))
                tmaxs.append(np.maximum(a, b))
        tnear = np.maximum(np.maximum(tmins[0], tmins[1]), tmins[2])
        tfar = np.minimum(np.minimum(tmaxs[0], tmaxs[1]), tmaxs[2])
        depth_flat = depth.ravel()
        hit = np.flatnonzero((tnear <= tfar) & (tnear > NEAR) & (tnear < depth_flat[pix]))
        if hit.size == 0:
            return
        pix, oid, th = pix[hit], oid[hit], tnear[hit]
        np.minimum.at(depth_flat, pix, th)  # nearest object per pixel
        win = np.flatnonzero(th <= depth_flat[pix])
        pix, oid, th = pix[win], oid[win], th[win]
        m = [tmins[k][hit][win] for k in range(3)]
        ld = [ldir[k][hit][win] for k in range(3)]
        ax = np.where((m[0] >= m[1]) & (m[0] >= m[2]), 0, np.where(m[1] >= m[2], 1, 2))
        dsign = np.where(ax == 0, ld[0], np.where(ax == 1, ld[1], ld[2]))
        lface = ax * 2 + (dsign < 0)  # entered through the face whose normal opposes the ray
        cell = np.array([objects[i][0].cell for i in vis], dtype=np.float32)[oid]
        lp = [rel[:, k][oid] + th * ld[k] for k in range(3)]
        checker = (np.floor(lp[0] / cell) + np.floor(lp[1] / cell) + np.floor(lp[2] / cell)) % 2
        normals = np.concatenate([-np.swapaxes(q, 1, 2), np.swapaxes(q, 1, 2)], 1)[:, [0, 3, 1, 4, 2, 5]]
        shade = 0.55 + 0.45 * np.clip(normals @ LIGHT_DIR.astype(np.float32), 0.0, 1.0)  # (n, 6)
        colors = np.stack([objects[i][0].colors for i in vis]) * shade[:, :, None]  # (n, 6, 3)
        col = colors[oid, lface] * (0.86 + 0.14 * checker)[:, None]
        image.reshape(-1, 3)[pix] = np.clip(col * 255.0 + 0.5, 0, 255).astype(np.uint8)
        index = np.asarray(vis, dtype=np.int16)[oid]
        ids.reshape(-1)[pix] = index

        # visible boxes: winners are grouped by object (oid is non-decreasing)
        starts = np.flatnonzero(np.diff(oid, prepend=-1))
        ys, xs = pix // self.width, pix % self.width
        x0 = np.minimum.reduceat(xs, starts)
        x1 = np.maximum.reduceat(xs, starts)
        y0 = np.minimum.reduceat(ys, starts)
        y1 = np.maximum.reduceat(ys, starts)
        for k, s in enumerate(starts):
            boxes.append(
                (
                    int(index[s]),
                    float(x0[k]),
                    float(y0[k]),
                    float(x1[k] - x0[k] + 1),
                    float(y1[k] - y0[k] + 1),
                )
            )

    def _screen_rects(
        self, objects, origin: np.ndarray, rot: np.ndarray
    ) -> list[tuple[int, int, int, int] | None]:
        """Pixel rectangle (y0, y1, x0, x1) covering each box's projection, or None if off-screen."""
        cen = np.stack([c for _, c, _ in objects])
        q = np.stack([r for _, _, r in objects])
        half = np.stack([b.half for b, _, _ in objects])
        corners = cen[:, None, :] + np.einsum("nij,nkj->nki", q, _CORNERS[None] * half[:, None, :])
        pc = np.einsum("nki,ij->nkj", corners - origin, rot)  # camera coordinates R^T (p - o)
        z = pc[..., 2]
        front = z > NEAR
        with np.errstate(divide="ignore", invalid="ignore"):
            u = self.f * pc[..., 0] / z + self.cx
            v = self.f * pc[..., 1] / z + self.cy
        out: list[tuple[int, int, int, int] | None] = []
        for n in range(len(objects)):
            if not front[n].any():
                out.append(None)
                continue
            if front[n].all():
                un, vn = u[n], v[n]
            else:  # clip the box at the near plane: add edge/plane crossings
                a, b = pc[n][_EDGES[:, 0]], pc[n][_EDGES[:, 1]]
                cross = (a[:, 2] > NEAR) != (b[:, 2] > NEAR)
                a, b = a[cross], b[cross]
                w = ((NEAR - a[:, 2]) / (b[:, 2] - a[:, 2]))[:, None]
                p = np.concatenate([pc[n][front[n]], a + w * (b - a)], 0)
                un = self.f * p[:, 0] / p[:, 2] + self.cx
                vn = self.f * p[:, 1] / p[:, 2] + self.cy
            x0 = max(int(np.floor(max(un.min(), -1.0))), 0)
            x1 = min(int(np.ceil(min(un.max(), self.width))) + 1, self.width)
            y0 = max(int(np.floor(max(vn.min(), -1.0))), 0)
            y1 = min(int(np.ceil(min(vn.max(), self.height))) + 1, self.height)
            out.append(None if x0 >= x1 or y0 >= y1 else (y0, y1, x0, x1))
        return out
