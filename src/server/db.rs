//! One pool type for both databases: sqlx's `Any` driver, chosen at run time from
//! the URL. Queries stick to what both dialects share (`$n` placeholders,
//! BIGINT/TEXT columns, `RETURNING`).

pub use crate::tokens::changes::AccessChanges;
use crate::tokens::changes::{changes_between, AuthScope};
use sqlx::any::{AnyPoolOptions, AnyQueryResult};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Executor, Transaction};
use std::str::FromStr;
use std::time::Duration;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The pool, and this instance's record of changes that can alter an
/// access decision.
#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    pub changes: AccessChanges,
}

/// How many epochs of `auth_changes` the clean-up keeps.
const AUTH_CHANGES_KEPT: i64 = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("unsupported database URL (use sqlite:// or postgres://)")]
    UnsupportedUrl,
    #[error("could not create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("could not connect to the database: {0}")]
    Connect(sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    #[error("could not read or make the deployment's signing keys: {0}")]
    Keys(sqlx::Error),
}

impl Db {
    pub async fn connect(url: &str) -> Result<Self, DbSetupError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(DbSetupError::UnsupportedUrl);
        };
        let options = sqlx::any::AnyConnectOptions::from_str(url).map_err(DbSetupError::Connect)?;
        let pool = match backend {
            Backend::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // WAL lets readers run beside the one writer; foreign keys are
                            // off by default in SQLite.
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                                 PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await
            }
        }
        .map_err(DbSetupError::Connect)?;
        Ok(Db {
            pool,
            backend,
            changes: AccessChanges::default(),
        })
    }

    pub async fn migrate(&self) -> Result<(), DbSetupError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&self.pool)
            .await
            .map_err(DbSetupError::Migrate)
    }

    /// Commits a change that can alter an access decision (a token's state, a
    /// user's standing, a membership) and, before answering, makes the
    /// answers it reaches stale on this instance. Other instances follow
    /// through `auth_changes` (notified on PostgreSQL, polled on both).
    pub async fn commit_auth_change(&self, tx: Transaction<'_, Any>) -> Result<(), sqlx::Error> {
        tx.commit().await?;
        self.follow_auth_changes().await;
        Ok(())
    }

    /// Notes every change committed since the last look, by anyone: exactly
    /// what each was about when the log tells, everything when it cannot
    /// (the first look, a read that failed, rows already pruned). Answers
    /// whether the database could be read.
    pub async fn follow_auth_changes(&self) -> bool {
        let mut seen = self.changes.seen_epoch().await;
        match self.auth_changes_since(*seen).await {
            Ok((epoch, scopes)) => {
                self.changes.note(scopes);
                *seen = Some(epoch);
                true
            }
            Err(err) => {
                tracing::warn!(error = %err, "could not read auth changes; dropping cached token checks");
                // The epoch seen stays: answers cached from now on were read
                // after this, so the changes above it are all they can miss.
                self.changes.note_everything();
                false
            }
        }
    }

    async fn auth_changes_since(
        &self,
        seen: Option<i64>,
    ) -> Result<(i64, Vec<AuthScope>), sqlx::Error> {
        // The epoch first: every row at or below it was committed before it
        // could be read, so the second read finds them all.
        let epoch = self.auth_epoch().await?;
        let scopes = match seen {
            Some(seen) if seen == epoch => Vec::new(),
            Some(seen) if seen < epoch => {
                let rows: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT epoch, scope FROM auth_changes WHERE epoch > $1 AND epoch <= $2 \
                     ORDER BY epoch",
                )
                .bind(seen)
                .bind(epoch)
                .fetch_all(&self.pool)
                .await?;
                changes_between(seen, epoch, &rows)
            }
            // The first look, or an epoch that went back (a restored backup).
            _ => vec![AuthScope::Everything],
        };
        Ok((epoch, scopes))
    }

    /// Forgets change rows far older than any instance still needs; one that
    /// fell that far behind drops its whole cache instead.
    pub async fn prune_auth_changes(&self) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "DELETE FROM auth_changes WHERE epoch < (SELECT value FROM auth_epoch WHERE id = 1) - $1",
        )
        .bind(AUTH_CHANGES_KEPT)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The database's change counter for token checks (moved by triggers).
    pub async fn auth_epoch(&self) -> Result<i64, sqlx::Error> {
        let (value,): (i64,) = sqlx::query_as("SELECT value FROM auth_epoch WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(value)
    }

    /// The deployment's key called `name`, made (32 random bytes) by whichever
    /// instance asks first; every instance on this database gets the same.
    pub async fn server_key(&self, name: &str) -> Result<Vec<u8>, sqlx::Error> {
        use rand::RngCore;
        let mut fresh = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut fresh);
        let fresh = hex::encode(fresh);
        sqlx::query(
            "INSERT INTO server_keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(fresh)
        .execute(&self.pool)
        .await?;
        let (value,): (String,) = sqlx::query_as("SELECT value FROM server_keys WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        hex::decode(&value)
            .ok()
            .filter(|key| key.len() == 32)
            .ok_or_else(|| {
                sqlx::Error::Decode(format!("server key {name} is not 64 hex digits").into())
            })
    }

    /// Runs `job` unless another instance is running the same job right now:
    /// on PostgreSQL under a session advisory lock named by `key`; on SQLite
    /// (one machine, one file) always. Answers whether it ran.
    pub async fn exclusively<F>(&self, key: i64, job: F) -> Result<bool, sqlx::Error>
    where
        F: std::future::Future<Output = ()>,
    {
        if self.backend == Backend::Sqlite {
            job.await;
            return Ok(true);
        }
        let mut holder = self.pool.acquire().await?;
        let (locked,): (i64,) =
            sqlx::query_as("SELECT CASE WHEN pg_try_advisory_lock($1) THEN 1 ELSE 0 END::bigint")
                .bind(key)
                .fetch_one(&mut *holder)
                .await?;
        if locked == 0 {
            return Ok(false);
        }
        job.await;
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(key)
            .execute(&mut *holder)
            .await?;
        Ok(true)
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_: AnyQueryResult| ())
    }
}

/// The SQLite URL for a file in the data directory, creating the directory.
pub fn sqlite_url_in(data_dir: &std::path::Path) -> Result<String, DbSetupError> {
    std::fs::create_dir_all(data_dir).map_err(|source| DbSetupError::DataDir {
        path: data_dir.display().to_string(),
        source,
    })?;
    Ok(format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("latchkey.db").display()
    ))
}

/// Whether an error is a unique-constraint violation, told by the driver's error
/// kind rather than by matching message text.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
