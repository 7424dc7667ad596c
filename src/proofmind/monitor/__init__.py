"""Streaming detectors over prices and confirmed blocks, with replay and scoring."""

from proofmind.monitor.api import Alert, Detector, Event, PriceObservation, Severity
from proofmind.monitor.depeg import DepegDetector
from proofmind.monitor.feed import FeedHealthDetector
from proofmind.monitor.flow import FlowAnomalyDetector
from proofmind.monitor.ratio import RatioDetector
from proofmind.monitor.registry import available, load_detectors
from proofmind.monitor.volatility import VolatilityDetector

__all__ = [
    "Alert",
    "DepegDetector",
    "Detector",
    "Event",
    "FeedHealthDetector",
    "FlowAnomalyDetector",
    "PriceObservation",
    "RatioDetector",
    "Severity",
    "VolatilityDetector",
    "available",
    "load_detectors",
]
