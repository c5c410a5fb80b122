//! Temporal evaluation on real trust data.
