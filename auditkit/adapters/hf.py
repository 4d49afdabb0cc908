"""``hf:<hub id or local dir>``: transformers causal language models, run locally.

Options (``--model-arg KEY=VALUE``): ``revision``, ``dtype`` (auto|float32|bfloat16|float16), ``device``
(auto|cpu|cuda|cuda:N|mps), ``gguf_file``, ``chat`` (auto|true|false), ``trust_remote_code``
(false|true), ``batch_size`` (N|auto), ``max_length`` (prompt + new tokens limit).

``batch_size=auto`` (the default): on CPU and MPS the engine sends 16 prompts per call and each call is one
batch. Measured on SmolLM2-135M, one CPU thread, 32 sampled prompts of 32 tokens: 23 s of CPU at batch 4,
14 s at 8, 10 s at 16, 8 s at 32 — 16 takes most of the gain while a batch (the unit of progress, of the
cache's commits and of an interruption's loss) stays short. On CUDA the engine may send up to 256 prompts
per call and the adapter splits a call into the largest batches its memory estimate says fit (free device
memory over the KV cache, activations and sampling buffers of one row); an out-of-memory error halves the
batch, and the adapter remembers the rows x tokens that did not fit so later batches start below it.

``identity`` is computed from the files on disk (local folder or the local Hugging Face cache snapshot)
without loading weights; the model loads on the first ``generate``. Decoding: prompts of a call are
sorted by token length and left-padded; greedy when ``temperature == 0``, else sampling where every
prompt has its own counter-based random stream seeded from ``(config.seed, prompt.id)``
(:mod:`auditkit.adapters.hf_sampling`) — so a prompt samples the same text whatever batch it lands in.
Token-level decoding lives in :mod:`auditkit.adapters.hf_decoding`.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import field_validator

from auditkit.adapters import hf_decoding, hf_loglik
from auditkit.adapters.base import (
    Adapter,
    AdapterAbilities,
    AdapterIdentity,
    AdapterOptions,
    adapter_factory,
    adapters,
    parse_options,
)
from auditkit.adapters.hf_batching import LOGLIK_BATCH, auto_batch_size, free_memory, is_out_of_memory, memory_rows
from auditkit.adapters.hf_sampling import SAMPLER_VERSION
from auditkit.adapters.weights import files_hash, model_files
from auditkit.errors import AdapterError, ConfigError
from auditkit.records import Generation, GenerationConfig, LoglikRequest, LoglikResult, Prompt

__all__ = [
    "HFAdapter",
    "HFOptions",
    "HF_OPTIONS",
    "LocalModelOptions",
    "cpu_only_torch",
    "make_hf_adapter",
    "parse_hf_options",
    "resolve_device",
    "resolve_dtype",
]

_DTYPES = ("auto", "float32", "bfloat16", "float16")
_CHAT = ("auto", "true", "false")
_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")


def _choice(value: Any, *, valid: Sequence[str]) -> str:
    text = str(value).strip().lower()
    if text not in valid:
        raise ValueError(f"is not one of: {', '.join(valid)}")
    return text


def _positive(value: Any, *, auto_ok: bool) -> int | None:
    if value is None or (auto_ok and str(value).strip().lower() == "auto"):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        number = 0
    if number <= 0:
        raise ValueError("must be a positive integer" + (" or 'auto'" if auto_ok else ""))
    return number


class LocalModelOptions(AdapterOptions):
    """``--model-arg`` options of every local transformers model (``hf`` and ``smollm2``)."""

    dtype: str = "auto"
    """auto | float32 | bfloat16 | float16."""
    device: str = "auto"
    """auto | cpu | cuda | cuda:N | mps."""
    chat: str = "auto"
    """``true``: plain prompts become one user turn of the chat template; ``auto``/``false``: plain
    prompts are sent as raw text. Chat (``messages``) prompts always need the template; ``false`` refuses them."""
    batch_size: int | None = None
    """``None`` (or ``auto``) means pick by device: 16 on CPU and MPS; on CUDA as many as fit in memory
    (at most 256), see the module docstring."""
    max_length: int | None = None
    """Prompt + new tokens limit; ``None`` means the model's ``max_position_embeddings``."""

    @field_validator("dtype", mode="before")
    @classmethod
    def _dtype(cls, value: Any) -> str:
        return _choice(value, valid=_DTYPES)

    @field_validator("chat", mode="before")
    @classmethod
    def _chat(cls, value: Any) -> str:
        return _choice(value, valid=_CHAT)

    @field_validator("device", mode="before")
    @classmethod
    def _device(cls, value: Any) -> str:
        device = str(value).strip().lower()
        if not _DEVICE_RE.match(device):
            raise ValueError("is not one of: auto, cpu, cuda, cuda:N, mps")
        return device

    @field_validator("batch_size", mode="before")
    @classmethod
    def _batch_size(cls, value: Any) -> int | None:
        return _positive(value, auto_ok=True)

    @field_validator("max_length", mode="before")
    @classmethod
    def _max_length(cls, value: Any) -> int | None:
        return _positive(value, auto_ok=False)


class HFOptions(LocalModelOptions):
    """Parsed ``--model-arg`` options of the ``hf`` scheme."""

    revision: str | None = None
    """Hub revision (branch, tag or commit); hub ids only."""
    gguf_file: str | None = None
    """A GGUF file inside the model folder / repository to load instead of safetensors."""
    trust_remote_code: bool = False
    """Run the repository's own modelling code (true | false)."""

    @field_validator("revision", "gguf_file", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return value or None


HF_OPTIONS: tuple[str, ...] = tuple(sorted(HFOptions.model_fields))
"""The ``--model-arg`` keys the ``hf`` scheme accepts."""


def parse_hf_options(*, options: Mapping[str, str]) -> HFOptions:
    """Validate ``--model-arg`` values; ``ConfigError`` names the bad option and lists the valid ones."""
    return parse_options(model=HFOptions, adapter="hf", options=options)


def resolve_device(*, requested: str) -> str:
    """``auto`` → ``cuda`` when available, else ``mps``, else ``cpu``; an unavailable explicit device → ConfigError."""
    # Importing torch costs ~1-2 s, most of a fully cached rerun: a CPU-only build on a machine
    # without MPS can only ever mean "cpu", and its version file says so without the import.
    if requested == "cpu" or (requested == "auto" and cpu_only_torch()):
        return "cpu"
    import torch

    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps is not None and mps.is_available())
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--model-arg device={requested} but torch sees no CUDA device. Use device=cpu or auto.")
    if requested == "mps" and not has_mps:
        raise ConfigError("--model-arg device=mps but torch sees no MPS device. Use device=cpu or auto.")
    return requested


_ACCELERATOR_BUILD = re.compile(r"^(cuda|hip|rocm|xpu)\s*(?::[^=]*)?=\s*(?!None\b)\S", re.MULTILINE)


def cpu_only_torch() -> bool:
    """True when the installed torch is a CPU-only build (read from ``torch/version.py``, not imported)
    and the platform has no MPS; False when unsure (then the caller imports torch and asks it)."""
    import importlib.util
    import sys

    if sys.platform == "darwin":
        return False
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return False
    version_file = Path(next(iter(spec.submodule_search_locations))) / "version.py"
    try:
        text = version_file.read_text(encoding="utf-8")
    except OSError:
        return False
    return "cuda" in text and _ACCELERATOR_BUILD.search(text) is None


def resolve_dtype(*, requested: str, device: str) -> str:
    """``auto`` → float32 on CPU (half precision is slow there), bfloat16 on CUDA when supported, else float16."""
    if requested != "auto":
        return requested
    if device.startswith("cuda"):
        import torch

        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "float16" if device == "mps" else "float32"


@dataclass(frozen=True, slots=True)
class _Source:
    """Where the files are: what ``from_pretrained`` gets, and the folder to hash (if local)."""

    name: str
    local_dir: Path | None
    revision: str | None
    is_hub: bool


def _locate(*, target: str, revision: str | None) -> _Source:
    path = Path(target).expanduser()
    if path.is_dir():
        return _Source(name=str(path), local_dir=path, revision=None, is_hub=False)
    looks_local = target.startswith(("/", ".", "~")) or "\\" in target or target.count("/") > 1 or path.exists()
    if looks_local:
        what = "is a file, not a model directory" if path.exists() else "does not exist"
        raise AdapterError(
            f"hf:{target} {what}. Point hf: at a folder saved with save_pretrained (config.json, weights, "
            "tokenizer files), or at a hub id such as HuggingFaceTB/SmolLM2-135M-Instruct."
        )
    snapshot, commit = _hub_snapshot(repo_id=target, revision=revision)
    return _Source(name=target, local_dir=snapshot, revision=commit or revision, is_hub=True)


def _check_model_dir(*, target: str, folder: Path) -> None:
    """A folder without config.json is not a saved model: say so now, before any plan is printed."""
    if (folder / "config.json").is_file():
        return
    names = sorted(p.name for p in folder.iterdir())
    holds = f"it holds {', '.join(names[:6])}{' ...' if len(names) > 6 else ''}" if names else "it is empty"
    raise AdapterError(
        f"hf:{target} is not a saved model: the folder has no config.json ({holds}). Save the model with "
        "model.save_pretrained(DIR) and tokenizer.save_pretrained(DIR), or name a .gguf file in it with "
        "--model-arg gguf_file=NAME.gguf."
    )


def _hub_snapshot(*, repo_id: str, revision: str | None) -> tuple[Path | None, str | None]:
    """The local HF cache snapshot of ``repo_id`` at ``revision`` (default ``main``), without network."""
    from huggingface_hub import constants

    repo_dir = Path(constants.HF_HUB_CACHE) / ("models--" + repo_id.replace("/", "--"))
    rev = revision or "main"
    commit: str | None = rev if _COMMIT_RE.match(rev) else None
    if commit is None:
        ref = repo_dir / "refs" / rev
        try:
            commit = ref.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None, None
        if commit is None:  # an empty ref file: no snapshot to name
            return None, None
    snapshot = repo_dir / "snapshots" / commit
    return (snapshot if snapshot.is_dir() else None), commit


@adapters.register("hf")
@adapter_factory(abilities=AdapterAbilities(loglikelihood=True), options=HFOptions)
def make_hf_adapter(*, target: str, options: Mapping[str, str]) -> Adapter:
    """Hugging Face causal LMs from the hub or a local dir (revision, dtype, device, gguf_file, chat).

    Building it reads files to hash them but loads no weights."""
    if not target:
        raise ConfigError("The hf model spec needs a hub id or a folder, e.g. hf:gpt2 or hf:./my-model.")
    opts = parse_hf_options(options=options)
    source = _locate(target=target, revision=opts.revision)
    if opts.revision and not source.is_hub:
        raise ConfigError(
            f"--model-arg revision={opts.revision} applies to hub ids, but hf:{target} is a local folder "
            "(its files are used as they are). Drop the revision option."
        )
    if not source.is_hub and not opts.gguf_file:
        _check_model_dir(target=target, folder=Path(source.name))
    if opts.gguf_file and source.local_dir is not None and not (source.local_dir / opts.gguf_file).is_file():
        raise AdapterError(f"--model-arg gguf_file={opts.gguf_file}: no such file in {source.local_dir}.")
    device = resolve_device(requested=opts.device)
    dtype = resolve_dtype(requested=opts.dtype, device=device)
    files = model_files(directory=source.local_dir, gguf_file=opts.gguf_file) if source.local_dir else []
    identity = AdapterIdentity(
        adapter="hf",
        model=target,
        revision=source.revision,
        weights_hash=files_hash(files=files) if files else None,
        settings=_settings(opts=opts, device=device, dtype=dtype),
    )
    return HFAdapter(
        source=source.name, revision=source.revision if source.is_hub else None, options=opts,
        identity=identity, device=device, dtype=dtype, hub=source.is_hub,
    )


def _settings(*, opts: HFOptions, device: str, dtype: str) -> dict[str, Any]:
    return {"chat": opts.chat, "device": device.split(":")[0], "dtype": dtype, "gguf_file": opts.gguf_file,
            "sampler": SAMPLER_VERSION}


class HFAdapter:
    """A transformers causal LM behind the ``Adapter`` protocol; weights load on the first ``generate``."""

    def __init__(
        self, *, source: str, revision: str | None, options: HFOptions, identity: AdapterIdentity,
        device: str, dtype: str, hub: bool = False,
    ) -> None:
        self.identity = identity
        self.default_batch_size = auto_batch_size(device=device, requested=options.batch_size)
        self.device = device
        self.dtype = dtype
        self._source = source
        self._revision = revision
        self._options = options
        self._hub = hub
        self._model: Any = None
        self._tokenizer: Any = None
        # rows x (prompt width + new tokens) of the smallest batch that ran out of memory, halved: later
        # batches stay within it instead of failing again.
        self._cell_budget: int | None = None
        self.load_seconds: float | None = None
        """Wall seconds the weights took to load (``None`` until loaded)."""

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        """Load tokenizer and weights now (``generate`` does it on first use)."""
        if self._model is not None:
            return
        start = time.perf_counter()
        self._tokenizer, self._model = _load_pretrained(
            source=self._source, revision=self._revision, options=self._options,
            device=self.device, dtype=self.dtype, hub=self._hub,
        )
        self.load_seconds = time.perf_counter() - start

    def generate(self, *, prompts: Sequence[Prompt], config: GenerationConfig) -> list[Generation]:
        if not prompts:
            return []
        self.load()
        tokenizer, model = self._tokenizer, self._model
        _check_chat_usage(prompts=prompts, tokenizer=tokenizer, chat=self._options.chat, model=self.identity.model)
        limit = self._options.max_length or getattr(model.config, "max_position_embeddings", None)
        results: dict[int, Generation] = {}
        encoded: list[tuple[int, list[int]]] = []
        for index, prompt in enumerate(prompts):
            try:
                ids = hf_decoding.encode_prompt(prompt=prompt, tokenizer=tokenizer, chat=self._options.chat == "true")
            except Exception as exc:  # a template or tokenizer failure is this prompt's, not the run's
                results[index] = Generation(prompt_id=prompt.id, output=None, error=f"could not encode prompt: {exc}")
                continue
            problem = _length_problem(n=len(ids), max_new=config.max_new_tokens, limit=limit)
            if problem:
                results[index] = Generation(prompt_id=prompt.id, output=None, error=problem, input_tokens=len(ids))
                continue
            encoded.append((index, ids))
        # Sorting by length keeps padding low when the batch is split (by batch_size or after an OOM).
        encoded.sort(key=lambda item: len(item[1]))
        if encoded:
            chunk = self._batch_rows(tokens=len(encoded[-1][1]) + config.max_new_tokens, count=len(encoded),
                                     config=config)
            for start in range(0, len(encoded), chunk):
                part = encoded[start : start + chunk]
                items = [hf_decoding.Item(prompt=prompts[i], ids=ids, seed=_prompt_seed(config.seed, prompts[i].id))
                         for i, ids in part]
                for (i, _), generation in zip(part, self._run(items=items, config=config, limit=limit)):
                    results[i] = generation
        return [results[i] for i in range(len(prompts))]

    def _batch_rows(self, *, tokens: int, count: int, config: GenerationConfig) -> int:
        """Rows per ``model.generate`` for prompts of up to ``tokens`` tokens (new ones included)."""
        rows = self._options.batch_size or count
        if self._options.batch_size is None and self.device.startswith("cuda"):
            rows = min(rows, memory_rows(model=self._model, device=self.device, tokens=tokens, config=config))
        if self._cell_budget is not None:
            rows = min(rows, self._cell_budget // tokens)
        return max(1, rows)

    def loglikelihood(self, *, requests: Sequence[LoglikRequest]) -> list[LoglikResult]:
        """Log-likelihood of each continuation after its context: one padded forward pass per batch."""
        if not requests:
            return []
        self.load()
        limit = self._options.max_length or getattr(self._model.config, "max_position_embeddings", None)
        return hf_loglik.score_requests(
            requests=requests, model=self._model, tokenizer=self._tokenizer, device=self.device,
            batch_size=self._options.batch_size or LOGLIK_BATCH[self.device.split(":")[0]], limit=limit,
        )

    def _run(self, *, items: list[Any], config: GenerationConfig, limit: int | None) -> list[Generation]:
        """Generate ``items`` as one batch; halve it on out-of-memory, isolate a failing prompt otherwise."""
        try:
            return hf_decoding.generate_batch(
                items=items, config=config, model=self._model, tokenizer=self._tokenizer, device=self.device,
                limit=limit,
            )
        except Exception as exc:
            if len(items) == 1:
                return [Generation(prompt_id=items[0].prompt.id, output=None,
                                   error=f"{type(exc).__name__}: {exc}", input_tokens=len(items[0].ids))]
            if is_out_of_memory(exc):
                free_memory()
                cells = len(items) * (max(len(item.ids) for item in items) + config.max_new_tokens)
                self._cell_budget = min(self._cell_budget or cells, cells // 2)
                half = len(items) // 2
                return (self._run(items=items[:half], config=config, limit=limit)
                        + self._run(items=items[half:], config=config, limit=limit))
            return [g for item in items for g in self._run(items=[item], config=config, limit=limit)]

    def close(self) -> None:
        self._model = None
        self._tokenizer = None
        free_memory()


def _check_chat_usage(*, prompts: Sequence[Prompt], tokenizer: Any, chat: str, model: str) -> None:
    """Chat prompts on a model without a chat template is a setup mistake for the whole run: fail early."""
    needs = [p for p in prompts if p.messages is not None or chat == "true"]
    if not needs:
        return
    first = needs[0]
    if first.messages is not None and chat == "false":
        raise ConfigError(
            f"Prompt {first.id} ({first.suite}/{first.template}) is a chat prompt (messages) but the model runs "
            "with --model-arg chat=false. Drop chat=false, or use plain-text probes."
        )
    if not getattr(tokenizer, "chat_template", None):
        what = "is a chat prompt (messages)" if first.messages is not None else "must be wrapped (chat=true)"
        raise ConfigError(
            f"Prompt {first.id} ({first.suite}/{first.template}) {what}, but the tokenizer of {model!r} has no "
            "chat template. Use a chat/instruct model, add a chat_template to its tokenizer_config.json, "
            "or run plain-text probes without chat=true."
        )


def _length_problem(*, n: int, max_new: int, limit: int | None) -> str | None:
    if n == 0:
        return "the prompt encodes to no tokens"
    if limit is not None and n + max_new > limit:
        return (f"prompt has {n} tokens; with max_new_tokens={max_new} it exceeds the model's max_length {limit} "
                "(raise --model-arg max_length only if the model supports it)")
    return None


def _prompt_seed(seed: int, prompt_id: str) -> int:
    digest = hashlib.sha256(f"{seed}\0{prompt_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << 63) - 1)


def _load_pretrained(
    *, source: str, revision: str | None, options: HFOptions, device: str, dtype: str, hub: bool
) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    kwargs: dict[str, Any] = {"trust_remote_code": options.trust_remote_code}
    if revision:
        kwargs["revision"] = revision
    if options.gguf_file:
        kwargs["gguf_file"] = options.gguf_file
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # the engine draws its own progress; tqdm bars would garble it
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=getattr(torch, dtype), **kwargs)
        model.to(device)  # type: ignore[arg-type]  # transformers' decorator on .to() loses its signature
        model.eval()
    except Exception as exc:
        raise AdapterError(_load_failure(source=source, hub=hub, exc=exc)) from exc
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    return tokenizer, model


def _load_failure(*, source: str, hub: bool, exc: BaseException) -> str:
    detail = (str(exc).strip().splitlines() or [""])[0][:300]
    head = f"Could not load the model {source!r} ({type(exc).__name__}: {detail})."
    if hub:
        from huggingface_hub import constants

        offline = bool(constants.HF_HUB_OFFLINE)
        where = ("HF_HUB_OFFLINE is set and the model is not in the local Hugging Face cache."
                 if offline else "The Hugging Face hub may be unreachable from this machine.")
        return (f"{head} {where} Download the model where the hub is reachable (or copy its folder here), "
                "set HF_HUB_OFFLINE=1 and point hf: at the local directory (hf:/path/to/model). If the hub is "
                "reachable, check the model id and revision; gated models need `hf auth login`.")
    return (f"{head} Check that the folder holds a transformers causal LM saved with save_pretrained "
            "(config.json, *.safetensors or *.bin weights, tokenizer files), or pass --model-arg gguf_file=NAME "
            "for a GGUF file; models with custom code need --model-arg trust_remote_code=true.")

