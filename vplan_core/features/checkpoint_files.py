"""The containers that checkpoint files come in, read without trusting them; shared by
clip_checkpoints and clap_checkpoints, which decide what the tensors inside are.

  safetensors   safetensors_layout reads the JSON header alone (names, shapes, dtypes as meta
                tensors), so a 600 MB file is recognised before any job runs; one reader for
                every model.
  torch zip     torch_zip_state: torch.load with weights_only=True (memory-mapped), unwrapped
                by the caller's rule.
  anything else describe_bytes names what the bytes are (an empty file, a Git LFS pointer, a
                truncated zip, the legacy torch.save format, a pickle, HTML, text, noise) and
                how to fix it.
Errors are the caller's: each model's loader names its own config key and forms.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path

import torch

SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}
TORCH_LEGACY_HEAD = b"\x80\x02\x8a\x0a" + torch.serialization.MAGIC_NUMBER.to_bytes(10, "little")
MAX_HEADER = 100 << 20  # larger "header lengths" are the first bytes of some other file


class TruncatedSafetensors(ValueError):
    """A safetensors file shorter than its header says: `part` ("header" or "tensors") needs
    `needed` bytes, the file has `size`."""

    def __init__(self, path: Path, part: str, needed: int, size: int):
        super().__init__(f"{path}: a truncated safetensors file (its {part} "
                         f"{'needs' if part == 'header' else 'need'} {needed} bytes, the file has {size})")
        self.path, self.part, self.needed, self.size = path, part, needed, size


def safetensors_layout(path: str | Path, size: int | None = None) -> dict[str, torch.Tensor] | None:
    """name -> meta tensor (shape and dtype, no data) from a safetensors header; None when the
    file is no safetensors file; TruncatedSafetensors when it is one, cut short.

    size is the file's size in bytes (read from the file when not given).
    """
    path = Path(path)
    size = path.stat().st_size if size is None else size
    with open(path, "rb") as fh:
        length = int.from_bytes(fh.read(8), "little")
        if not 2 <= length <= MAX_HEADER or fh.read(1) != b"{":
            return None
        if 8 + length > size:
            raise TruncatedSafetensors(path, "header", 8 + length, size)
        try:
            entries = {name: entry for name, entry in json.loads(b"{" + fh.read(length - 1)).items()
                       if name != "__metadata__"}
            end = max((entry["data_offsets"][1] for entry in entries.values()), default=0)
            layout = {name: torch.empty(entry["shape"], device="meta",
                                        dtype=SAFETENSORS_DTYPES.get(entry["dtype"], torch.uint8))
                      for name, entry in entries.items()}
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            return None
    if 8 + length + end > size:
        raise TruncatedSafetensors(path, "tensors", 8 + length + end, size)
    return layout


def torch_zip_state(path: Path, error: Callable[[Path, str], Exception],
                    unwrap: Callable[[object], dict | None]) -> dict[str, torch.Tensor]:
    """The state dict of a torch.save zip file, read with weights_only=True (memory-mapped) and
    unwrapped; error(path, what was found) for anything else (CLIP's and CLAP's loaders)."""
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as exc:
        raise error(path, "a torch.save file that pickles more than tensors ("
                          f"{str(exc).splitlines()[0]}); vplan reads weights with "
                          "weights_only=True") from exc
    except Exception as exc:
        raise error(path, f"an unreadable torch.save zip file ({' '.join(str(exc).split())[:300]})") from exc
    state = unwrap(raw)
    if state is None:
        raise error(path, f"a torch.save file holding a {type(raw).__name__}, not a state dict")
    return state


def describe_bytes(path: Path, head: bytes, size: int) -> tuple[str, str]:
    """(what the file is, how to fix it) for content that is no checkpoint container; head is
    the file's first 64 bytes."""
    if size == 0:
        return "an empty file (0 bytes)", ""
    if head.startswith(b"version https://git-lfs"):
        return (f"a Git LFS pointer file ({size} bytes), not the weights",
                "Fetch the file itself (git lfs pull, or its download URL)")
    if head.startswith(b"PK\x03\x04"):
        return ("a truncated or damaged zip archive (its directory, at the end of the file, is "
                f"missing; {size} bytes)", "Download it again (an interrupted download?)")
    if head.startswith(TORCH_LEGACY_HEAD):
        return ("a torch.save file in the legacy (pre-1.6) format",
                f"Re-save it in the zip format: python -c \"import torch; torch.save(torch.load("
                f"'{path}', weights_only=True), '{path.with_suffix('.zip.pt')}')\" and point the "
                f"key at the new file")
    if head[:1] == b"\x80":
        return "a Python pickle that is not a torch.save zip file (vplan does not unpickle it)", ""
    text = head.decode("utf-8", "replace")
    if not all((c.isprintable() or c.isspace()) and c != "\ufffd" for c in text[:-1]):
        return f"unrecognised content (first bytes {head[:8].hex(' ')})", ""
    if text.lstrip().startswith("<"):
        return (f"an HTML/XML page ({size} bytes), not weights",
                "A download that saved an error or login page? Download the file again")
    return f"a text file ({size} bytes) starting {text[:60]!r}", ""
