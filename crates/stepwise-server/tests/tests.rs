//! The server's integration tests, in one binary: the API in process, MCP over HTTP on a real
//! port, and the OpenAPI document.

mod api;
mod mcp;
mod openapi;
