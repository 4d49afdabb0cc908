"""The energy analyzer's figures: labels, scopes and ranges on every metric, breakdowns, carbon,
modelled remote outputs, provided replay energy and the idle baseline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditkit.analyzers.base import Observation, build_analyzer
from auditkit.records import Generation, Prompt


def _obs(
    i: int,
    *,
    energy: float | None,
    method: str | None = "estimated",
    tokens: int = 10,
    latency: float = 0.5,
    suite: str = "s",
    template: str = "t",
) -> Observation:
    prompt = Prompt(id=f"p{i}", suite=suite, template=template, prompt="x", analyzers=("energy",))
    gen = Generation(
        prompt_id=prompt.id,
        output="y",
        output_tokens=tokens,
        latency_s=latency,
        energy_j=energy,
        energy_method=method,
    )
    return Observation(prompt=prompt, generation=gen)


def _analyse(items, **options):
    analyzer = build_analyzer(name="energy", options=options)
    return analyzer.aggregate(items=items, scores=analyzer.score(items=items))


def _overall(analysis):
    return {m.name: m for m in analysis.metrics if m.group is None}


def test_every_metric_carries_method_scope_and_range():
    items = [_obs(i, energy=10.0 * (i + 1), tokens=5 * (i + 1)) for i in range(6)]
    analysis = _analyse(items)
    for metric in analysis.metrics:
        if metric.name == "tokens_per_s":
            continue
        assert "estimated" in metric.method, metric
        assert metric.details["scope"]["estimated"].startswith("process")
        assert metric.details["range_low"] < metric.value < metric.details["range_high"], metric
    m = _overall(analysis)
    mean_j = sum(10.0 * (i + 1) for i in range(6)) / 6
    assert m["j_per_prompt"].value == pytest.approx(mean_j)
    assert m["j_per_prompt"].details["range_low"] == pytest.approx(mean_j * 0.5)
    assert m["j_per_prompt"].details["range_high"] == pytest.approx(mean_j * 2.5)
    assert m["j_per_prompt"].ci_low < mean_j < m["j_per_prompt"].ci_high
    assert m["j_per_token"].value == pytest.approx(210.0 / 105)


def test_an_unmeasured_figure_says_its_interval_is_sampling_error_only():
    estimated = _overall(_analyse([_obs(i, energy=10.0 * (i + 1)) for i in range(4)]))
    note = estimated["j_per_prompt"].details["note"]
    # mean 25 J, estimated ×0.5–×2.5: 12.5 to 62.5 J, much wider than the bootstrap interval
    assert "estimated (4 of 4 figures)" in note and "anywhere from 12.5 to 62.5 J" in note
    assert "covers sampling error only" in note
    assert "J/token" in estimated["j_per_token"].details["note"]  # each metric in its own unit
    provided = _overall(_analyse([_obs(0, energy=5.0, method="provided"), _obs(1, energy=7.0, method="provided")]))
    assert "cannot say how far off it may be" in provided["j_per_prompt"].details["note"]
    measured = _overall(_analyse([_obs(0, energy=5.0, method="measured-nvml"), _obs(1, energy=7.0,
                                                                                   method="measured-nvml")]))
    assert "note" not in measured["j_per_prompt"].details  # a counter's own error is within its stated range
    assert "note" not in estimated["tokens_per_s"].details


def test_carbon_per_prompt_and_per_1k_tokens_hand_computed():
    items = [_obs(0, energy=3600.0, tokens=100), _obs(1, energy=7200.0, tokens=300)]
    m = _overall(_analyse(items, grid="FRA", pue="1.2"))
    # mean 5400 J = 1.5 Wh = 0.0015 kWh × 1.2 × 56.039 g/kWh
    assert m["gco2e_per_prompt"].value == pytest.approx(0.0015 * 1.2 * 56.039)
    # 10800 J = 3 Wh over 400 tokens → 7.5 Wh/1k tokens → 0.0075 kWh × 1.2 × 56.039
    assert m["wh_per_1k_tokens"].value == pytest.approx(7.5)
    assert m["gco2e_per_1k_tokens"].value == pytest.approx(0.0075 * 1.2 * 56.039)
    details = m["gco2e_per_prompt"].details
    assert details["grid_zone"] == "FRA" and details["grid_year"] == 2023 and details["pue"] == 1.2
    assert "Our World in Data" in details["grid_source"]


def test_breakdown_by_suite_and_probe():
    items = [
        _obs(0, energy=10.0, suite="a", template="x"),
        _obs(1, energy=20.0, suite="a", template="y"),
        _obs(2, energy=30.0, suite="b", template="x"),
        _obs(3, energy=50.0, suite="b", template="x"),
    ]
    metrics = _analyse(items).metrics
    by_group = {(m.name, tuple(sorted((m.group or {}).items()))): m for m in metrics}
    assert by_group[("j_per_prompt", (("suite", "b"),))].value == pytest.approx(40.0)
    assert by_group[("j_per_prompt", (("suite", "a"), ("template", "y")))].value == pytest.approx(20.0)
    assert by_group[("j_per_prompt", (("suite", "b"), ("template", "x")))].n == 2


def test_replay_energy_is_labelled_provided_without_a_range():
    items = [_obs(0, energy=5.0, method=None), _obs(1, energy=7.0, method="provided")]
    analysis = _analyse(items)
    m = _overall(analysis)
    assert m["j_per_prompt"].value == pytest.approx(6.0)
    assert "provided (2)" in m["j_per_prompt"].method
    assert m["j_per_prompt"].details["range_low"] is None
    assert "Provided (2 of 2 outputs)" in analysis.summary["methodology"]


def test_remote_outputs_are_modelled_from_output_tokens():
    pytest.importorskip("ecologits")
    # The local meter measured only the HTTP client (or nothing): the figure must be modelled instead.
    items = [_obs(0, energy=0.01, tokens=1000), _obs(1, energy=None, method="not-measured", tokens=1000)]
    analysis = _analyse(items, adapter="openai", model="gpt-4o", model_params_b="70")
    m = _overall(analysis)
    assert "modelled (2)" in m["j_per_prompt"].method
    assert m["wh_per_1k_tokens"].value == pytest.approx(0.548, abs=0.002)
    assert "Modelled (2 of 2 outputs)" in analysis.summary["methodology"]
    # Without a size for an unknown model, remote outputs are not measured (n/a), never 0.
    unknown = _overall(_analyse(items, adapter="openai", model="my-private-model"))
    assert unknown["j_per_prompt"].value is None
    assert unknown["gco2e_per_prompt"].value is None


def test_known_remote_model_size_comes_from_ecologits_with_a_range():
    pytest.importorskip("ecologits")
    items = [_obs(0, energy=None, method="not-measured", tokens=500)]
    m = _overall(_analyse(items, adapter="openai", model="gpt-4o-mini"))
    assert (
        m["j_per_prompt"].details["range_low"]
        < m["j_per_prompt"].value
        < m["j_per_prompt"].details["range_high"]
    )


def test_not_measured_mixture_counts_and_stays_none():
    items = [_obs(0, energy=None, method="not-measured"), _obs(1, energy=None, method="not-measured")]
    analysis = _analyse(items)
    m = _overall(analysis)
    for name in (
        "j_per_prompt",
        "wh_per_prompt",
        "wh_per_1k_tokens",
        "gco2e_per_prompt",
        "gco2e_per_1k_tokens",
    ):
        assert m[name].value is None, name
    assert analysis.summary["total_j"] is None and analysis.summary["not_measured"] == 2
    assert "Not measured (2 of 2 outputs)" in analysis.summary["methodology"]


def test_idle_baseline_is_subtracted_from_same_method_figures():
    items = [_obs(0, energy=100.0, latency=1.0), _obs(1, energy=5.0, method="provided", latency=1.0)]
    plain = _analyse(items)
    net = _analyse(items, idle_baseline_s="0.2")
    idle = net.summary["idle_baseline"]
    assert idle["method"] == "estimated" and idle["watts"] is not None
    by_id = {row["prompt_id"]: row for row in net.summary["per_prompt_j"]}
    assert by_id["p0"]["energy_j"] == pytest.approx(100.0 - idle["watts"] * 1.0)
    assert by_id["p1"]["energy_j"] == 5.0  # provided figures are never adjusted
    assert _overall(plain)["j_per_prompt"].value > _overall(net)["j_per_prompt"].value


def test_summary_lists_assumptions_and_is_json_ready():
    items = [_obs(i, energy=1.0 + i) for i in range(3)]
    summary = _analyse(items, max_listed="2").summary
    assert len(summary["per_prompt_j"]) == 2
    assert summary["method_labels"]["estimated"]["kind"] == "estimated"
    assert summary["assumptions"]["power_model"]["watts_per_thread"] > 0
    assert "Estimated (3 of 3 outputs)" in summary["methodology"]
    assert "Limits:" in summary["methodology"]
    json.dumps(summary)


def test_audit_run_reports_labelled_energy(tmp_path: Path):
    """End to end through the engine on this machine: every figure is labelled (estimated without RAPL)."""
    from auditkit.api import run_audit
    from tests.fixtures_engine import engine_request, write_suite

    suite = write_suite(tmp_path, n=6, analyzers_=("energy",))
    run_audit(
        request=engine_request(
            model="mock:echo",
            out=tmp_path / "run",
            suites=(str(suite),),
            cache_path=tmp_path / "cache.sqlite",
        )
    )
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    rows = [json.loads(line) for line in (tmp_path / "run" / "outputs.jsonl").read_text().splitlines()]
    expected = "estimated" if not Path("/sys/class/powercap").exists() else None
    methods = {r["energy_method"] for r in rows}
    assert len(methods) == 1
    if expected:
        assert methods == {expected}
        assert results["manifest"]["energy"]["method"] == expected
    per_prompt = next(
        m for m in results["metrics"] if m["analyzer"] == "energy" and m["name"] == "j_per_prompt"
    )
    assert per_prompt["value"] is not None and per_prompt["value"] > 0
    assert methods.pop() in per_prompt["method"]
    assert "methodology" in results["analyses"]["energy"]["summary"]
