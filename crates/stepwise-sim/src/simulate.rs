//! Attack simulations.
