//! The `ringbar` schema the bridge installs: versioned migrations, each
//! idempotent SQL, applied under an advisory lock so that several bridges
//! starting at once against one database apply each exactly once.
//! `ringbar sql schema` prints the same SQL for users who install it with
//! their own migration tool.

use tokio_postgres::Client;

/// The advisory lock key migrations run under (any constant of ours).
const MIGRATION_LOCK: i64 = 7_306_092_405_476_422_000;

/// What every version needs first: the schema and the table of applied
/// versions.
const HEADER: &str = "\
CREATE SCHEMA IF NOT EXISTS ringbar;
CREATE TABLE IF NOT EXISTS ringbar.migrations (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);
";

/// The migrations, in order: version `n` is `MIGRATIONS[n - 1]`.
const MIGRATIONS: [&str; 3] = [
    include_str!("sql/0001_outbox.sql"),
    include_str!("sql/0002_calls.sql"),
    include_str!("sql/0003_claims.sql"),
];

/// The whole schema as one SQL script, as `ringbar sql schema` prints it.
pub fn schema_sql() -> String {
    let mut sql = format!(
        "-- The ringbar schema of the PostgreSQL bridge (version {}).\n\
         -- Idempotent: run it again after an upgrade of ringbar.\n\
         BEGIN;\n\
         SELECT pg_advisory_xact_lock({MIGRATION_LOCK});\n{HEADER}",
        MIGRATIONS.len()
    );
    for (index, migration) in MIGRATIONS.iter().enumerate() {
        sql.push('\n');
        sql.push_str(migration);
        sql.push_str(&record(index + 1));
    }
    sql.push_str("COMMIT;\n");
    sql
}

/// Brings the schema up to date; the versions it applied.
pub(crate) async fn migrate(client: &mut Client) -> Result<Vec<usize>, tokio_postgres::Error> {
    let transaction = client.transaction().await?;
    transaction
        .batch_execute(&format!(
            "SET LOCAL client_min_messages = warning;\n\
             SELECT pg_advisory_xact_lock({MIGRATION_LOCK});\n{HEADER}"
        ))
        .await?;
    let applied: i32 = transaction
        .query_one(
            "SELECT coalesce(max(version), 0) FROM ringbar.migrations",
            &[],
        )
        .await?
        .get(0);
    let applied = usize::try_from(applied).unwrap_or(0);
    let mut versions = Vec::new();
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        let version = index + 1;
        transaction
            .batch_execute(&format!("{migration}{}", record(version)))
            .await?;
        versions.push(version);
    }
    transaction.commit().await?;
    Ok(versions)
}

/// The statement that records `version` as applied.
fn record(version: usize) -> String {
    format!("INSERT INTO ringbar.migrations (version) VALUES ({version}) ON CONFLICT DO NOTHING;\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_schema_holds_every_migration_in_a_transaction() {
        let sql = schema_sql();
        assert!(sql.contains("BEGIN;") && sql.trim_end().ends_with("COMMIT;"));
        assert!(sql.contains("CREATE OR REPLACE FUNCTION ringbar.publish("));
        assert!(sql.contains(&record(MIGRATIONS.len())));
    }
}
