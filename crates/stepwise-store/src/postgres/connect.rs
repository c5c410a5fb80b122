//! Where a connection goes, for error messages (never the password).

use postgres::Config;

/// What went wrong while connecting, with where to (never the password).
#[derive(Debug, thiserror::Error)]
#[error("could not connect to PostgreSQL at {target}")]
pub(super) struct ConnectError {
    pub(super) target: String,
    #[source]
    pub(super) source: postgres::Error,
}

/// `user@host:port/dbname`, for error messages.
pub(super) fn describe(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    format!(
        "{}@{}:{}/{}",
        config.get_user().unwrap_or("(default user)"),
        if hosts.is_empty() {
            "(default host)".to_owned()
        } else {
            hosts.join(",")
        },
        if ports.is_empty() {
            "5432".to_owned()
        } else {
            ports.join(",")
        },
        config.get_dbname().unwrap_or("(default database)")
    )
}
