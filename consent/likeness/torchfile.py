"""Read the tensors of a legacy (pre-1.6) PyTorch checkpoint without PyTorch.

resemblyzer ships its encoder as such a file; PyTorch itself is not installable here (Python 3.13 gets
only a ~2.7 GB CUDA build). The format is a run of standard pickles followed by the raw storages, so the
standard library's `pickle` does the parsing; this module only tells it what the two torch names in the
pickle mean. The unpickler is restricted to exactly those names (plus OrderedDict): a checkpoint that
asks for anything else is refused, so a tampered file cannot run code.
"""

import collections
import pickle
import struct
from pathlib import Path

import numpy as np

MAGIC = 0x1950A86A20F9469CFC6C
PROTOCOL = 1001
DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "LongStorage": np.int64, "IntStorage": np.int32}


class CheckpointError(Exception):
    pass


class _Storage:
    def __init__(self, dtype, key: str, numel: int):
        self.dtype, self.key, self.numel = dtype, key, numel
        self.array: np.ndarray | None = None


class _Tensor:
    """A view on a storage, materialised once the storages (which follow the pickle) are read."""

    def __init__(self, storage: _Storage, offset: int, size: tuple, stride: tuple):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def array(self) -> np.ndarray:
        itemsize = self.storage.array.itemsize
        view = np.lib.stride_tricks.as_strided(
            self.storage.array[self.offset :],
            shape=self.size,
            strides=tuple(s * itemsize for s in self.stride),
            writeable=False,
        )
        return np.array(view)  # a copy: the tensors of one storage must not alias each other


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, *rest):
    return _Tensor(storage, storage_offset, size, stride)


class _StorageType:
    def __init__(self, name: str):
        if name not in DTYPES:
            raise CheckpointError(f"unsupported storage type {name}")
        self.dtype = DTYPES[name]


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, storages: dict):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in DTYPES:
            return _StorageType(name)
        raise CheckpointError(f"the checkpoint asks for {module}.{name}, which a weights file never needs")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, numel, view = pid
        if kind != "storage" or view is not None:
            raise CheckpointError("unsupported storage reference")
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type.dtype, key, numel)
        return self.storages[key]


def _plain(obj):
    if isinstance(obj, _Tensor):
        return obj.array()
    if isinstance(obj, dict):
        return {key: _plain(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_plain(value) for value in obj)
    return obj


def load(path: Path) -> dict:
    """The checkpoint's object with every tensor as a numpy array."""
    with open(path, "rb") as f:
        if pickle.load(f) != MAGIC or pickle.load(f) != PROTOCOL:  # noqa: S301 (plain ints; checked before any use)
            raise CheckpointError("not a legacy PyTorch checkpoint")
        _Unpickler(f, {}).load()  # sys_info: only names and sizes, read through the restricted unpickler
        storages: dict[str, _Storage] = {}
        result = _Unpickler(f, storages).load()
        keys = _Unpickler(f, {}).load()
        for key in keys:
            storage = storages[key]
            (numel,) = struct.unpack("<q", f.read(8))
            if numel != storage.numel:
                raise CheckpointError(f"storage {key}: {numel} elements, the pickle said {storage.numel}")
            data = f.read(numel * np.dtype(storage.dtype).itemsize)
            storage.array = np.frombuffer(data, dtype=storage.dtype)
    return _plain(result)
