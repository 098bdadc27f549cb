"""Test videos made by the tests: frames with known colours and a marker that moves with time,
encoded with PyAV."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

CODECS = {".mp4": "libx264", ".webm": "libvpx-vp9", ".avi": "mpeg4", ".mov": "libx264", ".gif": "gif"}
COLOURS = np.array([[220, 40, 40], [40, 200, 60], [50, 70, 230], [230, 210, 40]], dtype=np.uint8)


def frame(index: int, height: int = 64, width: int = 96) -> np.ndarray:
    """Left half: a flat colour cycling with `index`; right half grey with a white bar whose row
    encodes `index` (so order survives resizing)."""
    image = np.full((height, width, 3), 128, dtype=np.uint8)
    image[:, : width // 2] = COLOURS[index % len(COLOURS)]
    row = 4 + (index * 6) % (height - 12)
    image[row : row + 8, width // 2 :] = 255
    return image


def marker_row(image: np.ndarray) -> float:
    """Centre row of the white bar in the right half, as a fraction of the height."""
    right = image[:, image.shape[1] // 2 :].astype(float).mean(axis=(1, 2))
    return float(np.argmax(np.convolve(right, np.ones(3), mode="same")) / image.shape[0])


def write_video(path: Path, count: int, fps: int = 10, height: int = 64, width: int = 96) -> Path:
    codec = CODECS[path.suffix]
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "rgb8" if codec == "gif" else "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "12"}
        for index in range(count):
            container.mux(
                stream.encode(av.VideoFrame.from_ndarray(frame(index, height, width), format="rgb24"))
            )
        container.mux(stream.encode())
    return path


def write_folder(path: Path, count: int, suffix: str = ".png") -> Path:
    from PIL import Image

    path.mkdir(parents=True)
    for index in range(count):
        Image.fromarray(frame(index)).save(path / f"frame{index}{suffix}")  # natural order: 2 < 10
    return path
