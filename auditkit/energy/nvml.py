"""NVIDIA GPU energy from NVML's total-energy counter (``nvidia-ml-py``, module ``pynvml``).

``nvmlDeviceGetTotalEnergyConsumption`` returns millijoules since the driver was loaded (Volta and
newer); GPUs without it raise ``NVMLError_NotSupported`` and are reported as missing, never as 0
(CodeCarbon issue #1316 shows what happens otherwise). Queued CUDA kernels are flushed with
``torch.cuda.synchronize()`` before every read, as Zeus does, so a window contains its own work.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

__all__ = ["NvmlGpus", "device_indices", "open_nvml"]


@dataclass(frozen=True, slots=True)
class NvmlGpus:
    """Handles of the GPUs whose energy counters work, and what was skipped."""

    module: Any
    handles: tuple[Any, ...]
    names: tuple[str, ...]
    indices: tuple[int, ...]
    skipped: tuple[str, ...]

    def read_mj(self) -> tuple[int | None, ...]:
        """Counter of each GPU in mJ, after flushing queued CUDA work; ``None`` where a read failed."""
        _synchronize()
        out: list[int | None] = []
        for handle in self.handles:
            try:
                out.append(int(self.module.nvmlDeviceGetTotalEnergyConsumption(handle)))
            except Exception:  # noqa: BLE001 — a GPU that vanished or errs is "not measured"
                out.append(None)
        return tuple(out)


def device_indices(*, device: str, count: int) -> list[int | str]:
    """NVML indices (or UUIDs) for a torch device string, honouring ``CUDA_VISIBLE_DEVICES``.

    ``cuda`` means every visible GPU (a model spread with ``device_map`` uses several); ``cuda:N`` the
    N-th visible one. NVML numbers GPUs physically, torch after ``CUDA_VISIBLE_DEVICES`` remapping.
    """
    visible_env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible_env is None:
        visible: list[int | str] = list(range(count))
    else:
        visible = [int(v) if v.strip().isdigit() else v.strip() for v in visible_env.split(",") if v.strip()]
    if ":" in device:
        n = int(device.split(":", 1)[1])
        return [visible[n]] if n < len(visible) else []
    return visible


def open_nvml(*, device: str) -> NvmlGpus | str:
    """Initialise NVML and keep the GPUs with a working energy counter; a reason string when none."""
    try:
        import pynvml
    except ImportError:
        return "nvidia-ml-py (pynvml) is not installed"
    try:
        pynvml.nvmlInit()
        count = int(pynvml.nvmlDeviceGetCount())
    except Exception as exc:  # noqa: BLE001 — no driver / no GPU: fall back, say why
        return f"NVML could not be initialised ({type(exc).__name__}: {exc})"
    handles, names, indices, skipped = [], [], [], []
    for ref in device_indices(device=device, count=count):
        try:
            handle = (
                pynvml.nvmlDeviceGetHandleByIndex(ref)
                if isinstance(ref, int)
                else pynvml.nvmlDeviceGetHandleByUUID(ref)
            )
            name = pynvml.nvmlDeviceGetName(handle)
            name = name.decode() if isinstance(name, bytes) else str(name)
        except Exception as exc:  # noqa: BLE001
            skipped.append(f"GPU {ref}: no handle ({type(exc).__name__})")
            continue
        try:
            pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
        except Exception as exc:  # noqa: BLE001 — pre-Volta and many vGPUs lack the counter
            skipped.append(f"GPU {ref} ({name}): no total-energy counter ({type(exc).__name__})")
            continue
        handles.append(handle)
        names.append(name)
        indices.append(ref if isinstance(ref, int) else -1)
    if not handles:
        try:
            pynvml.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass
        return "; ".join(skipped) or f"no NVIDIA GPU matches device {device!r}"
    return NvmlGpus(
        module=pynvml,
        handles=tuple(handles),
        names=tuple(names),
        indices=tuple(indices),
        skipped=tuple(skipped),
    )


def _synchronize() -> None:
    # Only when torch is already loaded: importing it here would cost seconds for nothing.
    torch = sys.modules.get("torch")
    if torch is None:
        return
    try:
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()
    except Exception:  # noqa: BLE001 — a sync failure must not lose the reading
        pass
