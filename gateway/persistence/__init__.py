"""Durable state: SQLAlchemy 2 async over PostgreSQL or the embedded SQLite file."""
