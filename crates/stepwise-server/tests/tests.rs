//! The server's integration tests, in one binary: the API in process, and the OpenAPI
//! document.

mod api;
mod openapi;
