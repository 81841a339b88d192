"""The side effects: email providers, user admin, resource toggles, storage and core tables."""
