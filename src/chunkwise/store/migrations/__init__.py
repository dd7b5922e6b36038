"""The store's schema revisions, as Alembic migrations; `chunkwise.store.schema` applies them."""
