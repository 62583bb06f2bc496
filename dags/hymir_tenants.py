"""Airflow DAG file with one DAG per tenant; a worker parsing it builds only the DAG it runs."""

from hymir.examples.tenants import TENANTS, tenant_workflow
from hymir_airflow import dags_for

dags = dags_for({f"hymir_tenant_{tenant}": tenant for tenant in TENANTS}, tenant_workflow)
