//! The texts of the policies the log records, in PostgreSQL (see [`crate::PolicyStore`]).

use super::PostgresStore;
use crate::{PolicyStore, StoreError};

impl PolicyStore for PostgresStore {
    fn put_policy(&mut self, sha256: &str, text: &str) -> Result<(), StoreError> {
        self.conn_mut().client.execute(
            "INSERT INTO policies (sha256, text) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&sha256, &text],
        )?;
        Ok(())
    }

    fn policy_text(&self, sha256: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .client
            .query_opt("SELECT text FROM policies WHERE sha256 = $1", &[&sha256])?
            .map(|row| row.try_get(0))
            .transpose()?)
    }
}
