"""Long-running jobs over many images: propagation."""
