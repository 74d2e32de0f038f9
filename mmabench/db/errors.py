"""Errors the command line catches by type, importable without loading Alembic or the ORM."""


class SchemaError(RuntimeError):
    pass
