//! The checkpoints the witnesses cosigned, in PostgreSQL (see [`crate::WitnessedStore`]).

use super::{PostgresStore, to_checkpoint};
use crate::{StoreError, StoredCheckpoint, WitnessedStore};

impl WitnessedStore for PostgresStore {
    fn put_witnessed(&mut self, checkpoint: &StoredCheckpoint) -> Result<(), StoreError> {
        let size = i64::try_from(checkpoint.size)
            .map_err(|_| StoreError::Corrupt(format!("size {}", checkpoint.size)))?;
        self.conn_mut().client.execute(
            "INSERT INTO witnessed (size, root, note) VALUES ($1, $2, $3) \
             ON CONFLICT (size) DO UPDATE SET note = excluded.note \
             WHERE witnessed.root = excluded.root",
            &[&size, &&checkpoint.root[..], &checkpoint.note],
        )?;
        Ok(())
    }

    fn latest_witnessed(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.conn()
            .client
            .query_opt(
                "SELECT size, root, note FROM witnessed ORDER BY size DESC LIMIT 1",
                &[],
            )?
            .as_ref()
            .map(to_checkpoint)
            .transpose()
    }
}
