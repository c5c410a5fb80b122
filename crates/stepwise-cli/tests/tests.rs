//! The command line and the server as their users meet them: real `stepwise` processes, real
//! HTTP on a free port, real signals and stores, in one test binary.

mod cli;
mod cluster;
mod generate;
mod server;
mod witness;
