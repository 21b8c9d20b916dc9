"""rnnrank."""
