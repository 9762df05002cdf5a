"""HTTP resources. Thin views: parse with a schema, call one service, return data."""
