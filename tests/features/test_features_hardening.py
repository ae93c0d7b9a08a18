"""Issue 17 for the features pass: one writer per model folder, damaged files heal, duplicates fail."""

from __future__ import annotations

import shutil

import pyarrow.parquet as pq
import pytest

from egodistill.features import store
from egodistill.features.config import FeaturesConfig
from egodistill.features.pipeline import run_features
from egodistill.leases import Lease, LeaseHeldError

pytestmark = pytest.mark.ray


def _cfg(clips, teacher, workspace) -> FeaturesConfig:
    return FeaturesConfig(clips=str(clips), teacher_dir=str(teacher), workspace=str(workspace), batch_size=4)


@pytest.fixture(scope="module")
def done(tiny_clips, tiny_teacher, tmp_path_factory):
    ws = tmp_path_factory.mktemp("features_hardening")
    assert run_features(_cfg(tiny_clips, tiny_teacher, ws)).ok
    return ws, ws / "features" / "ego4d" / "tiny"


def test_a_second_writer_of_the_model_folder_stops_naming_the_owner(done, tiny_clips, tiny_teacher):
    ws, directory = done
    lease = Lease(str(directory), "features").acquire()
    try:
        with pytest.raises(LeaseHeldError, match=r"features pid \d+ on .*one writer per output"):
            run_features(_cfg(tiny_clips, tiny_teacher, ws))
    finally:
        lease.release()


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_a_damaged_features_file_is_moved_aside_and_recomputed(done, tiny_clips, tiny_teacher, damage):
    ws, directory = done
    victim = sorted(directory.glob("part-*.parquet"))[0]
    n = pq.read_metadata(victim).num_rows
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 3] if damage == "truncated" else b"")
    with pytest.raises(store.FeaturesOutputError, match="damaged features file"):
        store.read_features(str(ws / "features"), "ego4d", "tiny")
    again = run_features(_cfg(tiny_clips, tiny_teacher, ws))
    assert again.ok and again.datasets[0].clips_processed == n
    assert pq.read_metadata(victim).num_rows == n
    assert (directory / "_damaged" / victim.name).is_file() or list(
        (directory / "_damaged").glob(victim.name + ".*")
    )
    shutil.rmtree(directory / "_damaged")


def test_a_clip_in_two_feature_files_fails_readers_and_reruns(done, tiny_clips, tiny_teacher, tmp_path):
    ws, directory = done
    copy = tmp_path / "ws"
    shutil.copytree(ws, copy)
    d2 = copy / "features" / "ego4d" / "tiny"
    first = sorted(d2.glob("part-*.parquet"))[0]
    shutil.copy(first, first.with_name(first.stem[:-12] + "0123456789ab.parquet"))
    with pytest.raises(store.FeaturesOutputError, match="more than once"):
        store.read_features(str(copy / "features"), "ego4d", "tiny")
    with pytest.raises(store.FeaturesOutputError, match="two feature files"):
        run_features(_cfg(tiny_clips, tiny_teacher, copy))
