"""Flotilla's pytest plugin: installed in test images only, never in a runtime image."""
