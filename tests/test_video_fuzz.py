"""Property test: at least 200 malformed inputs (random bytes under every video suffix, strict
prefixes of a real mp4, PNG frames with corrupt bodies, empty files) each end in the clear error
(RlvError naming the file) and leave nothing behind."""

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from videos import write_video

from rlv.collect.video_import import VIDEO_SUFFIXES, ImportOptions, import_videos
from rlv.errors import RlvError


@pytest.fixture(scope="module")
def real_mp4(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("real") / "real.mp4", 10).read_bytes()


def malformed(real: bytes):
    random_video = st.tuples(st.just("video"), st.sampled_from(VIDEO_SUFFIXES), st.binary(max_size=3000))
    prefix = st.tuples(st.just("prefix"), st.just(".mp4"),
                       st.integers(0, len(real) - 1).map(lambda n: real[:n]))  # fmt: skip
    png = st.tuples(
        st.just("png"), st.just(".png"), st.binary(max_size=500).map(lambda b: b"\x89PNG\r\n\x1a\n" + b)
    )
    return st.one_of(random_video, prefix, png)


@settings(max_examples=240, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_malformed_inputs_end_in_the_clear_error_with_nothing_written(real_mp4, data):
    kind, suffix, payload = data.draw(malformed(real_mp4))
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        if kind == "png":
            target = root / "frames"
            target.mkdir()
            (target / f"frame0{suffix}").write_bytes(payload)
        else:
            target = root / f"input{suffix}"
            target.write_bytes(payload)
        with pytest.raises(RlvError) as caught:
            import_videos([target], root / "ds", ImportOptions(), {}, progress=False)
        assert str(target) in str(caught.value)
        assert sorted(p.name for p in root.iterdir()) == [target.name], "something was left behind"
