"""What the product does, independent of HTTP."""
