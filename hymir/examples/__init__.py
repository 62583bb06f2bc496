"""Example workflows used by the README, the DAG files in dags/ and the tests."""
