"""Market data: normalized market and order book types, the provider interface, and its implementations."""
