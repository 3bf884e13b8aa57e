"""HTTP glue shared by the API functions: caller identity, strict JSON, error bodies."""
