"""Generated documentation: docs/reference.md from the code's own schemas and registries."""
