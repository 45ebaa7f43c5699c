"""The console log handler: it writes to whatever `sys.stderr` is when a line is
logged, not to the stream it found when logging was configured.

`logging.StreamHandler` keeps the stream object it was given. A process that swaps
stderr after configuring logging (pytest's capture does, for each test) left it
writing to a closed file: every line from a listener's threads failed with "I/O
operation on closed file" instead of reaching the log.
"""

from __future__ import annotations

import logging
import sys


class StderrHandler(logging.StreamHandler):
    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass  # always the current sys.stderr
