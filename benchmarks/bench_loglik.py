"""Log-likelihood path (``hf`` adapter ``loglikelihood``) vs raw batched forward passes on the same inputs.

Model: the bundled SmolLM2-135M (as ``smollm2`` loads it), fp32 on CPU. Inputs: every candidate of the
test CrowS-Pairs and StereoSet files (tests/fixtures_benchmarks.py: 40 sentences from the start of the
text, 24 candidates after a context), as the engine asks for them. Both sides use the SAME loaded model
and the same token ids (BOS + sentence; context + continuation), in batches of 8. The raw side is what a
user would write: right-pad a batch with an attention mask, one forward pass, ``log_softmax`` over the
vocabulary, ``gather`` the targets and sum. Runs are interleaved and medians compared; the totals of both
sides are checked equal (the ratio only counts when they agree).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks import Measure

__all__ = ["run"]


def _requests() -> list[Any]:
    import tempfile

    from auditkit.engine.loglik import loglik_requests
    from auditkit.sources.crows_pairs import crows_pairs_prompts
    from auditkit.sources.stereoset import stereoset_prompts
    from tests.fixtures_benchmarks import write_crows_pairs, write_stereoset

    with tempfile.TemporaryDirectory() as tmp:
        crows = write_crows_pairs(path=Path(tmp) / "crows.csv")
        stereo = write_stereoset(path=Path(tmp) / "dev.json")
        prompts = [*crows_pairs_prompts(path=crows), *stereoset_prompts(path=stereo)]
    return loglik_requests(prompts=prompts)


def run(*, quick: bool, workdir: Path) -> list[Measure]:
    import dataclasses

    import torch

    from auditkit.adapters.base import build_adapter, parse_model_spec
    from auditkit.adapters.hf_loglik import encode_request

    batch, repeats = 8, (3 if quick else 7)
    requests = _requests()
    spec = parse_model_spec(spec="smollm2")
    adapter = build_adapter(spec=dataclasses.replace(spec, options={"batch_size": str(batch), "device": "cpu"}))
    adapter.load()  # type: ignore[attr-defined]
    hf = adapter._hf  # type: ignore[attr-defined]  # noqa: SLF001 - the raw side uses the very same model
    model, tokenizer = hf._model, hf._tokenizer  # noqa: SLF001
    encoded = [encode_request(request=r, tokenizer=tokenizer) for r in requests]

    def via_adapter() -> list[float]:
        return [float(r.logprob) for r in adapter.loglikelihood(requests=requests)]  # type: ignore[attr-defined]

    def raw() -> list[float]:
        totals = []
        for start in range(0, len(encoded), batch):
            part = encoded[start : start + batch]
            rows = [(c + t)[:-1] for c, t in part]
            width = max(len(r) for r in rows)
            ids = torch.zeros((len(rows), width), dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for i, row in enumerate(rows):
                ids[i, : len(row)] = torch.tensor(row)
                mask[i, : len(row)] = 1
            with torch.inference_mode():
                logprobs = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
            for i, (context, target) in enumerate(part):
                positions = torch.arange(len(context) - 1, len(context) - 1 + len(target))
                totals.append(float(logprobs[i, positions].gather(1, torch.tensor(target)[:, None]).sum()))
        return totals

    agree = max(abs(a - b) for a, b in zip(via_adapter(), raw(), strict=True))  # also the warm-up
    t_adapter, t_raw = [], []
    for _ in range(repeats):
        for fn, sink in ((via_adapter, t_adapter), (raw, t_raw)):
            start = time.perf_counter()
            fn()
            sink.append(time.perf_counter() - start)
    adapter.close()
    setting = (f"{len(requests)} continuations (CrowS-Pairs + StereoSet test files), batch {batch}, "
               "SmolLM2-135M fp32 CPU")
    return [Measure(
        benchmark="loglik", measure="hf adapter loglikelihood / raw batched forward + log_softmax + gather",
        value=statistics.median(t_adapter), unit="s", baseline=statistics.median(t_raw),
        target=1.10 if agree < 1e-3 else None, notes=setting,
        details={"adapter_s": t_adapter, "raw_s": t_raw, "max_abs_difference_nats": agree,
                 "torch_threads": torch.get_num_threads()},
    )]
