//! SQLite persistence (WAL). Every acknowledged guest message is committed here before the
//! gateway echoes it, so a `kill -9` loses nothing the client saw confirmed.
//!
//! Hot-path writes (inbound messages, session and conversation rows) go through one writer
//! thread that commits whatever is pending as one transaction (group commit) and only then
//! reports each write's outcome, so callers never hold their own locks across SQLite. Writes
//! are applied in the order they were queued, so an acknowledged message also implies every
//! session/conversation write queued before it is durable. Every direct operation on the
//! connection first waits until the writes queued before it are committed (read-your-writes).
//! WAL checkpoints (the only `fsync`s with `synchronous=NORMAL`) run on a thread of their own,
//! never on the commit path.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use crate::domain::deployment::DeploymentSettings;
use crate::domain::session::{Conversation, ConversationState, Session};

/// A storage failure (the gateway's fault, not the client's).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("stored JSON is corrupt: {0}")]
    Json(#[from] serde_json::Error),
    /// The group transaction a queued write belonged to failed to commit.
    #[error("database commit failed: {0}")]
    Commit(String),
    /// The writer thread has stopped (the store is shutting down).
    #[error("the database writer has stopped")]
    WriterStopped,
    #[error("cannot start the database writer thread: {0}")]
    Thread(std::io::Error),
}

/// Told the outcome of a queued write once its transaction committed (or failed). Runs on the
/// writer thread: it must be quick and must not call back into the [`Store`].
pub type Committed = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// A queued write, run inside the writer's next transaction (under its own savepoint, so a
/// failing write leaves no half of itself behind and does not fail its neighbours).
type WriteOp = Box<dyn FnOnce(&Connection) -> Result<(), StoreError> + Send>;

struct Job {
    op: WriteOp,
    done: Option<Committed>,
    /// What to log if a fire-and-forget write fails.
    what: &'static str,
}

/// Most writes committed in one transaction (bounds how long one commit can take).
const MAX_BATCH: usize = 1024;

#[derive(Default)]
struct QueueState {
    jobs: VecDeque<Job>,
    /// Writes ever queued / ever finished (committed or failed), in queue order.
    queued: u64,
    finished: u64,
    stopping: bool,
    /// The writer thread is gone: nothing queued from now on would ever finish.
    stopped: bool,
}

#[derive(Default)]
struct WriteQueue {
    state: Mutex<QueueState>,
    /// The writer waits here for work.
    work: Condvar,
    /// Callers of [`WriteQueue::wait_until_drained`] wait here.
    finished: Condvar,
}

impl WriteQueue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn push(&self, job: Job) {
        let mut state = self.lock();
        if state.stopped {
            drop(state);
            if let Some(done) = job.done {
                done(Err(StoreError::WriterStopped));
            }
            return;
        }
        state.jobs.push_back(job);
        state.queued += 1;
        drop(state);
        self.work.notify_one();
    }

    /// Blocks until there is work; `None` once stopping and drained.
    fn take_batch(&self) -> Option<Vec<Job>> {
        let mut state = self.lock();
        loop {
            if !state.jobs.is_empty() {
                let count = state.jobs.len().min(MAX_BATCH);
                return Some(state.jobs.drain(..count).collect());
            }
            if state.stopping {
                return None;
            }
            state = self
                .work
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    fn mark_finished(&self, count: usize) {
        self.lock().finished += count as u64;
        self.finished.notify_all();
    }

    /// Waits until every write queued before this call has finished.
    fn wait_until_drained(&self) {
        let mut state = self.lock();
        let target = state.queued;
        while state.finished < target && !state.stopped {
            state = self
                .finished
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

/// Wakes the checkpoint thread when commits have added WAL frames.
#[derive(Default)]
struct CheckpointSignal {
    dirty: AtomicBool,
    stop: Mutex<bool>,
    wake: Condvar,
}

/// How often the WAL is folded back into the database file while there are new commits.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// The writer thread: group commits until the queue is stopped and drained.
fn run_writer(connection: Arc<Mutex<Connection>>, queue: Arc<WriteQueue>, signal: Arc<CheckpointSignal>) {
    while let Some(batch) = queue.take_batch() {
        let count = batch.len();
        let mut outcomes: Vec<(Option<Committed>, &'static str, Result<(), StoreError>)> =
            Vec::with_capacity(count);
        let commit = {
            let mut connection = connection
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            apply_batch(&mut connection, batch, &mut outcomes)
        };
        if let Err(error) = &commit {
            tracing::error!(%error, writes = count, "group commit failed");
        }
        queue.mark_finished(count);
        signal.dirty.store(true, Ordering::Release);
        for (done, what, outcome) in outcomes {
            let outcome = match (&commit, outcome) {
                (Err(error), _) => Err(StoreError::Commit(error.to_string())),
                (Ok(()), outcome) => outcome,
            };
            match done {
                Some(done) => done(outcome),
                None => {
                    if let Err(error) = outcome {
                        tracing::error!(%error, "failed to persist {what}");
                    }
                }
            }
        }
    }
    queue.lock().stopped = true;
    queue.finished.notify_all();
}

/// Runs each write under its own savepoint inside one transaction, then commits once.
fn apply_batch(
    connection: &mut Connection,
    batch: Vec<Job>,
    outcomes: &mut Vec<(Option<Committed>, &'static str, Result<(), StoreError>)>,
) -> Result<(), rusqlite::Error> {
    let mut transaction = match connection.transaction() {
        Ok(transaction) => transaction,
        Err(error) => {
            for job in batch {
                outcomes.push((job.done, job.what, Ok(())));
            }
            return Err(error);
        }
    };
    for job in batch {
        let outcome = match transaction.savepoint() {
            Ok(savepoint) => match (job.op)(&savepoint) {
                Ok(()) => savepoint.commit().map_err(StoreError::from),
                // Dropping the savepoint rolls this write back.
                Err(error) => Err(error),
            },
            Err(error) => Err(error.into()),
        };
        outcomes.push((job.done, job.what, outcome));
    }
    transaction.commit()
}

/// The checkpoint thread: a PASSIVE checkpoint (never blocks the writer) after new commits.
fn run_checkpointer(path: PathBuf, signal: Arc<CheckpointSignal>) {
    let connection = match Connection::open(&path) {
        Ok(connection) => connection,
        Err(error) => {
            tracing::error!(%error, "cannot open the checkpoint connection; the WAL will only be folded back at shutdown");
            return;
        }
    };
    let _ = connection.busy_timeout(Duration::from_secs(5));
    loop {
        let stop = signal
            .stop
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (stop, _) = signal
            .wake
            .wait_timeout(stop, CHECKPOINT_EVERY)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if *stop {
            return;
        }
        drop(stop);
        if signal.dirty.swap(false, Ordering::AcqRel) {
            if let Err(error) =
                connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            {
                tracing::warn!(%error, "WAL checkpoint failed (retried after the next commit)");
            }
        }
    }
}

/// One uploaded (or announced) guest attachment.
#[derive(Clone, Debug)]
pub struct AttachmentRecord {
    pub id: String,
    pub session_id: String,
    pub deployment_id: String,
    pub token: String,
    pub file_name: String,
    pub mime: String,
    pub declared_size: u64,
    pub tagging: String,
    pub uploaded: bool,
    pub size: u64,
    pub created_ms: u64,
}

/// One sign-in: the exchange of an IdP code or id token for Web Messaging tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantRecord {
    pub id: String,
    pub deployment_id: String,
    pub sub: String,
    pub created_ms: u64,
    /// SHA-256 (hex) of the refresh token; `None` for the implicit flow.
    pub refresh_hash: Option<String>,
    pub refresh_expires_ms: u64,
    /// The refresh token no longer works (control API), JWTs still do until they expire.
    pub refresh_revoked: bool,
    /// Signed out: neither the JWTs nor the refresh token work.
    pub revoked: bool,
}

/// Adds `column` to `table` unless it exists (schema upgrade of an older data directory).
fn add_column_if_missing(
    connection: &Connection,
    table: &str,
    column: &str,
    declaration: &str,
) -> Result<(), StoreError> {
    let mut statement = connection.prepare(&format!("PRAGMA table_info({table})"))?;
    let exists = statement
        .query_map([], |row| row.get::<_, String>(1))?
        .filter_map(Result::ok)
        .any(|name| name == column);
    if !exists {
        connection.execute_batch(&format!(
            "ALTER TABLE {table} ADD COLUMN {column} {declaration}"
        ))?;
    }
    Ok(())
}

/// The gateway's database.
pub struct Store {
    connection: Arc<Mutex<Connection>>,
    queue: Arc<WriteQueue>,
    checkpoint: Arc<CheckpointSignal>,
    threads: Vec<JoinHandle<()>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deployments (
  id TEXT PRIMARY KEY, ordinal INTEGER NOT NULL, settings TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  deployment_id TEXT NOT NULL, token TEXT NOT NULL, session_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL, settings TEXT NOT NULL, created_ms INTEGER NOT NULL,
  last_active_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, read_only INTEGER NOT NULL,
  expired INTEGER NOT NULL, authenticated INTEGER NOT NULL, custom_attributes TEXT NOT NULL,
  PRIMARY KEY (deployment_id, token));
CREATE TABLE IF NOT EXISTS conversations (
  id TEXT PRIMARY KEY, deployment_id TEXT NOT NULL, token TEXT NOT NULL, session_id TEXT NOT NULL,
  state TEXT NOT NULL, agent TEXT, queue TEXT NOT NULL, created_ms INTEGER NOT NULL,
  ended_ms INTEGER, last_activity_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, session_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL, deployment_id TEXT NOT NULL, time_ms INTEGER NOT NULL,
  body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS messages_by_session ON messages (session_id, seq);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages (conversation_id, seq);
CREATE TABLE IF NOT EXISTS auth_grants (
  id TEXT PRIMARY KEY, deployment_id TEXT NOT NULL, sub TEXT NOT NULL, created_ms INTEGER NOT NULL,
  refresh_hash TEXT, refresh_expires_ms INTEGER NOT NULL, refresh_revoked INTEGER NOT NULL,
  revoked INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS auth_grants_by_refresh ON auth_grants (refresh_hash);
CREATE TABLE IF NOT EXISTS auth_tokens (
  deployment_id TEXT NOT NULL, token TEXT NOT NULL, PRIMARY KEY (deployment_id, token));
CREATE TABLE IF NOT EXISTS contacts (sub TEXT PRIMARY KEY, curated INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS attachments (
  id TEXT PRIMARY KEY, session_id TEXT NOT NULL, deployment_id TEXT NOT NULL, token TEXT NOT NULL,
  file_name TEXT NOT NULL, mime TEXT NOT NULL, declared_size INTEGER NOT NULL, tagging TEXT NOT NULL,
  uploaded INTEGER NOT NULL, size INTEGER NOT NULL, created_ms INTEGER NOT NULL, data BLOB);
";

impl Store {
    /// Opens (or creates) `gateway.sqlite3` under `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        let path = data_dir.join("gateway.sqlite3");
        let connection = Connection::open(&path)?;
        // WAL + NORMAL: a committed transaction survives a process kill (not necessarily a power cut).
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        // Checkpoints (and their fsync) belong to the checkpoint thread, not to commits.
        connection.pragma_update(None, "wal_autocheckpoint", 0)?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        connection.execute_batch(SCHEMA)?;
        // Columns added after the first release: data directories of older gateways get them here.
        add_column_if_missing(&connection, "sessions", "user_sub", "TEXT")?;
        add_column_if_missing(&connection, "conversations", "user_sub", "TEXT")?;
        for user in crate::domain::idp::DEMO_USERS {
            connection.execute(
                "INSERT OR IGNORE INTO contacts (sub, curated) VALUES (?1, ?2)",
                params![user.sub, user.curated],
            )?;
        }
        let connection = Arc::new(Mutex::new(connection));
        let queue = Arc::new(WriteQueue::default());
        let checkpoint = Arc::new(CheckpointSignal::default());
        let mut store = Self {
            connection: connection.clone(),
            queue: queue.clone(),
            checkpoint: checkpoint.clone(),
            threads: Vec::new(),
        };
        let writer = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn({
                let checkpoint = checkpoint.clone();
                move || run_writer(connection, queue, checkpoint)
            })
            .map_err(StoreError::Thread)?;
        store.threads.push(writer);
        let checkpointer = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run_checkpointer(path, checkpoint))
            .map_err(StoreError::Thread)?;
        store.threads.push(checkpointer);
        Ok(store)
    }

    /// The connection, once every write queued before this call is committed.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.queue.wait_until_drained();
        // A panic while holding the lock cannot leave SQLite half-written (transactions roll back).
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a write for the writer thread's next group commit.
    fn queue_write(&self, what: &'static str, op: WriteOp, done: Option<Committed>) {
        self.queue.push(Job { op, done, what });
    }

    /// Queues an insert-or-replace of a session row (failures are logged).
    pub fn queue_session(&self, session: Session) {
        self.queue_write(
            "a session",
            Box::new(move |connection| write_session(connection, &session)),
            None,
        );
    }

    /// Queues an insert-or-replace of a conversation row (failures are logged).
    pub fn queue_conversation(&self, conversation: Conversation) {
        self.queue_write(
            "a conversation",
            Box::new(move |connection| write_conversation(connection, &conversation)),
            None,
        );
    }

    /// Queues an inbound guest message together with the session's new activity, expiry and
    /// custom attributes; `done` hears the outcome once it is committed (echo only then).
    pub fn queue_inbound(
        &self,
        session: Session,
        message_id: String,
        time_ms: u64,
        body: String,
        done: Committed,
    ) {
        self.queue_write(
            "an inbound message",
            Box::new(move |connection| {
                write_inbound(connection, &session, &message_id, time_ms, &body)
            }),
            Some(done),
        );
    }

    /// Reads a value from the key/value table.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .lock()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .optional()?)
    }

    /// Writes a value to the key/value table.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
            [key, value],
        )?;
        Ok(())
    }

    /// All deployments in listing order.
    pub fn deployments(&self) -> Result<Vec<(String, i64, DeploymentSettings)>, StoreError> {
        let connection = self.lock();
        let mut statement =
            connection.prepare("SELECT id, ordinal, settings FROM deployments ORDER BY ordinal")?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
            ))
        })?;
        let mut deployments = Vec::new();
        for row in rows {
            let (id, ordinal, text) = row?;
            match serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|json| DeploymentSettings::from_json(json).ok())
            {
                Some(settings) => deployments.push((id, ordinal, settings)),
                None => {
                    tracing::warn!(deployment = %id, "skipping a stored deployment whose settings no longer parse")
                }
            }
        }
        Ok(deployments)
    }

    /// Inserts or replaces a deployment.
    pub fn save_deployment(
        &self,
        id: &str,
        ordinal: i64,
        settings: &DeploymentSettings,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(settings)?;
        self.lock().execute(
            "INSERT OR REPLACE INTO deployments (id, ordinal, settings) VALUES (?1, ?2, ?3)",
            params![id, ordinal, text],
        )?;
        Ok(())
    }

    /// Every stored session (sockets and rate windows start empty).
    pub fn sessions(&self) -> Result<Vec<Session>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT deployment_id, token, session_id, conversation_id, settings, created_ms, last_active_ms,
                    expires_ms, read_only, expired, authenticated, custom_attributes, user_sub FROM sessions",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, i64>(5)?,
                row.get::<_, i64>(6)?,
                row.get::<_, i64>(7)?,
                row.get::<_, bool>(8)?,
                row.get::<_, bool>(9)?,
                row.get::<_, bool>(10)?,
                row.get::<_, String>(11)?,
                row.get::<_, Option<String>>(12)?,
            ))
        })?;
        let mut sessions = Vec::new();
        for row in rows {
            let (
                deployment_id,
                token,
                session_id,
                conversation_id,
                settings,
                created,
                active,
                expires,
                read_only,
                expired,
                authenticated,
                attributes,
                user,
            ) = row?;
            let Some(settings) = serde_json::from_str::<Value>(&settings)
                .ok()
                .and_then(|json| DeploymentSettings::from_json(json).ok())
            else {
                tracing::warn!(%session_id, "skipping a stored session whose settings no longer parse");
                continue;
            };
            sessions.push(Session {
                session_id,
                deployment_id,
                token,
                conversation_id,
                settings,
                created_ms: created.max(0) as u64,
                last_active_ms: active.max(0) as u64,
                expires_ms: expires.max(0) as u64,
                read_only,
                expired,
                authenticated,
                user,
                custom_attributes: serde_json::from_str(&attributes).unwrap_or_default(),
                sockets: Vec::new(),
                recent_sends: Default::default(),
            });
        }
        Ok(sessions)
    }

    /// Inserts or replaces the session stored for its (deployment, token).
    pub fn save_session(&self, session: &Session) -> Result<(), StoreError> {
        write_session(&self.lock(), session)
    }

    /// Forgets a session row but keeps its messages (an authenticated session moved to another
    /// token, or replaced: its conversation stays in the customer's history).
    pub fn delete_session_row(&self, deployment_id: &str, token: &str) -> Result<(), StoreError> {
        self.lock().execute(
            "DELETE FROM sessions WHERE deployment_id = ?1 AND token = ?2",
            [deployment_id, token],
        )?;
        Ok(())
    }

    /// Forgets a session and its guest-visible history (conversation clear).
    pub fn delete_session(
        &self,
        deployment_id: &str,
        token: &str,
        session_id: &str,
    ) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        transaction.execute(
            "DELETE FROM sessions WHERE deployment_id = ?1 AND token = ?2",
            [deployment_id, token],
        )?;
        transaction.execute("DELETE FROM messages WHERE session_id = ?1", [session_id])?;
        transaction.execute(
            "DELETE FROM attachments WHERE session_id = ?1",
            [session_id],
        )?;
        transaction.commit()?;
        Ok(())
    }

    /// Every stored conversation.
    pub fn conversations(&self) -> Result<Vec<Conversation>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT id, deployment_id, token, session_id, state, agent, queue, created_ms, ended_ms, last_activity_ms, user_sub FROM conversations",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(Conversation {
                id: row.get(0)?,
                deployment_id: row.get(1)?,
                token: row.get(2)?,
                session_id: row.get(3)?,
                state: ConversationState::parse(&row.get::<_, String>(4)?),
                agent: row.get(5)?,
                queue: row.get(6)?,
                created_ms: row.get::<_, i64>(7)?.max(0) as u64,
                ended_ms: row
                    .get::<_, Option<i64>>(8)?
                    .map(|ended| ended.max(0) as u64),
                last_activity_ms: row.get::<_, i64>(9)?.max(0) as u64,
                user: row.get(10)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Inserts or replaces a conversation.
    pub fn save_conversation(&self, conversation: &Conversation) -> Result<(), StoreError> {
        write_conversation(&self.lock(), conversation)
    }

    /// Appends a message body (a `StructuredMessage` body) and commits it.
    pub fn insert_message(
        &self,
        session: &Session,
        message_id: &str,
        time_ms: u64,
        body: &Value,
    ) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO messages (id, session_id, conversation_id, deployment_id, time_ms, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                message_id,
                session.session_id,
                session.conversation_id,
                session.deployment_id,
                time_ms as i64,
                body.to_string()
            ],
        )?;
        Ok(())
    }

    /// One history page for a session, newest first, plus the total count.
    pub fn history_page(
        &self,
        session_id: &str,
        page_number: u64,
        page_size: u64,
    ) -> Result<(Vec<Value>, u64), StoreError> {
        let connection = self.lock();
        let total: i64 = connection.query_row(
            "SELECT COUNT(*) FROM messages WHERE session_id = ?1",
            [session_id],
            |row| row.get(0),
        )?;
        let offset = page_number.saturating_sub(1).saturating_mul(page_size);
        let mut statement = connection.prepare(
            "SELECT body FROM messages WHERE session_id = ?1 ORDER BY seq DESC LIMIT ?2 OFFSET ?3",
        )?;
        let bodies = statement
            .query_map(
                params![
                    session_id,
                    page_size.min(i64::MAX as u64) as i64,
                    offset.min(i64::MAX as u64) as i64
                ],
                |row| row.get::<_, String>(0),
            )?
            .filter_map(|text| text.ok().and_then(|text| serde_json::from_str(&text).ok()))
            .collect();
        Ok((bodies, total.max(0) as u64))
    }

    /// A conversation's message bodies, oldest first.
    pub fn transcript(&self, conversation_id: &str) -> Result<Vec<Value>, StoreError> {
        let connection = self.lock();
        let mut statement = connection
            .prepare("SELECT body FROM messages WHERE conversation_id = ?1 ORDER BY seq")?;
        let bodies = statement
            .query_map([conversation_id], |row| row.get::<_, String>(0))?
            .filter_map(|text| text.ok().and_then(|text| serde_json::from_str(&text).ok()))
            .collect();
        Ok(bodies)
    }

    /// Retention for one deployment: messages of curated contacts' conversations older than
    /// `curated_cutoff_ms` go, every other message older than `default_cutoff_ms` goes.
    /// Returns how many went.
    pub fn purge_messages_before(
        &self,
        deployment_id: &str,
        default_cutoff_ms: u64,
        curated_cutoff_ms: u64,
    ) -> Result<usize, StoreError> {
        let clamp = |ms: u64| ms.min(i64::MAX as u64) as i64;
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        let mut purged = transaction.execute(
            "DELETE FROM messages WHERE deployment_id = ?1 AND time_ms < ?2 AND conversation_id NOT IN
               (SELECT c.id FROM conversations c JOIN contacts k ON k.sub = c.user_sub WHERE k.curated = 1)",
            params![deployment_id, clamp(default_cutoff_ms)],
        )?;
        purged += transaction.execute(
            "DELETE FROM messages WHERE deployment_id = ?1 AND time_ms < ?2",
            params![deployment_id, clamp(curated_cutoff_ms)],
        )?;
        transaction.commit()?;
        Ok(purged)
    }

    // ----- authentication ----------------------------------------------------------------

    /// Records a sign-in (grant); `refresh_hash` is the SHA-256 of its refresh token, if any.
    pub fn insert_grant(&self, grant: &GrantRecord) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO auth_grants (id, deployment_id, sub, created_ms, refresh_hash, refresh_expires_ms, refresh_revoked, revoked)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                grant.id,
                grant.deployment_id,
                grant.sub,
                grant.created_ms as i64,
                grant.refresh_hash,
                grant.refresh_expires_ms.min(i64::MAX as u64) as i64,
                grant.refresh_revoked,
                grant.revoked
            ],
        )?;
        Ok(())
    }

    fn grant_where(&self, clause: &str, key: &str) -> Result<Option<GrantRecord>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                &format!(
                    "SELECT id, deployment_id, sub, created_ms, refresh_hash, refresh_expires_ms, refresh_revoked, revoked
                     FROM auth_grants WHERE {clause} = ?1"
                ),
                [key],
                |row| {
                    Ok(GrantRecord {
                        id: row.get(0)?,
                        deployment_id: row.get(1)?,
                        sub: row.get(2)?,
                        created_ms: row.get::<_, i64>(3)?.max(0) as u64,
                        refresh_hash: row.get(4)?,
                        refresh_expires_ms: row.get::<_, i64>(5)?.max(0) as u64,
                        refresh_revoked: row.get(6)?,
                        revoked: row.get(7)?,
                    })
                },
            )
            .optional()?)
    }

    /// A grant by id.
    pub fn grant(&self, id: &str) -> Result<Option<GrantRecord>, StoreError> {
        self.grant_where("id", id)
    }

    /// The grant whose refresh token hashes to `refresh_hash`.
    pub fn grant_by_refresh_hash(
        &self,
        refresh_hash: &str,
    ) -> Result<Option<GrantRecord>, StoreError> {
        self.grant_where("refresh_hash", refresh_hash)
    }

    /// Signs a grant out: its JWTs and refresh token stop working.
    pub fn revoke_grant(&self, id: &str) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE auth_grants SET revoked = 1, refresh_revoked = 1 WHERE id = ?1",
            [id],
        )?;
        Ok(())
    }

    /// Revokes every refresh token of `sub` (optionally in one deployment); returns how many.
    pub fn revoke_refresh_tokens(
        &self,
        sub: &str,
        deployment_id: Option<&str>,
    ) -> Result<usize, StoreError> {
        Ok(self.lock().execute(
            "UPDATE auth_grants SET refresh_revoked = 1
             WHERE sub = ?1 AND (?2 IS NULL OR deployment_id = ?2) AND refresh_hash IS NOT NULL AND refresh_revoked = 0",
            params![sub, deployment_id],
        )?)
    }

    /// Remembers that a token was authenticated (a guest configure on it is refused with 4017).
    pub fn mark_token_authenticated(
        &self,
        deployment_id: &str,
        token: &str,
    ) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT OR IGNORE INTO auth_tokens (deployment_id, token) VALUES (?1, ?2)",
            [deployment_id, token],
        )?;
        Ok(())
    }

    /// Every token that was ever authenticated, as (deployment, token).
    pub fn authenticated_tokens(&self) -> Result<Vec<(String, String)>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare("SELECT deployment_id, token FROM auth_tokens")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Sets a contact's `curated` flag (long retention).
    pub fn set_curated(&self, sub: &str, curated: bool) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT OR REPLACE INTO contacts (sub, curated) VALUES (?1, ?2)",
            params![sub, curated],
        )?;
        Ok(())
    }

    /// Whether a contact is curated (unknown contacts are not).
    pub fn is_curated(&self, sub: &str) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT curated FROM contacts WHERE sub = ?1",
                [sub],
                |row| row.get::<_, bool>(0),
            )
            .optional()?
            .unwrap_or(false))
    }

    /// Records an announced (not yet uploaded) attachment.
    pub fn insert_attachment(&self, record: &AttachmentRecord) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT OR REPLACE INTO attachments (id, session_id, deployment_id, token, file_name, mime, declared_size,
               tagging, uploaded, size, created_ms, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, 0, ?9, NULL)",
            params![
                record.id,
                record.session_id,
                record.deployment_id,
                record.token,
                record.file_name,
                record.mime,
                record.declared_size as i64,
                record.tagging,
                record.created_ms as i64
            ],
        )?;
        Ok(())
    }

    /// Looks up an attachment's metadata.
    pub fn attachment(&self, id: &str) -> Result<Option<AttachmentRecord>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT id, session_id, deployment_id, token, file_name, mime, declared_size, tagging, uploaded, size, created_ms
                 FROM attachments WHERE id = ?1",
                [id],
                |row| {
                    Ok(AttachmentRecord {
                        id: row.get(0)?,
                        session_id: row.get(1)?,
                        deployment_id: row.get(2)?,
                        token: row.get(3)?,
                        file_name: row.get(4)?,
                        mime: row.get(5)?,
                        declared_size: row.get::<_, i64>(6)?.max(0) as u64,
                        tagging: row.get(7)?,
                        uploaded: row.get(8)?,
                        size: row.get::<_, i64>(9)?.max(0) as u64,
                        created_ms: row.get::<_, i64>(10)?.max(0) as u64,
                    })
                },
            )
            .optional()?)
    }

    /// Stores an attachment's bytes and marks it uploaded.
    pub fn store_attachment_data(&self, id: &str, data: &[u8]) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE attachments SET data = ?2, size = ?3, uploaded = 1 WHERE id = ?1",
            params![id, data, data.len() as i64],
        )?;
        Ok(())
    }

    /// An uploaded attachment's bytes.
    pub fn attachment_data(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT data FROM attachments WHERE id = ?1 AND uploaded = 1",
                [id],
                |row| row.get::<_, Option<Vec<u8>>>(0),
            )
            .optional()?
            .flatten())
    }

    /// Deletes an attachment; true if it existed.
    pub fn delete_attachment(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .execute("DELETE FROM attachments WHERE id = ?1", [id])?
            > 0)
    }
}

impl Drop for Store {
    /// Commits what is still queued, then stops both threads.
    fn drop(&mut self) {
        self.queue.lock().stopping = true;
        self.queue.work.notify_all();
        *self
            .checkpoint
            .stop
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = true;
        self.checkpoint.wake.notify_all();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn write_session(connection: &Connection, session: &Session) -> Result<(), StoreError> {
    let settings = serde_json::to_string(&session.settings)?;
    let attributes = serde_json::to_string(&session.custom_attributes)?;
    connection
        .prepare_cached(
            "INSERT OR REPLACE INTO sessions (deployment_id, token, session_id, conversation_id, settings,
               created_ms, last_active_ms, expires_ms, read_only, expired, authenticated, custom_attributes, user_sub)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?
        .execute(params![
            session.deployment_id,
            session.token,
            session.session_id,
            session.conversation_id,
            settings,
            session.created_ms as i64,
            session.last_active_ms as i64,
            session.expires_ms as i64,
            session.read_only,
            session.expired,
            session.authenticated,
            attributes,
            session.user
        ])?;
    Ok(())
}

fn write_conversation(connection: &Connection, conversation: &Conversation) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT OR REPLACE INTO conversations (id, deployment_id, token, session_id, state, agent, queue,
               created_ms, ended_ms, last_activity_ms, user_sub) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?
        .execute(params![
            conversation.id,
            conversation.deployment_id,
            conversation.token,
            conversation.session_id,
            conversation.state.as_str(),
            conversation.agent,
            conversation.queue,
            conversation.created_ms as i64,
            conversation.ended_ms.map(|ended| ended as i64),
            conversation.last_activity_ms as i64,
            conversation.user
        ])?;
    Ok(())
}

/// An inbound guest message plus the session's new activity, expiry and custom attributes.
fn write_inbound(
    connection: &Connection,
    session: &Session,
    message_id: &str,
    time_ms: u64,
    body: &str,
) -> Result<(), StoreError> {
    let attributes = serde_json::to_string(&session.custom_attributes)?;
    connection
        .prepare_cached(
            "INSERT INTO messages (id, session_id, conversation_id, deployment_id, time_ms, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            message_id,
            session.session_id,
            session.conversation_id,
            session.deployment_id,
            time_ms as i64,
            body
        ])?;
    connection
        .prepare_cached(
            "UPDATE sessions SET last_active_ms = ?3, expires_ms = ?4, custom_attributes = ?5
             WHERE deployment_id = ?1 AND token = ?2",
        )?
        .execute(params![
            session.deployment_id,
            session.token,
            session.last_active_ms as i64,
            session.expires_ms as i64,
            attributes
        ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_a_data_directory_of_an_older_gateway() {
        let dir = std::env::temp_dir().join(format!("threadline-store-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        {
            // The first schema: no user_sub columns.
            let old = Connection::open(dir.join("gateway.sqlite3")).unwrap();
            old.execute_batch(
                "CREATE TABLE sessions (deployment_id TEXT NOT NULL, token TEXT NOT NULL, session_id TEXT NOT NULL,
                   conversation_id TEXT NOT NULL, settings TEXT NOT NULL, created_ms INTEGER NOT NULL,
                   last_active_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, read_only INTEGER NOT NULL,
                   expired INTEGER NOT NULL, authenticated INTEGER NOT NULL, custom_attributes TEXT NOT NULL,
                   PRIMARY KEY (deployment_id, token));
                 CREATE TABLE conversations (id TEXT PRIMARY KEY, deployment_id TEXT NOT NULL, token TEXT NOT NULL,
                   session_id TEXT NOT NULL, state TEXT NOT NULL, agent TEXT, queue TEXT NOT NULL,
                   created_ms INTEGER NOT NULL, ended_ms INTEGER, last_activity_ms INTEGER NOT NULL);
                 INSERT INTO sessions VALUES ('d', 't', 's', 'c', '{}', 1, 1, 2, 0, 0, 0, '{}');
                 INSERT INTO conversations VALUES ('c', 'd', 't', 's', 'queued', NULL, 'General', 1, NULL, 1);",
            )
            .unwrap();
        }
        let store = Store::open(&dir).unwrap();
        let sessions = store.sessions().unwrap();
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0].user, None);
        assert_eq!(store.conversations().unwrap()[0].user, None);
        assert!(store.is_curated("alice").unwrap());
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
