"""`rlv data import-video`: video files and folders of frames in, an action-free dataset out.

One episode per video file (mp4, webm, avi, mov, mkv, gif; decoded by PyAV/FFmpeg) or per folder of
PNG/JPEG frames (natural sort order: frame2 before frame10; decoded by Pillow). Each frame is
converted to RGB, cropped (a box or the centre square), resized (default 48x48), subsampled (every
k-th frame or a target fps), cut to a time range, optionally reversed; the episode's last
transition is the success (done) unless told otherwise.

Safety: every input is checked (readable, supported, decodable to the end, at least two frames
after subsampling, one frame size within a folder); the dataset is written into a temporary
directory renamed into place at the end, so an error or an interruption leaves nothing behind.
With `skip_bad` a bad input is reported and skipped, and `meta.json` lists it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from rlv.data.dataset import DatasetWriter, Episode, atomic_directory
from rlv.errors import RlvError

VIDEO_SUFFIXES = (".mp4", ".webm", ".avi", ".mov", ".mkv", ".gif")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass(frozen=True)
class ImportOptions:
    """How frames become observations."""

    size: tuple[int, int] = (48, 48)
    """Output (height, width)."""
    crop: str = "none"
    """'none', 'center' (the largest centred square) or a box 'left,top,width,height' in pixels."""
    stride: int = 1
    """Keep every k-th decoded frame."""
    fps: float | None = None
    """Instead of --stride: resample to this many frames per second (by timestamps)."""
    start: float = 0.0
    """Keep frames from this time (seconds)."""
    end: float | None = None
    """Keep frames before this time (seconds; default: to the end)."""
    reverse: bool = False
    """Reverse each episode in time (for videos of the task undone)."""
    success: str = "last"
    """Which transition is the success: 'last' (the video ends at success), 'none' (failed or
    unknown: no done), or a frame index N (after subsampling): the episode ends at frame N."""
    folder_fps: float = 10.0
    """Frame rate assumed for folders of frames (for --fps and the time range)."""


@dataclass
class ImportReport:
    """What an import wrote and skipped."""

    meta: dict[str, Any]
    skipped: list[dict[str, str]] = field(default_factory=list)


def natural_key(path: Path) -> list[Any]:
    """Sort key that orders embedded numbers numerically: frame2 < frame10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def parse_crop(crop: str) -> tuple[int, int, int, int] | str:
    if crop in ("none", "center"):
        return crop
    try:
        left, top, width, height = (int(v) for v in crop.split(","))
    except ValueError as error:
        raise RlvError(f"--crop must be none, center or left,top,width,height; got {crop!r}") from error
    if left < 0 or top < 0 or width < 1 or height < 1:
        raise RlvError(f"--crop box must have left, top >= 0 and width, height >= 1; got {crop!r}")
    return left, top, width, height


def check_options(options: ImportOptions) -> None:
    """Reject impossible options before reading anything."""
    parse_crop(options.crop)
    if min(options.size) < 1:
        raise RlvError(f"--size must be positive, got {options.size}")
    if options.stride < 1:
        raise RlvError(f"--stride must be at least 1, got {options.stride}")
    if options.fps is not None and options.fps <= 0:
        raise RlvError(f"--fps must be positive, got {options.fps}")
    if options.folder_fps <= 0:
        raise RlvError(f"--folder-fps must be positive, got {options.folder_fps}")
    if options.start < 0 or (options.end is not None and options.end <= options.start):
        raise RlvError(f"time range must satisfy 0 <= start < end; got {options.start}..{options.end}")
    if options.success not in ("last", "none") and not options.success.isdigit():
        raise RlvError(f"--success must be last, none or a frame index; got {options.success!r}")


def options_record(options: ImportOptions) -> dict[str, Any]:
    """The options as JSON values (tuples as lists), for the `how_made` record of `meta.json`."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(options).items()}


def transform(frame: np.ndarray, options: ImportOptions, where: str) -> np.ndarray:
    """Crop and resize one RGB frame (H, W, 3) uint8 -> size + (3,) uint8."""
    height, width = frame.shape[:2]
    crop = parse_crop(options.crop)
    if crop == "center":
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        frame = frame[top : top + side, left : left + side]
    elif isinstance(crop, tuple):
        left, top, box_width, box_height = crop
        if left + box_width > width or top + box_height > height:
            raise RlvError(f"{where}: crop box {options.crop} does not fit in a {width}x{height} frame")
        frame = frame[top : top + box_height, left : left + box_width]
    out_height, out_width = options.size
    if frame.shape[:2] != (out_height, out_width):
        frame = np.asarray(Image.fromarray(frame).resize((out_width, out_height), Image.Resampling.BOX))
    return np.ascontiguousarray(frame, dtype=np.uint8)


# Box types an MP4 (ISO BMFF) or QuickTime file can start with.
FIRST_MP4_BOXES = frozenset(
    kind.encode() for kind in ("ftyp", "styp", "moov", "mdat", "free", "skip", "wide", "pnot", "uuid", "sidx")
)


def _is_box_type(kind: bytes) -> bool:
    """Whether four bytes can name an MP4/MOV box: letters, digits and spaces only."""
    return all(48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c == 32 for c in kind)


def _mp4_box_size(handle: BinaryIO, path: Path, offset: int, size: int) -> int:
    """The declared size of the MP4/MOV top-level box at `offset` of a `size`-byte file, checked."""
    handle.seek(offset)
    header = handle.read(16)
    box = int.from_bytes(header[:4], "big")
    kind = header[4:8]
    if offset == 0 and kind not in FIRST_MP4_BOXES:
        raise RlvError(f"{path}: cannot open as a video (no MP4/MOV header)")
    if not _is_box_type(kind):
        raise RlvError(f"{path}: cannot open as a video (no MP4/MOV box at byte {offset})")
    if box == 1 and len(header) == 16:
        box = int.from_bytes(header[8:16], "big")
    elif box == 0:
        box = size - offset  # extends to the end of the file
    if box < 8:
        raise RlvError(f"{path}: cannot open as a video (MP4/MOV box of size {box} at byte {offset})")
    return box


def _check_mp4_boxes(handle: BinaryIO, path: Path, size: int) -> None:
    """The MP4/MOV top-level boxes must add up to the file's size."""
    offset = 0
    while offset + 8 <= size:
        offset += _mp4_box_size(handle, path, offset, size)
    if offset != size:
        raise RlvError(f"{path}: truncated ({size} bytes, the container declares {offset})")


def check_complete(path: Path) -> None:
    """Catch truncation FFmpeg tolerates: a file cut inside trailing metadata still decodes every
    frame. Reads only the container's declared sizes (MP4/MOV top-level boxes, the AVI RIFF size,
    the GIF trailer); WebM/MKV rely on FFmpeg's own errors."""
    suffix, size = path.suffix.lower(), path.stat().st_size
    with open(path, "rb") as handle:
        if suffix in (".mp4", ".mov"):
            _check_mp4_boxes(handle, path, size)
        elif suffix == ".avi":
            header = handle.read(8)
            if header[:4] == b"RIFF" and int.from_bytes(header[4:8], "little") + 8 > size:
                raise RlvError(f"{path}: truncated ({size} bytes, the RIFF header declares more)")
        elif suffix == ".gif":
            handle.seek(max(size - 1, 0))
            if handle.read(1) != b"\x3b":
                raise RlvError(f"{path}: truncated GIF (no trailer byte)")


def decode_video(path: Path) -> Iterator[tuple[float, np.ndarray]]:
    """(time in seconds, RGB frame) of every frame of a video file, decoded by PyAV."""
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as error:
        raise RlvError(f"{path}: cannot open as a video ({error})") from error
    with container:
        if not container.streams.video:
            raise RlvError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for index, frame in enumerate(container.decode(stream)):
                time = (
                    float(frame.time) if frame.time is not None else index / float(stream.average_rate or 25)
                )
                yield time, frame.to_ndarray(format="rgb24")
        except (av.error.FFmpegError, OSError, ValueError) as error:
            raise RlvError(f"{path}: corrupt or truncated video ({error})") from error


def decode_folder(path: Path, folder_fps: float) -> Iterator[tuple[float, np.ndarray]]:
    """(time, RGB frame) of the PNG/JPEG files of a folder, in natural order, at `folder_fps`."""
    try:
        files = sorted((f for f in path.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES), key=natural_key)
    except OSError as error:
        raise RlvError(f"{path}: unreadable folder ({error.strerror})") from error
    if not files:
        raise RlvError(f"{path}: folder holds no PNG or JPEG frames")
    first_size = None
    for index, file in enumerate(files):
        try:
            with Image.open(file) as image:
                rgb = np.asarray(image.convert("RGB"))
        except OSError as error:
            if error.errno is not None and not isinstance(error, UnidentifiedImageError):
                raise RlvError(f"{file}: unreadable image ({error.strerror})") from error
            raise RlvError(f"{file}: corrupt or unreadable image ({error})") from error
        except (ValueError, SyntaxError) as error:
            raise RlvError(f"{file}: corrupt or unreadable image ({error})") from error
        if first_size is None:
            first_size = rgb.shape[:2]
        elif rgb.shape[:2] != first_size:
            raise RlvError(
                f"{file}: frame size {rgb.shape[1]}x{rgb.shape[0]} differs from the folder's first frame "
                f"{first_size[1]}x{first_size[0]}"
            )
        yield index / folder_fps, rgb


def read_episode(path: Path, options: ImportOptions, bar: tqdm | None = None) -> Episode:
    """Decode, select, transform one input into an episode (validated: at least two frames)."""
    if not path.exists():
        raise RlvError(f"{path}: no such file or folder")
    if path.is_dir():
        frames = decode_folder(path, options.folder_fps)
    elif path.suffix.lower() in VIDEO_SUFFIXES:
        try:
            check_complete(path)
        except OSError as error:
            raise RlvError(f"{path}: unreadable ({error.strerror})") from error
        frames = decode_video(path)
    else:
        raise RlvError(
            f"{path}: unsupported input; give a video ({', '.join(VIDEO_SUFFIXES)}) or a folder of frames"
        )
    return select_frames(frames, options, str(path), bar)


class _Subsampler:
    """Which frames of the time range to keep: every `stride`-th decoded frame, or with `fps` the
    first frame at or after each sample time (start, start + 1/fps, ...)."""

    def __init__(self, options: ImportOptions) -> None:
        self.stride, self.fps = options.stride, options.fps
        self.next_time = options.start

    def keep(self, index: int, time: float) -> bool:
        """Whether to keep the frame decoded `index`-th, at `time` (frames come in time order)."""
        if self.fps is None:
            return not index % self.stride
        if time + 1e-6 < self.next_time:
            return False
        while self.next_time <= time + 1e-6:
            self.next_time += 1.0 / self.fps
        return True


def _kept_frames(
    frames: Iterator[tuple[float, np.ndarray]], options: ImportOptions, where: str, bar: tqdm | None
) -> tuple[list[np.ndarray], int]:
    """The transformed frames of the time range that the stride or fps keeps, and how many frames
    were decoded (decoding stops at the end of the time range)."""
    kept: list[np.ndarray] = []
    decoded = 0
    subsampler = _Subsampler(options)
    for time, frame in frames:
        index, decoded = decoded, decoded + 1
        if bar is not None:
            bar.update(1)
        if time < options.start - 1e-9:
            continue
        if options.end is not None and time >= options.end:
            break
        if subsampler.keep(index, time):
            kept.append(transform(frame, options, where))
    return kept, decoded


def select_frames(
    frames: Iterator[tuple[float, np.ndarray]], options: ImportOptions, where: str, bar: tqdm | None = None
) -> Episode:
    """Apply the time range, stride or fps, crop and resize, reverse and success options to
    decoded (time, frame) pairs; the episode must keep at least two frames."""
    kept, decoded = _kept_frames(frames, options, where, bar)
    if decoded == 0:
        raise RlvError(f"{where}: no frames could be decoded (empty or not a video)")
    if options.reverse:
        kept.reverse()
    success = options.success != "none"
    if options.success.isdigit():
        cut = int(options.success)
        if cut >= len(kept):
            raise RlvError(f"{where}: --success {cut} is past the last kept frame ({len(kept) - 1})")
        kept = kept[: cut + 1]
    if len(kept) < 2:
        raise RlvError(
            f"{where}: {len(kept)} frame(s) after selection; an episode needs at least 2 "
            f"({decoded} decoded; check --start/--end/--stride/--fps)"
        )
    return Episode(obs=np.stack(kept), success=success)


def import_videos(
    paths: list[Path],
    out: Path,
    options: ImportOptions,
    meta: dict[str, Any],
    skip_bad: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> ImportReport:
    """Import `paths` (videos or folders, one episode each) into a new dataset at `out`."""
    check_options(options)
    if not paths:
        raise RlvError("give at least one video file or folder of frames")
    skipped: list[dict[str, str]] = []
    with atomic_directory(out, overwrite) as tmp:
        writer = DatasetWriter(tmp, out)
        with tqdm(total=None, unit="frame", desc="frames", disable=not progress, position=1) as frame_bar:
            for path in tqdm(paths, unit="file", desc="importing", disable=not progress, position=0):
                try:
                    episode = read_episode(Path(path), options, frame_bar)
                except RlvError as error:
                    if not skip_bad:
                        raise
                    skipped.append({"path": str(path), "reason": str(error)})
                    tqdm.write(f"skipped: {error}")
                    continue
                writer.add(episode, str(path))
        if writer.count == 0:
            raise RlvError(f"{out}: every input was skipped; nothing to write")
        full_meta = writer.finish(
            meta
            | {
                "how_made": {
                    "inputs": [str(p) for p in paths],
                    "options": options_record(options),
                },
                "skipped": skipped,
            }
        )
    return ImportReport(full_meta, skipped)
