"""The live steps on a terminal, drawn into a terminal emulator: every finished step stays whole
on the screen, in order, with nothing of the live region left over and no blank line, also when
steps in flight drop to none and start again, and when they come from several threads while the
region is being redrawn (pack's workers)."""

from __future__ import annotations

import io

from rich.console import Console

from npuslim.cli.progress_display import LiveDisplay, _live
from npuslim.progress import ProgressEvent, StepState
from tests.support.terminal import _final_screen


def _screen(events: list[ProgressEvent]) -> tuple[str, ...]:
    raw = io.StringIO()
    console = Console(file=raw, force_terminal=True, color_system=None, width=80, height=24, highlight=False)
    display = LiveDisplay(lambda: _live(console), console)
    for event in events:
        display(event)
    display.shutdown()
    return _final_screen(raw.getvalue().encode(), 80, 24)


def _start(name: str) -> ProgressEvent:
    return ProgressEvent("upx", name, StepState.START)


def _done(name: str) -> ProgressEvent:
    return ProgressEvent("upx", name, StepState.DONE, "packed")


def test_steps_that_drop_to_none_and_start_again_all_stay_on_the_screen() -> None:
    names = [f"bin/{n}.dll" for n in ("a", "b", "c", "d", "e")]
    events = [_start(names[0]), _done(names[0]),                      # one alone
              _start(names[1]), _start(names[2]), _done(names[1]),    # two at once
              _done(names[2]),
              _start(names[3]), _done(names[3]),                      # one alone again
              _start(names[4]), ProgressEvent("upx", names[4], StepState.FAILED, "")]
    screen = _screen(events)
    assert screen == (*(f"✓ upx {n}: packed" for n in names[:4]), f"✗ upx {names[4]}: failed")


def test_a_run_without_steps_draws_nothing() -> None:
    assert _screen([]) == ()


def test_steps_from_many_threads_while_the_region_is_redrawn_all_stay_on_the_screen() -> None:
    """Four workers, each starting and finishing 40 steps while the display's thread redraws the
    region: every finished line is there, whole, once, and nothing of the region is left."""
    import threading
    import time

    raw = io.StringIO()
    console = Console(file=raw, force_terminal=True, color_system=None, width=80, height=24, highlight=False)
    display = LiveDisplay(lambda: _live(console), console)
    names = [[f"bin/w{w}-{i}.dll" for i in range(40)] for w in range(4)]

    def worker(mine: list[str]) -> None:
        for name in mine:
            display(_start(name))
            time.sleep(0.002)
            display(_done(name))

    threads = [threading.Thread(target=worker, args=(mine,)) for mine in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    display.shutdown()
    screen = _final_screen(raw.getvalue().encode(), 80, 24)
    expected = {f"✓ upx {n}: packed" for mine in names for n in mine}
    assert sorted(screen) == sorted(expected), set(screen) ^ expected
