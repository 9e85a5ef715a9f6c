"""Weight changes of one bin against its pick and put-away scans.

Every step of the confident count (``last`` -> new count) is accounted on its own: a step
down is explained by pick scans, a step up by put-away scans (never the other way: a
put-away does not explain a theft that happened just before it). Whatever a step leaves
unexplained waits ``scan_grace_s`` for a late scan (operators scan after taking, and scans
come from another agent); an unexplained step the other way in that time cancels it (taken
out and put back). After the grace, what is left raises ``weight_loss_unexplained`` or
``weight_gain_unexpected``, once.

Scan credit the scale never matches is dropped after ``scan_window_s`` (a scan without a
weight change is a book-vs-shelf question for the discrepancy, not a theft). A gain while a
loss is open is first taken as the lost units coming back: it clears the loss instead of
raising a gain.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Decision(NamedTuple):
    loss: int  # units lost that no pick explains
    gain: int  # units gained that no put-away explains
    restored: int  # units of an open loss that came back
    since: float  # when the unexplained step was seen
    count: int  # the count now


class WeightWatch:
    __slots__ = (
        "cred_in",
        "cred_out",
        "gain",
        "gain_t",
        "last",
        "loss",
        "loss_t",
        "open_loss",
        "scan_t",
    )

    def __init__(self) -> None:
        self.last: int | None = None  # the last confident count
        self.cred_in = 0  # put-away units scanned, not yet seen arriving
        self.cred_out = 0  # picked units scanned, not yet seen leaving
        self.scan_t = 0.0  # newest scan that left credit
        self.loss = 0  # unexplained units down, waiting for a late pick scan
        self.loss_t = 0.0
        self.gain = 0  # unexplained units up, waiting for a late put-away scan
        self.gain_t = 0.0
        self.open_loss = 0  # units of the loss alarm still open

    def scan(self, t: float, delta: int) -> None:
        """A pick (delta < 0) or put-away (delta > 0) scanned for this bin: it explains a
        waiting step first, the rest is credit for the next."""
        if delta < 0:
            q = -delta
            use = min(q, self.loss)
            self.loss -= use
            self.cred_out += q - use
        elif delta > 0:
            use = min(delta, self.gain)
            self.gain -= use
            self.cred_in += delta - use
        if t > self.scan_t:
            self.scan_t = t

    def observe(
        self,
        t: float,
        count: int,
        grace_s: float,
        window_s: float,
        loss_min: int,
        gain_min: int,
    ) -> Decision | None:
        """A confident count at ``t``; a Decision when something needs reporting."""
        last = self.last
        self.last = count
        if last is not None and count != last:
            self._step(t, count - last)
        if (self.cred_in or self.cred_out) and t - self.scan_t > window_s:
            self.cred_in = self.cred_out = 0
        if self.loss and t - self.loss_t >= grace_s:
            loss, since = self.loss, self.loss_t
            self.loss = 0
            if loss >= loss_min:
                self.open_loss += loss
                return Decision(loss, 0, 0, since, count)
        if self.gain and t - self.gain_t >= grace_s:
            gain, since = self.gain, self.gain_t
            self.gain = 0
            restored = min(gain, self.open_loss)
            self.open_loss -= restored
            gain -= restored
            if gain < gain_min:
                gain = 0
            if gain or restored:
                return Decision(0, gain, restored, since, count)
        return None

    def _step(self, t: float, step: int) -> None:
        if step < 0:
            u = -step
            use = min(u, self.cred_out)
            self.cred_out -= use
            u -= use
            back = min(u, self.gain)  # what appeared unexplained just left again
            self.gain -= back
            u -= back
            if u:
                if not self.loss:
                    self.loss_t = t
                self.loss += u
        else:
            u = step
            use = min(u, self.cred_in)
            self.cred_in -= use
            u -= use
            back = min(u, self.loss)  # taken out and put back within the grace
            self.loss -= back
            u -= back
            if u:
                if not self.gain:
                    self.gain_t = t
                self.gain += u

    def to_list(self) -> list[Any]:
        return [
            self.last,
            self.cred_in,
            self.cred_out,
            self.scan_t,
            self.loss,
            self.loss_t,
            self.gain,
            self.gain_t,
            self.open_loss,
        ]

    @classmethod
    def from_list(cls, v: list[Any]) -> WeightWatch:
        w = cls()
        (
            w.last,
            w.cred_in,
            w.cred_out,
            w.scan_t,
            w.loss,
            w.loss_t,
            w.gain,
            w.gain_t,
            w.open_loss,
        ) = v
        return w
