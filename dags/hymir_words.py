"""Airflow DAG for the README example: uppercase words in parallel (a Group), then count them."""

from hymir.examples.words import words_workflow
from hymir_airflow import workflow_to_dag

dag = workflow_to_dag(words_workflow(), dag_id="hymir_words")
