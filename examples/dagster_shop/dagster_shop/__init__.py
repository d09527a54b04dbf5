"""The shop pipeline as Dagster assets, with its resources picked by envres profiles."""
