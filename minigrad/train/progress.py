"""Per-epoch progress display: a tqdm bar (verbose=1), one line (verbose=2) or nothing."""
from __future__ import annotations

import sys
import time
from typing import Any, Callable

__all__ = ["EpochProgress", "format_logs"]

_REFRESH_S = 0.2  # the bar's numbers are reformatted at most this often (cheap steps)


def format_logs(logs: dict[str, Any]) -> str:
    """``loss=0.4123 accuracy=0.8512 ...``: lr in scientific notation, the rest 4 decimals."""
    parts = []
    for key, value in logs.items():
        if isinstance(value, float):
            parts.append(f"{key}={value:.3g}" if key == "lr" else f"{key}={value:.4f}")
        else:
            parts.append(f"{key}={value}")
    return " ".join(parts)


class EpochProgress:
    """Shows one epoch of ``steps`` batches.

    ``update(running)`` is called after every batch with a function returning the
    running logs; it is only called when the display is due, so a silent or quiet
    run does no formatting work per step. ``close(logs)`` prints the final numbers.
    Without tqdm installed, verbose=1 falls back to the verbose=2 line.
    """

    def __init__(self, verbose: int, epoch: int, epochs: int, steps: int | None,
                 stream: Any = None):
        self.verbose = verbose
        self.label = f"Epoch {epoch + 1}/{epochs}"
        # the bar redraws itself on stderr (tqdm's habit); epoch lines are output
        self.stream = stream if stream is not None else (sys.stderr if verbose == 1
                                                         else sys.stdout)
        self.bar = None
        self._next = 0.0
        self._start = time.perf_counter()
        if verbose == 1:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                self.verbose = 2
            else:
                self.bar = tqdm(total=steps, desc=self.label, unit="batch", leave=True,
                                file=self.stream, dynamic_ncols=True, mininterval=_REFRESH_S)

    def update(self, running: Callable[[], dict[str, Any]]) -> None:
        if self.bar is None:
            return
        self.bar.update(1)
        now = time.perf_counter()
        if now >= self._next:
            self._next = now + _REFRESH_S
            self.bar.set_postfix_str(format_logs(running()), refresh=False)

    def close(self, logs: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(format_logs(logs), refresh=False)
            self.bar.close()
        elif self.verbose >= 2:
            seconds = time.perf_counter() - self._start
            print(f"{self.label} - {seconds:.1f}s - {format_logs(logs)}", file=self.stream,
                  flush=True)
