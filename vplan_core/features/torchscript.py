"""The tensors of a TorchScript archive, read without running anything the archive contains.

OpenAI publishes CLIP as TorchScript archives (torch.jit.save). torch.jit.load would compile
and run the archive's code, plain pickle would import whatever the archive names, and
torch.load(weights_only=True) refuses TorchScript. But the archive is a zip whose weights are
raw records (<archive>/data/<key>), described by <archive>/data.pkl: the module tree as objects
of classes named "__torch__.<...>" whose attribute dicts hold submodules and tensors. This
reader unpickles data.pkl with a restricted Unpickler (Python's documented way to restrict
globals) that resolves only those class names (to an inert attribute holder, never to code),
torch's tensor-rebuild function, the storage type names and OrderedDict, and refuses every
other global; tensor data comes straight from the zip records. A traced archive (OpenAI's are
traced) keeps only parameters and buffers as tensor attributes, so the tensors found are the
archive's state_dict(); with_data=False gives shape-only "meta" tensors without reading them.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile

import torch

_STORAGE_DTYPES = {
    "FloatStorage": torch.float32, "HalfStorage": torch.float16, "BFloat16Storage": torch.bfloat16,
    "DoubleStorage": torch.float64, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}


def archive_prefix(names: list[str]) -> str | None:
    """"<archive>/" of a torch zip file (torch.save or torch.jit.save), None for other zips."""
    return next((n[:-len("data.pkl")] for n in names
                 if n.endswith("/data.pkl") and n.count("/") == 1), None)


def is_torchscript(names: list[str]) -> bool:
    """torch.jit.save archives have constants.pkl beside data.pkl (torch.save files do not)."""
    prefix = archive_prefix(names)
    return prefix is not None and f"{prefix}constants.pkl" in names


MAX_PICKLE = 64 << 20  # bytes of data.pkl; ViT-L/14's is under a megabyte
MAX_STEPS = 1_000_000  # attributes walked; ViT-L/14's module tree has a few thousand


class _ScriptObject:
    """An object of the archive's module tree: its attributes only, no behaviour."""

    qualname = ""

    def __setstate__(self, state: object) -> None:
        self.attributes = state


def _rebuild_tensor(storage: torch.Tensor, offset: int, size: tuple, stride: tuple,
                    requires_grad: bool, hooks: dict, metadata: object = None) -> torch.Tensor:
    return torch.as_strided(storage, size, stride, offset)


class _ArchiveUnpickler(pickle.Unpickler):
    def __init__(self, zf: zipfile.ZipFile, prefix: str, with_data: bool) -> None:
        size = zf.getinfo(f"{prefix}data.pkl").file_size
        if size > MAX_PICKLE:
            raise pickle.UnpicklingError(f"data.pkl is {size} bytes; a module tree's takes well under {MAX_PICKLE}")
        super().__init__(io.BytesIO(zf.read(f"{prefix}data.pkl")))
        self._zf, self._prefix, self._with_data = zf, prefix, with_data
        self._classes: dict[str, type] = {}

    def find_class(self, module: str, name: str) -> object:
        qualname = f"{module}.{name}"
        if module == "__torch__" or module.startswith("__torch__."):
            if qualname not in self._classes:
                self._classes[qualname] = type(name, (_ScriptObject,), {"qualname": qualname})
            return self._classes[qualname]
        if qualname == "torch._utils._rebuild_tensor_v2":
            return _rebuild_tensor
        if qualname == "collections.OrderedDict":
            return collections.OrderedDict
        if module == "torch" and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        raise pickle.UnpicklingError(f"the archive's data.pkl names {qualname}, which a weights "
                                     f"archive does not need; refusing to load it")

    def persistent_load(self, pid: tuple) -> torch.Tensor:
        kind, dtype, key, _location, numel = pid
        if kind != "storage" or not isinstance(dtype, torch.dtype):
            raise pickle.UnpicklingError(f"unexpected record reference {pid!r}")
        if not self._with_data or numel == 0:
            return torch.empty(numel, dtype=dtype, device="cpu" if self._with_data else "meta")
        record = f"{self._prefix}data/{key}"
        size = self._zf.getinfo(record).file_size
        if size != numel * dtype.itemsize:
            raise pickle.UnpicklingError(f"record {record} holds {size} bytes, not the {numel} x "
                                         f"{dtype.itemsize} its tensor needs")
        return torch.frombuffer(bytearray(self._zf.read(record)), dtype=dtype)


def _tensors(root: _ScriptObject) -> dict[str, torch.Tensor]:
    """Dotted name -> tensor of the module tree under root, in attribute order. Each object is
    walked once: one met again (shared or cyclic, which no traced module tree has) is refused,
    and so is a tree of more than MAX_STEPS attributes, so any archive is read in bounded time."""
    out: dict[str, torch.Tensor] = {}
    seen: dict[int, str] = {}
    steps = 0
    stack: list[tuple[str, object]] = [("", root)]
    while stack:
        name, value = stack.pop()
        if isinstance(value, torch.Tensor):
            out[name] = value
        elif isinstance(value, _ScriptObject):
            if id(value) in seen:
                raise pickle.UnpicklingError(f"{value.qualname} is both {seen[id(value)] or 'the root'} and "
                                             f"{name or 'the root'}: a module tree shares no objects")
            seen[id(value)] = name
            if not isinstance(getattr(value, "attributes", None), dict):
                raise pickle.UnpicklingError(f"{value.qualname} has a custom state, not an attribute dict")
            steps += len(value.attributes)
            if steps > MAX_STEPS:
                raise pickle.UnpicklingError(f"the module tree has more than {MAX_STEPS} attributes")
            prefix = f"{name}." if name else ""
            stack.extend((f"{prefix}{key}", child) for key, child in reversed(value.attributes.items()))
    return out


def read_tensors(zf: zipfile.ZipFile, with_data: bool = True) -> dict[str, torch.Tensor]:
    """Dotted name -> tensor for every tensor attribute of the archive's module tree.

    pickle.UnpicklingError when data.pkl needs anything beyond the module tree and tensors.
    """
    prefix = archive_prefix(zf.namelist())
    if prefix is None:
        raise pickle.UnpicklingError("no <archive>/data.pkl record: not a TorchScript archive")
    root = _ArchiveUnpickler(zf, prefix, with_data).load()
    if not isinstance(root, _ScriptObject):
        raise pickle.UnpicklingError(f"data.pkl holds a {type(root).__name__}, not a module")
    return _tensors(root)
