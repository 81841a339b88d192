"""The audit trail: schema, store, query and export."""
