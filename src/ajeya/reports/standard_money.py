"""Money standard reports: collections, department-wise revenue."""
