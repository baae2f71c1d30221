//! `migration up|down|status|fresh`: run guildhall's migrations without the service.
use clap::{Parser, Subcommand};
use migration::{Migrator, MigratorTrait};
use sea_orm_migration::sea_orm::Database;

#[derive(Parser)]
#[command(about = "Apply or inspect guildhall's database migrations")]
struct Cli {
    /// Database URL (sqlite://... or postgres://...)
    #[arg(long, env = "AUTH_DATABASE_URL")]
    database_url: String,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply all pending migrations (the default)
    Up,
    /// Roll back the last migration
    Down,
    /// List applied and pending migrations
    Status,
    /// Drop every table and apply all migrations again
    Fresh,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let db = Database::connect(&cli.database_url).await?;
    match cli.command.unwrap_or(Command::Up) {
        Command::Up => Migrator::up(&db, None).await?,
        Command::Down => Migrator::down(&db, Some(1)).await?,
        Command::Status => Migrator::status(&db).await?,
        Command::Fresh => Migrator::fresh(&db).await?,
    }
    Ok(())
}
