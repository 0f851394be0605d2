"""Train, evaluate and publish a suite of games x seeds on Ray, locally or on a cluster.

The lazy façade of the suite modules, which depend one way only: `scores` (reference
scores, human normalization, IQM) and `records` (the files of a run) are used by `plots`
and `report` (the table and figure, no Ray); `protocol` (the zoo's evaluation, the model
folder) by `trainable` (what each Ray Tune trial runs); all of them by `events` (the
driver's progress lines, pushes and report refreshes) and `runner` (`run_suite`).
``import dqn_agents.suite`` imports none of them, and Ray is imported only when a suite
runs: without the ``ray`` extra, `run_suite` raises `RayMissingError` naming it.

Example:
    >>> from dqn_agents.suite import run_suite  # doctest: +SKIP
    >>> run_suite(["Pong", "Breakout"], seeds=3, total_timesteps=10_000_000)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dqn_agents.lazy import lazy_attributes

if TYPE_CHECKING:  # pragma: no cover
    from dqn_agents.suite.protocol import EvalProtocol
    from dqn_agents.suite.report import SuiteReport, render_report
    from dqn_agents.suite.runner import RayMissingError, SuiteResult, require_ray, run_suite
    from dqn_agents.suite.scores import (
        ATARI_REFERENCE_SCORES,
        human_normalized_score,
        interquartile_mean,
    )
    from dqn_agents.suite.trainable import TrialContext

__all__ = [
    "ATARI_REFERENCE_SCORES",
    "EvalProtocol",
    "RayMissingError",
    "SuiteReport",
    "SuiteResult",
    "TrialContext",
    "human_normalized_score",
    "interquartile_mean",
    "render_report",
    "require_ray",
    "run_suite",
]

_LAZY = {
    "ATARI_REFERENCE_SCORES": "dqn_agents.suite.scores",
    "human_normalized_score": "dqn_agents.suite.scores",
    "interquartile_mean": "dqn_agents.suite.scores",
    "EvalProtocol": "dqn_agents.suite.protocol",
    "SuiteReport": "dqn_agents.suite.report",
    "render_report": "dqn_agents.suite.report",
    "RayMissingError": "dqn_agents.suite.runner",
    "SuiteResult": "dqn_agents.suite.runner",
    "require_ray": "dqn_agents.suite.runner",
    "run_suite": "dqn_agents.suite.runner",
    "TrialContext": "dqn_agents.suite.trainable",
}


__getattr__, __dir__ = lazy_attributes("dqn_agents.suite", _LAZY, globals(), __all__)
