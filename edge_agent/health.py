"""Whether an item's readings can be believed, and what to tell the household if not.

A fault the estimator works around (a stuck sensor, a zero crept below the scale, a
device gone quiet) leaves the level a guess from past use. The agent keeps ordering on
that guess, with the doubt it carries, but the household should hear of it: they can
wipe, tare or power-cycle the sensor, and only they can.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from edge_agent.catalog import ItemSpec
from edge_agent.estimator import FRESH_READING, LevelEstimator
from edge_agent.protocol import SensorState

#: A sensor that has sent nothing for this long (72 hourly heartbeats missed) is offline:
#: its item is not ordered until it reports again, as orders would be guesses.
OFFLINE_AFTER = timedelta(days=3)
#: A sensor is silent once this many of its heartbeats are missed (and at least
#: ``FRESH_READING`` has passed): the level is then projected from past use.
SILENT_BEATS = 3
#: A sensor the estimator takes for stuck is reported stuck once its readings have not
#: moved for this long. Three equal readings in a row is the estimator's test, and a
#: load cell with little noise passes it a few times a month by chance, for an hour or
#: two: not worth a person's attention. Six in a row is very rarely chance.
STUCK_REPORTED = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class SensorHealth:
    """One item's sensor, as its readings show it."""

    state: SensorState
    #: When the state began, as near as the readings tell; ``None`` while ok or waiting.
    since: datetime | None = None


def sensor_health(estimator: LevelEstimator, now: datetime) -> SensorHealth:
    """The health of ``estimator``'s sensor at ``now``; the worst state wins."""
    heard = estimator.last_reading
    if heard is None:
        return SensorHealth("waiting")
    if now - heard > OFFLINE_AFTER:
        return SensorHealth("offline", heard)
    beat = estimator.heartbeat
    if now - heard > max(FRESH_READING, SILENT_BEATS * beat if beat else FRESH_READING):
        return SensorHealth("silent", heard)
    believed = estimator.estimate
    since = believed.ts if believed is not None else heard
    # An empty shelf or tank repeats its zero exactly: that is no fault.
    if estimator.stuck and not estimator.reads_empty and now - since >= STUCK_REPORTED:
        return SensorHealth("stuck", since)
    if estimator.below_scale:
        return SensorHealth("below_scale", since)
    return SensorHealth("ok")


def health_note(item: ItemSpec, health: SensorHealth) -> str | None:
    """One sentence for the household on a sensor that is not ok; ``None`` if it is."""
    sensor = f"the {_spoken(item.device)}'s {_spoken(item.id)} sensor"
    when = f"{health.since:%a %d %b %H:%M} UTC" if health.since is not None else ""
    guess = "the level is a guess from past use"
    match health.state:
        case "ok":
            return None
        case "waiting":
            return f"No reading from {sensor} yet: {item.id} is not ordered until it reports."
        case "offline":
            return (
                f"No reading from {sensor} since {when}: {item.id} is not ordered until it"
                " reports again; check that the appliance is on and connected."
            )
        case "silent":
            return f"No reading from {sensor} since {when}: {guess} until it reports again."
        case "stuck":
            return (
                f"{sensor.capitalize()} has repeated one value since {when}: {guess} until it"
                " changes; check or restart the sensor."
            )
        case "below_scale":
            return (
                f"{sensor.capitalize()} reads empty while stock may be left (its zero has"
                f" drifted) since {when}: {guess}; tare or recalibrate the sensor."
            )


def quiet_together_note(state: SensorState, gone: Sequence[tuple[ItemSpec, SensorHealth]]) -> str:
    """One sentence for several sensors gone ``silent`` or ``offline`` at once.

    Sensors on several appliances seldom fail in the same hour; the link they share (the
    Wi-Fi, the broker, the devices' host) does. One warning that says so is kinder than
    one per item, each telling the household to check its sensor.
    """
    heard = [health.since for _, health in gone if health.since is not None]
    when = f" since {min(heard):%a %d %b %H:%M} UTC" if heard else ""
    names = ", ".join(_spoken(item.id) for item, _ in gone)
    devices = {item.device for item, _ in gone}
    cause = (
        f"the {_spoken(next(iter(devices)))} or its link"
        if len(devices) == 1
        else "the link they share (Wi-Fi, broker or the devices' host)"
    )
    then = (
        "they are not ordered until they report again"
        if state == "offline"
        else "their levels are guesses from past use until they report again"
    )
    return (
        f"No reading from {len(gone)} sensors at once{when} ({names}): more likely {cause}"
        f" than each sensor; {then}."
    )


def _spoken(name: str) -> str:
    """An item's or appliance's id as words: ``water_filter`` is "water filter"."""
    return name.replace("_", " ")
