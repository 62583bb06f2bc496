"""Engines that run Hymir workflows without Airflow."""

from hymir.executors.local import LocalExecutor

__all__ = ["LocalExecutor"]
