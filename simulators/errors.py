"""The simulators' exceptions: all derive from :class:`SimulatorError`."""

from __future__ import annotations


class SimulatorError(Exception):
    """Base class of every error raised by the simulators."""


class ScenarioError(SimulatorError):
    """A scenario file is unreadable or invalid; the message names the file, line and field."""


class DemandError(ScenarioError):
    """A demand CSV is unreadable or invalid; the message names the file, the line and why."""
