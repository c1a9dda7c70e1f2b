"""The device side of calls to ``cuda`` code: is CUDA here, and arguments as the generated host
function takes them (device arrays, host scalars).

numba.cuda is imported only when a ``cuda`` function is made, so the other targets never pay for
it; with ``NUMBA_ENABLE_CUDASIM=1`` it is numba's CUDA simulator (kernels run as Python threads).
"""
from __future__ import annotations

import numpy as np

from ..engine.function import Spec, check_arg
from .entry import PYTHON_SCALAR_TYPES


def require() -> None:
    """Raise one clear line unless a CUDA GPU (with its driver) or the simulator is available."""
    try:
        from numba import cuda
        if cuda.is_available():
            return
        why = ""
    except Exception as err:  # noqa: BLE001 - a misconfigured driver raises, even on import
        why = f" ({str(err).strip().splitlines()[0]})"
    raise RuntimeError("jit: target 'cuda' needs an NVIDIA GPU with a working CUDA driver, or numba's "
                       "CUDA simulator (NUMBA_ENABLE_CUDASIM=1 set before numba is imported); "
                       f"neither is available here{why}")


def array_type() -> type:
    """The class of numba's device arrays (the simulator's fake ones under the simulator)."""
    from numba import cuda
    module = cuda.cudadrv.devicearray
    return getattr(module, "DeviceNDArray", None) or module.FakeCUDAArray


def is_device_array(a) -> bool:
    """A numba device array, or an object exporting ``__cuda_array_interface__`` (CuPy, PyTorch)."""
    return isinstance(a, array_type()) or hasattr(a, "__cuda_array_interface__")


def to_device(a: np.ndarray):
    from numba import cuda
    return cuda.to_device(np.ascontiguousarray(a))


def argument(f, inp, a):
    """Argument ``a`` for input ``inp`` of ``f`` as the host function takes it, or a one-line
    error naming the input. Device arrays are used as they are (no copy): their dtype, shape and
    layout must already be right. Host arrays are checked and converted as on the other targets,
    then copied to the device. Rank-0 inputs are host scalars (a device array is read back)."""
    if is_device_array(a) and inp.ndim > 0:
        return _device_argument(f, inp, a)
    if is_device_array(a):
        a = _device_argument(f, inp, a).copy_to_host().reshape(())
    a = check_arg(f, inp, a)
    if inp.ndim == 0:
        return a.item() if inp.dtype in PYTHON_SCALAR_TYPES else a[()]
    return to_device(a)


def _device_argument(f, inp, a):
    from numba import cuda
    if not isinstance(a, array_type()):
        a = cuda.as_cuda_array(a)  # a view of another library's device memory, no copy
    where = f"{f.name}: argument {inp.name!r}"
    if a.dtype != np.dtype(inp.dtype):
        raise TypeError(f"{where} is a device array of dtype {a.dtype}, expected {inp.dtype} "
                        f"(device arrays are not converted)")
    shape = tuple(a.shape)
    if inp.ndim == 0 and shape in ((), (1,)):
        return a
    if len(shape) != inp.ndim or any(d is not None and d != s for d, s in zip(inp.shape, shape)):
        raise ValueError(f"{where} has shape {shape}, expected {tuple('?' if d is None else d for d in inp.shape)}")
    if not a.is_c_contiguous():
        raise ValueError(f"{where} is a device array that is not C-contiguous (copy it into a contiguous one)")
    return a


def spec(a):
    """The ``Spec`` of a device array (read from the device array itself: no copy)."""
    from numba import cuda
    if not isinstance(a, array_type()):
        a = cuda.as_cuda_array(a)
    return Spec(tuple(a.shape), a.dtype.name)
