"""The Airflow plugin, registered through the ``airflow.plugins`` entry point."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin


class HymirPlugin(AirflowPlugin):
    """Makes Hymir known to Airflow."""

    name = "hymir"
