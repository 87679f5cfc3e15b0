import pytest

from reidkit.data.market import parse_name, read_folder, read_split
from reidkit.errors import DatasetError


def test_reads_pku_splits(pku):
    train = read_split(pku, "bounding_box_train")
    query = read_split(pku, "query")
    gallery = read_split(pku, "bounding_box_test")
    assert (len(train), train.num_ids) == (320, 20)
    assert len(query) == 96 and set(query.camids.tolist()) == {1, 2}
    assert len(gallery) == 288
    assert not set(train.pids) & set(query.pids)


def test_junk_dropped_distractors_kept(tmp_path):
    for name in ("-1_c1s1_000001_00.jpg", "0000_c1s1_000002_00.jpg", "0007_c2s1_000003_00.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    images = read_folder(tmp_path)
    assert sorted(images.pids.tolist()) == [0, 7]
    assert read_folder(tmp_path, keep_distractors=False).pids.tolist() == [7]


def test_malformed_and_missing(tmp_path):
    with pytest.raises(DatasetError, match="malformed"):
        parse_name("person1.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"x")
    with pytest.raises(DatasetError, match="malformed"):
        read_folder(tmp_path)
    with pytest.raises(DatasetError, match="missing"):
        read_split(tmp_path, "query")
    with pytest.raises(DatasetError, match="not found"):
        read_split(tmp_path / "nope", "query")
