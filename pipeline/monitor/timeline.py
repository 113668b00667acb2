"""The prediction log of one version over time, and its most recent windows (the Monitor view).

`timeline` groups the log by hour, day or week (whichever gives a readable number of points
for the span the log covers) and gives each period its volume, label mix, mean confidence,
feedback rate and an accuracy estimated without labels (pipeline.monitor.drift). `windows`
cuts the most recent texts into windows of a fixed size, newest first, for drift checks.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.errors import DataError
from pipeline.monitor.drift import estimated_accuracy, log_frame
from pipeline.wording import plural

# Periods from the finest up: the first that gives at most MAX_POINTS points is used.
PERIODS = [("h", "hour"), ("D", "day"), ("W-MON", "week"), ("MS", "month")]
MAX_POINTS = 60


@dataclass(frozen=True)
class Timeline:
    """The log over time: `frame` has one row per period; `period` names it ("hour")."""

    frame: pd.DataFrame
    period: str


def version_rows(log: pd.DataFrame, version: str, labels: list[str]) -> pd.DataFrame:
    """The log's rows of one version, checked (pipeline.monitor.drift.log_frame), with time.

    Raises:
        DataError: the log holds no row of this version.
    """
    frame = log_frame(log, "The prediction log", version, labels)
    frame["time"] = log.loc[log["version"].str.strip() == version, "time"].to_numpy()
    return frame


def choose_period(times: pd.Series) -> tuple[str, str]:
    """The pandas frequency and its name ("hour"...) for the span of `times`."""
    start, end = times.min().tz_localize(None), times.max().tz_localize(None)
    for freq, name in PERIODS:
        if len(pd.period_range(start, end, freq=freq)) <= MAX_POINTS:
            return freq, name
    return PERIODS[-1]


def timeline(
    rows: pd.DataFrame,
    labels: list[str],
    feedback: pd.DataFrame | None = None,
    calibration: pd.DataFrame | None = None,
) -> Timeline:
    """Volume, label mix, mean confidence, feedback rate and estimated accuracy per period.

    Args:
        rows: one version's log rows (`version_rows`).
        labels: the version's labels.
        feedback: the feedback rows of this version (`timestamp` column), or None.
        calibration: texts with true labels for the accuracy estimate (drift's
            `calibration_frame`); None leaves the estimate empty.

    Returns:
        A Timeline whose frame has `start`, `texts`, `share_<label>`..., `mean_confidence`,
        `feedback`, `feedback_rate` and `estimated_accuracy` (NaN where it cannot be had).
    """
    if rows.empty:
        raise DataError("The prediction log has no predictions of this version yet.")
    freq, name = choose_period(rows["time"])
    period = rows["time"].dt.tz_localize(None).dt.to_period(freq).dt.start_time
    grouped = rows.groupby(period)
    frame = pd.DataFrame({"texts": grouped.size(), "mean_confidence": grouped["confidence"].mean()})
    shares = pd.crosstab(period, rows["predicted"], normalize="index")
    for label in labels:
        frame[f"share_{label}"] = shares[label] if label in shares.columns else 0.0
    frame["feedback"] = 0
    if feedback is not None and not feedback.empty:
        times = pd.to_datetime(feedback["timestamp"], utc=True, format="ISO8601")
        given = times.dt.tz_localize(None).dt.to_period(freq).dt.start_time.value_counts()
        frame["feedback"] = given.reindex(frame.index, fill_value=0).astype(int)
    frame["feedback_rate"] = frame["feedback"] / frame["texts"]
    frame["estimated_accuracy"] = np.nan
    if calibration is not None:
        for start, part in grouped:
            found = estimated_accuracy(calibration, part, labels)
            frame.loc[start, "estimated_accuracy"] = found.get("estimated", np.nan)
    frame.index.name = "start"
    return Timeline(frame.reset_index(), name)


def windows(rows: pd.DataFrame, size: int, count: int) -> list[pd.DataFrame]:
    """The most recent `count` windows of `size` texts each, newest first (whole ones only).

    Raises:
        DataError: fewer than `size` texts, saying how many more are needed.
    """
    if len(rows) < size:
        raise DataError(
            f"The log holds {plural(len(rows), 'prediction')} of this version; a window needs "
            f"{size:,}, so {size - len(rows):,} more are needed before drift can be judged."
        )
    ordered = rows.sort_values("time", kind="stable").reset_index(drop=True)
    found = []
    end = len(ordered)
    while end >= size and len(found) < count:
        found.append(ordered.iloc[end - size : end].reset_index(drop=True))
        end -= size
    return found
