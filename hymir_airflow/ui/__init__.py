"""The Hymir view: Hymir DAGs, their runs, and every job of a run, as pages of the Airflow UI.

The plugin (``hymir_airflow.plugin``) mounts the app of ``hymir_airflow.ui.app`` in the
api-server under ``/hymir``; its pages use Airflow's login and permissions.
"""
