//! `Settings` as a whole: its defaults without the environment, and every variable it reads.
use super::{Settings, legacy};
use clap::{CommandFactory, FromArgMatches};

impl Settings {
    /// The defaults, ignoring the environment (tests start from these).
    pub fn defaults() -> Self {
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            settings: Settings,
        }
        let command = Only::command().mut_args(|arg| arg.env(None));
        let matches = command.get_matches_from(["guildhall"]);
        match Only::from_arg_matches(&matches) {
            Ok(only) => only.settings,
            Err(error) => error.exit(),
        }
    }
}

/// Every environment variable guildhall reads: the `AUTH_*` names, then the legacy aliases.
pub fn environment_variables() -> (Vec<String>, Vec<&'static str>) {
    #[derive(clap::Parser)]
    struct Only {
        #[command(flatten)]
        settings: Settings,
    }
    let names = Only::command()
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect();
    (names, legacy::alias_names().collect())
}
