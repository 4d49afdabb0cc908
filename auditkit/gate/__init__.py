"""The release gate: a policy file's rules applied to a run's metrics, optionally against a baseline run.

- :mod:`auditkit.gate.policy`: the policy file format (YAML, validated, ``file:line`` errors) and selectors.
- :mod:`auditkit.gate.baseline`: significance tests of a metric's change, and run compatibility.
- :mod:`auditkit.gate.evaluate`: rules → :class:`GateDecision` (:func:`evaluate_policy`).
- :mod:`auditkit.gate.junit` / :mod:`auditkit.gate.summary`: JUnit XML and Markdown renderings;
  :mod:`auditkit.gate.outputs` writes them (and ``$GITHUB_STEP_SUMMARY``).
- :mod:`auditkit.gate.diff`: every metric of two runs side by side (``auditkit diff``).

Example::

    decision = evaluate_policy(results=json.loads(Path("run/results.json").read_text()),
                               policy_path=Path("policies/release.yaml"))
    sys.exit(decision.exit_code)
"""

from __future__ import annotations

from auditkit.gate.evaluate import GateDecision, RuleResult, decide, evaluate_policy, metric_label
from auditkit.gate.junit import junit_xml, write_junit
from auditkit.gate.outputs import GateFiles, write_gate_outputs
from auditkit.gate.policy import Policy, Selector, load_policy, parse_selector
from auditkit.gate.summary import markdown_summary

__all__ = [
    "GateDecision",
    "GateFiles",
    "Policy",
    "RuleResult",
    "Selector",
    "decide",
    "evaluate_policy",
    "junit_xml",
    "load_policy",
    "markdown_summary",
    "metric_label",
    "parse_selector",
    "write_gate_outputs",
    "write_junit",
]
