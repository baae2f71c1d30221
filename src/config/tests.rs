//! Configuration: aliases, defaults and the one-line errors.
use super::*;
use clap::{CommandFactory, FromArgMatches};

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
        (
            &["--oidc-issuer", "https://id.example.com"],
            "needs AUTH_OIDC_AUDIENCE or AUTH_OIDC_CLIENT_ID",
        ),
        (
            &["--oidc-issuer", "id.example.com", "--oidc-client-id", "x"],
            "AUTH_OIDC_ISSUER must be an http(s) URL",
        ),
        (
            &["--oidc-redirect-uris", "https://a.test/cb, javascript:alert(1)"],
            "AUTH_OIDC_REDIRECT_URIS",
        ),
        (&["--public-url", "auth.example.com"], "AUTH_PUBLIC_URL"),
        (&["--login-lockout-seconds", "0"], "AUTH_LOGIN_LOCKOUT_SECONDS"),
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
    assert_eq!(
        c.login_throttle,
        Some(crate::config::ThrottlePolicy {
            max_failures: 5,
            lockout: Duration::seconds(60)
        })
    );
    assert!(c.oidc.global.is_none() && c.oidc.redirect_uris.is_empty());
    assert_eq!(
        c.oidc.public_url, "http://localhost:8001",
        "browsers reach us at the issuer by default"
    );
}

#[test]
fn the_global_oidc_provider_takes_its_audience_from_the_client_id() {
    let args = [
        "--oidc-issuer",
        "https://tenant.eu.auth0.com/",
        "--oidc-client-id",
        "abc",
        "--oidc-redirect-uris",
        "https://app.test/cb,https://app.test/other",
        "--public-url",
        "https://auth.app.test/",
    ];
    let c = Config::try_from(settings_from(&[], &args)).unwrap();
    let global = c.oidc.global.unwrap();
    assert_eq!(global.issuer, "https://tenant.eu.auth0.com/", "kept exactly");
    assert_eq!(global.audience, "abc");
    assert!(global.jit && !global.link_by_email);
    assert_eq!(c.oidc.redirect_uris, ["https://app.test/cb", "https://app.test/other"]);
    assert_eq!(c.oidc.public_url, "https://auth.app.test");
}

#[test]
fn seed_001_flags_and_durations() {
    let args = legacy_args(["guildhall", "-addr", ":8080", "-session-ttl=24h", "--port", "1"].map(Into::into));
    let args: Vec<String> = args.into_iter().map(|a| a.into_string().unwrap()).collect();
    assert_eq!(
        args,
        ["guildhall", "--addr", ":8080", "--session-ttl=24h", "--port", "1"]
    );
    let c = Config::try_from(settings_from(&[], &["--addr", ":8080", "--session-ttl", "24h"])).unwrap();
    assert_eq!((c.host.as_str(), c.port), ("0.0.0.0", 8080));
    assert_eq!(c.session_max_lifetime, Duration::hours(24));
    assert_eq!(c.issuer, "http://localhost:8080");
    let c = Config::try_from(settings_from(
        &[],
        &["--addr", "127.0.0.1:9000", "--session-ttl", "1h30m"],
    ))
    .unwrap();
    assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 9000));
    assert_eq!(c.session_max_lifetime, Duration::minutes(90));
    for (ttl, seconds) in [("3600", 3600), ("90s", 90), ("1.5h", 5400)] {
        let c = Config::try_from(settings_from(&[], &["--session-ttl", ttl])).unwrap();
        assert_eq!(c.session_max_lifetime, Duration::seconds(seconds), "{ttl}");
    }
    for bad in [
        &["--addr", "8080"][..],
        &["--session-ttl", "24x"],
        &["--session-ttl", "10ms"],
        &["--addr", ":http"],
    ] {
        assert!(Config::try_from(settings_from(&[], bad)).is_err(), "{bad:?}");
    }
}

#[test]
fn seed_000_names_are_accepted() {
    let s = settings_from(
        &[
            ("DEBUG", "true"),
            ("BCRYPT_ROUNDS", "12"),
            ("SYNAPSE_ADMIN_URL", "http://synapse:8008/"),
            ("SYNAPSE_REGISTRATION_SECRET", "s3cret"),
        ],
        &[],
    );
    let c = Config::try_from(s).unwrap();
    assert!(c.debug);
    let synapse = c.synapse.unwrap();
    assert_eq!(synapse.admin_url, "http://synapse:8008");
    assert!(
        !settings_from(&[("DEBUG", "express:*")], &[]).debug,
        "another tool's DEBUG is not an error"
    );
    let half = settings_from(&[("SYNAPSE_REGISTRATION_SECRET", "s3cret")], &[]);
    assert!(Config::try_from(half).unwrap_err().to_string().contains("set together"));
    assert!(Config::try_from(settings_from(&[("BCRYPT_ROUNDS", "99")], &[])).is_err());
    assert!(Config::try_from(settings_from(&[], &["--smtp-url", "http://x"])).is_err());
}

#[test]
fn the_master_key_is_a_value_or_a_file_of_32_bytes() {
    let hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    assert!(Config::try_from(settings_from(&[], &[])).unwrap().master_key.is_none());
    let from_value = Config::try_from(settings_from(&[], &["--master-key", hex])).unwrap();
    let id = from_value.master_key.unwrap().id().to_owned();
    let file = std::env::temp_dir().join(format!("guildhall-master-key-{}", uuid::Uuid::new_v4()));
    std::fs::write(&file, format!("{hex}\n")).unwrap();
    let path = file.to_str().unwrap();
    let from_file = Config::try_from(settings_from(&[], &["--master-key-file", path])).unwrap();
    assert_eq!(
        from_file.master_key.unwrap().id(),
        id,
        "the file's whitespace is trimmed"
    );
    assert!(
        !format!(
            "{:?}",
            Config::try_from(settings_from(&[], &["--master-key", hex])).unwrap()
        )
        .contains(hex),
        "Debug never shows the key"
    );
    let cases: &[(&[&str], &str)] = &[
        (&["--master-key", hex, "--master-key-file", path], "not both"),
        (&["--master-key", "c2hvcnQ="], "AUTH_MASTER_KEY must be 32 bytes"),
        (
            &["--master-key", "not base64 at all!"],
            "AUTH_MASTER_KEY is neither hex nor base64",
        ),
        (
            &["--master-key-file", "/nonexistent/master.key"],
            "cannot read AUTH_MASTER_KEY_FILE",
        ),
    ];
    for (args, expected) in cases {
        let err = Config::try_from(settings_from(&[], args)).unwrap_err().to_string();
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(
            !err.contains('\n') && !err.contains(hex),
            "{args:?}: one line, without the key"
        );
    }
    std::fs::write(&file, "c2hvcnQ=").unwrap();
    let err = Config::try_from(settings_from(&[], &["--master-key-file", path]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("AUTH_MASTER_KEY_FILE") && err.contains("must be 32 bytes"),
        "{err}"
    );
    std::fs::remove_file(&file).unwrap();
}

#[test]
fn default_password_is_the_default_users_or_else_the_superusers() {
    use secrecy::ExposeSecret;
    let password = |c: &Config| c.admin_password.as_ref().map(|p| p.expose_secret().to_owned());
    // Alone, DEFAULT_PASSWORD is the superuser's password, as before.
    let c = Config::try_from(settings_from(&[("DEFAULT_PASSWORD", "pw one two")], &[])).unwrap();
    assert_eq!(password(&c).as_deref(), Some("pw one two"));
    assert!(c.default_user.is_none());
    // With another DEFAULT_USERNAME it is that user's; the superuser's is generated.
    let c = Config::try_from(settings_from(
        &[("DEFAULT_USERNAME", "Eddison"), ("DEFAULT_PASSWORD", "pw one two")],
        &[],
    ))
    .unwrap();
    assert_eq!(password(&c), None);
    let user = c.default_user.unwrap();
    assert_eq!(user.name, "eddison");
    assert_eq!(user.password.expose_secret(), "pw one two");
    // Named like the superuser (ADMIN_USERNAME), the default user is the superuser.
    let c = Config::try_from(settings_from(
        &[
            ("ADMIN_USERNAME", "root"),
            ("DEFAULT_USERNAME", "root"),
            ("DEFAULT_PASSWORD", "pw one two"),
        ],
        &[],
    ))
    .unwrap();
    assert!(c.default_user.is_none());
    assert_eq!(password(&c).as_deref(), Some("pw one two"));
    let clash = Config::try_from(settings_from(
        &[("DEFAULT_USERNAME", "admin"), ("DEFAULT_PASSWORD", "pw one two")],
        &["--admin-password", "another one"],
    ));
    assert!(clash.unwrap_err().to_string().contains("differ"));
    let bad = Config::try_from(settings_from(
        &[("DEFAULT_USERNAME", "no spaces"), ("DEFAULT_PASSWORD", "x")],
        &[],
    ));
    assert!(bad.unwrap_err().to_string().contains("DEFAULT_USERNAME"));
}

#[test]
fn a_secret_without_an_algorithm_is_hs256() {
    let secret = "a shared secret of at least thirty-two bytes";
    let c = Config::try_from(settings_from(&[("JWT_SECRET", secret)], &[])).unwrap();
    assert_eq!((c.algorithm, c.algorithm_from_secret), (Algorithm::HS256, true));
    let c = Config::try_from(settings_from(&[("JWT_SECRET", secret)], &["--jwt-algorithm", "EdDSA"])).unwrap();
    assert_eq!((c.algorithm, c.algorithm_from_secret), (Algorithm::EdDSA, false));
    let short = Config::try_from(settings_from(&[("JWT_SECRET", "short")], &[]));
    assert!(short.unwrap_err().to_string().contains("needs at least 32"));
}
