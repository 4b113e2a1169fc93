"""One implementation of the integer semantics, two array libraries.

Every quant/ function is written once against the few operations NumPy
arrays and torch tensors share (``+ - * >> << &``, comparisons, ``.clip``)
plus the handful dispatched here. That is what makes the NumPy and torch
paths agree bit for bit: there is no second copy of the semantics to drift.
torch is never imported unless a tensor is passed in.
"""

import numpy as np

__all__ = []


def is_torch(x):
    return type(x).__module__.startswith("torch")


def as_int64(x, *, name="codes"):
    """Return ``x`` as an int64 array/tensor; reject non-integer dtypes."""
    if is_torch(x):
        import torch
        if x.dtype.is_floating_point or x.dtype.is_complex or x.dtype == torch.bool:
            raise TypeError(f"`{name}` must hold integers, not {x.dtype}")
        return x.to(torch.int64)
    x = np.asarray(x)
    if x.dtype.kind not in "iu":
        raise TypeError(f"`{name}` must hold integers, not {x.dtype}")
    if x.dtype == np.uint64 and x.size and int(x.max()) >= 2**63:
        raise ValueError(f"`{name}` has values that do not fit in int64")
    return x.astype(np.int64)


def as_float64(x, *, name="x"):
    """Return ``x`` as a float64 array/tensor; reject non-numeric dtypes."""
    if is_torch(x):
        import torch
        if x.dtype.is_complex or x.dtype == torch.bool:
            raise TypeError(f"`{name}` must be real numbers, not {x.dtype}")
        return x.to(torch.float64)
    x = np.asarray(x)
    if x.dtype.kind not in "iuf":
        raise TypeError(f"`{name}` must be real numbers, not {x.dtype}")
    return x.astype(np.float64)


def like(values, x):
    """An int64 array/tensor holding ``values``, on the backend of ``x``."""
    if is_torch(x):
        import torch
        return torch.as_tensor(np.array(values, dtype=np.int64), device=x.device)  # a copy: values may be read-only
    return np.asarray(values, dtype=np.int64)


def where(cond, a, b):
    if is_torch(cond):
        import torch
        return torch.where(cond, a, b)
    return np.where(cond, a, b)


def broadcast(a, b):
    """``a`` and ``b`` broadcast to their common shape (views where possible)."""
    if is_torch(a):
        import torch
        return torch.broadcast_tensors(a, b)
    return np.broadcast_arrays(a, b)


def floor(x):
    if is_torch(x):
        import torch
        return torch.floor(x)
    return np.floor(x)


def to_int64(x):
    """Cast a float array/tensor holding integral values to int64."""
    if is_torch(x):
        import torch
        return x.to(torch.int64)
    return x.astype(np.int64)


def to_float64(x):
    if is_torch(x):
        import torch
        return x.to(torch.float64)
    return x.astype(np.float64)


def isnan(x):
    if is_torch(x):
        import torch
        return torch.isnan(x)
    return np.isnan(x)


def isinf(x):
    if is_torch(x):
        import torch
        return torch.isinf(x)
    return np.isinf(x)


def any_(x):
    return bool(x.any())


def first_index(mask):
    """Index tuple of the first True element of ``mask`` (row-major)."""
    flat = np.asarray(mask.cpu() if is_torch(mask) else mask).reshape(-1)
    k = int(np.argmax(flat))
    shape = tuple(mask.shape)
    return tuple(int(i) for i in np.unravel_index(k, shape)) if shape else ()


def shape_of(x):
    return tuple(x.shape)
