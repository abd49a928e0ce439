"""`.npy` arrays from files we did not write (released labels and features, prediction files),
read with bounded memory: the header first, then exactly the bytes it announces.

np.load reads a whole file or zip member before anyone can look at its shape, so a 389 KB zip
of highly compressible members (or a header announcing a huge shape) costs gigabytes. Here the
header's shape and dtype are checked against what the caller expects, and only then are
shape x itemsize bytes read; whatever a member holds beyond that is never decompressed. An
`.npz` is read member by member (read_npz), and only the members asked for. Nothing is
unpickled and nothing is extracted. Every problem is an NpyError naming the file.
"""
from __future__ import annotations

import io
import math
import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

MAX_BYTES = 16 << 20  # a released per-video file is well under a megabyte
NUMERIC = "biuf"  # dtype kinds: bool, signed and unsigned integers, floats
TEXT = "US"  # byte and unicode strings
KIND_NAMES = {NUMERIC: "numeric", TEXT: "text"}


class NpyError(ValueError):
    """A file or member that is not the .npy array expected; the message names it."""


def read_header(file: BinaryIO, name: str | os.PathLike) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) from the header at the stream's position; the stream is left
    at the array's first byte."""
    try:
        magic = file.read(np.lib.format.MAGIC_LEN)
        if magic.startswith(b"PK\x03\x04"):
            raise NpyError(f"{name}: an .npz archive of named arrays, not a .npy file of one array")
        version = np.lib.format.read_magic(io.BytesIO(magic))
        readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in readers:
            raise ValueError(f"npy format version {version[0]}.{version[1]}, not 1.0 or 2.0")
        return readers[version](file)
    except NpyError:
        raise
    except (ValueError, EOFError, OSError, SyntaxError, zipfile.BadZipFile) as exc:
        raise NpyError(f"{name}: not a readable .npy file ({' '.join(str(exc).split())})") from exc


def read_array(file: BinaryIO, name: str | os.PathLike, shape: Sequence[int | None], kinds: str = NUMERIC,
               max_bytes: int = MAX_BYTES, expected: str | None = None) -> np.ndarray:
    """The array at the stream's position, once its header says `shape` (None: any length on
    that axis) of a dtype of one of `kinds` taking at most max_bytes; NpyError otherwise.
    expected: what such files are, for the message (default: the shape)."""
    found, fortran_order, dtype = read_header(file, name)
    expected = expected or "expected [" + ", ".join("N" if n is None else str(n) for n in shape) + "]"
    if dtype.kind not in kinds or dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise NpyError(f"{name}: dtype {dtype} is not {KIND_NAMES.get(kinds, kinds)} ({expected})")
    if len(found) != len(shape) or any(n is not None and n != f for n, f in zip(shape, found)):
        raise NpyError(f"{name}: shape {found}, {expected}")
    nbytes = math.prod(found) * dtype.itemsize
    if nbytes > max_bytes:
        raise NpyError(f"{name}: shape {found} of {dtype} is {nbytes} bytes, more than the "
                       f"{max_bytes} such a file may take")
    data = bytearray(nbytes)
    view, filled = memoryview(data), 0
    try:
        while filled < nbytes and (n := file.readinto(view[filled:])):
            filled += n
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise NpyError(f"{name}: unreadable array data ({' '.join(str(exc).split())})") from exc
    if filled < nbytes:
        raise NpyError(f"{name}: truncated ({filled} of the {nbytes} bytes its header announces)")
    return np.frombuffer(data, dtype).reshape(found, order="F" if fortran_order else "C")


def read_npy(path: str | os.PathLike | zipfile.Path, shape: Sequence[int | None], kinds: str = NUMERIC,
             max_bytes: int = MAX_BYTES, expected: str | None = None) -> np.ndarray:
    """read_array of a file, or of a zip member given as a zipfile.Path (read in place)."""
    path = Path(path) if isinstance(path, (str, os.PathLike)) else path
    try:
        with path.open("rb") as file:
            return read_array(file, path, shape, kinds, max_bytes, expected)
    except (OSError, zipfile.BadZipFile) as exc:
        raise NpyError(f"{path}: not a readable .npy file ({' '.join(str(exc).split())})") from exc


def read_npy_shape(path: str | os.PathLike) -> tuple[int, ...]:
    """The shape a .npy file's header announces, its data unread."""
    path = Path(path)
    try:
        with open(path, "rb") as file:
            return read_header(file, path)[0]
    except OSError as exc:
        raise NpyError(f"{path}: not a readable .npy file ({' '.join(str(exc).split())})") from exc


def read_npz(path: str | os.PathLike, members: Mapping[str, tuple[Sequence[int | None], str, int]]
             ) -> dict[str, np.ndarray]:
    """The named arrays of an .npz (np.savez) that are there, each read as read_array(shape,
    kinds, max_bytes) from its member `<name>.npy`; other members are not read."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            present = set(archive.namelist())
            out = {}
            for key, (shape, kinds, max_bytes) in members.items():
                if f"{key}.npy" in present:
                    with archive.open(f"{key}.npy") as file:
                        out[key] = read_array(file, f"{path}: {key}", shape, kinds, max_bytes)
            return out
    except (OSError, zipfile.BadZipFile) as exc:
        raise NpyError(f"{path}: not a readable .npz archive ({' '.join(str(exc).split())})") from exc
