"""One workflow per tenant, from one function: the example behind ``dags/hymir_tenants.py``."""

from hymir import Chain, Group, Success, Workflow, job

#: The tenants that get a DAG each, and the tables each of them loads.
TENANTS = {
    "acme": ["orders", "invoices"],
    "globex": ["orders"],
    "initech": ["orders", "invoices", "refunds"],
}


@job(output="rows")
def load_table(tenant: str, table: str) -> Success:
    """Pretend to load one table of a tenant; the row count is made up from the names."""
    return Success(len(tenant) * len(table))


@job(inputs=["rows"], output="total")
def total_rows(rows: list[int]) -> Success:
    """Add up the rows loaded for the tenant."""
    return Success(sum(rows))


def tenant_workflow(tenant: str) -> Workflow:
    """Load every table of ``tenant`` in parallel, then add up their rows."""
    return Workflow(Chain(Group(*(load_table(tenant, table) for table in TENANTS[tenant])), total_rows()))
