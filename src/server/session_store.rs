//! A tower-sessions store on our own pool, so SQLite and PostgreSQL deployments
//! share one implementation and several instances share sessions.
//!
//! Rows are keyed by the SHA-256 digest of the session id, so the table holds
//! nothing a cookie could be made from. A few values of the session's data are
//! mirrored into columns for the person's Sessions list.

use super::db::{now, Db};
use super::request::{
    SESSION_IP_KEY, SESSION_SEEN_AT_KEY, SESSION_USER_AGENT_KEY, SESSION_USER_KEY,
};
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

#[derive(Clone, Debug)]
pub struct DbSessionStore {
    db: Db,
}

/// The key a session's row is stored under.
pub fn session_key(id: &Id) -> String {
    hex::encode(Sha256::digest(id.to_string().as_bytes()))
}

impl DbSessionStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn delete_expired(&self) -> Result<u64, sqlx::Error> {
        let res = sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now())
            .execute(&self.db.pool)
            .await?;
        Ok(res.rows_affected())
    }
}

fn backend(err: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

/// The columns mirrored from a record's data.
struct Mirrored {
    data: String,
    user_id: Option<i64>,
    seen_at: i64,
    user_agent: String,
    ip: String,
}

impl Mirrored {
    fn of(record: &Record) -> session_store::Result<Self> {
        let data = serde_json::to_string(&record.data)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let text = |key: &str| {
            record
                .data
                .get(key)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        Ok(Self {
            data,
            user_id: record.data.get(SESSION_USER_KEY).and_then(|v| v.as_i64()),
            seen_at: record
                .data
                .get(SESSION_SEEN_AT_KEY)
                .and_then(|v| v.as_i64())
                .unwrap_or_else(now),
            user_agent: text(SESSION_USER_AGENT_KEY),
            ip: text(SESSION_IP_KEY),
        })
    }
}

fn new_handle() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let row = Mirrored::of(record)?;
        // Ids are 128 random bits; on the astronomically unlikely clash, draw again.
        loop {
            let res = sqlx::query(
                "INSERT INTO sessions (id, handle, data, expires_at, user_id, created_at, \
                 last_seen_at, user_agent, ip) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(session_key(&record.id))
            .bind(new_handle())
            .bind(&row.data)
            .bind(record.expiry_date.unix_timestamp())
            .bind(row.user_id)
            .bind(now())
            .bind(row.seen_at)
            .bind(&row.user_agent)
            .bind(&row.ip)
            .execute(&self.db.pool)
            .await
            .map_err(backend)?;
            if res.rows_affected() == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    /// Updates only: a session signed out elsewhere (its row deleted) while
    /// this request ran must stay signed out, not come back.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let row = Mirrored::of(record)?;
        sqlx::query(
            "UPDATE sessions SET data = $2, expires_at = $3, user_id = $4, last_seen_at = $5, \
             user_agent = $6, ip = $7 WHERE id = $1",
        )
        .bind(session_key(&record.id))
        .bind(&row.data)
        .bind(record.expiry_date.unix_timestamp())
        .bind(row.user_id)
        .bind(row.seen_at)
        .bind(&row.user_agent)
        .bind(&row.ip)
        .execute(&self.db.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2",
        )
        .bind(session_key(id))
        .bind(now())
        .fetch_optional(&self.db.pool)
        .await
        .map_err(backend)?;
        let Some((data, expires_at)) = row else {
            return Ok(None);
        };
        let data =
            serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date = time::OffsetDateTime::from_unix_timestamp(expires_at)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(session_key(id))
            .execute(&self.db.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
