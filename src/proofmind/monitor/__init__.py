"""Streaming detectors over prices (and, later, confirmed blocks), with replay and scoring."""

from proofmind.monitor.api import Alert, Detector, Event, PriceObservation, Severity
from proofmind.monitor.depeg import DepegDetector
from proofmind.monitor.feed import FeedHealthDetector
from proofmind.monitor.ratio import RatioDetector
from proofmind.monitor.registry import available, load_detectors

__all__ = [
    "Alert",
    "DepegDetector",
    "Detector",
    "Event",
    "FeedHealthDetector",
    "PriceObservation",
    "RatioDetector",
    "Severity",
    "available",
    "load_detectors",
]
