"""PostgreSQL storage: SQLAlchemy tables, alembic migrations, queries."""
