"""A scheduler process for the HA and gap tests: the real APScheduler job from
``detections.jobs``, configured through SOC_* environment variables like ``soc up``.

``--pause-first-commit MARKER`` makes the process stop right before its first checkpoint
commit (alerts of that window already written, lease held) and touch MARKER, so the test can
kill -9 it genuinely mid-run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from core.es import Store
from core.settings import load_settings
from detections import runner
from detections.jobs import register_detection_jobs


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pause-first-commit", type=Path)
    parser.add_argument("--seconds", type=float, default=120)
    args = parser.parse_args()
    if args.pause_first_commit:
        original = runner._commit
        paused = {"done": False}

        def pausing_commit(*a, **kw):  # type: ignore[no-untyped-def]
            if not paused["done"]:
                paused["done"] = True
                args.pause_first_commit.write_text("paused")
                time.sleep(3600)
            return original(*a, **kw)

        runner._commit = pausing_commit  # type: ignore[assignment]
    settings = load_settings()
    store = Store.connect(settings)
    scheduler = BackgroundScheduler(timezone="UTC")
    register_detection_jobs(scheduler, settings, store)
    scheduler.start()
    try:
        time.sleep(args.seconds)
    finally:
        scheduler.shutdown(wait=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
