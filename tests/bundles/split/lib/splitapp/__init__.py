"""The split test bundle's own helper package (the manifest's pythonpath puts lib/ first)."""
