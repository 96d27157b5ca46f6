"""The ML layer: estimators from import paths, training with automatic preprocessing, skops
artifacts with hash checks, and chunked scoring inside DuckDB. Pure functions: the model
registry and the node kinds call them."""
