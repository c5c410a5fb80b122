// In-browser proof verification (placeholder).
