"""A sensor's creep, from quiet spells: runs of readings with no use between them.

Sans-I/O. Within a quiet spell the stock stands still, so the readings move with the
sensor's zero alone: a creep, and a swing with the day's temperature. Both are fitted by
least squares within each spell, about the spell's own level (a use between spells moves
nothing), and pooled over the spells of the last :data:`CREEP_WINDOW`, or of the
history kept (:data:`CREEP_HISTORY`) where those show the same creep. Every reading
counts, not only a spell's ends, so the noise averages out, and the day's swing is not
taken for a creep. Whether a sensor is of a faulty kind, creeping many times as fast as
most, is weighed over all of its household's sensors (:class:`Installation`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

#: The creep is fitted over the quiet spells of this window ...
CREEP_WINDOW = timedelta(days=7)
#: ... once they add up to this much time.
CREEP_EVIDENCE = timedelta(days=2)
#: A week's spells put a creep anywhere within tens of percent of its rate, and the
#: level is corrected by it hour after hour. A sensor's creep keeps to its rate for
#: weeks, so where the week's slope is that of the spells of this long (the history
#: kept), within this many sd of how far the week's may stray from it, the longer fit is
#: taken. Where they differ, the creep changed, or the older spells held uses too small
#: to see (a hopper that emptied shows its creep only then): the week's is taken.
CREEP_HISTORY = timedelta(days=28)
SAME_CREEP = 5.0
#: The fit is redone when a spell ends, and this often while one goes on.
REFIT = timedelta(hours=6)
#: No creep, for want of evidence: the household's view and the sensor's own.
_NONE = ((0.0, 0.0), (0.0, 0.0))
_HOUR = 3600.0
_DAY = 86400.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The fitted terms: hours, the day's sine and cosine; then the reading itself.
_TERMS = 3
#: Most sensors creep about as fast as ``prior`` says; a faulty one in this many creeps
#: about this many times as fast. A slope the spells show clearly beyond the usual is
#: that sensor's, and is believed; one within it is drawn towards 0 as before.
FAULTY_SHARE = 0.05
FAULTY_FASTER = 10.0
#: One household in this many has cheap or badly fitted hardware: every sensor of it
#: creeps as a faulty one does (:class:`Installation`).
FAULTY_HOUSEHOLD = 0.05


@dataclass(frozen=True, slots=True)
class SpellFit:
    """A closed quiet spell, as the fit needs it."""

    end: datetime
    hours: float
    readings: int
    #: The products of its readings' terms about the spell's own means.
    moments: NDArray[np.float64]


class _Spell:
    """One quiet spell being read: running sums of each reading's (hours since the
    spell's first reading, the day's sine and cosine, value less the first value) and
    of their products."""

    __slots__ = ("end", "first", "n", "products", "start", "sums")

    def __init__(self, ts: datetime, value: float) -> None:
        self.start = self.end = ts
        self.first = value
        self.n = 0
        self.sums = np.zeros(_TERMS + 1)
        self.products = np.zeros((_TERMS + 1, _TERMS + 1))

    def add(self, ts: datetime, value: float) -> None:
        angle = 2 * math.pi * ((ts - _EPOCH).total_seconds() / _DAY % 1.0)
        z = np.array(
            [
                (ts - self.start).total_seconds() / _HOUR,
                math.sin(angle),
                math.cos(angle),
                value - self.first,
            ]
        )
        self.n += 1
        self.sums += z
        self.products += np.outer(z, z)
        self.end = ts

    def fit(self) -> SpellFit:
        return SpellFit(
            end=self.end,
            hours=(self.end - self.start).total_seconds() / _HOUR,
            readings=self.n,
            moments=self.products - np.outer(self.sums, self.sums) / self.n,
        )


class QuietSpells:
    """The creep from the quiet spells of the last :data:`CREEP_WINDOW`, or of the last
    :data:`CREEP_HISTORY` where the week's show the same creep (:func:`_same`).

    ``prior`` is one sd of the creep rates sensors have, per hour: the fitted slope is
    drawn towards 0 by how unsure it is against it (the mean of the rate given the
    slope), so a slope the spells hardly show is taken as mostly noise, and a clear one
    stands. The ``installation`` weighs whether the sensor is a faulty one with its
    household's other sensors; a sensor alone has one of its own.
    """

    def __init__(self, prior: float, installation: Installation | None = None) -> None:
        self.prior = prior
        self.installation = installation or Installation()
        self._open: _Spell | None = None
        self._week = _Spells(CREEP_WINDOW)
        self._history = _Spells(CREEP_HISTORY)
        self._rate: float | None = None
        self._sd = 0.0
        self._own = (0.0, 0.0)
        self._refit_at = _EPOCH

    def add(self, ts: datetime, value: float) -> None:
        """A reading with no use since the spell began."""
        if self.prior <= 0:
            return  # a sensor that does not creep (a counter): nothing to fit
        if self._open is None:
            self._open = _Spell(ts, value)
        self._open.add(ts, value)

    def close(self) -> None:
        """A use, or a gap that may hide one: the spell so far ends."""
        spell, self._open = self._open, None
        if spell is None or spell.n < 2:
            return
        fit = spell.fit()
        self._week.add(fit)
        self._history.add(fit)
        self._rate = None

    @property
    def rate(self) -> float:
        """The creep per hour (negative: down); 0 until the spells span
        :data:`CREEP_EVIDENCE`. Which way to believe is the estimator's call."""
        last = self._open.end if self._open is not None else _EPOCH
        if self._rate is None or last >= self._refit_at:
            ((self._rate, self._sd), self._own), self._refit_at = self._fit(), last + REFIT
        return self._rate

    @property
    def rate_sd(self) -> float:
        """How unsure :attr:`rate` is: one sd, per hour (0 while it is 0 for want of
        evidence)."""
        _ = self.rate
        return self._sd

    @property
    def own(self) -> tuple[float, float]:
        """The creep per hour and its sd as this sensor's spells show it, its
        household's other sensors not weighed: a creep taken back over weeks rests on
        its own sensor's evidence."""
        _ = self.rate
        return self._own

    def _fit(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The creep's mean and sd, its household weighed, and as the sensor alone
        shows it."""
        prior = self.prior
        current = self._open.fit() if self._open is not None and self._open.n >= 2 else None
        week = self._week.slope(current)
        if prior <= 0 or week is None:
            return _NONE
        slope, doubt = week
        history = self._history.slope(current)
        if history is not None and _same(week, history):
            slope, doubt = history
        self.installation.report(self, slope, doubt, prior)
        return (
            _posterior(slope, doubt, prior, self.installation.faulty(self)),
            _posterior(slope, doubt, prior, self.installation.faulty(self, alone=True)),
        )


class _Spells:
    """The closed quiet spells of a window, and their pooled sums."""

    __slots__ = ("fits", "total", "window")

    def __init__(self, window: timedelta) -> None:
        self.window = window
        self.fits: deque[SpellFit] = deque()
        self.total = SpellFit(_EPOCH, 0.0, 0, np.zeros((_TERMS + 1, _TERMS + 1)))

    def add(self, fit: SpellFit) -> None:
        self.fits.append(fit)
        total = _pooled([self.total, fit])
        while self.fits[0].end < fit.end - self.window:
            gone = self.fits.popleft()
            total = SpellFit(
                total.end,
                total.hours - gone.hours,
                total.readings - gone.readings,
                total.moments - gone.moments,
            )
        self.total = total

    def slope(self, current: SpellFit | None) -> tuple[float, float] | None:
        """The creep per hour the spells show, with ``current``, the spell still
        going on, and its variance; None until they span :data:`CREEP_EVIDENCE`."""
        total, spells = self.total, len(self.fits)
        if current is not None:
            total, spells = _pooled([total, current]), spells + 1
        moments = total.moments
        free = total.readings - spells - _TERMS  # each spell's level, and the terms
        if free <= 0 or total.hours < CREEP_EVIDENCE / timedelta(hours=1):
            return None
        design, response = moments[:_TERMS, :_TERMS], moments[:_TERMS, _TERMS]
        try:
            inverse = np.linalg.inv(design)
        except np.linalg.LinAlgError:
            return None
        fit = inverse @ response
        doubt = max(moments[_TERMS, _TERMS] - fit @ response, 0.0) / free * inverse[0, 0]
        if not doubt >= 0:  # NaN: a design too near singular to tell
            return None
        return float(fit[0]), float(doubt)


def _same(week: tuple[float, float], history: tuple[float, float]) -> bool:
    """Whether the week's slope is the longer history's, within :data:`SAME_CREEP` sd
    of how far the week's may stray from it (the week's spells are among the
    history's, so that is the difference of their variances)."""
    (recent, recent_doubt), (kept, kept_doubt) = week, history
    return (recent - kept) ** 2 <= SAME_CREEP**2 * max(recent_doubt - kept_doubt, 0.0)


def _posterior(slope: float, doubt: float, prior: float, faulty: float) -> tuple[float, float]:
    """The creep rate's mean and sd, given a fitted ``slope`` of variance ``doubt`` and
    the chance, all the evidence weighed, that the sensor is the ``faulty`` kind: the
    prior a mixture of the usual sensor (sd ``prior``) and the faulty one."""
    kinds = []
    for share, sd in ((1 - faulty, prior), (faulty, prior * FAULTY_FASTER)):
        shrink = sd**2 / (sd**2 + doubt)
        kinds.append((share, slope * shrink, doubt * shrink))
    mean = sum(share * m for share, m, _ in kinds)
    square = sum(share * (v + m**2) for share, m, v in kinds)
    return mean, math.sqrt(max(square - mean**2, 0.0))


def _log_likelihood(slope: float, doubt: float, sd: float) -> float:
    """The log likelihood of a fitted ``slope`` of variance ``doubt`` from a sensor whose
    creep rates have sd ``sd``."""
    spread = sd**2 + doubt
    return -0.5 * (math.log(spread) + slope**2 / spread)


class Installation:
    """Whether a household's sensors are the faulty kind, from all their quiet spells.

    Cheap or badly fitted hardware comes a household at a time: the same make, the
    same installer, the same kitchen's temperature. So each sensor's fitted creep is
    evidence about the others. Two kinds of household: the usual one, where a sensor is
    faulty one time in :data:`FAULTY_SHARE`, and one in :data:`FAULTY_HOUSEHOLD` where
    every sensor is. Each sensor's latest fit is kept; :meth:`faulty` weighs them all.
    """

    def __init__(self) -> None:
        #: Per sensor: the log likelihoods of its latest fit, usual and faulty.
        self._fits: dict[object, tuple[float, float]] = {}

    def report(self, sensor: object, slope: float, doubt: float, prior: float) -> None:
        """A sensor's latest fitted creep ``slope``, of variance ``doubt``."""
        self._fits[sensor] = (
            _log_likelihood(slope, doubt, prior),
            _log_likelihood(slope, doubt, prior * FAULTY_FASTER),
        )

    def faulty(self, sensor: object, *, alone: bool = False) -> float:
        """The chance that ``sensor`` creeps as a faulty one does, given every fit (or,
        ``alone``, given its own in a usual household)."""
        own = self._fits.get(sensor)
        lone = FAULTY_SHARE if own is None else _alone(*own)
        if alone:
            return lone
        usual_house = math.log(1 - FAULTY_HOUSEHOLD)
        faulty_house = math.log(FAULTY_HOUSEHOLD)
        for usual, faulty in self._fits.values():
            usual_house += _mix(usual, faulty)
            faulty_house += faulty
        house = math.exp(faulty_house - np.logaddexp(faulty_house, usual_house))
        return house + (1 - house) * lone


def _alone(usual: float, faulty: float) -> float:
    """The chance that a sensor of a usual household is faulty, given its fit."""
    return math.exp(math.log(FAULTY_SHARE) + faulty - _mix(usual, faulty))


def _mix(usual: float, faulty: float) -> float:
    """The log likelihood of a fit from a sensor of a usual household."""
    return float(np.logaddexp(math.log(1 - FAULTY_SHARE) + usual, math.log(FAULTY_SHARE) + faulty))


def _pooled(fits: Iterable[SpellFit]) -> SpellFit:
    hours, readings, moments = 0.0, 0, np.zeros((_TERMS + 1, _TERMS + 1))
    end = _EPOCH
    for fit in fits:
        hours, readings, moments = hours + fit.hours, readings + fit.readings, moments + fit.moments
        end = max(end, fit.end)
    return SpellFit(end, hours, readings, moments)
