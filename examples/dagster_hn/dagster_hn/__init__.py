"""The resource layer of Dagster's project_fully_featured, ported to envres profiles."""
