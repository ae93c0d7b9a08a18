"""Frame selection among the stored frames (uniform / first / last / center / random) and dense ids."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from egodistill.student.inputs import (
    batch_frames,
    nearest_unique,
    segment_of,
    select_frames,
    target_times,
)

# a clip stored like ingest does: 4 uniform frames in [0, 2] s plus its first and last frame, time-sorted
POOL = np.array([0.0, 0.25, 0.75, 1.25, 1.75, 2.0])


def test_uniform_with_the_stored_count_is_exact():
    idx = select_frames(POOL, 0.0, 2.0, 30.0, 4, "uniform")
    assert idx.tolist() == [1, 2, 3, 4]
    np.testing.assert_allclose(POOL[idx], target_times(0.0, 2.0, 30.0, 4, "uniform"))


def test_uniform_one_frame_is_the_nearest_to_the_centre():
    assert select_frames(POOL, 0.0, 2.0, 30.0, 1, "uniform").tolist() in ([2], [3])


def test_n1_selects_the_window_centre_of_the_pool_ingest_stores_and_every_n_is_exact():
    """Ingest's default pool (every N in 1..4 + first/last): N = 1 is the centre, each N its uniform grid."""
    from egodistill.ingest.worker import uniform_fractions

    start, end = 10.0, 12.13
    pool = np.array([start, *(start + f * (end - start) for f in uniform_fractions(4)), end])
    centre = select_frames(pool, start, end, 30.0, 1, "uniform")
    assert pool[centre].tolist() == pytest.approx([0.5 * (start + end)])
    assert select_frames(pool, start, end, 30.0, 1, "center").tolist() == centre.tolist()
    for n in range(1, 5):
        idx = select_frames(pool, start, end, 30.0, n, "uniform")
        np.testing.assert_allclose(pool[idx], target_times(start, end, 30.0, n, "uniform"), atol=1e-9)


def test_first_last_center_pick_distinct_frames_in_time_order():
    first = select_frames(POOL, 0.0, 2.0, 30.0, 3, "first")
    last = select_frames(POOL, 0.0, 2.0, 30.0, 3, "last")
    center = select_frames(POOL, 0.0, 2.0, 30.0, 2, "center")
    assert first.tolist() == [0, 1, 2]
    assert last.tolist() == [3, 4, 5]
    assert center.tolist() == [2, 3]
    for idx in (first, last, center):
        assert len(set(idx.tolist())) == len(idx) and np.all(np.diff(POOL[idx]) > 0)


def test_random_draws_distinct_sorted_frames():
    rng = np.random.default_rng(0)
    draws = {tuple(select_frames(POOL, 0.0, 2.0, 30.0, 2, "random", rng)) for _ in range(30)}
    assert len(draws) > 3 and all(a < b for a, b in draws)


def test_too_many_frames_is_an_error():
    with pytest.raises(ValueError, match="pool of 6"):
        nearest_unique(POOL, np.zeros(7))


def test_batch_frames_gathers_the_selected_pool_entries():
    pool = torch.arange(2 * 6 * 3, dtype=torch.float32).view(2, 6, 3)
    batch = {"pool": pool, "select": torch.tensor([[1, 4], [0, 5]])}
    out = batch_frames(batch, "uniform", 2)
    assert torch.equal(out[0], pool[0, [1, 4]]) and torch.equal(out[1], pool[1, [0, 5]])
    rnd = batch_frames(batch, "random", 3, torch.Generator().manual_seed(0))
    assert rnd.shape == (2, 3, 3)


def test_dense_ids_map_back_to_their_segment():
    assert segment_of("vid_0003#d2") == "vid_0003"
    assert segment_of("vid_0003") == "vid_0003"
    assert segment_of("odd#dx") == "odd#dx"
