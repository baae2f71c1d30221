//! Configuration: aliases, defaults and the one-line errors.
use super::*;

fn settings_from(env: &[(&str, &str)], args: &[&str]) -> Settings {
    #[derive(clap::Parser)]
    struct Only {
        #[command(flatten)]
        settings: Settings,
    }
    let lookup = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
    let command = with_aliases(Only::command().mut_args(|a| a.env(None)), lookup);
    let mut argv = vec!["guildhall"];
    argv.extend_from_slice(args);
    let matches = command.try_get_matches_from(argv).unwrap();
    Only::from_arg_matches(&matches).unwrap().settings
}

#[test]
fn aliases_fill_in_and_flags_win() {
    let s = settings_from(&[("PORT", "9000"), ("ACCESS_TOKEN_EXPIRE_MINUTES", "15")], &[]);
    assert_eq!(s.port, 9000);
    assert_eq!(s.access_token_ttl, 900);
    let s = settings_from(&[("PORT", "9000")], &["--port", "7000"]);
    assert_eq!(s.port, 7000);
    let s = settings_from(&[("JWT_SECRET", "a"), ("AUTH_JWT_SECRET_KEY", "b")], &[]);
    assert_eq!(s.jwt_secret.as_deref(), Some("a"), "the first alias in the table wins");
}

#[test]
fn bad_configuration_is_one_clear_line() {
    let cases: &[(&[&str], &str)] = &[
        (&["--jwt-algorithm", "none"], "unknown AUTH_JWT_ALGORITHM"),
        (&["--jwt-algorithm", "HS256"], "needs AUTH_JWT_SECRET"),
        (
            &["--jwt-algorithm", "HS256", "--jwt-secret", "short"],
            "needs at least 32",
        ),
        (&["--allow-dev-headers", "true"], "refused unless AUTH_ENV=development"),
        (&["--env", "staging"], "unknown AUTH_ENV"),
        (&["--argon2-memory-kib", "1"], "invalid argon2 parameters"),
        (&["--access-token-ttl", "0"], "AUTH_ACCESS_TOKEN_TTL"),
        (&["--database-url", "mysql://x"], "AUTH_DATABASE_URL"),
    ];
    for (args, expected) in cases {
        let err = Config::try_from(settings_from(&[], args)).unwrap_err().to_string();
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains('\n'), "{args:?}: more than one line");
    }
}

#[test]
fn defaults_match_the_design() {
    let c = Config::try_from(settings_from(&[], &[])).unwrap();
    assert_eq!((c.host.as_str(), c.port), ("0.0.0.0", 8001));
    assert_eq!(c.issuer, "http://localhost:8001");
    assert_eq!(c.database_url, "sqlite://./data/guildhall.db?mode=rwc");
    assert_eq!(c.algorithm, Algorithm::ES256);
    assert_eq!(c.access_token_ttl, Duration::seconds(1800));
    assert_eq!(c.refresh_token_ttl, Duration::seconds(604_800));
    assert_eq!(
        (c.hashing.memory_kib, c.hashing.iterations, c.hashing.parallelism),
        (19_456, 2, 1)
    );
    assert_eq!(c.default_org, "default");
    assert!(c.allow_registration && !c.allow_dev_headers);
}
