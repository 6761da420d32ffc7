"""betguard's developer tooling, installed apart from the product (devkit/pyproject.toml)."""
