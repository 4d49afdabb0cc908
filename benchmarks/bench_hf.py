"""``hf`` adapter decoding vs raw ``model.generate`` on the same loaded model, batches and settings.

``python -m benchmarks --only hf [--device cpu|cuda|auto] [--model-size bundled|tiny|135m|360m|1b]``.
The model is the bundled SmolLM2-135M (``bundled``, the default on CPU) or a random-weight
Llama-architecture model of that size with the bundled tokenizer (``1b`` is the default on CUDA), saved
to a folder and loaded through ``hf:<folder>`` like a user's checkpoint (see ``benchmarks/hf_models.py``):
nothing is downloaded. bf16 on CUDA, fp32 on CPU.

Three decodings, each an adapter / raw ratio (target ≤ 1.10), where the raw side is what a user would
write on the very model object and tokenizer the adapter loaded: ``tokenizer(texts, padding=True)``
(left padding), ``model.generate``, ``batch_decode``:

- greedy (raw: ``do_sample=False``);
- sampled at temperature 1 (raw: ``do_sample=True, temperature=1, top_p=1, top_k=0``, one RNG stream;
  the adapter keeps each prompt's sample independent of its batch neighbours);
- greedy with per-token log-probs (raw: ``output_logits=True``, ``log_softmax``, ``gather``, ``tolist``).

Both sides decode the same batches of bias-suite prompts (the suite's first plain-text prompts, in plan
order). The ratios compare like with like only if both sides generate the same number of tokens, and
random weights (or sampling) end rows at EOS at different steps: while timing, a forward hook on the
output layer masks the EOS logits of the shared model, so every row of both sides runs exactly
``max_new_tokens`` steps (token counts are checked and reported). Runs are interleaved (adapter, raw,
adapter, raw, ...) and medians compared, so load from other processes hits both sides alike.

A last row runs the ``standard`` audit's generation stage through the real engine (``plan_run``,
``open_workers``, ``generate``; cache off; the model loaded beforehand) with the same model and reports
its output tokens / generation wall seconds (the adapter's default batch size, as ``auditkit run`` uses
it), against the raw greedy tokens/s above (informational: the
audit's workload differs — 20-64 tokens, sampled and log-prob probes, partial batches, EOS honoured).
``--quick`` runs the small ``energy`` suite instead.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import Measure

__all__ = ["MODEL_SIZE_CHOICES", "Workload", "bias_prompts", "run", "workload"]

MODEL_SIZE_CHOICES = ("bundled", "tiny", "135m", "360m", "1b")
"""``--model-size`` values: the bundled SmolLM2-135M, or a random-weight model of that size."""


@dataclass(frozen=True, slots=True)
class Workload:
    """How much each side decodes: prompts, batch size, new tokens per prompt, interleaved repeats."""

    prompts: int
    batch: int
    new_tokens: int
    repeats: int

    def describe(self) -> str:
        return f"{self.prompts} bias-suite prompts, batch {self.batch}, {self.new_tokens} new tokens"


def workload(*, device: str, quick: bool, model_size: str) -> Workload:
    """Issue 19's H200 setting on CUDA; a CPU workload that fits CI time (a tiny model only smoke-tests)."""
    if device == "cuda":
        return Workload(prompts=64, batch=32, new_tokens=32, repeats=3) if quick else \
            Workload(prompts=128, batch=32, new_tokens=64, repeats=5)
    if model_size == "tiny":
        return Workload(prompts=8, batch=4, new_tokens=8, repeats=2)
    return Workload(prompts=16, batch=8, new_tokens=16, repeats=3) if quick else \
        Workload(prompts=16, batch=8, new_tokens=32, repeats=5)


def bias_prompts(*, n: int) -> list[Any]:
    """The first ``n`` plain-text prompts of the built-in ``bias`` suite, in plan order."""
    from auditkit.sources import load_sources

    loaded = load_sources(refs=["bias"], samples=None, analyzer_options={}, loglikelihood=None)
    plain = [p for source in loaded for p in source.prompts if p.prompt is not None]
    if len(plain) < n:
        raise ValueError(f"the bias suite has only {len(plain)} plain-text prompts; {n} asked")
    return plain[:n]


# -- the model --------------------------------------------------------------------------------------------
def _build_adapter(*, model_size: str, device: str, batch: int, workdir: Path) -> tuple[Any, str, dict[str, str], str]:
    """The adapter under test, its model spec and options (for the engine run), and a description."""
    from auditkit.adapters.base import build_adapter, parse_model_spec

    dtype = "bfloat16" if device == "cuda" else "float32"
    options = {"batch_size": str(batch), "device": device, "dtype": dtype}
    if model_size == "bundled":
        spec, what = "smollm2", "SmolLM2-135M (bundled weights)"
    else:
        from benchmarks.hf_models import save_random_model

        saved = save_random_model(size=model_size, folder=workdir / f"random-{model_size}", dtype=dtype)
        spec = f"hf:{saved.folder}"
        what = f"random-weight Llama {model_size} ({saved.parameters / 1e6:,.0f}M parameters)"
    parsed = parse_model_spec(spec=spec)
    adapter = build_adapter(spec=dataclasses.replace(parsed, options={**parsed.options, **options}))
    return adapter, spec, options, f"{what}, {dtype}, {device}"


def _model_and_tokenizer(adapter: Any) -> tuple[Any, Any]:
    """The loaded model and tokenizer inside the adapter (the bundled adapter wraps an ``hf`` one)."""
    adapter.load()
    inner = getattr(adapter, "_hf", None) or adapter
    return inner._model, inner._tokenizer  # noqa: SLF001 - the benchmark reaches in on purpose


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    value = getattr(model.generation_config, "eos_token_id", None)
    if value is None:
        value = tokenizer.eos_token_id
    return [int(v) for v in value] if isinstance(value, (list, tuple)) else [int(value)]


def _mask_eos(model: Any, eos: Sequence[int]) -> Any:
    """Make EOS impossible on the shared model (both sides alike): every row runs max_new_tokens steps."""
    import torch

    index = torch.tensor(list(eos), dtype=torch.long, device=model.device)

    def hook(_module: Any, _inputs: Any, output: Any) -> Any:
        return output.index_fill(-1, index, float("-inf"))

    return model.get_output_embeddings().register_forward_hook(hook)


def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


# -- the two sides ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Decoded:
    texts: list[str]
    tokens: int
    logprobs: list[list[float]] | None = None


def _adapter_side(adapter: Any, batches: list[list[Any]], config: Any) -> Callable[[], _Decoded]:
    def decode() -> _Decoded:
        gens = [g for part in batches for g in adapter.generate(prompts=part, config=config)]
        bad = [g.error for g in gens if not g.ok]
        if bad:
            raise RuntimeError(f"the adapter failed {len(bad)} generation(s): {bad[0]}")
        logprobs = [list(g.token_logprobs or ()) for g in gens] if config.logprobs else None
        return _Decoded(texts=[g.output or "" for g in gens], tokens=sum(g.output_tokens or 0 for g in gens),
                        logprobs=logprobs)

    return decode


def _raw_side(model: Any, tokenizer: Any, batches: list[list[Any]], kind: str, new_tokens: int,
              eos: list[int]) -> Callable[[], _Decoded]:
    import torch

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]
    settings: dict[str, Any] = {"max_new_tokens": new_tokens, "num_beams": 1, "repetition_penalty": 1.0,
                                "pad_token_id": pad, "eos_token_id": eos}
    if kind == "sampled":
        settings.update(do_sample=True, temperature=1.0, top_p=1.0, top_k=0)
    else:
        settings.update(do_sample=False)
    if kind == "logprobs":
        settings.update(return_dict_in_generate=True, output_logits=True)

    def decode() -> _Decoded:
        texts: list[str] = []
        tokens = 0
        logprobs: list[list[float]] = []
        side = tokenizer.padding_side
        tokenizer.padding_side = "left"  # restored: the adapter shares this tokenizer
        try:
            for part in batches:
                enc = tokenizer([p.prompt for p in part], return_tensors="pt", padding=True).to(model.device)
                with torch.inference_mode():
                    out = model.generate(**enc, **settings)
                    sequences = out.sequences if kind == "logprobs" else out
                    new = sequences[:, enc["input_ids"].shape[1]:]
                    if kind == "logprobs":
                        steps = torch.log_softmax(torch.stack(out.logits, dim=1).float(), dim=-1)
                        logprobs += steps.gather(-1, new.unsqueeze(-1)).squeeze(-1).tolist()
                texts += tokenizer.batch_decode(new, skip_special_tokens=True)
                tokens += int((new != pad).sum()) if pad not in eos else new.numel()
        finally:
            tokenizer.padding_side = side
        return _Decoded(texts=texts, tokens=tokens, logprobs=logprobs or None)

    return decode


def _agreement(kind: str, ours: _Decoded, raw: _Decoded) -> dict[str, Any]:
    """What both sides produced: token counts always; same text (greedy); log-prob difference."""
    found: dict[str, Any] = {"adapter_tokens": ours.tokens, "raw_tokens": raw.tokens}
    if kind != "sampled":
        same = sum(a.strip() == b.strip() for a, b in zip(ours.texts, raw.texts))
        found["same_text"] = f"{same}/{len(raw.texts)}"
    if ours.logprobs is not None and raw.logprobs is not None:
        diffs = [abs(a - b) for x, y in zip(ours.logprobs, raw.logprobs) for a, b in zip(x, y)]
        found["max_abs_logprob_diff"] = max(diffs, default=0.0)
    return found


def _interleaved(pairs: dict[str, tuple[Callable[[], _Decoded], Callable[[], _Decoded]]], *, repeats: int,
                 device: str) -> dict[str, tuple[list[float], list[float]]]:
    """Seconds of each side, alternating adapter and raw within each decoding, repeat after repeat."""
    times: dict[str, tuple[list[float], list[float]]] = {kind: ([], []) for kind in pairs}
    for _ in range(repeats):
        for kind, sides in pairs.items():
            for fn, sink in zip(sides, times[kind]):
                _sync(device)
                start = time.perf_counter()
                fn()
                _sync(device)
                sink.append(time.perf_counter() - start)
    return times


_NAMES = {
    "greedy": "hf adapter / raw model.generate: greedy",
    "sampled": "hf adapter / raw model.generate: sampled, temperature 1",
    "logprobs": "hf adapter / raw model.generate: greedy + per-token log-probs",
}


def _decoding_rows(*, adapter: Any, load: Workload, device: str, setting: str, held: bool
                   ) -> tuple[list[Measure], float]:
    """The three ratio rows (held to ≤ 1.10 when ``held``), and the raw greedy tokens/s (the audit row's)."""
    from auditkit.records import GenerationConfig

    model, tokenizer = _model_and_tokenizer(adapter)
    prompts = bias_prompts(n=load.prompts)
    batches = [prompts[i : i + load.batch] for i in range(0, len(prompts), load.batch)]
    configs = {
        "greedy": GenerationConfig(max_new_tokens=load.new_tokens, temperature=0.0),
        "sampled": GenerationConfig(max_new_tokens=load.new_tokens, temperature=1.0, top_p=1.0, seed=0),
        "logprobs": GenerationConfig(max_new_tokens=load.new_tokens, temperature=0.0, logprobs=True),
    }
    eos = _eos_ids(model, tokenizer)
    hook = _mask_eos(model, eos)
    try:
        pairs = {kind: (_adapter_side(adapter, batches, config),
                        _raw_side(model, tokenizer, batches, kind, load.new_tokens, eos))
                 for kind, config in configs.items()}
        checks = {kind: _agreement(kind, ours(), raw()) for kind, (ours, raw) in pairs.items()}  # + warm-up
        times = _interleaved(pairs, repeats=load.repeats, device=device)
    finally:
        hook.remove()
    rows = []
    for kind, (ours_s, raw_s) in times.items():
        check = checks[kind]
        equal = check["adapter_tokens"] == check["raw_tokens"]
        rows.append(Measure(
            benchmark="hf", measure=_NAMES[kind], value=statistics.median(ours_s), unit="s",
            baseline=statistics.median(raw_s), target=1.10 if equal and held else None,
            notes=f"{setting}; {load.repeats} interleaved repeats, medians"
            + ("" if equal else "; UNEQUAL token counts: the ratio is not comparable"),
            details={"adapter_s": ours_s, "raw_s": raw_s, **check},
        ))
    raw_greedy_tps = checks["greedy"]["raw_tokens"] / statistics.median(times["greedy"][1])
    return rows, raw_greedy_tps


def _audit_row(*, spec: str, options: dict[str, str], suite: str, workdir: Path, raw_tps: float,
               setting: str) -> Measure:
    """Generation tokens/s of ``suite`` through the engine's plan → generate stages."""
    from auditkit.engine.analysis import RunTally
    from auditkit.engine.plan import AuditRequest
    from auditkit.engine.progress import Progress
    from auditkit.engine.run import generate, open_workers, plan_run

    # The adapter's own batch size (``batch_size`` unset), as `auditkit run` uses it.
    chosen = {k: v for k, v in options.items() if k != "batch_size"}
    request = AuditRequest(model=spec, out=workdir / f"audit-{suite}", suites=(suite,), model_options=chosen,
                           use_cache=False, report=False, quiet=True)
    context = plan_run(request=request)
    batch = getattr(context.adapter, "default_batch_size", None)
    try:
        context.adapter.load()  # type: ignore[attr-defined]  # hf and smollm2 adapters load on request
        with Progress(quiet=True) as progress, open_workers(context=context) as workers:
            start = time.perf_counter()
            generated = generate(context=context, workers=workers, progress=progress, tally=RunTally())
            wall = time.perf_counter() - start
    finally:
        context.cache.close()
    gens = list(generated.generations.values())
    tokens = sum(g.output_tokens or 0 for g in gens if g.ok)
    in_generate = sum(g.latency_s or 0.0 for g in gens if g.ok)
    return Measure(
        benchmark="hf", measure=f"`{suite}` audit generation tokens/s (engine) / raw greedy tokens/s",
        value=tokens / wall, unit="tok/s", baseline=raw_tps, target=None,
        notes=f"{len(gens)} prompts, engine batch {batch}; {setting}; informational (other workload)",
        details={"output_tokens": tokens, "generate_stage_s": wall, "inside_model_generate_s": in_generate,
                 "failed": sum(1 for g in gens if not g.ok), "meter": generated.meter_info},
    )


def _threads_row(*, adapter_spec: str, options: dict[str, str], load: Workload) -> Measure | None:
    """Informational (CPU): raw greedy generation with torch's default thread count vs 1 thread."""
    import torch

    from auditkit.adapters.base import build_adapter, parse_model_spec

    parsed = parse_model_spec(spec=adapter_spec)
    adapter = build_adapter(spec=dataclasses.replace(parsed, options={**parsed.options, **options}))
    try:
        model, tokenizer = _model_and_tokenizer(adapter)
        prompts = bias_prompts(n=load.prompts)
        batches = [prompts[i : i + load.batch] for i in range(0, len(prompts), load.batch)]
        raw = _raw_side(model, tokenizer, batches, "greedy", load.new_tokens, _eos_ids(model, tokenizer))
        before = torch.get_num_threads()
        if before == 1:
            return None
        seconds = {}
        for n in sorted({1, before}):
            torch.set_num_threads(n)
            start = time.perf_counter()
            raw()
            seconds[n] = time.perf_counter() - start
        torch.set_num_threads(before)
    finally:
        adapter.close()
    return Measure(benchmark="hf", measure=f"raw generate with {before} torch threads / 1 thread",
                   value=seconds[before], baseline=seconds[1], unit="s", target=None,
                   notes="informational: is torch's default thread count right on this machine?",
                   details={"seconds_by_threads": seconds})


def run(*, quick: bool, workdir: Path, device: str = "cpu", model_size: str | None = None) -> list[Measure]:
    size = model_size or ("1b" if device == "cuda" else "bundled")
    if size not in MODEL_SIZE_CHOICES:
        raise ValueError(f"--model-size {size!r}: choose one of {', '.join(MODEL_SIZE_CHOICES)}")
    load = workload(device=device, quick=quick, model_size=size)
    workdir.mkdir(parents=True, exist_ok=True)
    adapter, spec, options, what = _build_adapter(model_size=size, device=device, batch=load.batch, workdir=workdir)
    setting = f"{load.describe()}, {what}"
    try:
        # The tiny model only smoke-tests the harness: a few ms per batch is all overhead, not a figure.
        rows, raw_tps = _decoding_rows(adapter=adapter, load=load, device=device, setting=setting,
                                       held=size != "tiny")
    finally:
        adapter.close()  # frees the weights before the engine loads its own copy
    if device == "cpu" and size != "tiny":
        threads = _threads_row(adapter_spec=spec, options=options, load=load)
        rows += [threads] if threads is not None else []
    suite = "energy" if quick or size == "tiny" else "standard"
    rows.append(_audit_row(spec=spec, options=options, suite=suite, workdir=workdir, raw_tps=raw_tps, setting=what))
    return rows
