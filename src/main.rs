//! The `guildhall` command: `serve` (the default), `migrate`, `keys rotate`, `keys rewrap`, `seed`.
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use guildhall::config::{self, Config, Settings};
use guildhall::service::seeding::SeedOptions;
use guildhall::startup::{self, Application};
use std::io::IsTerminal;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "guildhall", version, about = "Multi-tenant identity platform")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    settings: Settings,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default)
    Serve,
    /// Apply database migrations and exit
    Migrate,
    /// Manage signing keys
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Declarative seeding of organisations
    Seed {
        #[command(subcommand)]
        action: SeedAction,
    },
}

#[derive(Subcommand)]
enum SeedAction {
    /// Print what applying FILE would create, update or delete; change nothing
    Plan {
        file: std::path::PathBuf,
        /// Also plan deleting what the document no longer names in its organisations
        #[arg(long)]
        prune: bool,
    },
    /// Apply FILE in one transaction
    Apply {
        file: std::path::PathBuf,
        /// Also delete what the document no longer names in its organisations
        #[arg(long)]
        prune: bool,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Generate a new signing key; older keys stay published until their tokens expire
    Rotate,
    /// Seal every stored secret with a new master key (opened with AUTH_MASTER_KEY, or unsealed);
    /// then start every replica with the new key
    Rewrap {
        /// The new master key: 32 bytes, base64 or hex
        #[arg(long, env = "AUTH_NEW_MASTER_KEY", hide_env_values = true)]
        new_master_key: Option<String>,
        /// File holding the new master key (instead of AUTH_NEW_MASTER_KEY)
        #[arg(long, env = "AUTH_NEW_MASTER_KEY_FILE")]
        new_master_key_file: Option<std::path::PathBuf>,
    },
}

fn main() -> ExitCode {
    let command = config::with_aliases(Cli::command(), |name| std::env::var(name).ok());
    let cli = match Cli::from_arg_matches(&command.get_matches_from(config::legacy_args(std::env::args_os()))) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let config = match Config::try_from(cli.settings) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("guildhall: configuration error: {error}");
            return ExitCode::FAILURE;
        }
    };
    init_tracing(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("guildhall: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("guildhall: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => Ok(Application::build(config).await?.run_until_stopped().await?),
        Command::Migrate => {
            startup::database(&config).await?;
            eprintln!("guildhall: migrations applied");
            Ok(())
        }
        Command::Seed { action } => {
            let (file, options) = match action {
                SeedAction::Plan { file, prune } => (file, SeedOptions { dry_run: true, prune }),
                SeedAction::Apply { file, prune } => (file, SeedOptions { dry_run: false, prune }),
            };
            let plan = startup::seed_command(config, &file, options).await?;
            println!("{plan}");
            Ok(())
        }
        Command::Keys {
            action: KeysAction::Rotate,
        } => {
            let kid = startup::rotate_keys(config).await?;
            println!("{kid}");
            Ok(())
        }
        Command::Keys {
            action:
                KeysAction::Rewrap {
                    new_master_key,
                    new_master_key_file,
                },
        } => {
            let new_key = config::master_key(
                new_master_key.as_deref(),
                new_master_key_file.as_deref(),
                "AUTH_NEW_MASTER_KEY",
            )?
            .ok_or_else(|| anyhow::anyhow!("keys rewrap needs --new-master-key or --new-master-key-file"))?;
            let rewrapped = startup::rewrap_secrets(config, new_key).await?;
            println!("rewrapped {rewrapped} secrets");
            Ok(())
        }
    }
}

fn init_tracing(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let level = if config.debug { "debug" } else { "info" };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(format!("{level},sqlx=warn,sea_orm=warn")));
    let json = config.log_json.unwrap_or_else(|| !std::io::stderr().is_terminal());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
