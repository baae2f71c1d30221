//! The `guildhall` command: `serve` (the default), `migrate`, `keys`, `seed`, and the admin
//! commands `users`, `orgs`, `doctor`, `healthcheck`, `completions` (their logic is in
//! `guildhall::cli`).
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use guildhall::cli;
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
    /// Manage accounts (as the system; audited as "guildhall cli")
    Users {
        #[command(subcommand)]
        action: UsersAction,
    },
    /// Manage organisations
    Orgs {
        #[command(subcommand)]
        action: OrgsAction,
    },
    /// Check the configuration, database, migrations, keys, master key, NATS and SMTP; change nothing
    Doctor,
    /// GET /healthz of the server this configuration describes; exit 0 when it answers
    Healthcheck,
    /// Print a shell completion script
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// A password from `--password`, or one line of standard input with `--password-stdin`.
#[derive(clap::Args)]
struct PasswordArgs {
    /// The password (visible to other users of this machine; prefer --password-stdin)
    #[arg(long, conflicts_with = "password_stdin")]
    password: Option<String>,
    /// Read the password from the first line of standard input
    #[arg(long)]
    password_stdin: bool,
}

impl PasswordArgs {
    fn read(self) -> anyhow::Result<Option<String>> {
        if !self.password_stdin {
            return Ok(self.password);
        }
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        let line = line.trim_end_matches(['\n', '\r']).to_owned();
        anyhow::ensure!(!line.is_empty(), "no password on standard input");
        Ok(Some(line))
    }
}

#[derive(Subcommand)]
enum UsersAction {
    /// Every account: id, email, username, active, superuser
    List,
    /// Create an account in an organisation
    Create {
        email: String,
        #[command(flatten)]
        password: PasswordArgs,
        /// Display name (default: the email's local part)
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        username: Option<String>,
        /// Organisation slug (default: AUTH_DEFAULT_ORG)
        #[arg(long)]
        org: Option<String>,
        /// Roles in that organisation (repeat; default member)
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Make the account a superuser
        #[arg(long)]
        superuser: bool,
    },
    /// Set an account's password (by email or username); its sessions end
    SetPassword {
        user: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Deactivate an account (by email or username); its sessions end
    Deactivate { user: String },
}

#[derive(Subcommand)]
enum OrgsAction {
    /// Every organisation: id, slug, name, active
    List,
    /// Create an organisation
    Create {
        slug: String,
        /// Its name (default: the slug)
        #[arg(long)]
        name: Option<String>,
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
    /// Every stored signing key, newest first, and which one signs
    List,
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

/// A clap error as one line (help and version print as clap prints them).
fn usage_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        error.exit();
    }
    let text = error.render().to_string();
    let first = text.lines().next().unwrap_or("invalid arguments");
    eprintln!("guildhall: {}", first.trim_start_matches("error: "));
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let command = config::with_aliases(Cli::command(), |name| std::env::var(name).ok());
    let matches = match command.try_get_matches_from(config::legacy_args(std::env::args_os())) {
        Ok(matches) => matches,
        Err(error) => return usage_error(error),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => return usage_error(error),
    };
    if let Some(Command::Completions { shell }) = &cli.command {
        let mut script = Vec::new();
        clap_complete::generate(*shell, &mut Cli::command(), "guildhall", &mut script);
        return match std::io::Write::write_all(&mut std::io::stdout(), &script) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        };
    }
    if let Some(Command::Doctor) = &cli.command {
        return doctor(cli.settings);
    }
    let config = match Config::try_from(cli.settings) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("guildhall: configuration error: {error}");
            return ExitCode::FAILURE;
        }
    };
    // The server logs at info; the admin commands only say what went wrong.
    let serving = matches!(cli.command, None | Some(Command::Serve));
    init_tracing(&config, if serving { "info" } else { "warn" });
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

/// `guildhall doctor`: a configuration that does not parse is its first problem.
fn doctor(settings: Settings) -> ExitCode {
    let config = match Config::try_from(settings) {
        Ok(config) => config,
        Err(error) => {
            println!("FAIL  configuration: {error}\n1 problem(s) found");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("guildhall: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let (report, healthy) = runtime.block_on(cli::doctor::run(config));
    print!("{report}");
    if healthy { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Users { action } => {
            let out = match action {
                UsersAction::List => cli::users_list(config).await?,
                UsersAction::Create {
                    email,
                    password,
                    name,
                    username,
                    org,
                    roles,
                    superuser,
                } => {
                    let input = cli::CreateUser {
                        email,
                        password: password.read()?,
                        name,
                        username,
                        org,
                        roles,
                        superuser,
                    };
                    cli::users_create(config, input).await?
                }
                UsersAction::SetPassword { user, password } => {
                    let password = password
                        .read()?
                        .ok_or_else(|| anyhow::anyhow!("set-password needs --password or --password-stdin"))?;
                    cli::users_set_password(config, &user, password).await?
                }
                UsersAction::Deactivate { user } => cli::users_deactivate(config, &user).await?,
            };
            print!("{out}");
            Ok(())
        }
        Command::Orgs { action } => {
            let out = match action {
                OrgsAction::List => cli::orgs_list(config).await?,
                OrgsAction::Create { slug, name } => cli::orgs_create(config, &slug, name.as_deref()).await?,
            };
            print!("{out}");
            Ok(())
        }
        Command::Keys {
            action: KeysAction::List,
        } => {
            print!("{}", cli::keys_list(config).await?);
            Ok(())
        }
        Command::Healthcheck => cli::healthcheck(&config).await,
        Command::Doctor | Command::Completions { .. } => Ok(()),
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

fn init_tracing(config: &Config, default_level: &str) {
    use tracing_subscriber::EnvFilter;
    let level = if config.debug { "debug" } else { default_level };
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
