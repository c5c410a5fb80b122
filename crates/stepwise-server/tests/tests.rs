//! The server's integration tests, in one binary: the API in process (and what the dashboard
//! reads), MCP over HTTP on a real port, and the OpenAPI document.

mod api;
mod approvals;
mod dashboard;
mod mcp;
mod openapi;
mod tiles;
