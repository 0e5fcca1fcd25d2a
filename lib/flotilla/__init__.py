"""What every Flotilla service needs: errors, logging, config, database, health, tokens."""

from flotilla.app import create_base_app

__all__ = ["create_base_app"]
