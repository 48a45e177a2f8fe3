"""The order in which client messages reach the runtime."""

from __future__ import annotations

import threading


class SendOrder:
    """Numbers messages as they are read; tells when all before one have been sent.

    Marking is amortised O(1) and waiting costs nothing per earlier message, so intake
    stays linear however many messages are in flight.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._next = 0
        self._unsent: set[int] = set()
        self._lowest_unsent = 0

    def admit(self) -> int:
        """The number of the message just read."""
        with self._changed:
            number = self._next
            self._next += 1
            self._unsent.add(number)
            return number

    def mark_sent(self, number: int) -> None:
        """Message ``number`` has left (or never will): later ones need not wait for it."""
        with self._changed:
            if number not in self._unsent:
                return
            self._unsent.discard(number)
            while self._lowest_unsent < self._next and self._lowest_unsent not in self._unsent:
                self._lowest_unsent += 1
            self._changed.notify_all()

    def wait_for_earlier(self, number: int, timeout: float | None = None) -> bool:
        """Block until every message read before ``number`` has been sent."""
        with self._changed:
            return self._changed.wait_for(lambda: self._lowest_unsent >= number, timeout)
