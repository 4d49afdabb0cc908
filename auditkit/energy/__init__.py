"""Energy measurement around generation batches and the figures derived from it.

- :mod:`auditkit.energy.meter`: ``open_meter`` (NVML → RAPL → estimate) used by the engine.
- :mod:`auditkit.energy.nvml`, :mod:`auditkit.energy.rapl`: the counter readers.
- :mod:`auditkit.energy.estimate`: CPU-time × per-thread power model when no counter is readable.
- :mod:`auditkit.energy.modelled`: EcoLogits-method figures for remote APIs.
- :mod:`auditkit.energy.carbon`: grid intensity table and gCO2e.
- :mod:`auditkit.energy.methods`: method labels, scopes and ranges; :mod:`auditkit.energy.methodology`
  the report's paragraph.

Submodules are imported on use so ``auditkit --help`` stays fast; nothing is re-exported here.
"""

from __future__ import annotations

__all__: list[str] = []
