"""The benchmarks lift the 20-a-second limit: how, in one place.

From step6_floods on, a stage counts every frame a client sends and cuts off one
that sends more than 20 a second. A benchmark's clients send far faster than any
person types, so each benchmark starts those stages with `--messages-per-second 0`
(no limit), and gunicorn with bench/gunicorn.conf.py, which does the same.
"""

from harness import ROOT

LIMIT_LIFTED = (
    "the benchmarks lift the 20-a-second limit: stages from step6_floods on run "
    "with --messages-per-second 0 (gunicorn: bench/gunicorn.conf.py)"
)


def counts_frames(folder: str) -> bool:
    """True for a stage that cuts off a client sending 20 frames a second."""
    return (ROOT / folder / "floods.py").exists()


def no_frame_limit(folder: str) -> tuple[str, ...]:
    """The options that lift a stage's limit: none for a stage without one."""
    return ("--messages-per-second", "0") if counts_frames(folder) else ()
