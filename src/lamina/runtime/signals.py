"""Signal names as docker accepts them: ``SIGTERM``, ``TERM``, ``15``, ``SIGRTMIN+3``."""

from __future__ import annotations

import signal

from lamina.errors import UsageError

__all__ = ["parse_signal", "signal_name"]


def parse_signal(text: str) -> int:
    """The signal number for ``text``; UsageError with docker's wording if unknown."""
    value = text.strip().upper()
    if value.isdigit():
        number = int(value)
        if 0 < number <= signal.SIGRTMAX:
            return number
        raise UsageError(f"Invalid signal: {text}")
    name = value if value.startswith("SIG") else "SIG" + value
    for base in ("SIGRTMIN", "SIGRTMAX"):
        if name.startswith(base):
            offset = name[len(base):]
            try:
                delta = int(offset) if offset else 0
            except ValueError:
                break
            number = int(getattr(signal, base)) + delta
            if signal.SIGRTMIN <= number <= signal.SIGRTMAX:
                return number
            break
    member = getattr(signal.Signals, name, None) if name.isidentifier() else None
    if isinstance(member, signal.Signals):
        return int(member)
    raise UsageError(f"Invalid signal: {text}")


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
