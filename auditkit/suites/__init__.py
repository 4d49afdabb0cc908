"""Probe suites: YAML files of prompt templates, resolved (``load_suite``) and expanded (``expand``).

::

    from auditkit.suites import expand, load_suite
    suite = load_suite(ref="bias")            # a built-in name or a YAML path
    prompts = expand(suite=suite, samples=3)

One concept per module: ``model`` (the ``Suite`` / ``Probe`` records), ``file`` (one YAML file read and
validated with line numbers), ``loading`` (names, paths and includes resolved), ``probes`` (one probe's
templates and rows), ``templating`` (sandboxed jinja2), ``expansion`` (prompts with stable ids) and
``hashing`` (canonical JSON). YAML suites reach the engine as one prompt source among others
(``auditkit.sources``). Importing this package stays light: pydantic and jinja2 load with the first suite.
"""

from __future__ import annotations

from auditkit.suites.expansion import MAX_PROMPTS, expand, expand_suites
from auditkit.suites.loading import builtin_suites, load_suite
from auditkit.suites.model import Probe, Suite, SuiteInfo

__all__ = [
    "MAX_PROMPTS",
    "Probe",
    "Suite",
    "SuiteInfo",
    "builtin_suites",
    "expand",
    "expand_suites",
    "load_suite",
]
