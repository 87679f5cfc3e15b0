"""Multi-object tracking: Kalman motion, IoU + appearance association, ByteTrack-style tracker. Pure NumPy/SciPy."""

from reidkit.track.tracker import Track, Tracker, TrackerConfig, TrackState

__all__ = ["Track", "TrackState", "Tracker", "TrackerConfig"]
